"""A pull request whose creation fails before its row is committed leaves neither its refs/pr/N nor its row
(hub/commits.pr_ref), whichever way it was opened; the next one gets the same number (issue 14). A ref
left without its row by a creation that died before its commit is taken over by the next PR."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agora.db.models import Discussion
from agora.hub import discussions
from agora.hub.accounts import Principal
from agora.hub.commits import CommitOperationAdd, create_commit
from agora.hub.repos import Hub

from .conftest import RID


def pr_refs(hub: Hub) -> list[str]:
    git = hub.git(hub.open_repo(None, RID))
    return [r for r in git.repo.references if r.startswith("refs/pr/")]


def rows(hub: Hub) -> int:
    with hub.db.session() as s:
        return s.scalar(select(func.count()).select_from(Discussion)) or 0


def fail_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    def commit(self: Session) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", commit)


def test_a_failed_commit_opening_a_pr_leaves_no_ref(
    hub: Hub, who: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        fail_commit(m)
        with pytest.raises(RuntimeError, match="disk full"):
            create_commit(hub, who, RID, [CommitOperationAdd("p.txt", b"p")], summary="PR", create_pr=True)
    assert pr_refs(hub) == [] and rows(hub) == 0
    result = create_commit(hub, who, RID, [CommitOperationAdd("p.txt", b"p")], summary="PR", create_pr=True)
    assert result.pr_num == 1 and pr_refs(hub) == ["refs/pr/1"] and rows(hub) == 1


def test_a_failed_pull_request_leaves_no_ref(
    hub: Hub, who: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        fail_commit(m)
        with pytest.raises(RuntimeError, match="disk full"):
            discussions.open_thread(hub, who, RID, "PR", "", pr=True)
    assert pr_refs(hub) == [] and rows(hub) == 0
    _, d = discussions.open_thread(hub, who, RID, "PR", "", pr=True)
    assert d.num == 1 and pr_refs(hub) == ["refs/pr/1"] and rows(hub) == 1


def test_a_ref_left_without_its_row_is_taken_over(hub: Hub, who: Principal) -> None:
    git = hub.git(hub.open_repo(None, RID))
    main = git.resolve("main")
    git.create_ref("refs/pr/1", main)  # as a process killed between the ref and the commit leaves it
    result = create_commit(hub, who, RID, [CommitOperationAdd("p.txt", b"p")], summary="PR", create_pr=True)
    assert result.pr_num == 1 and git.ref_target("refs/pr/1") == result.oid and rows(hub) == 1
    git.create_ref("refs/pr/2", result.oid)
    _, d = discussions.open_thread(hub, who, RID, "PR", "", pr=True)
    assert d.num == 2 and git.ref_target("refs/pr/2") == main and rows(hub) == 2
