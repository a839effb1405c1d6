"""The build sandbox's only way out: an HTTP proxy on a unix socket that lets through package indexes only.

A build (envs.py) runs uv with no network of its own (`--unshare-net`); uv's HTTPS_PROXY/HTTP_PROXY name
127.0.0.1:PORT inside, where the shim forwards each connection to this proxy's unix socket, bound into the
sandbox. The proxy lives in the server process for the length of one build (`IndexProxy`, a context
manager running its own asyncio loop in a thread) and allows:

- `CONNECT host:port` (HTTPS: the TLS stays end to end between uv and the index) when `host:port` is
  allowed (https index URLs allow `host:443`);
- `GET`/`HEAD http://host[:port]/...` (plain http indexes) when `host:port` is allowed; the request goes
  on with `Connection: close` (one request per connection: uv opens another).

Anything else is answered 403 and logged on the build log: "blocked: host X is not a package index".
The allowed hosts: those of the configured remote index and find-links URLs, the hosts a known index serves
its files from (`FILE_HOSTS`: PyPI's files.pythonhosted.org), and the admin's AGORA_SPACES_BUILD_HOSTS.

The host's own proxy is honoured: when the server's environment has HTTPS_PROXY/HTTP_PROXY (and NO_PROXY
does not exempt the host), an allowed CONNECT is chained through it (CONNECT again, upstream) and an
allowed GET is sent to it in absolute form (urllib's reading of those variables).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from .shim import pipe  # the shim's byte pipe (stdlib only: the sandbox runs the same file)

LineSink = Callable[[str], None]
FILE_HOSTS = {"pypi.org": ("files.pythonhosted.org",)}  # an index's own host -> where its files live
DEFAULT_PORT = {"https": 443, "http": 80}
HEAD_MAX = 64 * 1024
TIMEOUT = 30  # seconds to read a request head or reach a host


class Refused(Exception):
    """The request is not for an allowed index host; the message is the build log's line."""


def allowed_hosts(urls: Iterable[str], extra: Iterable[str]) -> frozenset[str]:
    """`host:port` of the remote URLs among `urls` and of the files hosts of known indexes, plus `extra`
    (`host` meaning host:443, or `host:port`)."""
    out: set[str] = set()
    for url in urls:
        u = urlsplit(url)
        if u.scheme in DEFAULT_PORT and u.hostname:
            out.add(f"{u.hostname}:{u.port or DEFAULT_PORT[u.scheme]}")
            out.update(f"{h}:443" for h in FILE_HOSTS.get(u.hostname, ()))
    for h in extra:
        if h := h.strip().lower():
            out.add(h if ":" in h else f"{h}:443")
    return frozenset(out)


def destination(head: bytes) -> tuple[str, str, int, bytes]:
    """(method, host, port, what to send on) of a request head; raises Refused for anything but CONNECT
    and http GET/HEAD. For a GET, what to send on is the head in origin form with `Connection: close`."""
    first, _, rest = head.partition(b"\r\n")
    parts = first.decode("latin-1").split()
    if len(parts) != 3:
        raise Refused("blocked: not an HTTP proxy request")
    method, target, version = parts
    if method == "CONNECT":
        host, _, port = target.rpartition(":")
        if not port.isdigit():
            raise Refused(f"blocked: {target!r} is not host:port")
        return method, host.strip("[]").lower(), int(port), b""
    u = urlsplit(target)
    if method not in ("GET", "HEAD") or u.scheme != "http" or not u.hostname:
        raise Refused(f"blocked: {method} {target} (only CONNECT and http GET to a package index)")
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    headers = [
        line
        for line in rest.split(b"\r\n")
        if line and not line.lower().startswith((b"proxy-", b"connection:", b"keep-alive:"))
    ]
    origin = f"{method} {path} {version}".encode("latin-1")
    return method, u.hostname.lower(), u.port or 80, b"\r\n".join([origin, *headers, b"Connection: close"])


class IndexProxy:
    """The proxy of one build, listening on `path` (a unix socket) while the `with` block runs."""

    def __init__(self, path: Path, hosts: frozenset[str], log: LineSink) -> None:
        self.path = path
        self.hosts = hosts
        self.log = log
        self.upstream = urllib.request.getproxies_environment()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="spaces-index-proxy", daemon=True)

    def __enter__(self) -> IndexProxy:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self.loop)
        try:
            self.server: asyncio.Server | None = future.result(TIMEOUT)
        except BaseException:
            self.server = None
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _listen(self) -> asyncio.Server:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return await asyncio.start_unix_server(self._serve, path=str(self.path), limit=HEAD_MAX)

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), TIMEOUT)
            method, host, port, forward = destination(head[:-4])
            if f"{host}:{port}" not in self.hosts:
                raise Refused(f"blocked: host {host} is not a package index")
            up_r, up_w, proxied = await self._open(host, port, method == "CONNECT")
            if proxied and forward:  # the host's proxy wants the absolute form, the client's first line
                forward = head.partition(b"\r\n")[0] + forward[forward.index(b"\r\n") :]
        except Refused as exc:
            self.log(str(exc))
            await self._answer(w, b"403 Forbidden", str(exc))
            return
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            await self._answer(w, b"502 Bad Gateway", f"proxy: {type(e).__name__}: {e}")
            return
        if method == "CONNECT":
            w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            flows = [pipe(r, up_w), pipe(up_r, w)]
        else:  # one request, no more: a second one on this connection could name another host
            up_w.write(forward + b"\r\n\r\n")
            flows = [pipe(up_r, w)]
        try:
            await asyncio.gather(*flows)
        finally:
            for x in (up_w, w):
                x.close()

    async def _open(
        self, host: str, port: int, tunnel: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """A connection to host:port, through the host's own proxy when it has one for that scheme."""
        scheme = "https" if tunnel else "http"
        via = self.upstream.get(scheme)
        if not via or urllib.request.proxy_bypass_environment(host, self.upstream):  # type: ignore[attr-defined]
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port), TIMEOUT)
            return r, w, False
        u = urlsplit(via)
        r, w = await asyncio.wait_for(asyncio.open_connection(u.hostname, u.port or 80), TIMEOUT)
        if not tunnel:
            return r, w, True
        w.write(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        reply = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), TIMEOUT)
        if reply.split(b" ", 2)[1:2] != [b"200"]:
            w.close()
            raise OSError(f"the host's proxy {u.hostname} refused CONNECT {host}:{port}")
        return r, w, True

    @staticmethod
    async def _answer(w: asyncio.StreamWriter, status: bytes, text: str) -> None:
        body = text.encode() + b"\n"
        w.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        w.write(body)
        with contextlib.suppress(OSError):
            await w.drain()
        w.close()
