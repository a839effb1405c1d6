"""The Git LFS batch API (basic and HF multipart transfers), its signed upload/verify/download hrefs.

huggingface_hub PUTs to the upload href without any Authorization header and ignores `header`, so every
href carries its own HMAC-signed, expiring capability bound to (operation, repo, oid, size).
Repo rows are typed as agora.hub.Repo (the domain's re-export, for type checking only): http/ imports no agora.db.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from ...config import Settings
from ...errors import BadRequest, HubError, NotFound, RepoMoved, RepoNotFound, TooLarge, Unauthorized
from ...hub import lfs as hub_lfs
from ...hub.accounts import Principal
from ...hub.sizes import MAX_PARTS, check_size, part_size
from ...ids import SHA256, RepoId
from .. import bodies, wire
from ..context import Ctx
from .common import rid_web

if TYPE_CHECKING:
    from ...hub.repos import Repo

LFS_JSON = "application/vnd.git-lfs+json"
GIT_ID = r"(?P<ns>[^/]*)/(?P<name>[^/]+?)(?:\.git)?"
PUMP = 1024 * 1024
# Signed part URLs in one batch answer, at most: a batch of many large objects gets larger parts instead.
BATCH_PARTS = 50_000
# The verify body is {"oid", "size"}; read only when the href carries no size.
VERIFY_BODY = 64 * 1024
EXPIRES = 3600

# A checked batch object: (oid, size), or the object's own error answer.
Wanted = tuple[str, int] | dict[str, Any]


def lfs_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status_code=status, headers=headers, media_type=LFS_JSON)


def lfs_error(exc: HubError) -> Response:
    resp = wire.hub_error(exc)
    body = json.dumps({"message": exc.message})
    headers = {k: v for k, v in resp.headers.items() if k.lower().startswith("x-error")}
    if resp.status_code == 401:  # Unauthorized, or a gated repo asking the anonymous to log in
        headers["LFS-Authenticate"] = 'Basic realm="Agora"'
        headers["WWW-Authenticate"] = 'Basic realm="Agora"'
    return Response(body, status_code=resp.status_code, headers=headers, media_type=LFS_JSON)


@contextmanager
def anonymous_401(who: Principal | None) -> Iterator[None]:
    """A repo an anonymous caller cannot see is a 401: git-lfs only sends credentials after a 401 that says
    how."""
    try:
        yield
    except RepoNotFound:
        if who is None:
            raise Unauthorized("Authentication required") from None
        raise


def signed(ctx: Ctx, request: Request, path: str, op: str, *parts: str, **extra: str) -> str:
    exp, sig = ctx.signer.sign(op, *parts)
    return f"{ctx.base_url(request)}{path}?{urlencode({**extra, 'exp': exp, 'sig': sig})}"


def check(ctx: Ctx, request: Request, op: str, *parts: str) -> None:
    q = request.query_params
    if not ctx.signer.check(q.get("exp"), q.get("sig"), op, *parts):
        raise Unauthorized("This transfer link is invalid or has expired: ask the batch API for a new one")


# ---- the batch API ----------------------------------------------------------------------------------------
async def batch(ctx: Ctx, request: Request, p: str | None, ns: str, name: str) -> Response:
    try:
        who = await ctx.who(request)
        rid = rid_web(p, ns, name)
        with anonymous_401(who):  # before the body: a stranger to a private repo gets nothing read
            await ctx.run(ctx.hub.open_repo, who, rid)
        body = await bodies.read_json(request, ctx.settings.max_json_bytes, what="LFS batch request")
        op, objects, transfers = batch_request(ctx.settings, body)
        return lfs_json(await ctx.run(batch_answer, ctx, request, who, rid, op, objects, transfers))
    except RepoMoved:  # an old name: the router's 307 to the new one (git-lfs repeats the POST there)
        raise
    except HubError as exc:
        return lfs_error(exc)


def batch_request(settings: Settings, body: dict[str, Any]) -> tuple[str, list[Wanted], list[str]]:
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
    return op, [wanted(settings, o) for o in objects], transfers


def wanted(settings: Settings, o: Any) -> Wanted:
    # A size that is no JSON integer (true, 1.5, "5") or past 2^63 - 1 makes the request malformed
    # (400), one over the largest object too large (413); both refuse the whole batch before any
    # work. A bad oid or a negative size is that object's own error, as the LFS spec has it.
    size = o.get("size") if isinstance(o, dict) else None
    if isinstance(o, dict) and "size" in o and not (type(size) is int and size < 0):
        check_size(size, settings.max_object_size, "size")
    oid = o.get("oid") if isinstance(o, dict) else None
    if not isinstance(oid, str) or not SHA256.match(oid) or type(size) is not int or size < 0:
        return {
            "oid": str(oid)[:80],
            "size": size if type(size) is int and size >= 0 else 0,
            "error": {
                "code": 422,
                "message": "oid must be 64 lowercase hex characters and size a non-negative integer",
            },
        }
    return oid, size


def batch_answer(
    ctx: Ctx,
    request: Request,
    who: Principal | None,
    rid: RepoId,
    op: str,
    objects: list[Wanted],
    transfers: list[str],
) -> dict[str, Any]:
    """The batch answer (blocking: run it in a thread). Part URLs in one answer stay bounded: a batch of
    many large objects gets larger parts."""
    threshold = ctx.settings.multipart_threshold
    wants = [o for o in objects if isinstance(o, tuple)]
    repo, known = hub_lfs.batch_objects(ctx.hub, who, rid, op == "upload", [oid for oid, _ in wants])
    sizes = [size for _, size in wants]
    multipart = op == "upload" and "multipart" in transfers and any(size > threshold for size in sizes)
    floor = -(-sum(size for size in sizes if size > threshold) // BATCH_PARTS)
    return {
        "transfer": "multipart" if multipart else "basic",
        "objects": [
            (
                one(ctx, request, repo, op, o[0], o[1], known[o[0]], transfers, floor)
                if isinstance(o, tuple)
                else o
            )
            for o in objects
        ],
        "hash_algo": "sha256",
    }


def one(
    ctx: Ctx,
    request: Request,
    repo: Repo,
    op: str,
    oid: str,
    size: int,
    known: tuple[int | None, bool],
    transfers: list[str],
    floor: int,
) -> dict[str, Any]:
    """One object's answer; `known` is (the size of its stored content or None, whether the repo owns it)."""
    hub, rid = ctx.hub, str(repo.id)
    stored, owned = known
    if op == "download":
        if stored is None or not owned:
            return {"oid": oid, "size": size, "error": {"code": 404, "message": "Object does not exist"}}
        href = hub.blobs.presigned_get(oid) if hub.blobs.size(oid) is not None else None  # S3: direct
        href = href or signed(ctx, request, f"/lfs/objects/{rid}/{oid}", "download", rid, oid)
        return {
            "oid": oid,
            "size": stored,
            "authenticated": True,
            "actions": {"download": {"href": href, "expires_in": EXPIRES}},
        }
    if stored == size and owned:
        return {"oid": oid, "size": size}  # already here: no actions, the client skips it
    verify = {
        "href": signed(
            ctx, request, f"/lfs/verify/{rid}/{oid}", "verify", rid, oid, str(size), size=str(size)
        ),
        "header": {},
        "expires_in": EXPIRES,
    }
    if "multipart" in transfers and size > ctx.settings.multipart_threshold:
        return multipart_upload(ctx, request, rid, oid, size, floor, verify)
    direct_put = hub.blobs.presigned_put(oid, size)
    if direct_put is not None:  # S3: the client PUTs to a temp key; verify checks it and publishes it
        url, ticket = direct_put
        verify["href"] = signed(
            ctx,
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
        return upload_answer(oid, size, url, {}, verify)
    href = signed(ctx, request, f"/lfs/objects/{rid}/{oid}", "upload", rid, oid, str(size), size=str(size))
    return upload_answer(oid, size, href, {}, verify)


def multipart_upload(
    ctx: Ctx, request: Request, rid: str, oid: str, size: int, floor: int, verify: dict[str, Any]
) -> dict[str, Any]:
    """An HF multipart upload: one signed (or, on S3, presigned) URL a part, then the complete href."""
    chunk = part_size(size, ctx.settings.multipart_chunk, floor)
    count = -(-size // chunk)
    assert count <= MAX_PARTS
    blobs = ctx.hub.blobs
    upload_id = blobs.multipart_begin(oid, size)
    header = {"chunk_size": str(chunk)}
    direct = blobs.presigned_parts(upload_id, count)  # S3: parts go to the store directly
    for n in range(1, count + 1):
        header[f"{n:05d}"] = (
            direct[n - 1]
            if direct
            else signed(
                ctx,
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
    href = signed(
        ctx,
        request,
        f"/lfs/complete/{rid}/{oid}/{upload_id}",
        "complete",
        rid,
        oid,
        upload_id,
        str(size),
        size=str(size),
    )
    return upload_answer(oid, size, href, header, verify)


def upload_answer(
    oid: str, size: int, href: str, header: dict[str, str], verify: dict[str, Any]
) -> dict[str, Any]:
    return {
        "oid": oid,
        "size": size,
        "actions": {"upload": {"href": href, "header": header, "expires_in": EXPIRES}, "verify": verify},
    }


# ---- the signed transfer hrefs ----------------------------------------------------------------------------
async def upload(ctx: Ctx, request: Request, repo_id: str, oid: str) -> Response:
    size = request.query_params.get("size") or ""
    check(ctx, request, "upload", repo_id, oid, size)
    expected = int(size)
    bodies.check_length(request, expected, f"Object {oid}")
    ctx.check_room(request)
    repo = await ctx.run(hub_lfs.repo_by_id, ctx.hub, int(repo_id))
    up = ctx.hub.blobs.new_upload()
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
    await ctx.run(hub_lfs.record, ctx.hub, repo, oid, expected)
    return wire.json_response({})


async def download(ctx: Ctx, request: Request, repo_id: str, oid: str) -> Response:
    check(ctx, request, "download", repo_id, oid)
    blobs = ctx.hub.blobs
    path = blobs.local_path(oid)
    if path is None:
        url = blobs.presigned_get(oid) if await ctx.run(blobs.exists, oid) else None
        if url is not None:
            return Response(b"", status_code=302, headers={"Location": url})
        return await xet_download(ctx, oid)
    return FileResponse(path, media_type="application/octet-stream")


async def xet_download(ctx: Ctx, oid: str) -> Response:
    xet = ctx.hub.xet
    found = await ctx.run(xet.sha_file, oid) if xet is not None else None
    if xet is None or found is None:
        raise NotFound("Object does not exist")
    file_hash, size = found
    body = await ctx.run(xet.open_range, file_hash, 0, size - 1) if size else iter([b""])
    return StreamingResponse(
        body, headers={"Content-Length": str(size)}, media_type="application/octet-stream"
    )


async def verify(ctx: Ctx, request: Request, repo_id: str, oid: str) -> Response:
    q = request.query_params
    size = q.get("size") or await verify_body_size(request)
    ticket = q.get("ticket") or ""
    check(ctx, request, "verify", repo_id, oid, size, *((ticket,) if ticket else ()))
    repo = await ctx.run(hub_lfs.repo_by_id, ctx.hub, int(repo_id))
    if ticket:  # a direct upload: the store hashes what the client PUT, then publishes it
        await ctx.run(ctx.hub.blobs.finish_direct, ticket, oid, int(size))
        await ctx.run(hub_lfs.record, ctx.hub, repo, oid, int(size))
    if not await ctx.run(hub_lfs.verified, ctx.hub, repo, oid, int(size)):
        return lfs_error(NotFound(f"Object {oid} was not uploaded completely"))
    return lfs_json({"message": "ok"})


async def verify_body_size(request: Request) -> str:
    """For an href without its size (ours always carry it): the size the body names, read bounded; else ""."""
    try:
        body = json.loads(await bodies.read_bounded(request, VERIFY_BODY, "Verify request") or b"{}")
    except (ValueError, RecursionError):
        body = {}
    if isinstance(body, dict) and type(body.get("size")) is int:
        return str(body["size"])
    return ""


async def part(ctx: Ctx, request: Request, upload_id: str, n: str) -> Response:
    q = request.query_params
    chunk, size = q.get("chunk") or "", q.get("size") or ""
    check(ctx, request, "part", upload_id, n, chunk, size)
    offset = (int(n) - 1) * int(chunk)
    expected = min(int(chunk), int(size) - offset)
    if expected <= 0:
        raise BadRequest(f"Part {n} is past the end of the object")
    bodies.check_length(request, expected, f"Part {n}")
    ctx.check_room(request)
    write = ctx.hub.blobs.multipart_write
    pieces: list[bytes] = []  # joined once per PUMP bytes, as in Ctx.pump()
    pending = 0
    written = 0
    async for piece in request.stream():
        pieces.append(piece)
        pending += len(piece)
        if written + pending > expected:
            raise bodies.too_large(expected, f"Part {n}")
        if pending >= PUMP:
            await ctx.run(write, upload_id, offset + written, b"".join(pieces))
            written += pending
            pieces.clear()
            pending = 0
    if pending:
        await ctx.run(write, upload_id, offset + written, b"".join(pieces))
        written += pending
    if written != expected:
        raise BadRequest(f"Part {n} has {written} bytes, expected {expected}")
    return Response(b"", headers={"ETag": f'"part-{n}-{written}"'})


async def complete(ctx: Ctx, request: Request, repo_id: str, oid: str, upload_id: str) -> Response:
    size = request.query_params.get("size") or ""
    check(ctx, request, "complete", repo_id, oid, upload_id, size)
    repo = await ctx.run(hub_lfs.repo_by_id, ctx.hub, int(repo_id))
    await ctx.run(ctx.hub.blobs.multipart_complete, upload_id, oid, int(size))
    await ctx.run(hub_lfs.record, ctx.hub, repo, oid, int(size))
    return lfs_json({"message": "ok"})
