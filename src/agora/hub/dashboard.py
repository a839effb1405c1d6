"""The logged-in home page (issue 18, first steps): the user's repos, orgs and likes, and a feed of the
recent commits in their namespace and their orgs'.

There is no commits table: a revision is a git commit (docs/architecture.md), so the feed reads the `main`
history of the few repos that changed last (the database orders them by `updated_at`, which every write path
sets through `after_ref_update`) and merges them by time. Bounded: FEED_REPOS repos, FEED_PER_REPO commits
each, FEED_MAX shown. Visibility: only repos the user may read (`accounts.can_read`; a `read` member of an
org reads its private repos, as everywhere else)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import desc, select

from ..db.models import Account, Repo
from ..storage.gitstore import CommitInfo
from . import accounts, index
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

MY_REPOS = 30  # the user's own repos listed, most recently updated first
LIKES_SHOWN = 20
FEED_REPOS = 20  # the most recently updated repos whose history the feed reads
FEED_PER_REPO = 5
FEED_MAX = 30


@dataclass(frozen=True)
class FeedItem:
    """One commit of the feed: the repo (a detached row) and the commit on its main branch."""

    repo: Repo
    commit: CommitInfo


@dataclass(frozen=True)
class Dashboard:
    """What the home page shows a logged-in user above the trending lists (field names: home.html's)."""

    my_repos: list[Repo]
    orgs: list[tuple[Account, str]]  # (org, the user's role)
    my_likes: list[Repo]
    feed: list[FeedItem]


def dashboard(hub: Hub, who: Principal) -> Dashboard:
    with hub.db.session() as s:
        orgs = accounts.user_orgs(s, who.user_id)
        keys = [who.name.lower(), *(o.name.lower() for o, _ in orgs)]
        recent = s.scalars(
            select(Repo)
            .where(Repo.namespace_key.in_(keys))
            .order_by(desc(Repo.updated_at), desc(Repo.id))
            .limit(FEED_REPOS)
        )
        watched = [r for r in recent if accounts.can_read(s, who, r)]
        mine = s.scalars(
            select(Repo)
            .where(Repo.namespace_key == who.name.lower())
            .order_by(desc(Repo.updated_at), desc(Repo.id))
            .limit(MY_REPOS)
        )
        me = accounts.account_by_id(s, who.user_id)
        likes = index.liked_by(s, who, me)[:LIKES_SHOWN] if me is not None else []
        return Dashboard(list(mine), orgs, likes, feed(hub, watched))


def feed(hub: Hub, repos: list[Repo]) -> list[FeedItem]:
    """The last commits on `main` of `repos`, newest first (a repo without a main branch adds none)."""
    items: list[FeedItem] = []
    for repo in repos:
        git = hub.git(repo)
        head = git.ref_target("refs/heads/main")
        if head is not None:
            items += [FeedItem(repo, c) for c in git.log(head, limit=FEED_PER_REPO)]
    items.sort(key=lambda i: (i.commit.time, i.repo.id), reverse=True)
    return items[:FEED_MAX]
