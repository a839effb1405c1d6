"""A webhook receiver for the tests: a threaded http.server on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A webhook receiver: records each POST (headers, JSON body, time), answers the next of `codes` (then
    200)."""

    def __init__(self, codes: tuple[int, ...] = ()) -> None:
        self.codes = list(codes)
        self.posts: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = outer.codes.pop(0) if outer.codes else 200
                outer.posts.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(body),
                        "at": time.monotonic(),
                    }
                )
                self.send_response(code)
                if 300 <= code < 400:  # a redirect the sender must not follow
                    self.send_header("Location", "/redirected")
                self.end_headers()
                self.wfile.write(b"got it" if code == 200 else b"broken")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.posts:
                if pred(p["json"]):
                    return p
            time.sleep(0.1)
        raise AssertionError(f"no matching delivery; got {[p['json']['event'] for p in self.posts]}")

    def close(self) -> None:
        self.httpd.shutdown()
