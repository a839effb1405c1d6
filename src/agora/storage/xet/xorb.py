"""The xorb format: a run of [8-byte chunk header | compressed chunk] records, then an optional footer.

Chunk header: version u8 (0), compressed size u24 LE, compression scheme u8, uncompressed size u24 LE.
Schemes: 0 none, 1 LZ4 (frame format), 2 byte-grouping-4 then LZ4.
Footer (XorbObjectInfo, written by the reference client): "XETBLOB" v1, the xorb hash, the chunk hashes,
the chunk boundary offsets, a fixed tail, then its own length as the final u32. A reader finds the chunk
run's end where a record no longer starts with version byte 0.

`XorbParser` is incremental: the upload route feeds it the body as it streams in, so a 64 MiB xorb is
verified (every chunk decompressed and hashed, the xorb hash recomputed) without being held in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import lz4.frame

from . import hashing

HEADER_LEN = 8
MAX_CHUNK = 128 * 1024  # uncompressed
MAX_STORED_CHUNK = 2 * MAX_CHUNK  # compressed payload bound (as the reference reader enforces)
MAX_XORB = 64 * 1024 * 1024 + 4 * 1024 * 1024  # 64 MiB of chunk records, plus headers and the footer
SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4 = 0, 1, 2
FOOTER_IDENT = b"XETBLOB"
HASHES_IDENT = b"XBLBHSH"
BOUNDARIES_IDENT = b"XBLBBND"
_META = struct.Struct("<32sII")  # per chunk: hash, stored end offset, unpacked end offset


class XorbError(ValueError):
    """Malformed or inconsistent xorb data; the message says what and where."""


@dataclass(frozen=True)
class XorbMeta:
    """What Agora keeps about a stored xorb: per chunk its hash and where it ends, packed and unpacked."""

    hashes: tuple[bytes, ...]
    ends: tuple[int, ...]  # end offset of chunk i's record (header + payload) in the xorb
    unpacked_ends: tuple[int, ...]

    @property
    def num_chunks(self) -> int:
        return len(self.hashes)

    def start(self, i: int) -> int:
        return self.ends[i - 1] if i else 0

    def unpacked_start(self, i: int) -> int:
        return self.unpacked_ends[i - 1] if i else 0

    def unpacked_len(self, i: int) -> int:
        return self.unpacked_ends[i] - self.unpacked_start(i)

    def range_unpacked(self, start: int, end: int) -> int:
        return self.unpacked_start(end) - self.unpacked_start(start) if end > start else 0

    @property
    def unpacked_total(self) -> int:
        return self.unpacked_ends[-1] if self.unpacked_ends else 0

    def pack(self) -> bytes:
        return b"".join(
            _META.pack(h, e, u) for h, e, u in zip(self.hashes, self.ends, self.unpacked_ends, strict=False)
        )

    @classmethod
    def unpack(cls, blob: bytes) -> XorbMeta:
        if len(blob) % _META.size:
            raise XorbError("corrupt xorb metadata record")
        rows = list(_META.iter_unpack(blob))
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows))

    @property
    def hash(self) -> bytes:
        return hashing.xorb_hash((h, self.unpacked_len(i)) for i, h in enumerate(self.hashes))


@dataclass(frozen=True)
class ChunkHeader:
    version: int
    stored: int  # payload bytes after the header
    scheme: int
    size: int  # uncompressed bytes


def parse_header(b: bytes | memoryview) -> ChunkHeader:
    if len(b) < HEADER_LEN:
        raise XorbError("truncated chunk header")
    version = b[0]
    stored = int.from_bytes(b[1:4], "little")
    scheme = b[4]
    size = int.from_bytes(b[5:8], "little")
    if version != 0:
        raise XorbError(f"unsupported chunk header version {version}")
    if scheme not in (SCHEME_NONE, SCHEME_LZ4, SCHEME_BG4_LZ4):
        raise XorbError(f"unknown chunk compression scheme {scheme}")
    if size == 0 or size > MAX_CHUNK:
        raise XorbError(f"chunk uncompressed size {size} outside 1..{MAX_CHUNK}")
    if stored == 0 or stored > MAX_STORED_CHUNK:
        raise XorbError(f"chunk compressed size {stored} outside 1..{MAX_STORED_CHUNK}")
    if scheme == SCHEME_NONE and stored != size:
        raise XorbError("an uncompressed chunk must have equal compressed and uncompressed sizes")
    return ChunkHeader(version, stored, scheme, size)


def _lz4_decompress(payload: bytes | memoryview, size: int) -> bytes:
    d = lz4.frame.LZ4FrameDecompressor()
    try:
        out: bytes = d.decompress(bytes(payload), max_length=size + 1)
    except RuntimeError as e:
        raise XorbError(f"invalid LZ4 frame: {e}") from None
    if len(out) != size or not d.eof:
        raise XorbError(f"LZ4 chunk does not decompress to the {size} bytes its header declares")
    return out


def bg4_join(grouped: bytes, n: int) -> bytes:
    """Undo byte grouping: the four position groups, concatenated, back to interleaved bytes."""
    q, r = divmod(n, 4)
    sizes = [q + (r > 0), q + (r > 1), q + (r > 2), q]
    out = bytearray(n)
    pos = 0
    for k, sz in enumerate(sizes):
        out[k::4] = grouped[pos : pos + sz]
        pos += sz
    return bytes(out)


def bg4_split(data: bytes) -> bytes:
    return data[0::4] + data[1::4] + data[2::4] + data[3::4]


def decompress(header: ChunkHeader, payload: bytes | memoryview) -> bytes:
    if len(payload) != header.stored:
        raise XorbError("truncated chunk payload")
    if header.scheme == SCHEME_NONE:
        return bytes(payload)
    raw = _lz4_decompress(payload, header.size)
    if header.scheme == SCHEME_BG4_LZ4:
        raw = bg4_join(raw, header.size)
    return raw


def compress_chunk(data: bytes, scheme: int) -> bytes:
    """One serialized chunk record (header + payload). Used by tests and tools, not by the server."""
    if scheme == SCHEME_NONE:
        payload = data
    elif scheme == SCHEME_LZ4:
        payload = lz4.frame.compress(data)
    elif scheme == SCHEME_BG4_LZ4:
        payload = lz4.frame.compress(bg4_split(data))
    else:
        raise ValueError(scheme)
    return (
        bytes([0])
        + len(payload).to_bytes(3, "little")
        + bytes([scheme])
        + len(data).to_bytes(3, "little")
        + payload
    )


def serialize(
    chunks: Sequence[bytes], schemes: Sequence[int] | int = SCHEME_LZ4, footer: bool = True
) -> bytes:
    """A complete xorb from raw chunk contents (our own writer, for tests and tools)."""
    if isinstance(schemes, int):
        schemes = [schemes] * len(chunks)
    records = [compress_chunk(c, s) for c, s in zip(chunks, schemes, strict=False)]
    body = b"".join(records)
    if not footer:
        return body
    hashes = [hashing.chunk_hash(c) for c in chunks]
    ends, uends, e, u = [], [], 0, 0
    for rec, c in zip(records, chunks, strict=True):
        e += len(rec)
        u += len(c)
        ends.append(e)
        uends.append(u)
    n = len(chunks)
    xh = hashing.xorb_hash(zip(hashes, map(len, chunks), strict=True))
    head = FOOTER_IDENT + bytes([1]) + xh
    hash_sec = HASHES_IDENT + bytes([0]) + struct.pack("<I", n) + b"".join(hashes)
    bnd_sec = (
        BOUNDARIES_IDENT
        + bytes([1])
        + struct.pack("<I", n)
        + struct.pack(f"<{n}I", *ends)
        + struct.pack(f"<{n}I", *uends)
    )
    tail_len = 12 + 16
    tail = struct.pack("<III", n, len(hash_sec) + len(bnd_sec) + tail_len, len(bnd_sec) + tail_len)
    tail += bytes(16)
    info = head + hash_sec + bnd_sec + tail
    return body + info + struct.pack("<I", len(info))


class XorbParser:
    """Feed a xorb's bytes in any slicing; `finish()` returns its verified metadata or raises XorbError."""

    def __init__(self, max_size: int = MAX_XORB) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._off = 0  # read position in _buf
        self._pos = 0  # absolute offset of _buf[_off]
        self._footer: bytearray | None = None
        self._total = 0
        self._hashes: list[bytes] = []
        self._ends: list[int] = []
        self._uends: list[int] = []
        self._unpacked = 0

    def feed(self, data: bytes) -> None:
        self._total += len(data)
        if self._total > self.max_size:
            raise XorbError(f"xorb larger than {self.max_size} bytes")
        if self._footer is not None:
            self._footer += data
            return
        self._buf += data
        self._drain()

    def _drain(self) -> None:
        buf = self._buf
        while self._off < len(buf):
            if buf[self._off] != 0:  # not a chunk record: the footer starts here
                self._footer = bytearray(buf[self._off :])
                self._buf = bytearray()
                self._off = 0
                return
            if len(buf) - self._off < HEADER_LEN:
                break
            hdr = parse_header(memoryview(buf)[self._off : self._off + HEADER_LEN])
            need = HEADER_LEN + hdr.stored
            if len(buf) - self._off < need:
                break
            raw = decompress(hdr, memoryview(buf)[self._off + HEADER_LEN : self._off + need])
            self._hashes.append(hashing.chunk_hash(raw))
            self._pos += need
            self._unpacked += len(raw)
            self._ends.append(self._pos)
            self._uends.append(self._unpacked)
            self._off += need
        if self._off > 1 << 20 or self._off == len(buf):
            del buf[: self._off]
            self._off = 0

    def finish(self) -> XorbMeta:
        if self._footer is None and self._off < len(self._buf):
            raise XorbError(f"xorb truncated inside the chunk record at offset {self._pos}")
        if not self._hashes:
            raise XorbError("a xorb must hold at least one chunk")
        meta = XorbMeta(tuple(self._hashes), tuple(self._ends), tuple(self._uends))
        if self._footer is not None:
            _check_footer(bytes(self._footer), meta)
        return meta


def _check_footer(f: bytes, meta: XorbMeta) -> None:
    if _footer_version(f, meta) == 0:
        return  # legacy layout: the hash check in _footer_version is all we rely on
    _check_footer_sections(f, meta)


def _footer_version(f: bytes, meta: XorbMeta) -> int:
    """The version of a footer whose ident, length and xorb hash are right (XorbError otherwise)."""
    if len(f) < 4 + 8:
        raise XorbError("truncated xorb footer")
    (info_len,) = struct.unpack_from("<I", f, len(f) - 4)
    if info_len != len(f) - 4:
        raise XorbError("xorb footer length does not match the bytes after the last chunk")
    if f[:7] != FOOTER_IDENT:
        raise XorbError("bytes after the last chunk are neither a chunk header nor a xorb footer")
    version = f[7]
    if version not in (0, 1) or len(f) < 40:
        raise XorbError(f"unsupported xorb footer version {version}")
    if f[8:40] != meta.hash:
        raise XorbError("the xorb footer names a different xorb hash than its chunks produce")
    return version


def _check_footer_sections(f: bytes, meta: XorbMeta) -> None:
    """A version 1 footer's sections (chunk hashes, boundaries, counts) describe the chunks."""
    n = meta.num_chunks
    p = 40
    want = 40 + 12 + 32 * n + 12 + 8 * n + 12 + 16 + 4
    if len(f) != want:
        raise XorbError(f"xorb footer is {len(f)} bytes, expected {want} for {n} chunks")
    if f[p : p + 7] != HASHES_IDENT or f[p + 7] != 0 or struct.unpack_from("<I", f, p + 8)[0] != n:
        raise XorbError("malformed xorb footer hash section")
    p += 12
    if f[p : p + 32 * n] != b"".join(meta.hashes):
        raise XorbError("xorb footer chunk hashes do not match the chunks")
    p += 32 * n
    if f[p : p + 7] != BOUNDARIES_IDENT or f[p + 7] != 1 or struct.unpack_from("<I", f, p + 8)[0] != n:
        raise XorbError("malformed xorb footer boundary section")
    p += 12
    if list(struct.unpack_from(f"<{n}I", f, p)) != list(meta.ends):
        raise XorbError("xorb footer chunk boundaries do not match the chunks")
    p += 4 * n
    if list(struct.unpack_from(f"<{n}I", f, p)) != list(meta.unpacked_ends):
        raise XorbError("xorb footer unpacked offsets do not match the chunks")
    p += 4 * n
    if struct.unpack_from("<I", f, p)[0] != n:
        raise XorbError("xorb footer chunk counts disagree")


def parse(data: bytes) -> XorbMeta:
    p = XorbParser()
    p.feed(data)
    return p.finish()


def read_chunks(records: bytes | memoryview, count: int) -> Iterable[bytes]:
    """Decode `count` consecutive chunk records from a byte range of a xorb."""
    mv = memoryview(records)
    off = 0
    for _ in range(count):
        hdr = parse_header(mv[off : off + HEADER_LEN])
        end = off + HEADER_LEN + hdr.stored
        if end > len(mv):
            raise XorbError("xorb range ends inside a chunk")
        yield decompress(hdr, mv[off + HEADER_LEN : end])
        off = end
