"""Security headers and the Host check, applied once to every HTTP response (an ASGI wrapper round the router).

- Every response gets `X-Content-Type-Options: nosniff`, `Referrer-Policy` and `X-Frame-Options: DENY`.
- A response without its own Content-Security-Policy gets one: our pages and redirects (text/html or no
  body type) the page policy (`script-src 'self'`, `frame-ancestors 'none'`, `frame-src` = the Space origins),
  anything else the sandbox policy of user files. No route can forget them.
- Handlers serving user-supplied bytes (resolve, viewer cells) call `user_file()`: the sandbox CSP (scripts
  never run, the document gets an opaque origin), and active types (HTML, XML, JavaScript, CSS, ...) as
  text/plain. SVG stays image/svg+xml so that `<img>` in model cards keeps working (an `<img>` never runs
  scripts; a navigation to the SVG is sandboxed).
- Host: absolute URLs (LFS/Xet hrefs, pagination links, the clone URL) are built from the Host header, so a
  Host that is not one of ours is replaced, before any handler runs, by the public URL's or the listening
  address's. Accepted: the public URL's host, the listening address and the loopback names on its port, and
  AGORA_ALLOWED_HOSTS (each `name:port`, or a bare `name` for any port); `datasets-server.` + any of these.
- User-content origin (AGORA_USERCONTENT_URL): requests whose Host is that URL's host only reach the
  `/_usercontent/` paths (signed file URLs, api/files.py), and those paths answer only on that host. A
  deployment points a second hostname at the same server; the usercontent host is never a Hub host.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..hub import spaces
from . import wire

log = logging.getLogger("agora.http")
USERCONTENT_PREFIX = "/_usercontent"
FILE_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self' data:; style-src 'unsafe-inline'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Types a browser would run or render as a document of the Hub's origin; served as text/plain there.
PASSIVE_TEXT = {"text/plain", "text/csv", "text/tab-separated-values", "text/markdown", "text/x-python"}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("0.0.0.0", "[::]", "")


def page_csp(settings: Settings) -> str:
    # 'self': the Spaces' /app/ paths; AGORA_SPACES_DOMAIN: their own hosts; AGORA_SPACES_ORIGIN: more
    own = spaces.serving_of(settings.spaces.domain).frame_source()
    frames = " ".join(x for x in ("'self'", own, settings.spaces_origin) if x)
    if any(c in frames for c in ";,\r\n"):
        raise ValueError(f"AGORA_SPACES_ORIGIN={frames!r}: space-separated origins only")
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https: http:; "
        f"frame-src {frames.strip()}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def is_active(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    if base == "image/svg+xml":
        return False
    if base.startswith("text/"):
        return base not in PASSIVE_TEXT
    return any(w in base for w in ("html", "xml", "javascript", "ecmascript", "x-shockwave-flash"))


def user_file(media: str, usercontent: bool = False) -> tuple[str, dict[str, str]]:
    """(media type to send, headers) for user-supplied bytes. On the separate user-content origin HTML keeps
    its type (rendered, still without scripts); on the Hub's origin active types become text/plain."""
    base = media.split(";", 1)[0].strip().lower()
    if is_active(media) and not (usercontent and base in ("text/html", "application/xhtml+xml")):
        media = "text/plain; charset=utf-8"
    return media, {"Content-Security-Policy": FILE_CSP, "X-Content-Type-Options": "nosniff"}


def is_navigation(headers: Mapping[str, str]) -> bool:
    """A browser opening the URL as a document (a link, the address bar, a frame): Fetch Metadata headers,
    which browsers send and API clients (huggingface_hub, git-lfs, curl) never do. Over plain http to a
    non-local host browsers leave those out; their navigations still carry `Upgrade-Insecure-Requests: 1`
    and ask for text/html."""
    get = headers.get
    mode, dest = get("sec-fetch-mode"), get("sec-fetch-dest")
    if mode or dest:
        return mode == "navigate" or dest in ("document", "iframe", "frame", "embed", "object")
    return get("upgrade-insecure-requests") == "1" and "text/html" in (get("accept") or "")


def _split(host: str) -> tuple[str, str | None]:
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else None
    name, sep, port = host.partition(":")
    return name, port if sep else None


class Hosts:
    """Which Host headers are ours, and the one to use instead of a foreign one."""

    def __init__(self, settings: Settings) -> None:
        self.exact: set[str] = set()
        self.bare: set[str] = set()
        self.fallback = "127.0.0.1"
        if settings.listen:
            name, port = _split(settings.listen.lower())
            names = list(LOOPBACK)
            if name in WILDCARD or name == "[::]":
                names += _machine_names()
            else:
                names.append(name)
                self.fallback = settings.listen.lower()
            if port:
                self.exact.update(f"{n}:{port}" for n in names)
                if port in ("80", "443"):  # browsers leave the default port out of Host
                    self.exact.update(names)
                if self.fallback == "127.0.0.1":
                    self.fallback = f"127.0.0.1:{port}"
            else:
                self.bare.update(names)
        # Loopback names on any port: only a client on this machine sends them, and nobody else can be sent
        # there by them (datasets sends `datasets-server.127.0.0.1` with or without the port).
        self.bare.update(LOOPBACK)
        if settings.public_url:
            self.fallback = urlsplit(settings.public_url).netloc.lower()
            self.exact.add(self.fallback)
        for h in settings.allowed_hosts:
            (self.exact if _split(h)[1] else self.bare).add(h.lower())
        self.usercontent = (
            urlsplit(settings.usercontent_url).netloc.lower() if settings.usercontent_url else None
        )
        if self.usercontent:
            self.exact.discard(self.usercontent)
            self.bare.discard(_split(self.usercontent)[0])

    def ours(self, host: str) -> bool:
        h = host.lower()
        if h.startswith("datasets-server."):
            h = h[len("datasets-server.") :]
        if h == self.usercontent:
            return False
        return h in self.exact or _split(h)[0] in self.bare

    def is_usercontent(self, host: str) -> bool:
        return self.usercontent is not None and host.lower() == self.usercontent


def _machine_names() -> list[str]:
    """For a server listening on every interface: its host names and the addresses of its interfaces (a DNS
    name that points at the machine from elsewhere is not guessed: AGORA_PUBLIC_URL or AGORA_ALLOWED_HOSTS)."""
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    for n in list(names):
        try:
            names.update(str(info[4][0]) for info in socket.getaddrinfo(n, None))
        except OSError:
            pass
    names.update(_interface_addresses())
    return sorted(f"[{a}]" if ":" in a else a for a in names if a)


def _interface_addresses() -> set[str]:
    out: set[str] = set()
    try:  # Linux: IPv4 through SIOCGIFADDR, IPv6 from /proc
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, name in socket.if_nameindex():
                try:
                    got = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
                    out.add(socket.inet_ntoa(got[20:24]))
                except OSError:
                    continue
    except (ImportError, OSError, AttributeError):
        pass
    try:
        with open("/proc/net/if_inet6") as fh:
            for line in fh:
                raw = line.split()[0]
                out.add(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(raw)))
    except (OSError, ValueError):
        pass
    return out


class Guard:
    """The ASGI wrapper: Host check, user-content host separation, security headers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = Hosts(settings)
        self.serving = spaces.serving_of(settings.spaces.domain)
        self.page_csp = page_csp(settings).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
        label = self.serving.subdomain_of(host)
        if label is not None or scope["type"] != "http":  # a Space's own host: its app's headers stand
            await self.app({**scope, "agora.space": label} if label else scope, receive, send)
            return
        usercontent = self.hosts.is_usercontent(host)
        if usercontent:
            scope = {**scope, "agora.usercontent": True}
        elif not self.hosts.ours(host):
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"host"]
            scope = {**scope, "headers": [(b"host", self.hosts.fallback.encode()), *headers]}

        started = False

        async def guarded_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                msg = {**msg, "headers": self._headers(msg.get("status", 200), list(msg.get("headers", [])))}
            await send(msg)

        if self.hosts.usercontent and usercontent != scope["path"].startswith(USERCONTENT_PREFIX + "/"):
            await wire.error(404, "NotFound", "Not found")(scope, receive, guarded_send)
            return
        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            if started:
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await wire.error(500, "InternalError", "Internal error: the server logged the details")(
                scope, receive, guarded_send
            )

    def _headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        names = {k.lower() for k, _ in headers}
        if b"content-security-policy" not in names:
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"").lower()
            page = ctype.startswith(b"text/html") or not ctype or 300 <= status < 400
            headers.append((b"content-security-policy", self.page_csp if page else FILE_CSP.encode()))
        for k, v in (
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
        ):
            if k not in names:
                headers.append((k, v))
        return headers
