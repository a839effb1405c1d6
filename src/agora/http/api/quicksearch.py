"""`GET /api/quicksearch?q=&type=&limit=`: the Hub's one search over every kind of thing, which the header's
search box suggests from while typing (docs/wire.md §5a). The answer is the Hub's shape: a list and a count
per type, with the repos' `id`, the users' `user` and the orgs' `name` (plus full name and avatar)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...hub import quicksearch as qs
from ...hub.accounts import Principal
from ...hub.collections import slug_of
from ...ids import repo_full
from .. import wire
from ..context import Ctx
from .avatars import avatar_url


async def visitor(ctx: Ctx, request: Request) -> Principal | None:
    """The token's owner, or the logged-in browser's user (the header's suggestions are fetched with the
    session cookie, so a user's private repos are suggested to them)."""
    who = await ctx.who(request)
    if who is None and ctx.browser_who is not None and request.cookies:
        who = await ctx.browser_who(request)
    return who


def answer(found: qs.Found, base: str) -> dict[str, Any]:
    """The Hub's quicksearch JSON for `found`: `{q, models, modelsCount, datasets, ..., users, orgs,
    collections, collectionsCount}`, with only the types asked for."""
    out: dict[str, Any] = {"q": found.q}
    for t, got in found.repos.items():
        key = t + "s"  # models, datasets, spaces
        out[key] = [
            {"_id": f"{r.id:024x}", "id": repo_full(r.namespace, r.name), "private": r.private, "match": m}
            for rows, m in ((got.by_name, "id"), (got.by_card, "card"))
            for r in rows
        ]
        out[key + "Count"] = got.count
    for key, name_key, people in (("users", "user", found.users), ("orgs", "name", found.orgs)):
        if people is not None:  # the Hub names a user's name `user` and an org's `name`
            out[key] = [
                {
                    "_id": f"{a.id:024x}",
                    name_key: a.name,
                    "fullname": a.fullname,
                    "avatarUrl": avatar_url(base, a.name),
                }
                for a in people.rows
            ]
            out[key + "Count"] = people.count
    if found.collections is not None:
        out["collections"] = [
            {
                "_id": c.uid,
                "slug": slug_of(c),
                "title": c.title,
                "description": c.description,
                "owner": c.owner,
                "private": c.private,
            }
            for c in found.collections.rows
        ]
        out["collectionsCount"] = found.collections.count
    if "paper" in found.types:
        out["papers"], out["papersCount"] = [], 0
    return out


async def quicksearch(ctx: Ctx, request: Request) -> Response:
    params = request.query_params
    q = qs.parse_query(params.get("q"))
    types = qs.parse_types(params.getlist("type"))
    limit = qs.parse_limit(params.get("limit"))
    who = await visitor(ctx, request)
    found = await ctx.run(qs.search_in, ctx.hub, who, q, types, limit)
    return wire.json_response(answer(found, ctx.base_url(request)))
