"""A repo's LFS files as the Hub's `/lfs-files` API sees them: share objects with another repo (the
cross-repo `CommitOperationCopy`). Each function opens its own session.

A repo may reference an LFS object (and Xet content, reached by its sha256) only once it has the object's
`LfsObject` row (hub/repos.py `uploaded_lfs`): sharing is adding that row, never copying bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import BadRequest
from ..ids import RepoId, check_oid
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
        source = hub.find(s, who, src)
        target = hub.find(s, who, dst, write=True)
        failed = []
        for oid in oids:
            size = hub.uploaded_lfs(s, source.id, oid)
            if size is None:
                failed.append({"sha256": oid, "error": f"{src.full} has no LFS file with this sha256"})
            else:
                hub.record_lfs(s, target, oid, size)
        return failed
