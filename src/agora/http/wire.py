"""The Hugging Face wire quirks, in one place: errors, dates, pagination links, byte ranges."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import errors as e
from ..viewer import errors as viewer

STATUS: dict[type[e.HubError], int] = {  # the first class an error is an instance of gives its status
    e.InvalidPath: 422,  # before BadRequest, its base: the Hub answers a commit's invalid path with 422
    e.BadRequest: 400,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.GatedRepo: 403,
    e.RepoNotFound: 404,
    e.RepoMoved: 404,  # answered by `moved` (a 307) where the address names the old id
    e.RevisionNotFound: 404,
    e.EntryNotFound: 404,
    e.NotFound: 404,
    e.Conflict: 409,
    e.ParentMismatch: 412,
    e.TooLarge: 413,
    e.Unavailable: 503,
    e.InsufficientStorage: 507,
    e.GatewayTimeout: 504,
    e.TooManyRequests: 429,
    viewer.NotReady: 500,
    viewer.SplitStopped: 501,  # before SplitFailed, its base: the Hub's job manager errors are 501
    viewer.SplitFailed: 500,  # the dataset viewer answers 500 for both, as the Hub's
}
# Errors a client should retry: their answers carry Retry-After (seconds).
RETRY_AFTER: dict[type[e.HubError], str] = {viewer.NotReady: "1", e.Unavailable: "5"}


def _header_safe(text: str) -> str:
    return re.sub(r"[^\x20-\x7e]", " ", text)[:500]


def error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> Response:
    """The client reads X-Error-Code first, then X-Error-Message, then the JSON `error`."""
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")  # echoed input may hold surrogates
    h = {"X-Error-Code": code, "X-Error-Message": _header_safe(message)}
    if status == 401:
        h["WWW-Authenticate"] = 'Bearer realm="Agora", charset="UTF-8"'
    h.update(headers or {})
    return JSONResponse({"error": message, **(body or {})}, status_code=status, headers=h)


def status_of(exc: e.HubError) -> int:
    """The HTTP status a domain error maps to. A gated repo answers the anonymous 401 (log in first) and a
    logged-in user without access 403, both with X-Error-Code GatedRepo (huggingface_hub: GatedRepoError)."""
    if isinstance(exc, e.GatedRepo) and exc.extra.get("anonymous"):
        return 401
    return next((v for k, v in STATUS.items() if isinstance(exc, k)), 400)


def hub_error(
    exc: e.HubError, headers: dict[str, str] | None = None, body: dict[str, Any] | None = None
) -> Response:
    status = status_of(exc)
    retry = next((v for k, v in RETRY_AFTER.items() if isinstance(exc, k)), None)
    if "retry_after" in exc.extra:  # the error knows how long (a rate limit's window)
        retry = str(exc.extra["retry_after"])
    extra_body = exc.extra.get("body")
    if isinstance(extra_body, dict):  # fields of the answer besides `error` (the viewer's cause)
        body = {**extra_body, **(body or {})}
    if "estimated_time" in exc.extra:  # the Inference API's "currently loading" (the widget shows a bar)
        body = {**(body or {}), "estimated_time": exc.extra["estimated_time"]}
    if retry is not None:
        headers = {"Retry-After": retry, **(headers or {})}
    return error(status, exc.code, exc.message, headers, body)


def moved_to(request: Request, exc: e.RepoMoved) -> str | None:
    """Where a request to a repo's old name goes: its own address (path and query) with the old id replaced
    by the new one, for a 307 (the method and body repeat: huggingface_hub's httpx client, git and browsers
    follow it, sending the token again on the same host). None when the address does not carry the id (a
    move or delete body names it): that is a plain RepoNotFound."""
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1").split("?", 1)[0]
    old = re.compile(rf"(?<=/){re.escape(exc.old)}(?=/|\.git(?:/|$)|$)", re.IGNORECASE)
    if not old.search(raw):
        return None
    path = old.sub(exc.new, raw, count=1)
    return path + (f"?{request.url.query}" if request.url.query else "")


def moved(request: Request, exc: e.RepoMoved) -> Response:
    """The 307 to the repo's new address, or RepoNotFound when its address does not name it."""
    location = moved_to(request, exc)
    if location is None:
        return error(404, "RepoNotFound", f"Repository {exc.old} not found")
    return Response(status_code=307, headers={"Location": location})


def iso(dt: datetime | int | float | None) -> str | None:
    """Dates end in a literal 'Z': huggingface_hub rejects '+00:00'."""
    if dt is None:
        return None
    if isinstance(dt, (int, float)):
        dt = datetime.fromtimestamp(dt, UTC)
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def base_url(request: Request, configured: str | None = None) -> str:
    """URLs we return must use the host the client used: huggingface_hub parses them against HF_ENDPOINT."""
    if configured:
        return configured.rstrip("/")
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def next_link(request: Request, base: str, cursor_key: str, cursor: str) -> dict[str, str]:
    """An absolute Link: the client fetches it verbatim, so it carries every original parameter."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != cursor_key]
    params.append((cursor_key, cursor))
    url = f"{base}{request.url.path}?{urlencode(params)}"
    return {"Link": f'<{url}>; rel="next"'}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """-> (start, end inclusive), None for the whole body, or "unsatisfiable"."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None  # unsupported forms (multi-range): serve the whole body, as RFC 9110 allows
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0:
            return "unsatisfiable"
        if size == 0:
            return None  # the last n bytes of nothing: the whole (empty) body, not the range (0, -1)
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (an empty body is {}); else 400."""
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise e.BadRequest("Malformed JSON body") from None
    if not isinstance(data, dict):
        raise e.BadRequest("The JSON body must be an object")
    return data
