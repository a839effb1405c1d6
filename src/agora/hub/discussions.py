"""Discussions and pull requests. A PR is a discussion plus the ref refs/pr/{num}; merging it moves main
(fast-forward, or a merge commit when git can merge without conflicts) through the same after_ref_update."""

from __future__ import annotations

import secrets
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pygit2
from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from ..db.models import Account, Discussion, Repo, utcnow
from ..errors import BadRequest, Conflict, Forbidden, NotFound
from ..ids import RepoId
from ..storage.gitstore import FileDiff, GitRepo, diff_commit
from . import accounts, commits, gating, names, webhook_events
from .accounts import Principal, require_write_token

if TYPE_CHECKING:
    from .repos import Hub

STATUSES = ("open", "closed")


def _event(who: Principal, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": secrets.token_hex(12),
        "type": kind,
        "createdAt": _now(),
        "author": {"name": who.name},
        "data": data,
    }


def _now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _version(who: Principal, text: str) -> dict[str, Any]:
    """One version of a comment's text, as the Hub's `latest` and `history` entries carry it."""
    return {"raw": text, "updatedAt": _now(), "author": {"name": who.name}}


def _comment(who: Principal, text: str) -> dict[str, Any]:
    first = _version(who, text)
    return _event(who, "comment", {"edited": False, "hidden": False, "latest": first, "history": [first]})


def get(s: Session, repo: Repo, num: int) -> Discussion:
    d = s.scalar(select(Discussion).where(Discussion.repo_id == repo.id, Discussion.num == num))
    if d is None:
        raise NotFound(f"Discussion #{num} not found")
    return d


def _append(d: Discussion, event: dict[str, Any]) -> None:
    data = dict(d.data or {})
    data["events"] = [*data.get("events", []), event]
    d.data = data


def create(
    s: Session,
    hub: Hub,
    who: Principal,
    repo: Repo,
    title: str,
    description: str,
    pr: bool,
    draft: bool = False,
) -> Discussion:
    """A discussion, or a PR whose refs/pr/N starts at main (a draft, as the Hub's "New pull request" makes
    it, when `draft`: its author pushes to it, then publishes it)."""
    require_write_token(who, "open a discussion or pull request")
    title = (title or "").strip()
    if not title or len(title) > 300:
        raise BadRequest("A discussion needs a title of 1 to 300 characters")
    git = hub.git(repo)
    d = Discussion(
        title=title, is_pr=pr, author_id=who.user_id, data={"events": [_comment(who, description or "")]}
    )
    if pr and draft:
        d.status = "draft"
    with hub.writer(s, repo, git):
        num = commits.new_discussion(s, repo, d)
        # Committed under the lock: a PR's ref and its row are published together (commits.pr_ref).
        with commits.pr_ref(git, num, git.resolve("main")) if pr else nullcontext():
            s.commit()
    return d


def listing(
    s: Session, repo: Repo, kind: str | None, status: str | None, author: str | None
) -> list[Discussion]:
    q = select(Discussion).where(Discussion.repo_id == repo.id)
    if kind == "pull_request":
        q = q.where(Discussion.is_pr.is_(True))
    elif kind == "discussion":
        q = q.where(Discussion.is_pr.is_(False))
    if status in ("open", "closed", "merged", "draft"):
        q = q.where(Discussion.status == status)
    if author:
        acc = names.account(s, author)  # in any case, as on the Hub
        q = q.where(Discussion.author_id == (acc.id if acc is not None else -1))
    return list(s.scalars(q.order_by(desc(Discussion.num))))


@dataclass(frozen=True)
class RepoDiscussions:
    """A repo's Community tab: its discussions and PRs, newest first (detached rows), and whether the
    visitor may write the repo."""

    repo: Repo
    rows: list[Discussion]
    can_write: bool

    authors: dict[int, str] = field(default_factory=dict)  # the rows' authors' names, by account id


def repo_discussions(hub: Hub, who: Principal | None, rid: RepoId) -> RepoDiscussions:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        rows = listing(s, repo, None, None, None)
        ids = {d.author_id for d in rows if d.author_id is not None}
        names_of = dict(s.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).tuples().all())
        return RepoDiscussions(repo, rows, accounts.can_write(s, who, repo), names_of)


# ---- the Community list's filters (http/web/community.py) ----
def is_open(d: Discussion) -> bool:
    return d.status in ("open", "draft")  # merged PRs count as closed, as on the Hub


def kind_ok(d: Discussion, kind: str) -> bool:
    return kind == "all" or d.is_pr == (kind == "pull_request")


def status_ok(d: Discussion, status: str) -> bool:
    return status == "all" or is_open(d) == (status == "open")


def comment_count(d: Discussion) -> int:
    """The comments of a thread after its opening post (hidden ones too: they still took place)."""
    events = (d.data or {}).get("events", [])
    return max(sum(1 for e in events if e.get("type") == "comment") - 1, 0)


def open_count(hub: Hub, repo_id: int) -> int:
    """How many of a repo's discussions and PRs are open (drafts included): the Community tab's count."""
    with hub.db.session() as s:
        q = select(func.count()).where(
            Discussion.repo_id == repo_id, Discussion.status.in_(("open", "draft"))
        )
        return int(s.scalar(q) or 0)


def comment(s: Session, who: Principal, d: Discussion, text: str) -> dict[str, Any]:
    require_write_token(who, "comment")
    if not text or not text.strip():
        raise BadRequest("The comment is empty")
    ev = _comment(who, text)
    _append(d, ev)
    repo = s.get(Repo, d.repo_id)
    if repo is not None:
        webhook_events.comment_event(s, repo, d, ev, who.user_id)
    return ev


def _find_comment(d: Discussion, comment_id: str) -> tuple[list[dict[str, Any]], int]:
    """(a copy of the thread's events, the index of comment `comment_id` in it), or NotFound."""
    events = [dict(e) for e in (d.data or {}).get("events", [])]
    for i, e in enumerate(events):
        if e.get("type") == "comment" and str(e.get("id")) == comment_id.lower():
            e["data"] = dict(e.get("data") or {})
            return events, i
    raise NotFound(f"Comment {comment_id} not found in discussion #{d.num}")


def _store(d: Discussion, events: list[dict[str, Any]]) -> None:
    d.data = {**(d.data or {}), "events": events}  # a new value: the JSON column sees the change


def edit_comment(s: Session, who: Principal, d: Discussion, comment_id: str, text: str) -> dict[str, Any]:
    """A new version of a comment, by its author only; earlier versions stay in its `history` (newest
    first, as the Hub lists them) and the comment shows as edited."""
    require_write_token(who, "edit a comment")
    events, i = _find_comment(d, comment_id)
    ev, data = events[i], events[i]["data"]
    if ev.get("author", {}).get("name") != who.name:
        raise Forbidden("Only the author of a comment can edit it")
    if data.get("hidden"):
        raise Forbidden("This comment has been hidden: it cannot be edited")
    if not text or not text.strip():
        raise BadRequest("The comment is empty")
    version = _version(who, text)
    history = data.get("history") or [data.get("latest") or {}]
    data.update(edited=True, latest=version, history=[version, *history])
    _store(d, events)
    _comment_changed(s, d, ev)
    return ev


def _comment_changed(s: Session, d: Discussion, ev: dict[str, Any]) -> None:
    """The "discussion.comment" "update" event of an edited or hidden comment (its author by name)."""
    repo = s.get(Repo, d.repo_id)
    if repo is not None:
        author = accounts.get_account(s, str(ev.get("author", {}).get("name") or ""))
        webhook_events.comment_event(s, repo, d, ev, author.id if author else None, "update")


def hide_comment(
    s: Session, who: Principal, d: Discussion, comment_id: str, can_write: bool
) -> dict[str, Any]:
    """Hide a comment (its author or the repo's writers): its text, and every earlier version, is dropped
    for good, as on the Hub (the client warns that hidden content cannot be retrieved)."""
    require_write_token(who, "hide a comment")
    events, i = _find_comment(d, comment_id)
    ev, data = events[i], events[i]["data"]
    if not (can_write or ev.get("author", {}).get("name") == who.name):
        raise Forbidden("Only the author of a comment or the repo's writers can hide it")
    blank = {**_version(who, ""), "author": (data.get("latest") or {}).get("author", {})}
    data.update(hidden=True, hiddenBy=who.name, latest=blank, history=[])
    _store(d, events)
    _comment_changed(s, d, ev)
    return ev


def rename(s: Session, who: Principal, d: Discussion, title: str, can_write: bool) -> dict[str, Any]:
    require_write_token(who, "rename a discussion")
    if not (can_write or who.user_id == d.author_id):
        raise Forbidden("Only the author or the repo's writers can rename a discussion")
    if not title or not title.strip():
        raise BadRequest("The title is empty")
    ev = _event(who, "title-change", {"from": d.title, "to": title.strip()[:300]})
    d.title = title.strip()[:300]
    _append(d, ev)
    repo = s.get(Repo, d.repo_id)
    if repo is not None:
        webhook_events.discussion_event(s, repo, d, "update")
    return ev


def set_status(
    s: Session, who: Principal, d: Discussion, status: str, text: str | None, can_write: bool
) -> dict[str, Any]:
    require_write_token(who, "change the status of a discussion")
    if status not in STATUSES:
        raise BadRequest("status must be open or closed")
    if d.status == "merged":
        raise Conflict("This pull request is already merged")
    if not (can_write or who.user_id == d.author_id):
        raise Forbidden("Only the author or the repo's writers can change the status")
    said = _comment(who, text) if text else None
    if said is not None:
        _append(d, said)
    was, d.status = d.status, status
    ev = _event(who, "status-change", {"status": status, "from": was})  # "from": a draft published
    _append(d, ev)
    repo = s.get(Repo, d.repo_id)
    if repo is not None:
        webhook_events.discussion_event(s, repo, d, "update")
        if said is not None:  # the comment that came with it: an event of its own, as any comment
            webhook_events.comment_event(s, repo, d, said, who.user_id)
    return ev


def conflicted(index: pygit2.Index) -> list[str]:
    """The paths in conflict in a merge's index (each named once, sorted)."""
    paths: set[str] = set()
    for entries in index.conflicts or ():
        paths.update(e.path for e in entries if e is not None)
    return sorted(paths)


def pr_conflicts(git: GitRepo, num: int) -> list[str]:
    """The files that conflict when PR #num's refs/pr/N is merged into main (empty: it merges cleanly)."""
    main, pr = git.resolve("main"), git.ref_target(f"refs/pr/{num}")
    if pr is None or main == pr or git.repo.descendant_of(main, pr) or git.repo.descendant_of(pr, main):
        return []
    return conflicted(git.repo.merge_commits(main, pr))


def merge(s: Session, hub: Hub, who: Principal, repo: Repo, d: Discussion, text: str | None) -> str:
    """Fast-forward main to the PR, or make a merge commit when git merges it cleanly; conflicts -> 409."""
    require_write_token(who, "merge a pull request")
    if not d.is_pr:
        raise BadRequest("Only pull requests can be merged")
    if d.status != "open":
        raise Conflict(f"This pull request is {d.status}")
    git = hub.git(repo)
    main = git.resolve("main")
    pr = git.resolve(f"refs/pr/{d.num}")
    r = git.repo
    if main == pr or r.descendant_of(main, pr):
        raise Conflict("Nothing to merge: main already contains this pull request")

    def mark_merged(new: str) -> None:  # in the transaction that records the merge, under the repo lock
        said = _comment(who, text) if text else None
        if said is not None:
            _append(d, said)
        d.status = "merged"
        # The main it was merged into: the files view still shows the PR's changes once merged.
        d.data = {**(d.data or {}), "mergeCommitId": new, "mergedInto": main}
        _append(d, _event(who, "status-change", {"status": "merged"}))
        webhook_events.discussion_event(s, repo, d, "update")
        if said is not None:
            webhook_events.comment_event(s, repo, d, said, who.user_id)

    if r.descendant_of(pr, main):  # a fast-forward: a ref move, through the same post-write path
        commits.move_branch(s, hub, repo, "refs/heads/main", main, pr, f"merge refs/pr/{d.num}", mark_merged)
        return pr
    index = r.merge_commits(main, pr)
    if index.conflicts is not None:
        files = ", ".join(conflicted(index))
        raise Conflict(f"This pull request has conflicts with main in {files}: update it first")
    # main moving meanwhile is a ParentMismatch (the merge was computed against this main).
    return commits.commit_in(
        s,
        hub,
        who,
        repo,
        [],
        summary=f"Merge pull request #{d.num}: {d.title}",
        parent_commit=main,
        parents=[main, pr],
        tree_from=str(index.write_tree(r)),
        on_written=mark_merged,
    ).oid


# ---- in a session of their own: for the HTTP handlers (called in a worker thread) ----------------------------
@dataclass(frozen=True)
class Thread:
    """A discussion as the API shows it: its repo and the discussion (detached rows), its author's name (None
    without an author or when the account is gone) and, in a pull request's details, the commit its
    refs/pr/N points to."""

    repo: Repo
    row: Discussion
    author: str | None
    pr_head: str | None = None
    conflicts: tuple[str, ...] = ()  # an open PR's files in conflict with main
    diff: str | None = None  # a PR's unified diff since its merge base with main, when asked for


def _thread(s: Session, repo: Repo, d: Discussion) -> Thread:
    author = s.get(Account, d.author_id) if d.author_id else None
    return Thread(repo, d, author.name if author else None)


def thread_page(
    hub: Hub,
    who: Principal | None,
    rid: RepoId,
    kind: str | None,
    status: str | None,
    author: str | None,
    start: int,
    size: int,
) -> tuple[list[Thread], int]:
    """`size` of a repo's discussions from `start` on (filtered as `listing`), and how many match."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        rows = listing(s, repo, kind, status, author)
        return [_thread(s, repo, d) for d in rows[start : start + size]], len(rows)


def open_thread(
    hub: Hub, who: Principal, rid: RepoId, title: str, description: str, pr: bool, draft: bool = False
) -> tuple[Repo, Discussion]:
    """`create` on the repo `rid` names, in a session of its own."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        return repo, create(s, hub, who, repo, title, description, pr, draft)


def thread(hub: Hub, who: Principal | None, rid: RepoId, num: int, with_diff: bool = False) -> Thread:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        t = _thread(s, repo, get(s, repo, num))
        if not t.row.is_pr:
            return t
        git = hub.git(repo)
        clash = tuple(pr_conflicts(git, num)) if t.row.status == "open" else ()
        head = git.ref_target(f"refs/pr/{t.row.num}")
        shown = with_diff and head and gating.passes_gate(s, who, repo)  # a diff is the files' bytes
        diff = pr_patch(git, head) if shown and head else None
        return replace(t, pr_head=head, conflicts=clash, diff=diff)


MAX_DIFF = 1024 * 1024  # the characters of a PR's diff the API answers with (the client only shows it)


def pr_patch(git: GitRepo, head: str) -> str:
    """The unified diff of a PR's head against its merge base with main (at most MAX_DIFF characters; LFS
    and binary files are left out, as in the files view)."""
    base = git.repo.merge_base(git.resolve("main"), head)
    if base is None:
        return ""
    return "".join(d.patch for d in diff_commit(git, head, base=str(base)))[:MAX_DIFF]


def act(hub: Hub, who: Principal, rid: RepoId, num: int, verb: str, body: dict[str, Any]) -> Any:
    """A discussion's `verb` (comment, title, status, merge) with the values of `body`: the new message, the
    new title, the new status, or the merge commit's id."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        d = get(s, repo, num)
        can_write = accounts.can_write(s, who, repo)
        if verb == "comment":
            return comment(s, who, d, str(body.get("comment") or ""))
        if verb == "title":
            return rename(s, who, d, str(body.get("title") or ""), can_write)
        if verb == "status":
            return set_status(s, who, d, str(body.get("status")), body.get("comment"), can_write)
        if verb == "comment-edit":
            return edit_comment(s, who, d, str(body.get("id")), str(body.get("content") or ""))
        if verb == "comment-hide":
            return hide_comment(s, who, d, str(body.get("id")), can_write)
        repo = hub.find(s, who, rid, write=True)
        return merge(s, hub, who, repo, d, body.get("comment"))


# A PR's files view: the characters of one file's patch and of all of them it shows (a few thousand lines, a page
# a browser scrolls; past them a file's patch is cut or left out, with a link to the file).
PAGE_PATCH = 64 * 1024
PAGE_DIFF = 256 * 1024


@dataclass(frozen=True)
class ThreadPage:
    """A discussion's web page: the thread, whether the visitor writes the repo, and, for a pull request's
    files view, its changes since it left main (its merge base) and the files that conflict with main."""

    thread: Thread
    can_write: bool
    diffs: list[FileDiff]
    conflicts: list[str]
    gate_closed: bool = False  # a gated repo's PR whose files the visitor may not see yet


def web_thread(hub: Hub, who: Principal | None, rid: RepoId, num: int, files: bool = False) -> ThreadPage:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        t = _thread(s, repo, get(s, repo, num))
        can_write = accounts.can_write(s, who, repo)
        gate_closed = files and not gating.passes_gate(s, who, repo)  # a gated repo's diff: past its gate
    if not t.row.is_pr:
        return ThreadPage(t, can_write, [], [])
    git = hub.git(repo)
    head = git.ref_target(f"refs/pr/{num}")
    t = replace(t, pr_head=head)
    if not files or gate_closed or head is None:
        clash = pr_conflicts(git, num) if t.row.status == "open" else []
        return ThreadPage(t, can_write, [], clash, gate_closed)
    target = (t.row.data or {}).get("mergedInto") if t.row.status == "merged" else None
    base = git.repo.merge_base(str(target or git.resolve("main")), head)
    base_id = str(base) if base is not None else None
    diffs = diff_commit(git, head, max_patch=PAGE_PATCH, base=base_id, max_total=PAGE_DIFF)
    return ThreadPage(t, can_write, diffs, pr_conflicts(git, num) if t.row.status == "open" else [])
