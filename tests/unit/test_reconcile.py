"""A commit whose database step fails after its ref moved (hub/commits._recover) and the repair of
hub/reconcile.py, in-process on SQLite (issue 14, item 1). The live-server faults are in tests/faults/."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from agora.errors import Unavailable
from agora.hub import reconcile
from agora.hub.accounts import Principal
from agora.hub.commits import CommitOperationAdd, create_commit
from agora.hub.repos import Hub

from .conftest import RID


def db_head(hub: Hub) -> str | None:
    with hub.db.session() as s:
        repo = hub.get(s, RID)
        assert repo is not None
        return repo.head_sha


def git_main(hub: Hub) -> str:
    with hub.db.session() as s:
        repo = hub.get(s, RID)
        assert repo is not None
        return hub.git(repo).resolve("main")


def fail_commits(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Session.commit raises the first `times` times (as a lock timeout would)."""
    real = Session.commit
    calls: list[int] = []

    def commit(self: Session) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise RuntimeError("database is locked")
        real(self)

    monkeypatch.setattr(Session, "commit", commit)
    return calls


def test_a_database_step_failing_once_is_done_again_and_the_commit_acknowledged(
    hub: Hub, who: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        fail_commits(m, 1)
        result = create_commit(hub, who, RID, [CommitOperationAdd("a.txt", b"a")], summary="once")
    assert result.oid == git_main(hub) == db_head(hub)


def test_a_database_step_that_keeps_failing_says_the_commit_landed_and_a_reader_repairs(
    hub: Hub, who: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = db_head(hub)
    with monkeypatch.context() as m:
        fail_commits(m, 10)
        with pytest.raises(Unavailable) as e:
            create_commit(hub, who, RID, [CommitOperationAdd("a.txt", b"a")], summary="landed")
    new = git_main(hub)
    assert new != old and f"Your commit {new} is in refs/heads/main" in e.value.message
    assert db_head(hub) == old
    assert [d.git_head for d in reconcile.disagreements(hub)] == [new]
    assert hub.open_repo(None, RID).head_sha == new  # the reader noticed and repaired
    assert db_head(hub) == new and reconcile.disagreements(hub) == []
    assert reconcile.repair(hub, hub.open_repo(None, RID).id) is None  # idempotent: nothing left to do
