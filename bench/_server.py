"""`agora serve` for the benchmarks: one way to set up a data folder, start the server, wait until it answers
and stop it. Every bench/*.py that runs a single server uses `start_server` (bench/s3.py runs the multi-process
scale stack of tests/stack.py instead).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

BIN = Path(sys.executable).parent  # the venv's bin: `agora` next to the interpreter running the bench


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agora(*args: str, data: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run an `agora` command on the data folder (`user add`, `token create`, `migrate`...); its stdout."""
    out = subprocess.run(
        [str(BIN / "agora"), *args, "--data", str(data)],
        input=stdin,
        text=True,
        capture_output=True,
        env=env,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    if out.returncode != 0:
        raise RuntimeError(f"agora {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout.strip()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data: Path
    log: Path | None
    user: str | None
    token: str | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds. Idempotent."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else "(no log)"


def start_server(
    data: Path,
    *,
    user: str | None = "bench",
    token_role: str | None = "write",
    workers: int | None = None,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    ready_path: str | None = None,
    timeout: float = 60,
    port: int = 0,
    preexec_fn: Callable[[], None] | None = None,
) -> Server:
    """Start `agora serve --port <free> --data <data>` and return once it answers.

    user: created first (password `<user>-password`) unless None or it already exists; token_role: a token
    for that user with this role (None: no token). workers: granian workers (`--workers`). log: the server's
    stdout and stderr are appended there (None: discarded). ready_path: also wait until a GET of this path
    answers 200 (a listing waits for the catalog to load), not only until the port accepts connections.
    env / preexec_fn: for the server process (a CPU cgroup, git variables).
    """
    data.mkdir(parents=True, exist_ok=True)
    token = None
    if user is not None:
        try:
            agora("user", "add", user, "--password-stdin", data=data, stdin=f"{user}-password\n", env=env)
        except RuntimeError as e:
            if "already" not in str(e):
                raise
        if token_role is not None:
            token = agora("token", "create", user, "--role", token_role, data=data, env=env)
    port = port or free_port()
    cmd = [str(BIN / "agora"), "serve", "--port", str(port), "--data", str(data)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    if log is None:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn
        )
    else:
        with open(log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=preexec_fn)
    server = Server(proc, port, data, log, user, token)
    try:
        _wait(server, ready_path, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait(server: Server, ready_path: str | None, timeout: float) -> None:
    deadline = time.time() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"agora serve exited early (code {server.proc.returncode}):\n{_tail(server.log)}"
            )
        if time.time() > deadline:
            raise RuntimeError(f"agora serve did not answer within {timeout:.0f} s:\n{_tail(server.log)}")
        try:
            if ready_path is None:
                socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
                return
            with urllib.request.urlopen(
                server.url + ready_path, timeout=max(1.0, deadline - time.time())
            ) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)


__all__ = ["BIN", "Server", "agora", "free_port", "start_server"]

if __name__ == "__main__":  # a smoke run: start a server on a temp folder, ask it one thing, stop it
    import tempfile

    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="agora-bench-server-") as tmp:
        with start_server(
            Path(tmp) / "data", log=Path(tmp) / "server.log", ready_path="/api/models?limit=1"
        ) as s:
            print(f"agora serve answered on {s.url} (pid {s.pid}, token {'yes' if s.token else 'no'})")
