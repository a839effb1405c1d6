"""Accounts and repository routes: whoami, create / delete / move / settings, info, listing, validate-yaml."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Conflict, HubError, Unauthorized
from ...hub import accounts, cards, index
from ...ids import RepoId, parse_repo_type
from .. import wire
from ..routing import ID, Router
from .common import T, json_body, repo_json, repo_url, rid_api

if TYPE_CHECKING:
    from ...db.models import Repo  # the type of Conflict.extra["repo"] from Hub.create


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    def base(request: Request) -> str:
        return wire.base_url(request, ctx.settings.public_url)

    async def whoami(request: Request) -> Response:
        who = await ctx.who(request)
        if who is None:
            raise Unauthorized("Invalid user token: no Authorization header")

        def load() -> dict[str, Any]:
            with hub.db.session() as s:
                user = accounts.account_by_id(s, who.user_id)
                orgs = accounts.user_orgs(s, who.user_id)
                return {
                    "type": "user",
                    "id": f"{who.user_id:024x}",
                    "name": who.name,
                    "fullname": user.fullname if user else who.name,
                    "email": user.email if user else None,
                    "emailVerified": bool(user and user.email),
                    "isPro": False,
                    "canPay": False,
                    "avatarUrl": f"{base(request)}/avatars/{who.name}",
                    "periodEnd": None,
                    "orgs": [
                        {
                            "type": "org",
                            "name": o.name,
                            "fullname": o.fullname,
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

        return wire.json_response(await ctx.run(load))

    async def agent_harnesses(request: Request) -> Response:
        return wire.json_response({"standardEnvVars": [], "harnesses": {}})

    async def validate_yaml(request: Request) -> Response:
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

    async def create(request: Request) -> Response:
        body = await json_body(request)
        who = await ctx.who(request)
        name = body.get("name")
        org = body.get("organization")
        if not isinstance(name, str):
            raise BadRequest("'name' is required")
        if "/" in name and not org:
            org, _, name = name.partition("/")
            if not org:  # "/x" must not quietly become "<caller>/x"
                raise BadRequest(f"Invalid repo id {body['name']!r}: expected 'namespace/name'")
        rtype = parse_repo_type(body.get("type"))
        visibility = body.get("visibility")
        if visibility not in (None, "public", "private", "protected"):
            raise BadRequest(f"Invalid visibility {visibility!r}: use public or private")
        private = visibility == "private" or bool(body.get("private"))
        sdk = body.get("sdk")

        def do() -> Response:
            with hub.db.session() as s:
                ns = org or (who.name if who else None)
                if who is None or ns is None:
                    raise Unauthorized("You must be authenticated to create a repository")
                rid = RepoId(rtype, str(ns), name)
                try:
                    repo = hub.create(s, who, rid, private=private, sdk=sdk)
                except Conflict as e:
                    existing = e.extra.get("repo")
                    url = (
                        repo_url(base(request), cast("Repo", existing))
                        if existing
                        else f"{base(request)}/{rid.web_path}"
                    )
                    return wire.hub_error(e, body={"url": url})
                url = repo_url(base(request), repo)
                return wire.json_response(
                    {"url": url, "name": f"{repo.namespace}/{repo.name}", "id": f"{repo.id:024x}"}
                )

        return await ctx.run(do)

    async def delete(request: Request) -> Response:
        body = await json_body(request)
        who = await ctx.who(request)
        name, org = body.get("name"), body.get("organization")
        if not isinstance(name, str):
            raise BadRequest("'name' is required")
        if "/" in name and not org:
            org, _, name = name.partition("/")
            if not org:  # "/x" must not quietly become "<caller>/x"
                raise BadRequest(f"Invalid repo id {body['name']!r}: expected 'namespace/name'")

        def do() -> None:
            with hub.db.session() as s:
                ns = org or (who.name if who else "")
                hub.delete(s, who, RepoId(parse_repo_type(body.get("type")), str(ns), name))

        await ctx.run(do)
        return wire.json_response({})

    async def move(request: Request) -> Response:
        body = await json_body(request)
        who = await ctx.who(request)
        rtype = parse_repo_type(body.get("type"))
        src = RepoId.parse(rtype, body.get("fromRepo"))  # type: ignore[arg-type]
        dst = RepoId.parse(rtype, body.get("toRepo"))  # type: ignore[arg-type]

        def do() -> None:
            with hub.db.session() as s:
                hub.move(s, who, src, dst)

        await ctx.run(do)
        return wire.json_response({})

    async def settings(request: Request, t: str, ns: str, name: str) -> Response:
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
        gated = body.get("gated")

        def do() -> None:
            with hub.db.session() as s:
                hub.update_settings(s, who, rid_api(t, ns, name), private, gated)

        await ctx.run(do)
        return wire.json_response({})

    async def info(request: Request, t: str, ns: str, name: str, rev: str | None = None) -> Response:
        who = await ctx.who(request)
        q = request.query_params
        blobs = wire.truthy(q.get("blobs"))
        expand = q.getlist("expand") + q.getlist("expand[]")

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_api(t, ns, name))
                git = hub.git(repo)
                sha = git.resolve(rev or "main")
                files = git.all_files(sha)
                last = git.log(sha, limit=1)
                used = sum(e.size for e in files) if (blobs or "usedStorage" in expand) else None
                tags = index.tags_of(s, [repo.id])[repo.id]
                d = repo_json(
                    repo,
                    sha,
                    files,
                    blobs or "siblings" in expand,
                    last[0].time if last else None,
                    used,
                    tags,
                    repo_links(s, who, repo),
                )
            if expand:
                d = {k: v for k, v in d.items() if k in expand or k in ("id", "_id")}
            return d

        return wire.json_response(await ctx.run(do))

    router.add("GET", "/api/whoami-v2", whoami)
    router.add("GET", "/api/agent-harnesses", agent_harnesses)
    router.add("POST", "/api/validate-yaml", validate_yaml)
    router.add("POST", "/api/repos/create", create)
    router.add("DELETE", "/api/repos/delete", delete)
    router.add("POST", "/api/repos/move", move)
    router.add("PUT", f"/api/{T}/{ID}/settings", settings)
    router.add("GET", f"/api/{T}/{ID}", info)
    router.add("GET", f"/api/{T}/{ID}/revision/(?P<rev>.+)", info)


def repo_links(s: Any, who: Any, repo: Any) -> dict[str, Any]:
    """Reverse links the Hub puts in info: Spaces using a model, fine-tune counts."""
    rid = f"{repo.namespace}/{repo.name}"
    if repo.type == "model":
        spaces = [f"{r.namespace}/{r.name}" for r in index.linked_from(s, who, "model", rid, "space")]
        children = index.children_count(s, who, rid)
        return {"spaces": spaces, "childrenModelCount": sum(children.values())}
    return {}
