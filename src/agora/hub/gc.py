"""Garbage collection of LFS objects and xorbs (`agora gc`): dry run unless asked to apply.

An object is kept when any of these holds:
- an LFS pointer to it is in the object database of any repo (reachable from a ref or not: git's own
  gc decides about unreachable commits, we never outrun it), or a Xet file with that sha256 is;
- it was written less than GRACE ago (an upload whose commit has not happened yet), judged by the store's
  own modification time and by the DB rows that describe it.
A xorb is kept when a kept Xet file uses it, when it was uploaded less than XORB_GRACE ago (days, not
minutes; the rows of Xet files that young stay too), or when a global dedup answer named it less than
XORB_GRACE ago (`XetXorb.offered_at`). The reason is the client's cache: hf_xet keeps the shard of every
upload it finished (`$HF_HOME/xet/<endpoint>/shard-cache`, 21 days: MDB_SHARD_LOCAL_CACHE_EXPIRATION in
xet-core) and every dedup answer (until its expiry, DEDUP_SHARD_TTL: 7 days), and dedups against them
before asking the server. A later upload of the same bytes then sends no xorb, only a shard naming xorbs it
believes the server has; if gc removed them, the shard is refused (400), and no answer of the server makes
the client upload them again (it fails the whole upload and keeps its cache): only deleting that cache by
hand would. Keeping xorbs longer than the cache believes in them is what prevents it.
With --apply, the temp files of dead processes go too (hub/startup.py's sweep, with GRACE as the safe age).
Removing an object also removes the rows that offered it (LfsObject, XetFile, XetXorb, XetChunk: the global
dedup answer is built from these rows on every query, so it never names a removed xorb), so that nothing
points at missing bytes: a later upload of the same content simply stores it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from ..db.models import LfsObject, Repo, XetChunk, XetFile, XetXorb
from ..storage.blobs import BlobStore
from . import startup
from .imports import referenced_oids
from .repos import Hub
from .xet import XetStore, unpack_terms

GRACE = timedelta(hours=1)
# Longer than hf_xet's local shard cache lives (21 days); AGORA_GC_XORB_GRACE_DAYS, `agora gc --xorb-grace-days`.
XORB_GRACE = timedelta(days=30)


@dataclass
class GcReport:
    lfs_kept: int = 0
    lfs_removed: list[tuple[str, int]] = field(default_factory=list)
    xorbs_kept: int = 0
    xorbs_removed: list[tuple[str, int]] = field(default_factory=list)
    temp_purged: int = 0  # abandoned uploads, conversion and git quarantine folders, with --apply only
    xorb_grace: timedelta = XORB_GRACE  # how long unreferenced xorbs were kept

    @property
    def freed(self) -> int:
        return sum(n for _, n in self.lfs_removed) + sum(n for _, n in self.xorbs_removed)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def collect(
    hub: Hub, apply: bool = False, grace: timedelta = GRACE, xorb_grace: timedelta = XORB_GRACE
) -> GcReport:
    now = datetime.now(UTC)
    cutoff = now - grace
    with hub.db.session() as s:
        repos = list(s.scalars(select(Repo)))
        recent_rows = {
            oid for oid, at in s.execute(select(LfsObject.oid, LfsObject.created_at)) if _aware(at) > cutoff
        }
    live = _Live(cutoff, _referenced(hub, repos), recent_rows)
    report = GcReport(xorb_grace=xorb_grace)
    _collect_lfs(hub, report, live, apply)
    if hub.xet is None:
        return report
    xorb_live = _Live(min(cutoff, now - xorb_grace), live.used, live.recent)
    _collect_xorbs(hub, hub.xet, report, xorb_live, apply)
    return report


@dataclass
class _Live:
    """What keeps an object: a name in use, a DB row written after the cutoff, or a store write after it."""

    cutoff: datetime
    used: set[str]
    recent: set[str]

    def keeps(self, name: str, written: datetime) -> bool:
        return name in self.used or name in self.recent or _aware(written) > self.cutoff


def _referenced(hub: Hub, repos: list[Repo]) -> set[str]:
    """The oids of every LFS pointer in the object database of any repo."""
    referenced: set[str] = set()
    for repo in repos:
        path = hub.git(repo).path
        if path.exists():
            referenced.update(oid for oid, _ in referenced_oids(path))
    return referenced


def _sort_out(store: BlobStore, live: _Live) -> tuple[int, list[tuple[str, int]]]:
    """-> (how many of the store's objects `live` keeps, (name, size) of each of the others)."""
    kept = 0
    removed: list[tuple[str, int]] = []
    for name, size, mtime in list(store.list_objects()):
        if live.keeps(name, mtime):
            kept += 1
            continue
        removed.append((name, size))
    return kept, removed


def _collect_lfs(hub: Hub, report: GcReport, live: _Live, apply: bool) -> None:
    """LFS objects in the blob store; with `apply`, abandoned uploads go too."""
    report.lfs_kept, report.lfs_removed = _sort_out(hub.blobs, live)
    if apply:  # what dead processes left: temp uploads and xorbs, conversion and git quarantine folders
        swept = startup.sweep_files(hub, live.cutoff)
        report.temp_purged += swept.temp_files + swept.conversions + swept.quarantines
    if apply and report.lfs_removed:
        gone = [oid for oid, _ in report.lfs_removed]
        for oid in gone:
            hub.blobs.delete(oid)
        with hub.db.session() as s:
            s.execute(delete(LfsObject).where(LfsObject.oid.in_(gone)))


def _collect_xorbs(hub: Hub, xet: XetStore, report: GcReport, live: _Live, apply: bool) -> None:
    """Xet: files whose sha256 is referenced, or that are younger than `live.cutoff` (the xorb grace), keep
    their rows and their xorbs."""
    keep_xorbs: set[str] = set()
    drop_files: list[str] = []
    with hub.db.session() as s:
        for file_hash, sha, terms, at in s.execute(
            select(XetFile.file_hash, XetFile.sha256, XetFile.terms, XetFile.created_at)
        ):
            if live.keeps(sha, at):
                keep_xorbs.update(t.xorb for t in unpack_terms(terms))
            else:
                drop_files.append(file_hash)
        recent_xorbs = {  # uploaded, or named by a global dedup answer, within the grace
            h
            for h, at, offered in s.execute(select(XetXorb.hash, XetXorb.created_at, XetXorb.offered_at))
            if _aware(max(at, offered or at)) > live.cutoff
        }
    xorbs_live = _Live(live.cutoff, keep_xorbs, recent_xorbs)
    report.xorbs_kept, report.xorbs_removed = _sort_out(xet.xorbs, xorbs_live)
    if apply:
        gone = [h for h, _ in report.xorbs_removed]
        with hub.db.session() as s:  # rows first: from now on nobody is offered these xorbs
            if drop_files:
                s.execute(delete(XetFile).where(XetFile.file_hash.in_(drop_files)))
            if gone:
                s.execute(delete(XetChunk).where(XetChunk.xorb_hash.in_(gone)))
                s.execute(delete(XetXorb).where(XetXorb.hash.in_(gone)))
        for h in gone:
            xet.xorbs.delete(h)


__all__ = ["GcReport", "collect", "GRACE", "XORB_GRACE"]
