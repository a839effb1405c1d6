"""A file's bytes from its reconstruction terms: plan which chunk ranges cover a byte range, then stream them.

Reading goes through the BlobStore interface (open, seek, read), a few MB of chunk records at a time, so
any file size streams in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .xorb import XorbError, XorbMeta, read_chunks

READ_BATCH = 4 * 1024 * 1024


class TermLike(Protocol):
    @property
    def xorb(self) -> str: ...  # hex string form
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def unpacked(self) -> int: ...


@dataclass(frozen=True)
class Segment:
    xorb: str  # hex string form
    start: int
    end: int
    unpacked: int


def plan(
    terms: Sequence[TermLike], metas: Mapping[str, XorbMeta], first: int, last: int
) -> tuple[list[Segment], int]:
    """Segments (terms trimmed to whole chunks) covering file bytes [first, last], and the bytes to skip."""
    segs: list[Segment] = []
    skip = 0
    pos = 0
    for t in terms:
        if pos > last:
            break
        if pos + t.unpacked <= first:
            pos += t.unpacked
            continue
        meta = metas[t.xorb]
        s, p = t.start, pos
        while s < t.end - 1 and p + meta.unpacked_len(s) <= first:
            p += meta.unpacked_len(s)
            s += 1
        if not segs:
            skip = max(0, first - p)
        e, q = s, p
        while e < t.end and q <= last:
            q += meta.unpacked_len(e)
            e += 1
        segs.append(Segment(t.xorb, s, e, q - p))
        pos += t.unpacked
    return segs, skip


def stream(
    store: object, segments: Sequence[Segment], metas: Mapping[str, XorbMeta], skip: int, length: int
) -> Iterator[bytes]:
    """Yield exactly `length` file bytes after skipping `skip` bytes of the first segment."""
    left = length
    for seg in segments:
        if left <= 0:
            break
        meta = metas[seg.xorb]
        with store.open(seg.xorb) as fh:  # type: ignore[attr-defined]
            i = seg.start
            while i < seg.end and left > 0:
                j = i + 1
                while j < seg.end and meta.ends[j] - meta.start(i) <= READ_BATCH:
                    j += 1
                fh.seek(meta.start(i))
                want = meta.ends[j - 1] - meta.start(i)
                records = fh.read(want)
                if len(records) != want:
                    raise XorbError(f"xorb {seg.xorb} is shorter than its metadata says")
                for raw in read_chunks(records, j - i):
                    if skip >= len(raw):
                        skip -= len(raw)
                        continue
                    piece = raw[skip : skip + left] if skip or len(raw) - skip > left else raw
                    skip = 0
                    left -= len(piece)
                    yield piece
                    if left <= 0:
                        break
                i = j
    if left > 0:
        raise XorbError(f"reconstruction ended {left} bytes short")
