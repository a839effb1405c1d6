"""The reverse proxy from a Space's public app address to its running app's unix socket.

HTTP (with bodies and answers streamed both ways, so server-sent events pass as they come: Gradio's queue)
and WebSocket (Streamlit's one connection) are forwarded. What crosses, and what does not:
- Never to the app: the visitor's `Cookie` and `Authorization` (the Hub's session and tokens), hop-by-hop
  headers, and whatever forwarding headers the visitor sent. Added: `X-Forwarded-Proto`, `-For`, `-Prefix`
  and `X-Gradio-Server`, the app's public root as this visitor reached it (a private Space's capability
  segment included): Gradio builds every URL it hands out from it.
- Never from the app: `Set-Cookie` (an app on the Hub's origin could otherwise set Hub cookies), hop-by-hop
  headers. Added: the app's headers (`api/spaces.space_headers`: on the Hub's origin, its own opaque origin).
- Paths: the app serves under `Upstream.mount` (Gradio: `/`; Streamlit: its baseUrlPath, the Hub's app
  prefix, or `/` on a Space host of its own); the public path after the app's root is appended to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..errors import TooLarge, Unavailable

log = logging.getLogger("agora.spaces")
HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
NEVER_TO_APP = HOP | {"cookie", "authorization", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-for",
                      "x-forwarded-prefix", "forwarded", "x-gradio-server"}  # fmt: skip
NEVER_FROM_APP = HOP | {"set-cookie", "content-security-policy", "x-frame-options", "access-control-allow-origin",
                        "access-control-allow-credentials"}  # fmt: skip
APP_HOST = "127.0.0.1:7860"  # what the app sees as its Host (inside its sandbox it listens there)
MAX_BODY = 512 * 1024 * 1024  # bytes of a request body sent to an app (a file given to a Gradio app)


@dataclass(frozen=True)
class Upstream:
    """Where a running Space's app answers, and how it wants its paths."""

    socket: str  # the unix socket its sandbox's shim listens on
    mount: str  # the path the app serves under: "/" or Streamlit's baseUrlPath ("/spaces/a/b/app/")


def upstream_path(up: Upstream, path: str, query: str) -> str:
    return up.mount.rstrip("/") + "/" + path + (f"?{query}" if query else "")


def forwarded(headers: list[tuple[bytes, bytes]], scope: Scope, root: str) -> list[tuple[str, str]]:
    """The visitor's headers as the app gets them: no Hub credentials; `root`, the app's public address
    as this visitor reached it (no trailing slash), said."""
    out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
    client = (scope.get("client") or ("", 0))[0]
    kept = [(k, v) for k, v in out if k.lower() not in NEVER_TO_APP]
    # no X-Forwarded-Host: Gradio would build its root from it alone, losing the path
    return [*kept, ("host", APP_HOST), ("x-gradio-server", root),
            ("x-forwarded-proto", urlsplit(root).scheme or "http"), ("x-forwarded-for", client),
            ("x-forwarded-prefix", urlsplit(root).path)]  # fmt: skip


class Proxy:
    """One per server process: an HTTP client per app socket, kept for the next requests."""

    def __init__(self) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}

    def client(self, socket: str) -> httpx.AsyncClient:
        c = self._clients.get(socket)
        if c is None or c.is_closed:
            transport = httpx.AsyncHTTPTransport(uds=socket, retries=0)
            timeout = httpx.Timeout(connect=10.0, read=None, write=60.0, pool=30.0)
            # no cookie jar: a cookie one visitor's answer set must never ride along another visitor's request
            jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
            c = httpx.AsyncClient(
                transport=transport, timeout=timeout, base_url=f"http://{APP_HOST}", cookies=jar
            )
            self._clients[socket] = c
        return c

    async def http(
        self, request: Request, up: Upstream, root: str, path: str, headers: dict[str, str]
    ) -> Response:
        """Forward the request; the answer streams back as the app sends it (SSE included)."""
        url = upstream_path(up, path, request.url.query)
        body = _bounded(request) if request.method not in ("GET", "HEAD") else None
        req = self.client(up.socket).build_request(
            request.method,
            url,
            headers=forwarded(request.scope["headers"], request.scope, root),
            content=body,
        )
        try:
            answer = await self.client(up.socket).send(req, stream=True)
        except (httpx.ConnectError, httpx.RemoteProtocolError, OSError) as exc:
            raise Unavailable(f"The Space's app is not answering ({type(exc).__name__}): try again") from None
        out = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in NEVER_FROM_APP]
        out += list(headers.items())
        if "event-stream" in answer.headers.get("content-type", ""):
            out.append(("x-accel-buffering", "no"))
        return StreamingResponse(_relay(answer), status_code=answer.status_code, headers=dict(out))

    async def close(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()


async def _bounded(request: Request) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_BODY:
            raise TooLarge(f"A request to a Space's app is at most {MAX_BODY // 2**20} MiB")
        yield chunk


async def _relay(answer: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.aiter_raw():
            yield chunk
    finally:  # also when the visitor went away: the app's stream is closed
        await answer.aclose()


# ---- WebSocket ------------------------------------------------------------------------------------------
async def websocket(scope: Scope, receive: Receive, send: Send, up: Upstream, path: str) -> None:
    """Relay one WebSocket (Streamlit's) between the visitor and the app, both ways, until either closes."""
    from websockets.asyncio.client import unix_connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    first = await receive()
    if first["type"] != "websocket.connect":
        return
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"ws://{APP_HOST}{upstream_path(up, path, query)}"
    headers = [(k, v) for k, v in forwarded(scope["headers"], scope, "")
               if not k.lower().startswith("sec-websocket") and k.lower() not in ("host", "origin")]  # fmt: skip
    protocols = [p.strip() for p in _header(scope, "sec-websocket-protocol").split(",") if p.strip()]
    try:
        app = await unix_connect(
            up.socket, url, additional_headers=headers, subprotocols=protocols or None,
            ping_interval=None, max_size=16 * 2**20, origin=None,
        )  # fmt: skip
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        log.info("a Space's app refused a WebSocket (%s): %s", up.socket, exc)
        await send({"type": "websocket.close", "code": 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": app.subprotocol})

    async def to_app() -> None:
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("bytes") if msg.get("bytes") is not None else msg.get("text")
            if data is not None:
                await app.send(data)

    async def to_visitor() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for data in app:
                kind = "bytes" if isinstance(data, bytes) else "text"
                await send({"type": "websocket.send", kind: data})

    tasks = [asyncio.ensure_future(to_app()), asyncio.ensure_future(to_visitor())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await app.close()
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1000})


def _header(scope: Scope, name: str) -> str:
    key = name.encode()
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == key), "")
