"""Request bodies read with a bound, so that one request cannot make a worker hold more than it allows.

The declared Content-Length is checked first (413 before a byte is read); the body is then counted while
it streams, and the read stops with 413 as soon as the count passes the limit, never holding more than
the limit (a chunked body has no Content-Length, so the count is what bounds it). Handlers that need
authentication or a signature check it before calling these.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from starlette.requests import Request

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
