"""Orphaned S3 multipart uploads and temp keys are aborted when a server starts (issue 14), against a real S3
server (SeaweedFS, as in tests/stack.py).

On S3 nothing of an upload is owned by a process: the client sends parts (or the whole object, to a temp key)
to presigned URLs, and any process completes it. So what is abandoned is judged by age: untouched for
AGORA_TEMP_MAX_AGE (an hour by default, the signed URLs' lifetime; 8 s here). The server is killed with
SIGKILL, so no cleanup of its own runs; the start-up sweep (hub/startup.recover -> S3BlobStore.purge_temp)
must remove the old leftovers and keep a young one, which a client may still complete.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from ..conftest import Site, kill_group, new_site, start_killable
from ..stack import BIN, BUCKET, S3_KEY, S3_SECRET, Seaweed

MIB = 1024 * 1024
MAX_AGE = 8


@pytest.fixture
def seaweed(tmp_path: Path) -> Iterator[Seaweed]:
    if not (BIN / "weed").exists():
        pytest.skip(f"SeaweedFS is not installed ({BIN / 'weed'} is missing): the S3 store is not checked")
    s3 = Seaweed(tmp_path / "seaweed").start()
    try:
        yield s3
    finally:
        s3.stop()


def _batch(site: Site, repo: str, data: bytes, transfers: list[str]) -> dict:  # type: ignore[type-arg]
    oid = hashlib.sha256(data).hexdigest()
    r = httpx.post(
        f"{site.endpoint}/{repo}.git/info/lfs/objects/batch",
        auth=(site.user, site.token),
        json={"operation": "upload", "transfers": transfers, "objects": [{"oid": oid, "size": len(data)}]},
        headers={"Accept": "application/vnd.git-lfs+json"},
    )
    assert r.status_code == 200, r.text
    return r.json()["objects"][0]["actions"]["upload"]  # type: ignore[no-any-return]


def test_startup_aborts_orphaned_s3_multipart_uploads_and_temp_keys(tmp_path: Path, seaweed: Seaweed) -> None:
    prefix = f"orphans-{secrets.token_hex(4)}/"
    env = {
        "AGORA_BLOB_STORE": f"s3://{BUCKET}/{prefix}",
        "AGORA_S3_ENDPOINT": seaweed.endpoint,
        "AGORA_S3_ACCESS_KEY": S3_KEY,
        "AGORA_S3_SECRET_KEY": S3_SECRET,
        "AGORA_S3_REGION": "us-east-1",
        "AGORA_MULTIPART_THRESHOLD": str(10 * MIB),
        "AGORA_MULTIPART_CHUNK": str(5 * MIB),
        "AGORA_TEMP_MAX_AGE": str(MAX_AGE),
    }
    site = new_site(
        tmp_path / "data", "sam", tmp_path / "server.log"
    )  # a user and a token: the database only
    s3 = seaweed.client()

    def uploads() -> set[str]:
        got = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
        return {u["Key"] for u in got}

    def temp_keys() -> set[str]:
        got = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return {o["Key"] for o in got if "/tmp/" in o["Key"]}

    proc = start_killable(site.data, site.port, site.log, env)
    try:
        HfApi(endpoint=site.endpoint, token=site.token).create_repo("sam/m")
        # A multipart upload begun, one part sent to its presigned URL, never completed.
        big = os.urandom(12 * MIB)
        action = _batch(site, "sam/m", big, ["basic", "multipart"])
        chunk = int(action["header"]["chunk_size"])
        assert action["header"]["00001"].startswith(seaweed.endpoint), action  # the parts go to S3 directly
        r = httpx.put(action["header"]["00001"], content=big[:chunk], timeout=60)
        assert r.status_code == 200, r.text
        # An object PUT to its presigned temp key, never verified (the client died before).
        small = os.urandom(MIB)
        action = _batch(site, "sam/m", small, ["basic"])
        assert action["href"].startswith(seaweed.endpoint), action
        r = httpx.put(action["href"], content=small, timeout=60)
        assert r.status_code == 200, r.text
        old_uploads, old_keys = uploads(), temp_keys()
        assert len(old_uploads) == 1 and any("/put-" in k for k in old_keys), (old_uploads, old_keys)

        kill_group(proc)
        time.sleep(MAX_AGE + 1)
        # A young upload and temp key (a client of another process may still complete them): they stay.
        young = f"{prefix}lfs/tmp/young-{secrets.token_hex(4)}"
        s3.create_multipart_upload(Bucket=BUCKET, Key=young)
        s3.put_object(Bucket=BUCKET, Key=f"{young}-key", Body=b"young")
        proc = start_killable(site.data, site.port, site.log, env)

        assert uploads() == {young}, f"orphaned multipart uploads left after the start: {uploads() - {young}}"
        assert temp_keys() == {f"{young}-key"}, f"orphaned temp keys left after the start: {temp_keys()}"
        # The same uploads, done again by huggingface_hub (multipart, then basic + verify), succeed.
        api = HfApi(endpoint=site.endpoint, token=site.token)
        for name, data in (("big.bin", big), ("small.bin", small)):
            api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id="sam/m")
            info = api.get_paths_info("sam/m", [name])[0]
            assert info.lfs is not None and info.lfs.sha256 == hashlib.sha256(data).hexdigest()
    finally:
        kill_group(proc)
