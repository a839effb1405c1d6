"""Routing on the raw path.

Revisions arrive percent-encoded (`refs%2Fpr%2F1`), so routes must match the undecoded path and decode
each captured segment afterwards; a decoded path would split a revision at its slashes.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import HubError, InsufficientStorage, RepoMoved, disk_full
from . import canonical, wire

log = logging.getLogger("agora.http")
refusals = logging.getLogger("agora.http.answers")  # a line per error answer (RequestIds)
# The id of the request being answered: in the X-Request-Id header of its response and, through
# install_request_id_logging, in every log line written while answering it (worker threads included: they
# run in a copy of the request's context).
request_id: ContextVar[str] = ContextVar("agora_request_id", default="-")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# A request id the client chose is kept when it is short and plain (it lands in headers and log lines).
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:=-]{1,128}")
# Where a client puts its own id: X-Request-Id first, then the X-Amzn-Trace-Id huggingface_hub always sends
# (utils/_http.py: a uuid4, the one its debug log prints), so one id names the call on both sides.
_ID_HEADERS = (b"x-request-id", b"x-amzn-trace-id")


def choose_request_id(scope: Scope) -> str:
    """The client's request id when it sent a valid one, else a fresh one."""
    headers = dict(scope.get("headers", []))
    for name in _ID_HEADERS:
        value = headers.get(name, b"").decode("latin-1").strip()
        if _CLIENT_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex[:16]


def install_request_id_logging() -> None:
    """Give every log record a `request_id` attribute (`-` outside a request), for LOG_FORMAT."""
    old = logging.getLogRecordFactory()
    if getattr(old, "agora_request_id", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old(*args, **kwargs)
        record.request_id = request_id.get()
        return record

    factory.agora_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# A handler answers with an ASGI app: a Response, or a streaming answer of its own (http/git.py GitProcess).
Handler = Callable[..., Awaitable[ASGIApp]]

SEG = r"[^/]+"
ID = r"(?P<ns>[^/]*)/(?P<name>[^/]+?)"  # ns "": a canonical repo (http/canonical.py)


@dataclass
class Route:
    methods: frozenset[str]
    regex: re.Pattern[str]
    handler: Handler
    host_prefix: str | None = None  # only for requests whose Host starts with this (datasets-server.)


def _segment(v: str | None) -> str | None:
    """A captured path segment, percent-decoded as UTF-8 (strict: invalid bytes and surrogates refused)."""
    if v is None:
        return None
    out = unquote(v, errors="strict")
    out.encode("utf-8")  # %ED%A0%80 decodes to nothing valid either way; be explicit
    return out


# Below this many free bytes in the data folder, an unexpected error is taken for the full disk (pygit2
# reports a failed object write as GitError("no error"), without the errno).
FULL_BELOW = 1024 * 1024


def out_of_space(exc: BaseException, data: Path | None) -> bool:
    """Whether `exc` comes from a full disk: it says so, or the data folder has (almost) no byte left."""
    if disk_full(exc):
        return True
    try:
        return data is not None and shutil.disk_usage(data).free < FULL_BELOW
    except OSError:
        return False


class RequestIds:
    """The ASGI layer that gives a request its id (`choose_request_id`): in the X-Request-Id header of its
    answer and in every log line written while answering it. The app puts it outermost (app.py), so the
    answers of the layers around the router (headers.Guard's refusals and its last-resort 500) carry one
    too; a refusal (status >= 400) gets a log line of its own naming the id, so the "(Request ID: ...)"
    huggingface_hub prints finds its line in the server log. Under another RequestIds it does nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or request_id.get() != "-":
            await self.app(scope, receive, send)
            return
        rid = choose_request_id(scope)
        token = request_id.set(rid)

        async def send_with_id(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                # one id per answer: an id a Space's app (through the proxy) set is replaced by ours
                headers = [(k, v) for k, v in msg.get("headers", []) if k.lower() != b"x-request-id"]
                msg = {**msg, "headers": [*headers, (b"x-request-id", rid.encode())]}
                if msg.get("status", 200) >= 400:
                    _log_refusal(scope, msg.get("status", 200), headers)
            await send(msg)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


def _log_refusal(scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    """One line for an error answer: method, path (never the query: signed links carry their signature
    there), status and the HF error code; the id comes with LOG_FORMAT."""
    code = next((v.decode("latin-1") for k, v in headers if k.lower() == b"x-error-code"), "-")
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
    refusals.info("%s %s answered %d %s", scope.get("method"), path[:300], status, code)


class Router:
    def __init__(self, data: Path | None = None) -> None:
        self.routes: list[Route] = []
        self.ws_routes: list[tuple[re.Pattern[str], Callable[..., Awaitable[None]]]] = []
        self.fallback: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
        # requests to a Space's own host (scope "agora.space", set by headers.Guard): all go there
        self.space_host: Handler | None = None
        self.space_host_ws: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None
        self.data = data  # the data folder: a full disk there turns unexpected errors into 507s
        self.canonical: canonical.Names | None = None  # the canonical repos' names (http/canonical.py)

    def add_ws(self, pattern: str, handler: Callable[..., Awaitable[None]]) -> None:
        """A WebSocket endpoint: `handler(scope, receive, send, **params)` (a Space's app, through the proxy)."""
        self.ws_routes.append((re.compile(f"^{pattern}$"), handler))

    async def _route_ws(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("agora.space") and self.space_host_ws is not None:
            await self.space_host_ws(scope, receive, send)
            return
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        for regex, handler in self.ws_routes:
            m = regex.match(path)
            if m:
                try:
                    params = {k: _segment(v) for k, v in m.groupdict().items()}
                except UnicodeError:
                    break
                await handler(scope, receive, send, **params)
                return
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})

    def add(self, methods: str, pattern: str, handler: Handler, host_prefix: str | None = None) -> None:
        ms = set(methods.split())
        if "GET" in ms:
            ms.add("HEAD")
        self.routes.append(Route(frozenset(ms), re.compile(f"^{pattern}$"), handler, host_prefix))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await self._route_ws(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        await RequestIds(self._route)(scope, receive, send)  # a no-op under the app's own RequestIds

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        if scope.get("agora.space") and self.space_host is not None:
            route = Route(frozenset(), re.compile(""), self.space_host)
            await (await _answer(route, Request(scope, receive), {}, path, self.data))(scope, receive, send)
            return
        method = scope["method"]
        host = next((v.decode("latin-1").lower() for k, v in scope.get("headers", []) if k == b"host"), "")
        one = canonical.one_segment(path)
        if one is not None and self.canonical is not None and await self.canonical.contains(one[0], one[1]):
            path, one = one[2], None  # a canonical repo's address: its internal form (http/canonical.py)
        found, allowed = self._match(path, method, host)
        if found is None and one is not None:  # a one-segment id no route knows: RepoNotFound, not a 404/405
            found, _ = self._match(one[2], method, host)
        if found is not None:
            route, m = found
            try:
                params = {k: _segment(v) for k, v in m.groupdict().items()}
            except UnicodeError:
                response = wire.error(400, "BadRequest", "The request path is not valid UTF-8")
                await response(scope, receive, send)
                return
            answer = await _answer(route, Request(scope, receive), params, path, self.data)
            await answer(scope, receive, send)
        elif allowed:
            await wire.error(405, "MethodNotAllowed", f"{method} is not allowed on {path}")(
                scope, receive, send
            )
        elif self.fallback:
            await self.fallback(scope, receive, send)
        else:
            await wire.error(404, "NotFound", f"Not found: {path}")(scope, receive, send)

    def _match(self, path: str, method: str, host: str) -> tuple[tuple[Route, re.Match[str]] | None, bool]:
        """The first route matching `path` and `method`, and whether some route matched the path only."""
        allowed = False
        for route in self.routes:
            if route.host_prefix is not None and not host.startswith(route.host_prefix):
                continue
            m = route.regex.match(path)
            if not m:
                continue
            if method not in route.methods:
                allowed = True
                continue
            return (route, m), allowed
        return None, allowed


async def _answer(
    route: Route, request: Request, params: dict[str, str | None], path: str, data: Path | None
) -> ASGIApp:
    """What the route's handler answers, or the error response its exception maps to. A full disk (ENOSPC,
    EDQUOT, SQLITE_FULL... raised anywhere while answering) is a 507, never a 500: clients retry 500s."""
    try:
        return await route.handler(request, **params)
    except RepoMoved as exc:  # an old name: to the same address with the new one
        return wire.moved(request, exc)
    except HubError as exc:
        return wire.hub_error(exc)
    except RecursionError:
        return wire.error(400, "BadRequest", "The request is nested too deeply")
    except UnicodeError:
        # text that cannot be decoded, or encoded back (a lone surrogate from a JSON "\ud800")
        return wire.error(
            400, "BadRequest", "The request holds malformed text (invalid UTF-8 or a lone surrogate)"
        )
    except Exception as exc:
        if out_of_space(exc, data):
            log.warning("disk full on %s %s: %r", request.method, path, exc)
            return wire.hub_error(InsufficientStorage())
        log.exception("unhandled error on %s %s (request %s)", request.method, path, request_id.get())
        return wire.error(500, "InternalError", "Internal error: the server logged the details")
