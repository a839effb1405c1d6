"""What `agora fsck` checks beyond names and refs (issue 14): bytes the Hub promises but does not have, and
leftovers of dead processes. The command line only prints what these functions return.

- **Missing xorbs** (`missing_xorbs`): a xorb named by an Xet file's terms, or by a XetXorb row, that is
  not in the xorb store. Its rows lie: the shard check (hub/xet.py) takes a XetXorb row as proof that the
  xorb was uploaded, the global dedup answer offers it, and the file's reads fail half-way. The repair drops
  the rows that offer missing bytes, as `agora gc` does when it removes a xorb (XetFile rows whose terms name
  one, the XetChunk dedup entries and the XetXorb rows): a client then uploads the bytes again instead of
  being told they are here. The files that used them are unreadable until someone uploads them again.
- **Dangling LFS pointers** (`dangling_pointers`): a pointer in the tree of any ref of any repo whose
  object is neither in the blob store nor readable through Xet (a Xet file with that sha256 whose xorbs are
  all stored). Nothing can repair these here: the bytes must be uploaded again (the same oid through the
  LFS batch API or Xet), or the file deleted in a new commit.
- **Orphaned temp files** (`temp_leftovers`): what hub/startup.py's sweep removes when a server starts
  (temp uploads, multipart parts, temp xorbs and shards, conversion folders, git quarantine folders of dead
  processes, judged by its SAFE_AGE); the repair runs that sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pygit2
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..db.models import LfsObject, Repo, XetChunk, XetFile, XetXorb
from . import startup
from .repos import Hub
from .xet import XetStore, unpack_terms


@dataclass(frozen=True)
class DanglingPointer:
    repo: str  # "type:ns/name"
    ref: str
    path: str
    oid: str

    def line(self) -> str:
        return f"dangling LFS pointer: {self.repo} {self.ref} {self.path} -> {self.oid}"


@dataclass(frozen=True)
class BrokenXetFile:
    """A Xet file some of whose xorbs are missing from the xorb store."""

    sha256: str
    file_hash: str
    missing: tuple[str, ...]  # the xorbs it names that are not stored
    repos: tuple[str, ...]  # "type:ns/name" of the repos that registered it

    def line(self) -> str:
        more = f" (and {len(self.missing) - 1} more)" if len(self.missing) > 1 else ""
        owners = ", ".join(self.repos) or "no repo"
        return f"Xet file {self.sha256} ({owners}): xorb {self.missing[0]}{more} missing from the store"


@dataclass
class MissingXorbs:
    xorbs: set[str] = field(default_factory=set)  # every missing xorb (named by a file or by its row)
    files: list[BrokenXetFile] = field(default_factory=list)


# ---- missing xorbs -------------------------------------------------------------------------------------


def missing_xorbs(hub: Hub) -> MissingXorbs:
    """The xorbs the database names (in Xet files' terms, or as XetXorb rows) that the store does not hold,
    and the files that use them."""
    out = MissingXorbs()
    if hub.xet is None:
        return out
    stored = {name for name, _, _ in hub.xet.xorbs.list_objects()}
    with hub.db.session() as s:
        out.xorbs = {h for h in s.scalars(select(XetXorb.hash)) if h not in stored}
        for file_hash, sha, terms in s.execute(select(XetFile.file_hash, XetFile.sha256, XetFile.terms)):
            gone = sorted({t.xorb for t in unpack_terms(terms)} - stored)
            if gone:
                out.xorbs.update(gone)
                out.files.append(BrokenXetFile(sha, file_hash, tuple(gone), tuple(_owners(s, sha))))
    return out


def _owners(s: Session, sha: str) -> list[str]:
    """The repos that registered (uploaded) this object."""
    q = select(Repo.type, Repo.namespace, Repo.name).join(LfsObject, LfsObject.repo_id == Repo.id)
    return sorted(f"{t}:{ns}/{n}" for t, ns, n in s.execute(q.where(LfsObject.oid == sha)))


def drop_missing(hub: Hub, found: MissingXorbs) -> None:
    """The repair: drop the rows that offer the missing bytes (as `agora gc` does for the xorbs it removes),
    so that the shard check and the dedup answer no longer claim them and a client uploads them again."""
    if hub.xet is None or not (found.xorbs or found.files):
        return
    gone = sorted(found.xorbs)
    with hub.db.session() as s:
        if found.files:
            s.execute(delete(XetFile).where(XetFile.file_hash.in_([f.file_hash for f in found.files])))
        if gone:
            s.execute(delete(XetChunk).where(XetChunk.xorb_hash.in_(gone)))
            s.execute(delete(XetXorb).where(XetXorb.hash.in_(gone)))


# ---- dangling LFS pointers -----------------------------------------------------------------------------


def dangling_pointers(hub: Hub, broken: set[str] | None = None) -> list[DanglingPointer]:
    """Every LFS pointer at the tip of any ref of any repo whose object is stored nowhere: not in the blob
    store, and not a Xet file whose xorbs are all stored (`broken`: sha256s of Xet files that are not)."""
    with hub.db.session() as s:
        repos = list(s.scalars(select(Repo).order_by(Repo.id)))
    avail = _Availability(hub, broken or set())
    out: list[DanglingPointer] = []
    for repo in repos:
        name = f"{repo.type}:{repo.namespace}/{repo.name}"
        for ref, path, oid in _pointers(hub, repo):
            if not avail.has(oid):
                out.append(DanglingPointer(name, ref, path, oid))
    return out


class _Availability:
    """Whether an LFS object's bytes are stored, remembered per oid (each is asked once)."""

    def __init__(self, hub: Hub, broken: set[str]) -> None:
        self.hub = hub
        self.broken = broken
        self.known: dict[str, bool] = {}

    def has(self, oid: str) -> bool:
        if oid not in self.known:
            self.known[oid] = self.hub.blobs.exists(oid) or self._in_xet(oid)
        return self.known[oid]

    def _in_xet(self, oid: str) -> bool:
        xet: XetStore | None = self.hub.xet
        if xet is None or oid in self.broken:
            return False
        with self.hub.db.session() as s:
            return xet.file_by_sha(s, oid) is not None


def _pointers(hub: Hub, repo: Repo) -> Iterator[tuple[str, str, str]]:
    """(ref, path, oid) of every LFS pointer in the tree of each ref (a tree shared by refs is read once)."""
    if not hub.git_dir(repo).exists():
        return
    git = hub.git(repo)
    trees: dict[str, list[tuple[str, str]]] = {}
    for ref in git.refs("refs/"):
        try:
            tree = git.tree_of(ref.target)
            if tree not in trees:
                trees[tree] = [(e.path, e.lfs.oid) for e in git.all_files(ref.target) if e.lfs is not None]
        except (pygit2.GitError, KeyError, ValueError):
            continue  # a ref to something that is not a commit: git fsck's business
        for path, oid in trees[tree]:
            yield ref.ref, path, oid


# ---- orphaned temp files -------------------------------------------------------------------------------


def temp_leftovers(hub: Hub, remove: bool, safe_age: timedelta = startup.SAFE_AGE) -> startup.Swept:
    """What the start-up sweep would remove (or, with `remove`, removes): the temp files and folders of dead
    processes, judged as a starting server judges them."""
    return startup.sweep_files(hub, datetime.now(UTC) - safe_age, dry_run=not remove)


__all__ = [
    "BrokenXetFile",
    "DanglingPointer",
    "MissingXorbs",
    "dangling_pointers",
    "drop_missing",
    "missing_xorbs",
    "temp_leftovers",
]
