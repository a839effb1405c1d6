"""Issue 12, item 5: the LFS batch API promises only bounded work.

Declared sizes are plain JSON integers within AGORA_MAX_OBJECT_SIZE (500 GB by default): 2^64, 2^63, a
boolean, a float, a string or a negative size is a 400; 8 TiB is refused at once with a small answer and
no file in the data folder; a batch names at most AGORA_LFS_BATCH_MAX_OBJECTS objects; a multipart upload
of the largest allowed object needs at most 10,000 parts; nothing is preallocated for a declared size.
The same size rules hold for preupload and the NDJSON commit's lfsFile lines.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

TIB = 1024**4
MAX_OBJECT = 500 * 1000**3  # the default AGORA_MAX_OBJECT_SIZE
LFS = {"content-type": "application/vnd.git-lfs+json", "accept": "application/vnd.git-lfs+json"}
NDJSON = {"content-type": "application/x-ndjson"}


pytestmark = pytest.mark.usefixtures("no_server_errors")


@pytest.fixture(scope="module")
def repo(server: Any, alice: str) -> str:
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = "alice/lfs-batch-bounds"
    api.create_repo(repo_id, exist_ok=True)
    return repo_id


def batch(
    server: Any,
    token: str,
    repo: str,
    objects: list[Any],
    transfers: list[str] | None = None,
    operation: str = "upload",
) -> httpx.Response:
    body: dict[str, Any] = {"operation": operation, "objects": objects, "hash_algo": "sha256"}
    if transfers is not None:
        body["transfers"] = transfers
    return httpx.post(
        f"{server.url}/{repo}.git/info/lfs/objects/batch",
        content=json.dumps(body),
        headers={**LFS, "authorization": f"Bearer {token}"},
        timeout=120,
    )


def largest_files(root: Path) -> tuple[int, int]:
    """(largest apparent size of any file, blocks actually used in bytes) under `root`."""
    largest = used = 0
    for p in root.rglob("*"):
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        if p.is_file():
            largest = max(largest, st.st_size)
            used += st.st_blocks * 512
    return largest, used


def check_lfs_error(r: httpx.Response, statuses: tuple[int, ...]) -> str:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/vnd.git-lfs+json"), r.headers
    assert r.headers.get("x-error-code"), r.headers
    msg = r.json()["message"]
    assert isinstance(msg, str) and msg
    return msg


OID = hashlib.sha256(b"some object").hexdigest()


@pytest.mark.parametrize(
    "size",
    [2**64, 2**63, True, False, 1.5, "12", None, [1]],
    ids=["2^64", "2^63", "true", "false", "float", "string", "null", "list"],
)
@pytest.mark.parametrize("transfers", [["basic"], ["basic", "multipart"]], ids=["basic", "multipart"])
def test_malformed_size_is_400(server: Any, alice: str, repo: str, size: Any, transfers: list[str]) -> None:
    r = batch(server, alice, repo, [{"oid": OID, "size": size}], transfers)
    check_lfs_error(r, (400,))


@pytest.mark.parametrize(
    "oid, size",
    [
        ("A" * 64, 5),
        ("a" * 63, 5),
        ("a" * 64 + "\n", 5),
        ("g" * 64, 5),
        (5, 5),
        (None, 5),
        (OID, -1),
        (OID, -(2**70)),
    ],
)
def test_bad_oid_or_negative_size_is_that_objects_error(
    server: Any, alice: str, repo: str, oid: Any, size: int
) -> None:
    """Per-object errors (422), as the LFS spec has them: no actions, no upload started."""
    r = batch(server, alice, repo, [{"oid": oid, "size": size}], ["basic", "multipart"])
    assert r.status_code == 200, r.text[:300]
    (obj,) = r.json()["objects"]
    assert obj["error"]["code"] == 422 and "actions" not in obj, obj
    assert 0 <= obj["size"] < 2**63


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "delete", "objects": []},
        {"operation": "upload", "objects": {}},
        {"operation": "upload", "objects": [], "transfers": "multipart"},
        {"operation": "upload", "objects": [], "transfers": [1]},
        [1, 2],
    ],
)
def test_malformed_batch_is_400(server: Any, alice: str, repo: str, body: Any) -> None:
    r = httpx.post(
        f"{server.url}/{repo}.git/info/lfs/objects/batch",
        content=json.dumps(body),
        headers={**LFS, "authorization": f"Bearer {alice}"},
        timeout=30,
    )
    check_lfs_error(r, (400,))


def test_8_tib_multipart_is_refused_quickly_without_a_sparse_file(server: Any, alice: str, repo: str) -> None:
    start = time.monotonic()
    r = batch(server, alice, repo, [{"oid": OID, "size": 8 * TIB}], ["basic", "multipart"])
    took = time.monotonic() - start
    msg = check_lfs_error(r, (400, 413, 422))
    assert len(r.content) < 4096, len(r.content)
    assert took < 2, took
    assert "exceeds" in msg or "larger" in msg, msg
    largest, _ = largest_files(server.data)
    assert largest < 2 * 1024**3, f"a {largest} byte file appeared in the data folder"


def test_largest_object_needs_at_most_10000_parts_and_allocates_nothing(
    server: Any, alice: str, repo: str
) -> None:
    _, used_before = largest_files(server.data)
    r = batch(server, alice, repo, [{"oid": OID, "size": MAX_OBJECT}], ["basic", "multipart"])
    assert r.status_code == 200, r.text[:500]
    assert r.json()["transfer"] == "multipart"
    (obj,) = r.json()["objects"]
    header = obj["actions"]["upload"]["header"]
    chunk = int(header.pop("chunk_size"))
    parts = sorted(header)
    assert 0 < len(parts) <= 10_000, len(parts)
    assert parts == [f"{n:05d}" for n in range(1, len(parts) + 1)]
    assert chunk * len(parts) >= MAX_OBJECT > chunk * (len(parts) - 1)
    assert len(r.content) < 5 * 1024 * 1024, len(r.content)
    largest, used_after = largest_files(server.data)
    assert largest < 2 * 1024**3, f"a {largest} byte (sparse) file appeared in the data folder"
    assert used_after - used_before < 64 * 1024 * 1024


def test_one_byte_over_the_max_is_413(server: Any, alice: str, repo: str) -> None:
    r = batch(server, alice, repo, [{"oid": OID, "size": MAX_OBJECT + 1}], ["basic", "multipart"])
    check_lfs_error(r, (413,))
    r = batch(server, alice, repo, [{"oid": OID, "size": MAX_OBJECT + 1}], ["basic"])
    check_lfs_error(r, (413,))


def test_objects_per_batch_are_capped(server: Any, alice: str, repo: str) -> None:
    many = [{"oid": f"{n:064x}", "size": 10} for n in range(1001)]
    msg = check_lfs_error(batch(server, alice, repo, many), (413, 422))
    assert "1000" in msg, msg
    r = batch(server, alice, repo, many[:100])  # what git-lfs sends at once
    assert r.status_code == 200, r.text[:500]
    assert len(r.json()["objects"]) == 100


def test_many_large_objects_in_one_batch_get_bounded_part_urls(server: Any, alice: str, repo: str) -> None:
    objects = [{"oid": f"{n:064x}", "size": MAX_OBJECT} for n in range(1, 51)]
    start = time.monotonic()
    r = batch(server, alice, repo, objects, ["basic", "multipart"])
    took = time.monotonic() - start
    assert r.status_code == 200, r.text[:500]
    total = sum(len(o["actions"]["upload"]["header"]) - 1 for o in r.json()["objects"])
    assert total <= 50_000 + len(objects), total
    for o in r.json()["objects"]:
        h = o["actions"]["upload"]["header"]
        assert int(h["chunk_size"]) * (len(h) - 1) >= MAX_OBJECT
    assert took < 30, took
    largest, _ = largest_files(server.data)
    assert largest < 2 * 1024**3


def test_basic_upload_stops_at_the_signed_size(server: Any, alice: str, repo: str) -> None:
    data = b"twelve bytes"
    oid = hashlib.sha256(data).hexdigest()
    r = batch(server, alice, repo, [{"oid": oid, "size": len(data)}])
    assert r.status_code == 200, r.text
    href = r.json()["objects"][0]["actions"]["upload"]["href"]

    def flood() -> Iterator[bytes]:
        piece = b"x" * 1024 * 1024
        for _ in range(64):
            yield piece

    r = httpx.put(href, content=flood(), timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert r.headers.get("x-error-code") == "PayloadTooLarge"
    r = httpx.put(href, content=data, timeout=60)
    assert r.status_code == 200, r.text


def test_multipart_part_larger_than_its_slot_is_413(server: Any, alice: str, repo: str) -> None:
    size = 21 * 1024 * 1024  # over the test server's 20 MiB multipart threshold
    r = batch(server, alice, repo, [{"oid": "c" * 64, "size": size}], ["basic", "multipart"])
    assert r.status_code == 200, r.text[:300]
    header = r.json()["objects"][0]["actions"]["upload"]["header"]
    chunk = int(header["chunk_size"])
    r = httpx.put(header["00001"], content=b"x" * (chunk + 1), timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:300])


@pytest.mark.parametrize("size", [2**64, True, -1, "5"], ids=["2^64", "true", "negative", "string"])
def test_preupload_size_is_checked(server: Any, alice: str, repo: str, size: Any) -> None:
    r = httpx.post(
        f"{server.url}/api/models/{repo}/preupload/main",
        headers={"authorization": f"Bearer {alice}"},
        json={"files": [{"path": "w.bin", "size": size, "sample": ""}]},
        timeout=30,
    )
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers.get("x-error-code") == "BadRequest"


def test_preupload_over_the_max_is_413(server: Any, alice: str, repo: str) -> None:
    r = httpx.post(
        f"{server.url}/api/models/{repo}/preupload/main",
        headers={"authorization": f"Bearer {alice}"},
        json={"files": [{"path": "w.bin", "size": 8 * TIB, "sample": ""}]},
        timeout=30,
    )
    assert r.status_code == 413, (r.status_code, r.text[:300])


@pytest.fixture(scope="module")
def one_byte_object(server: Any, alice: str, repo: str) -> str:
    """An LFS object of size 1 uploaded to `repo`: `true == 1` in Python, so a `true` size would match it."""
    data = b"1"
    oid = hashlib.sha256(data).hexdigest()
    r = batch(server, alice, repo, [{"oid": oid, "size": 1}])
    assert r.status_code == 200, r.text
    actions = r.json()["objects"][0].get("actions")
    if actions:
        assert httpx.put(actions["upload"]["href"], content=data, timeout=30).status_code == 200
    return oid


@pytest.mark.parametrize(
    "size", [True, 2**64, -1, 1.5, "1"], ids=["true", "2^64", "negative", "float", "string"]
)
def test_commit_lfs_line_size_is_checked(
    server: Any, alice: str, repo: str, one_byte_object: str, size: Any
) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = api.repo_info(repo).sha
    lines = [
        {"key": "header", "value": {"summary": "x"}},
        {
            "key": "lfsFile",
            "value": {"path": "w.bin", "algo": "sha256", "oid": one_byte_object, "size": size},
        },
    ]
    r = httpx.post(
        f"{server.url}/api/models/{repo}/commit/main",
        timeout=30,
        headers={"authorization": f"Bearer {alice}", **NDJSON},
        content=b"\n".join(json.dumps(x).encode() for x in lines),
    )
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers.get("x-error-code") == "BadRequest"
    assert api.repo_info(repo).sha == before
    # The same line with the right size commits.
    lines[1]["value"]["size"] = 1
    r = httpx.post(
        f"{server.url}/api/models/{repo}/commit/main",
        timeout=30,
        headers={"authorization": f"Bearer {alice}", **NDJSON},
        content=b"\n".join(json.dumps(x).encode() for x in lines),
    )
    assert r.status_code == 200, r.text[:300]


def test_multipart_upload_through_huggingface_hub_still_works(server: Any, alice: str, repo: str) -> None:
    """A 21 MiB file crosses the test server's multipart threshold; nothing is left in the temp folder."""
    api = HfApi(endpoint=server.url, token=alice)
    data = bytes(range(256)) * (21 * 4096)
    api.upload_file(path_or_fileobj=data, path_in_repo="big.bin", repo_id=repo)
    path = api.hf_hub_download(repo, "big.bin")
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
