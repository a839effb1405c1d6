"""Spaces over HTTP: the runtime API huggingface_hub reads, and the Spaces' apps.

An app is served in one of two ways (hub/spaces.Serving, AGORA_SPACES_DOMAIN):
- On the Hub's origin at `/spaces/{owner}/{name}/app/` — never at `/spaces/{owner}/{name}/` itself, which
  git, `/resolve` and the pages use. It runs there but not as the Hub: every answer carries
  `Content-Security-Policy: sandbox` without `allow-same-origin`, so the Space's scripts run in an opaque
  origin that never sees the visitor's Hub cookies nor reads a Hub page.
- On an origin of its own, `{scheme}://{owner}--{name}.{domain}/` (a site apart from the Hub's): the Host
  names the Space; nothing of the Hub answers on those hosts, and the Hub's paths under `/app/` redirect
  there.
Either way the app is fetched as an anonymous visitor (the visitor's cookie or token never reaches it nor
opens it): a private Space is reached through a signed path segment, `…/app/~{exp}.{sig}/` or
`{origin}/~{exp}.{sig}/`, made for those who may read the repo (the Space page's frame, space_info's
`host`), which its relative URLs keep and which expires. Gradio is told that root on every request
(`X-Gradio-Server`), so the URLs it makes keep the segment; Streamlit's page derives its own from its URL.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import time
from collections.abc import AsyncIterator
from urllib.parse import unquote

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
SIGNED = re.compile(r"/~(\d+)\.([0-9a-f]{64})(/.*)?")  # an app path's capability, on a Space's own host
LABELS_TTL = 10.0  # seconds a Space host's label stays mapped to its Space in this process


def serving(ctx: Ctx) -> spaces.Serving:
    return spaces.serving_of(ctx.settings.spaces.domain)


def app_url(ctx: Ctx, base_url: str, ns: str, name: str, private: bool) -> str:
    """Where the app is opened (with a capability in it for a private Space): the Space page's frame
    (`base_url` "": a path on the Hub's origin) and space_info's `host`."""
    url = serving(ctx).app_url(base_url, ns, name)
    if not private:
        return url
    exp, sig = ctx.signer.sign("space-app", ns, name, ttl=CAP_TTL)
    return f"{url}~{exp}.{sig}/"


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
    """`/spaces/{id}/app/…` on the Hub's origin: the app (or, with AGORA_SPACES_DOMAIN, a redirect to its
    own origin)."""
    sv = serving(ctx)
    if sv.domain:
        target = sv.app_url("", ns, name) + (f"~{exp}.{sig}/" if exp else "") + path
        query = request.url.query
        return RedirectResponse(target + (f"?{query}" if query else ""), status_code=308)
    root = ctx.base_url(request) + spaces.app_prefix(ns, name) + (f"~{exp}.{sig}" if exp else "")
    return await serve(ctx, request, ns, name, path, exp, sig, root.rstrip("/"))


async def app_on_host(ctx: Ctx, request: Request) -> Response:
    """Any request to a Space's own host (AGORA_SPACES_DOMAIN): its app, and nothing of the Hub."""
    rid = await space_of_label(ctx, request.scope["agora.space"])
    if rid is None:
        return not_served(404, "No Space is served at this address", ctx)
    path, exp, sig = on_host_path(request.scope)
    root = f"{serving(ctx).scheme}://{request.headers.get('host', '')}" + (f"/~{exp}.{sig}" if exp else "")
    return await serve(ctx, request, rid.namespace, rid.name, path or "", exp, sig, root)


def on_host_path(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """A Space host's request path: (the app's path, decoded; None if it is not one), and its capability
    segment's (exp, sig) when it starts with one."""
    raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?")[0]
    exp = sig = None
    if m := SIGNED.fullmatch(raw):
        exp, sig, raw = m[1], m[2], m[3] or "/"
    path = unquote(raw[1:], errors="strict") if raw.startswith("/") else None
    return path, exp, sig


_labels: dict[str, tuple[RepoId | None, float]] = {}


async def space_of_label(ctx: Ctx, label: str) -> RepoId | None:
    hit = _labels.get(label)
    if hit is None or time.monotonic() - hit[1] > LABELS_TTL:
        if len(_labels) > 10000:
            _labels.clear()
        hit = _labels[label] = (await ctx.run(spaces.by_subdomain, ctx.hub, label), time.monotonic())
    return hit[0]


async def serve(
    ctx: Ctx,
    request: Request,
    ns: str,
    name: str,
    path: str,
    exp: str | None,
    sig: str | None,
    root: str,
) -> Response:
    """A Space's app: a static Space's file from its default branch, or a gradio/streamlit app's answer
    through the proxy (waking the Space first), always in the Space's sandbox. `root` is the app's public
    address as the visitor reached it (its capability included), without the trailing slash."""
    host = spacehost.of(ctx.hub, ctx.settings)
    if exp is None and (hit := host.recent(ns, name)) is not None and not (hit[0].private or hit[0].gated):
        return await proxy(ctx).http(request, upstream(hit[1]), root, path, space_headers(ctx))
    repo = await open_app(ctx, ns, name, exp, sig)
    rt = await ctx.run(spaces.runtime, ctx.hub, repo, repo.head_sha)
    if rt.config.sdk in ("gradio", "streamlit"):
        return await proxied(ctx, request, repo, rt, path, root)
    if rt.stage != "RUNNING":
        return not_served(503, f"This Space is not running ({rt.stage}): {rt.error}", ctx)
    if request.method not in ("GET", "HEAD"):
        return not_served(405, "A static Space's files are read with GET", ctx)
    return await static_file(ctx, request, repo, rt, path)


async def open_app(ctx: Ctx, ns: str, name: str, exp: str | None, sig: str | None) -> Repo:
    """The Space, opened as an anonymous visitor (a private or gated one only through its signed path, which
    its page gives only to those past the gate: the app is never opened with the visitor's cookie)."""
    rid = RepoId("space", ns, name)
    if exp is not None:
        if not ctx.signer.check(exp, sig, "space-app", ns, name):
            raise Forbidden("This Space link has expired: open the Space's page again")
        return await ctx.run(stored_repo, ctx.hub, rid)
    repo: Repo = await ctx.run(ctx.hub.open_repo, None, rid, False, True)
    return repo


async def static_file(ctx: Ctx, request: Request, repo: Repo, rt: spaces.Runtime, path: str) -> Response:
    target = spaces.static_path(rt.config, path)
    if target is None or repo.head_sha is None:
        return not_served(404, "Not found", ctx)
    try:
        f = await ctx.run(locate, ctx.hub, lambda: repo, repo.head_sha, target, False)
    except EntryNotFound:
        return not_served(404, f"{path or '/'} is not in this Space", ctx)
    filename = target.rsplit("/", 1)[-1]
    media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if media.startswith("text/") or media in ("application/javascript", "application/json"):
        media += "; charset=utf-8"
    headers = {**file_headers(f, filename), **space_headers(ctx)}
    headers["Content-Disposition"] = "inline"
    headers["Cache-Control"] = "no-cache"  # a push changes the app at once
    rng = wire.parse_range(request.headers.get("range"), f.e.size)
    return await file_response(ctx, request, f, None if isinstance(rng, str) else rng, headers, media)


async def proxied(
    ctx: Ctx, request: Request, repo: Repo, rt: spaces.Runtime, path: str, root: str
) -> Response:
    if rt.stage in spacehost.ERRORS or rt.stage == "PAUSED":
        return not_served(503, f"This Space is not running ({rt.stage}): {rt.error}", ctx)
    host = spacehost.of(ctx.hub, ctx.settings)
    try:
        up = await ctx.run(host.wait_running, repo, float(ctx.settings.spaces.wake_wait))
    except Unavailable as exc:
        return not_served(503, exc.message, ctx)
    host.remember(repo.namespace, repo.name, repo, up)
    return await proxy(ctx).http(request, upstream(up), root, path, space_headers(ctx))


def upstream(up: spacehost.Running) -> Upstream:
    return Upstream(up.socket, up.mount)


def proxy(ctx: Ctx) -> Proxy:
    if ctx.space_proxy is None:
        ctx.space_proxy = Proxy()
    p: Proxy = ctx.space_proxy
    return p


async def app_websocket(
    ctx: Ctx,
    scope: Scope,
    receive: Receive,
    send: Send,
    ns: str,
    name: str,
    path: str,
    exp: str | None = None,
    sig: str | None = None,
) -> None:
    """A WebSocket to a gradio/streamlit Space's app (Streamlit's one connection), through the proxy."""
    try:
        repo = await open_app(ctx, ns, name, exp, sig)
        rt = await ctx.run(spaces.runtime, ctx.hub, repo, repo.head_sha)
        if rt.config.sdk not in ("gradio", "streamlit"):
            raise Unavailable("not an app that takes WebSockets")
        host = spacehost.of(ctx.hub, ctx.settings)
        up = await ctx.run(host.wait_running, repo, float(ctx.settings.spaces.wake_wait))
    except HubError:
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        return
    await websocket(scope, receive, send, upstream(up), path)


async def websocket_on_host(ctx: Ctx, scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket to a Space's own host (AGORA_SPACES_DOMAIN)."""
    rid = await space_of_label(ctx, scope["agora.space"])
    path, exp, sig = on_host_path(scope)
    if rid is None or path is None:
        await receive()
        await send({"type": "websocket.close", "code": 1008})
        return
    await app_websocket(ctx, scope, receive, send, rid.namespace, rid.name, path, exp, sig)


def space_headers(ctx: Ctx) -> dict[str, str]:
    """Every answer of a Space's app. On the Hub's origin: its own opaque origin (sandbox), framed by the
    Space page only. On its own origin (a site apart): as any site, framed by the Hub's pages."""
    if serving(ctx).domain:
        return {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
    return {
        "Content-Security-Policy": APP_CSP,
        "X-Frame-Options": "SAMEORIGIN",
        "Access-Control-Allow-Origin": "*",  # the sandboxed document's opaque origin loads its own files
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Referrer-Policy": "no-referrer",
    }


def not_served(status: int, message: str, ctx: Ctx) -> Response:
    """A plain-text answer in the app's frame (never HTML: nothing of it runs)."""
    return Response(
        message + "\n", status_code=status, media_type="text/plain; charset=utf-8", headers=space_headers(ctx)
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
    first line stamped after the answer's Date when not following). A gated Space's logs are behind its gate:
    the run log is its app's output, made from its files."""
    repo = await ctx.repo(request, RepoId("space", ns, name), download=True)
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
