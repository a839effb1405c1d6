"""The reads behind the browsing pages (http/web/browse.py and files.py): the home page's lists, a type's
list with its facets, full-text search, a repo's overview, and a repo at a revision (its tree, a file, the
history, a commit's diff). Each opens its own session and returns plain data and detached rows: the pages
read their attributes, never their relationships."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..db.models import Repo
from ..errors import EntryNotFound
from ..ids import REPO_TYPES, RepoId, repo_full
from ..storage.gitstore import CommitInfo, Entry, FileDiff, GitRepo, diff_commit
from . import accounts, cards, fulltext, gating, index
from . import collections as colls
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

README_MAX = 2 * 1024 * 1024  # a larger README.md is not rendered on the repo page
TEXT_MAX = 1024 * 1024  # a larger file is not shown as text
LAST_COMMITS_MAX = 300  # a larger folder is listed without each entry's last commit


@dataclass(frozen=True)
class Home:
    """The home page: the trending few of each repo type, and how many each type has."""

    trending: dict[str, list[Repo]]
    counts: dict[str, int]


def home(hub: Hub, who: Principal | None) -> Home:
    trending: dict[str, list[Repo]] = {}
    counts: dict[str, int] = {}
    with hub.db.session() as s:
        for t in REPO_TYPES:
            trending[t], _ = index.search(s, who, index.Query(t, [], sort="trendingScore"), 6)
            counts[t] = index.count(s, who, index.Query(t, []))
    return Home(trending, counts)


@dataclass(frozen=True)
class Listing:
    """A page of a type's list: the rows, the next page's cursor, their tags, the total and the facets (the
    field names are the page template's)."""

    rows: list[Repo]
    next_cursor: str | None
    tags: dict[int, list[str]]
    total: int
    facets: dict[str, list[dict[str, Any]]]


def listing(hub: Hub, who: Principal | None, query: index.Query, limit: int, cursor: str | None) -> Listing:
    with hub.db.session() as s:
        rows, nxt = index.search(s, who, query, limit, cursor)
        return Listing(
            rows,
            nxt,
            index.tags_of(s, [r.id for r in rows]),
            index.count(s, who, query),
            index.facets(s, who, query),
        )


def full_text(hub: Hub, who: Principal | None, repo_type: str | None, q: str) -> list[fulltext.Hit]:
    with hub.db.session() as s:
        return fulltext.search(s, who, repo_type, q, fulltext.MAX_LIMIT)


def writable_choices(s: Session, who: Principal) -> list[tuple[str, str]]:
    """(slug, label) of the collections `who` may add to, for the repo page's form."""
    return [
        (colls.slug_of(c), c.title if c.owner == who.name else f"{c.owner} / {c.title}")
        for c in colls.writable(s, who)
    ]


@dataclass(frozen=True)
class Overview:
    """A repo's page (its card tab): the card's body (None when README.md is missing, in LFS or too large
    to render) and what the side panels list. What concerns another type of repo is empty (the datasets a
    model names and its base models, the Spaces using a model, its fine-tunes, the models trained on a
    dataset). The field names are the page template's."""

    repo: Repo
    sha: str
    card_body: str | None
    tags: list[str]
    downloads_days: list[tuple[str, int]]
    liked: bool
    can_write: bool
    my_collections: list[tuple[str, str]]
    datasets_used: list[str]
    models_used: list[str]
    base_models: list[str]
    spaces_using: list[Repo]
    trained_here: list[Repo]
    children: dict[str, int]
    last_commit: CommitInfo
    file_count: int
    gate: str | None  # gating.status_of: member, accepted, pending, rejected, or None
    gate_open: bool  # the visitor may download (not gated, or past the gate)
    gate_form: gating.Form | None  # a gated repo's access form (from its card)
    gate_reason: str | None  # why the visitor's request was rejected, if it says
    empty: bool = False  # no file but .gitattributes: the page shows how to add files (first steps)


def _card_body(git: GitRepo, sha: str) -> str | None:
    readme = git.entry(sha, "README.md")
    if readme is None or readme.lfs is not None or readme.size >= README_MAX:
        return None
    return cards.parse(git.blob(readme.oid).decode("utf-8", "replace")).body


def _datasets_used(repo: Repo) -> list[str]:
    """A model's datasets (trained on), a Space's (used): from its card."""
    if repo.type == "dataset":
        return []
    return [x for x in (repo.card_data or {}).get("datasets", []) or [] if isinstance(x, str)]


def models_used(repo: Repo) -> list[str]:
    """A Space's models (its card's `models:`)."""
    if repo.type != "space":
        return []
    return [x for x in (repo.card_data or {}).get("models", []) or [] if isinstance(x, str)]


def overview(hub: Hub, who: Principal | None, rid: RepoId) -> Overview:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        git = hub.git(repo)
        sha = git.resolve("main")
        full = repo_full(repo.namespace, repo.name)
        model = repo.type == "model"
        files = git.all_files(sha)
        return Overview(
            repo=repo,
            sha=sha,
            card_body=_card_body(git, sha),
            tags=index.tags_of(s, [repo.id])[repo.id],
            downloads_days=index.downloads_by_day(s, repo),
            liked=bool(who and index.likes(s, who.user_id, repo)),
            can_write=accounts.can_write(s, who, repo),
            my_collections=writable_choices(s, who) if who else [],
            datasets_used=_datasets_used(repo),
            models_used=models_used(repo),
            base_models=(repo.derived or {}).get("baseModels", []),
            spaces_using=index.linked_from(s, who, repo.type, full, "space") if repo.type != "space" else [],
            trained_here=index.linked_from(s, who, "dataset", full) if repo.type == "dataset" else [],
            children=index.children_count(s, who, full) if model else {},
            last_commit=git.log(sha, limit=1)[0],
            file_count=len(files),
            gate=gating.status_of(s, who, repo),
            gate_open=gating.passes_gate(s, who, repo),
            gate_form=gating.form(repo) if repo.gated else None,
            gate_reason=gating.rejection(s, who, repo),
            empty=all(f.path == ".gitattributes" for f in files),
        )


@dataclass(frozen=True)
class Revision:
    """A repo at a revision, as the Files and versions pages show it: the commit `rev` resolves to, the
    branches and tags to switch to, and whether the visitor may write (upload, edit, revert). The field
    names, here and in the pages' subclasses below, are the page templates'."""

    repo: Repo
    sha: str
    rev: str
    rid: RepoId
    branches: list[str]
    tags_refs: list[str]
    can_write: bool
    gate_open: bool  # the visitor may download the files (a gated repo's page links no downloads otherwise)


def _at(hub: Hub, who: Principal | None, rid: RepoId, rev: str) -> tuple[Revision, GitRepo]:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        git = hub.git(repo)
        at = Revision(
            repo,
            git.resolve(rev),
            rev,
            rid,
            [r.name for r in git.refs("refs/heads/")],
            [r.name for r in git.refs("refs/tags/")],
            accounts.can_write(s, who, repo),
            gating.passes_gate(s, who, repo),
        )
    return at, git


@dataclass(frozen=True)
class Tree(Revision):
    """A folder at a revision: its entries (folders first), each one's last commit (none for a large
    folder), the revision's head commit and how many commits lead to it."""

    entries: list[Entry]
    last: dict[str, CommitInfo]
    head: CommitInfo
    commit_count: int


def tree(hub: Hub, who: Principal | None, rid: RepoId, rev: str, path: str) -> Tree:
    at, git = _at(hub, who, rid, rev)
    entries = git.list_tree(at.sha, path)
    entries.sort(key=lambda e: (e.type != "directory", e.path.lower()))
    last = git.last_commits(at.sha, [e.path for e in entries]) if len(entries) <= LAST_COMMITS_MAX else {}
    return Tree(
        **vars(at),
        entries=entries,
        last=last,
        head=git.log(at.sha, limit=1)[0],
        commit_count=git.count(at.sha),
    )


@dataclass(frozen=True)
class File(Revision):
    """A file at a revision: its entry, its text (None if not asked for, not UTF-8, in LFS or larger than
    TEXT_MAX), a .safetensors file's header summary, and its last commit."""

    entry: Entry
    text: str | None
    safetensors: dict[str, Any] | None
    last: CommitInfo | None


def _text(git: GitRepo, e: Entry) -> str | None:
    if e.lfs is not None or e.size > TEXT_MAX:
        return None
    try:
        return git.blob(e.oid).decode("utf-8")
    except UnicodeDecodeError:
        return None


def file(hub: Hub, who: Principal | None, rid: RepoId, rev: str, path: str, want_text: bool = True) -> File:
    """A file's page shows its bytes: behind a gated repo's gate (GatedRepo), like a download."""
    at, git = _at(hub, who, rid, rev)
    if not at.gate_open and not gating.is_card(git, at.sha, path):
        with hub.db.session() as s:
            gating.check(s, who, at.repo)
    e = git.entry(at.sha, path)
    if e is None or e.type != "file":
        raise EntryNotFound(f"{path} does not exist at {rev}")
    text = _text(git, e) if want_text else None
    summary = safetensors_summary(hub, at.repo, e) if path.lower().endswith(".safetensors") else None
    return File(
        **vars(at), entry=e, text=text, safetensors=summary, last=git.last_commits(at.sha, [path]).get(path)
    )


HISTORY_PAGE = 50


@dataclass(frozen=True)
class History(Revision):
    """A page of the commits leading to a revision (touching `path`, if given), newest first."""

    commits: list[CommitInfo]
    more: bool


def history(hub: Hub, who: Principal | None, rid: RepoId, rev: str, page: int, path: str | None) -> History:
    at, git = _at(hub, who, rid, rev)
    log = git.log(at.sha, skip=page * HISTORY_PAGE, limit=HISTORY_PAGE + 1, path=path or None)
    return History(**vars(at), commits=log[:HISTORY_PAGE], more=len(log) > HISTORY_PAGE)


@dataclass(frozen=True)
class Commit(Revision):
    """A commit and what it changed, file by file; `revertible`: reverting main to it would change files
    (main's files differ from the commit's: the page offers no revert that would change nothing)."""

    commit: CommitInfo
    diffs: list[FileDiff]
    revertible: bool


def commit(hub: Hub, who: Principal | None, rid: RepoId, sha: str) -> Commit:
    """A commit's page: its diffs show file contents, so a gated repo's page lists none before its gate."""
    at, git = _at(hub, who, rid, sha)
    diffs = diff_commit(git, at.sha) if at.gate_open else []
    main = git.ref_target("refs/heads/main")
    revertible = main is not None and git.tree_of(main) != git.tree_of(at.sha)
    return Commit(**vars(at), commit=git.log(at.sha, limit=1)[0], diffs=diffs, revertible=revertible)


def safetensors_summary(hub: Hub, repo: Repo, e: Entry) -> dict[str, Any] | None:
    """The tensors of a .safetensors file (its JSON header: at most 200 listed), their count, the number of
    parameters, and the header's metadata; None when the header is unreadable or larger than 32 MiB."""
    try:
        (n,) = struct.unpack("<Q", hub.read_range(repo, e, 0, 8))
        if n > 32 * 1024 * 1024:
            return None
        header = json.loads(hub.read_range(repo, e, 8, n))
    except (ValueError, OSError, struct.error):
        return None
    tensors = [
        (k, v.get("dtype"), v.get("shape"))
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict)
    ]
    total = 0
    for _, _, shape in tensors:
        count = 1
        for x in shape or []:
            count *= x
        total += count
    return {
        "tensors": tensors[:200],
        "count": len(tensors),
        "params": total,
        "metadata": header.get("__metadata__"),
    }
