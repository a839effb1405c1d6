"""Gated repos on the wire: access requests (huggingface_hub's `list_*_access_requests`,
`accept_access_request`, `reject_access_request`, `cancel_access_request`, `grant_access`), asking for
access with a token, and `auth_check`. The gate itself is the domain's (hub/gating.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest
from ...hub import gating
from .. import bodies, wire
from ..context import Ctx
from .common import json_body, rid_api


def request_json(r: gating.Listed) -> dict[str, Any]:
    """An access request as huggingface_hub's `AccessRequest` reads it (`user` is an object: the Hub leaves
    it out when the repo hides usernames; Agora never does)."""
    out: dict[str, Any] = {
        "user": {"user": r.user, "fullname": r.fullname or r.user, "email": r.email},
        "requestId": str(r.id),
        "status": r.status,
        "timestamp": wire.iso(r.timestamp),
    }
    if r.fields:
        out["fields"] = r.fields
    if r.reason:
        out["rejectionReason"] = r.reason
    return out


async def list_requests(ctx: Ctx, request: Request, t: str, ns: str, name: str, status: str) -> Response:
    """`GET /api/{type}/{id}/user-access-request/{pending|accepted|rejected}`: one page (no Link header)."""
    who = await ctx.who(request)
    found = await ctx.run(gating.requests_of, ctx.hub, who, rid_api(t, ns, name), status)
    return wire.json_response([request_json(r) for r in found])


def _opt_str(body: dict[str, Any], key: str) -> str | None:
    v = body.get(key)
    if v is not None and not isinstance(v, (str, int)):
        raise BadRequest(f"'{key}' must be a string")
    return None if v is None else str(v)


async def handle(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`POST …/user-access-request/handle` {"user" | "requestId", "status", "rejectionReason"?}."""
    body = await json_body(request)
    who = await ctx.who(request)
    user, rid_ = _opt_str(body, "user"), _opt_str(body, "requestId")
    status, reason = body.get("status"), body.get("rejectionReason")
    await ctx.run(gating.decide, ctx.hub, who, rid_api(t, ns, name), user, rid_, status, reason)
    return wire.json_response({})


async def grant(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`POST …/user-access-request/grant` {"user"}: the client reads a JSON answer."""
    body = await json_body(request)
    who = await ctx.who(request)
    await ctx.run(gating.give, ctx.hub, who, rid_api(t, ns, name), body.get("user"))
    return wire.json_response({"user": body.get("user"), "status": "accepted"})


async def auth_check(
    ctx: Ctx, request: Request, t: str, ns: str, name: str, write: str | None = None
) -> Response:
    """`GET /api/{type}/{id}/auth-check[/write]`: 200 when the caller may download (push), else the error
    any download would get: GatedRepo (401 anonymous, 403 without access), RepoNotFound, Forbidden."""
    who = await ctx.who(request)
    await ctx.run(gating.auth_check, ctx.hub, who, rid_api(t, ns, name), write is not None)
    return wire.json_response({})


async def ask_access(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`POST /api/{type}/{id}/ask-access` with a token: Agora's API twin of the Hub's browser form (the
    client has no call for it). The body: the answers to the card's fields, as a JSON object (or under
    "fields") or a form. Answers {"status": "pending" | "accepted"}."""
    who = await ctx.who(request)
    body = await bodies.read_bounded(request, ctx.settings.max_json_bytes, "access request")
    if "json" in request.headers.get("content-type", ""):
        data = wire.json_object(body)
        given = data.get("fields", data)
    else:
        given = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if not isinstance(given, dict):
        raise BadRequest("'fields' must be an object: the answers to the repository's access form")
    status = await ctx.run(gating.request_access, ctx.hub, who, rid_api(t, ns, name), given)
    return wire.json_response({"status": status})
