"""Writing: preupload, the NDJSON commit, history, refs, branches and tags."""

from __future__ import annotations

import base64
import binascii
import html
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, RepoNotFound, TooLarge
from ...hub.sizes import check_size
from ...ids import HEX40
from .. import wire
from ..routing import ID, Router
from .common import T, json_body, repo_url, rid_api

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


async def ndjson_lines(request: Request, max_line: int):
    """Yield parsed NDJSON objects as they arrive; a line is never allowed to grow without bound. Big lines
    are parsed in a worker thread: a 64 MiB line would otherwise stall every request of this process."""
    split = LineSplitter()
    lineno = 0

    async def parse(raw: bytes) -> dict[str, Any]:
        if len(raw) > BIG_LINE:
            return await run_in_threadpool(parse_ndjson_line, raw, lineno)
        return parse_ndjson_line(raw, lineno)

    def too_long(n: int) -> TooLarge:
        return TooLarge(
            f"NDJSON line {n} exceeds {max_line} bytes: upload large files through LFS "
            "(preupload answers 'lfs' for them) instead of inlining them in the commit"
        )

    async for chunk in request.stream():
        for raw in split.feed(chunk):
            if raw.strip():
                lineno += 1
                if len(raw) > max_line:  # a line that ended in the chunk that took it past the bound
                    raise too_long(lineno)
                yield await parse(raw)
        if split.pending > max_line:
            raise too_long(lineno + 1)
    raw = split.rest()
    if raw.strip():
        lineno += 1
        if len(raw) > max_line:
            raise too_long(lineno)
        yield await parse(raw)


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


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    def base(request: Request) -> str:
        return wire.base_url(request, ctx.settings.public_url)

    async def preupload(request: Request, t: str, ns: str, name: str, rev: str) -> Response:
        who = await ctx.who(request)

        def writable() -> None:  # before the body: who may not write here sends nothing we read
            with hub.db.session() as s:
                hub.find(s, who, rid_api(t, ns, name), write=True)

        await ctx.run(writable)
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

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name), write=True)
            head, modes = hub.upload_modes(repo, rev, parsed)
            return {
                "files": [
                    {"path": m.path, "uploadMode": m.mode, "shouldIgnore": False, "oid": m.oid} for m in modes
                ],
                "commitOid": head,
            }

        return wire.json_response(await ctx.run(do))

    async def commit(request: Request, t: str, ns: str, name: str, rev: str) -> Response:
        who = await ctx.who(request)
        create_pr = wire.truthy(request.query_params.get("create_pr"))

        def find() -> Any:
            with hub.db.session() as s:
                return hub.find(s, who, rid_api(t, ns, name), write=True)

        repo = await ctx.run(find)
        pc = hub.begin_commit(repo)
        header: dict[str, Any] | None = None
        lfs_files: list[tuple[str, Any, Any]] = []
        async for line in ndjson_lines(request, ctx.settings.max_commit_line):
            key, value = line["key"], line["value"]
            if header is None:
                if key != "header":
                    raise BadRequest('The first NDJSON line must be the header ({"key": "header", ...})')
                header = value
                continue
            path = value.get("path")
            if not isinstance(path, str):
                raise BadRequest(f"'{key}' line without a string 'path'")
            if key == "file":

                def add(path: str = path, value: dict[str, Any] = value) -> None:
                    hub.add_file(pc, path, file_content(path, value))

                await ctx.run(add)
            elif key == "lfsFile":
                if value.get("algo", "sha256") != "sha256":
                    raise BadRequest(f"Unsupported LFS hash algorithm {value.get('algo')!r}")
                size = value.get("size")
                if size is not None:
                    check_size(size, ctx.settings.max_object_size, f"size of {path[:200]}")
                lfs_files.append((path, value.get("oid"), size))
            elif key == "deletedFile":
                hub.delete_file(pc, path)
            elif key == "deletedFolder":
                hub.delete_folder(pc, path)
            else:
                raise BadRequest("Only the first line may be the header")
        if header is None:
            raise BadRequest("Empty commit: the body must start with a header line")
        parent = header.get("parentCommit")
        if parent is not None and (not isinstance(parent, str) or not HEX40.match(parent)):
            raise BadRequest("'parentCommit' must be a 40-hex commit id")
        summary = header.get("summary") or ""
        description = header.get("description") or ""
        if not isinstance(summary, str) or not isinstance(description, str):
            raise BadRequest("'summary' and 'description' must be strings")
        if not (_is_text(summary) and _is_text(description)):
            raise BadRequest("'summary' and 'description' must be valid Unicode text (no lone surrogates)")

        def finish() -> Any:
            with hub.db.session() as s:
                # A fresh row, not merge(): merging the detached copy writes its stale columns (head_sha...)
                # back, and that early write would hold the database lock while we wait for the git lock.
                r = s.get(type(repo), repo.id)
                if r is None:
                    raise RepoNotFound()
                pc.repo = r
                for path, oid, size in lfs_files:
                    hub.add_lfs_file(s, pc, path, oid, size)
                assert who is not None
                return hub.finish_commit(s, who, pc, rev, summary, description, parent, create_pr)

        result = await ctx.run(finish)
        url = repo_url(base(request), repo)
        out: dict[str, Any] = {
            "success": True,
            "commitOid": result.oid,
            "commitUrl": f"{url}/commit/{result.oid}",
            "hookOutput": "",
        }
        if result.pr_num is not None:
            out["pullRequestUrl"] = f"{url}/discussions/{result.pr_num}"
        return wire.json_response(out)

    async def commits(request: Request, t: str, ns: str, name: str, rev: str) -> Response:
        who = await ctx.who(request)
        q = request.query_params
        formatted = "formatted" in (q.getlist("expand") + q.getlist("expand[]"))
        try:
            page = int(q.get("p") or 0)
            limit = min(int(q.get("limit") or COMMITS_PAGE), 1000)
        except ValueError:
            raise BadRequest("p and limit must be integers") from None

        def do() -> tuple[list[dict[str, Any]], bool]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
            git = hub.git(repo)
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

        items, more = await ctx.run(do)
        headers = wire.next_link(request, base(request), "p", str(page + 1)) if more else None
        return wire.json_response(items, headers=headers)

    async def refs(request: Request, t: str, ns: str, name: str) -> Response:
        who = await ctx.who(request)
        include_prs = wire.truthy(request.query_params.get("include_prs"))

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
            git = hub.git(repo)

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

        return wire.json_response(await ctx.run(do))

    async def branch(request: Request, t: str, ns: str, name: str, branch: str) -> Response:
        who = await ctx.who(request)
        body = await json_body(request, required=False) if request.method == "POST" else {}
        start = body.get("startingPoint")
        if start is not None and not isinstance(start, str):
            raise BadRequest("'startingPoint' must be a revision string")

        def do() -> None:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name), write=True)
                if request.method == "POST":
                    hub.create_branch(repo, branch, start)
                else:
                    hub.delete_branch(s, repo, branch)

        await ctx.run(do)
        return wire.json_response({})

    async def tag(request: Request, t: str, ns: str, name: str, rev: str) -> Response:
        who = await ctx.who(request)
        body = await json_body(request, required=False) if request.method == "POST" else {}

        def do() -> None:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name), write=True)
                if request.method == "POST":
                    tag_name = body.get("tag")
                    if not isinstance(tag_name, str) or not tag_name:
                        raise BadRequest("'tag' (the new tag's name) is required")
                    msg = body.get("message")
                    hub.create_tag(repo, who, rev, tag_name, msg if isinstance(msg, str) else None)
                else:
                    hub.delete_tag(repo, rev)

        await ctx.run(do)
        return wire.json_response({})

    router.add("POST", f"/api/{T}/{ID}/preupload/(?P<rev>[^/]+)", preupload)
    router.add("POST", f"/api/{T}/{ID}/commit/(?P<rev>[^/]+)", commit)
    router.add("GET", f"/api/{T}/{ID}/commits/(?P<rev>[^/]+)", commits)
    router.add("GET", f"/api/{T}/{ID}/refs", refs)
    router.add("POST DELETE", f"/api/{T}/{ID}/branch/(?P<branch>.+)", branch)
    router.add("POST DELETE", f"/api/{T}/{ID}/tag/(?P<rev>.+)", tag)


def _is_text(value: str) -> bool:
    """JSON may carry "\\ud800": valid JSON, but no UTF-8 form (git, the DB and answers need one)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
