"""The browser UI: server-rendered pages (Jinja2 + htmx), mounted after the API and git routes."""

from __future__ import annotations

import functools
import mimetypes
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ...errors import (
    Conflict,
    EntryNotFound,
    Forbidden,
    HubError,
    NotFound,
    RepoNotFound,
    RevisionNotFound,
    TooLarge,
)
from .. import wire
from ..routing import Router
from . import account, browse, collections, community, edit, files, viewer
from .base import HERE, LoginRequired, Web


class _WebRoutes:
    """Registers page handlers wrapped so that domain errors become pages, not JSON."""

    def __init__(self, router: Router, web: Web) -> None:
        self.router = router
        self.web = web

    def add(self, methods: str, pattern: str, handler: Any) -> None:
        web = self.web

        @functools.wraps(handler)
        async def wrapped(request: Request, **params: Any) -> Response:
            try:
                if request.method in ("GET", "HEAD"):
                    moved = await web.canonical_path(request, params)
                    if moved is not None:  # /ALICE/PM -> /alice/pm: one name, one spelling in the address bar
                        return RedirectResponse(moved, status_code=302)
                return await handler(request, **params)
            except LoginRequired:
                return web.redirect(f"/login?next={quote(request.url.path)}")
            except (RepoNotFound, RevisionNotFound, EntryNotFound, NotFound) as e:
                return await web.not_found(
                    request,
                    e.message
                    if not isinstance(e, RepoNotFound)
                    else "Sorry, we can't find the page you are looking for.",
                )
            except HubError as e:
                if (
                    request.headers.get("content-type", "").startswith("application/json")
                    or request.method == "PUT"
                    or request.headers.get("x-csrf-token")
                ):
                    return wire.hub_error(e)
                status = (
                    403
                    if isinstance(e, Forbidden)
                    else 409
                    if isinstance(e, Conflict)
                    else 413
                    if isinstance(e, TooLarge)
                    else 400
                )
                return await web.page(
                    request, "message.html", status=status, title="That didn't work", message=e.message
                )

        self.router.add(methods, pattern, wrapped)


def mount(router: Router, ctx: Any) -> None:
    web = Web(ctx)
    ctx.browser_who = web.who  # /resolve opens a private file for a logged-in visitor (api/files.py)
    routes = _WebRoutes(router, web)
    static_root = (HERE / "static").resolve()

    async def static(request: Request, path: str) -> Response:
        try:
            target = (static_root / path).resolve()
            found = str(target).startswith(str(static_root)) and target.is_file()
        except (OSError, ValueError):  # a NUL, a name too long for the file system
            found = False
        if not found:
            return await web.not_found(request)
        return FileResponse(
            target,
            media_type=mimetypes.guess_type(target.name)[0],
            headers={"Cache-Control": "public, max-age=3600"},
        )

    async def css(request: Request) -> Response:
        from .render import PYGMENTS_CSS

        return Response(
            PYGMENTS_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    router.add("GET", r"/static/pygments\.css", css)
    router.add("GET", r"/static/(?P<path>.+)", static)
    account_routes: list[tuple[str, str, Any]] = []

    class _Defer:
        def add(self, methods: str, pattern: str, handler: Any) -> None:
            account_routes.append((methods, pattern, handler))

    account.mount(_Defer(), web)
    profile = [r for r in account_routes if r[1] == r"/(?P<name>[^/]+)"]
    for r in account_routes:
        if r not in profile:
            routes.add(*r)
    collections.mount(routes, web)  # /collections/{owner}/{slug}: before the /{ns}/{name} patterns
    viewer.mount(routes, web)  # the dataset viewer fragment (/datasets/{id}/viewer) and its media cells
    files.mount(routes, web)
    edit.mount(routes, web)
    community.mount(routes, web)
    browse.mount(routes, web)
    for r in profile:
        routes.add(*r)

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        if "text/html" in request.headers.get("accept", ""):
            response = await web.not_found(request)
        else:
            response = wire.error(404, "NotFound", f"Not found: {request.url.path}")
        await response(scope, receive, send)

    router.fallback = fallback
