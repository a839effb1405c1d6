"""The HTTP wire helpers without a live server: `http/wire.py` (ranges, dates, the error mapping, pagination
links), `http/bodies.py` (bounded bodies) and the whole app built by `create_app` on a temp data folder,
driven through Starlette's TestClient or straight through ASGI."""

from __future__ import annotations

import errno
import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.testclient import TestClient

from agora import errors
from agora.config import Settings
from agora.http import bodies, wire
from agora.http.routing import Router
from agora.viewer import errors as viewer_errors

from .conftest import run_async

# ---- parse_range ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=0-0", (0, 0)),
        ("bytes=999-999", (999, 999)),
        ("  bytes=10-19  ", (10, 19)),  # surrounding blanks are tolerated
        ("bytes=100-", (100, 999)),  # open end
        ("bytes=0-5000", (0, 999)),  # an end past the body is cut to the body
        ("bytes=-100", (900, 999)),  # suffix: the last 100 bytes
        ("bytes=-1", (999, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the body is the whole body, as a range
        ("bytes=-0", "unsatisfiable"),
        ("bytes=1000-", "unsatisfiable"),  # starts at the end
        ("bytes=1000-2000", "unsatisfiable"),
        ("bytes=20-10", "unsatisfiable"),  # end before start
        ("bytes=-", None),  # neither end: not a range
        ("bytes=0-1,5-9", None),  # multi-range: the whole body (RFC 9110 allows ignoring Range)
        ("bytes=-1,0-1", None),
        ("items=0-1", None),  # another unit
        ("bytes=a-b", None),
        ("bytes 0-1", None),
        ("bytes=0x10-20", None),
    ],
)
def test_parse_range(header: str | None, want: object) -> None:
    assert wire.parse_range(header, 1000) == want


def test_parse_range_on_an_empty_body() -> None:
    """Nothing can be cut out of zero bytes: a first-byte range is unsatisfiable, and a suffix range is the
    whole (empty) body, never the impossible (0, -1) that would be sent as `Content-Range: bytes 0--1/0`."""
    assert wire.parse_range("bytes=0-", 0) == "unsatisfiable"
    assert wire.parse_range("bytes=0-10", 0) == "unsatisfiable"
    assert wire.parse_range("bytes=-5", 0) is None
    assert wire.parse_range("bytes=-0", 0) == "unsatisfiable"
    assert wire.parse_range(None, 0) is None


def test_parse_range_huge_numbers() -> None:
    assert wire.parse_range("bytes=0-99999999999999999999999", 10) == (0, 9)
    assert wire.parse_range("bytes=99999999999999999999999-", 10) == "unsatisfiable"
    assert wire.parse_range("bytes=-99999999999999999999999", 10) == (0, 9)


# ---- iso ------------------------------------------------------------------------------------------------


def test_iso_dates_end_in_z_with_milliseconds() -> None:
    assert wire.iso(None) is None
    assert wire.iso(datetime(2026, 1, 2, 3, 4, 5, 678_901)) == "2026-01-02T03:04:05.678Z"  # naive: UTC
    assert wire.iso(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05.000Z"
    # cut, never rounded up
    assert wire.iso(datetime(2026, 1, 2, 3, 4, 5, 999_999)) == "2026-01-02T03:04:05.999Z"
    plus2 = timezone(timedelta(hours=2))
    assert wire.iso(datetime(2026, 1, 2, 1, 0, 0, 5000, tzinfo=plus2)) == "2026-01-01T23:00:00.005Z"
    assert wire.iso(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00.000Z"
    assert wire.iso(0) == "1970-01-01T00:00:00.000Z"
    assert wire.iso(1_767_323_045.25) == "2026-01-02T03:04:05.250Z"
    for value in (datetime(2030, 12, 31, 23, 59, 59, 1000, tzinfo=plus2), 1e9):
        text = wire.iso(value)
        assert text is not None and text.endswith("Z") and "+" not in text and len(text) == 24
        # what huggingface_hub's parse_datetime accepts
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


# ---- errors ---------------------------------------------------------------------------------------------

ERROR_STATUS: dict[type[errors.HubError], tuple[int, str]] = {
    errors.HubError: (400, "BadRequest"),
    errors.BadRequest: (400, "BadRequest"),
    errors.InvalidPath: (422, "BadRequest"),
    errors.Unauthorized: (401, "Unauthorized"),
    errors.Forbidden: (403, "Forbidden"),
    errors.RepoNotFound: (404, "RepoNotFound"),
    errors.RepoMoved: (404, "RepoMoved"),  # answered as a 307 by wire.moved where it can
    errors.RevisionNotFound: (404, "RevisionNotFound"),
    errors.EntryNotFound: (404, "EntryNotFound"),
    errors.NotFound: (404, "NotFound"),
    errors.Conflict: (409, "Conflict"),
    errors.ParentMismatch: (412, "PreconditionFailed"),
    errors.TooLarge: (413, "PayloadTooLarge"),
    errors.Unavailable: (503, "ServiceUnavailable"),
    errors.InsufficientStorage: (507, "InsufficientStorage"),
    errors.GatewayTimeout: (504, "GatewayTimeout"),
    errors.GatedRepo: (403, "GatedRepo"),
    errors.TooManyRequests: (429, "TooManyRequests"),
    viewer_errors.NotReady: (500, "ResponseNotReady"),
    viewer_errors.SplitFailed: (500, "SplitConversionError"),
    viewer_errors.SplitStopped: (501, "SplitConversionError"),
}


def test_every_error_class_is_mapped() -> None:
    """A new error class in agora.errors must get its row here (and its status in wire.STATUS)."""
    declared = {c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.HubError)}
    declared |= {
        c for _, c in inspect.getmembers(viewer_errors, inspect.isclass) if issubclass(c, errors.HubError)
    }
    assert declared == set(ERROR_STATUS)
    assert set(wire.STATUS) == declared - {errors.HubError}


@pytest.mark.parametrize("cls", list(ERROR_STATUS), ids=lambda c: c.__name__)
def test_hub_error_status_and_headers(cls: type[errors.HubError]) -> None:
    status, code = ERROR_STATUS[cls]
    r = wire.hub_error(cls("Something went wrong with alice/model"))
    assert r.status_code == status
    assert r.headers["x-error-code"] == code == cls.code
    assert r.headers["x-error-message"] == "Something went wrong with alice/model"
    assert r.headers["content-type"] == "application/json"
    assert json.loads(bytes(r.body)) == {"error": "Something went wrong with alice/model"}
    assert ("www-authenticate" in r.headers) == (status == 401)
    retry = {viewer_errors.NotReady: "1", errors.Unavailable: "5"}
    assert r.headers.get("retry-after") == retry.get(cls)


def test_retry_after_and_estimated_time_from_the_error() -> None:
    """A rate limit names its own Retry-After; the Inference API's "currently loading" adds estimated_time."""
    r = wire.hub_error(errors.TooManyRequests("Slow down", retry_after=42))
    assert r.status_code == 429 and r.headers["retry-after"] == "42"
    r = wire.hub_error(errors.Unavailable("Model a/b is currently loading", estimated_time=4.5))
    body = json.loads(bytes(r.body))
    assert r.status_code == 503 and body == {"error": "Model a/b is currently loading", "estimated_time": 4.5}


def test_disk_full_is_recognised_through_the_wrappers() -> None:
    """ENOSPC / EDQUOT, and SQLite's own "database or disk is full" under SQLAlchemy's wrapper, mean 507."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    assert errors.disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert errors.disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not errors.disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not errors.disk_full(ValueError("no"))
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # what the driver sets (SQLITE_FULL)
    wrapped = OperationalError("COMMIT", {}, full)
    assert errors.disk_full(wrapped)
    try:  # and as the cause of something else
        try:
            raise wrapped
        except OperationalError as e:
            raise RuntimeError("commit failed") from e
    except RuntimeError as e:
        assert errors.disk_full(e)
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5
    assert not errors.disk_full(OperationalError("COMMIT", {}, locked))
    r = wire.hub_error(errors.InsufficientStorage())
    assert r.status_code == 507 and "disk is full" in r.headers["x-error-message"]


def test_default_messages_and_subclasses() -> None:
    r = wire.hub_error(errors.RepoNotFound())
    assert (r.status_code, r.headers["x-error-message"]) == (404, "Repository not found")

    class Gone(errors.NotFound):
        code = "Gone"

    r = wire.hub_error(Gone("it went"))
    assert (r.status_code, r.headers["x-error-code"]) == (404, "Gone")  # a subclass keeps its parent's status


def test_error_extra_headers_and_body() -> None:
    r = wire.hub_error(errors.Conflict("exists"), headers={"X-Extra": "1"}, body={"url": "http://h/a/b"})
    assert r.status_code == 409 and r.headers["x-extra"] == "1"
    assert json.loads(bytes(r.body)) == {"error": "exists", "url": "http://h/a/b"}
    r = wire.hub_error(viewer_errors.NotReady("later"), headers={"Retry-After": "7"})
    assert r.headers["retry-after"] == "7"  # the caller's value wins
    r = wire.error(401, "Unauthorized", "who?", headers={"WWW-Authenticate": "Basic"})
    assert r.headers["www-authenticate"] == "Basic"


def test_non_ascii_and_surrogate_messages_are_header_safe() -> None:
    message = "Révision «main» introuvable: 模型\nnext line\x00\x7f"
    r = wire.hub_error(errors.RevisionNotFound(message))
    header = r.headers["x-error-message"]
    assert header.isascii() and all(0x20 <= ord(c) < 0x7F for c in header)
    assert header == "R vision  main  introuvable:    next line  "
    assert json.loads(bytes(r.body))["error"] == message  # the JSON keeps the text as it was

    r = wire.error(400, "BadRequest", "bad name \ud800!")  # echoed input: a lone surrogate
    assert r.headers["x-error-message"] == "bad name \\ud800!"
    assert json.loads(bytes(r.body))["error"] == "bad name \\ud800!"

    r = wire.error(400, "BadRequest", "x" * 5000)
    assert len(r.headers["x-error-message"]) == 500
    assert len(json.loads(bytes(r.body))["error"]) == 5000


# ---- next_link, base_url --------------------------------------------------------------------------------


def _request(path: str, query: str, host: str = "hub.test:8080") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "server": ("hub.test", 8080),
            "headers": [(b"host", host.encode())],
        }
    )


def test_next_link_keeps_every_parameter() -> None:
    req = _request("/api/models", "author=alice&filter=a&filter=b&cursor=old&search=x%20y&limit=2")
    link = wire.next_link(req, "http://hub.test:8080", "cursor", "NEXT/=")["Link"]
    assert link == (
        "<http://hub.test:8080/api/models?author=alice&filter=a&filter=b&search=x+y&limit=2"
        '&cursor=NEXT%2F%3D>; rel="next"'
    )
    link = wire.next_link(_request("/api/datasets", ""), "https://h", "p", "3")["Link"]
    assert link == '<https://h/api/datasets?p=3>; rel="next"'


def test_base_url() -> None:
    req = _request("/", "", host="Example.org:9")
    assert wire.base_url(req) == "http://Example.org:9"
    assert wire.base_url(req, "https://hub.example/") == "https://hub.example"


def test_json_response_and_truthy() -> None:
    r = wire.json_response({"a": [1, "é"]}, 201, {"X-A": "b"})
    assert (r.status_code, r.headers["x-a"], r.headers["content-type"]) == (201, "b", "application/json")
    assert json.loads(bytes(r.body)) == {"a": [1, "é"]} and b" " not in bytes(r.body)
    assert [wire.truthy(v) for v in ("1", "true", "TRUE", "yes", "on")] == [True] * 5
    assert [wire.truthy(v) for v in (None, "", "0", "false", "no", "off", "2")] == [False] * 7


# ---- the router -----------------------------------------------------------------------------------------


async def _echo(request: Request, **params: str | None) -> Response:
    return JSONResponse({"method": request.method, "params": params})


def _router() -> Router:
    router = Router()

    async def fail(request: Request, what: str | None) -> Response:
        if what == "hub":
            raise errors.Forbidden("not yours")
        if what == "deep":
            raise RecursionError
        if what == "text":
            "\ud800".encode()
        if what == "full":
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError as e:
                raise RuntimeError("could not write") from e
        raise RuntimeError("boom")

    async def viewer(request: Request) -> Response:
        return JSONResponse({"face": "viewer"})

    revision = r"/api/(?P<t>models|datasets)/(?P<ns>[^/]+)/(?P<name>[^/]+)/revision/(?P<rev>[^/]+)"
    router.add("GET", revision, _echo)
    router.add("POST", r"/api/repos/create", _echo)
    router.add("PUT DELETE", r"/api/repos/(?P<x>[^/]+)", _echo)
    router.add("GET", r"/fail/(?P<what>[^/]+)", fail)
    router.add("GET", r"/is-valid", viewer, host_prefix="datasets-server.")
    router.add("GET", r"/(?P<ns>[^/]+)", _echo)  # a catch-all after the others: the first match wins
    return router


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(_router(), raise_server_exceptions=False) as c:
        yield c


def test_percent_encoded_revision_is_one_segment(client: TestClient) -> None:
    r = client.get("/api/models/alice/m%20x/revision/refs%2Fpr%2F1")
    assert r.status_code == 200
    assert r.json()["params"] == {"t": "models", "ns": "alice", "name": "m x", "rev": "refs/pr/1"}
    r = client.get("/api/datasets/alice/d/revision/caf%C3%A9%2Fv1?expand=1")  # UTF-8, query left out
    assert r.json()["params"]["rev"] == "café/v1"
    r = client.get("/api/models/alice/m/revision/refs/pr/1")  # unencoded slashes: not this route
    assert r.status_code == 404 and r.headers["x-error-code"] == "NotFound"


def test_405_when_the_path_matches_another_method(client: TestClient) -> None:
    r = client.get("/api/repos/create")
    assert r.status_code == 405 and r.headers["x-error-code"] == "MethodNotAllowed"
    assert r.json()["error"] == "GET is not allowed on /api/repos/create"
    assert client.post("/api/repos/create").json()["method"] == "POST"
    assert client.put("/api/repos/x").status_code == 200 and client.delete("/api/repos/x").status_code == 200
    assert client.patch("/api/repos/x").status_code == 405
    r = client.head("/api/models/a/b/revision/main")  # HEAD comes with GET
    assert r.status_code == 200
    r = client.post("/api/models/a/b/revision/main")
    assert r.status_code == 405


def test_404_and_fallback() -> None:
    router = _router()
    with TestClient(router) as c:
        r = c.get("/a/b/c/d")
        assert r.status_code == 404 and r.headers["x-error-code"] == "NotFound"
        assert r.json() == {"error": "Not found: /a/b/c/d"}

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        await Response("from the fallback", status_code=418)(scope, receive, send)

    router.fallback = fallback
    with TestClient(router) as c:
        assert c.get("/a/b/c/d").status_code == 418
        assert c.get("/api/repos/create").status_code == 405  # a method mismatch is not a miss


def test_invalid_utf8_in_a_segment_is_400(client: TestClient) -> None:
    for seg in ("%FF", "%C3", "%ED%A0%80", "ok%80"):
        r = client.get(f"/api/models/alice/m/revision/{seg}")
        assert r.status_code == 400, seg
        assert r.headers["x-error-code"] == "BadRequest"
        assert "not valid UTF-8" in r.headers["x-error-message"]


def test_handler_errors_become_wire_errors(client: TestClient) -> None:
    r = client.get("/fail/hub")
    assert (r.status_code, r.headers["x-error-code"], r.json()) == (403, "Forbidden", {"error": "not yours"})
    r = client.get("/fail/deep")
    assert (r.status_code, r.headers["x-error-code"]) == (400, "BadRequest") and "nested" in r.json()["error"]
    r = client.get("/fail/text")
    assert r.status_code == 400 and "malformed text" in r.json()["error"]
    r = client.get("/fail/other")
    assert (r.status_code, r.headers["x-error-code"]) == (500, "InternalError")
    assert "boom" not in r.text  # details go to the log, not to the client
    r = client.get("/fail/full")  # a full disk, wherever it is raised from: 507, which clients do not retry
    assert (r.status_code, r.headers["x-error-code"]) == (507, "InsufficientStorage")
    assert "disk is full" in r.json()["error"]


def test_host_prefix_routes(client: TestClient) -> None:
    r = client.get("/is-valid", headers={"host": "datasets-server.hub.test"})
    assert r.json() == {"face": "viewer"}
    r = client.get("/is-valid", headers={"host": "Datasets-Server.hub.test:8080"})
    assert r.json() == {"face": "viewer"}  # the Host compares without case
    r = client.get("/is-valid", headers={"host": "hub.test"})
    assert r.json()["params"] == {"ns": "is-valid"}  # other hosts fall through to the next route


def test_request_id_on_every_answer(client: TestClient) -> None:
    answers = [
        client.get("/api/models/a/b/revision/main"),
        client.get("/api/repos/create"),
        client.get("/a/b/c/d"),
        client.get("/fail/hub"),
        client.get("/fail/other"),
        client.get("/api/models/a/b/revision/%FF"),
    ]
    ids = [r.headers["x-request-id"] for r in answers]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_lifespan_and_other_scopes() -> None:
    with TestClient(_router()) as c:  # the context manager runs the lifespan startup and shutdown
        assert c.get("/x").status_code == 200

    sent: list[Any] = []

    async def go() -> None:
        async def receive() -> dict[str, str]:
            return {"type": "websocket.connect"}

        async def send(msg: Any) -> None:
            sent.append(msg)

        await _router()({"type": "websocket", "path": "/x"}, receive, send)

    _run(go())
    # a WebSocket to anything but a Space's app is refused (policy violation), never left hanging
    assert sent == [{"type": "websocket.close", "code": 1008}]


# ---- bounded bodies -------------------------------------------------------------------------------------


def _run(coro: Any) -> Any:
    return run_async(coro)


LIMIT = 100


def _bodies_router() -> Router:
    router = Router()

    async def raw(request: Request) -> Response:
        data = await bodies.read_bounded(request, LIMIT)
        return JSONResponse({"size": len(data)})

    async def as_json(request: Request) -> Response:
        return JSONResponse({"got": await bodies.read_json(request, LIMIT, required=False)})

    async def must_json(request: Request) -> Response:
        return JSONResponse({"got": await bodies.read_json(request, LIMIT)})

    router.add("POST", "/raw", raw)
    router.add("POST", "/json", as_json)
    router.add("POST", "/must-json", must_json)
    return router


def _asgi_post(
    path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes, int]:
    """POST straight through ASGI: (status, headers, body, how many body messages the app pulled)."""
    pulled = 0
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= len(chunks):
            return {"type": "http.disconnect"}
        pulled += 1
        return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in msg["headers"]}
        else:
            out["body"] += msg.get("body", b"")

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
    }
    _run(_bodies_router()(scope, receive, send))
    return out["status"], out["headers"], out["body"], pulled


def test_declared_length_over_the_limit_is_413_before_reading() -> None:
    status, headers, body, pulled = _asgi_post("/raw", [(b"content-length", b"101")], [b"x" * 101])
    assert status == 413 and headers["x-error-code"] == "PayloadTooLarge"
    assert json.loads(body)["error"] == "Request body exceeds the limit of 100 bytes"
    assert pulled == 0  # not a byte was read
    status, _, body, pulled = _asgi_post("/raw", [(b"content-length", b"100")], [b"x" * 60, b"x" * 40])
    assert (status, json.loads(body), pulled) == (200, {"size": 100}, 2)


def test_chunked_body_over_the_limit_is_413_as_soon_as_it_passes() -> None:
    chunks = [b"x" * 40] * 10  # no Content-Length: the count bounds it
    status, headers, _, pulled = _asgi_post("/raw", [(b"transfer-encoding", b"chunked")], chunks)
    assert status == 413 and headers["x-error-code"] == "PayloadTooLarge"
    assert pulled == 3  # 120 bytes > 100: the read stopped there
    # A body that lies about its length is cut by the count as well.
    status, _, _, pulled = _asgi_post("/raw", [(b"content-length", b"10")], chunks)
    assert status == 413 and pulled == 3


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1e3", b"", b"1" * 21, b"0x10"])
def test_malformed_content_length_is_400(value: bytes) -> None:
    status, headers, body, pulled = _asgi_post("/raw", [(b"content-length", value)], [b""])
    assert (status, headers["x-error-code"], pulled) == (400, "BadRequest", 0)
    assert json.loads(body)["error"] == "Invalid Content-Length header"


def test_bounded_bodies_through_testclient() -> None:
    with TestClient(_bodies_router()) as c:
        assert c.post("/raw", content=b"x" * 100).json() == {"size": 100}
        r = c.post("/raw", content=b"x" * 101)
        assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge"

        def gen() -> Iterator[bytes]:
            for _ in range(5):
                yield b"y" * 30

        r = c.post("/raw", content=gen())  # an iterator: sent chunked
        assert r.status_code == 413
        assert c.post("/json", content=b"").json() == {"got": {}}
        assert c.post("/json", content=b'{"a": 1}').json() == {"got": {"a": 1}}
        for body, message in (
            (b"", "Expected a JSON body"),
            (b"[1]", "must be an object"),
            (b"{nope", "Malformed JSON body"),
            (b"\xff\xfe", "Malformed JSON body"),
            (b"[" * 40 + b"]" * 40, "must be an object"),
        ):
            r = c.post("/must-json", content=body)
            assert r.status_code == 400 and message in r.json()["error"], (body, r.text)
        r = c.post("/json", content=b'{"a": "' + b"z" * 200 + b'"}')
        assert r.status_code == 413 and r.json()["error"] == "JSON body exceeds the limit of 100 bytes"


# ---- the whole app, in process --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from agora.app import create_app
    from agora.hub import accounts
    from agora.ids import RepoId

    data: Path = tmp_path_factory.mktemp("agora-inprocess")
    settings = Settings(
        data=data, database_url=f"sqlite:///{data / 'agora.db'}", jobs=False, allowed_hosts=("testserver",)
    )
    app = create_app(settings)
    from agora.app import build_hub  # a second Hub on the same folder: set up a user and a repo directly

    hub = build_hub(settings)
    with hub.db.session() as s:
        user = accounts.create_user(s, "alice", "alice-password")
        hub.create(s, accounts.session_principal(user), RepoId("model", "alice", "m"))
    hub.db.engine.dispose()
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def test_app_errors_in_the_wire_format(app_client: TestClient) -> None:
    r = app_client.get("/api/models/alice/nothing")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    assert r.json()["error"] and len(r.headers["x-request-id"]) == 16
    r = app_client.get("/api/models/alice/m")
    assert r.status_code == 200 and r.json()["id"] == "alice/m"
    assert r.json()["lastModified"].endswith("Z")


def test_app_revision_segments(app_client: TestClient) -> None:
    r = app_client.get("/api/models/alice/m/revision/main")
    assert r.status_code == 200 and len(r.json()["sha"]) == 40
    r = app_client.get("/api/models/alice/m/revision/refs%2Fpr%2F1")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"
    assert "refs/pr/1" in r.json()["error"]
    r = app_client.get("/api/models/alice/m/revision/%FF")
    assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest"


def test_app_resolve_ranges(app_client: TestClient) -> None:
    r = app_client.get("/alice/m/resolve/main/.gitattributes")
    assert r.status_code == 200
    whole = r.content
    assert len(whole) > 20
    r = app_client.get("/alice/m/resolve/main/.gitattributes", headers={"range": "bytes=-10"})
    assert r.status_code == 206 and r.content == whole[-10:]
    assert r.headers["content-range"] == f"bytes {len(whole) - 10}-{len(whole) - 1}/{len(whole)}"
    r = app_client.get("/alice/m/resolve/main/.gitattributes", headers={"range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == whole[2:6]
    r = app_client.get("/alice/m/resolve/main/.gitattributes", headers={"range": f"bytes={len(whole)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(whole)}"
    r = app_client.get("/alice/m/resolve/main/.gitattributes", headers={"range": "bytes=0-1,4-5"})
    assert r.status_code == 200 and r.content == whole


def test_app_method_not_allowed_and_bounded_json(app_client: TestClient) -> None:
    r = app_client.get("/api/repos/create")
    assert r.status_code == 405 and r.headers["x-error-code"] == "MethodNotAllowed"
    r = app_client.delete("/api/models/alice/m")
    assert r.status_code == 405 and r.json()["error"] == "DELETE is not allowed on /api/models/alice/m"
    r = app_client.post("/api/repos/create", content=b"x" * (8 * 1024 * 1024 + 1))
    assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge"
    assert r.json()["error"] == "JSON body exceeds the limit of 8388608 bytes"


def test_v2_shard_upload_sends_heartbeats_while_validating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard whose validation takes longer than the heartbeat gets `validating` frames meanwhile (the v2
    client's read timeout would fire otherwise), then its terminal frame."""
    import time

    from agora.app import build_hub, create_app
    from agora.http.api import xet as xet_api
    from agora.hub import accounts
    from agora.hub.xet import XetStore
    from agora.ids import RepoId

    from .xet_files import XetUpload

    settings = Settings(
        data=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'agora.db'}",
        jobs=False,
        allowed_hosts=("testserver",),
    )
    app = create_app(settings)
    hub = build_hub(settings)
    with hub.db.session() as s:
        user = accounts.create_user(s, "alice", "alice-password")
        hub.create(s, accounts.session_principal(user), RepoId("model", "alice", "m"))
        token = accounts.create_token(s, "alice", "write", "t")
    accept = XetStore.accept_shard

    def slow_accept(self: XetStore, repo_id: int, data: bytes) -> int:
        time.sleep(0.5)  # a large file's sha256 being verified
        return accept(self, repo_id, data)

    monkeypatch.setattr(XetStore, "accept_shard", slow_accept)
    monkeypatch.setattr(xet_api, "SHARD_HEARTBEAT", 0.1)
    f = XetUpload()
    with TestClient(app, base_url="http://testserver") as c:
        t = c.get("/api/models/alice/m/xet-write-token/main", headers={"authorization": f"Bearer {token}"})
        auth = {"authorization": f"Bearer {t.json()['accessToken']}"}
        r = c.post("/cas/v2/shards", content=f.shard, headers=auth)
        frames = [json.loads(line) for line in r.text.splitlines()]
        assert (
            r.status_code == 200 and frames[-1]["type"] == "error" and "shard-cache" in frames[-1]["message"]
        )
        assert frames[0] == {"type": "validating", "verified": 0, "total": 1} and len(frames) >= 3
        assert c.post(f"/cas/v1/xorbs/default/{f.name}", content=f.xorb, headers=auth).status_code == 200
        r = c.post("/cas/v2/shards", content=f.shard, headers=auth)
        assert r.status_code == 200 and r.text.splitlines()[-1] == '{"type":"result"}'
