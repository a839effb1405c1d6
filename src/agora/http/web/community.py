"""The Community tab: a repo's discussions and pull requests (refs/pr/N), each thread's page, a PR's files
view with its merge, and the forms that act on them. Every action is the API's domain call
(hub/discussions.py), posted as a form with its CSRF token; no script is needed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, Conflict
from ...hub import discussions as hub_discussions
from ...ids import RepoId
from . import render
from .base import Web, page_param, repo_path, rid_of
from .files import rendered

FILTERS = ("open", "closed", "all")
KINDS = ("all", "discussion", "pull_request")
PAGE_SIZE = 25  # rows of the Community list per page


def _choice(request: Request, key: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(key) or allowed[0]
    return value if value in allowed else allowed[0]


async def discussions(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """The Community list: open / closed / all, discussions / PRs (each with its count), a search in the
    titles, PAGE_SIZE rows a page."""
    who = await web.who(request)
    rid = rid_of(p, ns, name)
    tab = await web.run(hub_discussions.repo_discussions, web.hub, who, rid)
    shown, kind = _choice(request, "status", FILTERS), _choice(request, "type", KINDS)
    q = (request.query_params.get("q") or "").strip()[:200]
    found = [d for d in tab.rows if q.casefold() in d.title.casefold()]
    rows = [d for d in found if hub_discussions.status_ok(d, shown) and hub_discussions.kind_ok(d, kind)]
    pages = max((len(rows) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    at = min(page_param(request, 1), pages)
    return await web.page(
        request,
        "community.html",
        tab="community",
        repo=tab.repo,
        rows=rows[(at - 1) * PAGE_SIZE : at * PAGE_SIZE],
        authors=tab.authors,
        comments=hub_discussions.comment_count,
        rid=rid,
        shown=shown,
        kind=kind,
        q=q,
        at=at,
        pages=pages,
        count={
            k: sum(1 for d in found if hub_discussions.status_ok(d, k) and hub_discussions.kind_ok(d, kind))
            for k in FILTERS
        },
        kind_count={
            k: sum(1 for d in found if hub_discussions.status_ok(d, shown) and hub_discussions.kind_ok(d, k))
            for k in KINDS
        },
        can_write=tab.can_write,
    )


async def new_discussion(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """The New discussion form (GET) and its post: a discussion; with type=pull_request, the New pull request
    form and its draft PR, which its author pushes to (the thread page shows how). A refused post shows the
    form again with what was typed."""
    rid = rid_of(p, ns, name)
    pr = request.query_params.get("type") == "pull_request"
    if request.method == "GET":
        who = await web.who(request)
        if who is None:
            await web.repo(request, rid)  # a private repo's 404, not a log-in page confirming it exists
            where = f"/{rid.web_path}/discussions/new" + ("?type=pull_request" if pr else "")
            return web.redirect(f"/login?next={quote(where)}")
        repo = await web.repo(request, rid)
        return await web.page(request, "new_discussion.html", tab="community", repo=repo, rid=rid, pr=pr)
    who = await web.require_user(request)
    form = await web.form(request)
    pr = form.get("type") == "pull_request"
    title, text = form.get("title", ""), form.get("description", "")
    try:
        repo, d = await web.run(hub_discussions.open_thread, web.hub, who, rid, title, text, pr, pr)
    except BadRequest as e:
        repo = await web.repo(request, rid)
        return await web.page(
            request,
            "new_discussion.html",
            status=400,
            tab="community",
            repo=repo,
            rid=rid,
            pr=pr,
            error=e.message,
            title=title,
            description=text,
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


async def _thread_page(
    web: Web, request: Request, rid: RepoId, num: int, files: bool, status: int = 200, **kept: Any
) -> Response:
    """A thread's page (its files view with `files`); `kept`: a refused reply's error and text, shown again."""
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
        status=status,
        tab="community",
        repo=page.thread.repo,
        rid=rid,
        d=d,
        author=page.thread.author,
        events=events,
        diffs=diffs,
        files=files,
        conflicts=page.conflicts,
        gate_closed=page.gate_closed,
        pr_head=page.thread.pr_head,
        can_write=page.can_write,
        may_manage=page.can_write or is_author,
        host=web.base_url(request),
        **kept,
    )


async def act(web: Web, request: Request, p: str | None, ns: str, name: str, num: str, verb: str) -> Response:
    """A thread's form: comment, rename (title), close / reopen / publish (status), merge. A refused comment
    shows the page again with the error, its text kept in the reply box."""
    who = await web.require_user(request)
    form = await web.form(request)
    rid = rid_of(p, ns, name)
    if verb not in ("comment", "title", "status", "merge"):
        raise BadRequest("Unknown action")
    body = {k: form[k] for k in ("comment", "title", "status") if form.get(k)}
    try:
        await web.run(hub_discussions.act, web.hub, who, rid, int(num), verb, body)
    except (BadRequest, Conflict) as e:
        if verb != "comment":
            raise
        draft = form.get("comment", "")
        return await _thread_page(
            web, request, rid, int(num), False, status=400, error=e.message, draft=draft
        )
    where = "/files" if verb == "merge" else ""
    return web.redirect(f"/{rid.web_path}/discussions/{num}{where}")


async def comment_act(
    web: Web, request: Request, p: str | None, ns: str, name: str, num: str, cid: str, verb: str
) -> Response:
    """Edit (a new version, the old ones kept) or hide a comment. A refused edit shows the page again with
    the error and the new text in that comment's edit box."""
    who = await web.require_user(request)
    form = await web.form(request)
    rid = rid_of(p, ns, name)
    body = {"id": cid, "content": form.get("content", "")}
    try:
        await web.run(hub_discussions.act, web.hub, who, rid, int(num), f"comment-{verb}", body)
    except BadRequest as e:
        if verb != "edit":
            raise
        kept = {"edit_error": e.message, "edit_id": cid.lower(), "edit_text": body["content"]}
        return await _thread_page(web, request, rid, int(num), False, status=400, **kept)
    return web.redirect(f"/{rid.web_path}/discussions/{num}#c-{cid}")
