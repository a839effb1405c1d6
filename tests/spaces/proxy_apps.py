"""Two small real ASGI apps for tests/spaces/test_proxy.py, each served by granian: `upstream`, a stand-in
for a Space's app on a unix socket (headers echoed, a cookie set, server-sent events, a WebSocket echo), and
`front`, which serves `/spaces/alice/demo/app/…` through http/spaces_proxy.py as the Hub does."""

from __future__ import annotations

import asyncio
import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from agora.http.spaces_proxy import Proxy, Upstream, websocket


async def echo(request: Request) -> Response:
    body = await request.body()
    data = {"path": request.url.path, "query": request.url.query, "method": request.method,
            "headers": dict(request.headers), "body_length": len(body)}  # fmt: skip
    r = JSONResponse(data)
    r.set_cookie("session", "from-the-app")
    return r


async def sse(request: Request) -> Response:
    async def events():  # type: ignore[no-untyped-def]
        for i in range(3):
            yield f"data: {json.dumps({'i': i})}\n\n".encode()
            await asyncio.sleep(0.3)

    return StreamingResponse(events(), media_type="text/event-stream")


async def ws(socket: WebSocket) -> None:
    await socket.accept(subprotocol=(socket.scope.get("subprotocols") or [None])[0])
    await socket.send_text("hello " + socket.url.path)
    while True:
        msg = await socket.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            await socket.send_text("echo " + msg["text"])
        elif msg.get("bytes") is not None:
            await socket.send_bytes(msg["bytes"][::-1])


upstream = Starlette(
    routes=[
        Route("/sse", sse),
        Route("/{path:path}", echo, methods=["GET", "POST", "HEAD"]),
        WebSocketRoute("/{path:path}", ws),
    ]  # fmt: skip
)

PREFIX = "/spaces/alice/demo/app/"
UP = Upstream(os.environ.get("TEST_UPSTREAM", "/nonexistent.sock"), PREFIX if os.environ.get("KEEP") else "/")
proxy = Proxy()


async def front(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if not path.startswith(PREFIX):
        await Response("not here", status_code=404)(scope, receive, send)
        return
    rest = path[len(PREFIX) :]
    if scope["type"] == "websocket":
        await websocket(scope, receive, send, UP, rest)
        return
    host = dict(scope["headers"]).get(b"host", b"").decode()
    root = f"http://{host}{PREFIX}".rstrip("/")
    response = await proxy.http(Request(scope, receive), UP, root, rest, {"x-sandboxed": "yes"})
    await response(scope, receive, send)
