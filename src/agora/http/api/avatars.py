"""Accounts' pictures and overviews: `/avatars/{name}` (the `avatarUrl` of whoami, likers, collections and org
answers), `GET /api/organizations/{org}/overview` (get_organization_overview), `.../members`
(list_organization_members) and `GET /api/users/{user}/overview` (get_user_overview)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import NotFound
from ...hub import accounts, avatars
from ...ids import check_name
from .. import wire
from ..context import Ctx
from ..headers import user_file


def avatar_url(base: str, name: str) -> str:
    return f"{base}/avatars/{name}"


async def avatar(ctx: Ctx, request: Request, name: str) -> Response:
    """The uploaded image (its type read from its bytes) or a generated SVG, as an inert file: the files'
    sandboxing CSP and nosniff (http/headers.user_file)."""
    check_name(name, "name")
    found = await ctx.run(avatars.avatar, ctx.hub, name)
    ctype, data = found if found is not None else ("image/svg+xml", avatars.default_svg(name))
    media, headers = user_file(ctype)
    return Response(data, media_type=media, headers={**headers, "Cache-Control": "public, max-age=60"})


def org_json(base: str, org: accounts.Account, members: int) -> dict[str, Any]:
    return {
        "name": org.name,
        "fullname": org.fullname or org.name,
        "avatarUrl": avatar_url(base, org.name),
        "type": "org",
        "isVerified": False,
        "isFollowing": False,
        "numUsers": members,
    }


async def overview(ctx: Ctx, request: Request, org: str) -> Response:
    who = await ctx.who(request)
    found = await ctx.run(accounts.org_members, ctx.hub, who, org)
    if found.org.kind != "org":
        raise NotFound(f"No organization {org}")
    return wire.json_response(org_json(ctx.base_url(request), found.org, len(found.members)))


def user_json(base: str, user: accounts.Account) -> dict[str, Any]:
    """A user as huggingface_hub's `User` reads it (`user` is the name)."""
    return {
        "_id": f"{user.id:024x}",
        "user": user.name,
        "fullname": user.fullname or user.name,
        "avatarUrl": avatar_url(base, user.name),
        "type": "user",
        "isPro": False,
    }


async def members(ctx: Ctx, request: Request, org: str) -> Response:
    """An org's members, one page (the client paginates by Link; none follows). Public like the overview's
    count and the org chips on user pages."""
    who = await ctx.who(request)
    found = await ctx.run(accounts.org_members, ctx.hub, who, org)
    base = ctx.base_url(request)
    return wire.json_response([user_json(base, user) for user, _ in found.members])


async def user_overview(ctx: Ctx, request: Request, user: str) -> Response:
    """A user with full name, avatar and organizations (an org's name is a 404 here, as on the Hub)."""
    check_name(user, "user")
    acc, orgs = await ctx.run(accounts.user_and_orgs, ctx.hub, user)
    base = ctx.base_url(request)
    org_items = [{**org_json(base, o, 0), "numUsers": None} for o in orgs]
    return wire.json_response({**user_json(base, acc), "orgs": org_items})
