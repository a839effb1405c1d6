"""One contract, two blob stores: the same tests run against LocalBlobStore (a temp folder) and S3BlobStore
(SeaweedFS `weed mini`, started once for this module by tests/stack.py; skipped if the binary is missing).

The contract (storage/blobs.py `BlobStore`): an object is visible under its content address only once its
bytes were verified (sha256 and size); reads return exactly the bytes written, at any offset; deletion and
listing are what gc relies on; abandoned uploads are purged. Where the two stores differ by design (who
moves multipart parts, direct transfers), each side is checked for its own answer.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from agora.errors import BadRequest, HubError, NotFound
from agora.storage import blobs
from agora.storage.blobs import LocalBlobStore
from agora.storage.s3 import S3BlobStore, S3Config

from ..stack import BIN, BUCKET, S3_KEY, S3_SECRET, Seaweed

# S3 refuses parts under 5 MiB but the last (EntityTooSmall); Agora offers 32 MiB parts (multipart_chunk).
PART = 5 * 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    if not (BIN / "weed").exists():
        pytest.skip(f"SeaweedFS is not installed ({BIN / 'weed'} is missing): the S3 store is not checked")
    s3 = Seaweed(tmp_path_factory.mktemp("seaweed")).start()
    try:
        yield s3
    finally:
        s3.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3: Seaweed = request.getfixturevalue("seaweed")
    # Each test gets its own prefix in the bucket, so that its listings see only its own objects.
    cfg = S3Config(
        bucket=BUCKET,
        prefix=f"contract-{secrets.token_hex(6)}/",
        endpoint=s3.endpoint,
        access_key=S3_KEY,
        secret_key=S3_SECRET,
        region="us-east-1",
    )
    return S3BlobStore(cfg, "lfs", tmp_path / "s3-tmp")


def is_s3(store: Any) -> bool:
    return isinstance(store, S3BlobStore)


def put(store: Any, data: bytes, chunk: int = 7000) -> str:
    """Stream `data` in through `new_upload` in pieces, as the HTTP faces do; returns its oid."""
    up = store.new_upload()
    for at in range(0, len(data), chunk):
        up.write(data[at : at + chunk])
    oid = sha(data)
    up.finish(oid, len(data))
    return oid


def listed(store: Any) -> dict[str, int]:
    out = {}
    for oid, size, mtime in store.list_objects():
        assert isinstance(mtime, datetime) and mtime.tzinfo is not None  # gc compares with an aware cutoff
        out[oid] = size
    return out


def write_part(store: Any, upload_id: str, n: int, offset: int, data: bytes) -> None:
    """One part of a multipart upload, sent the way each store takes it: local parts through Agora
    (`multipart_write` at their offset), S3 parts by the client to the presigned part URL."""
    if is_s3(store):
        url = store.presigned_parts(upload_id, n)[n - 1]
        r = httpx.put(url, content=data)
        assert r.status_code == 200, r.text
    else:
        assert store.presigned_parts(upload_id, n) is None
        store.multipart_write(upload_id, offset, data)


def multipart(store: Any, data: bytes, oid: str | None = None, part: int = PART) -> tuple[str, str]:
    oid = oid or sha(data)
    upload_id = store.multipart_begin(oid, len(data))
    for i, at in enumerate(range(0, len(data), part)):
        write_part(store, upload_id, i + 1, at, data[at : at + part])
    return oid, upload_id


# ---- writes through the server, reads -------------------------------------------------------------------


def test_streamed_write_then_reads(store: Any) -> None:
    data = os.urandom(100_000)
    oid = sha(data)
    assert not store.exists(oid) and store.size(oid) is None
    assert put(store, data) == oid
    assert store.exists(oid) and store.size(oid) == len(data)
    with store.open(oid) as fh:
        assert fh.read() == data
    assert store.cached_path(oid).read_bytes() == data  # a local file for readers that need a path
    local = store.local_path(oid)
    assert (local is None) == is_s3(store)
    if local is not None:
        assert local.read_bytes() == data


@pytest.mark.parametrize(
    ("start", "length"),
    [(0, 1), (0, 100_000), (1, 10), (65_535, 2), (99_990, 10), (50_000, 50_000), (99_999, 5)],
)
def test_range_reads(store: Any, start: int, length: int) -> None:
    data = (bytes(range(256)) * 400)[:100_000]
    oid = put(store, data)
    with store.open(oid) as fh:
        assert fh.seek(start) == start
        got = fh.read(length)
        assert got == data[start : start + length]
        assert fh.tell() == min(start + length, len(data))
        fh.seek(-3, io.SEEK_END)
        assert fh.read() == data[-3:]
        assert fh.read(10) == b""  # at the end


def test_empty_object(store: Any) -> None:
    oid = put(store, b"")
    assert oid == sha(b"") and store.exists(oid) and store.size(oid) == 0
    with store.open(oid) as fh:
        assert fh.read() == b""


def test_finish_as_hashed_and_copy_from_file(store: Any, tmp_path: Path) -> None:
    up = store.new_upload()
    up.write(b"browser ")
    up.write(b"upload")
    assert up.finish_as_hashed() == (sha(b"browser upload"), 14)
    assert store.open(sha(b"browser upload")).read() == b"browser upload"
    src = tmp_path / "import.bin"
    src.write_bytes(b"imported bytes")
    store.copy_from_file(src, sha(b"imported bytes"))
    assert store.size(sha(b"imported bytes")) == 14
    with pytest.raises(BadRequest, match="sha256 mismatch"):
        store.copy_from_file(src, sha(b"something else"))
    assert not store.exists(sha(b"something else"))


def test_publish_under_a_key_verified_elsewhere(store: Any) -> None:
    """Xet objects are named by Xet hashes: the store checks the size only."""
    key = "ab" * 32
    up = store.new_upload()
    up.write(b"xorb bytes")
    up.publish(key, 10)
    assert store.open(key).read() == b"xorb bytes"
    up = store.new_upload()
    up.write(b"short")
    with pytest.raises(BadRequest, match="Size mismatch"):
        up.publish("cd" * 32, 99)
    assert not store.exists("cd" * 32)


# ---- verify on seal: nothing unverified is ever published -----------------------------------------------


def test_wrong_sha256_is_refused_and_nothing_is_published(store: Any) -> None:
    claimed = sha(b"what the client said")
    up = store.new_upload()
    up.write(b"what the client sent")
    with pytest.raises(BadRequest, match="sha256 mismatch"):
        up.finish(claimed, len(b"what the client sent"))
    assert not store.exists(claimed) and store.size(claimed) is None
    assert claimed not in listed(store)
    with pytest.raises(NotFound):
        store.open(claimed)
    leftovers(store)


def test_wrong_size_is_refused_and_nothing_is_published(store: Any) -> None:
    data = b"twelve bytes"
    up = store.new_upload()
    up.write(data)
    with pytest.raises(BadRequest, match="Size mismatch"):
        up.finish(sha(data), len(data) + 1)
    assert not store.exists(sha(data))
    leftovers(store)


def test_aborted_upload_leaves_nothing(store: Any) -> None:
    up = store.new_upload()
    up.write(b"half an upload")
    up.abort()
    assert not store.exists(sha(b"half an upload")) and listed(store) == {}
    leftovers(store)


def leftovers(store: Any) -> None:
    """No temp file of a finished (or refused) upload stays behind."""
    if is_s3(store):
        assert [p for p in store.tmp_dir.rglob("*") if p.is_file()] == []
    else:
        assert list(store.tmp_dir.iterdir()) == []


# ---- multipart ------------------------------------------------------------------------------------------


def test_multipart_upload(store: Any) -> None:
    data = os.urandom(PART + 150_000)
    oid, upload_id = multipart(store, data)
    assert not store.exists(oid)  # nothing is visible before completion
    store.multipart_complete(upload_id, oid, len(data))
    assert store.size(oid) == len(data) and store.open(oid).read() == data
    assert listed(store) == {oid: len(data)}
    # A retried completion (the client lost the answer) answers from the published object.
    store.multipart_complete(upload_id, oid, len(data))
    assert store.open(oid).read() == data and listed(store) == {oid: len(data)}
    assert no_temp(store)


class Crash(Exception):
    """Stands for the process dying while it hashes an upload."""


def crash_while_hashing(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next hashing of an upload die: the local store's sha256 of the sealed file, the S3 store's
    read of the assembled temp key (after its first chunk). Once: the retry runs the real code."""
    if is_s3(store):
        real = store.iter_bytes

        def dies(key: str) -> Iterator[bytes]:
            chunks = real(key)
            yield next(chunks)
            monkeypatch.undo()
            raise Crash

        monkeypatch.setattr(store, "iter_bytes", dies)
        return

    class DyingSha:
        def update(self, chunk: bytes) -> None:
            monkeypatch.undo()
            raise Crash

    monkeypatch.setattr(blobs, "hashlib", SimpleNamespace(sha256=DyingSha))


def corrupt(data: bytes) -> bytes:
    """`data` with its first byte changed (b"X" + data[1:] was no change when the random data began with X)."""
    return bytes([data[0] ^ 0xFF]) + data[1:]


def no_temp(store: Any) -> bool:
    """Nothing of an upload is left behind (temp files, temp keys, open S3 multipart uploads)."""
    if not is_s3(store):
        return list(store.tmp_dir.iterdir()) == []
    prefix = f"{store.base}tmp/"
    keys = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix).get("Contents", [])
    return keys == []


def test_multipart_completion_interrupted_while_hashing_is_resumed(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A completion that dies after sealing (local) or assembling (S3) the upload: the same completion,
    retried, verifies the bytes again and publishes them (it used to answer 404 forever)."""
    data = os.urandom(2 * PART + 77_000)
    oid, upload_id = multipart(store, data)
    crash_while_hashing(store, monkeypatch)
    with pytest.raises(Crash):
        store.multipart_complete(upload_id, oid, len(data))
    assert not store.exists(oid)  # nothing unverified is visible
    store.multipart_complete(upload_id, oid, len(data))
    assert sha(store.open(oid).read()) == oid and store.size(oid) == len(data)
    store.multipart_complete(upload_id, oid, len(data))  # and once more, after success
    assert listed(store) == {oid: len(data)} and no_temp(store)


def test_concurrent_completions_of_one_upload_both_succeed(store: Any) -> None:
    """A client that gave up waiting for a long completion retries it while the first still runs."""
    data = os.urandom(2 * PART + 5000)
    oid, upload_id = multipart(store, data)
    errors: list[BaseException] = []

    def complete() -> None:
        try:
            store.multipart_complete(upload_id, oid, len(data))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=complete) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sha(store.open(oid).read()) == oid and listed(store) == {oid: len(data)}


def test_interrupted_completion_still_refuses_bad_bytes(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(PART + 1000)
    oid, upload_id = multipart(store, corrupt(data), oid=sha(data))
    crash_while_hashing(store, monkeypatch)
    with pytest.raises(Crash):
        store.multipart_complete(upload_id, oid, len(data))
    with pytest.raises(BadRequest):
        store.multipart_complete(upload_id, oid, len(data))
    assert not store.exists(oid) and listed(store) == {} and no_temp(store)
    with pytest.raises(NotFound):  # refused for good
        store.multipart_complete(upload_id, oid, len(data))


def test_multipart_parts_in_any_order(store: Any) -> None:
    data = os.urandom(2 * PART + 1000)
    oid = sha(data)
    upload_id = store.multipart_begin(oid, len(data))
    for n in (3, 1, 2):
        at = (n - 1) * PART
        write_part(store, upload_id, n, at, data[at : at + PART])
    store.multipart_complete(upload_id, oid, len(data))
    assert store.open(oid).read() == data


def test_multipart_with_wrong_bytes_is_refused_and_not_published(store: Any) -> None:
    data = os.urandom(PART + 1000)
    oid, upload_id = multipart(store, corrupt(data), oid=sha(data))
    with pytest.raises(BadRequest):
        store.multipart_complete(upload_id, oid, len(data))
    assert not store.exists(oid) and listed(store) == {}


def test_multipart_missing_part_is_refused(store: Any) -> None:
    data = os.urandom(PART + 1000)
    oid = sha(data)
    upload_id = store.multipart_begin(oid, len(data))
    write_part(store, upload_id, 1, 0, data[:PART])
    with pytest.raises(BadRequest):
        store.multipart_complete(upload_id, oid, len(data))
    assert not store.exists(oid)


def test_multipart_unknown_or_invalid_upload_ids(store: Any) -> None:
    oid = sha(b"x")
    with pytest.raises(NotFound):
        store.multipart_complete(secrets.token_hex(16), oid, 1)
    with pytest.raises(BadRequest):
        store.multipart_complete("../../etc", oid, 1)
    with pytest.raises(BadRequest):
        store.multipart_begin("not-an-oid", 1)


def test_multipart_parts_through_the_server(store: Any) -> None:
    """Local parts go through Agora; an S3 store refuses them (its parts go to presigned URLs)."""
    data = b"p" * 1000
    oid = sha(data)
    upload_id = store.multipart_begin(oid, len(data))
    if is_s3(store):
        with pytest.raises(BadRequest, match="presigned"):
            store.multipart_write(upload_id, 0, data)
    else:
        store.multipart_write(upload_id, 0, data)
        store.multipart_complete(upload_id, oid, len(data))
        assert store.exists(oid)


# ---- direct transfer ------------------------------------------------------------------------------------


def test_direct_transfer(store: Any) -> None:
    data = os.urandom(5000)
    oid = sha(data)
    if not is_s3(store):  # local disk is not reachable by clients: everything goes through Agora
        assert store.presigned_put(oid, len(data)) is None and store.presigned_get(oid) is None
        with pytest.raises(BadRequest):
            store.finish_direct("put-" + "0" * 32, oid, len(data))
        return
    url, ticket = store.presigned_put(oid, len(data))
    assert httpx.put(url, content=data).status_code == 200
    assert not store.exists(oid)  # on its temp key until verified
    store.finish_direct(ticket, oid, len(data))
    store.finish_direct(ticket, oid, len(data))  # a retried verify is fine
    r = httpx.get(store.presigned_get(oid, filename="model ü.bin"))
    assert r.status_code == 200 and r.content == data
    assert "model%20%C3%BC.bin" in r.headers.get("content-disposition", "")

    bad = sha(b"claimed")
    url, ticket = store.presigned_put(bad, len(data))
    assert httpx.put(url, content=data).status_code == 200
    with pytest.raises(BadRequest, match="sha256 mismatch"):
        store.finish_direct(ticket, bad, len(data))
    assert not store.exists(bad)
    with pytest.raises(NotFound):  # the refused temp object is gone too
        store.finish_direct(ticket, bad, len(data))


# ---- delete, listing, temp purge (what gc uses) ---------------------------------------------------------


def test_delete_and_listing(store: Any) -> None:
    objects = {
        put(store, f"object {i}".encode() * (i + 1)): len(f"object {i}".encode() * (i + 1)) for i in range(3)
    }
    upload_id = store.multipart_begin(sha(b"in progress"), 11)  # an upload in progress is not an object
    write_part(store, upload_id, 1, 0, b"in progress")
    assert listed(store) == objects
    first = next(iter(objects))
    store.delete(first)
    store.delete(first)  # deleting what is gone is fine
    assert not store.exists(first) and store.size(first) is None
    with pytest.raises(NotFound):
        store.open(first)
    del objects[first]
    assert listed(store) == objects
    before = datetime.now(UTC) - timedelta(minutes=5)
    for _oid, _, mtime in store.list_objects():
        assert mtime > before


def test_purge_temp(store: Any) -> None:
    kept = put(store, b"published")
    oid, upload_id = multipart(store, b"abandoned" * 100)
    assert store.purge_temp(datetime.now(UTC) - timedelta(hours=1)) == 0  # nothing old enough
    assert store.purge_temp(datetime.now(UTC) + timedelta(minutes=1)) >= 1
    with pytest.raises(HubError):  # the abandoned upload is gone
        store.multipart_complete(upload_id, oid, 900)
    assert not store.exists(oid)
    assert store.open(kept).read() == b"published"  # published objects are never temp


def test_purge_temp_removes_what_an_interrupted_completion_left(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sealed part file (local) or assembled temp key (S3) of a completion that died is kept while its
    completion URL can still be retried, and goes once it is older than that (gc --apply, startup)."""
    data = os.urandom(PART + 1000)
    oid, upload_id = multipart(store, data)
    crash_while_hashing(store, monkeypatch)
    with pytest.raises(Crash):
        store.multipart_complete(upload_id, oid, len(data))
    if not is_s3(store):
        assert [p.name for p in store.tmp_dir.iterdir()] == [f"mp-{upload_id}-sealed"]
    assert store.purge_temp(datetime.now(UTC) - timedelta(hours=1)) == 0  # still resumable
    assert store.purge_temp(datetime.now(UTC) + timedelta(minutes=1)) >= 1
    assert no_temp(store)
    with pytest.raises(NotFound):
        store.multipart_complete(upload_id, oid, len(data))
    assert not store.exists(oid)


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "A" * 64, "../" + "a" * 61, "a" * 65])
def test_invalid_oids_are_refused(store: Any, bad: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.exists(bad),
        lambda: store.open(bad),
        lambda: store.delete(bad),
        lambda: store.size(bad),
    ]
    for call in calls:
        with pytest.raises(BadRequest):
            call()
