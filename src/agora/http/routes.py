"""The one route table: every URL the server answers, in the order the router tries them.

Order matters where patterns overlap: the API and git routes come first, then the pages, whose catch-all
patterns (`/{ns}/{name}`, and last the profile `/{name}`) would otherwise swallow them. Handlers are
module-level functions: `api(...)` entries are called as `handler(ctx, request, **params)`, `page(...)`
entries as `handler(web, request, **params)` inside the page wrapper (domain errors become HTML pages,
http/web/__init__.py). Captured path segments arrive percent-decoded (http/routing.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .context import Ctx
from .routing import Router


@dataclass(frozen=True)
class Entry:
    kind: Literal["api", "page"]
    methods: str
    pattern: str
    handler: Callable[..., Any]
    host_prefix: str | None = None


@dataclass(frozen=True)
class Mounted:
    """A module that still registers its routes itself (being moved into this table)."""

    mount: Callable[[Router, Ctx], None]


@dataclass(frozen=True)
class WebMounted:
    """A page module that still registers its routes itself (being moved into this table)."""

    mount: Callable[..., None]


def api(methods: str, pattern: str, handler: Callable[..., Any], host_prefix: str | None = None) -> Entry:
    return Entry("api", methods, pattern, handler, host_prefix)


def page(methods: str, pattern: str, handler: Callable[..., Any]) -> Entry:
    return Entry("page", methods, pattern, handler)


def table() -> list[Entry | Mounted | WebMounted]:
    from . import git, metrics, web
    from .api import collections, commits, discussions, files, lfs, repos, search, viewer, xet
    from .api.common import T
    from .routing import ID as AID  # the API's repo id: its name is matched lazily
    from .web import browse, community, edit
    from .web import collections as collections_pages
    from .web import files as file_pages
    from .web import viewer as viewer_pages
    from .web.base import ID, P

    return [
        # ---- the Hub API (api/), git and LFS over HTTP, Xet, the dataset viewer API, metrics ----------
        Mounted(repos.mount),
        Mounted(search.mount),
        Mounted(files.mount),
        api("POST", f"/api/{T}/{AID}/preupload/(?P<rev>[^/]+)", commits.preupload),
        api("POST", f"/api/{T}/{AID}/commit/(?P<rev>[^/]+)", commits.commit),
        api("GET", f"/api/{T}/{AID}/commits/(?P<rev>[^/]+)", commits.history),
        api("GET", f"/api/{T}/{AID}/refs", commits.refs),
        api("POST DELETE", f"/api/{T}/{AID}/branch/(?P<branch>.+)", commits.branch),
        api("POST DELETE", f"/api/{T}/{AID}/tag/(?P<rev>.+)", commits.tag),
        Mounted(discussions.mount),
        Mounted(collections.mount),
        Mounted(lfs.mount),
        Mounted(git.mount),
        Mounted(xet.mount),
        Mounted(viewer.mount),
        Mounted(metrics.mount),
        # ---- the pages (web/): last, their catch-all patterns come after the API's ----------------------
        page("GET", r"/static/pygments\.css", web.pygments_css),
        page("GET", r"/static/(?P<path>.+)", web.static),
        WebMounted(web.mount_account),
        WebMounted(collections_pages.mount),  # /collections/{owner}/{slug}: before the /{ns}/{name} patterns
        WebMounted(viewer_pages.mount),  # the dataset viewer fragment (/datasets/{id}/viewer), media cells
        WebMounted(file_pages.mount),
        page("GET", f"/{P}{ID}/upload/(?P<rev>[^/]+)", edit.upload_page),
        page("PUT", f"/{P}{ID}/upload-blob", edit.upload_blob),
        page("POST", f"/{P}{ID}/upload/(?P<rev>[^/]+)", edit.upload_commit),
        page("GET POST", f"/{P}{ID}/edit/(?P<rev>[^/]+)/(?P<path>.+)", edit.edit),
        page("GET POST", f"/{P}{ID}/new/(?P<rev>[^/]+)", edit.edit),
        page("POST", f"/{P}{ID}/delete/(?P<rev>[^/]+)/(?P<path>.+)", edit.delete_file),
        page("GET POST", f"/{P}{ID}/settings", edit.settings),
        page("POST", f"/{P}{ID}/like", edit.like),
        page("GET", rf"/{P}{ID}/discussions", community.discussions),
        WebMounted(browse.mount),  # the repo pages
        WebMounted(web.mount_profile),  # /{name}: the last pattern
    ]


def build(ctx: Ctx) -> Router:
    """The router of `ctx`'s server: the table above, each handler bound to its context."""
    from .web import WebRoutes, page_handler
    from .web.base import Web

    router = Router()
    web = Web(ctx)
    ctx.browser_who = web.who
    for e in table():
        if isinstance(e, Mounted):
            e.mount(router, ctx)
        elif isinstance(e, WebMounted):
            e.mount(WebRoutes(router, web), web)
        elif e.kind == "api":
            router.add(e.methods, e.pattern, functools.partial(e.handler, ctx), e.host_prefix)
        else:
            router.add(e.methods, e.pattern, page_handler(web, functools.partial(e.handler, web)))
    router.fallback = web.fallback
    return router
