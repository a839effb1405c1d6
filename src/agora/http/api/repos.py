"""Accounts and repository routes: whoami, create / delete / move / settings, info, listing, validate-yaml."""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Conflict, HubError, Unauthorized
from ...hub import accounts, cards, duplicate, index, spaces
from ...hub.accounts import Account, Principal
from ...hub.repos import Repo
from ...ids import RepoId, parse_repo_type, repo_full
from .. import wire
from ..context import Ctx
from .common import json_body, repo_json, repo_url, rid_api
from .spaces import app_url


def whoami_json(
    who: Principal, base: str, user: Account | None, orgs: list[tuple[Account, str]]
) -> dict[str, Any]:
    """whoami-v2: the token's owner, their organizations and the token (`user`: their account, None if gone)."""
    return {
        "type": "user",
        "id": f"{who.user_id:024x}",
        "name": who.name,
        "fullname": user.fullname if user else who.name,
        "email": user.email if user else None,
        "emailVerified": bool(user and user.email),
        "isPro": False,
        "canPay": False,
        "avatarUrl": f"{base}/avatars/{who.name}",
        "periodEnd": None,
        "orgs": [
            {
                "type": "org",
                "name": o.name,
                "fullname": o.fullname or o.name,
                "avatarUrl": f"{base}/avatars/{o.name}",
                "roleInOrg": role,
                "id": f"{o.id:024x}",
                "isEnterprise": False,
            }
            for o, role in orgs
        ],
        "auth": {
            "type": "access_token",
            "accessToken": {
                "displayName": who.token_name or "session",
                "role": who.role,
                "createdAt": who.token_created,
            },
        },
    }


async def whoami(ctx: Ctx, request: Request) -> Response:
    who = await ctx.who(request)
    if who is None:
        raise Unauthorized("Invalid user token: no Authorization header")
    user, orgs = await ctx.run(accounts.whoami, ctx.hub, who.user_id)
    return wire.json_response(whoami_json(who, ctx.base_url(request), user, orgs))


async def agent_harnesses(ctx: Ctx, request: Request) -> Response:
    return wire.json_response({"standardEnvVars": [], "harnesses": {}})


async def validate_yaml(ctx: Ctx, request: Request) -> Response:
    """Always JSON: the client calls .json() before looking at the status."""
    try:
        body = await json_body(request)
    except HubError as e:
        return wire.json_response({"errors": [{"message": e.message}], "warnings": []}, 400)
    content = body.get("content")
    if not isinstance(content, str):
        return wire.json_response(
            {"errors": [{"message": "'content' must be the README text"}], "warnings": []}, 400
        )
    rtype = body.get("repoType") if body.get("repoType") in ("model", "dataset", "space") else "model"
    errors, warnings = cards.validate(cards.parse(content), str(rtype))
    out = {"errors": [{"message": m} for m in errors], "warnings": [{"message": m} for m in warnings]}
    return wire.json_response(out, 400 if errors else 200)


def name_and_org(body: dict[str, Any]) -> tuple[str, Any]:
    """The repo name and namespace of a create or delete body: `organization`, or a `name` of the form
    `namespace/name` (the namespace is then None if neither says it: the caller's own)."""
    name, org = body.get("name"), body.get("organization")
    if not isinstance(name, str):
        raise BadRequest("'name' is required")
    if "/" in name and not org:
        org, _, name = name.partition("/")
        if not org:  # "/x" must not quietly become "<caller>/x"
            raise BadRequest(f"Invalid repo id {body['name']!r}: expected 'namespace/name'")
    return name, org


async def create(ctx: Ctx, request: Request) -> Response:
    body = await json_body(request)
    who = await ctx.who(request)
    name, org = name_and_org(body)
    rtype = parse_repo_type(body.get("type"))
    visibility = body.get("visibility")
    if visibility not in (None, "public", "private", "protected"):
        raise BadRequest(f"Invalid visibility {visibility!r}: use public or private")
    private = visibility == "private" or bool(body.get("private"))
    ns = org or (who.name if who else None)
    if who is None or ns is None:
        raise Unauthorized("You must be authenticated to create a repository")
    rid = RepoId(rtype, str(ns), name)
    base = ctx.base_url(request)
    options = spaces.CreateOptions.parse(body) if rtype == "space" else None  # checked before creating
    try:
        repo = await ctx.run(ctx.hub.create_repo, who, rid, private, body.get("sdk"))
    except Conflict as e:
        existing = e.extra.get("repo")
        url = repo_url(base, cast("Repo", existing)) if existing else f"{base}/{rid.web_path}"
        return wire.hub_error(e, body={"url": url})
    if options is not None:
        await ctx.run(options.apply, ctx.hub, who, RepoId(rtype, repo.namespace, repo.name))
    return wire.json_response(
        {"url": repo_url(base, repo), "name": repo_full(repo.namespace, repo.name), "id": f"{repo.id:024x}"}
    )


async def duplicate_repo(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`duplicate_repo`: body {"repository": "ns/name", "visibility"?, and for a Space "secrets"?,
    "variables"?, "sleepTimeSeconds"?, "hardware"?}. Answer {"url"}; a 409 carries `url` too (the client
    reads it with exist_ok=True)."""
    who = await ctx.who(request)
    src = rid_api(t, ns, name)
    await ctx.run(ctx.hub.open_repo, who, src)  # who may not read it sends nothing we read
    body = await json_body(request)
    target = body.get("repository")
    to_ns, _, to_name = target.partition("/") if isinstance(target, str) else ("", "", "")
    if not to_ns or not to_name:
        raise BadRequest("'repository' must be the new repo's id, namespace/name")
    visibility = body.get("visibility")
    if visibility not in (None, "public", "private", "protected"):
        raise BadRequest(f"Invalid visibility {visibility!r}: use public or private")
    private = None if visibility is None else visibility == "private"
    dst = RepoId(src.type, to_ns, to_name)
    options = spaces.CreateOptions.parse(body) if src.type == "space" else None  # checked before copying
    base = ctx.base_url(request)
    try:
        repo = await ctx.run(duplicate.duplicate, ctx.hub, who, src, dst, private)
    except Conflict as e:
        existing = e.extra.get("repo")
        url = repo_url(base, cast("Repo", existing)) if existing else f"{base}/{dst.web_path}"
        return wire.hub_error(e, body={"url": url})
    if options is not None:
        await ctx.run(options.apply, ctx.hub, who, RepoId(src.type, repo.namespace, repo.name))
    return wire.json_response({"url": repo_url(base, repo), "filesCopyPending": False})


async def delete(ctx: Ctx, request: Request) -> Response:
    body = await json_body(request)
    who = await ctx.who(request)
    name, org = name_and_org(body)
    ns = org or (who.name if who else "")
    await ctx.run(ctx.hub.delete_repo, who, RepoId(parse_repo_type(body.get("type")), str(ns), name))
    return wire.json_response({})


async def move(ctx: Ctx, request: Request) -> Response:
    body = await json_body(request)
    who = await ctx.who(request)
    rtype = parse_repo_type(body.get("type"))
    src = RepoId.parse_any(rtype, body.get("fromRepo"))  # type: ignore[arg-type]
    dst = RepoId.parse(rtype, body.get("toRepo"))  # type: ignore[arg-type]
    await ctx.run(ctx.hub.move_repo, who, src, dst)
    return wire.json_response({})


async def settings(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    body = await json_body(request)
    who = await ctx.who(request)
    private = None
    vis = body.get("visibility", None)
    if vis is not None:
        if vis not in ("public", "private"):
            raise BadRequest(f"Invalid visibility {vis!r}: use public or private")
        private = vis == "private"
    if isinstance(body.get("private"), bool):
        private = body["private"]
    await ctx.run(ctx.hub.change_settings, who, rid_api(t, ns, name), private, body.get("gated"))
    return wire.json_response({})


async def info(ctx: Ctx, request: Request, t: str, ns: str, name: str, rev: str | None = None) -> Response:
    who = await ctx.who(request)
    q = request.query_params
    blobs = wire.truthy(q.get("blobs"))
    expand = q.getlist("expand") + q.getlist("expand[]")
    i = await ctx.run(index.repo_info, ctx.hub, who, rid_api(t, ns, name), rev or "main")
    used = sum(e.size for e in i.files) if (blobs or "usedStorage" in expand) else None
    # Reverse links the Hub puts in a model's info: Spaces using it, fine-tune counts.
    links = {"spaces": i.spaces, "childrenModelCount": i.children} if i.repo.type == "model" else {}
    d = repo_json(i.repo, i.sha, i.files, blobs or "siblings" in expand, i.last_modified, used, i.tags, links)
    if i.repo.type == "space":  # where the app is served, and its stage (hub/spaces.py)
        rt = await ctx.run(spaces.runtime, ctx.hub, i.repo, i.repo.head_sha)
        d["runtime"] = rt.json()
        # a private Space's carries a capability: space_info answers only those who may read the repo
        r = i.repo
        d["host"] = app_url(ctx, ctx.base_url(request), r.namespace, r.name, r.private)
        d["subdomain"] = spaces.subdomain(r.namespace, r.name)
    if expand:
        d = {k: v for k, v in d.items() if k in expand or k in ("id", "_id")}
    return wire.json_response(d)
