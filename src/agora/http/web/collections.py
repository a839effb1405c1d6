"""The collection page (/collections/{owner}/{slug}): its items as repo cards, in the owner's order."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...hub import accounts
from ...hub import collections as colls
from .base import Web


def mount(router: Any, web: Web) -> None:
    hub = web.hub

    async def page(request: Request, slug: str) -> Response:
        who = await web.who(request)

        def load() -> dict[str, Any]:
            with hub.db.session() as s:
                c = colls.get(s, who, slug)  # CollectionNotFound -> the 404 page
                return {"collection": c, "slug": colls.slug_of(c), "items": colls.items(s, who, c),
                        "can_write": accounts.can_write_namespace(s, who, c.owner)}
        return await web.page(request, "collection.html", **await web.run(load))

    router.add("GET", r"/collections/(?P<slug>[^/]+/[^/]+)", page)
