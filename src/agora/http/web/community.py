"""The Community tab: discussions and pull requests of a repo (refs/pr/N for PRs)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...hub import discussions as hub_discussions
from .base import Web, rid_of


async def discussions(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    who = await web.who(request)
    rid = rid_of(p, ns, name)
    tab = await web.run(hub_discussions.repo_discussions, web.hub, who, rid)
    return await web.page(
        request,
        "community.html",
        tab="community",
        repo=tab.repo,
        rows=tab.rows,
        rid=rid,
        can_write=tab.can_write,
    )
