"""Accounts and repository routes: whoami, create / delete / move / settings, info, listing, validate-yaml."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...hub import accounts
from ...hub.errors import BadRequest, Conflict, HubError, Unauthorized
from ...hub.ids import FROM_PLURAL, RepoId, check_name, parse_repo_type
from ...hub.repos import front_matter, visible_repos
from .. import wire
from ..routing import ID, SEG, Router
from .common import T, json_body, plural, repo_json, repo_url, rid_api

PAGE = 100


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
                user = s.get(accounts.Account, who.user_id)
                orgs = accounts.user_orgs(s, who.user_id)
                return {
                    "type": "user", "id": f"{who.user_id:024x}", "name": who.name,
                    "fullname": user.fullname if user else who.name, "email": user.email if user else None,
                    "emailVerified": bool(user and user.email), "isPro": False, "canPay": False,
                    "avatarUrl": f"{base(request)}/avatars/{who.name}", "periodEnd": None,
                    "orgs": [{"type": "org", "name": o.name, "fullname": o.fullname, "roleInOrg": role,
                              "id": f"{o.id:024x}", "isEnterprise": False} for o, role in orgs],
                    "auth": {"type": "access_token",
                             "accessToken": {"displayName": who.token_name or "session", "role": who.role,
                                             "createdAt": who.token_created}},
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
            return wire.json_response({"errors": [{"message": "'content' must be the README text"}],
                                       "warnings": []}, 400)
        _, err = front_matter(content)
        if err:
            return wire.json_response({"errors": [{"message": err}], "warnings": []}, 400)
        return wire.json_response({"errors": [], "warnings": []})

    async def create(request: Request) -> Response:
        body = await json_body(request)
        who = await ctx.who(request)
        name = body.get("name")
        org = body.get("organization")
        if not isinstance(name, str):
            raise BadRequest("'name' is required")
        if "/" in name and not org:
            org, _, name = name.partition("/")
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
                    url = repo_url(base(request), existing) if existing else f"{base(request)}/{rid.web_path}"
                    return wire.hub_error(e, body={"url": url})
                url = repo_url(base(request), repo)
                return wire.json_response({"url": url, "name": rid.full, "id": f"{repo.id:024x}"})
        return await ctx.run(do)

    async def delete(request: Request) -> Response:
        body = await json_body(request)
        who = await ctx.who(request)
        name, org = body.get("name"), body.get("organization")
        if not isinstance(name, str):
            raise BadRequest("'name' is required")
        if "/" in name and not org:
            org, _, name = name.partition("/")

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
                d = repo_json(repo, sha, files, blobs or "siblings" in expand, last[0].time if last else None, used)
            if expand:
                d = {k: v for k, v in d.items() if k in expand or k in ("id", "_id")}
            return d
        return wire.json_response(await ctx.run(do))

    async def listing(request: Request, t: str) -> Response:
        who = await ctx.who(request)
        q = request.query_params
        rtype = FROM_PLURAL[t]
        searches = [x for x in q.getlist("search") if x]
        filters = q.getlist("filter")
        pipeline = q.get("pipeline_tag")
        sort = q.get("sort")
        full = wire.truthy(q.get("full"))
        with_card = wire.truthy(q.get("cardData")) or full
        expand = q.getlist("expand") + q.getlist("expand[]")
        try:
            limit = int(q.get("limit") or 0) or None
            cursor = int(q.get("cursor") or 0)
        except ValueError:
            raise BadRequest("limit and cursor must be integers") from None

        def do() -> tuple[list[dict[str, Any]], bool]:
            with hub.db.session() as s:
                repos = visible_repos(s, who, rtype, None, q.get("author"))
                out = []
                for r in repos:
                    rid = f"{r.namespace}/{r.name}".lower()
                    if any(x.lower() not in rid for x in searches):
                        continue
                    d = repo_json(r, r.head_sha or "", None, False, None)
                    if any(f not in d["tags"] for f in filters):
                        continue
                    if pipeline and d.get("pipeline_tag") != pipeline:
                        continue
                    out.append((r, d))
                key = {"downloads": lambda x: x[0].downloads, "likes": lambda x: x[0].likes,
                       "lastModified": lambda x: x[0].updated_at, "createdAt": lambda x: x[0].created_at,
                       "trendingScore": lambda x: x[0].downloads}.get(sort or "", lambda x: x[0].id)
                out.sort(key=key, reverse=bool(sort))
                if limit:
                    out = out[:limit]
                page = out[cursor:cursor + PAGE]
                items = []
                for r, d in page:
                    if full:
                        git = hub.git(r)
                        d["siblings"] = [{"rfilename": e.path} for e in git.all_files(r.head_sha)] if r.head_sha else []
                    if not with_card:
                        d.pop("cardData", None)
                    if expand:
                        d = {k: v for k, v in d.items() if k in expand or k in ("id", "_id")}
                    items.append(d)
                return items, cursor + PAGE < len(out)
        items, more = await ctx.run(do)
        headers = wire.next_link(request, base(request), "cursor", str(cursor + PAGE)) if more else None
        return wire.json_response(items, headers=headers)

    router.add("GET", "/api/whoami-v2", whoami)
    router.add("GET", "/api/agent-harnesses", agent_harnesses)
    router.add("POST", "/api/validate-yaml", validate_yaml)
    router.add("POST", "/api/repos/create", create)
    router.add("DELETE", "/api/repos/delete", delete)
    router.add("POST", "/api/repos/move", move)
    router.add("PUT", f"/api/{T}/{ID}/settings", settings)
    router.add("GET", f"/api/{T}/{ID}", info)
    router.add("GET", f"/api/{T}/{ID}/revision/(?P<rev>.+)", info)
    router.add("GET", f"/api/{T}", listing)
    _ = (SEG, check_name, plural)
