"""BlobStore on an S3-compatible object store (AWS S3, SeaweedFS, MinIO, ...) through boto3.

Clients move the bytes of LFS objects straight to and from S3 with presigned URLs; Agora only signs,
completes and verifies. Nothing is visible under its content address before it was verified:

- a direct PUT lands on a temp key (`tmp/put/<ticket>`); the verify call hashes it (a streaming read
  inside the storage network, never through the client connection), then copies it to its final key;
- an HF multipart upload is an S3 multipart upload on a temp key whose parts the client PUTs to
  presigned part URLs; the completion POST reaches Agora, which completes it, hashes it and copies it;
- writes that do pass through Agora (browser uploads, xorbs, shards, parquet) are spooled to a local temp
  file while hashed, and PUT under their final key only after the check: an S3 PUT is atomic.

Every process can finish any upload: what an upload needs (its S3 upload id) lives in S3 next to it.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlparse

from ..errors import BadRequest, NotFound
from ..ids import check_oid
from .blobs import HashingUpload, upload_file

CHUNK = 8 * 1024 * 1024
SPOOL = 16 * 1024 * 1024  # temp uploads stay in memory below this, then go to a temp file
URL_TTL = 3600


@dataclass(frozen=True)
class S3Config:
    """AGORA_BLOB_STORE=s3://bucket[/prefix] plus AGORA_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY / _REGION.

    AGORA_S3_PUBLIC_ENDPOINT (optional) is the endpoint put in presigned URLs, when clients reach the
    object store under another name than the servers do.
    """

    bucket: str
    prefix: str
    endpoint: str | None
    access_key: str | None
    secret_key: str | None
    region: str
    public_endpoint: str | None = None

    @classmethod
    def parse(cls, url: str, env: dict[str, str]) -> S3Config:
        u = urlparse(url)
        if u.scheme != "s3" or not u.netloc:
            raise ValueError(f"AGORA_BLOB_STORE={url!r}: expected s3://bucket[/prefix]")
        prefix = u.path.strip("/")
        return cls(
            bucket=u.netloc,
            prefix=f"{prefix}/" if prefix else "",
            endpoint=env.get("AGORA_S3_ENDPOINT") or None,
            access_key=env.get("AGORA_S3_ACCESS_KEY") or None,
            secret_key=env.get("AGORA_S3_SECRET_KEY") or None,
            region=env.get("AGORA_S3_REGION") or "us-east-1",
            public_endpoint=env.get("AGORA_S3_PUBLIC_ENDPOINT") or None,
        )

    def client(self, public: bool = False) -> Any:
        import boto3
        from botocore.config import Config

        cfg = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=32,
        )
        endpoint = (self.public_endpoint or self.endpoint) if public else self.endpoint
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=cfg,
        )


def _missing(e: Exception) -> bool:
    code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3Reader(io.RawIOBase):
    """A seekable read-only file over ranged GETs: what Xet reconstruction and range reads need."""

    def __init__(self, store: S3BlobStore, key: str, size: int) -> None:
        self._store = store
        self._key = key
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self._size or n == 0:
            return b""
        last = self._size - 1 if n is None or n < 0 else min(self._size, self._pos + n) - 1
        data = self._store._get_range(self._key, self._pos, last)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class S3Upload(HashingUpload):
    """An upload through Agora: spooled and hashed locally, PUT under its final key once verified."""

    def __init__(self, store: S3BlobStore) -> None:
        self._store = store
        super().__init__(tempfile.SpooledTemporaryFile(max_size=SPOOL, mode="w+b", dir=str(store.tmp_dir)))

    def _store_as(self, key: str) -> None:
        assert self._fh is not None
        self._fh.seek(0)
        self._store.client.upload_fileobj(self._fh, self._store.bucket, self._store._key(key))

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()


class S3BlobStore:
    """Objects under `<prefix><kind>/aa/bb/<oid>`; temp uploads under `<prefix><kind>/tmp/`."""

    def __init__(self, cfg: S3Config, kind: str, tmp_dir: Path, ttl: int = URL_TTL) -> None:
        self.cfg = cfg
        self.bucket = cfg.bucket
        self.base = f"{cfg.prefix}{kind}/"
        self.client = cfg.client()
        self.signer = cfg.client(public=True)
        self.tmp_dir = tmp_dir
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl

    # ---- keys -------------------------------------------------------------------------------------
    def _key(self, oid: str) -> str:
        check_oid(oid)
        return f"{self.base}{oid[:2]}/{oid[2:4]}/{oid}"

    def _tmp(self, name: str) -> str:
        if not name.replace("-", "").isalnum():
            raise BadRequest("Invalid upload id")
        return f"{self.base}tmp/{name}"

    # ---- reading ----------------------------------------------------------------------------------
    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
            return head
        except Exception as e:
            if _missing(e):
                return None
            raise

    def exists(self, oid: str) -> bool:
        return self._head(self._key(oid)) is not None

    def size(self, oid: str) -> int | None:
        h = self._head(self._key(oid))
        return int(h["ContentLength"]) if h is not None else None

    def local_path(self, oid: str) -> Path | None:
        return None

    def cached_path(self, oid: str) -> Path:
        """A local copy under the temp folder (readers that need a path: DuckDB, pyarrow). Objects are
        immutable, so a complete copy never goes stale; it is written to a temp name, then renamed."""
        dest = self.tmp_dir / "cache" / oid[:2] / oid
        size = self.size(oid)
        if size is None:
            raise NotFound(f"Object {oid} is not in the store")
        if dest.is_file() and dest.stat().st_size == size:
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{oid}.{secrets.token_hex(4)}")
        try:
            self.client.download_file(self.bucket, self._key(oid), str(tmp))
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def open(self, oid: str) -> BinaryIO:
        size = self.size(oid)
        if size is None:
            raise NotFound(f"Object {oid} is not in the store")
        return io.BufferedReader(S3Reader(self, self._key(oid), size), buffer_size=CHUNK)

    def _get_range(self, key: str, first: int, last: int) -> bytes:
        r = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}")
        data: bytes = r["Body"].read()
        return data

    def iter_bytes(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            while chunk := body.read(CHUNK):
                yield chunk
        finally:
            body.close()

    # ---- direct transfer (presigned URLs) ---------------------------------------------------------
    def presigned_get(self, oid: str, filename: str | None = None) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(oid)}
        if filename:
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        url: str = self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=self.ttl)
        return url

    def presigned_put(self, oid: str, size: int) -> tuple[str, str] | None:
        """A URL the client PUTs the object to, and the ticket that `finish_direct` verifies it by."""
        check_oid(oid)
        ticket = f"put-{secrets.token_hex(16)}"
        url = self.signer.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": self._tmp(ticket)}, ExpiresIn=self.ttl
        )
        return url, ticket

    def finish_direct(self, ticket: str, oid: str, size: int) -> None:
        """Verify what the client PUT under `ticket` and publish it as `oid`. Idempotent (retried calls)."""
        self._verify_and_publish(self._tmp(ticket), oid, size)

    # ---- multipart --------------------------------------------------------------------------------
    def multipart_begin(self, oid: str, size: int) -> str:
        check_oid(oid)
        upload_id = secrets.token_hex(16)
        key = self._tmp(f"mp-{upload_id}")
        mp = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        self.client.put_object(
            Bucket=self.bucket,
            Key=key + ".json",
            Body=json.dumps({"s3": mp["UploadId"], "oid": oid, "size": size}).encode(),
        )
        return upload_id

    def _mp(self, upload_id: str) -> tuple[str, dict[str, Any]]:
        key = self._tmp(f"mp-{upload_id}")
        try:
            meta = json.loads(self.client.get_object(Bucket=self.bucket, Key=key + ".json")["Body"].read())
        except Exception as e:
            if _missing(e):
                raise NotFound("Unknown or expired multipart upload") from None
            raise
        return key, meta

    def presigned_parts(self, upload_id: str, count: int) -> list[str] | None:
        key, meta = self._mp(upload_id)
        return [
            self.signer.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": key, "UploadId": meta["s3"], "PartNumber": n},
                ExpiresIn=self.ttl,
            )
            for n in range(1, count + 1)
        ]

    def multipart_write(self, upload_id: str, offset: int, data: bytes) -> None:
        raise BadRequest("Parts of an upload to S3 go to the presigned part URLs, not through the server")

    def multipart_complete(self, upload_id: str, oid: str, size: int) -> None:
        """Assemble, verify and publish. Idempotent and resumable: the temp key and its `.json` stay until
        the object is published (or refused), so a completion that died half-way (a crash, an S3 error
        while hashing) is finished by its retry, and a retry after success finds the published object."""
        if self.size(oid) == size:  # a retried completion: already verified and published
            self._drop(self._tmp(f"mp-{upload_id}") + ".json")  # if one died right after publishing
            return
        try:
            self._complete(upload_id, oid, size)
        except Exception as e:
            # A concurrent completion of the same upload (a client retrying one that took long) finished
            # first and removed what this one was reading: its result is this one's.
            if (isinstance(e, NotFound) or _missing(e)) and self.size(oid) == size:
                return
            raise

    def _complete(self, upload_id: str, oid: str, size: int) -> None:
        key, meta = self._mp(upload_id)
        if meta["oid"] != oid or meta["size"] != size:
            raise BadRequest("This completion does not match the upload it names")
        try:
            if self._head(key) is None:  # not assembled yet (else: by an earlier, interrupted completion)
                self._assemble(key, meta["s3"])
            self._verify_and_publish(key, oid, size)
        except BadRequest:
            self._drop(key + ".json")
            raise
        self._drop(key + ".json")

    def _assemble(self, key: str, s3_upload: str) -> None:
        """Complete the S3 multipart upload on `key` with every part the client sent."""
        parts: list[dict[str, Any]] = []
        marker = 0
        try:
            while True:
                r = self.client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=s3_upload, PartNumberMarker=marker
                )
                parts += [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in r.get("Parts", [])]
                if not r.get("IsTruncated"):
                    break
                marker = int(r["NextPartNumberMarker"])
        except Exception as e:
            if not _missing(e):
                raise
            if self._head(key) is not None:  # a concurrent completion assembled it a moment ago: verify it
                return
            raise NotFound("Unknown or expired multipart upload") from None  # aborted (purged as abandoned)
        if not parts:
            if self._assembled_soon(key):  # a concurrent completion took the parts a moment ago
                return
            raise BadRequest("No part of this upload was received")
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=s3_upload, MultipartUpload={"Parts": parts}
            )
        except Exception as e:
            if not _missing(e) or self._head(key) is None:
                raise
            # else a concurrent completion assembled it a moment ago: verify what it assembled

    def _assembled_soon(self, key: str, wait: float = 5.0) -> bool:
        """Whether `key` is (or within `wait` seconds becomes) an assembled object: while a concurrent
        completion runs, S3 may list its upload with no parts before the object appears."""
        deadline = time.monotonic() + wait
        while self._head(key) is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _drop(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _verify_and_publish(self, tmp: str, oid: str, size: int) -> None:
        """Hash the temp key and copy it to `oid`'s key. The temp key goes once published or refused, and
        stays after any other failure (S3 unreachable, the process killed): a retry verifies it again."""
        head = self._head(tmp)
        if head is None:
            if self.size(oid) == size:
                return
            raise NotFound(f"Object {oid} was not uploaded")
        try:
            self._check_tmp(tmp, int(head["ContentLength"]), oid, size)
        except BadRequest:
            self._drop(tmp)
            raise
        if self.size(oid) != size:
            self.client.copy({"Bucket": self.bucket, "Key": tmp}, self.bucket, self._key(oid))
        self._drop(tmp)

    def _check_tmp(self, tmp: str, got_size: int, oid: str, size: int) -> None:
        if got_size != size:
            raise BadRequest(f"Size mismatch: expected {size} bytes, received {got_size}")
        sha = hashlib.sha256()
        for chunk in self.iter_bytes(tmp):
            sha.update(chunk)
        if sha.hexdigest() != oid:
            raise BadRequest(
                f"sha256 mismatch: the object is named {oid} but its content hashes to {sha.hexdigest()}"
            )

    # ---- writes through Agora, deletion, listing ---------------------------------------------------
    def new_upload(self) -> S3Upload:
        return S3Upload(self)

    def delete(self, oid: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(oid))

    def list_objects(self) -> Iterator[tuple[str, int, datetime]]:
        """(oid, size, last modified) of every published object (gc)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.base)
        for page in pages:
            for o in page.get("Contents", []):
                rest = o["Key"][len(self.base) :]
                if rest.startswith("tmp/"):
                    continue
                yield rest.rsplit("/", 1)[-1], int(o["Size"]), o["LastModified"]

    def purge_temp(self, before: datetime, dry_run: bool = False) -> int:
        """Abandoned direct uploads: temp objects and multipart uploads started before `before` (with
        `dry_run`, only counted)."""
        n = 0
        prefix = f"{self.base}tmp/"
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                if o["LastModified"] < before:
                    if not dry_run:
                        self.client.delete_object(Bucket=self.bucket, Key=o["Key"])
                    n += 1
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for u in page.get("Uploads", []):
                if u["Initiated"] < before:
                    if not dry_run:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"]
                        )
                    n += 1
        return n

    def copy_from_file(self, src: Path, oid: str) -> None:
        upload_file(self.new_upload(), src, oid, CHUNK)


__all__ = ["S3BlobStore", "S3Config"]
