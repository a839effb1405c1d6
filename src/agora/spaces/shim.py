"""The in-sandbox bridge: a unix socket outside, the app's TCP port inside.

Run inside the sandbox as its first process, with the environment's interpreter and nothing of Agora's
(`python -I shim.py --listen /run/agora/app.sock --port 7860 -- python -u app.py`): the sandbox has no
network but its own loopback, so the server reaches the app through this socket, which lives in the run
folder (owned by the Space's uid, mode 0700: the server, root, may connect; other Spaces may not).

- Bytes are piped both ways unchanged, so HTTP, SSE and WebSocket all pass.
- The app is the shim's child; SIGTERM (or SIGINT) is forwarded to it, and the shim exits with the app's
  status once it has ended (128 + signal when a signal ended it: the shell's convention).
- As pid 1 of the sandbox it inherits the app's orphans: it reaps them (zombies would count against the
  pids limit).
- `--forward PORT=SOCKET`: the other way round, a TCP listener on 127.0.0.1:PORT whose connections go to
  the unix socket SOCKET, listening before the command starts: in an app's sandbox, the Hub bridge
  (7850 -> /run/agora-hub/hub.sock, hubbridge.py: the app's HF_ENDPOINT); in the build sandbox (envs.py),
  the server's index proxy (`--listen` is then left out).
- stdlib only: it runs with whatever Python the Space's environment has.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import Awaitable, Callable

CHUNK = 64 * 1024


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def bridge(
    connect: Callable[[], Awaitable[Streams]], client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    """One connection accepted: a fresh connection to the other side (`connect`), bytes both ways."""
    try:
        app_r, app_w = await connect()
    except OSError:
        client_w.close()  # the other side is not listening (yet): the client sees the connection close
        return
    try:
        await asyncio.gather(pipe(client_r, app_w), pipe(app_r, client_w))
    finally:
        for w in (app_w, client_w):
            w.close()


async def reap_orphans(app_pid: int) -> None:
    """Reap the exited processes that are not the app (asyncio waits for that one itself)."""
    while True:
        await asyncio.sleep(1)
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)  # look, do not reap
            except ChildProcessError:
                break
            if info is None or info.si_pid == app_pid:
                break
            os.waitpid(info.si_pid, 0)


async def main(listen: str | None, port: int, command: list[str], forward: list[str] | None = None) -> int:
    forwards = []
    for spec in forward or []:  # PORT=SOCKET, up before the command runs
        fport, _, path = spec.partition("=")
        to_unix = functools.partial(asyncio.open_unix_connection, path)
        handler = functools.partial(bridge, to_unix)
        forwards.append(await asyncio.start_server(handler, "127.0.0.1", int(fport)))
    app = await asyncio.create_subprocess_exec(*command)
    reaper = asyncio.create_task(reap_orphans(app.pid))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, app.send_signal, sig)
    server = await serve_app(listen, port, app.pid) if listen else None
    code = await app.wait()
    reaper.cancel()
    for s in [*forwards, server]:
        if s is not None:
            s.close()
    if listen:
        with contextlib.suppress(OSError):
            os.unlink(listen)
    status = 128 - code if code < 0 else code
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    print(f"shim: the app {how}", file=sys.stderr, flush=True)
    return status


async def serve_app(listen: str, port: int, pid: int) -> asyncio.Server:
    """The unix socket the server connects to, bridged to the app's TCP port."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(listen)
    to_app = functools.partial(asyncio.open_connection, "127.0.0.1", port)
    server = await asyncio.start_unix_server(functools.partial(bridge, to_app), path=listen)
    os.chmod(listen, 0o600)
    print(f"shim: app pid {pid}, {listen} -> 127.0.0.1:{port}", file=sys.stderr, flush=True)
    return server


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", help="the unix socket to create, bridged to the app's port")
    p.add_argument("--port", type=int, default=7860, help="the app's TCP port on the sandbox's loopback")
    p.add_argument("--forward", action="append", help="PORT=SOCKET: 127.0.0.1:PORT to the unix socket")
    p.add_argument("command", nargs="+", help="the app's command line (after --)")
    a = p.parse_args(argv)
    return asyncio.run(main(a.listen, a.port, a.command, a.forward))


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
