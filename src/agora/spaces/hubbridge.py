"""The Hub bridge's outer end: a Space reaches the Hub, and nothing else, through a unix socket.

Inside the sandbox the shim listens on 127.0.0.1:7850 (the Space's HF_ENDPOINT) and pipes each connection
to `hub.sock`, a socket in a folder of its own bound read-only into the sandbox. Here, outside, in the
server process that supervises the Space, `HubBridge` listens on that socket and pipes each connection to
the Hub's own listening address, given by the caller:

- It only ever connects to that address: no byte the Space sends chooses where a connection goes (it is
  not a proxy: an absolute URL or a CONNECT request reaches the Hub, which answers it as the Hub).
- Bytes pass unchanged both ways (HTTP keep-alive, streamed downloads): nothing is added, so the Space is
  an anonymous visitor unless its own code sends a token (a secret its owner set); nothing of the server's
  or a visitor's credentials is ever in the stream.
- At most `max_connections` at once per Space; past them a new connection is closed at once.
- When the Hub listens on 127.0.0.1, each Space connects from a loopback address of its own
  (`source_address`: 127.x.y.z from its uid), so the Hub tells Spaces apart by client IP (per-IP limits)
  and none of them is 127.0.0.1, the address an operator may trust for `X-Forwarded-For`.
- One bridge per running sandbox, closed when the sandbox ends (its connections too).

All bridges of a process share one event loop, in a daemon thread of its own.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from .shim import pipe

T = TypeVar("T")


@cache
def _loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="spaces-hub-bridge", daemon=True).start()
    return loop


def _call(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coro, _loop()).result(timeout=30)


def source_address(uid: int) -> str:
    """A loopback address of the Space of `uid`'s own, never 127.0.0.1: 127.x.y.z from the uid's low 24
    bits (127.0.0.2 when those would give 127.0.0.0, 127.0.0.1 or 127.255.255.255)."""
    n = uid & 0xFFFFFF
    if n < 2 or n == 0xFFFFFF:
        n = 2
    return f"127.{n >> 16}.{(n >> 8) & 255}.{n & 255}"


class HubBridge:
    """Listens on the unix socket `path` (created here, connectable by `uid` only) and pipes every
    connection to `target`, the Hub's (host, port)."""

    def __init__(
        self,
        path: Path,
        target: tuple[str, int],
        uid: int,
        max_connections: int = 32,
        source: str | None = None,
    ) -> None:
        self.path = path
        self.target = target
        self.local_addr = (source, 0) if source else None
        self.max_connections = max_connections
        self.connections = 0  # open now (touched only in the loop's thread)
        self.writers: set[asyncio.StreamWriter] = set()
        path.unlink(missing_ok=True)
        self.server = _call(asyncio.start_unix_server(self._serve, path=str(path)))
        os.chown(path, uid, uid)
        path.chmod(0o600)

    async def _serve(self, space_r: asyncio.StreamReader, space_w: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            space_w.close()
            return
        self.connections += 1
        try:
            hub_r, hub_w = await asyncio.open_connection(*self.target, local_addr=self.local_addr)
        except OSError:
            self.connections -= 1
            space_w.close()  # the Hub does not answer: the app sees its connection close
            return
        pair = (space_w, hub_w)
        self.writers.update(pair)
        try:
            await asyncio.gather(pipe(space_r, hub_w), pipe(hub_r, space_w))
        finally:
            self.connections -= 1
            for w in pair:
                w.close()
                self.writers.discard(w)

    def close(self) -> None:
        """Stop listening, end every connection, remove the socket."""
        _call(self._close())
        self.path.unlink(missing_ok=True)

    async def _close(self) -> None:
        self.server.close()
        for w in list(self.writers):
            w.close()
