"""Deleting a repo removes its git directory only once the database commit has succeeded: a failed commit
leaves both the row and the repository, never a row without a repo."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from agora.db.models import Repo
from agora.db.session import Database, migrate
from agora.hub import accounts
from agora.hub.repos import Hub
from agora.ids import RepoId
from agora.storage.blobs import LocalBlobStore

RID = RepoId("model", "alice", "doomed")


def _hub(tmp_path: Path) -> tuple[Hub, accounts.Principal, Path]:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    hub = Hub(db, tmp_path / "repos", LocalBlobStore(tmp_path / "lfs"))
    with db.session() as s:
        user = accounts.create_user(s, "alice", "alice-password")
        who = accounts.session_principal(user)
        repo = hub.create(s, who, RID)
        path = hub.git(repo).path
    assert path.is_dir()
    return hub, who, path


def _row(hub: Hub) -> Repo | None:
    with hub.db.session() as s:
        return hub.get(s, RID)


def test_failed_commit_keeps_row_and_git_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, who, path = _hub(tmp_path)

    def broken_commit(self: Session) -> None:
        raise RuntimeError("database went away")

    with monkeypatch.context() as m:
        m.setattr(Session, "commit", broken_commit)
        with pytest.raises(RuntimeError, match="went away"), hub.db.session() as s:
            hub.delete(s, who, RID)
    assert _row(hub) is not None
    assert path.is_dir() and (path / "HEAD").exists()

    # The same delete, committed: row and directory both gone.
    with hub.db.session() as s:
        hub.delete(s, who, RID)
    assert _row(hub) is None
    assert not path.exists()
    assert not list(path.parent.glob("*.deleted-*"))


def test_rolled_back_session_reused_keeps_git_dir(tmp_path: Path) -> None:
    """A delete rolled back, then an unrelated commit on the same session: the repo stays."""
    hub, who, path = _hub(tmp_path)
    with hub.db._factory() as s:
        hub.delete(s, who, RID)
        s.rollback()
        s.commit()
    assert _row(hub) is not None
    assert path.is_dir()
