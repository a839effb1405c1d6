"""Every response carries an X-Request-Id; the log lines written while answering it (the unhandled-error line
too) name the same id; jobs log what they ran, how long it took and how it ended."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from agora import jobs
from agora.db.models import Repo
from agora.db.session import Database, migrate
from agora.http.routing import Router, install_request_id_logging, request_id

work_log = logging.getLogger("agora.test")


def _app() -> Router:
    router = Router()

    async def ok(request: Request) -> Response:
        work_log.info("working")
        return PlainTextResponse("ok")

    async def boom(request: Request) -> Response:
        raise RuntimeError("boom")

    router.add("GET", "/ok", ok)
    router.add("GET", "/boom", boom)
    return router


def test_request_id_in_header_and_log(caplog: pytest.LogCaptureFixture) -> None:
    install_request_id_logging()
    with caplog.at_level(logging.INFO), TestClient(_app(), raise_server_exceptions=False) as c:
        a, b = c.get("/ok"), c.get("/ok")
        err = c.get("/boom")
        missing = c.get("/nowhere")
    ids = [r.headers["x-request-id"] for r in (a, b, err, missing)]
    assert len(set(ids)) == 4 and all(len(i) == 16 for i in ids)
    working = [r for r in caplog.records if r.getMessage() == "working"]
    assert [r.request_id for r in working] == ids[:2]  # type: ignore[attr-defined]
    assert err.status_code == 500
    (line,) = [r for r in caplog.records if r.name == "agora.http"]
    assert ids[2] in line.getMessage() and line.request_id == ids[2]  # type: ignore[attr-defined]
    assert request_id.get() == "-"


class _Hub:
    def __init__(self, db: Database) -> None:
        self.db = db


def test_jobs_log_outcome_and_duration(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    with db.session() as s:
        s.add(Repo(type="dataset", namespace="a", name="b", storage_key="k"))
        s.flush()
        jobs.enqueue(s, "ok", 1, "a" * 40)
        jobs.enqueue(s, "bad", 1, "b" * 40)

    def bad(hub: object, job: object) -> None:
        raise ValueError("no good")

    w = jobs.Worker(_Hub(db), {"ok": lambda hub, job: None, "bad": bad})
    with caplog.at_level(logging.INFO, logger="agora.jobs"):
        assert w.run_once() and w.run_once() and not w.run_once()
    text = caplog.text
    assert "job 1 ok repo=1 rev=aaaaaaaaaaaa attempt=1: done in" in text
    assert "job 2 bad repo=1 rev=bbbbbbbbbbbb attempt=1: failed after" in text and "no good" in text


def test_request_id_on_the_guards_own_answers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The layers around the router answer too (headers.Guard: a file path asked on the pages' host, its
    last-resort 500): under the app's RequestIds those answers carry an id and a log line of their own."""
    from agora.config import Settings
    from agora.http.headers import USERCONTENT_PREFIX, Guard
    from agora.http.routing import RequestIds

    settings = Settings.from_env(tmp_path)
    settings.usercontent_url = "http://files.example"

    async def crash(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("outside the router")

    install_request_id_logging()
    app = RequestIds(Guard(_app(), settings))
    with caplog.at_level(logging.INFO), TestClient(app, raise_server_exceptions=False) as c:
        wrong_host = c.get(f"{USERCONTENT_PREFIX}/x", headers={"X-Request-Id": "guard-1"})
        ok = c.get("/ok")
    assert wrong_host.status_code == 404 and wrong_host.headers["x-request-id"] == "guard-1"
    assert ok.headers["x-request-id"] and "," not in ok.headers["x-request-id"]  # one id, not two
    (line,) = [r for r in caplog.records if r.name == "agora.http.answers"]
    assert line.request_id == "guard-1" and "answered 404 NotFound" in line.getMessage()  # type: ignore[attr-defined]
    crashing = TestClient(RequestIds(Guard(crash, settings)), raise_server_exceptions=False)  # type: ignore[arg-type]
    boom = crashing.get("/anything", headers={"X-Request-Id": "guard-2"})  # no lifespan: no `with`
    assert boom.status_code == 500 and boom.headers["x-request-id"] == "guard-2"


def test_one_request_id_when_the_answer_had_one() -> None:
    """An answer that already names a request id (a Space's app through the proxy) leaves with ours only:
    two X-Request-Id headers would make the id the client prints ambiguous."""
    from agora.http.routing import RequestIds

    async def app_with_its_own_id(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-request-id", b"app-1")]})
        await send({"type": "http.response.body", "body": b"ok"})

    r = TestClient(RequestIds(app_with_its_own_id)).get("/", headers={"X-Request-Id": "hub-1"})
    assert r.headers.get_list("x-request-id") == ["hub-1"]
