"""Spaces over HTTP: the runtime API huggingface_hub reads, and a static Space's app.

The app is served at `/spaces/{owner}/{name}/app/` — never at `/spaces/{owner}/{name}/` itself, which git,
`/resolve` and the pages use. It runs on the Hub's origin but not as the Hub: every answer carries
`Content-Security-Policy: sandbox` without `allow-same-origin`, so the Space's scripts run in an opaque
origin that never sees the visitor's Hub cookies nor reads a Hub page. The app is always fetched as an
anonymous visitor (the visitor's cookie or token is never used to open it): a private Space is reached
through a signed path segment (`/app/~{exp}.{sig}/`, made by the Space page for those who may read the
repo), which its relative URLs keep, and which expires.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ... import spacehost
from ...errors import EntryNotFound, Forbidden, HubError, Unavailable
from ...hub import spaces
from ...hub.repos import Repo
from ...ids import RepoId
from .. import wire
from ..context import Ctx
from ..spaces_proxy import Proxy, Upstream, websocket
from .common import json_body
from .files import file_headers, file_response, locate, stored_repo

APP_CSP = (
    "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads; "
    "frame-ancestors 'self'; base-uri 'self'; object-src 'none'"
)
CAP_TTL = 8 * 3600  # seconds a private Space's signed app path stays valid


def signed_app_path(ctx: Ctx, ns: str, name: str) -> str:
    """The app's path with a capability in it: what the Space page frames for a private Space."""
    exp, sig = ctx.signer.sign("space-app", ns, name, ttl=CAP_TTL)
    return f"{spaces.app_prefix(ns, name)}~{exp}.{sig}/"


async def runtime(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    """`GET /api/spaces/{id}/runtime`: huggingface_hub's SpaceRuntime."""
    repo = await ctx.repo(request, RepoId("space", ns, name))
    rt = await ctx.run(spaces.runtime, ctx.hub, repo, repo.head_sha)
    return wire.json_response(rt.json())


async def app_root(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    """`/spaces/{id}/app` without its slash: the app's relative URLs need it."""
    return RedirectResponse(spaces.app_prefix(ns, name), status_code=308)


async def app(
    ctx: Ctx,
    request: Request,
    ns: str,
    name: str,
    path: str,
    exp: str | None = None,
    sig: str | None = None,
) -> Response:
    """A Space's app: a static Space's file from its default branch, or a gradio/streamlit app's answer
    through the proxy (waking the Space first), always in the Space's sandbox."""
    if exp is None and (hit := spacehost.of(ctx.hub, ctx.settings).recent(ns, name)) is not None:
        repo, up = hit  # found public and running less than a second ago: no database visit
        prefix = spaces.app_prefix(repo.namespace, repo.name)
        return await proxy(ctx).http(
            request, Upstream(up.socket, up.keep_prefix), prefix, path, space_headers()
        )
    repo = await open_app(ctx, ns, name, exp, sig)
    rt = await ctx.run(spaces.runtime, ctx.hub, repo, repo.head_sha)
    if rt.config.sdk in ("gradio", "streamlit"):
        return await proxied(ctx, request, repo, rt, path, exp is not None)
    if rt.stage != "RUNNING":
        return not_served(503, f"This Space is not running ({rt.stage}): {rt.error}")
    if request.method not in ("GET", "HEAD"):
        return not_served(405, "A static Space's files are read with GET")
    return await static_file(ctx, request, repo, rt, path)


async def open_app(ctx: Ctx, ns: str, name: str, exp: str | None, sig: str | None) -> Repo:
    """The Space, opened as an anonymous visitor (a private one only through its signed path)."""
    rid = RepoId("space", ns, name)
    if exp is not None:
        if not ctx.signer.check(exp, sig, "space-app", ns, name):
            raise Forbidden("This Space link has expired: open the Space's page again")
        return await ctx.run(stored_repo, ctx.hub, rid)
    repo: Repo = await ctx.run(ctx.hub.open_repo, None, rid, False)
    return repo


async def static_file(ctx: Ctx, request: Request, repo: Repo, rt: spaces.Runtime, path: str) -> Response:
    target = spaces.static_path(rt.config, path)
    if target is None or repo.head_sha is None:
        return not_served(404, "Not found")
    try:
        f = await ctx.run(locate, ctx.hub, lambda: repo, repo.head_sha, target, False)
    except EntryNotFound:
        return not_served(404, f"{path or '/'} is not in this Space")
    filename = target.rsplit("/", 1)[-1]
    media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if media.startswith("text/") or media in ("application/javascript", "application/json"):
        media += "; charset=utf-8"
    headers = {**file_headers(f, filename), **space_headers()}
    headers["Content-Disposition"] = "inline"
    headers["Cache-Control"] = "no-cache"  # a push changes the app at once
    rng = wire.parse_range(request.headers.get("range"), f.e.size)
    return await file_response(ctx, request, f, None if isinstance(rng, str) else rng, headers, media)


PRIVATE_APP = (
    "A private gradio or streamlit Space's app is not served yet (its pages would need the signed path in "
    "every URL the framework makes): make the Space public to use it, or use a static Space"
)


async def proxied(
    ctx: Ctx, request: Request, repo: Repo, rt: spaces.Runtime, path: str, signed: bool
) -> Response:
    if signed or repo.private:
        return not_served(503, PRIVATE_APP)
    if rt.stage in spacehost.ERRORS or rt.stage == "PAUSED":
        return not_served(503, f"This Space is not running ({rt.stage}): {rt.error}")
    host = spacehost.of(ctx.hub, ctx.settings)
    try:
        up = await ctx.run(host.wait_running, repo, float(ctx.settings.spaces.wake_wait))
    except Unavailable as exc:
        return not_served(503, exc.message)
    host.remember(repo.namespace, repo.name, repo, up)
    prefix = spaces.app_prefix(repo.namespace, repo.name)
    return await proxy(ctx).http(request, Upstream(up.socket, up.keep_prefix), prefix, path, space_headers())


def proxy(ctx: Ctx) -> Proxy:
    if ctx.space_proxy is None:
        ctx.space_proxy = Proxy()
    p: Proxy = ctx.space_proxy
    return p


async def app_websocket(
    ctx: Ctx, scope: Scope, receive: Receive, send: Send, ns: str, name: str, path: str
) -> None:
    """A WebSocket to a public gradio/streamlit Space's app (Streamlit's one connection), through the proxy."""
    try:
        repo: Repo = await ctx.run(ctx.hub.open_repo, None, RepoId("space", ns, name), False)
        rt = await ctx.run(spaces.runtime, ctx.hub, repo, repo.head_sha)
        if rt.config.sdk not in ("gradio", "streamlit") or repo.private:
            raise Unavailable("not an app that takes WebSockets")
        host = spacehost.of(ctx.hub, ctx.settings)
        up = await ctx.run(host.wait_running, repo, float(ctx.settings.spaces.wake_wait))
    except HubError:
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        return
    prefix = spaces.app_prefix(repo.namespace, repo.name)
    await websocket(scope, receive, send, Upstream(up.socket, up.keep_prefix), prefix, path)


def space_headers() -> dict[str, str]:
    """Every answer of a Space's app: its own opaque origin (sandbox), framed by the Space page only."""
    return {
        "Content-Security-Policy": APP_CSP,
        "X-Frame-Options": "SAMEORIGIN",
        "Access-Control-Allow-Origin": "*",  # the sandboxed document's opaque origin loads its own files
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Referrer-Policy": "no-referrer",
    }


def not_served(status: int, message: str) -> Response:
    """A plain-text answer in the app's frame (never HTML: nothing of it runs)."""
    return Response(
        message + "\n", status_code=status, media_type="text/plain; charset=utf-8", headers=space_headers()
    )


# ---- the runtime API's changes: pause, restart, sleep time, hardware, variables and secrets ---------------
async def pause(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    who = await ctx.who(request)
    rt = await ctx.run(spaces.pause, ctx.hub, who, RepoId("space", ns, name))
    return wire.json_response(rt.json())


async def restart(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    """Unpause, and start the app afresh from the default branch's head (its build included)."""
    who = await ctx.who(request)
    rid = RepoId("space", ns, name)
    await ctx.run(spaces.restart, ctx.hub, who, rid)
    repo = await ctx.repo(request, rid)
    if spacehost.repo_sdk(repo) in ("gradio", "streamlit"):
        await ctx.run(spacehost.of(ctx.hub, ctx.settings).restart, repo.id)
    rt = await ctx.run(spaces.runtime, ctx.hub, repo, repo.head_sha)
    return wire.json_response(rt.json())


async def logs(ctx: Ctx, request: Request, ns: str, name: str, kind: str) -> Response:
    """`GET /api/spaces/{id}/logs/{build|run}`: the log as server-sent events `data: {"data", "timestamp"}`,
    from its start, then live (huggingface_hub's fetch_space_logs stops after 5 s without a line, or at the
    first line stamped after the answer's Date when not following)."""
    repo = await ctx.repo(request, RepoId("space", ns, name))
    host = spacehost.of(ctx.hub, ctx.settings)
    return StreamingResponse(
        log_events(host.logs, repo.id, kind, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


KEEP_ALIVE = 15.0  # seconds between keep-alive events of a log stream


async def log_events(logs: spacehost.Logs, repo_id: int, kind: str, request: Request) -> AsyncIterator[bytes]:
    gone = False
    lines = logs.follow(repo_id, kind, lambda: gone)
    quiet = 0.0
    try:
        while True:
            line = await asyncio.to_thread(next, lines, None)
            if line is None:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)
                quiet += 0.25
                if quiet >= KEEP_ALIVE:
                    quiet = 0.0
                    yield b"data: \n\n"
                continue
            quiet = 0.0
            yield b"data: " + line.encode() + b"\n\n"
    finally:
        gone = True


async def sleeptime(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    body = await json_body(request)
    who = await ctx.who(request)
    rt = await ctx.run(spaces.set_sleep_time, ctx.hub, who, RepoId("space", ns, name), body.get("seconds"))
    return wire.json_response(rt.json())


async def hardware(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    body = await json_body(request)
    who = await ctx.who(request)
    rid = RepoId("space", ns, name)
    flavor, sleep = body.get("flavor"), body.get("sleepTimeSeconds")
    rt = await ctx.run(spaces.request_hardware, ctx.hub, who, rid, flavor, sleep)
    return wire.json_response(rt.json())


async def secrets(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    return await _variables(ctx, request, ns, name, secret=True)


async def variables(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    return await _variables(ctx, request, ns, name, secret=False)


async def _variables(ctx: Ctx, request: Request, ns: str, name: str, secret: bool) -> Response:
    """GET lists (secrets without their values); POST `{key, value, description?}` sets; DELETE `{key}`
    removes. A variables call answers the whole map, a secrets change answers `{}` (as the Hub)."""
    who = await ctx.who(request)
    rid = RepoId("space", ns, name)
    if request.method == "POST":
        b = await json_body(request)
        args = (b.get("key"), b.get("value"), b.get("description"))
        await ctx.run(spaces.put_variable, ctx.hub, who, rid, secret, *args)
    elif request.method == "DELETE":
        b = await json_body(request)
        await ctx.run(spaces.delete_variable, ctx.hub, who, rid, secret, b.get("key"))
    if secret and request.method != "GET":
        return wire.json_response({})
    return wire.json_response(await ctx.run(spaces.variables, ctx.hub, who, rid, secret))
