"""Native Xet: the token endpoints of the Hub API and the CAS API under /cas.

Tokens are HMAC-signed, expiring capabilities naming one repo and a scope (read / write); the CAS API
trusts nothing else. Reconstructions (v1, and v2 with one range per URL) hand out signed, expiring URLs
to byte ranges of xorbs, which /cas/fetch serves with HTTP Range.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...errors import (
    BadRequest,
    Forbidden,
    HubError,
    InsufficientStorage,
    NotFound,
    TooLarge,
    Unauthorized,
    disk_full,
)
from ...hub import contributions
from ...hub.xet import XetStore
from ...storage.xet.reconstruct import Segment
from ...storage.xet.shard import MAX_SHARD
from ...storage.xet.xorb import MAX_XORB, XorbMeta
from .. import wire
from ..context import Ctx
from .common import rid_api

log = logging.getLogger("agora.xet")
CAS = "/cas"
TOKEN_TTL = 3600
URL_TTL = 3600
PUMP = 1024 * 1024
H = r"(?P<h>[0-9a-fA-F]{64})"
SHARD_HEARTBEAT = (
    15.0  # seconds between progress frames of a v2 shard upload (hf_xet's CAS sends one every ~20)
)


def store(ctx: Ctx) -> XetStore:
    """The Xet store (app.build_hub always attaches one)."""
    assert ctx.hub.xet is not None
    return ctx.hub.xet


def range_not_satisfiable(message: str, size: int) -> Response:
    return wire.error(416, "RangeNotSatisfiable", message, headers={"Content-Range": f"bytes */{size}"})


# ---- tokens -----------------------------------------------------------------------------------------------
def make_token(ctx: Ctx, repo_id: int, scope: str) -> tuple[str, int]:
    exp, sig = ctx.signer.sign("xet-token", scope, str(repo_id), ttl=TOKEN_TTL)
    return f"xet1.{scope}.{repo_id}.{exp}.{sig}", int(exp)


def token_repo(ctx: Ctx, request: Request, write: bool, read: bool = False) -> int:
    """The repo id a CAS request's Bearer token grants, or 401 / 403. `read`: the request reads a file's bytes
    and needs a read token: a write token is given to whoever may upload (a contributor's PR on a public
    repo, past no gate), so it reconstructs nothing."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    parts = value.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 5 or parts[0] != "xet1" or not parts[2].isdigit():
        raise Unauthorized("A Xet access token is required (GET /api/{type}/{id}/xet-read-token/{rev})")
    _, scope, repo_id, exp, sig = parts
    if scope not in ("read", "write") or not ctx.signer.check(exp, sig, "xet-token", scope, repo_id):
        raise Unauthorized("The Xet access token is invalid or has expired")
    if write and scope != "write":
        raise Forbidden("This operation needs a Xet write token")
    if read and scope != "read":
        raise Forbidden("Reading a file needs a Xet read token (GET /api/{type}/{id}/xet-read-token/{rev})")
    return int(repo_id)


async def token(ctx: Ctx, request: Request, t: str, ns: str, name: str, kind: str, rev: str) -> Response:
    write = kind == "write"
    rid = rid_api(t, ns, name)
    if write:  # writers, or a contributor uploading for a PR (hub/contributions.py)
        repo = await ctx.run(contributions.open_repo, ctx.hub, await ctx.who(request), rid)
    else:
        repo = await ctx.repo(request, rid, download=True)  # read: past the gate
    if not (write and rev == "None"):  # create_commit(create_pr=True) sends the literal None
        await ctx.run(ctx.hub.resolve, repo, rev)
    tok, exp = make_token(ctx, repo.id, kind)
    cas = f"{ctx.base_url(request)}{CAS}"
    headers = {
        "X-Xet-Cas-Url": cas,
        "X-Xet-Access-Token": tok,
        "X-Xet-Token-Expiration": str(exp),
        "Access-Control-Expose-Headers": "X-Xet-Cas-Url,X-Xet-Access-Token,X-Xet-Token-Expiration",
    }
    return wire.json_response({"accessToken": tok, "exp": exp, "casUrl": cas}, headers=headers)


# ---- CAS: upload ------------------------------------------------------------------------------------------
def check_length(request: Request, limit: int) -> None:
    n = request.headers.get("content-length")
    if n and n.isdigit() and int(n) > limit:
        raise TooLarge(f"Body of {n} bytes exceeds the {limit} byte limit")


async def xorb_upload(ctx: Ctx, request: Request, prefix: str, h: str) -> Response:
    token_repo(ctx, request, write=True)
    check_length(request, MAX_XORB)
    ctx.check_room(request)
    up = store(ctx).new_xorb_upload(h.lower())
    try:
        await ctx.pump(request, up.write)
        inserted = await ctx.run(up.finish)
    except BaseException:
        up.abort()
        raise
    log.info("xorb %s: %d bytes, inserted=%s", h[:12], up.size, inserted)
    return wire.json_response({"was_inserted": inserted})


async def shard_body(ctx: Ctx, request: Request) -> tuple[int, bytes]:
    """(the repo the write token grants, the shard's bytes), bounded by MAX_SHARD."""
    repo_id = token_repo(ctx, request, write=True)
    check_length(request, MAX_SHARD)
    ctx.check_room(request)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > MAX_SHARD:
            raise TooLarge(f"Shard exceeds {MAX_SHARD} bytes")
    return repo_id, bytes(body)


async def shard_upload(ctx: Ctx, request: Request) -> Response:
    repo_id, body = await shard_body(ctx, request)
    try:
        result = await ctx.run(store(ctx).accept_shard, repo_id, body)
    except BadRequest as e:
        log.warning("shard rejected for repo %s: %s", repo_id, e.message)
        raise
    return wire.json_response({"result": result})


async def shard_upload_v2(ctx: Ctx, request: Request) -> Response:
    """POST /v2/shards: the v1 check, answered as hf_xet's NDJSON stream of progress frames. hf_xet prefers it,
    and it is how a refusal reaches the user: the client shows an `error` frame's message, while from a v1
    error it keeps only the status (it drops the body). Once the stream started the status is 200, so every
    failure is a frame; a `validating` frame every SHARD_HEARTBEAT seconds keeps the client's read timeout
    from firing while the sha256 of a large file is verified."""
    repo_id, body = await shard_body(ctx, request)
    task = asyncio.ensure_future(ctx.run(store(ctx).accept_shard, repo_id, body))

    async def frames() -> AsyncIterator[bytes]:
        while not (await asyncio.wait({task}, timeout=SHARD_HEARTBEAT))[0]:
            yield b'{"type":"validating","verified":0,"total":1}\n'
        yield shard_outcome(ctx, repo_id, task)

    return StreamingResponse(frames(), media_type="application/x-ndjson")


def shard_outcome(ctx: Ctx, repo_id: int, task: asyncio.Future[int]) -> bytes:
    """The terminal frame of a v2 shard upload: `result`, or `error` with the message a v1 answer would carry
    (retryable when the server, not the shard, is at fault: a busy database)."""
    exc = task.exception()
    if exc is None:
        return b'{"type":"result"}\n'
    if not isinstance(exc, HubError) and disk_full(exc):
        exc = InsufficientStorage()
    if isinstance(exc, HubError):
        log.warning("shard rejected for repo %s: %s", repo_id, exc.message)
        message, retryable = exc.message, wire.status_of(exc) == 503
    else:
        log.error("shard upload for repo %s failed", repo_id, exc_info=exc)
        message, retryable = "Internal error: the server logged the details", True
    return json.dumps({"type": "error", "message": message, "retryable": retryable}).encode() + b"\n"


async def not_here(ctx: Ctx, request: Request, **_: str) -> Response:
    # xorb-grants: the client falls back to uploading the xorb.
    return wire.error(404, "NotFound", f"{request.url.path} is not implemented by this server")


# ---- CAS: dedup and download ------------------------------------------------------------------------------
async def chunk(ctx: Ctx, request: Request, prefix: str, h: str) -> Response:
    token_repo(ctx, request, write=False)
    data = await ctx.run(store(ctx).dedup_shard, h.lower())
    if data is None:
        return wire.error(404, "NotFound", "Chunk not tracked by global deduplication")
    return Response(data, media_type="application/octet-stream")


def fetch_url(ctx: Ctx, request: Request, xorb: str, start: int, end: int) -> str:
    direct = store(ctx).xorbs.presigned_get(xorb)  # S3: the client reads the xorb range from the store
    if direct is not None:
        return direct
    exp, sig = ctx.signer.sign("xorb-range", xorb, str(start), str(end), ttl=URL_TTL)
    query = urlencode({"start": start, "end": end, "exp": exp, "sig": sig})
    return f"{ctx.base_url(request)}{CAS}/fetch/{xorb}?{query}"


async def reconstruction(ctx: Ctx, request: Request, h: str, v: str) -> Response:
    repo_id = token_repo(ctx, request, write=False, read=True)
    h = h.lower()
    size = await ctx.run(store(ctx).repo_file_size, repo_id, h)
    if size == 0:
        out: dict[str, Any] = {"offset_into_first_range": 0, "terms": [], "fetch_info": {}}
    else:
        rng = wire.parse_range(request.headers.get("range"), size)
        if rng == "unsatisfiable":
            return range_not_satisfiable(f"Range not satisfiable for a file of {size} bytes", size)
        first, last = rng if isinstance(rng, tuple) else (0, size - 1)
        out = await ctx.run(reconstruction_plan, ctx, request, h, first, last)
    if v == "2":  # the same fetch plan, one signed range per URL (so no multipart/byteranges answers)
        xorbs = {
            name: [
                {"url": fi["url"], "ranges": [{"chunks": fi["range"], "bytes": fi["url_range"]}]}
                for fi in infos
            ]
            for name, infos in out.pop("fetch_info").items()
        }
        out["xorbs"] = xorbs
    return wire.json_response(out)


def reconstruction_plan(ctx: Ctx, request: Request, h: str, first: int, last: int) -> dict[str, Any]:
    """The v1 reconstruction of the file's bytes [first, last] (blocking: run it in a thread)."""
    segs, skip, metas = store(ctx).plan_range(h, first, last)
    return {
        "offset_into_first_range": skip,
        "terms": [
            {"hash": sg.xorb, "unpacked_length": sg.unpacked, "range": {"start": sg.start, "end": sg.end}}
            for sg in segs
        ],
        "fetch_info": fetch_info(ctx, request, segs, metas),
    }


def fetch_info(
    ctx: Ctx, request: Request, segs: list[Segment], metas: dict[str, XorbMeta]
) -> dict[str, list[dict[str, Any]]]:
    """Per xorb, its chunk ranges the segments use (overlapping ones merged), each with a URL to its bytes."""
    spans: dict[str, list[list[int]]] = {}
    for sg in segs:
        spans.setdefault(sg.xorb, []).append([sg.start, sg.end])
    fetch: dict[str, list[dict[str, Any]]] = {}
    for name, rs in spans.items():
        rs.sort()
        merged = [rs[0]]
        for a, b in rs[1:]:
            if a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        m = metas[name]
        fetch[name] = [
            {
                "range": {"start": a, "end": b},
                "url": fetch_url(ctx, request, name, m.start(a), m.ends[b - 1] - 1),
                "url_range": {"start": m.start(a), "end": m.ends[b - 1] - 1},
            }
            for a, b in merged
        ]
    return fetch


async def fetch(ctx: Ctx, request: Request, h: str) -> Response:
    q = request.query_params
    start, end = q.get("start") or "", q.get("end") or ""
    if not ctx.signer.check(q.get("exp"), q.get("sig"), "xorb-range", h, start, end):
        raise Unauthorized("This xorb link is invalid or has expired: ask for a new reconstruction")
    lo, hi = int(start), int(end)
    xorbs = store(ctx).xorbs
    size = await ctx.run(xorbs.size, h)
    if size is None:
        raise NotFound(f"Xorb {h} is not in the store")
    rng = wire.parse_range(request.headers.get("range"), size)
    if rng == "unsatisfiable":
        return range_not_satisfiable("Range not satisfiable", size)
    a, b = rng if isinstance(rng, tuple) else (lo, hi)
    if a < lo or b > hi:
        raise Forbidden(f"Bytes {a}-{b} are outside the range this link grants ({lo}-{hi})")
    headers = {
        "Content-Range": f"bytes {a}-{b}/{size}",
        "Content-Length": str(b - a + 1),
        "Accept-Ranges": "bytes",
    }
    if request.method == "HEAD":
        return Response(b"", status_code=206, headers=headers, media_type="application/octet-stream")

    def body() -> Iterator[bytes]:
        with xorbs.open(h) as fh:
            fh.seek(a)
            left = b - a + 1
            while left > 0:
                data = fh.read(min(PUMP, left))
                if not data:
                    raise OSError(f"xorb {h} is shorter than its metadata says")
                left -= len(data)
                yield data

    return StreamingResponse(body(), status_code=206, headers=headers, media_type="application/octet-stream")
