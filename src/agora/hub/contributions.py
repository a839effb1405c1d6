"""Contributions from outside a repo, as on the Hub: anyone with a write-capable identity may propose a
change to a PUBLIC repo as a pull request. They may upload bytes (preupload, LFS, Xet), open refs/pr/N with
a commit (`create_commit(create_pr=True)`), and add commits to the refs/pr/N of their own open pull
requests (API and git push). Everything else (main, other branches, tags, merging, other people's PRs)
stays with the repo's writers (accounts.can_write). Private repos have no contributors: 404 as before."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Discussion, Repo
from ..ids import RepoId
from . import accounts, gating
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

PR_REF = re.compile(r"refs/pr/([1-9][0-9]{0,9})")
OPEN = ("open", "draft")
MAX_COMMIT_EVENTS = 50  # commits listed in a PR's thread for one ref move (a long push says "and N more")


def is_contributor(who: Principal | None, repo: Repo) -> bool:
    """May propose changes to `repo` (which `who` can read): a public repo and a write-capable identity."""
    return who is not None and who.can_write_at_all and not repo.private


def own_pr_refs(s: Session, who: Principal | None, repo: Repo) -> list[str]:
    """The refs/pr/N of `who`'s open pull requests on `repo`."""
    if who is None:
        return []
    nums = s.scalars(
        select(Discussion.num).where(
            Discussion.repo_id == repo.id,
            Discussion.is_pr.is_(True),
            Discussion.author_id == who.user_id,
            Discussion.status.in_(OPEN),
        )
    )
    return [f"refs/pr/{n}" for n in nums]


def may_commit(s: Session, who: Principal | None, repo: Repo, ref: str | None, create_pr: bool) -> bool:
    """Whether `who` may write `ref` of `repo` (None: upload bytes only, a commit decides where they go)."""
    if accounts.can_write(s, who, repo):
        return True
    if not is_contributor(who, repo):
        return False
    if ref is None or create_pr:
        return True
    return _full_ref(ref) in own_pr_refs(s, who, repo)


def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def find(
    s: Session, hub: Hub, who: Principal | None, rid: RepoId, ref: str | None = None, create_pr: bool = False
) -> Repo:
    """`Hub.find` for a write a contributor may make; otherwise Hub.find(write=True)'s own refusal (404 to
    who may not see the repo, 401 / 403 to who may)."""
    repo = hub.find(s, who, rid)
    if may_commit(s, who, repo, ref, create_pr):
        return repo
    return hub.find(s, who, rid, write=True)


def open_repo(
    hub: Hub, who: Principal | None, rid: RepoId, ref: str | None = None, create_pr: bool = False
) -> Repo:
    """`find` in a session of its own (the row detached), for the HTTP faces."""
    with hub.db.session() as s:
        return find(s, hub, who, rid, ref, create_pr)


def push_scope(hub: Hub, who: Principal | None, rid: RepoId) -> tuple[Repo, list[str] | None]:
    """(repo, the refs `who` may push: None for all, as a writer) for a git push; a contributor with no open
    pull request of their own gets Hub.find(write=True)'s refusal."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        if accounts.can_write(s, who, repo):
            return repo, None
        refs = own_pr_refs(s, who, repo) if is_contributor(who, repo) else []
        if not refs:
            hub.find(s, who, rid, write=True)
        return repo, refs


def note_commits(s: Session, hub: Hub, repo: Repo, ref: str, old: str | None, new: str | None) -> None:
    """A PR's refs/pr/N moved (an API commit or a push): its new commits become events of its thread."""
    m = PR_REF.fullmatch(ref)
    if m is None or not new:
        return
    d = s.scalar(select(Discussion).where(Discussion.repo_id == repo.id, Discussion.num == int(m.group(1))))
    if d is None:
        return
    git = hub.git(repo)
    # A commit is listed once, whoever calls again for the same move (an import replays every ref).
    listed = {e["data"].get("oid") for e in (d.data or {}).get("events", []) if e.get("type") == "commit"}
    # Stop at what the thread knows already: the ref's old commit, or (a new PR) what main has.
    known = [x for x in (old, git.ref_target("refs/heads/main")) if x]
    added = []
    for c in git.log(new, limit=MAX_COMMIT_EVENTS + 1):
        if any(c.id == k or git.repo.descendant_of(k, c.id) for k in known):
            break
        added.append(c)
    events: list[dict[str, Any]] = []
    for c in reversed(added[:MAX_COMMIT_EVENTS]):
        if c.id in listed:
            continue
        when = datetime.fromtimestamp(c.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        events.append(
            {
                "id": c.id[:24],
                "type": "commit",
                "createdAt": when,
                "author": {"name": c.author},
                "data": {"subject": c.title, "oid": c.id},
            }
        )
    if events:
        data = dict(d.data or {})
        data["events"] = [*data.get("events", []), *events]
        d.data = data


def open_editor(
    hub: Hub, who: Principal | None, rid: RepoId, path: str | None = None, rev: str = "main"
) -> tuple[Repo, bool]:
    """(repo, whether `who` writes it) for the web editor and upload pages: writers commit to a branch or
    open a PR, contributors open a PR only; anyone else gets Hub.find(write=True)'s refusal. `path`: the
    file the editor shows at `rev`, its bytes: behind a gated repo's gate (GatedRepo) like a download."""
    with hub.db.session() as s:
        repo = find(s, hub, who, rid)
        if path is not None and repo.gated:
            gating.check(s, who, repo, gating.is_card(hub.git(repo), rev, path))
        return repo, accounts.can_write(s, who, repo)
