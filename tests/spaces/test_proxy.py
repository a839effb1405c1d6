"""http/spaces_proxy.py between real servers: a visitor -> `front` (the proxy, on a TCP port) -> `upstream` (a
Space's app stand-in on a unix socket), both under granian as in production. HTTP bodies, the Hub's
credentials kept from the app, the app's cookies kept from the Hub's origin, server-sent events arriving as
they are sent, WebSocket both ways, and both path rules (Gradio's stripped prefix, Streamlit's kept one)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
GRANIAN = Path(sys.executable).parent / "granian"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} did not start")


def _serve(target: str, env: dict[str, str], *where: str) -> subprocess.Popen[bytes]:
    cmd = [str(GRANIAN), "--interface", "asgi", *where, target]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", **env}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)


@pytest.fixture(params=[False, True], ids=["gradio-rule", "streamlit-rule"])
def front(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, bool]]:
    sock = str(tmp_path / "app.sock")
    up = _serve("tests.spaces.proxy_apps:upstream", {}, "--uds", sock)
    port = _free_port()
    keep = {"KEEP": "1"} if request.param else {}
    fr = _serve("tests.spaces.proxy_apps:front", {"TEST_UPSTREAM": sock, **keep}, "--port", str(port))
    try:
        _wait(lambda: os.path.exists(sock), "the upstream app")
        url = f"http://127.0.0.1:{port}/spaces/alice/demo/app/"
        _wait(lambda: httpx.get(url + "x").status_code == 200, "the proxy")
        yield url, request.param
    finally:
        for p in (fr, up):
            p.terminate()
            p.wait(10)


def test_http_through_the_proxy(front: tuple[str, bool]) -> None:
    url, keep = front
    r = httpx.post(
        url + "some/page?q=1",
        content=b"x" * 300_000,
        headers={
            "Cookie": "agora_session=SECRET",
            "Authorization": "Bearer hf_SECRET",
            "X-Custom": "kept",
            "X-Gradio-Server": "http://evil.example",
            "X-Forwarded-Host": "evil.example",
        },  # fmt: skip
    )
    assert r.status_code == 200
    got = r.json()
    assert got["path"] == ("/spaces/alice/demo/app/some/page" if keep else "/some/page")
    assert got["query"] == "q=1" and got["method"] == "POST" and got["body_length"] == 300_000
    h = got["headers"]
    # the Hub's credentials never reach the app, nor the cookie the app set on an earlier visitor's answer (the
    # readiness check's): the proxy's client keeps no cookie jar
    assert "cookie" not in h and "authorization" not in h, h
    # the app's public root as the visitor reached it, never one the visitor names (Gradio builds its URLs
    # from X-Gradio-Server; X-Forwarded-Host would make it drop the path)
    assert h["x-custom"] == "kept" and "x-forwarded-host" not in h
    assert h["x-gradio-server"] == url.rstrip("/") and url.startswith("http://127.0.0.1:")
    assert h["x-forwarded-prefix"] == "/spaces/alice/demo/app"
    assert "set-cookie" not in r.headers  # the app never sets a cookie on the Hub's origin
    assert r.headers["x-sandboxed"] == "yes"


def test_server_sent_events_arrive_as_sent(front: tuple[str, bool]) -> None:
    url, keep = front
    if keep:
        pytest.skip("the path rule is covered by the HTTP test; the stream is the same")
    times = []
    with httpx.stream("GET", url + "sse", timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                times.append((time.monotonic(), json.loads(line[6:])["i"]))
    assert [i for _, i in times] == [0, 1, 2]
    assert times[2][0] - times[0][0] > 0.45  # not buffered until the end


def test_websocket_both_ways(front: tuple[str, bool]) -> None:
    from websockets.asyncio.client import connect

    url, keep = front

    async def talk() -> list[str | bytes]:
        async with connect(url.replace("http", "ws") + "stream?x=1", subprotocols=["v1"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "v1"
            got = [await ws.recv()]
            await ws.send("ping")
            got.append(await ws.recv())
            await ws.send(b"abc")
            got.append(await ws.recv())
            return got

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: a Playwright test may run a loop in this one
        got = pool.submit(asyncio.run, talk()).result()
    first = "/spaces/alice/demo/app/stream" if keep else "/stream"
    assert got == [f"hello {first}", "echo ping", b"cba"]
