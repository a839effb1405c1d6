"""Web authentication (issue 12, items 2, 7 and 8): web forms take the session cookie only, per-visitor CSRF
tokens and an Origin check, log-in throttling shared by every process, constant-time failures, server-side
sessions (logout, password change, disabled users) and the admin commands.

The throttling tests run against their own pair of `agora serve` processes on one data folder, with small
thresholds, so that the shared server's users are never slowed down: process A trusts 127.0.0.1 as a proxy (each
test names its own client address in X-Forwarded-For), process B trusts nobody.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import secrets
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..conftest import ROOT, Server, _free_port, agora, start_server, stop_server

_n = itertools.count(1)


def fresh_user(data: Path, password: str) -> str:
    name = f"wa{os.getpid() % 10000}x{next(_n)}{secrets.token_hex(2)}"
    agora("user", "add", name, "--password-stdin", data=data, stdin=f"{password}\n")
    return name


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=False, timeout=60)


def csrf_of(c: httpx.Client, path: str = "/login") -> str:
    r = c.get(path)
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text)
    assert m, f"no CSRF field on {path}: {r.status_code}"
    return m.group(1)


def login(c: httpx.Client, user: str, password: str, **headers: str) -> httpx.Response:
    return c.post(
        "/login", data={"csrf": csrf_of(c), "username": user, "password": password}, headers=headers
    )


def logged_in_as(c: httpx.Client) -> str | None:
    r = c.get("/settings/tokens")
    if r.status_code != 200:
        return None
    m = re.search(r"<summary[^>]*>\s*([^<\s]+)\s*</summary>", r.text)
    return m.group(1) if m else None


def whoami(url: str, token: str) -> int:
    return httpx.get(f"{url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}).status_code


# ---- item 2: a token never drives a web form ----------------------------------------------------------------
def test_read_token_cannot_create_tokens_through_the_form(server: Server) -> None:
    user = fresh_user(server.data, "reader-password")
    read = agora("token", "create", user, "--role", "read", "--name", "ro", data=server.data)
    before = agora("token", "list", user, data=server.data)
    with client(server.url) as c:
        csrf = csrf_of(c)  # the anonymous visitor's token, with its cookie
        for auth in (f"Bearer {read}", "Basic " + base64.b64encode(f"{user}:{read}".encode()).decode()):
            r = c.post(
                "/settings/tokens",
                data={"csrf": csrf, "name": "minted", "role": "write"},
                headers={"authorization": auth},
            )
            assert r.status_code in (401, 403), (r.status_code, r.headers.get("location"))
            r = c.post(
                "/settings/tokens",
                data={"csrf": csrf, "action": "revoke", "name": "ro"},
                headers={"authorization": auth, "x-csrf-token": csrf},
            )
            assert r.status_code in (401, 403)
        # Other account-changing forms refuse a token the same way.
        r = c.post(
            "/organizations/new",
            data={"csrf": csrf, "name": f"{user}-org"},
            headers={"authorization": f"Bearer {read}"},
        )
        assert r.status_code in (401, 403)
        r = c.post(
            "/new", data={"csrf": csrf, "name": "via-token"}, headers={"authorization": f"Bearer {read}"}
        )
        assert r.status_code in (401, 403)
    assert agora("token", "list", user, data=server.data) == before
    assert whoami(server.url, read) == 200  # the read token still works on the API


def test_write_token_cannot_drive_web_forms_either(server: Server) -> None:
    user = fresh_user(server.data, "writer-password")
    write = agora("token", "create", user, "--role", "write", "--name", "rw", data=server.data)
    before = agora("token", "list", user, data=server.data)
    with client(server.url) as c:
        csrf = csrf_of(c)
        r = c.post(
            "/settings/tokens",
            data={"csrf": csrf, "name": "minted", "role": "write"},
            headers={"authorization": f"Bearer {write}"},
        )
        assert r.status_code in (401, 403)
    assert agora("token", "list", user, data=server.data) == before


# ---- item 7: login CSRF -------------------------------------------------------------------------------------
def test_anonymous_csrf_is_per_visitor(server: Server) -> None:
    user = fresh_user(server.data, "visitor-password")
    with client(server.url) as a, client(server.url) as b:
        ta, tb = csrf_of(a), csrf_of(b)
        assert ta != tb
        assert a.cookies.get("agora_csrf") and a.cookies.get("agora_csrf") != b.cookies.get("agora_csrf")
        assert csrf_of(a) == ta  # stable for one visitor
        # A's token (an attacker's) does not validate for B (the victim), with or without B's cookie.
        r = b.post("/login", data={"csrf": ta, "username": user, "password": "visitor-password"})
        assert r.status_code == 403 and "agora_session" not in r.cookies
        with client(server.url) as fresh:  # a victim who never visited: no cookie at all
            r = fresh.post("/login", data={"csrf": ta, "username": user, "password": "visitor-password"})
            assert r.status_code == 403 and "agora_session" not in r.cookies
        r = b.post("/login", data={"csrf": tb, "username": user, "password": "visitor-password"})
        assert r.status_code == 303 and r.cookies.get("agora_session")


def test_login_from_a_foreign_origin_is_refused(server: Server) -> None:
    user = fresh_user(server.data, "origin-password")
    with client(server.url) as c:
        for headers in (
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"referer": "https://evil.example/page"},
        ):
            r = login(c, user, "origin-password", **headers)
            assert r.status_code == 403, headers
            assert "agora_session" not in r.cookies
        r = login(c, user, "origin-password", origin=server.url)
        assert r.status_code == 303 and r.cookies.get("agora_session")
        # Logged in, a foreign Origin is refused on every other form too (here: a new token).
        csrf = csrf_of(c, "/settings/tokens")
        r = c.post(
            "/settings/tokens", data={"csrf": csrf, "name": "x"}, headers={"origin": "https://evil.example"}
        )
        assert r.status_code == 403
        r = c.post("/settings/tokens", data={"csrf": csrf, "name": "ok"}, headers={"origin": server.url})
        assert r.status_code == 303
    assert "ok" in agora("token", "list", user, data=server.data)
    assert "\tx\t" not in agora("token", "list", user, data=server.data)


def test_login_csrf_from_a_foreign_page_in_chromium(server: Server, browser) -> None:  # type: ignore[no-untyped-def]
    """A foreign page auto-posts the Hub's log-in form with the attacker's account and a token the attacker
    fetched: the victim's browser must not end up logged in as the attacker."""
    attacker = fresh_user(server.data, "attacker-password")
    with client(server.url) as c:
        token = csrf_of(c)
    evil = f"""<html><body><form id=f method=post action="{server.url}/login">
      <input name=csrf value="{token}"><input name=username value="{attacker}">
      <input name=password value="attacker-password"><input name=next value="/"></form>
      <script>document.getElementById('f').submit()</script></body></html>"""
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/")  # the victim has visited the Hub before (has its own CSRF cookie)
        page.route("http://evil.test/**", lambda route: route.fulfill(body=evil, content_type="text/html"))
        page.goto("http://evil.test/")
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        page.goto(f"{server.url}/settings/tokens")
        assert "/login" in page.url, "the victim was logged in as the attacker"
        assert not any(ck["name"] == "agora_session" for ck in ctx.cookies())
    finally:
        ctx.close()


# ---- item 8: sessions ---------------------------------------------------------------------------------------
def test_logout_makes_the_old_cookie_useless(server: Server) -> None:
    user = fresh_user(server.data, "logout-password")
    with client(server.url) as c:
        assert login(c, user, "logout-password").status_code == 303
        cookie = c.cookies["agora_session"]
        assert logged_in_as(c) == user
        r = c.post("/logout", data={"csrf": csrf_of(c, "/settings/tokens")})
        assert r.status_code == 303
    with client(server.url) as replay:
        replay.cookies.set("agora_session", cookie)
        r = replay.get("/settings/tokens")
        assert r.status_code == 303 and "/login" in r.headers["location"]
        assert logged_in_as(replay) is None


def test_set_password_revokes_sessions(server: Server) -> None:
    user = fresh_user(server.data, "first-password")
    with client(server.url) as c, client(server.url) as other:
        assert login(c, user, "first-password").status_code == 303
        assert login(other, user, "first-password").status_code == 303
        agora("user", "set-password", user, "--password-stdin", data=server.data, stdin="second-password\n")
        assert logged_in_as(c) is None and logged_in_as(other) is None
    with client(server.url) as c:
        assert login(c, user, "first-password").status_code == 401
        assert login(c, user, "second-password").status_code == 303
        assert logged_in_as(c) == user


def test_change_password_form_revokes_other_sessions(server: Server) -> None:
    user = fresh_user(server.data, "form-password-1")
    with client(server.url) as me, client(server.url) as laptop:
        assert login(me, user, "form-password-1").status_code == 303
        assert login(laptop, user, "form-password-1").status_code == 303
        csrf = csrf_of(me, "/settings/password")
        r = me.post(
            "/settings/password",
            data={
                "csrf": csrf,
                "current_password": "wrong-one",
                "new_password": "form-password-2",
                "confirm_password": "form-password-2",
            },
        )
        assert r.status_code == 400 and logged_in_as(laptop) == user
        r = me.post(
            "/settings/password",
            data={
                "csrf": csrf,
                "current_password": "form-password-1",
                "new_password": "form-password-2",
                "confirm_password": "form-password-2",
            },
        )
        assert r.status_code == 200
        assert logged_in_as(me) == user  # this session stays
        assert logged_in_as(laptop) is None  # the others end
    with client(server.url) as c:
        assert login(c, user, "form-password-1").status_code == 401
        assert login(c, user, "form-password-2").status_code == 303


def test_disabled_user_cannot_log_in_nor_use_tokens(server: Server) -> None:
    user = fresh_user(server.data, "disabled-password")
    token = agora("token", "create", user, "--role", "write", data=server.data)
    r = httpx.post(
        f"{server.url}/api/repos/create",
        json={"name": "kept", "private": True},
        headers={"authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    remote = f"http://x:{token}@{server.url.removeprefix('http://')}/{user}/kept"

    def git_ok() -> bool:
        return subprocess.run(["git", "ls-remote", remote], capture_output=True).returncode == 0

    assert git_ok()
    with client(server.url) as c:
        assert login(c, user, "disabled-password").status_code == 303
        agora("user", "disable", user, data=server.data)
        assert logged_in_as(c) is None  # the open session ended
        assert whoami(server.url, token) == 401
        assert not git_ok()
    with client(server.url) as c:
        r = login(c, user, "disabled-password")
        assert r.status_code in (401, 403) and "agora_session" not in r.cookies
        agora("user", "enable", user, data=server.data)
        assert whoami(server.url, token) == 200
        assert git_ok()
        assert login(c, user, "disabled-password").status_code == 303
        assert logged_in_as(c) == user


# ---- item 8: throttling, on a pair of dedicated processes ------------------------------------------------------
ACCOUNT_MAX, IP_MAX, WINDOW = 10, 8, 120


@dataclass
class Pair:
    a: str  # trusts 127.0.0.1 as a proxy: X-Forwarded-For names the client
    b: str  # trusts nobody
    data: Path


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    if os.environ.get("AGORA_TEST_STACK"):
        pytest.skip("the throttling pair runs on SQLite in its own data folder")
    data = ROOT / f"webauth-{secrets.token_hex(3)}"
    data.mkdir()
    agora("migrate", data=data)
    env = {
        "AGORA_LOGIN_MAX_FAILURES": str(ACCOUNT_MAX),
        "AGORA_LOGIN_IP_MAX_FAILURES": str(IP_MAX),
        "AGORA_LOGIN_WINDOW_SECONDS": str(WINDOW),
        "AGORA_JOBS": "0",
    }
    pa, pb = _free_port(), _free_port()
    procs = [
        start_server(data, pa, ROOT / "webauth-a.log", {**env, "AGORA_TRUSTED_PROXIES": "127.0.0.1/32"}),
        start_server(data, pb, ROOT / "webauth-b.log", {**env, "AGORA_TRUSTED_PROXIES": ""}),
    ]
    try:
        yield Pair(f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}", data)
    finally:
        for p in procs:
            stop_server(p)


_ips = (f"10.{i // 250}.{i % 250}.7" for i in itertools.count(1))  # one client address per try


def test_wrong_passwords_get_429_then_the_window_reopens(pair: Pair) -> None:
    user = fresh_user(pair.data, "right-password")
    with client(pair.a) as c:
        for i in range(ACCOUNT_MAX):  # a distributed guesser: a new address every try
            r = login(c, user, f"guess-{i}", **{"x-forwarded-for": next(_ips)})
            assert r.status_code == 401, i
        r = login(c, user, "guess-x", **{"x-forwarded-for": next(_ips)})
        assert r.status_code == 429
        retry = int(r.headers["retry-after"])
        assert 0 < retry <= WINDOW
        # Even the right password waits (nothing is checked while throttled), but only until Retry-After.
        r = login(c, user, "right-password", **{"x-forwarded-for": next(_ips)})
        assert r.status_code == 429 and "agora_session" not in r.cookies
        time.sleep(retry + 1)
        r = login(c, user, "right-password", **{"x-forwarded-for": next(_ips)})
        assert r.status_code == 303 and r.cookies.get("agora_session")


def test_delays_grow_past_the_limit(pair: Pair) -> None:
    user = fresh_user(pair.data, "right-password")
    with client(pair.a) as c:
        for i in range(ACCOUNT_MAX):
            assert login(c, user, f"guess-{i}", **{"x-forwarded-for": next(_ips)}).status_code == 401
        first = int(login(c, user, "x", **{"x-forwarded-for": next(_ips)}).headers["retry-after"])
        time.sleep(first + 1)
        assert login(c, user, "still-wrong", **{"x-forwarded-for": next(_ips)}).status_code == 401
        r = login(c, user, "x", **{"x-forwarded-for": next(_ips)})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > first


def test_per_ip_throttle_behind_a_trusted_proxy(pair: Pair) -> None:
    user = fresh_user(pair.data, "right-password")
    ip = next(_ips)
    with client(pair.a) as c:
        for i in range(IP_MAX):  # one address tries many user names
            r = login(c, f"nobody-{secrets.token_hex(3)}", "pw", **{"x-forwarded-for": f"203.0.113.9, {ip}"})
            assert r.status_code == 401, i
        r = login(c, user, "right-password", **{"x-forwarded-for": ip})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        # Another client behind the same proxy is not slowed.
        assert login(c, user, "right-password", **{"x-forwarded-for": next(_ips)}).status_code == 303


def test_failures_add_up_across_processes(pair: Pair) -> None:
    user = fresh_user(pair.data, "right-password")
    with client(pair.a) as a, client(pair.b) as b:
        for i in range(ACCOUNT_MAX):
            c = a if i % 2 else b
            headers = {"x-forwarded-for": next(_ips)} if c is a else {}
            assert login(c, user, f"guess-{i}", **headers).status_code == 401, i
        # Five failures on each process: each is past the limit only if the counters are shared.
        assert login(a, user, "x", **{"x-forwarded-for": next(_ips)}).status_code == 429
        assert login(b, user, "x").status_code == 429


def test_forwarded_for_is_ignored_without_a_trusted_proxy(pair: Pair) -> None:
    with client(pair.b) as c:
        statuses = [
            login(c, f"nobody-{secrets.token_hex(3)}", "pw", **{"x-forwarded-for": next(_ips)}).status_code
            for _ in range(IP_MAX + 1)
        ]
    assert statuses[-1] == 429  # every try counted against the peer, whatever X-Forwarded-For claimed


def test_missing_user_costs_the_same_as_a_wrong_password(pair: Pair) -> None:
    user = fresh_user(pair.data, "right-password")

    def timed(name: str) -> float:
        with client(pair.a) as c:
            data = {"csrf": csrf_of(c), "username": name, "password": "wrong-password"}
            t = time.perf_counter()
            r = c.post("/login", data=data, headers={"x-forwarded-for": next(_ips)})
            elapsed = time.perf_counter() - t
            assert r.status_code == 401
            return elapsed

    timed(user)  # warm up
    missing = statistics.median(timed(f"ghost-{secrets.token_hex(4)}") for _ in range(4))
    wrong = statistics.median(timed(user) for _ in range(4))
    assert missing > 0.03 and wrong > 0.03, (missing, wrong)
    assert 0.4 < missing / wrong < 2.5, (missing, wrong)
