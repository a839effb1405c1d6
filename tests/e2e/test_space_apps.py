"""gradio and streamlit Spaces in Chromium (issue 16): the seed's Space moment, typing into a Gradio app on its
Space page and reading its answer through Agora's proxy, and a Streamlit app, which talks over a WebSocket.

Marked `spaces` (real builds and sandboxes): first pass only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Page

from agora.spaces import missing

from ..spaces.test_spaces_run import APP, GRADIO, STREAMLIT, card, wait_stage
from .conftest import login, snap

pytestmark = [pytest.mark.spaces, pytest.mark.skipif(bool(missing()), reason="; ".join(missing()) or "ok")]


def space(api: HfApi, rid: str, sdk: str, version: str, app: bytes, private: bool = False) -> None:
    api.create_repo(rid, repo_type="space", space_sdk=sdk, exist_ok=True, private=private)
    ops = [CommitOperationAdd("README.md", card(sdk, version).encode()), CommitOperationAdd("app.py", app)]
    api.create_commit(rid, ops, commit_message="app", repo_type="space")
    time.sleep(0.5)  # the push's job is queued: the runtime says BUILDING from now on
    rt = wait_stage(api, rid)
    assert rt.stage == "RUNNING", rt.raw


def greeted(page: Page) -> None:
    """Type a name into the Space page's Gradio app, press Submit, read "Hello, <name>!" from its output."""
    app = page.frame_locator("iframe.space-frame")
    app.get_by_label("Name").fill("Chromium")
    app.get_by_role("button", name="Submit").click()
    out = app.get_by_label("Greeting")
    deadline = time.monotonic() + 30
    while out.input_value() != "Hello, Chromium!" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert out.input_value() == "Hello, Chromium!"


def opened(new_page: Callable[..., Page], rid: str, private: bool) -> Page:
    """The Space's page, as an anonymous visitor, or for a private Space as its owner (logged in): its app's
    frame then opens through a signed path, never with the owner's cookie."""
    page = new_page("alice" if private else "anon")
    if private:
        login(page, "alice")
    page.goto(f"/spaces/{rid}")
    if private:
        assert "/app/~" in (page.locator("iframe.space-frame").get_attribute("src") or "")
    return page


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_gradio_space_in_chromium(api: HfApi, new_page: Callable[..., Page], private: bool) -> None:
    """Open the Space's page, type a name into the app's textbox, press Submit, read the greeting."""
    rid = f"alice/e2e-gradio-{'private' if private else 'public'}"
    space(api, rid, "gradio", GRADIO, APP.replace("{GREETING}", "Hello").encode(), private)
    page = opened(new_page, rid, private)
    greeted(page)
    snap(page, f"gradio-running{'-private' if private else ''}")
    api.pause_space(rid)  # the session's server runs a few apps at most


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_streamlit_space_over_its_websocket(
    server: Any, api: HfApi, new_page: Callable[..., Page], private: bool
) -> None:
    """Its page shows the app (Streamlit renders through one WebSocket, proxied, a private Space's through its
    signed path); its health check answers (a private one's only through that path)."""
    rid = f"alice/e2e-streamlit-{'private' if private else 'public'}"
    app = b'import streamlit as st\n\nname = st.text_input("Name", "Agora")\nst.write(f"Hello, {name}!")\n'
    space(api, rid, "streamlit", STREAMLIT, app, private)
    health = httpx.get(f"{server.url}/spaces/{rid}/app/_stcore/health", timeout=30)
    assert (health.status_code, health.text) == ((404, health.text) if private else (200, "ok"))
    if private:
        signed = api.space_info(rid).host
        assert signed and httpx.get(signed + "_stcore/health", timeout=30).text == "ok"
    page = opened(new_page, rid, private)
    frame = page.frame_locator("iframe.space-frame")
    frame.get_by_text("Hello, Agora!").wait_for(timeout=60_000)
    snap(page, f"streamlit-running{'-private' if private else ''}")
    api.pause_space(rid)


def test_logs_stream_live_on_the_space_page(api: HfApi, new_page: Callable[..., Page]) -> None:
    """While a Space is on its way its page follows the log as it is written (no reload): an app that prints a
    line every 0.3 s and never answers stays APP_STARTING, and its lines keep arriving in the page."""
    rid = "alice/e2e-ticks"
    api.create_repo(rid, repo_type="space", space_sdk="gradio")
    app = b"import time\n\nfor i in range(100000):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.3)\n"
    ops = [
        CommitOperationAdd("README.md", card("gradio", GRADIO).encode()),
        CommitOperationAdd("app.py", app),
    ]
    api.create_commit(rid, ops, commit_message="ticks", repo_type="space")
    page = new_page("anon")
    page.goto(f"/spaces/{rid}")  # BUILDING or APP_STARTING: the build log, then (htmx) the run log
    log = page.locator("pre#space-log-run[data-following]")
    log.wait_for(timeout=300_000)

    def ticks() -> int:
        return log.inner_text().count("tick ")

    page.wait_for_function(
        "() => (document.querySelector('#space-log-run')?.textContent.match(/tick /g) || []).length >= 3"
    )
    seen = ticks()
    page.wait_for_function(
        f"() => (document.querySelector('#space-log-run')?.textContent.match(/tick /g) || []).length >= {seen + 5}"
    )
    assert "Application Startup" in log.inner_text()  # streamed from the log's start
    snap(page, "space-log-live")
    api.pause_space(rid)
