"""The Git LFS batch API (basic and HF multipart transfers), its signed upload/verify/download hrefs.

huggingface_hub PUTs to the upload href without any Authorization header and ignores `header`, so every
href carries its own HMAC-signed, expiring capability bound to (operation, repo, oid, size).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from ...db.models import Repo
from ...errors import BadRequest, HubError, NotFound, RepoNotFound, TooLarge, Unauthorized
from ...hub import accounts
from ...hub.sizes import MAX_PARTS, check_size, part_size
from ...ids import SHA256
from .. import bodies, wire
from ..routing import Router
from .common import P, rid_web

LFS_JSON = "application/vnd.git-lfs+json"
GIT_ID = r"(?P<ns>[^/]+)/(?P<name>[^/]+?)(?:\.git)?"
PUMP = 1024 * 1024
# Signed part URLs in one batch answer, at most: a batch of many large objects gets larger parts instead.
BATCH_PARTS = 50_000
# The verify body is {"oid", "size"}; read only when the href carries no size.
VERIFY_BODY = 64 * 1024


def lfs_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status_code=status, headers=headers, media_type=LFS_JSON)


def lfs_error(exc: HubError) -> Response:
    resp = wire.hub_error(exc)
    body = json.dumps({"message": exc.message})
    headers = {k: v for k, v in resp.headers.items() if k.lower().startswith("x-error")}
    if isinstance(exc, Unauthorized):
        headers["LFS-Authenticate"] = 'Basic realm="Agora"'
        headers["WWW-Authenticate"] = 'Basic realm="Agora"'
    return Response(body, status_code=resp.status_code, headers=headers, media_type=LFS_JSON)


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub
    signer = ctx.signer
    settings = ctx.settings

    def base(request: Request) -> str:
        return wire.base_url(request, settings.public_url)

    def signed(request: Request, path: str, op: str, *parts: str, **extra: str) -> str:
        exp, sig = signer.sign(op, *parts)
        return f"{base(request)}{path}?{urlencode({**extra, 'exp': exp, 'sig': sig})}"

    async def batch(request: Request, p: str | None, ns: str, name: str) -> Response:
        try:
            who = await ctx.who(request)
            rid = rid_web(p, ns, name)

            def visible() -> None:  # before the body: a stranger to a private repo gets nothing read
                with hub.db.session() as s:
                    try:
                        hub.find(s, who, rid)
                    except RepoNotFound:
                        if who is None:
                            # git-lfs only sends credentials after a 401 that says how.
                            raise Unauthorized("Authentication required") from None
                        raise

            await ctx.run(visible)
            body = await bodies.read_json(request, settings.max_json_bytes, what="LFS batch request")
            op, objects, transfers = batch_request(body)

            def do() -> dict[str, Any]:
                with hub.db.session() as s:
                    repo = hub.find(s, who, rid, write=(op == "upload"))
                    sizes = [o[1] for o in objects if isinstance(o, tuple)]
                    multipart = (
                        op == "upload"
                        and "multipart" in transfers
                        and any(size > settings.multipart_threshold for size in sizes)
                    )
                    # Part URLs in one answer stay bounded: a batch of many large objects gets larger parts.
                    big = sum(size for size in sizes if size > settings.multipart_threshold)
                    floor = -(-big // BATCH_PARTS)
                    return {
                        "transfer": "multipart" if multipart else "basic",
                        "objects": [
                            one(s, request, repo, op, o[0], o[1], transfers, floor)
                            if isinstance(o, tuple)
                            else o
                            for o in objects
                        ],
                        "hash_algo": "sha256",
                    }

            return lfs_json(await ctx.run(do))
        except HubError as exc:
            return lfs_error(exc)

    def batch_request(body: dict[str, Any]) -> tuple[str, list[tuple[str, int] | dict[str, Any]], list[str]]:
        """(operation, [(oid, size) or that object's error], transfers) of a batch request, or the HubError
        that refuses it whole."""
        op = body.get("operation")
        if op not in ("upload", "download"):
            raise BadRequest("'operation' must be upload or download")
        objects = body.get("objects")
        if not isinstance(objects, list):
            raise BadRequest("'objects' must be a list")
        if len(objects) > settings.lfs_batch_max_objects:
            raise TooLarge(
                f"A batch request may name at most {settings.lfs_batch_max_objects} objects, "
                f"this one names {len(objects)}: split it"
            )
        transfers = body.get("transfers")
        if transfers is None:
            transfers = ["basic"]
        if not isinstance(transfers, list) or not all(isinstance(t, str) for t in transfers):
            raise BadRequest("'transfers' must be a list of strings")
        checked: list[tuple[str, int] | dict[str, Any]] = []
        for o in objects:
            # A size that is no JSON integer (true, 1.5, "5") or past 2^63 - 1 makes the request malformed
            # (400), one over the largest object too large (413); both refuse the whole batch before any
            # work. A bad oid or a negative size is that object's own error, as the LFS spec has it.
            size = o.get("size") if isinstance(o, dict) else None
            if isinstance(o, dict) and "size" in o and not (type(size) is int and size < 0):
                check_size(size, settings.max_object_size, "size")
            oid = o.get("oid") if isinstance(o, dict) else None
            if not isinstance(oid, str) or not SHA256.match(oid) or type(size) is not int or size < 0:
                checked.append(
                    {
                        "oid": str(oid)[:80],
                        "size": size if type(size) is int and size >= 0 else 0,
                        "error": {
                            "code": 422,
                            "message": "oid must be 64 lowercase hex characters and size a non-negative "
                            "integer",
                        },
                    }
                )
            else:
                checked.append((oid, size))
        return op, checked, transfers

    def one(
        s: Any, request: Request, repo: Repo, op: str, oid: str, size: int, transfers: list[str], floor: int
    ) -> dict[str, Any]:
        rid = str(repo.id)
        stored = hub.stored_lfs_size(s, oid)
        if op == "download":
            if stored is None or not hub.has_lfs(s, repo, oid):
                return {"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}}
            href = hub.blobs.presigned_get(oid) if hub.blobs.size(oid) is not None else None  # S3: direct
            return {
                "oid": oid,
                "size": stored,
                "authenticated": True,
                "actions": {
                    "download": {
                        "href": href or signed(request, f"/lfs/objects/{rid}/{oid}", "download", rid, oid),
                        "expires_in": 3600,
                    }
                },
            }
        if stored == size and hub.has_lfs(s, repo, oid):
            return {"oid": oid, "size": size}  # already here: no actions, the client skips it
        verify = {
            "href": signed(
                request, f"/lfs/verify/{rid}/{oid}", "verify", rid, oid, str(size), size=str(size)
            ),
            "header": {},
            "expires_in": 3600,
        }
        if "multipart" in transfers and size > settings.multipart_threshold:
            chunk = part_size(size, settings.multipart_chunk, floor)
            count = -(-size // chunk)
            assert count <= MAX_PARTS
            upload_id = hub.blobs.multipart_begin(oid, size)
            header = {"chunk_size": str(chunk)}
            direct = hub.blobs.presigned_parts(upload_id, count)  # S3: parts go to the store directly
            for n in range(1, count + 1):
                header[f"{n:05d}"] = (
                    direct[n - 1]
                    if direct
                    else signed(
                        request,
                        f"/lfs/parts/{upload_id}/{n}",
                        "part",
                        upload_id,
                        str(n),
                        str(chunk),
                        str(size),
                        chunk=str(chunk),
                        size=str(size),
                    )
                )
            return {
                "oid": oid,
                "size": size,
                "actions": {
                    "upload": {
                        "href": signed(
                            request,
                            f"/lfs/complete/{rid}/{oid}/{upload_id}",
                            "complete",
                            rid,
                            oid,
                            upload_id,
                            str(size),
                            size=str(size),
                        ),
                        "header": header,
                        "expires_in": 3600,
                    },
                    "verify": verify,
                },
            }
        direct_put = hub.blobs.presigned_put(oid, size)
        if direct_put is not None:  # S3: the client PUTs to a temp key; verify checks it and publishes it
            url, ticket = direct_put
            verify["href"] = signed(
                request,
                f"/lfs/verify/{rid}/{oid}",
                "verify",
                rid,
                oid,
                str(size),
                ticket,
                size=str(size),
                ticket=ticket,
            )
            return {
                "oid": oid,
                "size": size,
                "actions": {"upload": {"href": url, "header": {}, "expires_in": 3600}, "verify": verify},
            }
        return {
            "oid": oid,
            "size": size,
            "actions": {
                "upload": {
                    "href": signed(
                        request, f"/lfs/objects/{rid}/{oid}", "upload", rid, oid, str(size), size=str(size)
                    ),
                    "header": {},
                    "expires_in": 3600,
                },
                "verify": verify,
            },
        }

    def repo_by_id(repo_id: str) -> Repo:
        with hub.db.session() as s:
            repo = s.get(Repo, int(repo_id))
        if repo is None:
            raise RepoNotFound()
        return repo

    def check(request: Request, op: str, *parts: str) -> None:
        q = request.query_params
        if not signer.check(q.get("exp"), q.get("sig"), op, *parts):
            raise Unauthorized(
                "This transfer link is invalid or has expired: ask the batch API for a new one"
            )

    async def upload(request: Request, repo_id: str, oid: str) -> Response:
        size = request.query_params.get("size") or ""
        check(request, "upload", repo_id, oid, size)
        expected = int(size)
        bodies.check_length(request, expected, f"Object {oid}")
        repo = await ctx.run(repo_by_id, repo_id)
        up = hub.blobs.new_upload()
        received = 0

        def write(data: bytes) -> None:  # never more than the signed size reaches the store
            nonlocal received
            received += len(data)
            if received > expected:
                raise bodies.too_large(expected, f"Object {oid}")
            up.write(data)

        try:
            await ctx.pump(request, write)
            await ctx.run(up.finish, oid, expected)
        except BaseException:
            up.abort()
            raise
        await ctx.run(record, repo, oid, expected)
        return wire.json_response({})

    def record(repo: Repo, oid: str, size: int) -> None:
        with hub.db.session() as s:
            hub.record_lfs(s, repo, oid, size)  # not s.merge(repo): that writes its stale columns back

    async def download(request: Request, repo_id: str, oid: str) -> Response:
        check(request, "download", repo_id, oid)
        path = hub.blobs.local_path(oid)
        if path is None:
            url = hub.blobs.presigned_get(oid) if await ctx.run(hub.blobs.exists, oid) else None
            if url is not None:
                return Response(b"", status_code=302, headers={"Location": url})
            return await xet_download(oid)
        return FileResponse(path, media_type="application/octet-stream")

    async def xet_download(oid: str) -> Response:
        def find() -> tuple[str, int] | None:
            with hub.db.session() as s:
                xf = hub.xet.file_by_sha(s, oid) if hub.xet is not None else None
                return (xf.file_hash, xf.size) if xf is not None else None

        found = await ctx.run(find)
        if found is None:
            raise NotFound("Object does not exist")
        file_hash, size = found
        body = await ctx.run(hub.xet.open_range, file_hash, 0, size - 1) if size else iter([b""])
        return StreamingResponse(
            body, headers={"Content-Length": str(size)}, media_type="application/octet-stream"
        )

    async def verify(request: Request, repo_id: str, oid: str) -> Response:
        q = request.query_params
        size = q.get("size") or ""
        if not size:  # an href without its size (ours always carry it): the body names it, read bounded
            try:
                body = json.loads(await bodies.read_bounded(request, VERIFY_BODY, "Verify request") or b"{}")
            except (ValueError, RecursionError):
                body = {}
            if isinstance(body, dict) and type(body.get("size")) is int:
                size = str(body["size"])
        ticket = q.get("ticket") or ""
        check(request, "verify", repo_id, oid, size, *((ticket,) if ticket else ()))
        repo = await ctx.run(repo_by_id, repo_id)
        if ticket:  # a direct upload: the store hashes what the client PUT, then publishes it
            await ctx.run(hub.blobs.finish_direct, ticket, oid, int(size))
            await ctx.run(record, repo, oid, int(size))

        def do() -> bool:
            with hub.db.session() as s:
                return hub.blobs.size(oid) == int(size) and hub.has_lfs(s, repo, oid)

        if not await ctx.run(do):
            return lfs_error(NotFound(f"Object {oid} was not uploaded completely"))
        return lfs_json({"message": "ok"})

    async def part(request: Request, upload_id: str, n: str) -> Response:
        q = request.query_params
        chunk, size = q.get("chunk") or "", q.get("size") or ""
        check(request, "part", upload_id, n, chunk, size)
        offset = (int(n) - 1) * int(chunk)
        expected = min(int(chunk), int(size) - offset)
        if expected <= 0:
            raise BadRequest(f"Part {n} is past the end of the object")
        bodies.check_length(request, expected, f"Part {n}")
        pieces: list[bytes] = []  # joined once per PUMP bytes, as in Ctx.pump()
        pending = 0
        written = 0

        def write(data: bytes, at: int) -> None:
            hub.blobs.multipart_write(upload_id, at, data)

        async for piece in request.stream():
            pieces.append(piece)
            pending += len(piece)
            if written + pending > expected:
                raise bodies.too_large(expected, f"Part {n}")
            if pending >= PUMP:
                await ctx.run(write, b"".join(pieces), offset + written)
                written += pending
                pieces.clear()
                pending = 0
        if pending:
            await ctx.run(write, b"".join(pieces), offset + written)
            written += pending
        if written != expected:
            raise BadRequest(f"Part {n} has {written} bytes, expected {expected}")
        return Response(b"", headers={"ETag": f'"part-{n}-{written}"'})

    async def complete(request: Request, repo_id: str, oid: str, upload_id: str) -> Response:
        size = request.query_params.get("size") or ""
        check(request, "complete", repo_id, oid, upload_id, size)
        repo = await ctx.run(repo_by_id, repo_id)
        await ctx.run(hub.blobs.multipart_complete, upload_id, oid, int(size))
        await ctx.run(record, repo, oid, int(size))
        return lfs_json({"message": "ok"})

    router.add("POST", f"/{P}{GIT_ID}/info/lfs/objects/batch", batch)
    router.add("PUT", r"/lfs/objects/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})", upload)
    router.add("GET", r"/lfs/objects/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})", download)
    router.add("POST", r"/lfs/verify/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})", verify)
    router.add("PUT", r"/lfs/parts/(?P<upload_id>[0-9a-f]{32})/(?P<n>\d{1,5})", part)
    router.add(
        "POST", r"/lfs/complete/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})/(?P<upload_id>[0-9a-f]{32})", complete
    )
    _ = accounts
