"""The results page of the header's search box (`/search?q=`): what `/api/quicksearch` suggests while typing,
grouped by type (models, datasets, Spaces, users, organizations, collections), each group with its count and
a link to the full list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...hub import quicksearch as qs
from ...hub.collections import slug_of
from ...ids import REPO_TYPES
from .base import Web

PER_TYPE = 20  # items shown in each group; the full lists hold the rest


async def results(web: Web, request: Request) -> Response:
    who = await web.who(request)
    q = qs.parse_query(request.query_params.get("q"))
    found = await web.run(qs.search_in, web.hub, who, q, qs.TYPES, PER_TYPE)
    return await web.page(
        request,
        "search.html",
        q=q,
        found=found,
        repo_types=REPO_TYPES,
        collection_slug=slug_of,
    )
