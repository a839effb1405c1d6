"""Object sizes a client declares (LFS batch, commit lines, preupload): checked before anything is promised.

JSON gives Python arbitrary integers and `true` (bool is an int subclass), so a declared size is accepted
only as a plain integer in 0..max_size. Past 2^63 - 1 (what no store or database column can hold) it is a
malformed request (400); within that range but over the configured maximum it is too large (413).
"""

from __future__ import annotations

from ..errors import BadRequest, TooLarge

MAX_INT64 = 2**63 - 1
# S3 accepts at most 10,000 parts per multipart upload; ours follow the same rule.
MAX_PARTS = 10_000
MIB = 1024 * 1024
# The Hub's rule: a file of LFS_SIZE bytes or more is always stored with LFS (API commits, web uploads, and
# pushes, which refuse larger plain blobs); a binary file over BINARY_LFS_SIZE goes to LFS too.
LFS_SIZE = 10 * MIB
BINARY_LFS_SIZE = 1 * MIB


def check_size(value: object, max_size: int, what: str = "size") -> int:
    if type(value) is not int:
        raise BadRequest(f"'{what}' must be a non-negative integer, got {type(value).__name__}")
    if value < 0 or value > MAX_INT64:
        raise BadRequest(f"'{what}' must be an integer between 0 and {MAX_INT64}")
    if value > max_size:
        raise TooLarge(
            f"'{what}' of {value} bytes exceeds the largest object this Hub accepts ({max_size} bytes)"
        )
    return value


def part_size(size: int, base: int, min_size: int = 0) -> int:
    """The multipart part size for an object of `size` bytes: `base`, or larger (whole MiB) so that the
    upload needs at most MAX_PARTS parts; never smaller than `min_size`."""
    chunk = max(base, min_size, 1)
    if -(-size // chunk) > MAX_PARTS:
        chunk = -(-size // MAX_PARTS)
        chunk = -(-chunk // MIB) * MIB
    return chunk
