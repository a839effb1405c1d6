"""An inference worker: `python -m agora.inference.worker <parent pid> <fd>`, started by the pool (pool.py).

A fresh interpreter (never a fork of a server: torch and threads do not survive fork), with stdin on
/dev/null, HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1, killed by the kernel when its parent dies
(PR_SET_PDEATHSIG). It answers one request at a time over the socket it was given (protocol.py frames),
keeps an LRU of loaded handlers keyed by (repo, commit, task), and after each request checks its resident
memory: past the cap it drops loaded models, and if that is not enough it asks to be recycled.

It never imports the database, SQLAlchemy or the HTTP layer (import-linter checks it): it sees only the
read-only snapshot folders the server materialised.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import socket
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from . import protocol

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


class Worker:
    def __init__(self, sock: socket.socket, config: dict[str, Any]) -> None:
        self.sock = sock
        self.max_models = int(config.get("max_models", 8))
        self.max_rss = int(config.get("max_rss", 0))
        self.test_sleep = float(config.get("test_sleep", 0))
        self.loaded: OrderedDict[str, Any] = OrderedDict()  # key -> Handler, least recently used first

    def handler(self, key: str, path: Path, task: str | None) -> tuple[str, Any]:
        from . import handlers

        got = self.loaded.get(key)
        if got is not None:
            self.loaded.move_to_end(key)
            return got  # type: ignore[no-any-return]
        while len(self.loaded) >= self.max_models:
            self.loaded.popitem(last=False)
            trim()
        made = handlers.make(path, task)
        self.loaded[key] = made
        return made

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        from . import handlers

        started = time.monotonic()
        stream = bool(req.get("stream"))

        def emit(event: dict[str, Any]) -> None:
            protocol.send(self.sock, {"chunk": event})

        try:
            task, h = self.handler(req["key"], Path(req["path"]), req.get("task"))
            if self.test_sleep and req.get("inputs") == "agora-test-sleep":
                time.sleep(self.test_sleep)  # the test suite's deadline overrun (AGORA_INFER_TEST_SLEEP)
            if stream and task != "text-generation":
                raise handlers.BadInput("Streaming is only available for text-generation")
            out = h(req.get("inputs"), req.get("parameters") or {}, emit if stream else None)
        except handlers.BadInput as exc:
            return {"error": str(exc), "kind": "bad_input"}
        except handlers.Refused as exc:
            return {"error": str(exc), "kind": "refused"}
        except Exception as exc:  # a model that fails on an input is the input's 400, not the server's 500
            return {
                "error": f"The model could not run on this input: {handlers.short(exc)}",
                "kind": "bad_input",
            }
        return {"ok": out, "task": task, "compute_time": round(time.monotonic() - started, 4)}

    def after(self, answer: dict[str, Any], key: str) -> None:
        """Memory: past the cap, drop every model but the one just used; still past it, be recycled."""
        if self.max_rss and rss_bytes() > self.max_rss:
            for k in list(self.loaded):
                if k != key:
                    del self.loaded[k]
            trim()
            if rss_bytes() > self.max_rss:
                answer["recycle"] = True
        answer["loaded"] = list(self.loaded)
        answer["pid"] = os.getpid()

    def serve(self) -> None:
        protocol.send(self.sock, {"ready": True, "pid": os.getpid()})
        while True:
            try:
                req = protocol.recv(self.sock)
            except protocol.Closed:
                return
            answer = self.run(req)
            self.after(answer, req.get("key", ""))
            protocol.send(self.sock, answer)
            if answer.get("recycle"):
                return


def main() -> None:
    parent, fd = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent(parent)
    sock = socket.socket(fileno=fd)
    config = protocol.recv(sock)
    import torch  # after the parent check: 3 s of imports

    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    from . import handlers  # noqa: F401  (imports transformers now, not during the first request)

    Worker(sock, config).serve()


if __name__ == "__main__":
    main()
