"""Webhooks of the calling user (docs/wire.md §19): `/api/settings/webhooks`, as huggingface_hub's
create/list/get/update/enable/disable/delete_webhook call it, plus each webhook's delivery log and replay.
Every answer but the list and a delete is `{"webhook": {...}}` (WebhookInfo's fields)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...hub import webhooks
from ...hub.webhook_targets import Allow
from .. import wire
from ..context import Ctx
from .common import json_body


def _allow(ctx: Ctx) -> Allow:
    return Allow.parse(ctx.settings.webhooks.allow)


def _one(info: dict[str, Any]) -> Response:
    return wire.json_response({"webhook": info})


async def collection(ctx: Ctx, request: Request) -> Response:
    who = await ctx.who(request)
    if request.method == "GET":
        return wire.json_response(await ctx.run(webhooks.mine, ctx.hub, who))
    body = await json_body(request)
    return _one(await ctx.run(webhooks.create, ctx.hub, who, body, ctx.base_url(request), _allow(ctx)))


async def item(ctx: Ctx, request: Request, uid: str) -> Response:
    who = await ctx.who(request)
    if request.method == "GET":
        return _one(await ctx.run(webhooks.get, ctx.hub, who, uid))
    if request.method == "DELETE":
        await ctx.run(webhooks.remove, ctx.hub, who, uid)
        return wire.json_response({})
    body = await json_body(request)
    return _one(await ctx.run(webhooks.change, ctx.hub, who, uid, body, ctx.base_url(request), _allow(ctx)))


async def switch(ctx: Ctx, request: Request, uid: str, verb: str) -> Response:
    who = await ctx.who(request)
    return _one(await ctx.run(webhooks.set_disabled, ctx.hub, who, uid, verb == "disable"))


def delivery_json(d: webhooks.Delivery) -> dict[str, Any]:
    out = asdict(d)
    for k in ("url", "secret", "base_url", "claim", "webhook"):
        out.pop(k)
    out["createdAt"] = wire.iso(d.created_at)
    out.pop("created_at")
    return out


async def deliveries(ctx: Ctx, request: Request, uid: str) -> Response:
    who = await ctx.who(request)
    rows = await ctx.run(webhooks.log, ctx.hub, who, uid)
    return wire.json_response([delivery_json(d) for d in rows])


async def replay(ctx: Ctx, request: Request, uid: str, delivery: str) -> Response:
    who = await ctx.who(request)
    new = await ctx.run(webhooks.replay, ctx.hub, who, uid, int(delivery))
    return wire.json_response({"id": new})
