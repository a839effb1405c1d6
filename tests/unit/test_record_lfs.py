"""Two processes verifying the same LFS upload at once both succeed: the second insert of the (repo, oid) row
meets the unique key and is taken as "already recorded", never a 500 (seen on the scale stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from agora.db.models import LfsObject
from agora.db.session import Database, migrate
from agora.hub import accounts
from agora.hub.repos import Hub
from agora.ids import RepoId
from agora.storage.blobs import LocalBlobStore

OID = "a" * 64


def test_a_concurrent_second_record_is_idempotent(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    hub = Hub(db, tmp_path / "repos", LocalBlobStore(tmp_path / "lfs"))
    with db.session() as s:
        who = accounts.session_principal(accounts.create_user(s, "alice", "alice-password"))
        repo_id = hub.create(s, who, RepoId("model", "alice", "m")).id
    with db.session() as s:  # the other process got there first
        s.add(LfsObject(repo_id=repo_id, oid=OID, size=3))
    with db.session() as s:
        repo = hub.get(s, RepoId("model", "alice", "m"))
        assert repo is not None
        real = s.scalar
        calls = iter([None])

        def stale_first_look(stmt: Any, *args: Any, **kwargs: Any) -> Any:
            """This process looked before the other one committed."""
            return next(calls, real(stmt, *args, **kwargs))

        s.scalar = stale_first_look  # type: ignore[method-assign]
        hub.record_lfs(s, repo, OID, 3)
        s.scalar = real  # type: ignore[method-assign]
        s.commit()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LfsObject).where(LfsObject.oid == OID)) == 1
