"""`agora import`, `agora export` and `agora gc` on the default stores (SQLite, local disk), through the CLI.

tests/scale runs import and gc again on PostgreSQL + S3; this checks the one-machine configuration and
what export writes (a bundle git accepts, the LFS objects by sha256)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from ..hf_cache import write_cache_folder

BIN = Path(sys.executable).parent
MB = 2**20


def agora(data: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    out = subprocess.run(
        [str(BIN / "agora"), *args, "--data", str(data)], input=stdin, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def hf_cache(root: Path, shared: bytes) -> dict[str, dict[str, bytes]]:
    out = {}
    for i, folder in enumerate(("models--acme--one", "datasets--acme--two", "models--solo")):
        files = {
            "config.json": b'{"i": %d}' % i,
            "w/model.bin": os.urandom(2 * MB) + bytes([i]),
            "shared.bin": shared,
        }
        write_cache_folder(root, folder, files)
        out[folder] = files
    return out


def lfs_files(data: Path) -> set[str]:
    return {p.name for p in (data / "lfs").glob("??/??/*")}


def test_import_export_gc_on_local_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    agora(data, "user", "add", "admin", "--password-stdin", stdin="pw\n")
    shared = os.urandom(MB)
    repos = hf_cache(tmp_path / "cache", shared)
    agora(data, "import", str(tmp_path / "cache"), "--quiet")
    oid = {k: hashlib.sha256(v["w/model.bin"]).hexdigest() for k, v in repos.items()}
    shared_oid = hashlib.sha256(shared).hexdigest()
    assert set(oid.values()) | {shared_oid} <= lfs_files(data)

    # export: a bundle git can clone, and every LFS object the repo points at
    out = tmp_path / "export"
    agora(data, "export", "acme/one", str(out), "--quiet")
    clone = tmp_path / "clone"
    env = {**os.environ, "GIT_LFS_SKIP_SMUDGE": "1"}
    subprocess.run(
        ["git", "clone", "-q", str(out / "repos" / "model" / "acme" / "one" / "repo.bundle"), str(clone)],
        check=True,
        capture_output=True,
        env=env,
    )
    assert (clone / "config.json").read_bytes() == repos["models--acme--one"]["config.json"]
    exported = {p.name: p for p in (out / "objects").glob("??/??/*")}
    assert set(exported) == {oid["models--acme--one"], shared_oid}
    # out/objects has git-lfs's own layout: copied into .git/lfs/objects, `git lfs checkout` restores the files.
    subprocess.run(["cp", "-r", f"{out / 'objects'}/.", str(clone / ".git" / "lfs" / "objects")], check=True)
    subprocess.run(["git", "lfs", "checkout"], cwd=clone, check=True, capture_output=True)
    assert (clone / "w" / "model.bin").read_bytes() == repos["models--acme--one"]["w/model.bin"]
    assert (clone / "shared.bin").read_bytes() == shared

    # gc: nothing to do while every repo exists; after a deletion only that repo's own object goes
    assert (
        "would remove 0 LFS"
        in subprocess.run(
            [str(BIN / "agora"), "gc", "--grace-minutes", "0", "--data", str(data)],
            capture_output=True,
            text=True,
        ).stderr
    )
    from agora.app import build_hub
    from agora.config import Settings
    from agora.hub.accounts import Principal
    from agora.ids import RepoId

    hub = build_hub(Settings(data=data.resolve(), database_url=f"sqlite:///{data.resolve() / 'agora.db'}"))
    with hub.db.session() as s:
        admin = Principal(user_id=1, name="admin", is_admin=True, role="write")
        hub.delete(s, admin, RepoId("model", "admin", "solo"))
    dry = agora(data, "gc", "--grace-minutes", "0")
    assert oid["models--solo"] in dry and lfs_files(data) >= {oid["models--solo"]}
    agora(data, "gc", "--apply", "--grace-minutes", "0")
    left = lfs_files(data)
    assert oid["models--solo"] not in left
    assert {oid["models--acme--one"], oid["datasets--acme--two"], shared_oid} <= left


def _import(data: Path, export: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    return subprocess.run(
        [str(BIN / "agora"), "import", export.name, "--quiet", "--data", str(data)],
        cwd=export.parent,
        capture_output=True,
        text=True,
        env=env,
    )


def _repos(data: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(data / "agora.db")
    try:
        return sorted(db.execute("SELECT type, namespace, name FROM repos").fetchall())
    finally:
        db.close()


def test_import_of_an_export_with_a_missing_or_corrupt_object_fails_and_leaves_no_repo(
    tmp_path: Path,
) -> None:
    """A missing LFS object is an error that names it, and the repo is not left half-imported; so is an
    object whose bytes do not hash to its name. The intact repos of the same export are imported."""
    data = tmp_path / "data"
    agora(data, "user", "add", "admin", "--password-stdin", stdin="pw\n")
    repos = hf_cache(tmp_path / "cache", os.urandom(MB))
    agora(data, "import", str(tmp_path / "cache"), "--quiet")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    out = subprocess.run(  # the namespace acme, into a path relative to the current directory
        [str(BIN / "agora"), "export", "acme", "backup", "--quiet", "--data", str(data)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    backup = tmp_path / "backup"
    missing = hashlib.sha256(repos["models--acme--one"]["w/model.bin"]).hexdigest()
    obj = backup / "objects" / missing[:2] / missing[2:4] / missing
    obj.rename(tmp_path / "aside")

    target = tmp_path / "target"
    out = _import(target, backup)
    assert out.returncode == 1
    assert missing in out.stderr and "model acme/one" in out.stderr, out.stderr
    assert _repos(target) == [("dataset", "acme", "two")]  # the intact repo came in, acme/one did not
    assert len(list((target / "repos").glob("*/*.git"))) == 1

    corrupt = bytearray((tmp_path / "aside").read_bytes())
    corrupt[100] ^= 1
    obj.write_bytes(bytes(corrupt))
    out = _import(target, backup)
    assert out.returncode == 1
    assert missing in out.stderr and "corrupt" in out.stderr, out.stderr
    assert "dataset acme/two: a repo of that type and name exists here already" in out.stderr, out.stderr
    assert _repos(target) == [("dataset", "acme", "two")]
    assert not (target / "lfs" / missing[:2] / missing[2:4] / missing).exists()

    (tmp_path / "aside").replace(obj)
    out = _import(target, backup)
    assert out.returncode == 1  # acme/two is there already; acme/one comes in now
    assert _repos(target) == [("dataset", "acme", "two"), ("model", "acme", "one")]
    assert len(list((target / "repos").glob("*/*.git"))) == 2
