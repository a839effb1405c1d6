"""One search over everything a visitor may see: models, datasets, Spaces, users, organizations and
collections, for the header's suggestions (`GET /api/quicksearch`, the Hub's endpoint) and the grouped
results page (`/search?q=`).

Repos match as the lists do (a substring of the id, through the listing catalog, so that the count equals
what `/models?search=q` lists), topped up by full-text hits (tags and card text, `index.full_text`) when the
names give fewer than asked: "voice" finds `common-voice-mini` by its name, "speech" by its card. Accounts
match a substring of their name or full name; collections of their title or description. Private repos and
collections come only to those who may see them, by the same rules as the lists (`index` and `collections`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..db.models import Account, Collection, Membership, Repo
from ..errors import BadRequest
from ..ids import REPO_TYPES, repo_full
from . import accounts, fulltext, index
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

# What `type=` may name, in the order the answers list them. Papers are a type of the Hub's quicksearch that
# Agora has no pages for: asked for, they are an empty group rather than an error.
TYPES = ("model", "dataset", "space", "user", "org", "collection", "paper")
DEFAULT_LIMIT = 10
MAX_LIMIT = 50  # per type


@dataclass(frozen=True)
class Repos:
    """The repos of one type that match: `by_name` (the id contains the query; an exact id or name first,
    then the list's order),
    `by_card` (only their tags or card text do; best first) and `count`, how many ids contain it."""

    by_name: list[Repo]
    by_card: list[Repo]
    count: int


@dataclass(frozen=True)
class Rows:
    """A page of accounts or collections that match, and how many match in all."""

    rows: list[Any]
    count: int


@dataclass(frozen=True)
class Found:
    """What matched `q`, by type: only the types asked for are present."""

    q: str
    types: tuple[str, ...]
    repos: dict[str, Repos]
    users: Rows | None
    orgs: Rows | None
    collections: Rows | None


def parse_types(values: list[str]) -> tuple[str, ...]:
    """The types named by repeated or comma-separated `type=` values, in TYPES order; every type when none."""
    asked = {v.strip() for value in values for v in value.split(",") if v.strip()}
    unknown = sorted(asked - set(TYPES))
    if unknown:
        raise BadRequest(f"Invalid type {unknown[0][:40]!r}: use one or more of {', '.join(TYPES)}")
    return tuple(t for t in TYPES if t in asked) if asked else TYPES


def parse_limit(value: str | None) -> int:
    """How many of each type to answer: DEFAULT_LIMIT when absent, an integer from 1, capped at MAX_LIMIT."""
    return fulltext.parse_limit(value, DEFAULT_LIMIT, MAX_LIMIT)


def parse_query(value: str | None) -> str:
    """The query with its whitespace folded; at most fulltext.MAX_QUERY characters (else BadRequest)."""
    return fulltext.parse_query(value)


def _like(q: str) -> str:
    return "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _exact(s: Session, who: Principal | None, repo_type: str, q: str) -> list[Repo]:
    """The repos `who` may see whose id (`ns/name`, or a canonical `name`) or whose name is `q`, whatever the
    case: what someone typing a name wants first, however far down the trending order it is."""
    key = q.lower()
    ns, slash, name = key.rpartition("/")
    named = and_(Repo.namespace_key == ns, Repo.name_key == name) if slash else Repo.name_key == key
    rows = s.scalars(select(Repo).where(Repo.type == repo_type, named).order_by(Repo.id).limit(20))
    found = [r for r in rows if accounts.can_read(s, who, r)]
    return sorted(found, key=lambda r: repo_full(r.namespace, r.name).lower() != key)


def _repos(s: Session, who: Principal | None, repo_type: str, q: str, limit: int) -> Repos:
    query = index.Query(repo_type, [q], sort="trendingScore")
    ids, _, _ = index.find(s, who, query, limit)
    exact = _exact(s, who, repo_type, q)
    first = {r.id for r in exact}
    by_name = (exact + [r for r in index.rows_of(s, ids) if r.id not in first])[:limit]
    ids = [r.id for r in by_name]
    by_card: list[Repo] = []
    if len(by_name) < limit:
        seen = set(ids)
        extra = index.full_text(s, who, repo_type, q, limit)
        by_card = [r for r in extra if r.id not in seen][: limit - len(by_name)]
    return Repos(by_name, by_card, index.count(s, who, index.Query(repo_type, [q])))


def _accounts(s: Session, kind: str, q: str, limit: int) -> Rows:
    """Enabled accounts of `kind` whose name or full name contains `q`: the exact name first, then names
    starting with it, then the rest by name."""
    key, like = q.lower(), _like(q)
    cond = and_(
        Account.kind == kind,
        Account.disabled.is_(False),
        or_(Account.name_key.like(like, escape="\\"), func.lower(Account.fullname).like(like, escape="\\")),
    )
    starts = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rank = case((Account.name_key == key, 0), (Account.name_key.like(starts, escape="\\"), 1), else_=2)
    rows = list(s.scalars(select(Account).where(cond).order_by(rank, Account.name_key).limit(limit)))
    count = s.scalar(select(func.count()).select_from(Account).where(cond)) or 0
    return Rows(rows, count)


def _visible_collections(who: Principal | None) -> ColumnElement[bool]:
    """Who may see a collection: everyone a public one; its owner, the owner org's members and site
    admins a private one (as collections.can_read and collections.listing)."""
    if who is None:
        return Collection.private.is_(False)
    if who.is_admin:
        return Collection.id.is_not(None)
    orgs = (
        select(Account.name)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == who.user_id)
    )
    return or_(Collection.private.is_(False), Collection.owner == who.name, Collection.owner.in_(orgs))


def _collections(s: Session, who: Principal | None, q: str, limit: int) -> Rows:
    like = _like(q)
    cond = and_(
        _visible_collections(who),
        or_(
            func.lower(Collection.title).like(like, escape="\\"),
            func.lower(Collection.description).like(like, escape="\\"),
        ),
    )
    rows = list(
        s.scalars(
            select(Collection)
            .where(cond)
            .order_by(Collection.upvotes.desc(), Collection.updated_at.desc(), Collection.id.desc())
            .limit(limit)
        )
    )
    count = s.scalar(select(func.count()).select_from(Collection).where(cond)) or 0
    return Rows(rows, count)


def search(s: Session, who: Principal | None, q: str, types: tuple[str, ...], limit: int) -> Found:
    """Up to `limit` of each type in `types` that `who` may see and `q` matches (nothing for an empty q)."""
    q = parse_query(q)

    def group(t: str, find: Callable[[], Rows]) -> Rows | None:
        return None if t not in types else find() if q else Rows([], 0)

    return Found(
        q,
        types,
        {t: _repos(s, who, t, q, limit) if q else Repos([], [], 0) for t in REPO_TYPES if t in types},
        group("user", lambda: _accounts(s, "user", q, limit)),
        group("org", lambda: _accounts(s, "org", q, limit)),
        group("collection", lambda: _collections(s, who, q, limit)),
    )


# ---- in a session of its own: for the HTTP handlers (called in a worker thread) -----------------------------
def search_in(hub: Hub, who: Principal | None, q: str, types: tuple[str, ...], limit: int) -> Found:
    """`search` in a session of its own (the rows come back detached)."""
    with hub.db.session() as s:
        return search(s, who, q, types, limit)
