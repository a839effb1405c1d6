"""Collections: ordered, annotated lists of repos, papers (arXiv ids) and other collections, owned by a user
or an org (docs/wire.md §13).

Visibility follows the owner namespace: a private collection exists only for those with a role there
(otherwise CollectionNotFound, never a hint). Items are re-checked against the reader on every read: an
item whose repo the reader may not see is left out, and a deleted repo's items go with it (FK cascade).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..db.models import Account, Collection, CollectionItem, Membership, Repo, utcnow
from ..errors import BadRequest, Conflict, Forbidden, NotFound, RepoNotFound, Unauthorized
from ..ids import FROM_PLURAL, RepoId, RepoType
from . import accounts, names
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

ITEM_TYPES: tuple[RepoType, ...] = ("model", "dataset", "space")
OTHER_ITEM_TYPES = ("paper", "collection")
# An arXiv id: 2307.09288 (with an optional version), or the old style hep-th/9901001
ARXIV = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z.-]{1,20}/\d{7})(?:v\d{1,3})?\Z")
THEMES = ("default", "orange", "blue", "green", "purple", "pink", "indigo", "yellow", "red", "gray")
SORTS = ("lastModified", "trending", "upvotes")
_UID = re.compile(r"^(?P<owner>[^/]+)/(?:.*-)?(?P<uid>[0-9a-f]{24})$")


class CollectionNotFound(NotFound):
    """404 for a collection that does not exist or that the reader may not see."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"Collection {slug!r} not found")


@dataclass(frozen=True)
class Item:
    """An item as shown: a repo, a paper (`row.paper_id`) or another collection (`target`)."""

    row: CollectionItem
    repo: Repo | None
    target: Collection | None = None

    @property
    def kind(self) -> str:
        """model, dataset, space, paper or collection: the client's `item_type`."""
        if self.repo is not None:
            return self.repo.type
        return "paper" if self.row.paper_id else "collection"


def slugify(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return s[:80].strip("-") or "collection"


def slug_of(c: Collection) -> str:
    return f"{c.owner}/{slugify(c.title)}-{c.uid}"


def _place(s: Session, others: Any, moving: Any, position: Any) -> None:
    """Put `moving` at `position` among the rows `others` selects (in order), renumbering them all 0..n-1."""
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise BadRequest("'position' must be a non-negative integer")
    rows = list(s.scalars(others))
    rows.insert(min(position, len(rows)), moving)
    for i, x in enumerate(rows):
        x.position = i


def can_read(s: Session, who: Principal | None, c: Collection) -> bool:
    return not c.private or accounts.namespace_role(s, who, c.owner) is not None


def _check_writer(s: Session, who: Principal | None, owner: str) -> Principal:
    if who is None:
        raise Unauthorized("You must be authenticated to change a collection")
    if not who.can_write_at_all:
        raise Forbidden("Your token is read-only: use a write token to change collections")
    if not accounts.can_write_namespace(s, who, owner):
        raise Forbidden(f"You don't have write access to the collections of {owner!r}")
    return who


def get(s: Session, who: Principal | None, slug: str) -> Collection:
    """The collection named by `slug` if `who` may see it. Only the owner and the trailing id count: the
    title part changes with the title, and old links must keep working."""
    m = _UID.match(slug or "")
    c = s.scalar(select(Collection).where(Collection.uid == m.group("uid"))) if m else None
    if c is None or m is None or c.owner.lower() != m.group("owner").lower() or not can_read(s, who, c):
        raise CollectionNotFound(slug)
    return c


def get_writable(s: Session, who: Principal | None, slug: str) -> Collection:
    c = get(s, who, slug)
    _check_writer(s, who, c.owner)
    return c


def create(
    s: Session,
    who: Principal | None,
    owner: str,
    title: str | None,
    description: str = "",
    private: bool = False,
) -> Collection:
    """A second collection with the same title in one namespace is a Conflict carrying the existing one:
    the client's exists_ok reads its slug from the 409 body."""
    if who is None:
        raise Unauthorized("You must be authenticated to create a collection")
    title = (title or "").strip() if isinstance(title, str) else ""
    if not title or len(title) > 200:
        raise BadRequest("A collection needs a title of 1 to 200 characters")
    if not isinstance(description, str) or len(description) > 2000:
        raise BadRequest("The description must be a string of at most 2000 characters")
    acc = accounts.get_account(s, owner) if isinstance(owner, str) else None
    if acc is None:
        raise NotFound(f"No user or organization named {owner!r}")
    owner = acc.name  # the stored spelling: names compare without case
    _check_writer(s, who, owner)
    existing = s.scalar(select(Collection).where(Collection.owner == owner, Collection.title == title))
    if existing is not None:
        raise Conflict(f"A collection titled {title!r} already exists in {owner!r}", collection=existing)
    top = s.scalar(select(func.max(Collection.position)).where(Collection.owner == owner))
    c = Collection(
        uid=secrets.token_hex(12),
        owner=owner,
        title=title,
        description=description,
        private=bool(private),
        position=(top + 1) if top is not None else 0,
    )
    s.add(c)
    s.flush()
    return c


def update(
    s: Session,
    who: Principal | None,
    slug: str,
    *,
    title: str | None = None,
    description: str | None = None,
    private: bool | None = None,
    theme: str | None = None,
    position: int | None = None,
) -> Collection:
    c = get_writable(s, who, slug)
    if title is not None:
        if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
            raise BadRequest("A collection needs a title of 1 to 200 characters")
        c.title = title.strip()
    if description is not None:
        if not isinstance(description, str) or len(description) > 2000:
            raise BadRequest("The description must be a string of at most 2000 characters")
        c.description = description
    if private is not None:
        if not isinstance(private, bool):
            raise BadRequest("'private' must be a boolean")
        c.private = private
    if theme is not None:
        if theme not in THEMES:
            raise BadRequest(f"Invalid theme {theme!r}: use one of {', '.join(THEMES)}")
        c.theme = theme
    if position is not None:
        _place(
            s,
            select(Collection)
            .where(Collection.owner == c.owner, Collection.id != c.id)
            .order_by(Collection.position, Collection.id),
            c,
            position,
        )
    c.updated_at = utcnow()
    s.flush()
    return c


def delete(s: Session, who: Principal | None, slug: str) -> None:
    c = get_writable(s, who, slug)
    s.delete(c)
    s.flush()


def items(s: Session, who: Principal | None, c: Collection) -> list[Item]:
    """The items `who` may see, in position order (a paper is public; a repo or a collection is seen by
    those who may read it)."""
    target = aliased(Collection)
    rows = s.execute(
        select(CollectionItem, Repo, target)
        .outerjoin(Repo, Repo.id == CollectionItem.repo_id)
        .outerjoin(target, target.id == CollectionItem.target_id)
        .where(CollectionItem.collection_id == c.id)
        .order_by(CollectionItem.position, CollectionItem.id)
    ).all()
    return [Item(row, repo, t) for row, repo, t in rows if _may_see(s, who, row, repo, t)]


def _may_see(
    s: Session, who: Principal | None, row: CollectionItem, repo: Repo | None, target: Collection | None
) -> bool:
    if repo is not None:
        return accounts.can_read(s, who, repo)
    if target is not None:
        return can_read(s, who, target)
    return row.paper_id is not None


def parse_item_ref(value: str) -> RepoId:
    """`models/alice/x`, `datasets/alice/x` or `spaces/alice/x`: the `item` filter of the listing."""
    t, _, full = (value or "").partition("/")
    if t not in FROM_PLURAL:
        raise BadRequest(f"Invalid item {value!r}: expected models/, datasets/ or spaces/ then the repo id")
    return RepoId.parse_any(FROM_PLURAL[t], full)  # `models/gpt2`: a canonical repo


def add_item(
    s: Session, who: Principal | None, slug: str, item_type: object, item_id: object, note: object = None
) -> Collection:
    c = get_writable(s, who, slug)
    if item_type not in ITEM_TYPES + OTHER_ITEM_TYPES:
        raise BadRequest(
            f"Invalid item type {item_type!r}: a collection holds models, datasets, spaces, papers and "
            "collections"
        )
    if not isinstance(item_id, str):
        raise BadRequest(
            "'item.id' must be a repo id 'namespace/name', a paper's arXiv id or a collection slug"
        )
    label, key = _item_key(s, who, c, str(item_type), item_id)
    ((column, value),) = key.items()
    same = select(CollectionItem.id).where(
        CollectionItem.collection_id == c.id, getattr(CollectionItem, column) == value
    )
    if s.scalar(same) is not None:
        raise Conflict(f"{label} is already in this collection")
    top = s.scalar(select(func.max(CollectionItem.position)).where(CollectionItem.collection_id == c.id))
    s.add(
        CollectionItem(
            collection_id=c.id,
            position=(top + 1) if top is not None else 0,
            note=_note(note),
            **key,
        )
    )
    c.updated_at = utcnow()
    s.flush()
    return c


def _item_key(
    s: Session, who: Principal | None, c: Collection, item_type: str, item_id: str
) -> tuple[str, dict[str, Any]]:
    """What an added item names, as (label, {column: value}): a repo `who` may see (RepoNotFound otherwise),
    a paper's arXiv id, or a collection `who` may see (not this one)."""
    if item_type == "paper":
        pid = item_id.removeprefix("arxiv:")
        if not ARXIV.match(pid):
            raise BadRequest(f"Invalid paper id {item_id!r}: expected an arXiv id such as 2307.09288")
        return f"Paper {pid}", {"paper_id": pid}
    if item_type == "collection":
        target = get(s, who, item_id)  # CollectionNotFound unless `who` may see it
        if target.id == c.id:
            raise BadRequest("A collection cannot hold itself")
        return f"Collection {slug_of(target)}", {"target_id": target.id}
    prefix = f"{item_type}s/"
    if item_id.startswith(prefix) and item_id.count("/") == 2:  # the client's docs show "datasets/x/y" too
        item_id = item_id[len(prefix) :]
    rid = RepoId.parse_any(item_type, item_id)  # type: ignore[arg-type]
    repo = _visible_repo(s, who, rid)  # RepoNotFound (404) unless `who` may see it
    return rid.full, {"repo_id": repo.id}


def _note(note: object) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str) or len(note) > 500:
        raise BadRequest("The note must be a string of at most 500 characters")
    return note or None


def _item(s: Session, c: Collection, item_object_id: str) -> CollectionItem:
    try:
        iid = int(item_object_id, 16)
    except ValueError:
        iid = -1
    row = s.get(CollectionItem, iid) if iid >= 0 else None
    if row is None or row.collection_id != c.id:
        raise NotFound(f"Item {item_object_id!r} not found in collection {slug_of(c)!r}")
    return row


def update_item(
    s: Session,
    who: Principal | None,
    slug: str,
    item_object_id: str,
    *,
    note: object = None,
    position: object = None,
) -> None:
    """`position` moves the item there and renumbers the others 0..n-1, as a drag and drop does. It counts
    among the items `who` sees (the positions they were shown): hidden items keep their place."""
    c = get_writable(s, who, slug)
    row = _item(s, c, item_object_id)
    if note is not None:
        row.note = _note(note)
    if position is not None:
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise BadRequest("'position' must be a non-negative integer")
        _move_to(s, c, row, _full_position(s, who, c, row, position))
    c.updated_at = utcnow()
    s.flush()


def _others(c: Collection, row: CollectionItem) -> Any:
    return (
        select(CollectionItem)
        .where(CollectionItem.collection_id == c.id, CollectionItem.id != row.id)
        .order_by(CollectionItem.position, CollectionItem.id)
    )


def _move_to(s: Session, c: Collection, row: CollectionItem, full_position: int) -> None:
    _place(s, _others(c, row), row, full_position)


def _full_position(
    s: Session, who: Principal | None, c: Collection, row: CollectionItem, visible_pos: int
) -> int:
    """The place in the full order (hidden items included) of the visible position `visible_pos`: just before
    the visible item now there, or just after the last visible item."""
    others = [x.id for x in s.scalars(_others(c, row))]
    visible = [it.row.id for it in items(s, who, c) if it.row.id != row.id]
    if not visible:
        return 0
    if visible_pos < len(visible):
        return others.index(visible[visible_pos])
    return others.index(visible[-1]) + 1


def move_item(s: Session, who: Principal | None, slug: str, item_object_id: str, delta: int) -> None:
    """One step up (-1) or down (+1) in the full order, hidden items included, so that a writer who cannot
    see every repo still moves the item past the one shown next to it; at either end it stays put."""
    c = get_writable(s, who, slug)
    row = _item(s, c, item_object_id)
    ids = list(
        s.scalars(
            select(CollectionItem.id)
            .where(CollectionItem.collection_id == c.id)
            .order_by(CollectionItem.position, CollectionItem.id)
        )
    )
    visible = {it.row.id for it in items(s, who, c)}
    i = ids.index(row.id)
    j = i + delta
    while 0 <= j < len(ids) and ids[j] not in visible:
        j += delta
    if not 0 <= j < len(ids):
        return
    _move_to(s, c, row, j)
    c.updated_at = utcnow()
    s.flush()


def writable(s: Session, who: Principal | None) -> list[Collection]:
    """The collections `who` may add items to (theirs and their orgs' where they write): the repo page's
    "Add to collection" choices."""
    if who is None or not who.can_write_at_all:
        return []
    owners = [
        who.name,
        *(o.name for o, role in accounts.user_orgs(s, who.user_id) if role in ("write", "admin")),
    ]
    return list(
        s.scalars(
            select(Collection)
            .where(Collection.owner.in_(owners))
            .order_by(Collection.owner != who.name, Collection.owner, Collection.position, Collection.id)
        )
    )


def delete_item(s: Session, who: Principal | None, slug: str, item_object_id: str) -> None:
    c = get_writable(s, who, slug)
    s.delete(_item(s, c, item_object_id))
    c.updated_at = utcnow()
    s.flush()


@dataclass(frozen=True)
class Query:
    """What a listing of collections asks for: any of these owners (all when empty), those holding `item`,
    the order (`sort`), and the page (`offset`, `limit`)."""

    owners: list[str]
    item: RepoId | None
    sort: str | None
    offset: int
    limit: int


def listing(s: Session, who: Principal | None, query: Query) -> list[Collection]:
    """Collections `who` may see, newest change first (or by upvotes); `limit + 1` rows tell if more follow."""
    owners, item, sort = query.owners, query.item, query.sort
    if sort not in (None, *SORTS):
        raise BadRequest(f"Invalid sort {sort!r}: use one of {', '.join(SORTS)}")
    q = select(Collection)
    if owners:
        q = q.where(Collection.owner.in_([names.canonical(s, o) for o in owners]))
    if item is not None:
        try:
            repo = _visible_repo(s, who, item)
        except RepoNotFound:
            return []
        q = q.where(
            Collection.id.in_(select(CollectionItem.collection_id).where(CollectionItem.repo_id == repo.id))
        )
    if who is None:
        q = q.where(Collection.private.is_(False))
    elif not who.is_admin:
        orgs = (
            select(Account.name)
            .join(Membership, Membership.org_id == Account.id)
            .where(Membership.user_id == who.user_id)
        )
        q = q.where(
            or_(Collection.private.is_(False), Collection.owner == who.name, Collection.owner.in_(orgs))
        )
    if sort in ("upvotes", "trending"):
        q = q.order_by(desc(Collection.upvotes), desc(Collection.updated_at), desc(Collection.id))
    else:
        q = q.order_by(desc(Collection.updated_at), desc(Collection.id))
    return list(s.scalars(q.offset(query.offset).limit(query.limit + 1)))


def _visible_repo(s: Session, who: Principal | None, rid: RepoId) -> Repo:
    repo = names.repo(s, rid)
    if repo is None or not accounts.can_read(s, who, repo):
        raise RepoNotFound(f"Repository {rid.full} not found")
    return repo


def owned_by(s: Session, who: Principal | None, owner: str) -> list[Collection]:
    """The collections of one namespace that `who` may see, in the owner's order (profile pages)."""
    rows = s.scalars(
        select(Collection)
        .where(Collection.owner == names.canonical(s, owner))
        .order_by(Collection.position, Collection.id)
    )
    return [c for c in rows if can_read(s, who, c)]


# ---- in a session of their own: for the HTTP handlers (called in a worker thread) ----------------------------
@dataclass(frozen=True)
class Shown:
    """A collection as one reader sees it: the detached row, its owner's account (None if gone) and the
    items the reader may see (detached rows)."""

    collection: Collection
    owner: Account | None
    items: list[Item]


def _shown(s: Session, who: Principal | None, c: Collection) -> Shown:
    return Shown(c, accounts.get_account(s, c.owner), items(s, who, c))


def shown_page(hub: Hub, who: Principal | None, query: Query) -> tuple[list[Shown], bool]:
    """One page of `listing`, and whether more follow."""
    with hub.db.session() as s:
        rows = listing(s, who, query)
        return [_shown(s, who, c) for c in rows[: query.limit]], len(rows) > query.limit


def shown(hub: Hub, who: Principal | None, slug: str) -> Shown:
    with hub.db.session() as s:
        return _shown(s, who, get(s, who, slug))


def create_shown(
    hub: Hub, who: Principal | None, owner: str, title: str | None, description: str, private: bool
) -> Shown:
    """`create` in a session of its own. A Conflict's `collection` comes back detached with its attributes
    loaded (the 409 carries its slug)."""
    with hub.db.session() as s:
        try:
            c = create(s, who, owner, title, description, private)
        except Conflict as e:
            s.expunge(e.extra["collection"])  # the rollback would expire it
            raise
        return _shown(s, who, c)


def update_shown(hub: Hub, who: Principal | None, slug: str, fields: dict[str, Any]) -> Shown:
    """`update` with `fields` (title, description, private, theme, position: None leaves one as it is)."""
    with hub.db.session() as s:
        return _shown(s, who, update(s, who, slug, **fields))


def delete_collection(hub: Hub, who: Principal | None, slug: str) -> None:
    with hub.db.session() as s:
        delete(s, who, slug)


def add_item_shown(
    hub: Hub, who: Principal | None, slug: str, item_type: object, item_id: object, note: object
) -> Shown:
    with hub.db.session() as s:
        return _shown(s, who, add_item(s, who, slug, item_type, item_id, note))


def update_item_in(
    hub: Hub, who: Principal | None, slug: str, item_object_id: str, note: object, position: object
) -> None:
    with hub.db.session() as s:
        update_item(s, who, slug, item_object_id, note=note, position=position)


def delete_item_in(hub: Hub, who: Principal | None, slug: str, item_object_id: str) -> None:
    with hub.db.session() as s:
        delete_item(s, who, slug, item_object_id)


# ---- the same, each in a database session of its own (for the browser pages) --------------------------------
@dataclass(frozen=True)
class CollectionPage:
    """A collection (detached row) as `who` sees it: its slug, the items they may see, whether they may
    change it."""

    collection: Collection
    slug: str
    items: list[Item]
    can_write: bool


def collection_page(hub: Hub, who: Principal | None, slug: str) -> CollectionPage:
    with hub.db.session() as s:
        c = get(s, who, slug)
        return CollectionPage(c, slug_of(c), items(s, who, c), accounts.can_write_namespace(s, who, c.owner))


def writable_one(hub: Hub, who: Principal | None, slug: str) -> Collection:
    with hub.db.session() as s:
        return get_writable(s, who, slug)


def new_collection(
    hub: Hub, who: Principal | None, owner: str, title: str, description: str, private: bool
) -> str:
    """The new collection's slug."""
    with hub.db.session() as s:
        return slug_of(create(s, who, owner, title, description, private=private))


def edit_collection(
    hub: Hub, who: Principal | None, slug: str, title: str, description: str, private: bool
) -> str:
    """The collection's slug after the change (its title part follows the title)."""
    with hub.db.session() as s:
        return slug_of(update(s, who, slug, title=title, description=description, private=private))


def drop_collection(hub: Hub, who: Principal | None, slug: str) -> None:
    with hub.db.session() as s:
        delete(s, who, slug)


def add_repo(
    hub: Hub, who: Principal | None, slug: str, item_type: object, item_id: object, note: object = None
) -> str:
    """`add_item`: the slug of the collection added to."""
    with hub.db.session() as s:
        return slug_of(add_item(s, who, slug, item_type, item_id, note=note))


def set_item_note(hub: Hub, who: Principal | None, slug: str, item_object_id: str, note: str) -> None:
    with hub.db.session() as s:
        update_item(s, who, slug, item_object_id, note=note)


def step_item(hub: Hub, who: Principal | None, slug: str, item_object_id: str, delta: int) -> None:
    with hub.db.session() as s:
        move_item(s, who, slug, item_object_id, delta)


def drop_item(hub: Hub, who: Principal | None, slug: str, item_object_id: str) -> None:
    with hub.db.session() as s:
        delete_item(s, who, slug, item_object_id)
