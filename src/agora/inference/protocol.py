"""Frames between the server processes, the pool supervisor and the workers: a 4-byte big-endian length,
then that many bytes of UTF-8 JSON. JSON, never pickle: a frame from a worker that ran a hostile model is
data, not code. Imports nothing heavy (the HTTP front, the supervisor and the worker all use it)."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

MAX_FRAME = (
    64 * 1024 * 1024
)  # a request body is bounded far below this; an answer too (embeddings of 64 texts)
_LEN = struct.Struct(">I")


class Closed(Exception):
    """The other end went away (a worker killed, a supervisor gone)."""


def encode(msg: dict[str, Any]) -> bytes:
    data = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > MAX_FRAME:
        raise ValueError("frame too large")
    return _LEN.pack(len(data)) + data


def decode(data: bytes) -> dict[str, Any]:
    msg = json.loads(data)
    if not isinstance(msg, dict):
        raise ValueError("a frame must be a JSON object")
    return msg


def send(sock: socket.socket, msg: dict[str, Any]) -> None:
    sock.sendall(encode(msg))


def _exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1024 * 1024))
        if not chunk:
            raise Closed("connection closed")
        buf += chunk
    return bytes(buf)


def recv(sock: socket.socket) -> dict[str, Any]:
    (n,) = _LEN.unpack(_exactly(sock, _LEN.size))
    if n > MAX_FRAME:
        raise Closed("frame too large")
    return decode(_exactly(sock, n))
