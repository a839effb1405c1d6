"""The Community tab: a repo's discussions and pull requests (refs/pr/N), each thread's page, a PR's files
view with its merge, and the forms that act on them. Every action is the API's domain call
(hub/discussions.py), posted as a form with its CSRF token; no script is needed."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest
from ...hub import discussions as hub_discussions
from ...ids import RepoId
from . import render
from .base import Web, repo_path, rid_of
from .files import rendered

FILTERS = ("open", "closed", "all")


async def discussions(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    who = await web.who(request)
    rid = rid_of(p, ns, name)
    tab = await web.run(hub_discussions.repo_discussions, web.hub, who, rid)
    shown = request.query_params.get("status") or "open"
    shown = shown if shown in FILTERS else "open"
    # "open" lists what is still going on; merged PRs count as closed, as on the Hub.
    rows = [d for d in tab.rows if shown == "all" or (d.status in ("open", "draft")) == (shown == "open")]
    return await web.page(
        request,
        "community.html",
        tab="community",
        repo=tab.repo,
        rows=rows,
        rid=rid,
        shown=shown,
        count={
            k: sum(1 for d in tab.rows if (d.status in ("open", "draft")) == (k == "open")) for k in FILTERS
        },
        can_write=tab.can_write,
    )


async def new_discussion(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """The New discussion form (GET) and its post: a discussion, or an empty PR a writer pushes to."""
    rid = rid_of(p, ns, name)
    if request.method == "GET":
        who = await web.who(request)
        if who is None:
            await web.repo(request, rid)  # a private repo's 404, not a log-in page confirming it exists
            return web.redirect(f"/login?next=/{rid.web_path}/discussions/new")
        repo = await web.repo(request, rid)
        return await web.page(request, "new_discussion.html", tab="community", repo=repo, rid=rid)
    who = await web.require_user(request)
    form = await web.form(request)
    repo, d = await web.run(
        hub_discussions.open_thread,
        web.hub,
        who,
        rid,
        form.get("title", ""),
        form.get("description", ""),
        False,
    )
    return web.redirect(f"{repo_path(repo)}/discussions/{d.num}")


def events_view(page: hub_discussions.ThreadPage, base: str) -> list[dict[str, Any]]:
    """The thread's events as the page shows them: comments rendered (markdown, sanitized like cards)."""
    out = []
    for e in (page.thread.row.data or {}).get("events", []):
        view = dict(e)
        data = e.get("data") or {}
        if e.get("type") == "comment" and not data.get("hidden"):
            view["html"] = render.markdown(str((data.get("latest") or {}).get("raw") or ""), base)
        out.append(view)
    return out


async def thread(web: Web, request: Request, p: str | None, ns: str, name: str, num: str) -> Response:
    return await _thread_page(web, request, rid_of(p, ns, name), int(num), files=False)


async def files(web: Web, request: Request, p: str | None, ns: str, name: str, num: str) -> Response:
    return await _thread_page(web, request, rid_of(p, ns, name), int(num), files=True)


async def _thread_page(web: Web, request: Request, rid: RepoId, num: int, files: bool) -> Response:
    who = await web.who(request)
    page = await web.run(hub_discussions.web_thread, web.hub, who, rid, num, files)
    if files and not page.thread.row.is_pr:
        return await web.not_found(request, f"Discussion #{num} is not a pull request")
    base = f"/{rid.web_path}/resolve/{page.thread.pr_head or 'main'}"
    events = await web.run(events_view, page, base)
    diffs = await web.run(rendered, page.diffs) if files else []
    d = page.thread.row
    is_author = who is not None and d.author_id == who.user_id
    return await web.page(
        request,
        "discussion.html",
        tab="community",
        repo=page.thread.repo,
        rid=rid,
        d=d,
        author=page.thread.author,
        events=events,
        diffs=diffs,
        files=files,
        conflicts=page.conflicts,
        pr_head=page.thread.pr_head,
        can_write=page.can_write,
        may_manage=page.can_write or is_author,
        error=request.query_params.get("error"),
    )


async def act(web: Web, request: Request, p: str | None, ns: str, name: str, num: str, verb: str) -> Response:
    """A thread's form: comment, rename (title), close / reopen (status), merge."""
    who = await web.require_user(request)
    form = await web.form(request)
    rid = rid_of(p, ns, name)
    if verb not in ("comment", "title", "status", "merge"):
        raise BadRequest("Unknown action")
    body = {k: form[k] for k in ("comment", "title", "status") if form.get(k)}
    await web.run(hub_discussions.act, web.hub, who, rid, int(num), verb, body)
    where = "/files" if verb == "merge" else ""
    return web.redirect(f"/{rid.web_path}/discussions/{num}{where}")


async def comment_act(
    web: Web, request: Request, p: str | None, ns: str, name: str, num: str, cid: str, verb: str
) -> Response:
    """Edit (a new version, the old ones kept) or hide a comment."""
    who = await web.require_user(request)
    form = await web.form(request)
    rid = rid_of(p, ns, name)
    body = {"id": cid, "content": form.get("content", "")}
    await web.run(hub_discussions.act, web.hub, who, rid, int(num), f"comment-{verb}", body)
    return web.redirect(f"/{rid.web_path}/discussions/{num}#c-{cid}")
