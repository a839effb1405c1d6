"""Xet storage as a domain service: verified xorbs, shard acceptance, file reconstruction, global dedup.

Xorbs and shards live in two BlobStores (keyed by their hex hash); what they contain is indexed in the
DB (xet_xorbs, xet_files, xet_chunks). A repo may reference a Xet file through an LfsObject row for its
sha256, written when a shard registering the file is accepted with a write token for that repo. From
then on the sha256 is an ordinary LFS oid: commits point at it, and every read path (resolve, LFS batch,
Xet reconstruction) serves the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..db.models import LfsObject, Repo, XetChunk, XetFile, XetXorb, utcnow
from ..db.session import Database
from ..errors import BadRequest, NotFound, RepoNotFound
from ..storage.blobs import BlobStore
from ..storage.xet import hashing, reconstruct, shard
from ..storage.xet.hashing import from_hex, to_hex
from ..storage.xet.reconstruct import Segment
from ..storage.xet.shard import CasChunk, CasInfo, ShardError
from ..storage.xet.xorb import XorbError, XorbMeta, XorbParser

log = logging.getLogger("agora.xet")
_TERM = struct.Struct("<32sIII")  # xorb hash, chunk start, chunk end, unpacked bytes
DEDUP_SHARD_XORBS = 64  # xorbs described in one global dedup answer (about 3 MB of shard)
DEDUP_SHARD_TTL = 7 * 24 * 3600  # the expiry of a dedup answer: the client dedups against it until then
OFFER_NOTED_EVERY = timedelta(days=1)  # XetXorb.offered_at is at most this much older than the last offer


@dataclass(frozen=True)
class StoredTerm:
    xorb: str  # hex string form
    start: int
    end: int
    unpacked: int


def _offer_unnoted() -> ColumnElement[bool]:
    """Xorbs whose last dedup offer was not noted within OFFER_NOTED_EVERY (or never)."""
    return or_(XetXorb.offered_at.is_(None), XetXorb.offered_at < utcnow() - OFFER_NOTED_EVERY)


def pack_terms(terms: Sequence[shard.Term]) -> bytes:
    return b"".join(_TERM.pack(t.xorb, t.start, t.end, t.unpacked) for t in terms)


def unpack_terms(blob: bytes) -> list[StoredTerm]:
    return [StoredTerm(to_hex(x), s, e, u) for x, s, e, u in _TERM.iter_unpack(blob)]


class XorbUpload:
    """A xorb streaming in: bytes go to the store's temp upload and through the verifying parser at once."""

    def __init__(self, xet: XetStore, name: str) -> None:
        self.xet = xet
        self.name = name
        self.parser = XorbParser()
        self.upload = xet.xorbs.new_upload()
        self.size = 0

    def write(self, data: bytes) -> None:
        try:
            self.parser.feed(data)
        except XorbError as e:
            raise BadRequest(f"Invalid xorb: {e}") from None
        self.upload.write(data)
        self.size += len(data)

    def finish(self) -> bool:
        """Verify and publish; False if the xorb was already stored (not an error)."""
        try:
            meta = self.parser.finish()
        except XorbError as e:
            raise BadRequest(f"Invalid xorb: {e}") from None
        got = to_hex(meta.hash)
        if got != self.name:
            raise BadRequest(
                f"Xorb hash mismatch: the request names {self.name} but its chunks hash to {got}"
            )
        with self.xet.db.session() as s:
            if s.scalar(select(XetXorb.id).where(XetXorb.hash == got)) is not None:
                self.upload.abort()
                return False
        self.upload.publish(got, self.size)
        try:
            with self.xet.db.session() as s:
                s.add(
                    XetXorb(
                        hash=got,
                        size=self.size,
                        num_chunks=meta.num_chunks,
                        unpacked=meta.unpacked_total,
                        meta=meta.pack(),
                    )
                )
        except IntegrityError:
            return False  # a concurrent upload of the same xorb won; the bytes are identical
        return True

    def abort(self) -> None:
        self.upload.abort()


class XetStore:
    def __init__(self, db: Database, xorbs: BlobStore, shards: BlobStore) -> None:
        self.db = db
        self.xorbs = xorbs
        self.shards = shards

    # ---- xorbs ------------------------------------------------------------------------------------
    def new_xorb_upload(self, name: str) -> XorbUpload:
        return XorbUpload(self, name)

    def metas(self, s: Session, names: Sequence[str]) -> dict[str, XorbMeta]:
        rows = s.execute(select(XetXorb.hash, XetXorb.meta).where(XetXorb.hash.in_(set(names)))).all()
        return {h: XorbMeta.unpack(m) for h, m in rows}

    def xorb_sizes(self, s: Session, names: Sequence[str]) -> dict[str, int]:
        return dict(s.execute(select(XetXorb.hash, XetXorb.size).where(XetXorb.hash.in_(set(names)))).all())

    # ---- shards -----------------------------------------------------------------------------------
    def accept_shard(self, repo_id: int, data: bytes) -> int:
        """Check a shard completely, verify each new file's sha256 by reading it back, then register it.

        Returns 1 when something new was registered, 0 when everything in it was already known.
        """
        try:
            sh = shard.parse(data)
        except ShardError as e:
            raise BadRequest(f"Invalid shard: {e}") from None
        names = {to_hex(t.xorb) for f in sh.files for t in f.terms} | {to_hex(x.xorb) for x in sh.xorbs}
        with self.db.session() as s:
            metas = self.metas(s, list(names))
            sizes = self.xorb_sizes(s, list(names))
            known = {
                f.file_hash: s.scalar(select(XetFile.sha256).where(XetFile.file_hash == to_hex(f.file_hash)))
                for f in sh.files
            }
        self._check_uploaded(names, metas)
        for x in sh.xorbs:
            self._check_cas(x, metas[to_hex(x.xorb)], sizes[to_hex(x.xorb)])
        files = [self._verified_file(f, metas, known) for f in sh.files]
        digest = hashlib.sha256(data).hexdigest()
        changed = self._store_shard(data, digest)
        with self.db.session() as s:
            if files and s.get(Repo, repo_id) is None:
                raise RepoNotFound("The repository this Xet token was issued for no longer exists")
            for f, sha, size in files:
                changed = self._register_file(s, repo_id, f, sha, size, digest) or changed
            self._index_chunks(s, sh, metas)
        log.info(
            "shard %s accepted for repo %s: %d file(s), %d xorb(s)",
            digest[:12],
            repo_id,
            len(files),
            len(sh.xorbs),
        )
        return 1 if changed else 0

    @staticmethod
    def _check_uploaded(names: set[str], metas: dict[str, XorbMeta]) -> None:
        missing = sorted(names - set(metas))
        if missing:
            raise BadRequest(
                f"The shard references xorb {missing[0]}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + ", which this server does not have: it was never uploaded, or `agora gc` removed it as "
                "unreferenced. If you uploaded these bytes before, your Xet client's cache still believes the "
                "server has them: delete its shard cache (the `shard-cache` folder under $HF_XET_CACHE, else "
                "$HF_HOME/xet, by default ~/.cache/huggingface/xet) and upload again."
            )

    def _verified_file(
        self, f: shard.FileInfo, metas: dict[str, XorbMeta], known: dict[bytes, str | None]
    ) -> tuple[shard.FileInfo, str, int]:
        """-> (file, sha256, size) of a checked file; a new file's sha256 is verified by reading it back."""
        size = self._check_file(f, metas)
        assert f.sha256 is not None
        sha = to_hex(f.sha256)  # stored like any Xet hash: its string form is the sha256 hex
        prior = known.get(f.file_hash)
        if prior is not None and prior != sha:
            raise BadRequest(f"File {to_hex(f.file_hash)} is known with sha256 {prior}, not {sha}")
        if prior is None:
            got = self._sha256(unpack_terms(pack_terms(f.terms)), metas, size)
            if got != sha:
                raise BadRequest(
                    f"File {to_hex(f.file_hash)}: the shard says sha256 {sha} but its content hashes to {got}"
                )
        return f, sha, size

    def _store_shard(self, data: bytes, digest: str) -> bool:
        """Keep the shard's bytes under their sha256; False when they were already stored."""
        if self.shards.exists(digest):
            return False
        up = self.shards.new_upload()
        try:
            up.write(data)
            up.finish(digest, len(data))
        except BaseException:
            up.abort()
            raise
        return True

    @staticmethod
    def _register_file(s: Session, repo_id: int, f: shard.FileInfo, sha: str, size: int, digest: str) -> bool:
        """The XetFile row of a file and the LfsObject row that lets the repo use its sha256; True when
        either is new."""
        fh = to_hex(f.file_hash)
        added = False
        if s.scalar(select(XetFile.id).where(XetFile.file_hash == fh)) is None:
            row = XetFile(file_hash=fh, sha256=sha, size=size, terms=pack_terms(f.terms), shard=digest)
            added = XetStore._insert(s, row)
        owned = select(LfsObject.id).where(LfsObject.repo_id == repo_id, LfsObject.oid == sha)
        if s.scalar(owned) is None:
            added = XetStore._insert(s, LfsObject(repo_id=repo_id, oid=sha, size=size)) or added
        return added

    @staticmethod
    def _insert(s: Session, row: object) -> bool:
        """Add `row` in a savepoint; False when a concurrent upload added the same row first (its
        content is the same)."""
        try:
            with s.begin_nested():
                s.add(row)
        except IntegrityError:
            return False
        return True

    @staticmethod
    def _check_cas(x: CasInfo, m: XorbMeta, size: int) -> None:
        name = to_hex(x.xorb)
        if len(x.chunks) != m.num_chunks or x.unpacked_bytes != m.unpacked_total:
            raise BadRequest(
                f"The shard describes xorb {name} with {len(x.chunks)} chunks / "
                f"{x.unpacked_bytes} bytes; the stored xorb has {m.num_chunks} / "
                f"{m.unpacked_total}"
            )
        for i, c in enumerate(x.chunks):
            same = c.hash == m.hashes[i] and c.unpacked == m.unpacked_len(i)
            if not same or c.byte_start != m.unpacked_start(i):
                raise BadRequest(
                    f"The shard's entry for chunk {i} of xorb {name} does not match the stored xorb"
                )
        if x.bytes_on_disk not in (0, size):
            raise BadRequest(f"The shard says xorb {name} is {x.bytes_on_disk} bytes; {size} were uploaded")

    @staticmethod
    def _check_file(f: shard.FileInfo, metas: dict[str, XorbMeta]) -> int:
        name = to_hex(f.file_hash)
        if f.sha256 is None:
            raise BadRequest(f"File {name} has no metadata extension: its sha256 is required for Git repos")
        if f.verification is None:
            raise BadRequest(f"File {name} has no verification entries")
        leaves: list[tuple[bytes, int]] = []
        for k, (t, v) in enumerate(zip(f.terms, f.verification, strict=True)):
            m = metas[to_hex(t.xorb)]
            if t.end > m.num_chunks:
                raise BadRequest(
                    f"File {name}, term {k}: chunks [{t.start}, {t.end}) are outside xorb "
                    f"{to_hex(t.xorb)} ({m.num_chunks} chunks)"
                )
            if t.unpacked != m.range_unpacked(t.start, t.end):
                raise BadRequest(
                    f"File {name}, term {k}: {t.unpacked} bytes declared, the chunks hold "
                    f"{m.range_unpacked(t.start, t.end)}"
                )
            if hashing.verification_hash(m.hashes[t.start : t.end]) != v:
                raise BadRequest(f"File {name}, term {k}: the verification hash does not match the chunks")
            leaves += [(m.hashes[i], m.unpacked_len(i)) for i in range(t.start, t.end)]
        if hashing.file_hash(leaves) != f.file_hash:
            raise BadRequest(f"File {name}: the file hash does not match its reconstruction")
        return sum(n for _, n in leaves)

    def _sha256(self, terms: Sequence[StoredTerm], metas: dict[str, XorbMeta], size: int) -> str:
        sha = hashlib.sha256()
        if size:
            segs, skip = reconstruct.plan(terms, metas, 0, size - 1)
            for piece in reconstruct.stream(self.xorbs, segs, metas, skip, size):
                sha.update(piece)
        return sha.hexdigest()

    def _index_chunks(self, s: Session, sh: shard.Shard, metas: dict[str, XorbMeta]) -> None:
        """Record the chunks the global dedup API answers for: each file's first chunk and eligible ones."""
        want, starts = self._wanted_chunks(sh, metas)
        if not want:
            return
        rows = s.scalars(select(XetChunk).where(XetChunk.chunk_hash.in_(list(want))))
        have = {r.chunk_hash: r for r in rows}
        for ch, (xn, i, fh) in want.items():
            if ch in have:
                if ch in starts:  # a new version of a file: answer with the newest one's xorbs from now on
                    row = have[ch]
                    row.xorb_hash, row.chunk_index, row.file_hash = xn, i, fh
                continue
            self._insert(s, XetChunk(chunk_hash=ch, xorb_hash=xn, chunk_index=i, file_hash=fh))

    @staticmethod
    def _wanted_chunks(
        sh: shard.Shard, metas: dict[str, XorbMeta]
    ) -> tuple[dict[str, tuple[str, int, str | None]], set[str]]:
        """-> ({chunk: (xorb, chunk index, file)}, the files' first chunks) for _index_chunks."""
        want: dict[str, tuple[str, int, str | None]] = {}
        owner: dict[str, str] = {}
        starts: set[str] = set()
        for f in sh.files:
            if f.terms:
                t = f.terms[0]
                xn = to_hex(t.xorb)
                ch = to_hex(metas[xn].hashes[t.start])
                want[ch] = (xn, t.start, to_hex(f.file_hash))
                starts.add(ch)
            for t in f.terms:
                owner.setdefault(to_hex(t.xorb), to_hex(f.file_hash))
        for x in sh.xorbs:
            xn = to_hex(x.xorb)
            for i, h in enumerate(metas[xn].hashes):
                if hashing.dedup_eligible(h):
                    want.setdefault(to_hex(h), (xn, i, owner.get(xn)))
        return want, starts

    # ---- global dedup -----------------------------------------------------------------------------
    def dedup_shard(self, chunk: str) -> bytes | None:
        """A footer-carrying shard describing the xorb holding `chunk` (and its file's other xorbs), chunk
        hashes keyed with a fresh HMAC key: only a client that has a chunk's data can recognise it."""
        with self.db.session() as s:
            row = s.scalar(select(XetChunk).where(XetChunk.chunk_hash == chunk))
            if row is None:
                return None
            names = [row.xorb_hash]
            if row.file_hash:
                blob = s.scalar(select(XetFile.terms).where(XetFile.file_hash == row.file_hash))
                for t in unpack_terms(blob or b""):
                    if t.xorb not in names:
                        names.append(t.xorb)
            names = names[:DEDUP_SHARD_XORBS]
            metas = self.metas(s, names)
            sizes = self.xorb_sizes(s, names)
            stale = list(s.scalars(select(XetXorb.hash).where(XetXorb.hash.in_(names), _offer_unnoted())))
        self._note_offered(stale)
        cas = []
        for n in names:
            m = metas.get(n)
            if m is None:
                continue
            cas.append(
                CasInfo(
                    from_hex(n),
                    [CasChunk(h, m.unpacked_start(i), m.unpacked_len(i)) for i, h in enumerate(m.hashes)],
                    m.unpacked_total,
                    sizes[n],
                )
            )
        return shard.serialize(
            [], cas, footer=True, hmac_key=os.urandom(32), expiry=int(time.time()) + DEDUP_SHARD_TTL
        )

    def _note_offered(self, names: Sequence[str]) -> None:
        """Note that a dedup answer named these xorbs (`XetXorb.offered_at`, what `agora gc` keeps them for),
        in a transaction of its own; a note that cannot be written (a full disk, a locked database) is skipped
        with a warning: the answer is still given, and the xorb's upload time still protects it."""
        if not names:
            return
        try:
            with self.db.session() as s:
                s.execute(update(XetXorb).where(XetXorb.hash.in_(names)).values(offered_at=utcnow()))
        except SQLAlchemyError as exc:
            log.warning("could not note the dedup offer of %d xorb(s): %s", len(names), exc)

    # ---- files ------------------------------------------------------------------------------------
    def file_by_sha(self, s: Session, sha256: str) -> XetFile | None:
        return s.scalars(
            select(XetFile).where(XetFile.sha256 == sha256).order_by(XetFile.id).limit(1)
        ).first()

    def file_by_hash(self, s: Session, file_hash: str) -> XetFile | None:
        return s.scalar(select(XetFile).where(XetFile.file_hash == file_hash))

    def hashes_for(self, s: Session, shas: Sequence[str]) -> dict[str, str]:
        """sha256 -> Xet file hash, for the given LFS oids that are stored in Xet."""
        if not shas:
            return {}
        out: dict[str, str] = {}
        q = select(XetFile.sha256, XetFile.file_hash).where(XetFile.sha256.in_(set(shas)))
        q = q.order_by(XetFile.id)
        for sha, fh in s.execute(q).all():
            out.setdefault(sha, fh)
        return out

    def repo_file(self, s: Session, repo_id: int, file_hash: str) -> XetFile | None:
        """The Xet file if the repo may read it: its sha256 was registered for (or uploaded to) the repo."""
        xf = self.file_by_hash(s, file_hash)
        if (
            xf is None
            or s.scalar(select(LfsObject.id).where(LfsObject.repo_id == repo_id, LfsObject.oid == xf.sha256))
            is None
        ):
            return None
        return xf

    def plan(
        self, s: Session, xf: XetFile, first: int, last: int
    ) -> tuple[list[Segment], int, dict[str, XorbMeta]]:
        terms = unpack_terms(xf.terms)
        metas = self.metas(s, [t.xorb for t in terms])
        if len(metas) != len({t.xorb for t in terms}):
            raise NotFound(f"Xet file {xf.file_hash} references a xorb missing from storage")
        segs, skip = reconstruct.plan(terms, metas, first, last)
        return segs, skip, metas

    def read_sha_range(self, sha256: str, start: int, length: int) -> bytes | None:
        """Bytes [start, start+length) of the Xet file with this sha256 (small reads), None if not in Xet."""
        with self.db.session() as s:
            xf = self.file_by_sha(s, sha256)
            if xf is None:
                return None
            file_hash, size = xf.file_hash, xf.size
        last = min(start + length, size) - 1
        return b"".join(self.open_range(file_hash, start, last)) if last >= start else b""

    def open_range(self, file_hash: str, first: int, last: int) -> Iterator[bytes]:
        """The file's bytes [first, last] from the xorb store: a sync generator, iterate it in a thread."""
        with self.db.session() as s:
            xf = self.file_by_hash(s, file_hash)
            if xf is None:
                raise NotFound(f"Xet file {file_hash} does not exist")
            segs, skip, metas = self.plan(s, xf, first, last)
        return reconstruct.stream(self.xorbs, segs, metas, skip, last - first + 1)

    # ---- for the HTTP faces (api/xet.py, api/lfs.py): each in a session of its own ------------------------
    def sha_file(self, sha256: str) -> tuple[str, int] | None:
        """(file hash, size) of the Xet file with this sha256, None if not in Xet."""
        with self.db.session() as s:
            xf = self.file_by_sha(s, sha256)
            return (xf.file_hash, xf.size) if xf is not None else None

    def repo_file_size(self, repo_id: int, file_hash: str) -> int:
        """The size of a Xet file the repo may read (`repo_file`): NotFound otherwise."""
        with self.db.session() as s:
            xf = self.repo_file(s, repo_id, file_hash)
            if xf is None:
                raise NotFound(f"File {file_hash} not found")
            return xf.size

    def plan_range(
        self, file_hash: str, first: int, last: int
    ) -> tuple[list[Segment], int, dict[str, XorbMeta]]:
        """`plan` for the file's bytes [first, last]."""
        with self.db.session() as s:
            xf = self.file_by_hash(s, file_hash)
            if xf is None:
                raise NotFound(f"File {file_hash} not found")
            return self.plan(s, xf, first, last)
