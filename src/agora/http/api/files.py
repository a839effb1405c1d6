"""Reading files: tree listings, paths-info and /resolve (HEAD and GET, with Range)."""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from ...errors import BadRequest, EntryNotFound, RepoNotFound
from ...hub.accounts import Principal
from ...hub.repos import Hub, Repo
from ...ids import HEX40, RepoId, repo_full
from ...storage.gitstore import Entry, GitRepo
from .. import bodies, wire
from ..context import Ctx
from ..headers import USERCONTENT_PREFIX, is_navigation, user_file
from .common import entry_json, rid_api, rid_web

TREE_PAGE = 1000
TREE_PAGE_EXPANDED = 50
USERCONTENT_TTL = 300  # seconds a signed user-content link stays valid


def add_xet_hashes(hub: Hub, items: list[dict[str, Any]]) -> None:
    found = hub.xet_hashes([i["lfs"]["oid"] for i in items if "lfs" in i])
    for i in items:
        if "lfs" in i and i["lfs"]["oid"] in found:
            i["xetHash"] = found[i["lfs"]["oid"]]


def entries_json(
    hub: Hub, git: GitRepo, sha: str, entries: list[Entry], expand: bool
) -> list[dict[str, Any]]:
    """Tree entries as the API lists them: with their Xet hashes, and with `expand` their last commit."""
    items = [entry_json(e) for e in entries]
    add_xet_hashes(hub, items)
    if expand and entries:
        last = git.last_commits(sha, [e.path for e in entries])
        for item, e in zip(items, entries, strict=True):
            c = last.get(e.path)
            if c:
                item["lastCommit"] = {"id": c.id, "title": c.title, "date": wire.iso(c.time)}
    return items


def tree_page(
    hub: Hub,
    who: Principal | None,
    rid: RepoId,
    rev: str,
    path: str,
    recursive: bool,
    expand: bool,
    cursor: int,
    size: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Runs in a worker thread: one page of the tree at `path`, and whether more follow."""
    git = hub.git(hub.open_repo(who, rid))
    sha = git.resolve(rev)
    entries = git.list_tree(sha, path, recursive)
    return entries_json(hub, git, sha, entries[cursor : cursor + size], expand), cursor + size < len(entries)


async def tree(
    ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str, path: str | None = None
) -> Response:
    who = await ctx.who(request)
    q = request.query_params
    recursive = wire.truthy(q.get("recursive"))
    expand = wire.truthy(q.get("expand"))
    try:
        cursor = int(q.get("cursor") or 0)
    except ValueError:
        raise BadRequest("Invalid cursor") from None
    size = TREE_PAGE_EXPANDED if expand else TREE_PAGE
    rid = rid_api(t, ns, name)
    path = (path or "").strip("/")
    items, more = await ctx.run(tree_page, ctx.hub, who, rid, rev, path, recursive, expand, cursor, size)
    headers = wire.next_link(request, ctx.base_url(request), "cursor", str(cursor + size)) if more else None
    return wire.json_response(items, headers=headers)


def paths_asked(request: Request, body: bytes) -> tuple[Any, bool]:
    """The `paths` and `expand` of a paths-info body: JSON, or a form."""
    if "json" in request.headers.get("content-type", ""):
        data = wire.json_object(body)
        return data.get("paths") or [], bool(data.get("expand"))
    form = parse_qs(body.decode("utf-8", "replace"))
    return form.get("paths", []), wire.truthy((form.get("expand") or ["false"])[0])


def paths_page(hub: Hub, repo: Repo, rev: str, paths: list[str], expand: bool) -> list[dict[str, Any]]:
    """Runs in a worker thread: the entries of `paths` that exist at `rev`."""
    git = hub.git(repo)
    sha = git.resolve(rev)
    found = [e for e in (git.entry(sha, p.strip("/")) for p in paths if p.strip("/")) if e is not None]
    return entries_json(hub, git, sha, found, expand)


async def paths_info(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str) -> Response:
    who = await ctx.who(request)
    # A stranger to a private repo sends no body: the repo is looked up first.
    repo = await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name))
    body = await bodies.read_bounded(request, ctx.settings.max_json_bytes, "paths-info body")
    paths, expand = paths_asked(request, body)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BadRequest("'paths' must be a list of strings")
    return wire.json_response(await ctx.run(paths_page, ctx.hub, repo, rev, paths, expand))


async def resolve(
    ctx: Ctx, request: Request, p: str | None, ns: str, name: str, rev: str, path: str
) -> Response:
    who = await ctx.who(request)
    if who is None and ctx.browser_who is not None and request.cookies:
        who = await ctx.browser_who(request)  # a logged-in visitor's browser (the session cookie)
    rid = rid_web(p, ns, name)
    if ctx.settings.usercontent_url and request.method == "GET" and is_navigation(request.headers):
        # A browser opening the file goes to the user-content origin, with a URL that carries its own
        # short-lived authorization; API clients never send Fetch Metadata and are served here.
        repo = await ctx.run(ctx.hub.open_repo, who, rid, False, path, rev)  # past a gated repo's gate
        sha = await ctx.run(ctx.hub.resolve, repo, rev)
        exp, sig = ctx.signer.sign("usercontent", repo.type, ns, name, sha, path, ttl=USERCONTENT_TTL)
        prefix = f"{p}/" if p else ""
        url = (
            f"{ctx.settings.usercontent_url}{USERCONTENT_PREFIX}/{prefix}{quote(ns)}/{quote(name)}/resolve/"
            f"{sha}/{quote(path)}?exp={exp}&sig={sig}"
        )
        return Response(
            b"",
            status_code=302,
            headers={"Location": url, "Cache-Control": "no-store", "X-Repo-Commit": sha},
        )
    find = functools.partial(ctx.hub.open_repo, who, rid, False, path, rev)  # past a gated repo's gate
    return await serve(ctx, request, find, p, ns, name, rev, path, usercontent=False)


def stored_repo(hub: Hub, rid: RepoId) -> Repo:
    """The repo, whoever may see it: for a request that carries its own authorization (a signed URL)."""
    repo = hub.get_repo(rid)
    if repo is None:
        raise RepoNotFound(f"Repository {rid.full} not found")
    return repo


async def usercontent(
    ctx: Ctx, request: Request, p: str | None, ns: str, name: str, rev: str, path: str
) -> Response:
    """A file on the user-content origin: the signed URL is the authorization (no cookie, no token)."""
    rid = rid_web(p, ns, name)
    q = request.query_params
    if (
        not request.scope.get("agora.usercontent")
        or not HEX40.match(rev)
        or not ctx.signer.check(q.get("exp"), q.get("sig"), "usercontent", rid.type, ns, name, rev, path)
    ):
        return wire.error(
            403, "Forbidden", "This link is invalid or expired: open the file from the Hub again"
        )
    find = functools.partial(stored_repo, ctx.hub, rid)
    return await serve(ctx, request, find, p, ns, name, rev, path, usercontent=True)


@dataclass(frozen=True)
class Located:
    """A file to serve: the commit, its entry, and where its bytes are: in git (`data`), in a local blob
    file, in Xet (by its Xet hash), or in a store the client reads itself (`direct`: a presigned URL)."""

    sha: str
    e: Entry
    data: bytes | None = None
    local: Path | None = None
    xet_hash: str | None = None
    direct: str | None = None


def locate(hub: Hub, find: Callable[[], Repo], rev: str, path: str, count: bool) -> Located:
    """Runs in a worker thread. `count`: a download to count (a HEAD with X-Hf-Download-Counter)."""
    repo = find()
    git = hub.git(repo)
    sha = git.resolve(rev)
    e = git.entry(sha, path)
    if e is None or e.type != "file":
        raise EntryNotFound(f"Entry not found: {path} does not exist at revision {rev}", sha=sha)
    if count:
        hub.count_download(repo, sha, path)
    if not e.lfs:
        return Located(sha, e, data=git.blob(e.oid))
    local = hub.blobs.local_path(e.lfs.oid)
    xet_hash = hub.xet_hashes([e.lfs.oid]).get(e.lfs.oid)
    direct = None  # a store the client reads itself (S3): GET redirects to a presigned URL
    if local is None and xet_hash is None and hub.blobs.exists(e.lfs.oid):
        direct = hub.blobs.presigned_get(e.lfs.oid, path.rsplit("/", 1)[-1])
    if local is None and xet_hash is None and direct is None:
        raise EntryNotFound(f"The content of {path} ({e.lfs.oid}) is missing from storage", sha=sha)
    return Located(sha, e, None, local, xet_hash, direct)


def file_headers(f: Located, filename: str) -> dict[str, str]:
    headers = {
        "X-Repo-Commit": f.sha,
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}; filename=\"{quote(filename)}\"",
        "Access-Control-Expose-Headers": "X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag,Content-Range",
    }
    if f.e.lfs:
        headers["ETag"] = f'"{f.e.lfs.oid}"'
        headers["X-Linked-Etag"] = f'"{f.e.lfs.oid}"'
        headers["X-Linked-Size"] = str(f.e.lfs.size)
    else:
        headers["ETag"] = f'"{f.e.oid}"'
    return headers


async def serve(
    ctx: Ctx,
    request: Request,
    find: Callable[[], Repo],
    p: str | None,
    ns: str,
    name: str,
    rev: str,
    path: str,
    usercontent: bool,
) -> Response:
    count = request.method == "HEAD" and bool(request.headers.get("x-hf-download-counter"))
    try:
        f = await ctx.run(locate, ctx.hub, find, rev, path, count)
    except EntryNotFound as exc:
        headers = {"X-Repo-Commit": str(exc.extra["sha"])} if "sha" in exc.extra else None
        return wire.hub_error(exc, headers=headers)
    filename = path.rsplit("/", 1)[-1]
    headers = file_headers(f, filename)
    if (
        f.xet_hash is not None and not usercontent
    ):  # only for content stored in Xet: the client reads it through CAS
        kind = p or "models"
        headers["X-Xet-Hash"] = f.xet_hash
        headers["Link"] = (
            f'<{ctx.base_url(request)}/api/{kind}/{repo_full(ns, name)}/xet-read-token/{f.sha}>; rel="xet-auth"'
        )
        headers["Access-Control-Expose-Headers"] += ",X-Xet-Hash,Link"
    media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if media.startswith("text/") or media in ("application/json",):
        media += "; charset=utf-8"
    # User bytes never run as active content on the Hub's origin: sandbox CSP, nosniff, HTML/JS as text.
    media, safety = user_file(media, usercontent)
    headers.update(safety)
    rng = wire.parse_range(request.headers.get("range"), f.e.size)
    if isinstance(rng, str):  # "unsatisfiable"
        return wire.error(
            416,
            "RangeNotSatisfiable",
            f"Range not satisfiable for a file of {f.e.size} bytes",
            headers={**headers, "Content-Range": f"bytes */{f.e.size}"},
        )
    return await file_response(ctx, request, f, rng, headers, media)


async def file_response(
    ctx: Ctx, request: Request, f: Located, rng: tuple[int, int] | None, headers: dict[str, str], media: str
) -> Response:
    size = f.e.size
    if f.direct is not None:
        # HEAD answers here with every header the clients read (docs/wire.md §9); GET goes to the store.
        # The store is another origin, so huggingface_hub and httpx drop the Authorization header.
        if request.method == "HEAD":
            return Response(b"", headers={**headers, "Content-Length": str(size)}, media_type=media)
        return Response(b"", status_code=302, headers={**headers, "Location": f.direct})
    if f.local is not None:
        return FileResponse(
            f.local, headers=headers, media_type=media, content_disposition_type="inline", filename=None
        )
    if f.xet_hash is not None:
        return await xet_response(ctx, request, f.xet_hash, size, rng, headers, media)
    assert f.data is not None
    if rng is None:
        return Response(
            f.data if request.method != "HEAD" else b"",
            headers={**headers, "Content-Length": str(len(f.data))},
            media_type=media,
        )
    start, end = rng
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    chunk = f.data[start : end + 1]
    return Response(
        chunk if request.method != "HEAD" else b"",
        status_code=206,
        headers={**headers, "Content-Length": str(len(chunk))},
        media_type=media,
    )


async def xet_response(
    ctx: Ctx,
    request: Request,
    xet_hash: str,
    size: int,
    rng: tuple[int, int] | None,
    headers: dict[str, str],
    media: str,
) -> Response:
    """A Xet-stored file over plain HTTP: reconstructed from its xorbs while streaming."""
    if rng is None:
        first, last, status = 0, size - 1, 200
    else:
        first, last = rng
        status = 206
        headers = {**headers, "Content-Range": f"bytes {first}-{last}/{size}"}
    headers = {**headers, "Content-Length": str(max(0, last - first + 1))}
    if request.method == "HEAD" or size == 0:
        return Response(b"", status_code=status, headers=headers, media_type=media)
    assert ctx.hub.xet is not None  # a Xet hash was found: the store is there
    body = await ctx.run(ctx.hub.xet.open_range, xet_hash, first, last)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media)
