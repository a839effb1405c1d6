"""The worker pool's supervisor: one per host, inside the server process that holds the pool lease.

Every server process reaches it over a unix socket (front.py), the process that runs it included, so there
is one code path and one pool per host however many server processes (`agora serve --workers N`) there are.

- Workers are fresh interpreters (`python -m agora.inference.worker`): spawned, never forked. They are
  started by one long-lived thread (`_spawner`), because PR_SET_PDEATHSIG fires when the *thread* that
  created the child ends, not only the process.
- Requests go to the worker `crc32(key) % workers` (sticky: a model stays loaded where it was used). Each
  worker runs one request at a time; at most `queue` requests wait for it, past that the answer is
  `overloaded` (503).
- A request past its deadline is answered `timeout` (504) at once; its worker is killed (torch cannot be
  interrupted in-thread) and a new one started in the background. The requests waiting for that worker
  then run on the new one.
- A worker that asks to be recycled (its memory stayed past the cap) is replaced the same way.

Imports nothing heavy, nothing of the database, nothing of HTTP.
"""

from __future__ import annotations

import logging
import os
import queue as queues
import socket
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import protocol

log = logging.getLogger("agora.inference")

START_TIMEOUT = 300.0  # seconds a new worker may take to import torch + transformers (3-5 s when idle)
SECRET_ENV = ("AGORA_", "AWS_", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "PG")


@dataclass(frozen=True)
class PoolConfig:
    """The pool's settings (config.py `InferenceLimits` fills it from AGORA_INFER_*)."""

    workers: int = 1
    threads: int = 2
    timeout: float = 30.0
    queue: int = 16
    max_models: int = 8
    max_rss: int = 0  # bytes; 0: no cap
    test_sleep: float = 0.0
    max_image_pixels: int = 25_000_000  # decoded inputs (handlers.LIMITS)
    max_audio_seconds: float = 60.0


@dataclass
class Proc:
    """One worker slot: its process (None while none runs), its socket, what it has loaded."""

    index: int
    lock: threading.Lock = field(default_factory=threading.Lock)  # one request at a time
    proc: subprocess.Popen[bytes] | None = None
    sock: socket.socket | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    failed: str | None = None  # why the last start failed
    pending: int = 0  # requests running or waiting here
    loaded: frozenset[str] = frozenset()
    starting: bool = False


def worker_env(home: Path) -> dict[str, str]:
    """The worker's environment: no secrets of the server's, no network for the HF libraries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SECRET_ENV)}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HOME=str(home),
        TOKENIZERS_PARALLELISM="false",
    )
    return env


class Supervisor:
    def __init__(self, config: PoolConfig, socket_path: Path, home: Path) -> None:
        self.config = config
        self.path = socket_path
        self.home = home
        self.procs = [Proc(i) for i in range(max(1, config.workers))]
        self.mu = threading.Lock()
        self.spawns: queues.SimpleQueue[Proc] = queues.SimpleQueue()
        self.listener: socket.socket | None = None
        self.conns: set[socket.socket] = set()  # the server processes' open connections
        self.closed = False

    # ---- life ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a dead owner's socket: we hold the lease now
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(self.path))
        os.chmod(self.path, 0o600)
        s.listen(128)
        self.listener = s
        threading.Thread(target=self._spawner, name="infer-spawner", daemon=True).start()
        threading.Thread(target=self._accept, name="infer-accept", daemon=True).start()
        log.info("inference pool supervisor started (pid %d, %d worker(s))", os.getpid(), len(self.procs))

    def close(self) -> None:
        """Stop the workers and the listener (a server's own workers also die with it: PDEATHSIG)."""
        self.closed = True
        if self.listener is not None:
            self.listener.close()
            self.path.unlink(missing_ok=True)
        with self.mu:
            conns = list(self.conns)
        for c in conns:  # the kept connections end too: their next request goes to the next supervisor
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for p in self.procs:
            with p.lock:
                self._stop(p)

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            with self.mu:
                self.conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="infer-conn", daemon=True).start()

    def _spawner(self) -> None:
        """The one thread that starts workers, and lives as long as the process (PDEATHSIG is per thread)."""
        while True:
            p = self.spawns.get()
            try:
                self._spawn(p)
            except Exception as exc:  # a worker that cannot start: its requests get a 503 saying why
                log.exception("inference worker %d failed to start", p.index)
                self._stop(p)
                p.failed = f"The inference worker could not start: {exc}"
            finally:
                p.starting = False
                p.ready.set()

    def _spawn(self, p: Proc) -> None:
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "agora.inference.worker", str(os.getpid()), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env=worker_env(self.home),
                cwd=self.home,
                start_new_session=False,
            )
        finally:
            theirs.close()
        c = self.config
        protocol.send(ours, {"threads": c.threads, "max_models": c.max_models, "max_rss": c.max_rss,
                             "test_sleep": c.test_sleep, "max_image_pixels": c.max_image_pixels,
                             "max_audio_seconds": c.max_audio_seconds})  # fmt: skip
        ours.settimeout(START_TIMEOUT)
        hello = protocol.recv(ours)
        ours.settimeout(None)
        if not hello.get("ready"):
            raise RuntimeError(f"unexpected first frame {hello!r}")
        p.proc, p.sock, p.failed, p.loaded = proc, ours, None, frozenset()
        log.info("inference worker %d started (pid %d)", p.index, proc.pid)

    def _respawn(self, p: Proc) -> None:
        """Kill the worker (if any) and start another in the background."""
        self._stop(p)
        with self.mu:
            if p.starting:
                return
            p.starting = True
            p.ready.clear()
        self.spawns.put(p)

    def _stop(self, p: Proc) -> None:
        if p.proc is not None:
            p.proc.kill()
            p.proc.wait()
        if p.sock is not None:
            p.sock.close()
        p.proc, p.sock, p.loaded = None, None, frozenset()

    def _ensure(self, p: Proc) -> str | None:
        """Start the worker if none runs, and wait for it; the reason it cannot start, or None."""
        if p.proc is not None and p.proc.poll() is None and p.sock is not None:
            return None
        if not p.starting:
            self._respawn(p)
        p.ready.wait(START_TIMEOUT + 10)
        if p.sock is None:
            return p.failed or "The inference worker did not start in time"
        return None

    # ---- requests --------------------------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        """One server process's connection: its requests one after the other, until it closes it (a server
        process keeps its connections open for its next requests: front.py)."""
        with conn:
            try:
                self._requests(conn)
            finally:
                with self.mu:
                    self.conns.discard(conn)

    def _requests(self, conn: socket.socket) -> None:
        while not self.closed:
            try:
                req = protocol.recv(conn)
            except (protocol.Closed, ValueError, OSError):
                return
            if self.closed:
                return
            if req.get("op") == "status":
                key = req.get("key")
                loaded = any(key in p.loaded for p in self.procs)
                ok = _reply(conn, {"loaded": loaded, "workers": self.pids()})
            elif req.get("op") == "run":
                ok = self._run(conn, req)
            else:
                ok = _reply(conn, {"error": f"unknown op {req.get('op')!r}", "kind": "bad_input"})
            if not ok:
                return

    def pids(self) -> list[int]:
        return [p.proc.pid for p in self.procs if p.proc is not None and p.proc.poll() is None]

    def _run(self, conn: socket.socket, req: dict[str, Any]) -> bool:
        """Run `req` on its worker; whether the caller's connection is still good for another request."""
        p = self.procs[zlib.crc32(str(req.get("key")).encode()) % len(self.procs)]
        with self.mu:
            if p.pending >= self.config.queue + 1:
                return _reply(
                    conn,
                    {"error": "Model is overloaded: too many requests are waiting", "kind": "overloaded"},
                )
            p.pending += 1
        try:
            with p.lock:
                why = self._ensure(p)
                if why is not None:
                    return _reply(conn, {"error": why, "kind": "unavailable"})
                return self._exchange(p, conn, req)
        finally:
            with self.mu:
                p.pending -= 1

    def _exchange(self, p: Proc, conn: socket.socket, req: dict[str, Any]) -> bool:
        """Send the request to the worker; relay its frames to the caller until the answer, or the deadline."""
        assert p.sock is not None
        end = time.monotonic() + self.config.timeout
        client_ok = True
        try:
            p.sock.settimeout(self.config.timeout)  # not the last request's leftover
            protocol.send(p.sock, req)
            while True:
                p.sock.settimeout(max(0.001, end - time.monotonic()))
                frame = protocol.recv(p.sock)
                if "chunk" in frame:
                    client_ok = client_ok and _reply(conn, frame)
                    continue
                p.loaded = frozenset(frame.pop("loaded", []))
                if frame.pop("recycle", False):
                    self._respawn(p)
                return _reply(conn, frame) and client_ok
        except TimeoutError:
            ok = _reply(
                conn, {"error": f"The model took longer than {self.config.timeout:g} s", "kind": "timeout"}
            )
            log.warning("inference worker %d ran past the deadline: killed, restarting", p.index)
            self._respawn(p)
        except (protocol.Closed, OSError, ValueError):
            ok = _reply(
                conn, {"error": "The inference worker died while running the model", "kind": "unavailable"}
            )
            log.warning("inference worker %d died: restarting", p.index)
            self._respawn(p)
        return ok and client_ok


def _reply(conn: socket.socket, frame: dict[str, Any]) -> bool:
    """Send to the caller; a caller that went away is no error (the worker's frames are still read)."""
    try:
        protocol.send(conn, frame)
        return True
    except OSError:
        return False
