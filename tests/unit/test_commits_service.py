"""hub/commits.py in-process: create_commit's operations (add, delete, folder delete, copy, LFS add), a stale
parent that changes nothing, and a commit that opens a pull request."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agora.db.models import Discussion, Repo
from agora.errors import BadRequest, EntryNotFound, ParentMismatch
from agora.hub.accounts import Principal
from agora.hub.commits import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    CommitOperationLfsAdd,
    create_commit,
)
from agora.hub.repos import Hub

from .conftest import RID


def files(hub: Hub, rev: str = "main") -> dict[str, bytes]:
    repo = hub.open_repo(None, RID)
    git = hub.git(repo)
    return {e.path: git.blob(e.oid) for e in git.all_files(git.resolve(rev))}


def db_head(hub: Hub) -> str | None:
    """The row's head as committed (not through open_repo, which repairs a row behind git)."""
    with hub.db.session() as s:
        repo = hub.get(s, RID)
        assert repo is not None
        return repo.head_sha


def head(hub: Hub) -> str:
    return hub.git(hub.open_repo(None, RID)).resolve("main")


def test_add_delete_folder_delete_and_copy(hub: Hub, who: Principal) -> None:
    first = create_commit(
        hub,
        who,
        RID,
        [
            CommitOperationAdd("a.txt", b"a"),
            CommitOperationAdd("dir/b.txt", b"b"),
            CommitOperationAdd("dir/sub/c.txt", b"c"),
        ],
        summary="three files",
    )
    assert first.pr_num is None and first.oid == head(hub)
    assert db_head(hub) == first.oid  # after_ref_update ran, and was committed
    got = files(hub)
    assert got["a.txt"] == b"a" and got["dir/sub/c.txt"] == b"c"

    create_commit(
        hub,
        who,
        RID,
        [
            CommitOperationDelete("a.txt"),
            CommitOperationDelete("dir/sub/"),  # a folder: the trailing slash says so
            CommitOperationCopy("dir/b.txt", "copy/b.txt"),
        ],
        summary="delete and copy",
        parent_commit=first.oid,
    )
    assert set(files(hub)) == {".gitattributes", "dir/b.txt", "copy/b.txt"}
    assert files(hub)["copy/b.txt"] == b"b"

    create_commit(hub, who, RID, [CommitOperationDelete("dir", is_folder=True)], summary="folder")
    assert set(files(hub)) == {".gitattributes", "copy/b.txt"}
    assert hub.git(hub.open_repo(None, RID)).log(head(hub), limit=1)[0].title == "folder"

    with pytest.raises(EntryNotFound):
        create_commit(hub, who, RID, [CommitOperationDelete("nope.txt")], summary="x")
    with pytest.raises(BadRequest):
        CommitOperationAdd("../escape", b"x")


def test_lfs_add_needs_an_object_uploaded_to_the_repo(hub: Hub, who: Principal) -> None:
    up = hub.blobs.new_upload()
    up.write(b"weights" * 100)
    oid, size = up.finish_as_hashed()
    with pytest.raises(BadRequest, match="never uploaded"):
        create_commit(hub, who, RID, [CommitOperationLfsAdd("w.bin", oid, size)], summary="lfs")
    with hub.db.session() as s:
        repo = s.get(Repo, hub.open_repo(None, RID).id)
        assert repo is not None
        hub.record_lfs(s, repo, oid, size)
    with pytest.raises(BadRequest, match="has size"):
        create_commit(hub, who, RID, [CommitOperationLfsAdd("w.bin", oid, size + 1)], summary="lfs")
    create_commit(hub, who, RID, [CommitOperationLfsAdd("w.bin", oid, size)], summary="lfs")
    repo = hub.open_repo(None, RID)
    git = hub.git(repo)
    e = git.entry(git.resolve("main"), "w.bin")
    assert e is not None and e.lfs is not None and e.lfs.oid == oid and e.size == size
    # A copy of an LFS file reuses its pointer.
    create_commit(hub, who, RID, [CommitOperationCopy("w.bin", "w2.bin")], summary="copy")
    e2 = git.entry(git.resolve("main"), "w2.bin")
    assert e2 is not None and e2.oid == e.oid and e2.lfs is not None


def test_a_stale_parent_changes_nothing(hub: Hub, who: Principal) -> None:
    old = head(hub)
    create_commit(hub, who, RID, [CommitOperationAdd("a.txt", b"a")], summary="one")
    now = head(hub)
    with pytest.raises(ParentMismatch):
        create_commit(hub, who, RID, [CommitOperationAdd("b.txt", b"b")], summary="two", parent_commit=old)
    assert head(hub) == now
    assert db_head(hub) == now
    assert "b.txt" not in files(hub)


def test_create_pr_opens_a_pull_request(hub: Hub, who: Principal) -> None:
    main = head(hub)
    result = create_commit(
        hub, who, RID, [CommitOperationAdd("pr.txt", b"p")], summary="A proposal", create_pr=True
    )
    assert result.pr_num == 1
    assert head(hub) == main  # main does not move
    assert files(hub, "refs/pr/1")["pr.txt"] == b"p"
    with hub.db.session() as s:
        d = s.scalar(select(Discussion).where(Discussion.num == 1))
        assert d is not None and d.is_pr and d.title == "A proposal"
