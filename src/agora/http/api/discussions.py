"""Discussions and pull requests (docs/wire.md §13): list, create, details, comment, title, status, merge;
comment edit and hide."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Unauthorized
from ...hub import discussions
from ...ids import repo_full
from .. import wire
from ..context import Ctx
from ..web import render
from .common import json_body, repo_url, rid_api

PAGE = 50
# What each action answers with: {key: the hub's result}.
ANSWER = {"comment": "newMessage", "title": "newTitle", "status": "newStatus", "merge": "mergeCommitId"}


def summary(t: discussions.Thread) -> dict[str, Any]:
    repo, d = t.repo, t.row
    out: dict[str, Any] = {
        "num": d.num,
        "title": d.title,
        "status": d.status,
        "isPullRequest": d.is_pr,
        "createdAt": wire.iso(d.created_at),
        "repo": {"name": repo_full(repo.namespace, repo.name), "type": repo.type},
        "numComments": sum(1 for e in (d.data or {}).get("events", []) if e["type"] == "comment"),
    }
    if t.author:
        out["author"] = {"name": t.author, "type": "user"}
    return out


async def listing(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    who = await ctx.who(request)
    q = request.query_params
    try:
        page = max(0, int(q.get("p") or 0))
    except ValueError:
        raise BadRequest("p must be an integer") from None
    rid = rid_api(t, ns, name)
    kind, status, author = q.get("type"), q.get("status"), q.get("author")
    rows, count = await ctx.run(
        discussions.thread_page, ctx.hub, who, rid, kind, status, author, page * PAGE, PAGE
    )
    return wire.json_response(
        {
            "discussions": [summary(x) for x in rows],
            "count": count,
            "start": page * PAGE,
            "numClosedDiscussions": 0,
        }
    )


async def create(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    who = await ctx.who(request)
    if who is None:
        raise Unauthorized("You must be logged in to open a discussion")
    body = await json_body(request)
    title, desc = body.get("title"), body.get("description") or ""
    if not isinstance(title, str) or not isinstance(desc, str):
        raise BadRequest("'title' and 'description' must be strings")
    rid = rid_api(t, ns, name)
    repo, d = await ctx.run(
        discussions.open_thread, ctx.hub, who, rid, title, desc, bool(body.get("pullRequest"))
    )
    url = f"{repo_url(ctx.base_url(request), repo)}/discussions/{d.num}"
    return wire.json_response({"num": d.num, "pullRequest": d.is_pr, "url": url})


async def details(ctx: Ctx, request: Request, t: str, ns: str, name: str, num: str) -> Response:
    who = await ctx.who(request)
    with_diff = wire.truthy(request.query_params.get("diff"))  # huggingface_hub always sends diff=1
    x = await ctx.run(discussions.thread, ctx.hub, who, rid_api(t, ns, name), int(num), with_diff)
    d = x.row
    out = summary(x)
    out["events"] = [with_html(e) for e in (d.data or {}).get("events", [])]
    if d.is_pr:
        out["changes"] = {"base": "refs/heads/main", "head": x.pr_head}
        if (d.data or {}).get("mergeCommitId"):
            out["changes"]["mergeCommitId"] = d.data["mergeCommitId"]  # type: ignore[index]
        out["filesWithConflicts"] = list(x.conflicts)
        if x.diff is not None:
            out["diff"] = x.diff
    return wire.json_response(out)


async def action(ctx: Ctx, request: Request, t: str, ns: str, name: str, num: str, verb: str) -> Response:
    who = await ctx.who(request)
    if who is None:
        raise Unauthorized("You must be logged in")
    body = await json_body(request, required=False)
    result = await ctx.run(discussions.act, ctx.hub, who, rid_api(t, ns, name), int(num), verb, body)
    return wire.json_response({ANSWER[verb]: result})


async def comment_action(
    ctx: Ctx, request: Request, t: str, ns: str, name: str, num: str, cid: str, verb: str
) -> Response:
    """POST .../comment/{id}/edit (body {"content"}) or .../comment/{id}/hide (no body): huggingface_hub's
    edit_discussion_comment / hide_discussion_comment read the comment back from `updatedComment`."""
    who = await ctx.who(request)
    if who is None:
        raise Unauthorized("You must be logged in")
    body = await json_body(request, required=False)
    content = body.get("content")
    if verb == "edit" and not isinstance(content, str):
        raise BadRequest("'content' (the comment's new text) must be a string")
    args = {"id": cid, "content": content}
    rid = rid_api(t, ns, name)
    ev = await ctx.run(discussions.act, ctx.hub, who, rid, int(num), f"comment-{verb}", args)
    return wire.json_response({"updatedComment": with_html(ev)})


def with_html(event: dict[str, Any]) -> dict[str, Any]:
    """A comment event with `latest.html`, its markdown rendered and sanitized as cards are (the client's
    DiscussionComment.rendered reads it); other events as they are."""
    latest = (event.get("data") or {}).get("latest")
    if event.get("type") != "comment" or not isinstance(latest, dict):
        return event
    html = "" if event["data"].get("hidden") else render.markdown(str(latest.get("raw") or ""))
    return {**event, "data": {**event["data"], "latest": {**latest, "html": html}}}
