"""Reading files: tree listings, paths-info and /resolve (HEAD and GET, with Range)."""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from ...errors import BadRequest, EntryNotFound, HubError, RepoNotFound
from ...ids import HEX40
from .. import bodies, wire
from ..headers import USERCONTENT_PREFIX, is_navigation, user_file
from ..routing import ID, Router
from .common import P, T, entry_json, rid_api, rid_web

TREE_PAGE = 1000
TREE_PAGE_EXPANDED = 50
USERCONTENT_TTL = 300  # seconds a signed user-content link stays valid


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    async def tree(
        request: Request, t: str, ns: str, name: str, rev: str, path: str | None = None
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
        path = (path or "").strip("/")

        def do() -> tuple[list[dict[str, Any]], bool]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
            git = hub.git(repo)
            sha = git.resolve(rev)
            entries = git.list_tree(sha, path, recursive)
            page = entries[cursor : cursor + size]
            items = [entry_json(e) for e in page]
            add_xet_hashes(items)
            if expand and page:
                last = git.last_commits(sha, [e.path for e in page])
                for item, e in zip(items, page, strict=True):
                    c = last.get(e.path)
                    if c:
                        item["lastCommit"] = {"id": c.id, "title": c.title, "date": wire.iso(c.time)}
            return items, cursor + size < len(entries)

        items, more = await ctx.run(do)
        headers = None
        if more:
            base = wire.base_url(request, ctx.settings.public_url)
            headers = wire.next_link(request, base, "cursor", str(cursor + size))
        return wire.json_response(items, headers=headers)

    def visible(who: Any, rid: Any) -> None:
        with hub.db.session() as s:
            hub.find(s, who, rid)

    async def paths_info(request: Request, t: str, ns: str, name: str, rev: str) -> Response:
        who = await ctx.who(request)
        await ctx.run(visible, who, rid_api(t, ns, name))  # a stranger to a private repo sends no body
        body = await bodies.read_bounded(request, ctx.settings.max_json_bytes, "paths-info body")
        ctype = request.headers.get("content-type", "")
        if "json" in ctype:
            import json

            try:
                data = json.loads(body or b"{}")
            except (ValueError, RecursionError):
                raise BadRequest("Malformed JSON body") from None
            if not isinstance(data, dict):
                raise BadRequest("The JSON body must be an object")
            paths = data.get("paths") or []
            expand = bool(data.get("expand"))
        else:
            form = parse_qs(body.decode("utf-8", "replace"))
            paths = form.get("paths", [])
            expand = wire.truthy((form.get("expand") or ["false"])[0])
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise BadRequest("'paths' must be a list of strings")

        def do() -> list[dict[str, Any]]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
            git = hub.git(repo)
            sha = git.resolve(rev)
            found = [
                e for e in (git.entry(sha, p.strip("/")) for p in paths if p.strip("/")) if e is not None
            ]
            items = [entry_json(e) for e in found]
            add_xet_hashes(items)
            if expand and found:
                last = git.last_commits(sha, [e.path for e in found])
                for item, e in zip(items, found, strict=True):
                    c = last.get(e.path)
                    if c:
                        item["lastCommit"] = {"id": c.id, "title": c.title, "date": wire.iso(c.time)}
            return items

        return wire.json_response(await ctx.run(do))

    async def resolve(request: Request, p: str | None, ns: str, name: str, rev: str, path: str) -> Response:
        who = await ctx.who(request)
        if who is None and ctx.browser_who is not None and request.cookies:
            who = await ctx.browser_who(request)  # a logged-in visitor's browser (the session cookie)
        rid = rid_web(p, ns, name)

        def find() -> Any:
            with hub.db.session() as s:
                return hub.find(s, who, rid)

        if ctx.settings.usercontent_url and request.method == "GET" and is_navigation(request.headers):
            # A browser opening the file goes to the user-content origin, with a URL that carries its own
            # short-lived authorization; API clients never send Fetch Metadata and are served here.
            repo = await ctx.run(find)
            sha = await ctx.run(lambda: hub.git(repo).resolve(rev))
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
        return await serve(request, find, p, ns, name, rev, path, usercontent=False)

    async def usercontent(
        request: Request, p: str | None, ns: str, name: str, rev: str, path: str
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

        def find() -> Any:
            with hub.db.session() as s:
                repo = hub.get(s, rid)
            if repo is None:
                raise RepoNotFound(f"Repository {rid.full} not found")
            return repo

        return await serve(request, find, p, ns, name, rev, path, usercontent=True)

    async def serve(
        request: Request, find: Any, p: str | None, ns: str, name: str, rev: str, path: str, usercontent: bool
    ) -> Response:

        def do() -> tuple[str, Any, bytes | None, Any, str | None, str | None]:
            repo = find()
            git = hub.git(repo)
            sha = git.resolve(rev)
            e = git.entry(sha, path)
            if e is None or e.type != "file":
                raise EntryNotFound(f"Entry not found: {path} does not exist at revision {rev}", sha=sha)
            if request.method == "HEAD" and request.headers.get("x-hf-download-counter"):
                hub.count_download(repo, sha, path)
            if e.lfs:
                local = hub.blobs.local_path(e.lfs.oid)
                xet_hash = xet_hashes([e.lfs.oid]).get(e.lfs.oid)
                direct = None  # a store the client reads itself (S3): GET redirects to a presigned URL
                if local is None and xet_hash is None and hub.blobs.exists(e.lfs.oid):
                    direct = hub.blobs.presigned_get(e.lfs.oid, path.rsplit("/", 1)[-1])
                if local is None and xet_hash is None and direct is None:
                    raise EntryNotFound(
                        f"The content of {path} ({e.lfs.oid}) is missing from storage", sha=sha
                    )
                return sha, e, None, local, xet_hash, direct
            return sha, e, git.blob(e.oid), None, None, None

        try:
            sha, e, data, local, xet_hash, direct = await ctx.run(do)
        except EntryNotFound as exc:
            headers = {"X-Repo-Commit": str(exc.extra["sha"])} if "sha" in exc.extra else None
            return wire.hub_error(exc, headers=headers)
        filename = path.rsplit("/", 1)[-1]
        headers = {
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}; filename=\"{quote(filename)}\"",
            "Access-Control-Expose-Headers": "X-Repo-Commit,X-Linked-Etag,X-Linked-Size,ETag,Content-Range",
        }
        if e.lfs:
            headers["ETag"] = f'"{e.lfs.oid}"'
            headers["X-Linked-Etag"] = f'"{e.lfs.oid}"'
            headers["X-Linked-Size"] = str(e.lfs.size)
        else:
            headers["ETag"] = f'"{e.oid}"'
        if (
            xet_hash is not None and not usercontent
        ):  # only for content stored in Xet: the client reads it through CAS
            base = wire.base_url(request, ctx.settings.public_url)
            kind = p or "models"
            headers["X-Xet-Hash"] = xet_hash
            headers["Link"] = f'<{base}/api/{kind}/{ns}/{name}/xet-read-token/{sha}>; rel="xet-auth"'
            headers["Access-Control-Expose-Headers"] += ",X-Xet-Hash,Link"
        media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/json",):
            media += "; charset=utf-8"
        # User bytes never run as active content on the Hub's origin: sandbox CSP, nosniff, HTML/JS as text.
        media, safety = user_file(media, usercontent)
        headers.update(safety)
        rng = wire.parse_range(request.headers.get("range"), e.size)
        if isinstance(rng, str):  # "unsatisfiable"
            return wire.error(
                416,
                "RangeNotSatisfiable",
                f"Range not satisfiable for a file of {e.size} bytes",
                headers={**headers, "Content-Range": f"bytes */{e.size}"},
            )
        if direct is not None:
            # HEAD answers here with every header the clients read (docs/wire.md §9); GET goes to the store.
            # The store is another origin, so huggingface_hub and httpx drop the Authorization header.
            if request.method == "HEAD":
                return Response(b"", headers={**headers, "Content-Length": str(e.size)}, media_type=media)
            return Response(b"", status_code=302, headers={**headers, "Location": direct})
        if local is not None:
            return FileResponse(
                local, headers=headers, media_type=media, content_disposition_type="inline", filename=None
            )
        if xet_hash is not None:
            return await xet_response(request, xet_hash, e.size, rng, headers, media)
        assert data is not None
        if rng is None:
            return Response(
                data if request.method != "HEAD" else b"",
                headers={**headers, "Content-Length": str(len(data))},
                media_type=media,
            )
        start, end = rng
        headers["Content-Range"] = f"bytes {start}-{end}/{e.size}"
        chunk = data[start : end + 1]
        return Response(
            chunk if request.method != "HEAD" else b"",
            status_code=206,
            headers={**headers, "Content-Length": str(len(chunk))},
            media_type=media,
        )

    def xet_hashes(shas: list[str]) -> dict[str, str]:
        """sha256 -> Xet file hash for the LFS oids whose content is stored in Xet."""
        if hub.xet is None or not shas:
            return {}
        with hub.db.session() as s:
            return hub.xet.hashes_for(s, shas)

    def add_xet_hashes(items: list[dict[str, Any]]) -> None:
        found = xet_hashes([i["lfs"]["oid"] for i in items if "lfs" in i])
        for i in items:
            if "lfs" in i and i["lfs"]["oid"] in found:
                i["xetHash"] = found[i["lfs"]["oid"]]

    async def xet_response(
        request: Request, xet_hash: str, size: int, rng: Any, headers: dict[str, str], media: str
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
        body = await ctx.run(hub.xet.open_range, xet_hash, first, last)
        return StreamingResponse(body, status_code=status, headers=headers, media_type=media)

    router.add("GET", f"/api/{T}/{ID}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", tree)
    router.add("POST", f"/api/{T}/{ID}/paths-info/(?P<rev>[^/]+)", paths_info)
    router.add("GET", f"/{P}{ID}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", resolve)
    router.add("GET", f"{USERCONTENT_PREFIX}/{P}{ID}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", usercontent)
    _ = HubError
