"""Collections (docs/wire.md §13): list, get, create, update, delete, and their items.

Wire details the client depends on:
- GET of one collection carries `position`; listed collections must not (the client adds its own
  `position=i` and a second one is a TypeError).
- A 409 on create carries the existing collection's `slug`: create_collection(exists_ok=True) reads it.
- PATCH of a collection answers `{"data": Collection}`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Conflict, Unauthorized
from ...hub import collections as colls
from ...hub.accounts import Account
from ...ids import repo_full
from .. import wire
from ..context import Ctx
from .common import int_param, json_body

SLUG = r"(?P<slug>[^/]+/[^/]+)"
PAGE = 100


def owner_json(name: str, acc: Account | None) -> dict[str, Any]:
    kind = acc.kind if acc else "user"
    return {
        "_id": f"{acc.id if acc else 0:024x}",
        "name": name,
        "fullname": (acc.fullname if acc else "") or name,
        "type": "org" if kind == "org" else "user",
    }


def item_json(it: colls.Item, position: int) -> dict[str, Any]:
    """`position` is the item's place among the items this reader sees (0..n-1), never the stored one:
    gaps in stored positions would tell where hidden private repos sit."""
    repo = it.repo
    d: dict[str, Any] = {"_id": f"{it.row.id:024x}", "type": it.kind, "position": position}
    if repo is not None:
        d.update(
            id=repo_full(repo.namespace, repo.name),
            author=repo.namespace or None,
            repoType=repo.type,
            private=repo.private,
            likes=repo.likes,
            downloads=repo.downloads,
            lastModified=wire.iso(repo.updated_at),
        )
    elif it.target is not None:  # the client reads `slug` as the item's id
        t = it.target
        d.update(
            id=t.uid, slug=colls.slug_of(t), title=t.title, owner=t.owner, lastUpdated=wire.iso(t.updated_at)
        )
    else:
        d.update(id=it.row.paper_id, title=f"arXiv:{it.row.paper_id}")
    if it.row.note:
        d["note"] = {"text": it.row.note, "html": it.row.note}
    return d


def collection_json(v: colls.Shown, with_position: bool) -> dict[str, Any]:
    c = v.collection
    d: dict[str, Any] = {
        "_id": c.uid,
        "slug": colls.slug_of(c),
        "title": c.title,
        "description": c.description,
        "owner": owner_json(c.owner, v.owner),
        "items": [item_json(it, i) for i, it in enumerate(v.items)],
        "lastUpdated": wire.iso(c.updated_at),
        "private": c.private,
        "theme": c.theme,
        "upvotes": c.upvotes,
        "isUpvotedByUser": False,
        "gating": False,
    }
    if with_position:
        d["position"] = c.position
    return d


def _int(value: str | None, what: str, default: int) -> int:
    return int_param(value, default, what, 0, None, "must not be negative")


async def listing(ctx: Ctx, request: Request) -> Response:
    who = await ctx.who(request)
    q = request.query_params
    owners = [o for o in q.getlist("owner") if o]
    items = [i for i in q.getlist("item") if i]
    if len(items) > 1:
        raise BadRequest("Filter on one item at a time")
    item = colls.parse_item_ref(items[0]) if items else None
    limit = min(_int(q.get("limit"), "limit", PAGE) or PAGE, PAGE)
    offset = _int(q.get("cursor"), "cursor", 0)
    rows, more = await ctx.run(
        colls.shown_page, ctx.hub, who, colls.Query(owners, item, q.get("sort"), offset, limit)
    )
    headers = None
    if more:
        headers = wire.next_link(request, ctx.base_url(request), "cursor", str(offset + limit))
    return wire.json_response([collection_json(v, with_position=False) for v in rows], headers=headers)


async def get(ctx: Ctx, request: Request, slug: str) -> Response:
    who = await ctx.who(request)
    v = await ctx.run(colls.shown, ctx.hub, who, slug)
    return wire.json_response(collection_json(v, with_position=True))


async def create(ctx: Ctx, request: Request) -> Response:
    who = await ctx.who(request)
    if who is None:
        raise Unauthorized("You must be authenticated to create a collection")
    body = await json_body(request)
    namespace = body.get("namespace") or who.name
    if not isinstance(namespace, str):
        raise BadRequest("'namespace' must be a string")
    title, description, private = body.get("title"), body.get("description") or "", bool(body.get("private"))
    try:
        v = await ctx.run(colls.create_shown, ctx.hub, who, namespace, title, description, private)
    except Conflict as e:
        existing = e.extra["collection"]
        return wire.hub_error(e, body={"slug": colls.slug_of(existing)})  # type: ignore[arg-type]
    return wire.json_response(collection_json(v, with_position=True))


async def update(ctx: Ctx, request: Request, slug: str) -> Response:
    who = await ctx.who(request)
    body = await json_body(request)
    fields = {k: body.get(k) for k in ("title", "description", "private", "theme", "position")}
    v = await ctx.run(colls.update_shown, ctx.hub, who, slug, fields)
    return wire.json_response({"success": True, "data": collection_json(v, with_position=True)})


async def delete(ctx: Ctx, request: Request, slug: str) -> Response:
    who = await ctx.who(request)
    await ctx.run(colls.delete_collection, ctx.hub, who, slug)
    return wire.json_response({"success": True})


async def add_item(ctx: Ctx, request: Request, slug: str) -> Response:
    who = await ctx.who(request)
    body = await json_body(request)
    item = body.get("item")
    if not isinstance(item, dict):
        raise BadRequest("Expected {'item': {'id': ..., 'type': ...}}")
    v = await ctx.run(
        colls.add_item_shown, ctx.hub, who, slug, item.get("type"), item.get("id"), body.get("note")
    )
    return wire.json_response(collection_json(v, with_position=True))


async def update_item(ctx: Ctx, request: Request, slug: str, oid: str) -> Response:
    who = await ctx.who(request)
    body = await json_body(request, required=False)
    await ctx.run(colls.update_item_in, ctx.hub, who, slug, oid, body.get("note"), body.get("position"))
    return wire.json_response({"success": True})


async def delete_item(ctx: Ctx, request: Request, slug: str, oid: str) -> Response:
    who = await ctx.who(request)
    await ctx.run(colls.delete_item_in, ctx.hub, who, slug, oid)
    return wire.json_response({"success": True})
