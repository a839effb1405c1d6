"""Discovery: listings with filters, search, sort and keyset pagination; full-text search; facets; tags by type;
likes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Unauthorized
from ...hub import fulltext, index, tagnames
from ...hub import taxonomy as tx
from ...hub.accounts import Principal
from ...hub.repos import Hub, Repo
from ...ids import FROM_PLURAL, repo_full
from .. import wire
from ..context import Ctx
from .common import repo_json, rid_api

T_ = TypeVar("T_")
P_ = ParamSpec("P_")
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
        filters=tuple(x for x in q.getlist("filter") if x)
        + language_filters(q.getlist("language"), repo_type),
        pipeline_tag=q.get("pipeline_tag"),
        sort=q.get("sort") or None,
    )


def language_filters(values: list[str], repo_type: str) -> tuple[str, ...]:
    """`?language=` (an Agora extension; huggingface_hub sends `filter=language:es`): a language by name or
    by any of its codes ("Spanish", "spa", "es"), as the tag the cards make: `es` on a model, `language:es`
    on a dataset. A value that names no language is a filter on that exact value (it matches nothing)."""
    out = []
    for v in values:
        v = v.strip()
        if v:
            code = tagnames.language_code(v.removeprefix("language:")) or v
            out.append(code if repo_type != "dataset" else f"language:{code.removeprefix('language:')}")
    return tuple(out)


async def quick(ctx: Ctx, fn: Callable[P_, T_], *args: P_.args, **kwargs: P_.kwargs) -> T_:
    """Catalog answers take a millisecond or two of CPU: run them on the event loop, where a hop to a
    worker thread costs as much again and lengthens the tail. Until the catalog is loaded (and so
    may block for seconds), in a thread."""
    if index.catalog_ready(ctx.hub):
        return fn(*args, **kwargs)
    return await ctx.run(fn, *args, **kwargs)


class Shape:
    """What a listing's items carry beyond the default fields: `full`, `expand` (only those), `cardData`,
    `config`."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        self.full = wire.truthy(q.get("full"))
        self.with_card = wire.truthy(q.get("cardData"))
        self.with_config = wire.truthy(q.get("config"))
        self.expand = q.getlist("expand") + q.getlist("expand[]")
        self.plain = not (self.full or self.expand or self.with_card or self.with_config)

    def keep(self) -> set[str]:
        keep = set(FULL_FIELDS if self.full else DEFAULT_FIELDS)
        if self.with_card:
            keep.add("cardData")
        if self.with_config:
            keep.add("config")
        return keep

    def item(self, hub: Hub, r: Repo, page: index.Listed) -> dict[str, Any]:
        """Runs in a worker thread (siblings read git)."""
        files = None
        if self.full or "siblings" in self.expand:
            files = hub.git(r).all_files(r.head_sha) if r.head_sha else []
        d = repo_json(r, r.head_sha or "", files, False, None, tags=page.catalog.tags_of(r.id))
        if self.expand:
            return {k: v for k, v in d.items() if k in self.expand or k in ("id", "_id")}
        keep = self.keep()
        return {k: v for k, v in d.items() if k in keep}


def page_size(request: Request) -> int:
    try:
        limit = int(request.query_params.get("limit") or 0)
    except ValueError:
        raise BadRequest("'limit' must be an integer") from None
    return min(limit, MAX_PAGE) if limit > 0 else MAX_PAGE


def full_listing(
    hub: Hub,
    who: Principal | None,
    query: index.Query,
    size: int,
    cursor: str | None,
    count: bool,
    shape: Shape,
) -> tuple[list[dict[str, Any]], index.Listed]:
    """A listing with more than the default fields: the rows, then their git files where asked."""
    page = index.listed(hub, who, query, size, cursor, count, False)
    return [shape.item(hub, r, page) for r in page.rows], page


async def listing(ctx: Ctx, request: Request, t: str) -> Response:
    who = await ctx.who(request)
    q = request.query_params
    query = query_from(request, FROM_PLURAL[t])
    shape = Shape(request)
    size = page_size(request)
    cursor, count = q.get("cursor"), wire.truthy(q.get("count"))
    if shape.plain:
        page = await quick(ctx, index.listed, ctx.hub, who, query, size, cursor, count, True)
        items = page.summaries or []
    else:
        items, page = await ctx.run(full_listing, ctx.hub, who, query, size, cursor, count, shape)
    headers = wire.next_link(request, ctx.base_url(request), "cursor", page.next) if page.next else {}
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    return wire.json_response(items, headers=headers or None)


async def facets(ctx: Ctx, request: Request, t: str) -> Response:
    who = await ctx.who(request)
    query = query_from(request, FROM_PLURAL[t])
    n, groups = await quick(ctx, index.count_and_facets, ctx.hub, who, query)
    return wire.json_response({"count": n, "facets": groups})


def tag_type_label(group: str, tag: str) -> str:
    """A tag's label in `*-tags-by-type`: its value, named (a language code as its name, a task as its
    title)."""
    return tagnames.value_name(group, tag.split(":", 1)[-1])


async def tags_by_type(ctx: Ctx, request: Request, t: str) -> Response:
    """Every tag value in use, grouped by type, plus the task vocabulary (for pickers)."""
    who = await ctx.who(request)
    rtype = "model" if t == "models" else "dataset"
    groups = await ctx.run(index.tag_groups, ctx.hub, who, rtype)
    out: dict[str, Any] = {
        g: [{"id": x["tag"], "label": tag_type_label(g, x["tag"]), "type": g} for x in items]
        for g, items in groups.items()
    }
    if rtype == "model":
        out["pipeline_tag"] = [
            {
                "id": task,
                "label": tagnames.task_name(task),
                "type": "pipeline_tag",
                "subType": tx.DOMAIN_OF[task],
            }
            for task in tx.TASKS
        ]
    return wire.json_response(out)


async def like(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    who = await ctx.who(request)
    if who is None:
        raise Unauthorized("You must be logged in to like a repo")
    await ctx.run(index.toggle_like, ctx.hub, who, rid_api(t, ns, name), request.method == "POST")
    return wire.json_response({})


async def likers(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    who = await ctx.who(request)
    rows = await ctx.run(index.repo_likers, ctx.hub, who, rid_api(t, ns, name))
    base = ctx.base_url(request)
    return wire.json_response(
        [
            {"user": a.name, "fullname": a.fullname, "type": "user", "avatarUrl": f"{base}/avatars/{a.name}"}
            for a in rows
        ]
    )


async def user_likes(ctx: Ctx, request: Request, user: str) -> Response:
    who = await ctx.who(request)
    rows = await ctx.run(index.user_likes, ctx.hub, who, user)
    return wire.json_response(
        [{"repo": {"name": repo_full(r.namespace, r.name), "type": r.type}, "createdAt": None} for r in rows]
    )


async def full_text(ctx: Ctx, request: Request) -> Response:
    """Ranked search over repo ids, tags and card text (what `?search=` on the listings, an id substring
    as on the Hub, does not do): {"q", "results": [{id, type, likes, downloads, pipeline_tag, tags, snippet}]}."""
    q = request.query_params
    words = fulltext.parse_query(q.get("q"))
    rtype = fulltext.parse_type(q.get("type"))
    limit = fulltext.parse_limit(q.get("limit"))
    who = await ctx.who(request)
    if not words:
        return wire.json_response({"q": words, "results": []})
    hits = await ctx.run(fulltext.search_in, ctx.hub, who, rtype, words, limit)
    return wire.json_response({"q": words, "results": [h.json() for h in hits]})
