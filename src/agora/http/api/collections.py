"""Collections (docs/wire.md §13): list, get, create, update, delete, and their items.

Wire details the client depends on:
- GET of one collection carries `position`; listed collections must not (the client adds its own
  `position=i` and a second one is a TypeError).
- A 409 on create carries the existing collection's `slug`: create_collection(exists_ok=True) reads it.
- PATCH of a collection answers `{"data": Collection}`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from ...db.models import Collection
from ...errors import BadRequest, Conflict, Unauthorized
from ...hub import accounts
from ...hub import collections as colls
from .. import wire
from ..routing import Router
from .common import json_body

SLUG = r"(?P<slug>[^/]+/[^/]+)"
PAGE = 100


def owner_json(s: Session, name: str) -> dict[str, Any]:
    acc = accounts.get_account(s, name)
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
    d: dict[str, Any] = {
        "_id": f"{it.row.id:024x}",
        "id": f"{repo.namespace}/{repo.name}",
        "type": repo.type,
        "position": position,
        "author": repo.namespace,
        "repoType": repo.type,
        "private": repo.private,
        "likes": repo.likes,
        "downloads": repo.downloads,
        "lastModified": wire.iso(repo.updated_at),
    }
    if it.row.note:
        d["note"] = {"text": it.row.note, "html": it.row.note}
    return d


def collection_json(s: Session, who: Any, c: Collection, with_position: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "_id": c.uid,
        "slug": colls.slug_of(c),
        "title": c.title,
        "description": c.description,
        "owner": owner_json(s, c.owner),
        "items": [item_json(it, i) for i, it in enumerate(colls.items(s, who, c))],
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
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"{what} must be an integer") from None
    if n < 0:
        raise BadRequest(f"{what} must not be negative")
    return n


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    def in_session(fn: Any) -> Any:
        with hub.db.session() as s:
            return fn(s)

    async def listing(request: Request) -> Response:
        who = await ctx.who(request)
        q = request.query_params
        owners = [o for o in q.getlist("owner") if o]
        items = [i for i in q.getlist("item") if i]
        if len(items) > 1:
            raise BadRequest("Filter on one item at a time")
        item = colls.parse_item_ref(items[0]) if items else None
        limit = min(_int(q.get("limit"), "limit", PAGE) or PAGE, PAGE)
        offset = _int(q.get("cursor"), "cursor", 0)

        def do(s: Session) -> tuple[list[dict[str, Any]], bool]:
            rows = colls.listing(s, who, owners, item, q.get("sort"), offset, limit)
            return [collection_json(s, who, c, with_position=False) for c in rows[:limit]], len(rows) > limit

        data, more = await ctx.run(in_session, do)
        headers = None
        if more:
            headers = wire.next_link(
                request, wire.base_url(request, ctx.settings.public_url), "cursor", str(offset + limit)
            )
        return wire.json_response(data, headers=headers)

    async def get(request: Request, slug: str) -> Response:
        who = await ctx.who(request)

        def do(s: Session) -> dict[str, Any]:
            return collection_json(s, who, colls.get(s, who, slug), with_position=True)

        return wire.json_response(await ctx.run(in_session, do))

    async def create(request: Request) -> Response:
        who = await ctx.who(request)
        if who is None:
            raise Unauthorized("You must be authenticated to create a collection")
        body = await json_body(request)
        namespace = body.get("namespace") or who.name
        if not isinstance(namespace, str):
            raise BadRequest("'namespace' must be a string")

        def do(s: Session) -> Response:
            try:
                c = colls.create(
                    s,
                    who,
                    namespace,
                    body.get("title"),
                    body.get("description") or "",
                    bool(body.get("private")),
                )
            except Conflict as e:
                existing = e.extra["collection"]
                return wire.hub_error(e, body={"slug": colls.slug_of(existing)})  # type: ignore[arg-type]
            return wire.json_response(collection_json(s, who, c, with_position=True))

        return await ctx.run(in_session, do)

    async def update(request: Request, slug: str) -> Response:
        who = await ctx.who(request)
        body = await json_body(request)
        fields = {k: body.get(k) for k in ("title", "description", "private", "theme", "position")}

        def do(s: Session) -> dict[str, Any]:
            c = colls.update(s, who, slug, **fields)
            return {"success": True, "data": collection_json(s, who, c, with_position=True)}

        return wire.json_response(await ctx.run(in_session, do))

    async def delete(request: Request, slug: str) -> Response:
        who = await ctx.who(request)
        await ctx.run(in_session, lambda s: colls.delete(s, who, slug))
        return wire.json_response({"success": True})

    async def add_item(request: Request, slug: str) -> Response:
        who = await ctx.who(request)
        body = await json_body(request)
        item = body.get("item")
        if not isinstance(item, dict):
            raise BadRequest("Expected {'item': {'id': ..., 'type': ...}}")

        def do(s: Session) -> dict[str, Any]:
            c = colls.add_item(s, who, slug, item.get("type"), item.get("id"), body.get("note"))
            return collection_json(s, who, c, with_position=True)

        return wire.json_response(await ctx.run(in_session, do))

    async def update_item(request: Request, slug: str, oid: str) -> Response:
        who = await ctx.who(request)
        body = await json_body(request, required=False)
        await ctx.run(
            in_session,
            lambda s: colls.update_item(
                s, who, slug, oid, note=body.get("note"), position=body.get("position")
            ),
        )
        return wire.json_response({"success": True})

    async def delete_item(request: Request, slug: str, oid: str) -> Response:
        who = await ctx.who(request)
        await ctx.run(in_session, lambda s: colls.delete_item(s, who, slug, oid))
        return wire.json_response({"success": True})

    router.add("GET", "/api/collections", listing)
    router.add("POST", "/api/collections", create)
    router.add("GET", f"/api/collections/{SLUG}", get)
    router.add("PATCH", f"/api/collections/{SLUG}", update)
    router.add("DELETE", f"/api/collections/{SLUG}", delete)
    router.add("POST", f"/api/collections/{SLUG}/items", add_item)
    router.add("PATCH", f"/api/collections/{SLUG}/items/(?P<oid>[^/]+)", update_item)
    router.add("DELETE", f"/api/collections/{SLUG}/items/(?P<oid>[^/]+)", delete_item)
