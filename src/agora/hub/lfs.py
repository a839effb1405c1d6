"""LFS bookkeeping for the HTTP faces (api/lfs.py): what a batch request needs to know of each object, and the
records the signed upload / verify / complete hrefs write. Each function opens its own session; rows come
back detached."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..db.models import Repo
from ..errors import RepoNotFound
from ..ids import RepoId
from . import contributions
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub


def batch_objects(
    hub: Hub, who: Principal | None, rid: RepoId, write: bool, oids: Sequence[str]
) -> tuple[Repo, dict[str, tuple[int | None, bool]]]:
    """The repo (write access checked if asked) and, for each oid, (the size of its stored content or None,
    whether the repo owns it)."""
    with hub.db.session() as s:
        # An upload's bytes: writers, or a contributor's PR (the commit then decides where they go); downloads:
        # past the gate
        repo = contributions.find(s, hub, who, rid) if write else hub.find(s, who, rid, download=True)
        out: dict[str, tuple[int | None, bool]] = {}
        for oid in oids:
            stored = hub.stored_lfs_size(s, oid)
            out[oid] = (stored, stored is not None and hub.has_lfs(s, repo, oid))
        return repo, out


def repo_by_id(hub: Hub, repo_id: int) -> Repo:
    """The repo a signed href names (the signature is the permission), or RepoNotFound."""
    with hub.db.session() as s:
        repo = s.get(Repo, repo_id)
    if repo is None:
        raise RepoNotFound()
    return repo


def record(hub: Hub, repo: Repo, oid: str, size: int) -> None:
    with hub.db.session() as s:
        hub.record_lfs(s, repo, oid, size)  # not s.merge(repo): that writes its stale columns back


def verified(hub: Hub, repo: Repo, oid: str, size: int) -> bool:
    """The object is stored whole and the repo owns it."""
    with hub.db.session() as s:
        return hub.blobs.size(oid) == size and hub.has_lfs(s, repo, oid)
