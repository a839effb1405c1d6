"""`agora gc` and the inference folders (issue 15): the snapshot of a commit that is no longer a branch or tag
head goes, and so does the Xet-rebuilt weight file only it linked to; what a head's snapshot links to, and
anything used within the grace, stays; a worker that has a removed file mapped keeps reading it."""

from __future__ import annotations

import json
import mmap
import os
import time
from pathlib import Path

import pytest

from agora import cli
from agora.hub.accounts import Principal
from agora.hub.commits import CommitOperationAdd, CommitOperationLfsAdd, create_commit
from agora.hub.repos import Hub
from agora.inference.snapshots import Snapshots

from .conftest import RID
from .xet_files import XetUpload

HOUR = 3600.0


def commit_weights(hub: Hub, who: Principal, f: XetUpload) -> str:
    f.send(hub)
    ops = [
        CommitOperationAdd("config.json", json.dumps({"model_type": "bert"}).encode()),
        CommitOperationLfsAdd("model.safetensors", f.sha256, len(f.data)),
    ]
    return create_commit(hub, who, RID, ops, summary="weights").oid


def age(*paths: Path, seconds: float = 2 * HOUR) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then), follow_symlinks=False)


def gc(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert cli.main(["gc", "--data", str(data), *extra]) == 0
    return capsys.readouterr().out


def test_gc_removes_snapshots_of_old_commits_and_their_cache_files(
    hub: Hub, who: Principal, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hub.xet is not None
    data = hub.repos_root.parent
    snaps = Snapshots(hub, data, 0, 1 << 30)
    old, new = XetUpload(), XetUpload()
    repo = hub.open_repo(None, RID)
    first = commit_weights(hub, who, old)
    old_snap = snaps.folder(repo, first)
    second = commit_weights(hub, who, new)
    new_snap = snaps.folder(hub.open_repo(None, RID), second)
    old_cached = (old_snap / "model.safetensors").resolve()
    new_cached = (new_snap / "model.safetensors").resolve()
    assert old_cached.parent.parent == data / "infer-cache"  # Xet weights are rebuilt into the cache
    stray = data / "infer-cache" / "00" / ("0" * 64)  # rebuilt a moment ago, no snapshot yet: in its grace
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"x")
    age(old_snap, new_snap, old_cached, new_cached)

    hub.create_tag(repo, who, first, "v1", None)  # a tag head keeps its snapshot
    assert "infer" not in gc(data, capsys, "--apply")
    assert old_snap.is_dir() and old_cached.is_file()

    hub.git(repo).repo.references.delete("refs/tags/v1")
    out = gc(data, capsys)  # dry run: says what it would remove, removes nothing
    rel_snap, rel_cached = old_snap.relative_to(data), old_cached.relative_to(data)
    assert f"would remove infer {rel_snap} " in out and f"would remove infer {rel_cached} " in out
    assert str(new_snap.relative_to(data)) not in out and str(stray.relative_to(data)) not in out
    assert old_snap.is_dir() and old_cached.is_file()

    with open(old_cached, "rb") as fh:  # a worker that has the old weights mapped
        mapped = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
    out = gc(data, capsys, "--apply")
    assert f"removed infer {rel_snap} " in out and f"removed infer {rel_cached} " in out
    assert not old_snap.exists() and not old_cached.exists()
    assert mapped[:] == old.data  # unlinked while mapped: the pages stay valid
    mapped.close()
    # the head's snapshot and the file it links to stay, and so does the young stray
    assert (new_snap / "model.safetensors").read_bytes() == new.data
    assert stray.is_file()
    # a snapshot removed by gc is rebuilt on its next use
    age(new_snap, new_cached)
    create_commit(hub, who, RID, [CommitOperationAdd("README.md", b"hi")], summary="card")
    gc(data, capsys, "--apply")
    assert not new_snap.exists()
    again = Snapshots(hub, data, 0, 1 << 30).folder(hub.open_repo(None, RID), second)
    assert (again / "model.safetensors").read_bytes() == new.data
