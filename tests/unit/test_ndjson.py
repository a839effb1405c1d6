"""The NDJSON commit body reader: lines cut across chunks, CRLF, blank lines, no final newline, the line bound,
and linear time on a long line arriving in small chunks (the old reader rescanned the whole buffer per chunk)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator

import pytest

from agora.errors import BadRequest, TooLarge
from agora.http.api.commits import LineSplitter, file_content, ndjson_lines

from .conftest import run_async


def split_all(chunks: list[bytes]) -> list[bytes]:
    s = LineSplitter()
    out = [line for c in chunks for line in s.feed(c)]
    return out + ([s.rest()] if s.pending else [])


def test_lines_cut_anywhere() -> None:
    body = b'{"a": 1}\n{"b": 2}\n\n{"c": 3}'
    want = [b'{"a": 1}', b'{"b": 2}', b"", b'{"c": 3}']
    for size in range(1, len(body) + 1):
        assert split_all([body[i : i + size] for i in range(0, len(body), size)]) == want, size


def test_crlf_empty_lines_and_final_newline() -> None:
    assert split_all([b"a\r\n", b"\r\n", b"b\r", b"\n"]) == [b"a\r", b"\r", b"b\r"]
    assert split_all([b"\n\n"]) == [b"", b""]
    assert split_all([b"x\n"]) == [b"x"]
    assert split_all([b"x"]) == [b"x"]
    assert split_all([]) == []


class CountingBuffer(bytearray):
    """A bytearray that counts the bytes its newline searches go over."""

    searched = 0

    def find(self, sub, start=0, *args):  # type: ignore[no-untyped-def,override]
        self.searched += len(self) - start
        return super().find(sub, start, *args)


def test_long_line_in_small_chunks_is_linear() -> None:
    """A 20 MB line in 64 KB chunks: every byte is searched once, and it takes well under a second."""
    chunk = b"A" * 65536
    s = LineSplitter()
    s.buf = CountingBuffer()
    t = time.perf_counter()
    for _ in range(20 * 16):
        assert s.feed(chunk) == []
    lines = s.feed(b"\nnext")
    took = time.perf_counter() - t
    assert len(lines) == 1 and len(lines[0]) == 20 * 2**20 and s.rest() == b"next"
    assert s.buf.searched <= 20 * 2**20 + 64, s.buf.searched  # the old reader searched ~3.4 GB here
    assert took < 1.0, took


class FakeRequest:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def stream(self) -> AsyncIterator[bytes]:
        for c in self.chunks:
            yield c


def read(chunks: list[bytes], max_line: int = 1 << 20) -> list[dict]:
    async def go() -> list[dict]:
        return [o async for o in ndjson_lines(FakeRequest(chunks), max_line)]  # type: ignore[arg-type]

    return run_async(go())


def line(key: str, **value: object) -> bytes:
    return json.dumps({"key": key, "value": value}).encode()


def test_ndjson_objects() -> None:
    body = (
        line("header", summary="s")
        + b"\r\n\r\n"
        + line("deletedFile", path="a")
        + b"\n"
        + line("file", path="b")
    )
    got = read([body[:7], body[7:30], body[30:]])
    assert [o["key"] for o in got] == ["header", "deletedFile", "file"]


def test_big_line_parsed_off_the_loop() -> None:
    content = "A" * (300 * 1024)
    got = read([line("header"), b"\n", line("file", path="big", content=content)])
    assert got[1]["value"]["content"] == content
    assert file_content("big", got[1]["value"]) == base64.b64decode(content)


def test_bounds_and_errors() -> None:
    with pytest.raises(TooLarge, match="line 2 exceeds 100 bytes"):
        read([line("header") + b"\n", b"x" * 60, b"x" * 60], max_line=100)
    with pytest.raises(BadRequest, match="Malformed NDJSON on line 2"):
        read([line("header") + b"\n\n{nope\n"])
    with pytest.raises(BadRequest, match="Line 1 must be"):
        read([b'{"key": "other", "value": {}}'])
    big_bad = b'{"key": "file", "value": {"content": "' + b"A" * 100_000 + b'"'
    with pytest.raises(BadRequest, match="Malformed NDJSON on line 1"):
        read([big_bad])
    with pytest.raises(BadRequest, match="not valid base64"):
        file_content("p", {"content": "***"})
    with pytest.raises(BadRequest, match="must be a string"):
        file_content("p", {"content": 3})
    assert file_content("p", {"content": "hi", "encoding": "utf-8"}) == b"hi"


def test_malformed_lines_name_their_line() -> None:
    header = line("header") + b"\n"
    for bad in (b"\xff\xfe{}", b'{"key": "file", "value": {"path": "\xc3("}}'):  # invalid UTF-8
        with pytest.raises(BadRequest, match="Malformed NDJSON on line 2"):
            read([header + bad])
    for bad in (
        b"[1]",
        b'"text"',
        b'{"key": "nope", "value": {}}',
        b'{"key": "file", "value": []}',
        b'{"key": "file"}',
        b"null",
    ):
        with pytest.raises(BadRequest, match="Line 2 must be"):
            read([header + bad])


@pytest.mark.parametrize("depth", [50_000, 200_000])  # parsed on the loop, then in a thread (BIG_LINE)
def test_deeply_nested_line_is_a_bad_request(depth: int) -> None:
    nested = b'{"key": "file", "value": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(BadRequest, match="Malformed NDJSON on line 2"):
        read([line("header") + b"\n" + nested], max_line=1 << 22)


def test_line_bound_counts_across_chunks() -> None:
    """The bound holds a pending (unfinished) line to max_line bytes, whatever the chunking."""
    with pytest.raises(TooLarge, match="line 1 exceeds 100 bytes"):
        read([b"y" * 30] * 4, max_line=100)
    with pytest.raises(TooLarge, match="line 3 exceeds 100 bytes"):
        read([line("header") + b"\n" + line("deletedFile", path="a") + b"\n", b"z" * 101], max_line=100)
    long = line("file", path="p", content="A" * 200)  # its end arrives in the chunk that passes the bound
    with pytest.raises(TooLarge, match="line 2 exceeds 100 bytes"):
        read([line("header") + b"\n", long[:60], long[60:] + b"\n"], max_line=100)
    with pytest.raises(TooLarge, match="line 2 exceeds 100 bytes"):
        read([line("header") + b"\n" + long + b"\n"], max_line=100)  # whole, in one chunk
    with pytest.raises(TooLarge, match="line 2 exceeds 100 bytes"):
        read([line("header") + b"\n" + long], max_line=100)  # the last line, without a newline
    ok = line("file", path="p", content="QQ==")
    assert len(ok) < 100
    assert read([ok[:10], ok[10:]], max_line=100)[0]["value"]["path"] == "p"
