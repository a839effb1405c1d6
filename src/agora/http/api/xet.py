"""Native Xet: the token endpoints of the Hub API and the CAS API under /cas.

Tokens are HMAC-signed, expiring capabilities naming one repo and a scope (read / write); the CAS API
trusts nothing else. Reconstructions (v1, and v2 with one range per URL) hand out signed, expiring URLs
to byte ranges of xorbs, which /cas/fetch serves with HTTP Range.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...errors import BadRequest, Forbidden, NotFound, TooLarge, Unauthorized
from ...storage.xet.shard import MAX_SHARD
from ...storage.xet.xorb import MAX_XORB
from .. import wire
from ..routing import ID, Router
from .common import T, rid_api

log = logging.getLogger("agora.xet")
CAS = "/cas"
TOKEN_TTL = 3600
URL_TTL = 3600
PUMP = 1024 * 1024
H = r"(?P<h>[0-9a-fA-F]{64})"


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub
    xet = hub.xet
    signer = ctx.signer

    def base(request: Request) -> str:
        return wire.base_url(request, ctx.settings.public_url)

    # ---- tokens -----------------------------------------------------------------------------------
    def make_token(repo_id: int, scope: str) -> tuple[str, int]:
        exp, sig = signer.sign("xet-token", scope, str(repo_id), ttl=TOKEN_TTL)
        return f"xet1.{scope}.{repo_id}.{exp}.{sig}", int(exp)

    def token_repo(request: Request, write: bool) -> int:
        """The repo id a CAS request's Bearer token grants, or 401 / 403."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        parts = value.strip().split(".")
        if scheme.lower() != "bearer" or len(parts) != 5 or parts[0] != "xet1" or not parts[2].isdigit():
            raise Unauthorized("A Xet access token is required (GET /api/{type}/{id}/xet-read-token/{rev})")
        _, scope, repo_id, exp, sig = parts
        if scope not in ("read", "write") or not signer.check(exp, sig, "xet-token", scope, repo_id):
            raise Unauthorized("The Xet access token is invalid or has expired")
        if write and scope != "write":
            raise Forbidden("This operation needs a Xet write token")
        return int(repo_id)

    async def token(request: Request, t: str, ns: str, name: str, kind: str, rev: str) -> Response:
        who = await ctx.who(request)
        write = kind == "write"

        def do() -> int:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name), write=write)
            if not (write and rev == "None"):  # create_commit(create_pr=True) sends the literal None
                hub.resolve(repo, rev)
            return repo.id

        repo_id = await ctx.run(do)
        tok, exp = make_token(repo_id, kind)
        cas = f"{base(request)}{CAS}"
        headers = {
            "X-Xet-Cas-Url": cas,
            "X-Xet-Access-Token": tok,
            "X-Xet-Token-Expiration": str(exp),
            "Access-Control-Expose-Headers": "X-Xet-Cas-Url,X-Xet-Access-Token,X-Xet-Token-Expiration",
        }
        return wire.json_response({"accessToken": tok, "exp": exp, "casUrl": cas}, headers=headers)

    # ---- CAS: upload ------------------------------------------------------------------------------
    def check_length(request: Request, limit: int) -> None:
        n = request.headers.get("content-length")
        if n and n.isdigit() and int(n) > limit:
            raise TooLarge(f"Body of {n} bytes exceeds the {limit} byte limit")

    async def xorb_upload(request: Request, prefix: str, h: str) -> Response:
        token_repo(request, write=True)
        check_length(request, MAX_XORB)
        up = xet.new_xorb_upload(h.lower())
        try:
            await ctx.pump(request, up.write)
            inserted = await ctx.run(up.finish)
        except BaseException:
            up.abort()
            raise
        log.info("xorb %s: %d bytes, inserted=%s", h[:12], up.size, inserted)
        return wire.json_response({"was_inserted": inserted})

    async def shard_upload(request: Request) -> Response:
        repo_id = token_repo(request, write=True)
        check_length(request, MAX_SHARD)
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > MAX_SHARD:
                raise TooLarge(f"Shard exceeds {MAX_SHARD} bytes")
        try:
            result = await ctx.run(xet.accept_shard, repo_id, bytes(body))
        except BadRequest as e:
            log.warning("shard rejected for repo %s: %s", repo_id, e.message)
            raise
        return wire.json_response({"result": result})

    async def not_here(request: Request, **_: str) -> Response:
        # xorb-grants and the v2 (streaming) shard upload: the client falls back to the v1 routes.
        return wire.error(404, "NotFound", f"{request.url.path} is not implemented by this server")

    # ---- CAS: dedup and download ------------------------------------------------------------------
    async def chunk(request: Request, prefix: str, h: str) -> Response:
        token_repo(request, write=False)
        data = await ctx.run(xet.dedup_shard, h.lower())
        if data is None:
            return wire.error(404, "NotFound", "Chunk not tracked by global deduplication")
        return Response(data, media_type="application/octet-stream")

    def fetch_url(request: Request, xorb: str, start: int, end: int) -> str:
        direct = xet.xorbs.presigned_get(xorb)  # S3: the client reads the xorb range from the store
        if direct is not None:
            return direct
        exp, sig = signer.sign("xorb-range", xorb, str(start), str(end), ttl=URL_TTL)
        query = urlencode({"start": start, "end": end, "exp": exp, "sig": sig})
        return f"{base(request)}{CAS}/fetch/{xorb}?{query}"

    async def reconstruction(request: Request, h: str, v: str) -> Response:
        repo_id = token_repo(request, write=False)
        h = h.lower()
        header = request.headers.get("range")

        def do() -> dict[str, Any] | int:
            with hub.db.session() as s:
                xf = xet.repo_file(s, repo_id, h)
                if xf is None:
                    raise NotFound(f"File {h} not found")
                if xf.size == 0:
                    return {"offset_into_first_range": 0, "terms": [], "fetch_info": {}}
                rng = wire.parse_range(header, xf.size)
                if rng == "unsatisfiable":
                    return xf.size
                first, last = rng if isinstance(rng, tuple) else (0, xf.size - 1)
                segs, skip, metas = xet.plan(s, xf, first, last)
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
                        "url": fetch_url(request, name, m.start(a), m.ends[b - 1] - 1),
                        "url_range": {"start": m.start(a), "end": m.ends[b - 1] - 1},
                    }
                    for a, b in merged
                ]
            return {
                "offset_into_first_range": skip,
                "terms": [
                    {
                        "hash": sg.xorb,
                        "unpacked_length": sg.unpacked,
                        "range": {"start": sg.start, "end": sg.end},
                    }
                    for sg in segs
                ],
                "fetch_info": fetch,
            }

        out = await ctx.run(do)
        if isinstance(out, int):
            return wire.error(
                416,
                "RangeNotSatisfiable",
                f"Range not satisfiable for a file of {out} bytes",
                headers={"Content-Range": f"bytes */{out}"},
            )
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

    async def fetch(request: Request, h: str) -> Response:
        q = request.query_params
        start, end = q.get("start") or "", q.get("end") or ""
        if not signer.check(q.get("exp"), q.get("sig"), "xorb-range", h, start, end):
            raise Unauthorized("This xorb link is invalid or has expired: ask for a new reconstruction")
        lo, hi = int(start), int(end)
        size = await ctx.run(xet.xorbs.size, h)
        if size is None:
            raise NotFound(f"Xorb {h} is not in the store")
        rng = wire.parse_range(request.headers.get("range"), size)
        if rng == "unsatisfiable":
            return wire.error(
                416,
                "RangeNotSatisfiable",
                "Range not satisfiable",
                headers={"Content-Range": f"bytes */{size}"},
            )
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
            with xet.xorbs.open(h) as fh:
                fh.seek(a)
                left = b - a + 1
                while left > 0:
                    data = fh.read(min(PUMP, left))
                    if not data:
                        raise OSError(f"xorb {h} is shorter than its metadata says")
                    left -= len(data)
                    yield data

        return StreamingResponse(
            body(), status_code=206, headers=headers, media_type="application/octet-stream"
        )

    router.add("GET", f"/api/{T}/{ID}/xet-(?P<kind>read|write)-token/(?P<rev>[^/]+)", token)
    router.add("GET", rf"{CAS}/v1/chunks/(?P<prefix>[^/]+)/{H}", chunk)
    router.add("POST", rf"{CAS}/v1/xorbs/(?P<prefix>[^/]+)/{H}", xorb_upload)
    router.add("POST", rf"{CAS}/v1/xorb-grants/.*", not_here)
    router.add("POST", rf"{CAS}/v1/shards", shard_upload)
    router.add("POST", rf"{CAS}/v2/shards", not_here)
    router.add("GET", rf"{CAS}/v(?P<v>[12])/reconstructions/{H}", reconstruction)
    router.add("GET", rf"{CAS}/fetch/(?P<h>[0-9a-f]{{64}})", fetch)
