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
from ...hub.accounts import Principal
from ...hub.repos import Hub
from ...ids import RepoId
from .base import Web

SLUG = r"/collections/(?P<slug>[^/]+/[^/]+)"
ITEM = SLUG + r"/items/(?P<item>[0-9a-f]{1,24})"

# One write from a form of the collection page, run off the event loop: where to go next (None: the page).
Write = Callable[[Hub, Principal, dict[str, str]], "str | None"]


def item_ref(row_id: int) -> str:
    """The item id of the API's `_id` (24 hex digits), which the domain's item calls take."""
    return f"{row_id:024x}"


async def _collection_page(
    web: Web, request: Request, who: Principal | None, slug: str, status: int = 200, **extra: Any
) -> Response:
    view = await web.run(colls.collection_page, web.hub, who, slug)  # CollectionNotFound -> the 404 page
    # the page's names are the fields of CollectionPage: collection, slug, items, can_write
    return await web.page(
        request,
        "collection.html",
        status=status,
        item_ref=item_ref,
        collection_slug=colls.slug_of,
        **vars(view),
        **extra,
    )


async def page(web: Web, request: Request, slug: str) -> Response:
    return await _collection_page(web, request, await web.who(request), slug)


async def _change(web: Web, request: Request, slug: str, write: Write) -> Response:
    """Run one write from a form of the collection page; redirect to where it says (the page by default),
    or show the page again with the domain's message."""
    who = await web.require_user(request)
    form = await web.form(request)
    try:
        target = await web.run(write, web.hub, who, form)
    except (BadRequest, Conflict) as e:
        status = 400 if isinstance(e, BadRequest) else 409
        return await _collection_page(web, request, who, slug, status, error=e.message, form=form)
    return web.redirect(target or f"/collections/{slug}")


async def new(web: Web, request: Request) -> Response:
    who = await web.require_user(request)
    owners = await web.run(accounts.writable_namespaces, web.hub, who)
    if request.method == "GET":
        return await web.page(
            request,
            "new_collection.html",
            owners=owners,
            form={"owner": request.query_params.get("owner", who.name)},
        )
    form = await web.form(request)
    try:
        slug = await web.run(
            colls.new_collection,
            web.hub,
            who,
            form.get("owner") or who.name,
            form.get("title", ""),
            form.get("description", ""),
            form.get("private") == "on",
        )
    except (BadRequest, Conflict) as e:
        return await web.page(
            request,
            "new_collection.html",
            status=400 if isinstance(e, BadRequest) else 409,
            owners=owners,
            form=form,
            error=e.message,
        )
    return web.redirect(f"/collections/{slug}")


async def edit(web: Web, request: Request, slug: str) -> Response:
    def write(hub: Hub, who: Principal, form: dict[str, str]) -> str:
        new_slug = colls.edit_collection(
            hub,
            who,
            slug,
            title=form.get("title", ""),
            description=form.get("description", ""),
            private=form.get("private") == "on",
        )
        return f"/collections/{new_slug}"  # the title part of the slug follows the title

    return await _change(web, request, slug, write)


async def item_note(web: Web, request: Request, slug: str, item: str) -> Response:
    def write(hub: Hub, who: Principal, form: dict[str, str]) -> None:
        # An empty note clears it: the domain stores "" as no note.
        colls.set_item_note(hub, who, slug, item, form.get("note", ""))

    return await _change(web, request, slug, write)


async def item_move(web: Web, request: Request, slug: str, item: str) -> Response:
    def write(hub: Hub, who: Principal, form: dict[str, str]) -> None:
        if form.get("direction") not in ("up", "down"):
            raise BadRequest("Move an item 'up' or 'down'")
        colls.step_item(hub, who, slug, item, -1 if form["direction"] == "up" else 1)

    return await _change(web, request, slug, write)


async def item_remove(web: Web, request: Request, slug: str, item: str) -> Response:
    def write(hub: Hub, who: Principal, form: dict[str, str]) -> None:
        colls.drop_item(hub, who, slug, item)

    return await _change(web, request, slug, write)


async def delete(web: Web, request: Request, slug: str) -> Response:
    """A second page that asks to tick a box: deleting a collection cannot be undone."""
    who = await web.require_user(request)
    if request.method == "GET":
        c = await web.run(colls.writable_one, web.hub, who, slug)
        return await web.page(request, "delete_collection.html", collection=c, slug=colls.slug_of(c))
    form = await web.form(request)
    c = await web.run(colls.writable_one, web.hub, who, slug)
    if form.get("confirm") != "on":
        return await web.page(
            request,
            "delete_collection.html",
            status=400,
            collection=c,
            slug=colls.slug_of(c),
            error="Tick the box to confirm that you want to delete this collection.",
        )
    await web.run(colls.drop_collection, web.hub, who, slug)
    return web.redirect(f"/{c.owner}")


async def add(web: Web, request: Request) -> Response:
    """The repo page's form: the repo travels as its type and id, and an error is the domain's own (a repo
    already there is its 409 message)."""
    who = await web.require_user(request)
    form = await web.form(request)
    rtype = form.get("item_type", "")
    rid_text = form.get("item_id", "")
    try:
        slug = await web.run(
            colls.add_repo,
            web.hub,
            who,
            form.get("collection", ""),
            rtype,
            rid_text,
            form.get("note") or None,
        )
    except (BadRequest, Conflict) as e:
        try:
            back = f"/{RepoId.parse_any(rtype, rid_text).web_path}" if rtype in colls.ITEM_TYPES else "/"
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
    return web.redirect(f"/collections/{slug}")
