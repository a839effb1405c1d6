"""Names compare without case, as on the Hub: `alice`, `Alice` and `ALICE` are one user, `alice/pm` and
`ALICE/PM` one repo. Every lookup goes through the lower-cased keys (db/models.py: Account.name_key,
Repo.namespace_key / name_key, set whenever a name is); the stored spelling is the canonical one that
answers carry.

A database made before migration 0010 may hold case twins. Nothing merges them: lookups then prefer the
exact spelling, `agora fsck` lists them (`twins`), an admin renames one of each (`rename_account`,
`rename_repo`), and `agora fsck --fix-indexes` (`enforce_unique`) makes the key indexes unique again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Index,
    and_,
    bindparam,
    case,
    func,
    inspect,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from ..db.models import Account, Collection, Repo, RepoRedirect, name_key
from ..errors import BadRequest, Conflict, NotFound
from ..ids import CANONICAL, RepoId, check_name, check_namespace

if TYPE_CHECKING:
    from .repos import Hub

key = name_key
KEY_INDEXES = {"accounts": "ix_accounts_name_key", "repos": "ix_repos_name_key"}

# The two lookups every request makes, built once (building a statement costs more than running it on
# SQLite): the exact spelling first, should case twins exist.
_ACCOUNT = (
    select(Account)
    .where(Account.name_key == bindparam("key"))
    .order_by(case((Account.name == bindparam("name"), 0), else_=1), Account.id)
    .limit(1)
)
_REPO = (
    select(Repo)
    .where(
        Repo.type == bindparam("type"),
        Repo.namespace_key == bindparam("ns_key"),
        Repo.name_key == bindparam("name_key"),
    )
    .order_by(
        case((and_(Repo.namespace == bindparam("ns"), Repo.name == bindparam("name")), 0), else_=1), Repo.id
    )
    .limit(1)
)


def account(s: Session, name: str) -> Account | None:
    """The account called `name` in any case (the exact spelling first, should twins exist)."""
    if not isinstance(name, str):
        return None
    return s.scalar(_ACCOUNT, {"key": key(name), "name": name})


def canonical(s: Session, name: str) -> str:
    """The stored spelling of an account name; `name` itself when there is no such account."""
    acc = account(s, name)
    return acc.name if acc is not None else name


def repo(s: Session, rid: RepoId) -> Repo | None:
    """The repo `rid` names in any case (the exact spelling first, should twins exist)."""
    if not isinstance(rid.namespace, str) or not isinstance(rid.name, str):
        return None
    params = {"type": rid.type, "ns_key": key(rid.namespace), "name_key": key(rid.name),
              "ns": rid.namespace, "name": rid.name}  # fmt: skip
    return s.scalar(_REPO, params)


# ---- old names: a renamed or transferred repo keeps answering at them ------------------------------------------
def redirect(s: Session, rid: RepoId) -> RepoRedirect | None:
    """The old-name record `rid` matches in any case, if any (hub/repos.py `find` follows it)."""
    q = select(RepoRedirect).where(
        RepoRedirect.type == rid.type,
        RepoRedirect.namespace_key == key(rid.namespace),
        RepoRedirect.name_key == key(rid.name),
    )
    return s.scalar(q.limit(1))


def release(s: Session, rid: RepoId) -> None:
    """`rid` names a repo again (created, or moved there): its old-name record, if any, ends."""
    hit = redirect(s, rid)
    if hit is not None:
        s.delete(hit)
        s.flush()


def remember(s: Session, repo: Repo, old: RepoId) -> None:
    """`repo` was called `old` until now (a move): `old` redirects to it from now on. Called before the row
    of the new name is released, so a case-only rename leaves nothing behind."""
    release(s, old)
    s.add(
        RepoRedirect(
            type=old.type,
            namespace_key=key(old.namespace),
            name_key=key(old.name),
            old_id=old.full,
            repo_id=repo.id,
        )
    )
    s.flush()


def repo_taken(s: Session, rid: RepoId, other_than: int | None = None) -> bool:
    """Whether a repo other than `other_than` already has `rid`'s id in some case."""
    q = select(Repo.id).where(
        Repo.type == rid.type, Repo.namespace_key == key(rid.namespace), Repo.name_key == key(rid.name)
    )
    if other_than is not None:
        q = q.where(Repo.id != other_than)
    return s.scalar(q.limit(1)) is not None


def name_taken(s: Session, name: str, other_than: int | None = None) -> bool:
    """Whether an account other than `other_than`, or a canonical repo, has this name in some case: accounts
    and canonical repos share their names (`/gpt2` is one or the other, http/canonical.py)."""
    q = select(Account.id).where(Account.name_key == key(name))
    if other_than is not None:
        q = q.where(Account.id != other_than)
    return s.scalar(q.limit(1)) is not None or canonical_taken(s, name)


def canonical_taken(s: Session, name: str) -> bool:
    """Whether a canonical repo (of any type) is called `name` in some case."""
    q = select(Repo.id).where(Repo.namespace_key == CANONICAL, Repo.name_key == key(name))
    return s.scalar(q.limit(1)) is not None


def canonical_ids(hub: Hub) -> frozenset[tuple[str, str]]:
    """(type, lower-cased name) of every canonical repo, in a session of its own (the router's cache)."""
    with hub.db.session() as s:
        rows = s.execute(select(Repo.type, Repo.name_key).where(Repo.namespace_key == CANONICAL))
        return frozenset((t, n) for t, n in rows)


# ---- fsck: twins, stale keys, unique indexes ----------------------------------------------------------------
@dataclass
class Report:
    account_twins: list[list[str]] = field(default_factory=list)  # names differing only by case
    repo_twins: list[tuple[str, list[str]]] = field(
        default_factory=list
    )  # (type, ids differing only by case)
    stale_keys: dict[str, int] = field(default_factory=dict)  # table -> rows whose key is missing or wrong
    not_unique: list[str] = field(default_factory=list)  # key indexes that do not enforce uniqueness

    @property
    def ok(self) -> bool:
        return not (self.account_twins or self.repo_twins or self.stale_keys or self.not_unique)

    def lines(self) -> list[str]:
        out = [f"case twins (accounts): {' '.join(g)}" for g in self.account_twins]
        out += [f"case twins ({t} repos): {' '.join(g)}" for t, g in self.repo_twins]
        out += [f"{n} row(s) of {t} without their lower-cased name key" for t, n in self.stale_keys.items()]
        for ix in self.not_unique:
            hint = (
                (
                    "rename one of each twin (agora user rename OLD NEW / agora repo rename TYPE NS/OLD NS/NEW), "
                    "then run `agora fsck --fix-indexes`"
                )
                if self.account_twins or self.repo_twins
                else "run `agora fsck --fix-indexes` to enforce it"
            )
            out.append(f"index {ix} does not enforce case-insensitive uniqueness: {hint}")
        return out


def check(s: Session) -> Report:
    r = Report()
    groups: dict[str, list[str]] = {}
    dup = select(Account.name_key).group_by(Account.name_key).having(func.count() > 1)
    for name, k in s.execute(
        select(Account.name, Account.name_key)
        .where(Account.name_key.in_(dup))
        .order_by(Account.name_key, Account.name)
    ):
        groups.setdefault(k, []).append(name)
    r.account_twins = list(groups.values())
    cols = (Repo.type, Repo.namespace_key, Repo.name_key)
    rgroups: dict[tuple[str, str, str], list[str]] = {}
    dupr = select(*cols).group_by(*cols).having(func.count() > 1)
    for t, ns, n, nk, k in s.execute(
        select(Repo.type, Repo.namespace, Repo.name, Repo.namespace_key, Repo.name_key)
        .where(tuple_(*cols).in_(dupr))
        .order_by(*cols, Repo.namespace, Repo.name)
    ):
        rgroups.setdefault((t, nk, k), []).append(f"{ns}/{n}")
    r.repo_twins = [(t, g) for (t, _, _), g in rgroups.items()]
    stale_acc = s.scalar(select(func.count()).select_from(Account).where(_stale_account()))
    stale_repo = s.scalar(select(func.count()).select_from(Repo).where(_stale_repo()))
    r.stale_keys = {t: n for t, n in (("accounts", stale_acc), ("repos", stale_repo)) if n}
    r.not_unique = [ix for table, ix in KEY_INDEXES.items() if not _unique(s.get_bind(), table, ix)]
    return r


def _stale_account() -> ColumnElement[bool]:
    """Accounts whose name key is missing or no longer the lower-cased name."""
    return or_(Account.name_key.is_(None), Account.name_key != func.lower(Account.name))


def _stale_repo() -> ColumnElement[bool]:
    """Repos whose namespace or name key is missing or no longer the lower-cased value."""
    return or_(
        Repo.name_key.is_(None),
        Repo.namespace_key.is_(None),
        Repo.name_key != func.lower(Repo.name),
        Repo.namespace_key != func.lower(Repo.namespace),
    )


def _unique(bind: Any, table: str, index: str) -> bool:
    for ix in inspect(bind).get_indexes(table):
        if ix["name"] == index:
            return bool(ix["unique"])
    return False


def _model_index(table: str) -> Index:
    model = Account if table == "accounts" else Repo
    return next(ix for ix in model.metadata.tables[table].indexes if ix.name == KEY_INDEXES[table])


def fix_keys(s: Session) -> None:
    """Recompute the keys of rows written without them (e.g. by a process still running older code)."""
    s.execute(update(Account).where(_stale_account()).values(name_key=func.lower(Account.name)))
    s.execute(
        update(Repo)
        .where(_stale_repo())
        .values(namespace_key=func.lower(Repo.namespace), name_key=func.lower(Repo.name))
    )


def enforce_unique(engine: Engine) -> list[str]:
    """Make the key indexes unique (after fixing stale keys); refused while twins remain. Returns what it did."""
    done: list[str] = []
    with Session(engine) as s, s.begin():
        fix_keys(s)
        r = check(s)
        if r.account_twins or r.repo_twins:
            raise Conflict("case twins remain: rename one of each first (see `agora fsck`)")
    for table, name in KEY_INDEXES.items():
        if _unique(engine, table, name):
            continue
        with engine.begin() as conn:
            ix = _model_index(table)
            if any(x["name"] == name for x in inspect(conn).get_indexes(table)):
                ix.drop(conn)  # DROP INDEX by name: the non-unique one 0010 made over twins
            ix.create(conn)
        done.append(f"index {name} is now unique")
    return done


# ---- admin renames: how twins are resolved -----------------------------------------------------------------
def _exactly(s: Session, name: str) -> Account:
    """The account spelled `name` exactly, else the one account matching it in some case."""
    acc = s.scalar(select(Account).where(Account.name == name))
    if acc is None:
        found = list(s.scalars(select(Account).where(Account.name_key == key(name)).limit(2)))
        if len(found) != 1:
            raise NotFound(f"No user or organization named exactly {name!r}")
        acc = found[0]
    return acc


def rename_account(s: Session, hub: Hub, old: str, new: str) -> Account:
    """Rename a user or an org (a case-only change included): its repos, collections and the webhooks
    watching it or its repos follow."""
    from . import index, webhook_events

    acc = _exactly(s, old)
    check_namespace(new)
    if name_taken(s, new, other_than=acc.id):
        raise Conflict(f"The name {new!r} is already taken (names compare without case)")
    before = acc.name
    repos = list(s.scalars(select(Repo).where(Repo.namespace == before)))
    for c in s.scalars(select(Collection).where(Collection.owner == before)):
        c.owner = new
    acc.name = new
    for r in repos:
        r.namespace = new
    s.flush()
    webhook_events.follow(s, (acc.kind,), before, new)
    for r in repos:  # each repo's old id keeps redirecting to it, as after a move
        remember(s, r, RepoId(r.type, before, r.name))  # type: ignore[arg-type]
        release(s, RepoId(r.type, new, r.name))  # type: ignore[arg-type]
        webhook_events.follow(s, (r.type,), f"{before}/{r.name}", f"{new}/{r.name}")
    for r in repos:
        if r.head_sha:
            index.reindex(s, hub, r, r.head_sha)
    return acc


def rename_repo(s: Session, hub: Hub, rtype: str, old: str, new: str) -> Repo:
    """Rename (or move) a repo by its exact id, a case-only change included; keeps its content and links, and
    the webhooks watching it watch it under its new name."""
    from ..ids import parse_repo_type
    from . import index, webhook_events

    t = parse_repo_type(rtype)
    src, dst = RepoId.parse_any(t, old), RepoId.parse(t, new)  # a canonical repo (`gpt2`) may move
    repo = s.scalar(
        select(Repo).where(Repo.type == t, Repo.namespace == src.namespace, Repo.name == src.name)
    )
    if repo is None:
        found = list(
            s.scalars(
                select(Repo)
                .where(
                    Repo.type == t, Repo.namespace_key == key(src.namespace), Repo.name_key == key(src.name)
                )
                .limit(2)
            )
        )
        if len(found) != 1:
            raise NotFound(f"No {t} repo with the id {old!r}")
        repo = found[0]
    check_namespace(dst.namespace)
    check_name(dst.name)
    owner = account(s, dst.namespace)
    if owner is None:
        raise BadRequest(f"Namespace {dst.namespace!r} does not exist")
    dst = RepoId(t, owner.name, dst.name)
    if repo_taken(s, dst, other_than=repo.id):
        raise Conflict(f"A {t} repository called {dst.full} already exists (ids compare without case)")
    old_id = RepoId(t, repo.namespace, repo.name)
    repo.namespace, repo.name = dst.namespace, dst.name
    s.flush()
    remember(s, repo, old_id)
    release(s, dst)
    webhook_events.follow(s, (t,), old_id.full, dst.full)
    if repo.head_sha:
        index.reindex(s, hub, repo, repo.head_sha)
    return repo
