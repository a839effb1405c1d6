"""Xet formats: hash string form, keyed hashes, xorb and shard parsing (including malformed input), reconstruction."""

from __future__ import annotations

import io
import os
import random
import struct

import pytest

from agora.storage.xet import hashing, reconstruct, shard, xorb
from agora.storage.xet.hashing import from_hex, to_hex
from agora.storage.xet.shard import ShardError
from agora.storage.xet.xorb import XorbError


# ---- hashing --------------------------------------------------------------------------------------
def test_hash_string_form_reverses_each_8_byte_word() -> None:
    h = bytes(range(32))
    assert to_hex(h) == "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
    assert from_hex(to_hex(h)) == h
    assert from_hex(to_hex(h).upper()) == h


@pytest.mark.parametrize("bad", ["", "00", "g" * 64, "0" * 63, "0" * 65, "0" * 62 + "\n"])
def test_from_hex_rejects_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        from_hex(bad)


def test_single_chunk_hashes() -> None:
    c = hashing.chunk_hash(b"hello")
    assert hashing.xorb_hash([(c, 5)]) == c  # a one-leaf tree is its leaf
    assert hashing.file_hash([(c, 5)]) == hashing.keyed(c, bytes(32))
    assert hashing.file_hash([]) == bytes(32)


def test_file_hash_matches_hf_xet_for_a_one_chunk_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    hf_xet = pytest.importorskip("hf_xet")
    data = os.urandom(5000)  # below the minimum chunk size: one chunk
    p = tmp_path / "small.bin"
    p.write_bytes(data)
    (info,) = hf_xet.hash_files([str(p)])
    assert info.hash == to_hex(hashing.file_hash([(hashing.chunk_hash(data), len(data))]))


def test_aggregated_hash_depends_on_order_and_sizes() -> None:
    leaves = [(hashing.chunk_hash(bytes([i])), i + 1) for i in range(40)]
    a = hashing.aggregated_hash(leaves)
    assert a != hashing.aggregated_hash(leaves[::-1])
    assert a != hashing.aggregated_hash([(h, n + 1) for h, n in leaves])
    assert a == hashing.aggregated_hash(list(leaves))


# ---- xorbs ----------------------------------------------------------------------------------------
def chunks_for_test() -> list[bytes]:
    rnd = random.Random(7)
    return [
        rnd.randbytes(70000),
        b"a" * 100001,
        rnd.randbytes(5) + b"xy" * 20003,
        bytes(13),
        rnd.randbytes(1),
        struct.pack("<4096f", *[rnd.random() for _ in range(4096)]),
    ]


@pytest.mark.parametrize("scheme", [xorb.SCHEME_NONE, xorb.SCHEME_LZ4, xorb.SCHEME_BG4_LZ4])
@pytest.mark.parametrize("footer", [True, False])
def test_xorb_round_trip(scheme: int, footer: bool) -> None:
    chunks = chunks_for_test()
    data = xorb.serialize(chunks, scheme, footer=footer)
    meta = xorb.parse(data)
    assert meta.hashes == tuple(hashing.chunk_hash(c) for c in chunks)
    assert meta.unpacked_total == sum(map(len, chunks))
    assert meta.hash == hashing.xorb_hash((hashing.chunk_hash(c), len(c)) for c in chunks)
    assert list(xorb.read_chunks(data, len(chunks))) == chunks
    assert xorb.XorbMeta.unpack(meta.pack()) == meta
    for step in (7, 4096, 65537):  # any slicing of the body gives the same result
        p = xorb.XorbParser()
        for i in range(0, len(data), step):
            p.feed(data[i : i + step])
        assert p.finish() == meta


@pytest.mark.parametrize("n", range(9))
def test_bg4_round_trip_any_length(n: int) -> None:
    data = bytes(range(1, n + 1))
    assert xorb.bg4_join(xorb.bg4_split(data), n) == data


def expect_xorb_error(data: bytes) -> None:
    with pytest.raises(XorbError):
        xorb.parse(data)


def test_xorb_tampered_payload_changes_hash_or_fails() -> None:
    chunks = chunks_for_test()
    data = bytearray(xorb.serialize(chunks, xorb.SCHEME_NONE, footer=False))
    good = xorb.parse(bytes(data)).hash
    data[100] ^= 1
    assert xorb.parse(bytes(data)).hash != good
    lz = bytearray(xorb.serialize(chunks, xorb.SCHEME_LZ4, footer=False))
    lz[30] ^= 0xFF
    try:
        assert xorb.parse(bytes(lz)).hash != good
    except XorbError:
        pass


def test_xorb_footer_must_agree_with_chunks() -> None:
    chunks = chunks_for_test()
    data = xorb.serialize(chunks)
    body_len = len(xorb.serialize(chunks, footer=False))
    tampered_hash = bytearray(data)
    tampered_hash[body_len + 8] ^= 1  # the xorb hash in the footer
    expect_xorb_error(bytes(tampered_hash))
    tampered_bound = bytearray(data)
    tampered_bound[len(data) - 4 - 28 - 8 * len(chunks)] ^= 1  # a chunk boundary offset
    expect_xorb_error(bytes(tampered_bound))
    expect_xorb_error(data + b"\0")  # footer length no longer the final u32
    expect_xorb_error(data[:-1])


@pytest.mark.parametrize(
    "header",
    [
        bytes([1, 4, 0, 0, 0, 4, 0, 0]) + b"abcd",  # version 1
        bytes([0, 4, 0, 0, 9, 4, 0, 0]) + b"abcd",  # unknown scheme
        bytes([0, 4, 0, 0, 0, 5, 0, 0]) + b"abcd",  # uncompressed sizes disagree
        bytes([0, 0, 0, 0, 0, 0, 0, 0]),  # empty chunk
        bytes([0, 0, 0, 4, 0, 0, 0, 4]),  # far too large
        bytes([0, 4, 0, 0, 1, 4, 0, 0]) + b"abcd",  # not an LZ4 frame
    ],
)
def test_xorb_bad_chunk_headers(header: bytes) -> None:
    expect_xorb_error(header)


def test_xorb_truncated_and_empty() -> None:
    data = xorb.serialize(chunks_for_test(), footer=False)
    expect_xorb_error(data[:-1])
    expect_xorb_error(data[:5])
    expect_xorb_error(b"")
    expect_xorb_error(b"garbage that is not a xorb")


def test_xorb_lz4_bomb_is_bounded() -> None:
    import lz4.frame

    payload = lz4.frame.compress(bytes(4 * 1024 * 1024))  # claims 4 bytes, holds 4 MiB
    expect_xorb_error(
        bytes([0]) + len(payload).to_bytes(3, "little") + bytes([1]) + (4).to_bytes(3, "little") + payload
    )


def test_xorb_size_limit() -> None:
    p = xorb.XorbParser(max_size=100)
    with pytest.raises(XorbError):
        p.feed(bytes(101))


# ---- shards ---------------------------------------------------------------------------------------
def sample_shard(**kw) -> tuple[bytes, shard.Shard]:  # type: ignore[no-untyped-def]
    chunks = chunks_for_test()
    data = xorb.serialize(chunks)
    m = xorb.parse(data)
    terms = [
        shard.Term(m.hash, m.range_unpacked(0, 2), 0, 2),
        shard.Term(m.hash, m.range_unpacked(2, 6), 2, 6),
    ]
    fi = shard.FileInfo(os.urandom(32), terms, [os.urandom(32), os.urandom(32)], os.urandom(32))
    ci = shard.CasInfo(
        m.hash,
        [shard.CasChunk(h, m.unpacked_start(i), m.unpacked_len(i)) for i, h in enumerate(m.hashes)],
        m.unpacked_total,
        len(data),
    )
    b = shard.serialize([fi, fi], [ci], **kw)
    return b, shard.Shard([fi, fi], [ci])


def test_shard_round_trip() -> None:
    b, want = sample_shard()
    got = shard.parse(b)
    assert got.files == want.files and got.xorbs == want.xorbs and got.footer is None


def test_shard_with_footer_and_keyed_chunks() -> None:
    key = os.urandom(32)
    b, want = sample_shard(footer=True, hmac_key=key, expiry=123)
    got = shard.parse(b)
    assert got.footer is not None and got.footer.hmac_key == key and got.footer.expiry == 123
    assert [c.hash for c in got.xorbs[0].chunks] == [hashing.keyed(c.hash, key) for c in want.xorbs[0].chunks]


def test_shard_every_truncation_is_rejected_cleanly() -> None:
    b, _ = sample_shard()
    for n in range(len(b)):
        with pytest.raises(ShardError):
            shard.parse(b[:n])


def test_shard_malformed() -> None:
    b, _ = sample_shard()
    with pytest.raises(ShardError):
        shard.parse(b"X" + b[1:])  # tag
    with pytest.raises(ShardError):
        shard.parse(b[:32] + struct.pack("<Q", 3) + b[40:])  # version
    with pytest.raises(ShardError):
        shard.parse(b[:40] + struct.pack("<Q", 7) + b[48:])  # footer size
    with pytest.raises(ShardError):
        shard.parse(b + bytes(48))  # trailing bytes
    huge = bytearray(b)
    struct.pack_into("<I", huge, 48 + 36, 2**31)  # first file declares 2^31 terms
    with pytest.raises(ShardError):
        shard.parse(bytes(huge))
    empty_term = bytearray(b)
    struct.pack_into("<II", empty_term, 96 + 40, 5, 5)  # first term: chunk range [5, 5)
    with pytest.raises(ShardError):
        shard.parse(bytes(empty_term))
    with pytest.raises(ShardError):
        shard.parse(bytes(shard.MAX_SHARD + 1))


def test_shard_random_corruption_never_crashes() -> None:
    b, _ = sample_shard(footer=True)
    rnd = random.Random(3)
    for _ in range(300):
        m = bytearray(b)
        for _ in range(rnd.randint(1, 4)):
            m[rnd.randrange(len(m))] = rnd.randrange(256)
        try:
            shard.parse(bytes(m))
        except ShardError:
            pass


# ---- reconstruction -------------------------------------------------------------------------------
class MemStore:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def open(self, key: str) -> io.BytesIO:
        return io.BytesIO(self.objects[key])


def test_reconstruct_any_range() -> None:
    rnd = random.Random(5)
    x1 = [rnd.randbytes(rnd.randint(1, 3000)) for _ in range(12)]
    x2 = [rnd.randbytes(rnd.randint(1, 3000)) for _ in range(5)]
    b1, b2 = xorb.serialize(x1), xorb.serialize(x2, xorb.SCHEME_BG4_LZ4)
    m1, m2 = xorb.parse(b1), xorb.parse(b2)
    n1, n2 = to_hex(m1.hash), to_hex(m2.hash)
    metas = {n1: m1, n2: m2}
    terms = [
        reconstruct.Segment(n1, 2, 7, m1.range_unpacked(2, 7)),
        reconstruct.Segment(n2, 0, 5, m2.unpacked_total),
        reconstruct.Segment(n1, 5, 12, m1.range_unpacked(5, 12)),
    ]
    content = b"".join(x1[2:7]) + b"".join(x2) + b"".join(x1[5:12])
    store = MemStore({n1: b1, n2: b2})
    size = len(content)
    for first, last in [(0, size - 1), (1, 1), (size - 1, size - 1), (0, 0)] + [
        tuple(sorted(rnd.sample(range(size), 2))) for _ in range(50)
    ]:
        segs, skip = reconstruct.plan(terms, metas, first, last)
        assert sum(s.unpacked for s in segs) - skip >= last - first + 1
        got = b"".join(reconstruct.stream(store, segs, metas, skip, last - first + 1))
        assert got == content[first : last + 1], (first, last)


def test_reconstruct_reports_short_xorb() -> None:
    data = xorb.serialize([b"abc" * 100, b"def" * 100])
    m = xorb.parse(data)
    n = to_hex(m.hash)
    segs, skip = reconstruct.plan([reconstruct.Segment(n, 0, 2, 600)], {n: m}, 0, 599)
    with pytest.raises(XorbError):
        b"".join(reconstruct.stream(MemStore({n: data[:20]}), segs, {n: m}, skip, 600))
