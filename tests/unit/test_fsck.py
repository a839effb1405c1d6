"""`agora fsck [--repair]` beyond names and refs (hub/fsck.py): dangling LFS pointers, Xet files whose xorbs
are missing, and the temp files of dead processes. The data folder is set up in-process (tests/unit/conftest.py)
and checked by the real command line, as an operator runs it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

import pytest
from sqlalchemy import func, select

from agora.db.models import XetChunk, XetFile, XetXorb
from agora.errors import BadRequest
from agora.hub.accounts import Principal
from agora.hub.commits import CommitOperationLfsAdd, create_commit
from agora.hub.repos import Hub
from agora.storage.xet.hashing import to_hex

from ..conftest import BIN
from .conftest import RID
from .xet_files import XetUpload


def fsck(hub: Hub, *flags: str) -> subprocess.CompletedProcess[str]:
    data = hub.repos_root.parent
    return subprocess.run(
        [str(BIN / "agora"), "fsck", *flags, "--data", str(data)], capture_output=True, text=True, timeout=120
    )


def lfs_commit(hub: Hub, who: Principal, path: str, data: bytes) -> str:
    """An LFS object uploaded to the repo and committed at `path`; returns its oid."""
    oid = hashlib.sha256(data).hexdigest()
    up = hub.blobs.new_upload()
    up.write(data)
    up.finish(oid, len(data))
    with hub.db.session() as s:
        repo = hub.get(s, RID)
        assert repo is not None
        hub.record_lfs(s, repo, oid, len(data))
    create_commit(hub, who, RID, [CommitOperationLfsAdd(path, oid, len(data))], summary=f"add {path}")
    return oid


def test_dangling_pointer_is_reported_with_repo_ref_path_and_oid(hub: Hub, who: Principal) -> None:
    kept = lfs_commit(hub, who, "kept.bin", b"k" * 3000)
    lost = lfs_commit(hub, who, "weights/lost.bin", b"l" * 3000)
    assert fsck(hub).returncode == 0
    hub.blobs.delete(lost)  # the object is gone from the store: the pointer in main names nothing

    out = fsck(hub)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"dangling LFS pointer: model:alice/m refs/heads/main weights/lost.bin -> {lost}" in out.stdout
    assert kept not in out.stdout
    repaired = fsck(hub, "--repair")  # nothing here can bring the bytes back: it says so, and still fails
    assert repaired.returncode == 1 and "nothing here can repair them" in repaired.stderr
    assert lost in repaired.stdout


def test_missing_xorb_is_reported_and_repair_drops_the_rows_that_offer_it(hub: Hub, who: Principal) -> None:
    assert hub.xet is not None
    f = XetUpload()
    f.send(hub)
    create_commit(hub, who, RID, [CommitOperationLfsAdd("x.bin", f.sha256, len(f.data))], summary="xet")
    assert fsck(hub).returncode == 0
    hub.xet.xorbs.delete(f.name)  # the bytes are lost; the rows still offer them

    out = fsck(hub)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"Xet file {f.sha256} (model:alice/m): xorb {f.name} missing from the store" in out.stdout
    assert f"refs/heads/main x.bin -> {f.sha256}" in out.stdout  # the commit names bytes no one can read
    with hub.db.session() as s:  # a report changes nothing
        assert s.scalar(select(func.count()).select_from(XetXorb)) == 1

    out = fsck(hub, "--repair")
    assert f"unreadable until uploaded again: {f.sha256} (model:alice/m)" in out.stdout, out.stdout
    with hub.db.session() as s:
        for table in (XetXorb, XetFile, XetChunk):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table
    # The shard check no longer believes the xorb is here: a client is told, and uploads it again.
    with pytest.raises(BadRequest, match="does not have"):
        hub.xet.accept_shard(hub.open_repo(None, RID).id, f.shard)
    assert hub.xet.dedup_shard(to_hex(f.meta.hashes[0])) is None
    f.send(hub)
    assert fsck(hub).returncode == 0
    assert hub.xet.read_sha_range(f.sha256, 0, len(f.data)) == f.data


def test_orphaned_temp_files_are_counted_then_removed_by_repair(hub: Hub, who: Principal) -> None:
    old = time.time() - 3 * 3600  # past the start-up sweep's safe age (an hour)
    assert hub.xet is not None
    stale = [hub.blobs.tmp_dir / "up-dead", hub.xet.xorbs.tmp_dir / "up-dead-xorb"]  # type: ignore[attr-defined]
    quarantine = hub.git_dir(hub.open_repo(None, RID)) / "objects" / "tmp_objdir-incoming-XyZ"
    quarantine.mkdir()
    for p in [*stale, quarantine / "pack"]:
        p.write_bytes(b"x" * 10)
        os.utime(p, (old, old))
    os.utime(quarantine, (old, old))
    fresh = hub.blobs.tmp_dir / "up-live"  # type: ignore[attr-defined]
    fresh.write_bytes(b"y")

    out = fsck(hub)
    assert out.returncode == 1, out.stdout + out.stderr
    assert (
        "orphaned leftovers of dead processes: 2 temp upload(s), 0 conversion folder(s), 1 git quarantine"
        in (out.stdout)
    )
    assert all(p.exists() for p in stale) and quarantine.exists()  # a report removes nothing

    out = fsck(hub, "--repair")
    assert "removed leftovers of dead processes: 2 temp upload(s)" in out.stdout, out.stdout
    assert out.returncode == 0, out.stdout + out.stderr
    assert not any(p.exists() for p in stale) and not quarantine.exists()
    assert fresh.exists()  # young: a live upload's
    assert fsck(hub).returncode == 0
