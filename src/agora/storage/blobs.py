"""Content-addressed blob storage (LFS objects by sha256).

The interface is narrow on purpose so that an S3 implementation (storage/s3.py) drops in: stream in,
verify, publish; open for reading; ask for size. An object becomes visible only once complete and
verified: bytes go to a temp file in the same store, are hashed while streaming, fsynced, then renamed
into place.

Direct transfer: a store that clients can reach themselves (S3) answers `presigned_get`, `presigned_put`
and `presigned_parts` with URLs; the local store answers None, and the HTTP face then serves the bytes
itself. Either way the object is verified (sha256, size) by the store before it can be committed.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from ..errors import BadRequest, NotFound
from ..ids import check_oid

CHUNK = 1024 * 1024


class Upload(Protocol):
    def write(self, data: bytes) -> None: ...
    def finish(self, oid: str, size: int) -> None: ...
    def finish_as_hashed(self) -> tuple[str, int]: ...
    def publish(self, key: str, size: int) -> None: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    def exists(self, oid: str) -> bool: ...
    def size(self, oid: str) -> int | None: ...
    def local_path(self, oid: str) -> Path | None: ...
    def cached_path(self, oid: str) -> Path: ...
    def open(self, oid: str) -> BinaryIO: ...
    def new_upload(self) -> Upload: ...
    def multipart_begin(self, oid: str, size: int) -> str: ...
    def multipart_write(self, upload_id: str, offset: int, data: bytes) -> None: ...
    def multipart_complete(self, upload_id: str, oid: str, size: int) -> None: ...
    def delete(self, oid: str) -> None: ...
    def list_objects(self) -> Iterator[tuple[str, int, datetime]]: ...
    def purge_temp(self, before: datetime, dry_run: bool = False) -> int: ...
    # Direct transfer between client and store; None means "through Agora".
    def presigned_get(self, oid: str, filename: str | None = None) -> str | None: ...
    def presigned_put(self, oid: str, size: int) -> tuple[str, str] | None: ...
    def finish_direct(self, ticket: str, oid: str, size: int) -> None: ...
    def presigned_parts(self, upload_id: str, count: int) -> list[str] | None: ...


class HashingUpload:
    """What every store's upload through Agora shares: the bytes are hashed and counted as they are
    written to `_fh`, and checked against the size (and sha256) the caller names before the store
    publishes them with `_store_as`; `abort` drops whatever is left, and runs after either way."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh: IO[bytes] | None = fh
        self._sha = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self._sha.update(data)
        self._size += len(data)

    def finish(self, oid: str, size: int) -> None:
        assert self._fh is not None
        try:
            self._check_size(size)
            got = self._sha.hexdigest()
            if got != oid:
                raise BadRequest(
                    f"sha256 mismatch: the object is named {oid} but its content hashes to {got}"
                )
            self._store_as(oid)
        finally:
            self.abort()

    def publish(self, key: str, size: int) -> None:
        """Publish under a key the caller verified by its own means (Xet objects are named by Xet hashes)."""
        assert self._fh is not None
        try:
            self._check_size(size)
            self._store_as(key)
        finally:
            self.abort()

    def finish_as_hashed(self) -> tuple[str, int]:
        """Publish under the sha256 of what was written (browser uploads: the client sends no oid)."""
        oid, size = self._sha.hexdigest(), self._size
        self.finish(oid, size)
        return oid, size

    def _check_size(self, size: int) -> None:
        if self._size != size:
            raise BadRequest(f"Size mismatch: expected {size} bytes, received {self._size}")

    def _store_as(self, key: str) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class LocalUpload(HashingUpload):
    """A temp file that is hashed as it is written and published (fsynced, renamed into place)."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self._tmp = store.tmp_dir / f"{store.upload_prefix}{secrets.token_hex(12)}"
        super().__init__(open(self._tmp, "wb"))

    def _store_as(self, key: str) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        self._store._publish(self._tmp, key)

    def abort(self) -> None:
        fh, self._fh = self._fh, None
        try:
            if fh is not None:
                fh.close()  # flushes what is buffered: on a full disk that fails too (ENOSPC)
        except OSError:
            pass  # the file is closed all the same, and goes away below
        finally:
            self._tmp.unlink(missing_ok=True)


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        # Temp uploads are `<upload_prefix><random>`; a process that names its own (hub/startup.own_uploads)
        # lets the start-up sweep remove them as soon as it is dead, not only by age.
        self.upload_prefix = "up-"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, oid: str) -> Path:
        check_oid(oid)
        return self.root / oid[:2] / oid[2:4] / oid

    def exists(self, oid: str) -> bool:
        return self._path(oid).is_file()

    def size(self, oid: str) -> int | None:
        try:
            return self._path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, oid: str) -> Path | None:
        p = self._path(oid)
        return p if p.is_file() else None

    def cached_path(self, oid: str) -> Path:
        """A local file with the object's bytes, for readers that need a path (DuckDB, pyarrow)."""
        p = self.local_path(oid)
        if p is None:
            raise NotFound(f"Object {oid} is not in the store")
        return p

    def open(self, oid: str) -> BinaryIO:
        try:
            return open(self._path(oid), "rb")
        except FileNotFoundError:
            raise NotFound(f"Object {oid} is not in the store") from None

    def new_upload(self) -> LocalUpload:
        return LocalUpload(self)

    def _publish(self, tmp: Path, oid: str) -> None:
        dest = self._path(oid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)

    # Multipart: parts are written at their offsets into one temp file, so completion costs one hashing
    # read and a rename, never a concatenation copy. The file starts empty and grows only by the parts
    # that arrive: nothing is preallocated for the size a client merely declared.
    def _mp_path(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise BadRequest("Invalid upload id")
        return self.tmp_dir / f"mp-{upload_id}"

    def multipart_begin(self, oid: str, size: int) -> str:
        check_oid(oid)
        upload_id = secrets.token_hex(16)
        with open(self._mp_path(upload_id), "wb"):
            pass
        return upload_id

    def multipart_write(self, upload_id: str, offset: int, data: bytes) -> None:
        path = self._mp_path(upload_id)
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            raise NotFound("Unknown or expired multipart upload") from None
        try:
            # Shared lock, then check that the upload is still open: multipart_complete renames the file
            # away first, then waits for the writers that got in before (see there).
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                still_open = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                still_open = False
            if not still_open:
                raise NotFound("Unknown or expired multipart upload")
            os.pwrite(fd, data, offset)
        finally:
            os.close(fd)  # releases the lock

    def multipart_complete(self, upload_id: str, oid: str, size: int) -> None:
        # The part links stay valid after completion, so a part PUT could land while the file is being
        # hashed and change bytes already vouched for, then be published under `oid` (replacing a good
        # object every repo shares). Seal first: rename the file away from part writers, then take an
        # exclusive lock, which waits for those that opened it before the rename; later ones see it gone.
        # Completion is idempotent: a sealed file left by a completion that died (a crash, a kill) is
        # hashed again by the retry, and a retry after success finds the published object.
        path = self._mp_path(upload_id)
        sealed = path.with_name(f"{path.name}-sealed")
        try:
            os.rename(path, sealed)
            os.utime(sealed)  # sealed now: the stale-upload sweep counts its age from here
        except FileNotFoundError:
            pass  # sealed already (an interrupted or concurrent completion), or completed
        try:
            fh = open(sealed, "rb")
        except FileNotFoundError:
            self._completed_before(oid, size)
            return
        with fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            if not _same_file(sealed, fh):  # a concurrent completion published (or refused) it meanwhile
                self._completed_before(oid, size)
                return
            total, got = _hash_chunks(iter(lambda: fh.read(8 * CHUNK), b""))
            if total != size or got != oid:
                sealed.unlink(missing_ok=True)
                raise BadRequest(f"Uploaded parts do not hash to {oid} ({total} of {size} bytes)")
            os.fsync(fh.fileno())
            self._publish(sealed, oid)  # still under the lock: a concurrent retry waits, then finds it

    def _completed_before(self, oid: str, size: int) -> None:
        """A completion whose upload file is gone: fine if the object is published (a retry after
        success), else the upload expired or was refused."""
        if self.size(oid) != size:
            raise NotFound("Unknown or expired multipart upload")

    def delete(self, oid: str) -> None:
        self._path(oid).unlink(missing_ok=True)

    def list_objects(self) -> Iterator[tuple[str, int, datetime]]:
        """(oid, size, last modified) of every published object (gc)."""
        for p in self.root.glob("??/??/*"):
            if p.is_file() and len(p.name) == 64:
                st = p.stat()
                yield p.name, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)

    def purge_temp(self, before: datetime, dry_run: bool = False) -> int:
        """Remove uploads abandoned before `before` (temp files, multipart files); returns how many (with
        `dry_run`, how many would go)."""
        n = 0
        for p in self.tmp_dir.iterdir():
            try:
                if p.is_file() and datetime.fromtimestamp(p.stat().st_mtime, UTC) < before:
                    if not dry_run:
                        p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n

    # Local disk is not reachable by clients: every transfer goes through Agora's own routes.
    def presigned_get(self, oid: str, filename: str | None = None) -> str | None:
        return None

    def presigned_put(self, oid: str, size: int) -> tuple[str, str] | None:
        return None

    def finish_direct(self, ticket: str, oid: str, size: int) -> None:
        raise BadRequest("This store takes uploads through the server only")

    def presigned_parts(self, upload_id: str, count: int) -> list[str] | None:
        return None

    def copy_from_file(self, src: Path, oid: str) -> None:
        upload_file(self.new_upload(), src, oid, CHUNK)


def upload_file(up: Upload, src: Path, oid: str, chunk: int) -> None:
    """Import a local file (CLI import, tests) through a store's upload: verified like any other write."""
    with open(src, "rb") as fh:
        while data := fh.read(chunk):
            up.write(data)
    up.finish(oid, src.stat().st_size)


def _same_file(path: Path, fh: IO[bytes]) -> bool:
    """Whether `path` still names the file open as `fh` (not renamed away or removed since)."""
    try:
        return os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return False


def _hash_chunks(chunks: Iterable[bytes]) -> tuple[int, str]:
    """(size, sha256) of the concatenated `chunks`."""
    sha = hashlib.sha256()
    total = 0
    for chunk in chunks:
        sha.update(chunk)
        total += len(chunk)
    return total, sha.hexdigest()


def sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


__all__ = ["BlobStore", "HashingUpload", "LocalBlobStore", "Upload", "sha256_file", "upload_file"]
