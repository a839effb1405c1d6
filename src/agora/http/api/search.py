"""Discovery: listings with filters, search, sort and keyset pagination; full-text search; facets; tags by type;
likes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, NotFound, Unauthorized
from ...hub import accounts, catalog, fulltext, index
from ...hub import taxonomy as tx
from ...ids import FROM_PLURAL
from .. import wire
from ..routing import ID, Router
from .common import T, repo_json, rid_api

T_ = TypeVar("T_")
MAX_PAGE = 1000
DEFAULT_FIELDS = (
    "_id",
    "id",
    "modelId",
    "likes",
    "downloads",
    "trendingScore",
    "private",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "sdk",
)
FULL_FIELDS = DEFAULT_FIELDS + (
    "author",
    "sha",
    "lastModified",
    "gated",
    "disabled",
    "siblings",
    "cardData",
    "description",
    "citation",
    "runtime",
    "subdomain",
)


def query_from(request: Request, repo_type: str) -> index.Query:
    q = request.query_params
    return index.Query(
        repo_type=repo_type,
        search=[x for x in q.getlist("search") if x],
        author=q.get("author"),
        filters=tuple(x for x in q.getlist("filter") if x),
        pipeline_tag=q.get("pipeline_tag"),
        sort=q.get("sort") or None,
    )


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    def base(request: Request) -> str:
        return wire.base_url(request, ctx.settings.public_url)

    async def quick(fn: Callable[[], T_]) -> T_:
        """Catalog answers take a millisecond or two of CPU: run them on the event loop, where a hop to a
        worker thread costs as much again and lengthens the tail. Until the catalog is loaded (and so
        may block for seconds), in a thread."""
        if catalog.of(hub.db.engine).ready.is_set():
            return fn()
        return await ctx.run(fn)

    async def listing(request: Request, t: str) -> Response:
        who = await ctx.who(request)
        q = request.query_params
        rtype = FROM_PLURAL[t]
        query = query_from(request, rtype)
        full = wire.truthy(q.get("full"))
        with_card = wire.truthy(q.get("cardData"))
        with_config = wire.truthy(q.get("config"))
        expand = q.getlist("expand") + q.getlist("expand[]")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise BadRequest("'limit' must be an integer") from None
        page_size = min(limit, MAX_PAGE) if limit > 0 else MAX_PAGE

        plain = not (full or expand or with_card or with_config)

        def do() -> tuple[list[dict[str, Any]], str | None, int | None]:
            with hub.db.session() as s:
                ids, nxt, cat = index.find(s, who, query, page_size, q.get("cursor"))
                total = index.count(s, who, query) if wire.truthy(q.get("count")) else None
                if plain:  # the default fields come from memory: no row is read
                    return cat.summaries(ids), nxt, total
                items = []
                for r in index.rows_of(s, ids):
                    files = None
                    if full or "siblings" in expand:
                        files = hub.git(r).all_files(r.head_sha) if r.head_sha else []
                    d = repo_json(r, r.head_sha or "", files, False, None, tags=cat.tags_of(r.id))
                    if expand:
                        d = {k: v for k, v in d.items() if k in expand or k in ("id", "_id")}
                    else:
                        keep = set(FULL_FIELDS if full else DEFAULT_FIELDS)
                        if with_card:
                            keep.add("cardData")
                        if with_config:
                            keep.add("config")
                        d = {k: v for k, v in d.items() if k in keep}
                    items.append(d)
                return items, nxt, total

        items, nxt, total = await quick(do) if plain else await ctx.run(do)
        headers = wire.next_link(request, base(request), "cursor", nxt) if nxt else {}
        if total is not None:
            headers["X-Total-Count"] = str(total)
        return wire.json_response(items, headers=headers or None)

    async def facets(request: Request, t: str) -> Response:
        who = await ctx.who(request)
        query = query_from(request, FROM_PLURAL[t])

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                return {"count": index.count(s, who, query), "facets": index.facets(s, who, query)}

        return wire.json_response(await quick(do))

    async def tags_by_type(request: Request, t: str) -> Response:
        """Every tag value in use, grouped by type, plus the task vocabulary (for pickers)."""
        who = await ctx.who(request)
        rtype = "model" if t == "models" else "dataset"

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                groups = index.facets(s, who, index.Query(rtype, []), per_group=10_000)
            out: dict[str, Any] = {
                g: [{"id": x["tag"], "label": x["tag"].split(":", 1)[-1], "type": g} for x in items]
                for g, items in groups.items()
            }
            if rtype == "model":
                out["pipeline_tag"] = [
                    {
                        "id": task,
                        "label": task.replace("-", " ").title(),
                        "type": "pipeline_tag",
                        "subType": tx.DOMAIN_OF[task],
                    }
                    for task in tx.TASKS
                ]
            return out

        return wire.json_response(await ctx.run(do))

    async def like(request: Request, t: str, ns: str, name: str) -> Response:
        who = await ctx.who(request)
        if who is None:
            raise Unauthorized("You must be logged in to like a repo")

        def do() -> None:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
                index.set_like(s, who, repo, request.method == "POST")

        await ctx.run(do)
        return wire.json_response({})

    async def likers(request: Request, t: str, ns: str, name: str) -> Response:
        who = await ctx.who(request)

        def do() -> list[dict[str, Any]]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
                return [
                    {
                        "user": a.name,
                        "fullname": a.fullname,
                        "type": "user",
                        "avatarUrl": f"{base(request)}/avatars/{a.name}",
                    }
                    for a in index.likers(s, repo)
                ]

        return wire.json_response(await ctx.run(do))

    async def user_likes(request: Request, user: str) -> Response:
        who = await ctx.who(request)

        def do() -> list[dict[str, Any]]:
            with hub.db.session() as s:
                acc = accounts.get_account(s, user)
                if acc is None or acc.kind != "user":
                    raise NotFound(f"User {user!r} not found")
                return [
                    {"repo": {"name": f"{r.namespace}/{r.name}", "type": r.type}, "createdAt": None}
                    for r in index.liked_by(s, who, acc)
                ]

        return wire.json_response(await ctx.run(do))

    async def full_text(request: Request) -> Response:
        """Ranked search over repo ids, tags and card text (what `?search=` on the listings, an id substring
        as on the Hub, does not do): {"q", "results": [{id, type, likes, downloads, pipeline_tag, tags, snippet}]}."""
        q = request.query_params
        words = fulltext.parse_query(q.get("q"))
        rtype = fulltext.parse_type(q.get("type"))
        limit = fulltext.parse_limit(q.get("limit"))
        who = await ctx.who(request)
        if not words:
            return wire.json_response({"q": words, "results": []})

        def do() -> list[dict[str, Any]]:
            with hub.db.session() as s:
                return [h.json() for h in fulltext.search(s, who, rtype, words, limit)]

        return wire.json_response({"q": words, "results": await ctx.run(do)})

    router.add("GET", "/api/search/full-text", full_text)
    router.add("GET", f"/api/{T}", listing)
    router.add("GET", f"/api/{T}/facets", facets)
    router.add("GET", r"/api/(?P<t>models|datasets)-tags-by-type", tags_by_type)
    router.add("POST DELETE", f"/api/{T}/{ID}/like", like)
    router.add("GET", f"/api/{T}/{ID}/likers", likers)
    router.add("GET", r"/api/users/(?P<user>[^/]+)/likes", user_likes)
