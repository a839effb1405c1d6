"""The Webhooks section of a user's settings: /settings/webhooks (list, create, enable, disable, delete) and
/settings/webhooks/{id} (edit it; its delivery log, with Replay). Plain forms: the same domain calls as the
API."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Forbidden, NotFound, RepoNotFound
from ...hub import webhooks
from ...hub.webhook_targets import Allow
from .base import Web

HOME = "/settings/webhooks"


def _allow(web: Web) -> Allow:
    return Allow.parse(web.ctx.settings.webhooks.allow)


async def listing(web: Web, request: Request) -> Response:
    who = await web.require_user(request)
    form: dict[str, str] = {}
    error = None
    if request.method == "POST":
        form = await web.form(request)
        try:
            return await _act(web, request, form)
        except (BadRequest, Forbidden, NotFound, RepoNotFound) as e:  # said on the form
            error = e.message
    hooks = await web.run(webhooks.mine, web.hub, who)
    return await web.page(
        request,
        "webhooks.html",
        status=400 if error else 200,
        hooks=hooks,
        error=error,
        form=form,
        types=webhooks.WATCH_TYPES,
        domains=webhooks.DOMAINS,
    )


async def _act(web: Web, request: Request, form: dict[str, str]) -> Response:
    who = await web.require_user(request)
    action, uid = form.get("action"), form.get("id", "")
    if action in ("enable", "disable"):
        await web.run(webhooks.set_disabled, web.hub, who, uid, action == "disable")
    elif action == "delete":
        await web.run(webhooks.remove, web.hub, who, uid)
    else:
        body = {
            "url": form.get("url", "").strip(),
            "watched": [{"type": form.get("type", ""), "name": form.get("name", "").strip()}],
            "domains": [d for d in webhooks.DOMAINS if form.get(f"domain-{d}")],
            "secret": form.get("secret") or None,
        }
        await web.run(webhooks.create, web.hub, who, body, web.base_url(request), _allow(web))
    return web.redirect(HOME)


def _watched_lines(text: str) -> list[dict[str, str]]:
    """The edit form's watched items, one `type:name` a line."""
    items = []
    for line in (x.strip() for x in text.splitlines()):
        if line:
            kind, sep, name = line.partition(":")
            if not sep:
                raise BadRequest(
                    f"Watched item {line!r}: write it type:name, e.g. model:alice/bert or user:alice"
                )
            items.append({"type": kind.strip(), "name": name.strip()})
    if not items:
        raise BadRequest("A webhook watches at least one item: a repo, a user or an org")
    return items


async def _detail_act(web: Web, request: Request, uid: str, form: dict[str, str]) -> Response:
    who = await web.require_user(request)
    if form.get("action") == "edit":
        body = {
            "url": form.get("url", "").strip(),
            "watched": _watched_lines(form.get("watched", "")),
            "domains": [d for d in webhooks.DOMAINS if form.get(f"domain-{d}")],
            "secret": form.get("secret") or None,
        }
        await web.run(webhooks.change, web.hub, who, uid, body, web.base_url(request), _allow(web))
        return web.redirect(f"{HOME}/{uid}")
    delivery = form.get("delivery", "")
    if not delivery.isdigit():
        raise BadRequest("Which delivery? The form names none")
    await web.run(webhooks.replay, web.hub, who, uid, int(delivery))
    return web.redirect(f"{HOME}/{uid}")


async def detail(web: Web, request: Request, uid: str) -> Response:
    who = await web.require_user(request)
    form: dict[str, str] = {}
    error = None
    if request.method == "POST":
        form = await web.form(request)
        try:
            return await _detail_act(web, request, uid, form)
        except (BadRequest, Forbidden, RepoNotFound) as e:  # said on the form
            error = e.message
    hook = await web.run(webhooks.get, web.hub, who, uid)
    log = await web.run(webhooks.log, web.hub, who, uid)
    return await web.page(
        request,
        "webhook.html",
        status=400 if error else 200,
        hook=hook,
        deliveries=log,
        error=error,
        form=form,
        domains=webhooks.DOMAINS,
    )
