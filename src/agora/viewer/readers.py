"""The guards a split's data files pass before the `datasets` builder reads them (builders.py `prepare`).

A row larger than the block size is an error that names the file, not an out-of-memory. Compressed inputs
(.gz, .bz2, .zst, .xz, .lz4) are decompressed as a stream; zip archives are read member by member through
a guard that stops a zip bomb (an expansion ratio and an absolute size limit).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn

import pyarrow as pa

from .discovery import module_extensions

COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz", ".lz4": "lz4"}


class DataError(Exception):
    """Bad input data; the message is shown on the split."""


@dataclass
class Limits:
    block_size: int = 16 * 1024 * 1024  # the largest row we accept, in bytes of input
    max_uncompressed: int = 8 * 1024**3  # per archive member or compressed stream
    max_ratio: int = 200  # a larger expansion than this is treated as a zip bomb
    batch_rows: int = 10_000


@dataclass
class Input:
    path: str  # repo path (names the file in errors)
    local: str  # where the bytes are on this machine


class _Guard(io.RawIOBase):
    """A raw stream that passes the bytes of `inner` through `_admit`, which may refuse them. The refusal
    is kept in `error` too: pyarrow's readers report it as a generic error, _guard_error finds it again."""

    inner: Any
    error: DataError | None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.inner.read(len(b))
        n = len(data)
        self._admit(data)
        b[:n] = data
        return n

    def _admit(self, data: bytes) -> None:
        raise NotImplementedError

    def _refuse(self, message: str) -> NoReturn:
        self.error = DataError(message)
        raise self.error


class GuardedStream(_Guard):
    """A decompressing stream that refuses to expand past a size and a ratio (zip bombs)."""

    def __init__(self, inner: BinaryIO, compressed: int, limits: Limits, name: str) -> None:
        self.inner, self.compressed, self.limits, self.name = inner, max(compressed, 1), limits, name
        self.total = 0
        self.error = None

    def _admit(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self.limits.max_uncompressed:
            self._refuse(f"{self.name} expands to more than {self.limits.max_uncompressed} bytes: refused")
        if self.total > 64 * 1024 * 1024 and self.total > self.compressed * self.limits.max_ratio:
            self._refuse(
                f"{self.name} expands more than {self.limits.max_ratio}x "
                f"({self.compressed} compressed bytes): refused as a likely zip bomb"
            )


class LineGuard(_Guard):
    """Passes bytes through, failing once a line (a row, for text formats) grows past `limit` bytes.

    pyarrow's JSON reader grows its block to fit an oversized row, so without this one 2 GB line would be
    held in memory whole; here it stops at the limit with a message that names the file.
    """

    def __init__(self, inner: Any, limit: int | None, name: str) -> None:
        self.inner, self.limit, self.name = inner, limit, name
        self.run = 0
        self.error = None

    def _admit(self, data: bytes) -> None:
        n = len(data)
        if self.limit is not None and n:
            nl = data.find(b"\n")
            if nl == -1:
                self.run += n
            else:
                self.run += nl
                if self.run <= self.limit:
                    self.run = n - data.rfind(b"\n") - 1
            if self.run > self.limit:
                self._refuse(
                    f"{self.name}: a row is larger than {self.limit // 2**20} MB, the largest "
                    "row the viewer reads"
                )


def _suffixes(name: str) -> list[str]:
    return ["." + s.lower() for s in name.rsplit("/", 1)[-1].split(".")[1:]]


def open_stream(inp: Input, limits: Limits) -> io.BufferedReader:
    """The decompressed byte stream of one (non-zip) data file, behind the row-size guard."""
    import os

    sfx = _suffixes(inp.path)
    comp = COMPRESSION.get(sfx[-1]) if sfx else None
    raw: Any = open(inp.local, "rb", buffering=0)
    if comp is not None:
        raw = io.BufferedReader(
            GuardedStream(
                pa.input_stream(inp.local, compression=comp), os.path.getsize(inp.local), limits, inp.path
            ),
            1024 * 1024,
        )
    return io.BufferedReader(LineGuard(raw, limits.block_size, inp.path), 1024 * 1024)


def zip_members(inp: Input, module: str, limits: Limits) -> Iterator[tuple[str, io.BufferedReader]]:
    exts = module_extensions(module) - {".zip"}
    try:
        zf = zipfile.ZipFile(inp.local)
    except zipfile.BadZipFile as e:
        raise DataError(f"{inp.path} is not a valid zip archive: {e}") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not any(s in exts for s in _suffixes(info.filename)):
                continue
            name = f"{inp.path}::{info.filename}"
            if info.file_size > limits.max_uncompressed or (
                info.file_size > 64 * 1024 * 1024
                and info.file_size > max(info.compress_size, 1) * limits.max_ratio
            ):
                raise DataError(
                    f"{name} expands to {info.file_size} bytes from {info.compress_size}: refused as "
                    "a likely zip bomb"
                )
            with zf.open(info) as fh:
                inner = io.BufferedReader(GuardedStream(fh, info.compress_size, limits, name), 1024 * 1024)  # type: ignore[arg-type]
                yield name, io.BufferedReader(LineGuard(inner, limits.block_size, name), 1024 * 1024)


def streams(inputs: list[Input], module: str, limits: Limits) -> Iterator[tuple[str, io.BufferedReader]]:
    for inp in inputs:
        if _suffixes(inp.path)[-1:] == [".zip"]:
            yield from zip_members(inp, module, limits)
        else:
            with open_stream(inp, limits) as stream:
                yield inp.path, stream


def _guard_error(stream: Any) -> DataError | None:
    """Our own error, when it surfaced through pyarrow's reader as a generic one."""
    raw = getattr(stream, "raw", None)
    for _ in range(6):
        if raw is None:
            return None
        if getattr(raw, "error", None) is not None:
            return raw.error
        raw = getattr(raw, "inner", None)
        raw = getattr(raw, "raw", raw)
    return None
