"""Xet hashes: keyed blake3 over chunks, the aggregated (merkle) hash of xorbs and files, term verification.

A hash is 32 raw bytes. Its string form (URLs, JSON, headers, and the text hashed inside internal nodes)
reads the 32 bytes as four little-endian u64 words and prints each as 16 hex digits: every 8-byte group
is byte-reversed. `to_hex` / `from_hex` convert between the two forms; nothing else should.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from blake3 import blake3

DATA_KEY = bytes(
    [
        102,
        151,
        245,
        119,
        91,
        149,
        80,
        222,
        49,
        53,
        203,
        172,
        165,
        151,
        24,
        28,
        157,
        228,
        33,
        16,
        155,
        235,
        43,
        88,
        180,
        208,
        176,
        75,
        147,
        173,
        242,
        41,
    ]
)
INTERNAL_NODE_KEY = bytes(
    [
        1,
        126,
        197,
        199,
        165,
        71,
        41,
        150,
        253,
        148,
        102,
        102,
        180,
        138,
        2,
        230,
        93,
        221,
        83,
        111,
        55,
        199,
        109,
        210,
        248,
        99,
        82,
        230,
        74,
        83,
        113,
        63,
    ]
)
VERIFICATION_KEY = bytes(
    [
        127,
        24,
        87,
        214,
        206,
        86,
        237,
        102,
        18,
        127,
        249,
        19,
        231,
        165,
        195,
        243,
        164,
        205,
        38,
        213,
        181,
        219,
        73,
        230,
        65,
        36,
        152,
        127,
        40,
        251,
        148,
        195,
    ]
)
ZERO_KEY = bytes(32)
ZERO_HASH = bytes(32)
BOOKEND_HASH = b"\xff" * 32

HASH_LEN = 32
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Aggregation tree: a group closes after a node whose hash is 0 mod 4, holding 2..9 nodes.
_BRANCHING = 4
_MAX_GROUP = 2 * _BRANCHING + 1


def to_hex(h: bytes) -> str:
    """32 raw bytes -> the 64-char string form (each 8-byte word reversed)."""
    if len(h) != HASH_LEN:
        raise ValueError("a Xet hash is 32 bytes")
    return h[7::-1].hex() + h[15:7:-1].hex() + h[23:15:-1].hex() + h[31:23:-1].hex()


def from_hex(s: str) -> bytes:
    """The 64-char string form -> 32 raw bytes; ValueError if malformed."""
    s = s.lower()
    if not HEX64.match(s):
        raise ValueError(f"not a Xet hash string: {s[:80]!r}")
    raw = bytes.fromhex(s)
    return raw[7::-1] + raw[15:7:-1] + raw[23:15:-1] + raw[31:23:-1]


def _last_word(h: bytes) -> int:
    return int.from_bytes(h[24:32], "little")


def chunk_hash(data: bytes | memoryview) -> bytes:
    return blake3(data, key=DATA_KEY).digest()


def keyed(h: bytes, key: bytes) -> bytes:
    """The HMAC the global dedup shard applies to chunk hashes (a blake3 keyed hash)."""
    return blake3(h, key=key).digest()


def _merge(group: Sequence[tuple[bytes, int]]) -> tuple[bytes, int]:
    text = "".join(f"{to_hex(h)} : {n}\n" for h, n in group)
    return blake3(text.encode(), key=INTERNAL_NODE_KEY).digest(), sum(n for _, n in group)


def _cut(nodes: Sequence[tuple[bytes, int]], start: int) -> int:
    """End (exclusive) of the group that starts at `start`."""
    left = len(nodes) - start
    if left <= 2:
        return len(nodes)
    end = start + min(_MAX_GROUP, left)
    for i in range(start + 2, end):
        if _last_word(nodes[i][0]) % _BRANCHING == 0:
            return i + 1
    return end


def aggregated_hash(nodes: Iterable[tuple[bytes, int]]) -> bytes:
    """Root of the aggregation tree over (chunk hash, chunk length) leaves; zeros when empty."""
    level = list(nodes)
    if not level:
        return ZERO_HASH
    while len(level) > 1:
        nxt = []
        i = 0
        while i < len(level):
            j = _cut(level, i)
            nxt.append(_merge(level[i:j]))
            i = j
        level = nxt
    return level[0][0]


def xorb_hash(chunks: Iterable[tuple[bytes, int]]) -> bytes:
    return aggregated_hash(chunks)


def file_hash(chunks: Iterable[tuple[bytes, int]]) -> bytes:
    """The aggregated hash re-hashed with an all-zero key; zeros for an empty file."""
    root = aggregated_hash(chunks)
    if root == ZERO_HASH:
        return ZERO_HASH
    return keyed(root, ZERO_KEY)


def verification_hash(chunk_hashes: Iterable[bytes]) -> bytes:
    """What a shard's FileVerificationEntry must hold for a term: proves the uploader knew its chunks."""
    return blake3(b"".join(chunk_hashes), key=VERIFICATION_KEY).digest()


def dedup_eligible(h: bytes) -> bool:
    """Chunks the client may ask the global dedup API about (besides a file's first chunk)."""
    return _last_word(h) % 1024 == 0
