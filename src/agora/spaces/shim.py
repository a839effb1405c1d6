"""The in-sandbox bridges: a unix socket outside, the app's TCP port inside; and the Hub's way back.

Run inside the sandbox as its first process, with the environment's interpreter and nothing of Agora's
(`python -I shim.py --listen /run/agora/app.sock --port 7860 [--hub /run/agora-hub/hub.sock --hub-port
7850] -- python -u app.py`): the sandbox has no network but its own loopback, so

- the server reaches the app through `--listen`, a socket in the run folder (owned by the Space's uid, mode
  0700: the server, root, may connect; other Spaces may not), piped to 127.0.0.1:`--port`;
- with `--hub`, the app reaches the Hub at http://127.0.0.1:`--hub-port` (its HF_ENDPOINT): each connection
  is piped to the unix socket `--hub`, whose other end, outside, connects to the Hub's own address and
  nowhere else (hubbridge.py). That listener is up before the app starts.

- Bytes are piped both ways unchanged, so HTTP, SSE and WebSocket all pass.
- The app is the shim's child; SIGTERM (or SIGINT) is forwarded to it, and the shim exits with the app's
  status once it has ended (128 + signal when a signal ended it: the shell's convention).
- As pid 1 of the sandbox it inherits the app's orphans: it reaps them (zombies would count against the
  pids limit).
- stdlib only: it runs with whatever Python the Space's environment has.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]

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


async def bridge(
    connect: Callable[[], Awaitable[Streams]], client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
) -> None:
    """One accepted connection: a fresh connection made by `connect`, bytes both ways."""
    try:
        up_r, up_w = await connect()
    except OSError:
        client_w.close()  # nothing listens there (yet): the client sees the connection close
        return
    try:
        await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
    finally:
        for w in (up_w, client_w):
            w.close()


def to_app(port: int) -> Callable[[], Awaitable[Streams]]:
    return lambda: asyncio.open_connection("127.0.0.1", port)


def to_hub(path: str) -> Callable[[], Awaitable[Streams]]:
    return lambda: asyncio.open_unix_connection(path)


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


async def main(listen: str, port: int, command: list[str], hub: str | None = None, hub_port: int = 0) -> int:
    if hub:  # before the app starts: it may ask the Hub for files at import time
        await asyncio.start_server(lambda r, w: bridge(to_hub(hub), r, w), "127.0.0.1", hub_port)
    app = await asyncio.create_subprocess_exec(*command)
    reaper = asyncio.create_task(reap_orphans(app.pid))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, app.send_signal, sig)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(listen)
    server = await asyncio.start_unix_server(lambda r, w: bridge(to_app(port), r, w), path=listen)
    os.chmod(listen, 0o600)
    via = f", the Hub at 127.0.0.1:{hub_port}" if hub else ""
    print(f"shim: app pid {app.pid}, {listen} -> 127.0.0.1:{port}{via}", file=sys.stderr, flush=True)
    code = await app.wait()
    reaper.cancel()
    server.close()
    with contextlib.suppress(OSError):
        os.unlink(listen)
    status = 128 - code if code < 0 else code
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    print(f"shim: the app {how}", file=sys.stderr, flush=True)
    return status


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--listen", required=True, help="the unix socket to create")
    p.add_argument("--port", type=int, default=7860, help="the app's TCP port on the sandbox's loopback")
    p.add_argument("--hub", help="the unix socket that leads to the Hub (none: the app has no way out)")
    p.add_argument(
        "--hub-port", type=int, default=7850, help="where the app reaches the Hub, on its loopback"
    )
    p.add_argument("command", nargs="+", help="the app's command line (after --)")
    a = p.parse_args(argv)
    return asyncio.run(main(a.listen, a.port, a.command, a.hub, a.hub_port))


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
