"""Git LFS pointer files: the one writer and the one parser.

A pointer is the small git blob that stands for a file stored outside git (spec v1):

    version https://git-lfs.github.com/spec/v1
    ext-0-name sha256:...      (optional extension lines)
    oid sha256:<64 hex>
    size <bytes>

Every reader of pointers uses `parse_pointer`: the git store (what a file is, what `/resolve` serves), diffs,
the export and GC walks, and the push rules. A pointer with `ext-` lines names the object git-lfs stored
*after* its clean extensions ran; turning it back into the file needs the smudge extensions, which this
server cannot run. `Pointer.extensions` lists them so that the push rules refuse such pointers; everywhere
else a pointer names its object, with or without extensions.

This module imports nothing but the standard library: the pre-receive hook reads pointers too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LFS_HEADER = b"version https://git-lfs.github.com/spec/v1"
POINTER_MAX = 1024  # larger blobs are never pointers (git-lfs' own limit)
_POINTER = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\n((?:ext-[^\n]*\n)*)"
    rb"oid sha256:([0-9a-f]{64})\nsize (\d+)\n"
)


@dataclass(frozen=True)
class Pointer:
    oid: str  # sha256 of the stored object
    size: int
    extensions: tuple[str, ...] = ()  # the `ext-N-name sha256:...` lines, as written


def lfs_pointer(oid: str, size: int) -> bytes:
    """The pointer text this server writes (no extensions)."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def parse_pointer(data: bytes) -> Pointer | None:
    """The pointer `data` holds, or None when it is not one."""
    if len(data) > POINTER_MAX or not data.startswith(LFS_HEADER):
        return None
    m = _POINTER.match(data)
    if m is None:
        return None
    ext = tuple(line.decode("utf-8", "replace") for line in m.group(1).splitlines())
    return Pointer(m.group(2).decode(), int(m.group(3)), ext)
