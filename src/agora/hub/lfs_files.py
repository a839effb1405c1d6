"""A repo's LFS files as the Hub's `/lfs-files` API sees them: list them, delete them for good (freeing
storage), share them with another repo (the cross-repo `CommitOperationCopy`). Each function opens its own
session.

Deleting is the Hub's `permanently_delete_lfs_files`. With `rewriteHistory` the Hub rewrites every commit
to drop the pointers; Agora does not rewrite history (a commit id someone pinned stays valid): it commits
the removal of the files on every branch and PR whose head holds them (through the commit service), and the
older commits and tags keep pointers whose object is gone (their download is a 404). Without
`rewriteHistory` no commit is made. Either way the repo stops owning the objects, and their bytes leave the
blob store (local or S3) unless another repo owns them too (a duplicate, a cross-repo copy, or the same
upload): the answer says how many bytes that freed. Content stored in Xet is shared by chunks across repos:
its xorbs are reclaimed by `agora gc` once nothing references them.

A repo may reference an LFS object (and Xet content, reached by its sha256) only once it has the object's
`LfsObject` row (hub/repos.py `uploaded_lfs`): sharing is adding that row, never copying bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from ..db.models import LfsObject
from ..errors import BadRequest
from ..ids import RepoId, check_oid
from ..storage.gitstore import GitRepo
from . import commits
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

MAX_BATCH = 1000  # objects per request (the client sends 100 to duplicate, 1000 to delete)


def share(
    hub: Hub, who: Principal | None, src: RepoId, dst: RepoId, oids: Sequence[str]
) -> list[dict[str, str]]:
    """Let `dst` reference the LFS objects `src` owns (the caller reads `src` and writes `dst`). The answer
    lists the objects that could not be shared, with why, as huggingface_hub reads it (`failed`)."""
    if len(oids) > MAX_BATCH:
        raise BadRequest(f"At most {MAX_BATCH} files per request")
    for oid in oids:
        check_oid(oid)
    with hub.db.session() as s:
        source = hub.find(s, who, src, download=True)  # sharing its bytes is a download: the gate applies
        target = hub.find(s, who, dst, write=True)
        failed = []
        for oid in oids:
            size = hub.uploaded_lfs(s, source.id, oid)
            if size is None:
                failed.append({"sha256": oid, "error": f"{src.full} has no LFS file with this sha256"})
            else:
                hub.record_lfs(s, target, oid, size)
        return failed


@dataclass(frozen=True)
class LfsFile:
    oid: str
    size: int
    pushed_at: datetime
    filename: str  # a path that holds it in a ref's head ("" when only older commits do)
    ref: str | None


def _where(git: GitRepo, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """oid -> (a path, the ref) of the objects in `wanted` some ref's head holds: main first, then the other
    branches, PRs and tags."""
    refs = [r for r in git.refs("refs/heads/") if r.name == "main"]
    refs += [r for r in git.refs("refs/heads/") if r.name != "main"]
    refs += git.refs("refs/pr/") + git.refs("refs/tags/")
    found: dict[str, tuple[str, str]] = {}
    for ref in refs:
        if len(found) == len(wanted):
            break
        for e in git.all_files(ref.target):
            if e.lfs is not None and e.lfs.oid in wanted and e.lfs.oid not in found:
                found[e.lfs.oid] = (e.path, ref.ref)
    return found


def list_files(
    hub: Hub, who: Principal | None, rid: RepoId, after: int, limit: int
) -> tuple[list[LfsFile], int]:
    """A page of the repo's LFS objects (writers only: it names deleted files too), oldest first, after the
    row id `after`; and the last row id of the page (0 when it is the last page)."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        rows = s.execute(
            select(LfsObject.id, LfsObject.oid, LfsObject.size, LfsObject.created_at)
            .where(LfsObject.repo_id == repo.id, LfsObject.id > after)
            .order_by(LfsObject.id)
            .limit(limit + 1)
        ).all()
        git = hub.git(repo)
    page = rows[:limit]
    where = _where(git, {r.oid for r in page})
    out = []
    for r in page:
        path, ref = where.get(r.oid, ("", None))
        out.append(LfsFile(r.oid, r.size, r.created_at, path, ref))
    return out, (page[-1].id if len(rows) > limit else 0)


def _remove_from_heads(hub: Hub, who: Principal, rid: RepoId, git: GitRepo, oids: set[str]) -> None:
    """A commit deleting the files whose object is in `oids`, on every branch and PR whose head has some."""
    for ref in git.refs("refs/heads/") + git.refs("refs/pr/"):
        paths = [e.path for e in git.all_files(ref.target) if e.lfs is not None and e.lfs.oid in oids]
        if paths:
            commits.create_commit(
                hub,
                who,
                rid,
                [commits.CommitOperationDelete(p) for p in paths],
                revision=ref.ref,
                summary="Permanently delete LFS files",
                description="\n".join(paths),
            )


def delete_files(hub: Hub, who: Principal, rid: RepoId, oids: Sequence[str], rewrite: bool) -> dict[str, int]:
    """`permanently_delete_lfs_files` (admins only): see the module's docstring. -> deleted, freedBytes."""
    if len(oids) > MAX_BATCH:
        raise BadRequest(f"At most {MAX_BATCH} files per request")
    wanted = {check_oid(o) for o in oids}
    with hub.db.session() as s:
        repo = hub.find_admin(s, who, rid, f"delete LFS files of {rid.full}")
        git = hub.git(repo)
    if rewrite:
        _remove_from_heads(hub, who, rid, git, wanted)
    freed = 0
    with hub.db.session() as s:
        owned = dict(
            s.execute(
                select(LfsObject.oid, LfsObject.size).where(
                    LfsObject.repo_id == repo.id, LfsObject.oid.in_(wanted)
                )
            ).all()
        )
        s.execute(delete(LfsObject).where(LfsObject.repo_id == repo.id, LfsObject.oid.in_(list(owned))))
        shared = set(
            s.scalars(
                select(LfsObject.oid).where(LfsObject.oid.in_(list(owned))).group_by(LfsObject.oid)
            ).all()
        )
        free = {oid: int(size) for oid, size in owned.items() if oid not in shared}
    # After the rows are gone (committed): no repo may reference the objects any more, then the bytes go.
    for oid, size in free.items():
        if hub.blobs.size(oid) is not None:
            hub.blobs.delete(oid)
            freed += size
    return {"deleted": len(owned), "freedBytes": freed}
