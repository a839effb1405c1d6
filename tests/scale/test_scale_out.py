"""Scale-out behaviour users see: direct S3 transfers, two processes writing one branch, a process dying
mid-upload, import of a Hugging Face cache, and gc. Runs on PostgreSQL + SeaweedFS + two processes."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ..hf_cache import write_cache_folder
from .conftest import MB, Scale


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * MB):
            h.update(chunk)
    return h.hexdigest()


def _random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 8 * MB)
            fh.write(os.urandom(n))
            left -= n
    return path


def test_200mb_upload_and_download_bypass_agora(scale: Scale, tmp_path: Path) -> None:
    """The bytes go client <-> S3 with presigned URLs: Agora's own byte counters barely move."""
    from huggingface_hub import hf_hub_download

    api = scale.api()
    api.create_repo("alice/big")
    src = _random_file(tmp_path / "big.bin", 200 * MB)
    before = scale.metrics()
    api.upload_file(path_or_fileobj=str(src), path_in_repo="big.bin", repo_id="alice/big")
    mid = scale.metrics()
    got = hf_hub_download(
        "alice/big", "big.bin", endpoint=scale.url, token=scale.token, cache_dir=str(tmp_path / "cache")
    )
    after = scale.metrics()
    assert _sha(Path(got)) == _sha(src)
    assert mid["bytes_in"] - before["bytes_in"] < 1 * MB, (before, mid)
    assert after["bytes_out"] - mid["bytes_out"] < 1 * MB, (mid, after)
    assert after["processes"] >= 2


def test_concurrent_commits_from_two_processes_lose_nothing(scale: Scale) -> None:
    api = scale.api()
    api.create_repo("alice/race")
    apis = [scale.api(scale.backend(0)), scale.api(scale.backend(1))]

    def commit(i: int) -> str:
        return (
            apis[i % 2]
            .upload_file(
                path_or_fileobj=f"file {i}\n".encode(),
                path_in_repo=f"f/{i}.txt",
                repo_id="alice/race",
                commit_message=f"commit {i}",
            )
            .oid
        )

    n = 24
    with ThreadPoolExecutor(8) as pool:
        shas = list(pool.map(commit, range(n)))
    assert len(set(shas)) == n
    files = {f for f in api.list_repo_files("alice/race") if f.startswith("f/")}
    assert files == {f"f/{i}.txt" for i in range(n)}
    history = [c.commit_id for c in api.list_repo_commits("alice/race")]
    assert set(shas) <= set(history)
    assert len(history) == n + 1  # every commit on the one branch, plus the initial one


def test_killing_a_process_mid_upload_the_other_serves_and_a_retry_succeeds(
    scale: Scale, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download

    api = scale.api()
    api.create_repo("alice/crash")
    src = _random_file(tmp_path / "w.bin", 96 * MB)
    assert scale.stack.s3 is not None
    s3 = scale.stack.s3.client()
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            api.upload_file(path_or_fileobj=str(src), path_in_repo="w.bin", repo_id="alice/crash")
        except BaseException as e:  # the kill may break this attempt; the retry below must not fail
            errors.append(e)

    t = threading.Thread(target=upload)
    t.start()
    deadline = time.time() + 60
    while time.time() < deadline and not s3.list_multipart_uploads(Bucket="agora").get("Uploads"):
        time.sleep(0.05)
    scale.stack.kill(0)  # the main process and its worker: nothing of process 0 serves any more
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", scale.stack.ports[0]), timeout=2).close()
    t.join(300)
    try:
        assert api.model_info("alice/crash").id == "alice/crash"  # the survivor answers through the proxy
        if errors or "w.bin" not in api.list_repo_files("alice/crash"):
            api.upload_file(path_or_fileobj=str(src), path_in_repo="w.bin", repo_id="alice/crash")
        got = hf_hub_download(
            "alice/crash", "w.bin", endpoint=scale.url, token=scale.token, cache_dir=str(tmp_path / "cache")
        )
        assert _sha(Path(got)) == _sha(src)
    finally:
        scale.stack.restart(0)


def _hf_cache(root: Path, shared: bytes) -> dict[str, dict[str, bytes]]:
    """Three repos as hf_hub_download leaves them: blobs/<etag>, snapshots/<sha>/<path> -> symlink."""
    repos = {
        "models--acme--tiny-bert": ("model", "acme/tiny-bert"),
        "datasets--acme--tiny-squad": ("dataset", "acme/tiny-squad"),
        "models--acme--tiny-gpt": ("model", "acme/tiny-gpt"),
    }
    out: dict[str, dict[str, bytes]] = {}
    for i, (folder, (_, rid)) in enumerate(repos.items()):
        files = {
            "config.json": b'{"n": %d}\n' % i,
            "README.md": b"---\nlicense: mit\n---\n# %d\n" % i,
            "weights/model.bin": os.urandom(3 * MB) + bytes([i]),
            "shared.bin": shared,
            "big.safetensors": os.urandom(11 * MB),
        }
        write_cache_folder(root, folder, files)
        out[rid] = files
    return out


def test_import_hf_cache_then_snapshot_download_is_identical_and_gc(
    scale: Scale, tmp_path: Path, s3_keys
) -> None:  # type: ignore[no-untyped-def]
    from huggingface_hub import snapshot_download

    shared = os.urandom(2 * MB)
    repos = _hf_cache(tmp_path / "hf-cache" / "hub", shared)
    scale.stack.agora("import", str(tmp_path / "hf-cache"), "--user", "alice", "--quiet")
    for rid, files in repos.items():
        kind = "dataset" if "squad" in rid else "model"
        local = Path(
            snapshot_download(
                rid, repo_type=kind, endpoint=scale.url, token=scale.token, cache_dir=str(tmp_path / "dl")
            )
        )
        got = {p.relative_to(local).as_posix(): p.read_bytes() for p in local.rglob("*") if p.is_file()}
        got.pop(".gitattributes", None)
        assert got == files, rid

    # gc: deleting one repo frees its unique objects; the object it shares with others stays.
    def lfs_keys() -> set[str]:
        return {k.rsplit("/", 1)[-1] for k in s3_keys("lfs/") if "/tmp/" not in k}

    gone = repos["acme/tiny-gpt"]
    unique = {hashlib.sha256(gone[p]).hexdigest() for p in ("weights/model.bin", "big.safetensors")}
    shared_oid = hashlib.sha256(shared).hexdigest()
    assert unique | {shared_oid} <= lfs_keys()
    scale.api().delete_repo("acme/tiny-gpt")
    dry = scale.stack.agora("gc", "--grace-minutes", "0")
    assert lfs_keys() >= unique | {shared_oid}  # a dry run deletes nothing
    out = scale.stack.agora("gc", "--apply", "--grace-minutes", "0")
    keys = lfs_keys()
    assert not unique & keys, out
    assert shared_oid in keys
    for oid in unique:
        assert oid in dry
    kept = Path(
        snapshot_download(
            "acme/tiny-bert", endpoint=scale.url, token=scale.token, cache_dir=str(tmp_path / "dl2")
        )
    )
    assert (kept / "shared.bin").read_bytes() == shared


def test_migrate_is_idempotent_on_postgresql(scale: Scale) -> None:
    assert scale.stack.pg is not None
    scale.stack.agora("migrate")
    assert scale.api().whoami()["name"] == "alice"
