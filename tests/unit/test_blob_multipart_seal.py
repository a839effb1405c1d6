"""LocalBlobStore multipart: a part written while (or after) the upload completes cannot change what is
published under the verified oid."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agora.errors import NotFound
from agora.storage import blobs
from agora.storage.blobs import LocalBlobStore


def start_upload(store: LocalBlobStore, data: bytes, chunk: int) -> tuple[str, str]:
    oid = hashlib.sha256(data).hexdigest()
    upload_id = store.multipart_begin(oid, len(data))
    for at in range(0, len(data), chunk):
        store.multipart_write(upload_id, at, data[at : at + chunk])
    return oid, upload_id


def test_complete_publishes_verified_parts(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = bytes(range(256)) * 1000
    oid, upload_id = start_upload(store, data, 40_000)
    store.multipart_complete(upload_id, oid, len(data))
    assert store.open(oid).read() == data
    assert list(store.tmp_dir.iterdir()) == []
    with pytest.raises(NotFound):
        store.multipart_write(upload_id, 0, b"late")
    store.multipart_complete(upload_id, oid, len(data))  # a retried completion finds the published object
    assert store.open(oid).read() == data


def test_bad_parts_are_refused_and_dropped(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"a" * 10_000
    oid, upload_id = start_upload(store, data, 4096)
    store.multipart_write(upload_id, 0, b"b")
    with pytest.raises(Exception, match="do not hash"):
        store.multipart_complete(upload_id, oid, len(data))
    assert store.local_path(oid) is None
    assert list(store.tmp_dir.iterdir()) == []


def test_part_that_opened_the_file_before_completion_cannot_write_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving that used to publish tampered bytes: a part request has opened the temp file, the
    completion hashes it, then the part writes. The writer is paused right after its open()."""
    store = LocalBlobStore(tmp_path)
    data = bytes(range(256)) * 1000
    oid, upload_id = start_upload(store, data, 64_000)

    opened, resume = threading.Event(), threading.Event()
    real_flock = blobs.fcntl.flock

    def paused_flock(fd: int, op: int) -> None:
        if op == blobs.fcntl.LOCK_SH and threading.current_thread().name == "late-part":
            opened.set()
            assert resume.wait(10)
        real_flock(fd, op)

    monkeypatch.setattr(blobs.fcntl, "flock", paused_flock)
    outcome: list[BaseException | None] = []

    def late_part() -> None:
        try:
            store.multipart_write(upload_id, 0, b"\x00" * 4096)
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - reported below
            outcome.append(e)

    writer = threading.Thread(target=late_part, name="late-part")
    writer.start()
    assert opened.wait(10)
    store.multipart_complete(upload_id, oid, len(data))  # the writer holds an open descriptor meanwhile
    resume.set()
    writer.join(10)

    assert len(outcome) == 1 and isinstance(outcome[0], NotFound)
    published = store.open(oid).read()
    assert hashlib.sha256(published).hexdigest() == oid


def test_sealing_counts_as_activity_for_the_stale_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts written long ago, completion now: gc or a startup sweep (purge_temp with an hour's margin)
    running while the sealed file is hashed, or before the retry of a completion that died, keeps it."""
    store = LocalBlobStore(tmp_path)
    data = bytes(range(256)) * 100
    oid, upload_id = start_upload(store, data, 10_000)
    old = time.time() - 2 * 3600
    os.utime(store.tmp_dir / f"mp-{upload_id}", (old, old))

    def dies(chunks: object) -> tuple[int, str]:
        monkeypatch.undo()
        raise RuntimeError("killed while hashing")

    monkeypatch.setattr(blobs, "_hash_chunks", dies)
    with pytest.raises(RuntimeError):
        store.multipart_complete(upload_id, oid, len(data))
    assert store.purge_temp(datetime.now(UTC) - timedelta(hours=1)) == 0
    store.multipart_complete(upload_id, oid, len(data))
    assert store.open(oid).read() == data
