"""Discussions and pull requests (docs/wire.md §13): list, create, details, comment, title, status, merge."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...db.models import Account, Discussion, Repo
from ...errors import BadRequest, Unauthorized
from ...hub import accounts, discussions
from .. import wire
from ..routing import ID, Router
from .common import T, json_body, repo_url, rid_api

PAGE = 50


def summary(s: Any, repo: Repo, d: Discussion) -> dict[str, Any]:
    author = s.get(Account, d.author_id) if d.author_id else None
    out: dict[str, Any] = {
        "num": d.num,
        "title": d.title,
        "status": d.status,
        "isPullRequest": d.is_pr,
        "createdAt": wire.iso(d.created_at),
        "repo": {"name": f"{repo.namespace}/{repo.name}", "type": repo.type},
        "numComments": sum(1 for e in (d.data or {}).get("events", []) if e["type"] == "comment"),
    }
    if author:
        out["author"] = {"name": author.name, "type": "user"}
    return out


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    def run_in_session(fn: Any) -> Any:
        with hub.db.session() as s:
            return fn(s)

    async def listing(request: Request, t: str, ns: str, name: str) -> Response:
        who = await ctx.who(request)
        q = request.query_params
        try:
            page = max(0, int(q.get("p") or 0))
        except ValueError:
            raise BadRequest("p must be an integer") from None

        def do(s: Any) -> dict[str, Any]:
            repo = hub.find(s, who, rid_api(t, ns, name))
            rows = discussions.listing(s, repo, q.get("type"), q.get("status"), q.get("author"))
            return {
                "discussions": [summary(s, repo, d) for d in rows[page * PAGE : (page + 1) * PAGE]],
                "count": len(rows),
                "start": page * PAGE,
                "numClosedDiscussions": 0,
            }

        return wire.json_response(await ctx.run(run_in_session, do))

    async def create(request: Request, t: str, ns: str, name: str) -> Response:
        who = await ctx.who(request)
        if who is None:
            raise Unauthorized("You must be logged in to open a discussion")
        body = await json_body(request)
        title, desc = body.get("title"), body.get("description") or ""
        if not isinstance(title, str) or not isinstance(desc, str):
            raise BadRequest("'title' and 'description' must be strings")

        def do(s: Any) -> dict[str, Any]:
            repo = hub.find(s, who, rid_api(t, ns, name))
            d = discussions.create(s, hub, who, repo, title, desc, bool(body.get("pullRequest")))
            base = wire.base_url(request, ctx.settings.public_url)
            return {
                "num": d.num,
                "pullRequest": d.is_pr,
                "url": f"{repo_url(base, repo)}/discussions/{d.num}",
            }

        return wire.json_response(await ctx.run(run_in_session, do))

    async def details(request: Request, t: str, ns: str, name: str, num: str) -> Response:
        who = await ctx.who(request)

        def do(s: Any) -> dict[str, Any]:
            repo = hub.find(s, who, rid_api(t, ns, name))
            d = discussions.get(s, repo, int(num))
            out = summary(s, repo, d)
            out["events"] = (d.data or {}).get("events", [])
            if d.is_pr:
                git = hub.git(repo)
                out["changes"] = {"base": "refs/heads/main", "head": git.ref_target(f"refs/pr/{d.num}")}
                if (d.data or {}).get("mergeCommitId"):
                    out["changes"]["mergeCommitId"] = d.data["mergeCommitId"]  # type: ignore[index]
                out["filesWithConflicts"] = []
            return out

        return wire.json_response(await ctx.run(run_in_session, do))

    async def action(request: Request, t: str, ns: str, name: str, num: str, verb: str) -> Response:
        who = await ctx.who(request)
        if who is None:
            raise Unauthorized("You must be logged in")
        body = await json_body(request, required=False)

        def do(s: Any) -> dict[str, Any]:
            repo = hub.find(s, who, rid_api(t, ns, name))
            d = discussions.get(s, repo, int(num))
            can_write = accounts.can_write(s, who, repo)
            if verb == "comment":
                return {"newMessage": discussions.comment(s, who, d, str(body.get("comment") or ""))}
            if verb == "title":
                return {"newTitle": discussions.rename(s, who, d, str(body.get("title") or ""), can_write)}
            if verb == "status":
                return {
                    "newStatus": discussions.set_status(
                        s, who, d, str(body.get("status")), body.get("comment"), can_write
                    )
                }
            repo = hub.find(s, who, rid_api(t, ns, name), write=True)
            return {"mergeCommitId": discussions.merge(s, hub, who, repo, d, body.get("comment"))}

        return wire.json_response(await ctx.run(run_in_session, do))

    router.add("GET", f"/api/{T}/{ID}/discussions", listing)
    router.add("POST", f"/api/{T}/{ID}/discussions", create)
    router.add("GET", rf"/api/{T}/{ID}/discussions/(?P<num>\d+)", details)
    router.add(
        "POST", rf"/api/{T}/{ID}/discussions/(?P<num>\d+)/(?P<verb>comment|title|status|merge)", action
    )
