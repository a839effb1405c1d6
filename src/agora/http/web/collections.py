"""Collections in the browser: the collection page (/collections/{owner}/{slug}) with its items as repo cards in
the owner's order, and the writer's forms: new collection, edit, items (note, move, remove), delete, and the
repo page's "Add to collection".

Every change is a POST form carrying the CSRF token, answered by a redirect (post/redirect/get). Bad input
(a domain BadRequest or Conflict) re-renders the page it came from with the domain's message; a missing or
hidden collection is the 404 page, as for a read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Conflict
from ...hub import accounts
from ...hub import collections as colls
from ...ids import RepoId
from .base import Web

SLUG = r"/collections/(?P<slug>[^/]+/[^/]+)"
ITEM = SLUG + r"/items/(?P<item>[0-9a-f]{1,24})"


def item_ref(row_id: int) -> str:
    """The item id of the API's `_id` (24 hex digits), which the domain's item calls take."""
    return f"{row_id:024x}"


def writable_choices(s: Any, who: Any) -> list[tuple[str, str]]:
    """(slug, label) of the collections `who` may add to, for the repo page's form."""
    return [
        (colls.slug_of(c), c.title if c.owner == who.name else f"{c.owner} / {c.title}")
        for c in colls.writable(s, who)
    ]


def mount(router: Any, web: Web) -> None:
    hub = web.hub

    def load(who: Any, slug: str) -> dict[str, Any]:
        with hub.db.session() as s:
            c = colls.get(s, who, slug)  # CollectionNotFound -> the 404 page
            return {
                "collection": c,
                "slug": colls.slug_of(c),
                "items": colls.items(s, who, c),
                "can_write": accounts.can_write_namespace(s, who, c.owner),
                "item_ref": item_ref,
            }

    async def page(request: Request, slug: str) -> Response:
        who = await web.who(request)
        return await web.page(request, "collection.html", **await web.run(load, who, slug))

    async def change(
        request: Request, slug: str, fn: Callable[[Any, Any, dict[str, str]], str | None]
    ) -> Response:
        """Run one write from a form of the collection page; redirect to where it says (the page by default),
        or show the page again with the domain's message."""
        who = await web.require_user(request)
        form = await web.form(request)

        def do() -> str | None:
            with hub.db.session() as s:
                return fn(s, who, form)

        try:
            target = await web.run(do)
        except (BadRequest, Conflict) as e:
            data = await web.run(load, who, slug)
            return await web.page(
                request,
                "collection.html",
                status=400 if isinstance(e, BadRequest) else 409,
                error=e.message,
                form=form,
                **data,
            )
        return web.redirect(target or f"/collections/{slug}")

    def namespaces_of(who: Any) -> list[str]:
        with hub.db.session() as s:
            orgs = [o.name for o, role in accounts.user_orgs(s, who.user_id) if role in ("write", "admin")]
        return [who.name, *orgs]

    async def new(request: Request) -> Response:
        who = await web.require_user(request)
        owners = await web.run(namespaces_of, who)
        if request.method == "GET":
            return await web.page(
                request,
                "new_collection.html",
                owners=owners,
                form={"owner": request.query_params.get("owner", who.name)},
            )
        form = await web.form(request)

        def do() -> str:
            with hub.db.session() as s:
                c = colls.create(
                    s,
                    who,
                    form.get("owner") or who.name,
                    form.get("title", ""),
                    form.get("description", ""),
                    private=form.get("private") == "on",
                )
                return colls.slug_of(c)

        try:
            return web.redirect(f"/collections/{await web.run(do)}")
        except (BadRequest, Conflict) as e:
            return await web.page(
                request,
                "new_collection.html",
                status=400 if isinstance(e, BadRequest) else 409,
                owners=owners,
                form=form,
                error=e.message,
            )

    async def edit(request: Request, slug: str) -> Response:
        def do(s: Any, who: Any, form: dict[str, str]) -> str:
            c = colls.update(
                s,
                who,
                slug,
                title=form.get("title", ""),
                description=form.get("description", ""),
                private=form.get("private") == "on",
            )
            return f"/collections/{colls.slug_of(c)}"  # the title part of the slug follows the title

        return await change(request, slug, do)

    async def item_note(request: Request, slug: str, item: str) -> Response:
        def do(s: Any, who: Any, form: dict[str, str]) -> None:
            # An empty note clears it: the domain stores "" as no note.
            colls.update_item(s, who, slug, item, note=form.get("note", ""))

        return await change(request, slug, do)

    async def item_move(request: Request, slug: str, item: str) -> Response:
        def do(s: Any, who: Any, form: dict[str, str]) -> None:
            if form.get("direction") not in ("up", "down"):
                raise BadRequest("Move an item 'up' or 'down'")
            colls.move_item(s, who, slug, item, -1 if form["direction"] == "up" else 1)

        return await change(request, slug, do)

    async def item_remove(request: Request, slug: str, item: str) -> Response:
        def do(s: Any, who: Any, form: dict[str, str]) -> None:
            colls.delete_item(s, who, slug, item)

        return await change(request, slug, do)

    async def delete(request: Request, slug: str) -> Response:
        """A second page that asks to tick a box: deleting a collection cannot be undone."""
        who = await web.require_user(request)

        def writable() -> dict[str, Any]:
            with hub.db.session() as s:
                c = colls.get_writable(s, who, slug)
                return {"collection": c, "slug": colls.slug_of(c)}

        if request.method == "GET":
            return await web.page(request, "delete_collection.html", **await web.run(writable))
        form = await web.form(request)
        if form.get("confirm") != "on":
            return await web.page(
                request,
                "delete_collection.html",
                status=400,
                **await web.run(writable),
                error="Tick the box to confirm that you want to delete this collection.",
            )
        owner = (await web.run(writable))["collection"].owner

        def do() -> None:
            with hub.db.session() as s:
                colls.delete(s, who, slug)

        await web.run(do)
        return web.redirect(f"/{owner}")

    async def add(request: Request) -> Response:
        """The repo page's form: the repo travels as its type and id, and an error is the domain's own (a repo
        already there is its 409 message)."""
        who = await web.require_user(request)
        form = await web.form(request)
        rtype = form.get("item_type", "")
        rid_text = form.get("item_id", "")

        def do() -> str:
            with hub.db.session() as s:
                c = colls.add_item(
                    s, who, form.get("collection", ""), rtype, rid_text, note=form.get("note") or None
                )
                return colls.slug_of(c)

        try:
            return web.redirect(f"/collections/{await web.run(do)}")
        except (BadRequest, Conflict) as e:
            try:
                back = f"/{RepoId.parse(rtype, rid_text).web_path}" if rtype in colls.ITEM_TYPES else "/"
            except BadRequest:
                back = "/"
            return await web.page(
                request,
                "message.html",
                status=400 if isinstance(e, BadRequest) else 409,
                title="Could not add to the collection",
                message=e.message,
                back=back,
            )

    router.add("GET POST", "/collections/new", new)
    router.add("POST", "/collections/add", add)
    router.add("POST", SLUG + "/edit", edit)
    router.add("GET POST", SLUG + "/delete", delete)
    router.add("POST", ITEM + "/note", item_note)
    router.add("POST", ITEM + "/move", item_move)
    router.add("POST", ITEM + "/remove", item_remove)
    router.add("GET", SLUG, page)
