"""Byte counters: how many body bytes each server process received and sent.

With an S3 blob store the bytes of LFS objects go between the client and S3 directly; these counters are
how an operator (and the scale tests) see that they never passed through Agora. Each process keeps its
own counters and a background thread writes them to `<data>/metrics/<host>-<pid>.json` within FLUSH
seconds of a change (a file write per request cost more than a listing), so that `GET /api/agora/metrics`,
answered by any one process, can add up all of them: it waits for one more flush first. The files of
processes that have ended are folded into one `retired.json` total (and removed) when a sum is asked for,
so they do not pile up.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import disk_full
from . import wire

if TYPE_CHECKING:
    from .context import Ctx

FIELDS = ("requests", "bytes_in", "bytes_out")
FLUSH = 0.2
RETIRED = "retired.json"  # the counts of processes that have ended, added up (see Counters._retire)
log = logging.getLogger("agora.metrics")


class Counters:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.host = socket.gethostname()
        self.path = folder / f"{self.host}-{os.getpid()}.json"
        self.values = dict.fromkeys(FIELDS, 0)
        self.dirty = threading.Event()
        with self._locked():
            if (
                self.path.exists()
            ):  # left by an earlier process with our pid: its counts are kept, not overwritten
                self._retire([self.path])
            self.save()
        threading.Thread(target=self._flusher, name="agora-metrics", daemon=True).start()

    def _flusher(self) -> None:
        while True:
            self.dirty.wait()
            self.dirty.clear()
            try:
                self.save()
            except OSError as exc:  # a full disk: one line a second, not a traceback
                log.warning(
                    "could not write the byte counters to %s: %s", self.path, exc, exc_info=not disk_full(exc)
                )
            time.sleep(FLUSH)

    def save(self) -> None:
        _write_json(self.path, self.values)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time folds and sums the files (flock: every process of this host)."""
        with open(self.folder / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _dead(self, p: Path) -> bool:
        """A counter file of a process of this host that no longer runs (other hosts' are left alone)."""
        host, _, pid = p.stem.rpartition("-")
        if host != self.host or not pid.isdigit() or int(pid) == os.getpid():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _retire(self, files: list[Path]) -> None:
        """Add the counts of finished processes to RETIRED and remove their files, so that the files do not
        pile up while their counts stay in the total. Called with the lock held."""
        retired = _read_counts(self.folder / RETIRED) or dict.fromkeys(FIELDS, 0)
        for p in files:
            vals = _read_counts(p)
            if vals is not None:
                for k in FIELDS:
                    retired[k] = retired.get(k, 0) + vals[k]
        _write_json(self.folder / RETIRED, retired)
        for p in files:
            p.unlink(missing_ok=True)

    def total(self) -> dict[str, Any]:
        with self._locked():
            files = [p for p in self.folder.glob("*.json") if p.name != RETIRED]
            dead = [p for p in files if self._dead(p)]
            if dead:
                self._retire(dead)
            out = _read_counts(self.folder / RETIRED) or dict.fromkeys(FIELDS, 0)
            procs = 0
            for p in files:
                if p in dead:
                    continue
                vals = _read_counts(p)
                if vals is None:
                    continue
                procs += 1
                for k in FIELDS:
                    out[k] += vals[k]
        return {**out, "processes": procs}


def _read_counts(p: Path) -> dict[str, int] | None:
    try:
        vals = json.loads(p.read_text())
        return {k: int(vals.get(k, 0)) for k in FIELDS}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError, TypeError):
        log.warning("unreadable byte counter file %s", p, exc_info=True)
        return None


def _write_json(path: Path, values: dict[str, int]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values))
    os.replace(tmp, path)


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


async def metrics(ctx: Ctx, request: Request) -> Response:
    counters = ctx.counters
    if counters is None:
        return wire.json_response({})
    await asyncio.sleep(3 * FLUSH)  # every process has written what it counted before this request
    return wire.json_response(await ctx.run(counters.total))
