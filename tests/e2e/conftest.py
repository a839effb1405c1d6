"""Playwright driving Debian's Chromium against the live server of tests/conftest.py (issue 6).

Every page a test visits is kept as a screenshot in tests/artifacts/screenshots/<test>/: tests take them with
`snap(page, label)` after each navigation, and the `page` fixture fails a test that navigated somewhere
without taking one (the last page is shot automatically at teardown).

The browser is launched from /usr/bin/chromium (never `playwright install`), with no network beyond
127.0.0.1 and no background traffic.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, BrowserContext, Page  # noqa: E402

from ..conftest import ARGS, CHROMIUM  # noqa: E402, F401 (the session's one Chromium: tests/conftest.py)

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
TIMEOUT_MS = 10_000


class Shots:
    """The screenshots of one test, numbered in the order the pages were visited."""

    def __init__(self, test_name: str) -> None:
        self.dir = SHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.unshot: dict[Page, list[str]] = {}

    def watch(self, page: Page, who: str) -> None:
        self.unshot[page] = []
        page.on(
            "framenavigated",
            lambda frame: self.unshot[page].append(frame.url) if frame == page.main_frame else None,
        )
        page.__dict__["_agora_who"] = who

    def take(self, page: Page, label: str) -> Path:
        self.n += 1
        who = page.__dict__.get("_agora_who", "")
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.n:02d}-{who}-{label}").strip("-")[:120]
        path = self.dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.unshot[page] = []
        return path

    def missed(self) -> list[str]:
        """Navigations never followed by a screenshot, after shooting each page's last one."""
        out = []
        for page, urls in self.unshot.items():
            if urls and not page.is_closed():
                out += urls[:-1]
                self.take(page, "last-" + urls[-1].rsplit("/", 1)[-1])
            elif urls:
                out += urls
        return out


def snap(page: Page, label: str) -> Path:
    """Screenshot the current page into this test's artefact folder."""
    return page.__dict__["_agora_shots"].take(page, label)  # type: ignore[no-any-return]


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Iterator[Shots]:
    s = Shots(request.node.name)
    yield s
    missed = s.missed()
    assert not missed, f"pages visited without a screenshot: {missed}"


@pytest.fixture
def new_page(browser: Browser, server: Any, shots: Shots) -> Iterator[Callable[..., Page]]:
    """Factory of pages, each in its own browser context (own cookies): new_page("bob") etc."""
    contexts: list[BrowserContext] = []

    def make(who: str = "anon") -> Page:
        ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.__dict__["_agora_shots"] = shots
        shots.watch(page, who)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page("main")


def login(page: Page, user: str, password: str | None = None) -> None:
    """Log in through the /login form, as a person would."""
    page.goto("/login")
    snap(page, "login-form")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password or f"{user}-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert page.locator("details.menu summary").inner_text().strip() == user, "not logged in"
    page.__dict__["_agora_who"] = user
    snap(page, "logged-in")


def logout(page: Page) -> None:
    page.locator("details.menu summary").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    snap(page, "logged-out")
    assert page.get_by_role("link", name="Log in").is_visible()
    page.__dict__["_agora_who"] = "anon"
