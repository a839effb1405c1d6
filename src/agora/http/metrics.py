"""Byte counters: how many body bytes each server process received and sent.

With an S3 blob store the bytes of LFS objects go between the client and S3 directly; these counters are
how an operator (and the scale tests) see that they never passed through Agora. Each process keeps its
own counters and a background thread writes them to `<data>/metrics/<host>-<pid>.json` within FLUSH
seconds of a change (a file write per request cost more than a listing), so that `GET /api/agora/metrics`,
answered by any one process, can add up all of them: it waits for one more flush first.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import wire
from .routing import Router

FIELDS = ("requests", "bytes_in", "bytes_out")
FLUSH = 0.2


class Counters:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{socket.gethostname()}-{os.getpid()}.json"
        self.values = dict.fromkeys(FIELDS, 0)
        self.dirty = threading.Event()
        self.save()
        threading.Thread(target=self._flusher, name="agora-metrics", daemon=True).start()

    def _flusher(self) -> None:
        while True:
            self.dirty.wait()
            self.dirty.clear()
            try:
                self.save()
            except OSError:
                pass
            time.sleep(FLUSH)

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.values))
        os.replace(tmp, self.path)

    def total(self) -> dict[str, Any]:
        out = dict.fromkeys(FIELDS, 0)
        procs = 0
        for p in self.folder.glob("*.json"):
            try:
                vals = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            procs += 1
            for k in FIELDS:
                out[k] += int(vals.get(k, 0))
        return {**out, "processes": procs}


class Metered:
    """ASGI wrapper counting request and response body bytes of every HTTP request."""

    def __init__(self, app: ASGIApp, counters: Counters) -> None:
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        vals = self.counters.values

        async def counted_receive() -> Message:
            msg = await receive()
            if msg["type"] == "http.request":
                vals["bytes_in"] += len(msg.get("body", b""))
            return msg

        async def counted_send(msg: Message) -> None:
            if msg["type"] == "http.response.body":
                vals["bytes_out"] += len(msg.get("body", b""))
            elif msg["type"] == "http.response.pathsend":  # FileResponse on a server that sends files itself
                try:
                    vals["bytes_out"] += os.path.getsize(msg["path"])
                except OSError:
                    pass
            await send(msg)

        vals["requests"] += 1
        try:
            await self.app(scope, counted_receive, counted_send)
        finally:
            self.counters.dirty.set()


def mount(router: Router, ctx: Any) -> None:
    async def metrics(request: Request) -> Response:
        counters: Counters | None = getattr(ctx, "counters", None)
        if counters is None:
            return wire.json_response({})
        await asyncio.sleep(3 * FLUSH)  # every process has written what it counted before this request
        return wire.json_response(await ctx.run(counters.total))

    router.add("GET", "/api/agora/metrics", metrics)
