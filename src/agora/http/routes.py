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


def api(methods: str, pattern: str, handler: Callable[..., Any], host_prefix: str | None = None) -> Entry:
    return Entry("api", methods, pattern, handler, host_prefix)


def page(methods: str, pattern: str, handler: Callable[..., Any]) -> Entry:
    return Entry("page", methods, pattern, handler)


def table() -> list[Entry | Mounted]:
    from . import git, metrics, web
    from .api import collections, commits, discussions, files, lfs, repos, search, viewer, xet
    from .web import community
    from .web.base import ID, P

    return [
        # ---- the Hub API (api/), git and LFS over HTTP, Xet, the dataset viewer API, metrics ----------
        Mounted(repos.mount),
        Mounted(search.mount),
        Mounted(files.mount),
        Mounted(commits.mount),
        Mounted(discussions.mount),
        Mounted(collections.mount),
        Mounted(lfs.mount),
        Mounted(git.mount),
        Mounted(xet.mount),
        Mounted(viewer.mount),
        Mounted(metrics.mount),
        # ---- the pages (web/): last, their catch-all patterns come after the API's ----------------------
        Mounted(web.mount),  # static files, account pages, collections, viewer, files, edit (moving here)
        page("GET", rf"/{P}{ID}/discussions", community.discussions),
        Mounted(web.mount_browse),  # the repo pages and the profile page, last
    ]


def build(ctx: Ctx) -> Router:
    """The router of `ctx`'s server: the table above, each handler bound to its context."""
    from .web import page_handler
    from .web.base import Web

    router = Router()
    web = Web(ctx)
    ctx.browser_who = web.who
    for e in table():
        if isinstance(e, Mounted):
            e.mount(router, ctx)
        elif e.kind == "api":
            router.add(e.methods, e.pattern, functools.partial(e.handler, ctx), e.host_prefix)
        else:
            router.add(e.methods, e.pattern, page_handler(web, functools.partial(e.handler, web)))
    if router.fallback is None:
        router.fallback = web.fallback
    return router
