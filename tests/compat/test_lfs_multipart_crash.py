"""kill -9 of the whole server while it completes an HF multipart upload (after the part file was sealed,
while it is being hashed), then a restart: the same signed completion URL finishes the upload (it used to
answer 404 "Unknown or expired multipart upload" forever, the parts left on disk), a completion retried
after success answers success too, and huggingface_hub then commits the object without sending it again.
Runs its own server on its own data folder, so the shared session server is never touched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
from huggingface_hub import HfApi

from ..conftest import kill_group, new_site, start_killable

MIB = 2**20
SIZE = 160 * MIB  # large enough that hashing the sealed file takes a while on any machine


def start(data: Path, port: int, log: Path) -> subprocess.Popen:
    return start_killable(
        data,
        port,
        log,
        {
            "AGORA_BLOB_STORE": "local",  # the sealed part file is the local store's; S3: the contract tests
            "AGORA_MULTIPART_THRESHOLD": str(20 * MIB),
            "AGORA_MULTIPART_CHUNK": str(16 * MIB),
        },
    )


def batch_upload(endpoint: str, rid: str, token: str, oid: str, size: int) -> dict:
    """The LFS batch call huggingface_hub makes for a large file (multipart offered above the threshold)."""
    r = httpx.post(
        f"{endpoint}/{rid}.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "hash_algo": "sha256",
            "objects": [{"oid": oid, "size": size}],
        },
        timeout=60,
    )
    assert r.status_code == 200, r.text
    upload: dict = r.json()["objects"][0]["actions"]["upload"]
    return upload


def send_parts(upload: dict, path: Path) -> list[dict]:
    """PUT each part to its signed URL (no Authorization, as the client sends them); -> the parts' etags."""
    header = upload["header"]
    chunk = int(header["chunk_size"])
    etags = []
    with open(path, "rb") as fh:
        for n in sorted(k for k in header if k.isdigit()):
            r = httpx.put(header[n], content=fh.read(chunk), timeout=120)
            assert r.status_code == 200, r.text
            etags.append({"partNumber": int(n), "etag": r.headers["etag"]})
    return etags


def complete(upload: dict, oid: str, parts: list[dict]) -> httpx.Response:
    return httpx.post(upload["href"], json={"oid": oid, "parts": parts}, timeout=300)


def kill_while_sealed(
    proc: subprocess.Popen, tmp_dir: Path, upload: dict, oid: str, parts: list[dict]
) -> None:
    """POST the completion and kill -9 the server as soon as the part file is sealed (being hashed)."""
    answered: list[object] = []

    def post() -> None:
        try:
            answered.append(complete(upload, oid, parts).status_code)
        except httpx.HTTPError as e:  # the server died under it: what the client of a crash sees
            answered.append(e)

    poster = threading.Thread(target=post)
    poster.start()
    deadline = time.time() + 120
    while not any(p.name.endswith("-sealed") for p in tmp_dir.iterdir()):
        assert not answered, f"the completion ended before it could be interrupted: {answered}"
        assert time.time() < deadline, "the completion never sealed the upload"
        time.sleep(0.001)
    kill_group(proc)
    poster.join(60)
    assert answered and isinstance(answered[0], httpx.HTTPError), answered


def test_kill_9_during_multipart_completion_then_retry(tmp_path: Path) -> None:
    site = new_site(tmp_path / "data", "erin", tmp_path / "server.log")
    data, token, port, endpoint, log = site.data, site.token, site.port, site.endpoint, site.log
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        for _ in range(SIZE // MIB):
            fh.write(os.urandom(MIB))
    sha = hashlib.sha256()
    with open(big, "rb") as fh:
        while chunk := fh.read(8 * MIB):
            sha.update(chunk)
    oid = sha.hexdigest()

    proc = start(data, port, log)
    try:
        api = HfApi(endpoint=endpoint, token=token)
        rid = "erin/crash"
        api.create_repo(rid)
        upload = batch_upload(endpoint, rid, token, oid, SIZE)
        assert len([k for k in upload["header"] if k.isdigit()]) == SIZE // (16 * MIB)
        parts = send_parts(upload, big)
        tmp_dir = data / "lfs" / "tmp"
        kill_while_sealed(proc, tmp_dir, upload, oid, parts)
        assert [p.name.endswith("-sealed") for p in tmp_dir.iterdir()] == [True]  # what the crash left
        assert not (data / "lfs" / oid[:2] / oid[2:4] / oid).exists()  # nothing unverified was published

        proc = start(data, port, log)
        r = complete(upload, oid, parts)  # the same signed URL, after the restart
        assert r.status_code == 200, r.text
        r = complete(upload, oid, parts)  # the client lost the answer and retries: still a success
        assert r.status_code == 200, r.text
        assert list(tmp_dir.iterdir()) == []
        published = data / "lfs" / oid[:2] / oid[2:4] / oid
        assert published.stat().st_size == SIZE

        # The real client finds the object uploaded (the batch offers no action) and commits it.
        info = api.upload_file(path_or_fileobj=str(big), path_in_repo="big.bin", repo_id=rid)
        assert info.oid
        entry = next(e for e in api.list_repo_tree(rid) if e.path == "big.bin")
        assert entry.lfs is not None and entry.lfs.sha256 == oid and entry.size == SIZE
        r = httpx.get(f"{endpoint}/{rid}/resolve/main/big.bin", follow_redirects=True, timeout=120)
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == oid
    finally:
        kill_group(proc)
