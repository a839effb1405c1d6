"""Request bodies read with a bound, so that one request cannot make a worker hold more than it allows.

The declared Content-Length is checked first (413 before a byte is read); the body is then counted while
it streams, and the read stops with 413 as soon as the count passes the limit, never holding more than
the limit (a chunked body has no Content-Length, so the count is what bounds it). Handlers that need
authentication or a signature check it before calling these.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BadRequest, InsufficientStorage, TooLarge

_DIGITS = re.compile(r"^[0-9]{1,20}$")


def declared_length(request: Request) -> int | None:
    """The Content-Length header as an integer, None without one; a malformed one is a 400."""
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    raw = raw.strip()
    if not _DIGITS.match(raw):
        raise BadRequest("Invalid Content-Length header")
    return int(raw)


def too_large(limit: int, what: str) -> TooLarge:
    return TooLarge(f"{what} exceeds the limit of {limit} bytes")


def check_length(request: Request, limit: int, what: str = "Request body") -> None:
    """413 if the declared Content-Length is over `limit` (nothing is read)."""
    n = declared_length(request)
    if n is not None and n > limit:
        raise too_large(limit, what)


async def read_bounded(request: Request, limit: int, what: str = "Request body") -> bytes:
    """The whole body, at most `limit` bytes, or TooLarge (413) as soon as more arrives."""
    check_length(request, limit, what)
    pieces: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            pieces.clear()
            raise too_large(limit, what)
        pieces.append(chunk)
    return b"".join(pieces)


async def read_json(request: Request, limit: int, required: bool = True, what: str = "JSON body") -> Any:
    """A JSON object from a body of at most `limit` bytes; {} for an empty body unless `required`."""
    raw = await read_bounded(request, limit, what)
    if not raw.strip():
        if required:
            raise BadRequest("Expected a JSON body")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise BadRequest(f"Malformed JSON body: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object")
    return data


def check_room(request: Request, folder: Path, floor: int) -> None:
    """507 before a byte of an upload is read when the free space of `folder` (the data folder), less the
    body's declared length, is under `floor` (AGORA_MIN_FREE_BYTES; 0 turns the check off)."""
    if floor <= 0:
        return
    need = declared_length(request) or 0
    free = shutil.disk_usage(folder).free
    if free - need < floor:
        raise InsufficientStorage(
            f"The Hub's disk is full: {free} bytes are free, and uploads must leave {floor} bytes free"
            f"{f' after their {need} bytes' if need else ''}. Nothing was stored. "
            "Try again once an administrator has freed space"
        )


# An error answered before the request body was read (a read token uploading, a 413 on the declared
# length, a 404 for a private repo): closing the connection with the body's rest unread makes the kernel
# reset it, and a client still sending then loses the answer ("broken pipe", "connection reset") instead
# of reading the error. So the rest is read and dropped first, within a bound of bytes and of time, and only
# while it keeps coming: a client that declared a body it does not send (or sends slowly) gets its answer
# after DRAIN_IDLE seconds. A request with `Expect: 100-continue` sends no body until asked, and is not asked.
DRAIN_LIMIT = 16 * 2**20
DRAIN_SECONDS = 10.0
DRAIN_IDLE = 0.5


class Drain:
    """The ASGI wrapper that reads and drops an unread request body before an error response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _sends_body(scope):
            await self.app(scope, receive, send)
            return
        done = False

        async def watched_receive() -> Message:
            nonlocal done
            msg = await receive()
            if msg["type"] != "http.request" or not msg.get("more_body", False):
                done = True
            return msg

        async def draining_send(msg: Message) -> None:
            nonlocal done
            if msg["type"] == "http.response.start" and msg.get("status", 200) >= 400 and not done:
                done = True
                await _drop(receive)
            await send(msg)

        await self.app(scope, watched_receive, draining_send)


def _sends_body(scope: Scope) -> bool:
    """Whether the request's body is on its way: declared, and not waiting for a 100 Continue."""
    body = False
    for k, v in scope.get("headers", []):
        if k == b"content-length":
            body = v.strip() not in (b"0", b"")
        elif k == b"transfer-encoding":
            body = True
        elif k == b"expect" and v.strip().lower() == b"100-continue":
            return False
    return body


async def _drop(receive: Receive) -> None:
    """Read and drop the body until its end, DRAIN_LIMIT bytes, DRAIN_SECONDS, or DRAIN_IDLE without a byte."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    total = 0
    while total <= DRAIN_LIMIT:
        wait = min(DRAIN_IDLE, deadline - loop.time())
        if wait <= 0:
            return
        try:
            msg = await asyncio.wait_for(receive(), wait)
        except TimeoutError:
            return
        if msg["type"] != "http.request":
            return
        total += len(msg.get("body", b""))
        if not msg.get("more_body", False):
            return
