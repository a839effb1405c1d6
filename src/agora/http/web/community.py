"""The Community tab: discussions and pull requests of a repo (refs/pr/N for PRs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, select
from starlette.requests import Request
from starlette.responses import Response

from ...db.models import Discussion
from ...hub import accounts
from .base import ID, P, Web
from .files import rid_of


def mount(router: Any, web: Web) -> None:
    hub = web.hub

    async def discussions(request: Request, p: str | None, ns: str, name: str) -> Response:
        who = await web.who(request)

        def load() -> dict[str, Any]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_of(p, ns, name))
                rows = list(
                    s.scalars(
                        select(Discussion).where(Discussion.repo_id == repo.id).order_by(desc(Discussion.num))
                    )
                )
                return {
                    "repo": repo,
                    "rows": rows,
                    "rid": rid_of(p, ns, name),
                    "can_write": accounts.can_write(s, who, repo),
                }

        return await web.page(request, "community.html", tab="community", **await web.run(load))

    router.add("GET", f"/{P}{ID}/discussions", discussions)
