"""What a server process uses to run a model: `InferencePool`, the small interface http/ calls.

One pool per host: the first server process to take the lease (an flock on `<data>/infer/pool.lock`)
runs the supervisor (pool.py) and listens on `<data>/infer/pool.sock`; every server process, that one
included, sends its requests there. The lease is held for the process's life; when its owner dies the
kernel releases it, the socket refuses connections, and the next process that needs the pool takes the
lease and starts a supervisor of its own (the dead owner's workers died with it: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import struct
import tempfile
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from ..errors import BadRequest, GatewayTimeout, HubError, TooLarge, Unavailable
from . import protocol
from .pool import PoolConfig, Supervisor

NOT_INSTALLED = (
    "Inference is not enabled on this server: install it with pip install 'agora-hub[inference]' "
    "(torch, CPU build) and restart"
)
CONNECT_WAIT = 30.0  # seconds to wait for another process's supervisor to come up
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
IDLE = 16  # connections to the supervisor a server process keeps open for its next requests


@functools.cache
def installed() -> bool:
    """Whether this Python has what the workers import (the `inference` extra). Asked once per process:
    the import system's search costs ~0.3 ms, a third of a request's own time on the server."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))
    except (ImportError, ValueError):
        return False


def socket_path(folder: Path) -> Path:
    """`<folder>/pool.sock`; a unix socket path has at most 107 bytes, so a deep data folder gets a
    private folder under /tmp named by the data folder's hash."""
    p = folder / "pool.sock"
    if len(os.fsencode(p)) <= 100:
        return p
    h = hashlib.sha256(os.fsencode(folder.resolve())).hexdigest()[:16]
    alt = Path(tempfile.gettempdir()) / f"agora-infer-{h}"
    alt.mkdir(mode=0o700, exist_ok=True)
    return alt / "pool.sock"


class InferencePool:
    """The host's pool, seen from one server process. Cheap to build: nothing starts before the first use."""

    def __init__(self, folder: Path, config: PoolConfig) -> None:
        self.folder = folder
        self.config = config
        self.path = socket_path(folder)
        self.supervisor: Supervisor | None = None
        self._lease: int | None = None
        self._mu = threading.Lock()
        # open connections to the supervisor, each done with its last request (one event loop per process:
        # a connection is used by the loop that opened it only)
        self._idle: list[tuple[asyncio.AbstractEventLoop, Conn]] = []

    def lead(self) -> bool:
        """Take the lease if nobody holds it, and start the supervisor: True if this process runs it."""
        with self._mu:
            if self.supervisor is not None:
                return True
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / "pool.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            sup = Supervisor(self.config, self.path, self.folder / "home")
            sup.start()
            self._lease, self.supervisor = fd, sup
            return True

    def close(self) -> None:
        """Stop the supervisor if this process runs it, and give the lease up."""
        with self._mu:
            self._drop_idle()
            if self.supervisor is not None:
                self.supervisor.close()
                self.supervisor = None
            if self._lease is not None:
                os.close(self._lease)
                self._lease = None

    async def _connect(self) -> Conn:
        """An idle connection of this event loop, else a new one (starting the supervisor if none runs)."""
        loop = asyncio.get_running_loop()
        while self._idle:
            owner, conn = self._idle.pop()
            if owner is loop and not conn[1].is_closing():
                return conn
            _close(conn)
        end = time.monotonic() + CONNECT_WAIT
        while True:
            try:
                return await asyncio.open_unix_connection(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError):
                if await asyncio.to_thread(self.lead):
                    continue
                if time.monotonic() > end:
                    raise Unavailable("The inference pool is not answering: try again") from None
                await asyncio.sleep(0.05)

    async def frames(self, request: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """The supervisor's frames for `request`: stream chunks (`{"chunk": …}`), then the answer.

        The connection is kept for the next request once the answer is read (not when the caller stops
        reading a stream early: frames may still be on their way). A supervisor that dies before its first
        frame (its process was killed: a dying process may still accept a connection; or a kept connection
        was to a supervisor that has since gone) is retried, at most 3 times, on new connections:
        inference changes nothing, so running a request twice is harmless; the retry finds the lease free
        and takes it."""
        for attempt in range(3):
            reader, writer = await self._connect()
            done = False
            try:
                writer.write(protocol.encode(request))
                await writer.drain()
                frame = await _read(reader)
                if frame is None:
                    raise protocol.Closed("no answer")  # retried below
                while "chunk" in frame:
                    yield frame
                    frame = await _read(reader)
                    if frame is None:  # mid-stream: too late to run it again
                        raise Unavailable(GONE)
                done = True
                self._keep((reader, writer))
                yield frame
                return
            except (ConnectionError, protocol.Closed):
                self._drop_idle()  # they went to the same supervisor
                if attempt == 2:
                    raise Unavailable(GONE) from None
                await asyncio.sleep(0.1 * attempt)
            finally:
                if not done:
                    writer.close()

    def _keep(self, conn: Conn) -> None:
        if len(self._idle) < IDLE:
            self._idle.append((asyncio.get_running_loop(), conn))
        else:
            _close(conn)

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for _, conn in idle:
            _close(conn)

    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to a request that does not stream."""
        async with contextlib.aclosing(self.frames(request)) as frames:
            async for frame in frames:
                if "chunk" not in frame:
                    return frame
        raise Unavailable("The inference pool gave no answer")

    async def status(self, key: str) -> dict[str, Any]:
        return await self.run({"op": "status", "key": key})


def _close(conn: Conn) -> None:
    try:
        conn[1].close()
    except RuntimeError:  # its event loop is closed already (a test's asyncio.run): the socket went with it
        pass


GONE = "The inference pool went away (a server process restarted): try again"


async def _read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame; None if the pool went away."""
    try:
        (n,) = struct.unpack(">I", await reader.readexactly(4))
        return protocol.decode(await reader.readexactly(n))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def check(frame: dict[str, Any]) -> dict[str, Any]:
    """The answer frame, or the domain error it carries (http/wire.py gives it its status)."""
    if "error" not in frame:
        return frame
    msg, kind = str(frame["error"]), frame.get("kind")
    err: HubError
    if kind == "timeout":
        err = GatewayTimeout(msg)
    elif kind in ("overloaded", "unavailable"):
        err = Unavailable(msg)
    elif kind == "too_large":
        err = TooLarge(msg)
    else:
        err = BadRequest(msg)
    raise err
