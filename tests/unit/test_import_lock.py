"""`agora import` copies LFS objects with no database write lock held (issue 14 item 9), a guard:
a 1.4 GB import used to stall every writer of the Hub while its bytes were copied."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from pathlib import Path

import pytest

from agora.hub import accounts, imports
from agora.hub.repos import Hub
from agora.ids import RepoId
from agora.storage.lfs_pointer import lfs_pointer


def probe_write_lock(db_file: Path, oid: str, locked: list[str]) -> None:
    """Try to take SQLite's write lock as another writer would; note it in `locked` when refused."""
    probe = sqlite3.connect(db_file, timeout=0.2)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.rollback()
    except sqlite3.OperationalError as e:
        locked.append(f"{oid[:8]}: {e}")
    finally:
        probe.close()


def _git_repo_with_lfs(root: Path, count: int) -> Path:
    """A working repo whose commit holds `count` LFS pointers, their objects in .git/lfs/objects."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for i in range(count):
        data = f"object {i}\n".encode() * 1000
        oid = hashlib.sha256(data).hexdigest()
        obj = root / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data)
        (root / f"w{i}.bin").write_bytes(lfs_pointer(oid, len(data)))
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "weights"], check=True)
    return root


def _hf_cache_snapshot(root: Path, count: int) -> Path:
    """A Hugging Face cache entry (models--bob--weights/snapshots/<sha>/) with `count` binary files over 1 MB:
    LFS by the Hub's rules."""
    snap = root / "models--bob--weights" / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    for i in range(count):
        (snap / f"w{i}.bin").write_bytes(bytes([0, i]) * 600_000)
    return snap


def _import_probing_the_lock(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, source: imports.Source
) -> tuple[str, list[str]]:
    """Import `source`; after each LFS object is copied, try to write from another connection."""
    db_file = hub.db.engine.url.database
    assert db_file
    locked: list[str] = []
    store = imports._store

    def store_and_probe(hub: Hub, f: Path, oid: str, size: int, progress: imports.Progress) -> None:
        store(hub, f, oid, size, progress)
        probe_write_lock(db_file, oid, locked)  # another writer, while the bytes are copied

    monkeypatch.setattr(imports, "_store", store_and_probe)
    with hub.db.session() as s:
        accounts.create_user(s, "bob", "bob-password")
    return imports.import_source(hub, source, "bob"), locked


@pytest.mark.parametrize("kind", ["git", "hf-cache"])
def test_lfs_objects_are_copied_without_the_write_lock(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    rid = RepoId("model", "bob", "weights")
    if kind == "git":
        source = imports.Source("git", _git_repo_with_lfs(tmp_path / "src", 3), rid, 0)
    else:
        source = imports.Source("hf-cache", _hf_cache_snapshot(tmp_path / "cache", 3), rid, 0)
    head, locked = _import_probing_the_lock(hub, monkeypatch, source)
    assert locked == [], locked  # every copy ran while another process could write
    repo = hub.open_repo(None, source.rid)
    assert repo.head_sha == head
    files = {e.path: e for e in hub.git(repo).all_files(head)}
    assert all(files[f"w{i}.bin"].lfs is not None for i in range(3))


def test_export_folder_objects_are_copied_without_the_write_lock(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for an `agora export` folder, imported into another data folder."""
    from agora.app import build_hub
    from agora.config import Settings
    from agora.hub import backup

    rid = RepoId("model", "bob", "weights")
    with hub.db.session() as s:
        accounts.create_user(s, "bob", "bob-password")
    head = imports.import_source(
        hub, imports.Source("git", _git_repo_with_lfs(tmp_path / "src", 3), rid, 0), "bob"
    )
    backup.export(hub, backup.Scope("repo", rid=rid), tmp_path / "out")
    data = (tmp_path / "target").resolve()
    target = build_hub(Settings(data=data, database_url=f"sqlite:///{data / 'agora.db'}"))
    db_file = target.db.engine.url.database
    assert db_file
    locked: list[str] = []
    store = backup._store

    def store_and_probe(hub: Hub, f: Path, oid: str, size: int, progress: imports.Progress) -> None:
        store(hub, f, oid, size, progress)
        probe_write_lock(db_file, oid, locked)

    monkeypatch.setattr(backup, "_store", store_and_probe)
    assert backup.import_export(target, tmp_path / "out", "bob", lambda n: None, print) == 0
    assert locked == [], locked
    assert len(list(target.blobs.list_objects())) == 3
    assert target.open_repo(None, rid).head_sha == head
