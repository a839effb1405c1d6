"""The MDB shard format: header, file info section, CAS (xorb) info section, optional footer.

Every record is 48 bytes, integers little-endian. Sections end with a bookend record (hash all 0xFF).
The parser is bounded: it refuses anything larger than MAX_SHARD, checks every count against the bytes
left before reading, and never trusts an offset it has not checked.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .hashing import BOOKEND_HASH, ZERO_HASH, keyed

MAX_SHARD = 64 * 1024 * 1024
RECORD = 48
HEADER_TAG = bytes([ord(c) for c in "HFRepoMetaData"]) + bytes(
    [0, 85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169]
)
HEADER_VERSION = 2
FOOTER_VERSION = 1
FOOTER_LEN = 200
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
_BOOKEND = BOOKEND_HASH + bytes(16)
_FILE_HDR = struct.Struct("<32sII8x")
_TERM = struct.Struct("<32sIIII")
_HASH_ONLY = struct.Struct("<32s16x")
_CAS_HDR = struct.Struct("<32sIIII")
_CAS_CHUNK = struct.Struct("<32sIIII")
_FOOTER = struct.Struct("<QQQ" + "Q" * 6 + "32sQQ" + "Q" * 6 + "QQQQ")
assert len(HEADER_TAG) == 32 and _FOOTER.size == FOOTER_LEN


class ShardError(ValueError):
    """Malformed shard bytes."""


@dataclass(frozen=True)
class Term:
    xorb: bytes
    unpacked: int
    start: int  # chunk index, inclusive
    end: int  # chunk index, exclusive
    flags: int = 0


@dataclass
class FileInfo:
    file_hash: bytes
    terms: list[Term]
    verification: list[bytes] | None = None
    sha256: bytes | None = None
    flags: int = field(default=0, compare=False)

    @property
    def size(self) -> int:
        return sum(t.unpacked for t in self.terms)


@dataclass(frozen=True)
class CasChunk:
    hash: bytes
    byte_start: int  # offset of the chunk in the xorb's unpacked contents
    unpacked: int
    flags: int = 0


@dataclass
class CasInfo:
    xorb: bytes
    chunks: list[CasChunk]
    unpacked_bytes: int
    bytes_on_disk: int
    flags: int = 0


@dataclass
class Footer:
    file_info_offset: int
    cas_info_offset: int
    hmac_key: bytes
    created: int
    expiry: int
    footer_offset: int


@dataclass
class Shard:
    files: list[FileInfo] = field(default_factory=list)
    xorbs: list[CasInfo] = field(default_factory=list)
    footer: Footer | None = None


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.mv = memoryview(data)
        self.pos = 0
        self.end = end

    def left(self) -> int:
        return self.end - self.pos

    def take(self, s: struct.Struct, what: str) -> tuple[Any, ...]:
        if self.left() < s.size:
            raise ShardError(f"shard truncated in {what} at byte {self.pos}")
        v = s.unpack_from(self.mv, self.pos)
        self.pos += s.size
        return v

    def need_records(self, n: int, what: str) -> None:
        if n * RECORD > self.left():
            raise ShardError(f"{what} declares {n} entries but only {self.left()} bytes remain")


def parse(data: bytes) -> Shard:
    footer_size = _header(data)
    r = _Reader(data, len(data) - footer_size)
    r.pos = RECORD
    shard = Shard(files=_file_section(r), xorbs=_cas_section(r))
    if footer_size == 0:
        if r.pos != len(data):
            raise ShardError(f"{len(data) - r.pos} unexpected bytes after the CAS info section")
        return shard
    shard.footer = _footer(data, r.pos)
    return shard


def _header(data: bytes) -> int:
    """Check the size, magic tag and header of a shard; -> the footer's size (0 or FOOTER_LEN)."""
    if len(data) > MAX_SHARD:
        raise ShardError(f"shard larger than {MAX_SHARD} bytes")
    if len(data) < RECORD or data[:32] != HEADER_TAG:
        raise ShardError("not a shard: wrong magic tag")
    version, footer_size = struct.unpack_from("<QQ", data, 32)
    if version != HEADER_VERSION:
        raise ShardError(f"unsupported shard header version {version}")
    if footer_size not in (0, FOOTER_LEN) or footer_size > len(data) - RECORD:
        raise ShardError(f"invalid shard footer size {footer_size}")
    return int(footer_size)


def _file_section(r: _Reader) -> list[FileInfo]:
    files: list[FileInfo] = []
    while True:
        fhash, flags, n = r.take(_FILE_HDR, "a file header")
        if fhash == BOOKEND_HASH:
            return files
        files.append(_file_info(r, fhash, flags, n))


def _file_info(r: _Reader, fhash: bytes, flags: int, n: int) -> FileInfo:
    """The rest of one file info block: its terms, then verification entries and sha256 when flagged."""
    with_ver = bool(flags & FLAG_VERIFICATION)
    with_ext = bool(flags & FLAG_METADATA_EXT)
    r.need_records(n * (2 if with_ver else 1) + (1 if with_ext else 0), "a file info block")
    terms = []
    for _ in range(n):
        xh, tflags, unpacked, start, end = r.take(_TERM, "a file term")
        if end <= start:
            raise ShardError(f"a file term has an empty chunk range [{start}, {end})")
        terms.append(Term(xh, unpacked, start, end, tflags))
    ver = [r.take(_HASH_ONLY, "a verification entry")[0] for _ in range(n)] if with_ver else None
    sha = r.take(_HASH_ONLY, "a metadata extension")[0] if with_ext else None
    return FileInfo(fhash, terms, ver, sha, flags)


def _cas_section(r: _Reader) -> list[CasInfo]:
    xorbs: list[CasInfo] = []
    while True:
        xh, xflags, n, unpacked, on_disk = r.take(_CAS_HDR, "a xorb header")
        if xh == BOOKEND_HASH:
            return xorbs
        r.need_records(n, "a xorb info block")
        chunks = []
        for _ in range(n):
            ch, start, size, cflags, _unused = r.take(_CAS_CHUNK, "a xorb chunk entry")
            chunks.append(CasChunk(ch, start, size, cflags))
        xorbs.append(CasInfo(xh, chunks, unpacked, on_disk, xflags))


def _footer(data: bytes, sections_end: int) -> Footer:
    """The footer at the end of `data`, checked against the layout the sections (ending at
    `sections_end`) had."""
    v = _FOOTER.unpack_from(data, len(data) - FOOTER_LEN)
    if v[0] != FOOTER_VERSION:
        raise ShardError(f"unsupported shard footer version {v[0]}")
    f = Footer(
        file_info_offset=v[1],
        cas_info_offset=v[2],
        hmac_key=v[9],
        created=v[10],
        expiry=v[11],
        footer_offset=v[-1],
    )
    if (
        f.footer_offset != len(data) - FOOTER_LEN
        or f.file_info_offset != RECORD
        or not (RECORD <= f.cas_info_offset <= sections_end)
    ):
        raise ShardError("shard footer offsets do not match its layout")
    return f


def _file_bytes(f: FileInfo) -> bytes:
    flags = (FLAG_VERIFICATION if f.verification is not None else 0) | (
        FLAG_METADATA_EXT if f.sha256 is not None else 0
    )
    out = [_FILE_HDR.pack(f.file_hash, flags, len(f.terms))]
    out += [_TERM.pack(t.xorb, t.flags, t.unpacked, t.start, t.end) for t in f.terms]
    if f.verification is not None:
        if len(f.verification) != len(f.terms):
            raise ValueError("one verification hash per term")
        out += [_HASH_ONLY.pack(h) for h in f.verification]
    if f.sha256 is not None:
        out.append(_HASH_ONLY.pack(f.sha256))
    return b"".join(out)


def _xorb_bytes(x: CasInfo, key: bytes | None) -> bytes:
    out = [_CAS_HDR.pack(x.xorb, x.flags, len(x.chunks), x.unpacked_bytes, x.bytes_on_disk)]
    for c in x.chunks:
        h = keyed(c.hash, key) if key else c.hash
        out.append(_CAS_CHUNK.pack(h, c.byte_start, c.unpacked, c.flags, 0))
    return b"".join(out)


def serialize(
    files: Sequence[FileInfo] = (),
    xorbs: Sequence[CasInfo] = (),
    footer: bool = False,
    hmac_key: bytes | None = None,
    expiry: int | None = None,
) -> bytes:
    """A shard. With `hmac_key`, chunk hashes in the CAS section are keyed (global dedup answers)."""
    parts = [HEADER_TAG, struct.pack("<QQ", HEADER_VERSION, FOOTER_LEN if footer else 0)]
    parts += [_file_bytes(f) for f in files]
    parts.append(_BOOKEND)
    cas_offset = sum(map(len, parts))
    parts += [_xorb_bytes(x, hmac_key) for x in xorbs]
    parts.append(_BOOKEND)
    body = b"".join(parts)
    if not footer:
        return body
    end = len(body)
    now = int(time.time())
    stored_on_disk = sum(x.bytes_on_disk for x in xorbs)
    stored = sum(x.unpacked_bytes for x in xorbs)
    materialized = sum(f.size for f in files)
    tail = _FOOTER.pack(
        FOOTER_VERSION,
        RECORD,
        cas_offset,
        end,
        0,
        end,
        0,
        end,
        0,
        hmac_key or ZERO_HASH,
        now,
        expiry if expiry is not None else 0,
        0,
        0,
        0,
        0,
        0,
        0,
        stored_on_disk,
        materialized,
        stored,
        end,
    )
    return body + tail
