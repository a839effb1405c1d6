"""The browser UI: server-rendered pages (Jinja2 + htmx), mounted after the API and git routes."""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ...errors import (
    Conflict,
    EntryNotFound,
    Forbidden,
    GatedRepo,
    HubError,
    InsufficientStorage,
    NotFound,
    RepoMoved,
    RepoNotFound,
    RevisionNotFound,
    TooLarge,
)
from .. import wire
from ..routing import Handler
from .base import HERE, LoginRequired, Web


def page_handler(web: Web, handler: Callable[..., Awaitable[Response]]) -> Handler:
    """A page handler wrapped so that domain errors become pages, not JSON, and a page addressed by another
    case of its name redirects to the stored spelling."""

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
        except RepoMoved as e:  # a repo's old name: its page at the new one
            return wire.moved(request, e) if wire.moved_to(request, e) else await web.not_found(request)
        except (RepoNotFound, RevisionNotFound, EntryNotFound, NotFound) as e:
            return await web.not_found(
                request,
                e.message
                if not isinstance(e, RepoNotFound)
                else "Sorry, we can't find the page you are looking for.",
            )
        except HubError as e:
            return await _error_page(web, request, e)

    return wrapped


async def _error_page(web: Web, request: Request, e: HubError) -> Response:
    """A page's HubError: the wire answer to a script (JSON, PUT, htmx), else a message page. A gated repo's
    file (its page, its editor) answers as a download does: 401 / 403 with X-Error-Code GatedRepo."""
    if (
        request.headers.get("content-type", "").startswith("application/json")
        or request.method == "PUT"
        or request.headers.get("x-csrf-token")
    ):
        return wire.hub_error(e)
    gated = isinstance(e, GatedRepo)
    page = await web.page(
        request,
        "message.html",
        status=wire.status_of(e) if gated else _STATUS.get(type(e), 400),
        title="Access to this file is restricted" if gated else "That didn't work",
        message=e.message,
        **({"back": e.extra.get("page"), "back_text": "Ask for access on the repo page"} if gated else {}),
    )
    if gated:
        page.headers["X-Error-Code"] = e.code
    return page


_STATUS: dict[type[HubError], int] = {Forbidden: 403, Conflict: 409, TooLarge: 413, InsufficientStorage: 507}


STATIC_ROOT = (HERE / "static").resolve()


async def static(web: Web, request: Request, path: str) -> Response:
    try:
        target = (STATIC_ROOT / path).resolve()
        found = str(target).startswith(str(STATIC_ROOT)) and target.is_file()
    except (OSError, ValueError):  # a NUL, a name too long for the file system
        found = False
    if not found:
        return await web.not_found(request)
    return FileResponse(
        target,
        media_type=mimetypes.guess_type(target.name)[0],
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def favicon(web: Web, request: Request) -> Response:
    """`/favicon.ico`: the app's icon (pages link static/favicon.svg; this answers the browsers and tools
    that ask for the classic address)."""
    return FileResponse(
        STATIC_ROOT / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def pygments_css(web: Web, request: Request) -> Response:
    from .render import PYGMENTS_CSS

    return Response(PYGMENTS_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
