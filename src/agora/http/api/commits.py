"""Writing: preupload, the NDJSON commit, history, refs, branches and tags."""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, TooLarge
from ...hub import commits, contributions
from ...hub.sizes import check_size
from ...ids import SHORT_SHA, check_path
from ...storage.gitstore import GitRepo
from .. import wire
from ..context import Ctx
from .common import json_body, repo_url, rid_api

COMMITS_PAGE = 50
KEYS = ("header", "file", "lfsFile", "deletedFile", "deletedFolder")


BIG_LINE = 64 * 1024  # lines longer than this are parsed (and their content decoded) off the event loop


class LineSplitter:
    """Cut a byte stream into lines as it arrives. Only the bytes not yet searched are scanned for a newline,
    so a long line arriving in many small chunks costs linear time, not quadratic. Lines keep a trailing
    "\r" (JSON ignores it); what follows the last newline is `rest` once the stream ends."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.scanned = 0  # bytes of buf already known to hold no newline

    def feed(self, chunk: bytes) -> list[bytes]:
        self.buf += chunk
        lines: list[bytes] = []
        start = 0
        while (i := self.buf.find(b"\n", self.scanned)) >= 0:
            lines.append(bytes(self.buf[start:i]))
            start = self.scanned = i + 1
        if start:
            del self.buf[:start]
        self.scanned = len(self.buf)
        return lines

    @property
    def pending(self) -> int:
        """Bytes of the line not yet ended."""
        return len(self.buf)

    def rest(self) -> bytes:
        return bytes(self.buf)


def parse_ndjson_line(raw: bytes, lineno: int) -> dict[str, Any]:
    """One commit line: {"key": one of KEYS, "value": {...}}, or a BadRequest naming the line."""
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"Malformed NDJSON on line {lineno}: {e}") from None
    except RecursionError:
        raise BadRequest(f"Malformed NDJSON on line {lineno}: nested too deeply") from None
    if not isinstance(obj, dict) or obj.get("key") not in KEYS or not isinstance(obj.get("value"), dict):
        raise BadRequest(f'Line {lineno} must be {{"key": one of {", ".join(KEYS)}, "value": {{...}}}}')
    return obj


async def ndjson_lines(request: Request, max_line: int) -> AsyncIterator[dict[str, Any]]:
    """Yield parsed NDJSON objects as they arrive; a line is never allowed to grow without bound. Big lines
    are parsed in a worker thread: a 64 MiB line would otherwise stall every request of this process."""
    lineno = 0
    async for raw in _body_lines(request, max_line):
        lineno += 1
        if len(raw) > BIG_LINE:
            yield await run_in_threadpool(parse_ndjson_line, raw, lineno)
        else:
            yield parse_ndjson_line(raw, lineno)


async def _body_lines(request: Request, max_line: int) -> AsyncIterator[bytes]:
    """The non-blank lines of the body as they arrive, none longer than `max_line` (TooLarge naming the
    line, counted as ndjson_lines counts them, as soon as the line grows past it)."""
    split = LineSplitter()
    lineno = 0
    async for chunk in request.stream():
        for raw in split.feed(chunk):
            if raw.strip():
                lineno += 1
                # A line that ended in the chunk that took it past the bound.
                yield _bounded(raw, lineno, max_line)
        if split.pending > max_line:
            raise _too_long(lineno + 1, max_line)
    raw = split.rest()
    if raw.strip():
        yield _bounded(raw, lineno + 1, max_line)


def _bounded(raw: bytes, lineno: int, max_line: int) -> bytes:
    if len(raw) > max_line:
        raise _too_long(lineno, max_line)
    return raw


def _too_long(lineno: int, max_line: int) -> TooLarge:
    return TooLarge(
        f"NDJSON line {lineno} exceeds {max_line} bytes: upload large files through LFS "
        "(preupload answers 'lfs' for them) instead of inlining them in the commit"
    )


def file_content(path: str, value: dict[str, Any]) -> bytes:
    """The bytes of a "file" line: base64 (the default) or text. Blocking on big content: call off the loop."""
    content = value.get("content", "")
    if not isinstance(content, str):
        raise BadRequest(f"'content' of {path!r} must be a string")
    if value.get("encoding", "base64") == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"'content' of {path!r} is not valid base64") from None
    if _is_text(content):
        return content.encode()
    raise BadRequest(f"'content' of {path!r} is not valid Unicode text (lone surrogate)")


async def preupload(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str) -> Response:
    who = await ctx.who(request)
    rid = rid_api(t, ns, name)
    # Before the body: who may not write here sends nothing we read.
    await ctx.run(contributions.open_repo, ctx.hub, who, rid)  # writers, or a contributor's PR
    body = await json_body(request)
    files = body.get("files")
    if not isinstance(files, list):
        raise BadRequest("'files' must be a list")
    parsed = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("path"), str):
            raise BadRequest("Each file needs 'path' (string) and 'size' (integer)")
        check_size(f.get("size"), ctx.settings.max_object_size, f"size of {f['path'][:200]}")
        try:
            sample = base64.b64decode(f.get("sample") or "", validate=True)[:512]
        except (binascii.Error, ValueError, TypeError):
            raise BadRequest(f"'sample' of {f['path']!r} is not valid base64") from None
        parsed.append((f["path"], f["size"], sample))
    ignore = body.get("gitIgnore")  # the .gitignore being committed (or the caller's): its rules apply
    if ignore is not None and not isinstance(ignore, str):
        raise BadRequest("'gitIgnore' must be a string: the content of a .gitignore file")
    repo = await ctx.run(contributions.open_repo, ctx.hub, who, rid)
    head, modes = await ctx.run(ctx.hub.upload_modes, repo, rev, parsed, ignore)
    return wire.json_response(
        {
            "files": [
                {"path": m.path, "uploadMode": m.mode, "shouldIgnore": m.ignored, "oid": m.oid} for m in modes
            ],
            "commitOid": head,
        }
    )


@dataclass
class CommitBody:
    """An NDJSON commit as it streamed in: the header, and the operations (file blobs already written)."""

    header: dict[str, Any] | None = None
    ops: list[commits.Operation] = field(default_factory=list)
    lfs_lines: list[tuple[str, Any, Any]] = field(default_factory=list)  # checked once the body is read


async def read_commit_body(ctx: Ctx, request: Request, git: GitRepo) -> CommitBody:
    """Each "file" line's blob is written as the line arrives: memory stays bounded by one line."""
    body = CommitBody()
    async for line in ndjson_lines(request, ctx.settings.max_commit_line):
        key, value = line["key"], line["value"]
        if body.header is None:
            if key != "header":
                raise BadRequest('The first NDJSON line must be the header ({"key": "header", ...})')
            body.header = value
            continue
        path = value.get("path")
        if not isinstance(path, str):
            raise BadRequest(f"'{key}' line without a string 'path'")
        if key == "file":
            body.ops.append(await ctx.run(file_operation, git, path, value))
        elif key == "lfsFile":
            body.lfs_lines.append(lfs_line(ctx, path, value))
        elif key == "deletedFile":
            body.ops.append(commits.CommitOperationDelete(check_path(path)))  # "dir/" is no file: refused
        elif key == "deletedFolder":
            body.ops.append(commits.CommitOperationDelete(path, is_folder=True))
        else:
            raise BadRequest("Only the first line may be the header")
    return body


def lfs_line(ctx: Ctx, path: str, value: dict[str, Any]) -> tuple[str, Any, Any]:
    """An "lfsFile" line: path, oid and size (its object is looked up once the whole body is read)."""
    if value.get("algo", "sha256") != "sha256":
        raise BadRequest(f"Unsupported LFS hash algorithm {value.get('algo')!r}")
    size = value.get("size")
    if size is not None:
        check_size(size, ctx.settings.max_object_size, f"size of {path[:200]}")
    return path, value.get("oid"), size


def file_operation(git: GitRepo, path: str, value: dict[str, Any]) -> commits.CommitOperationAdd:
    blob = git.write_blob(file_content(path, value))
    return commits.CommitOperationAdd(path, blob=blob)


def commit_header(header: dict[str, Any] | None) -> tuple[str | None, str, str]:
    """parentCommit, summary and description of the header line."""
    if header is None:
        raise BadRequest("Empty commit: the body must start with a header line")
    parent = header.get("parentCommit")
    if parent is not None and (not isinstance(parent, str) or not SHORT_SHA.match(parent.lower())):
        raise BadRequest("'parentCommit' must be a commit id (40 hex characters, or a prefix of 7 or more)")
    if parent is not None:
        parent = parent.lower()  # the client takes upper case too (constants.REGEX_COMMIT_OID)
    summary = header.get("summary") or ""
    description = header.get("description") or ""
    if not isinstance(summary, str) or not isinstance(description, str):
        raise BadRequest("'summary' and 'description' must be strings")
    if not (_is_text(summary) and _is_text(description)):
        raise BadRequest("'summary' and 'description' must be valid Unicode text (no lone surrogates)")
    return parent, summary, description


async def commit(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str) -> Response:
    who = await ctx.who(request)
    create_pr = wire.truthy(request.query_params.get("create_pr"))
    # Writers; on a public repo also a new PR, or more commits to one's own PR (hub/contributions.py).
    repo = await ctx.run(contributions.open_repo, ctx.hub, who, rid_api(t, ns, name), rev, create_pr)
    assert who is not None  # open_repo lets no anonymous caller through
    ctx.check_room(request)
    body = await read_commit_body(ctx, request, ctx.hub.git(repo))
    parent, summary, description = commit_header(body.header)
    ops = body.ops + [commits.CommitOperationLfsAdd(path, oid, size) for path, oid, size in body.lfs_lines]
    result = await ctx.run(
        functools.partial(
            commits.create_commit,
            ctx.hub,
            who,
            repo.id,
            ops,
            revision=rev,
            summary=summary,
            description=description,
            parent_commit=parent,
            create_pr=create_pr,
        )
    )
    url = repo_url(ctx.base_url(request), repo)
    out: dict[str, Any] = {
        "success": True,
        "commitOid": result.oid,
        "commitUrl": f"{url}/commit/{result.oid}",
        "hookOutput": "",
    }
    if result.pr_num is not None:
        out["pullRequestUrl"] = f"{url}/discussions/{result.pr_num}"
    return wire.json_response(out)


async def history(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str) -> Response:
    who = await ctx.who(request)
    q = request.query_params
    formatted = "formatted" in (q.getlist("expand") + q.getlist("expand[]"))
    try:
        page = int(q.get("p") or 0)
        limit = min(int(q.get("limit") or COMMITS_PAGE), 1000)
    except ValueError:
        raise BadRequest("p and limit must be integers") from None
    repo = await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name))
    items, more = await ctx.run(commit_page, ctx.hub.git(repo), rev, page, limit, formatted)
    headers = wire.next_link(request, ctx.base_url(request), "p", str(page + 1)) if more else None
    return wire.json_response(items, headers=headers)


def commit_page(
    git: GitRepo, rev: str, page: int, limit: int, formatted: bool
) -> tuple[list[dict[str, Any]], bool]:
    sha = git.resolve(rev)
    log = git.log(sha, skip=page * limit, limit=limit + 1)
    items = []
    for c in log[:limit]:
        d: dict[str, Any] = {
            "id": c.id,
            "title": c.title,
            "message": c.message,
            "date": wire.iso(c.time),
            "authors": [{"user": c.author}],
            "parents": list(c.parents),
        }
        if formatted:
            d["formatted"] = {"title": html.escape(c.title), "message": html.escape(c.message)}
        items.append(d)
    return items, len(log) > limit


async def refs(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    include_prs = wire.truthy(request.query_params.get("include_prs"))
    repo = await ctx.repo(request, rid_api(t, ns, name))
    return wire.json_response(await ctx.run(ref_listing, ctx.hub.git(repo), include_prs))


def ref_listing(git: GitRepo, include_prs: bool) -> dict[str, Any]:
    def items(prefix: str) -> list[dict[str, str]]:
        return [{"name": r.name, "ref": r.ref, "targetCommit": r.target} for r in git.refs(prefix)]

    out = {
        "branches": items("refs/heads/"),
        "converts": items("refs/convert/"),
        "tags": items("refs/tags/"),
    }
    if include_prs:
        out["pullRequests"] = items("refs/pr/")
    return out


async def branch(ctx: Ctx, request: Request, t: str, ns: str, name: str, branch: str) -> Response:
    who = await ctx.who(request)
    body = await json_body(request, required=False) if request.method == "POST" else {}
    start = body.get("startingPoint")
    if start is not None and not isinstance(start, str):
        raise BadRequest("'startingPoint' must be a revision string")
    if request.method == "POST":
        repo = await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name), True)
        await ctx.run(ctx.hub.create_branch, repo, branch, start)
    else:
        await ctx.run(commits.delete_branch, ctx.hub, who, rid_api(t, ns, name), branch)
    return wire.json_response({})


async def tag(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str) -> Response:
    who = await ctx.who(request)
    body = await json_body(request, required=False) if request.method == "POST" else {}
    repo = await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name), True)
    if request.method != "POST":
        await ctx.run(ctx.hub.delete_tag, repo, rev)
        return wire.json_response({})
    tag_name = body.get("tag")
    if not isinstance(tag_name, str) or not tag_name:
        raise BadRequest("'tag' (the new tag's name) is required")
    msg = body.get("message")
    assert who is not None  # open_repo(write=True) lets no anonymous caller through
    await ctx.run(ctx.hub.create_tag, repo, who, rev, tag_name, msg if isinstance(msg, str) else None)
    return wire.json_response({})


async def super_squash(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str) -> Response:
    """`super_squash_history`: body {"message"}; the client reads nothing from the answer but its status."""
    who = await ctx.who(request)
    await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name), True)  # before the body
    body = await json_body(request, required=False)
    message = body.get("message") or ""
    if not isinstance(message, str) or not _is_text(message):
        raise BadRequest("'message' must be text: the squashed commit's message")
    assert who is not None  # open_repo(write=True) lets no anonymous caller through
    result = await ctx.run(commits.super_squash, ctx.hub, who, rid_api(t, ns, name), rev, message)
    return wire.json_response({"commitOid": result.oid})


def _is_text(value: str) -> bool:
    """JSON may carry "\\ud800": valid JSON, but no UTF-8 form (git, the DB and answers need one)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
