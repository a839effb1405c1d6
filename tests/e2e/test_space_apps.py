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
from .conftest import snap

pytestmark = [pytest.mark.spaces, pytest.mark.skipif(bool(missing()), reason="; ".join(missing()) or "ok")]


def space(api: HfApi, rid: str, sdk: str, version: str, app: bytes) -> None:
    api.create_repo(rid, repo_type="space", space_sdk=sdk, exist_ok=True)
    ops = [CommitOperationAdd("README.md", card(sdk, version).encode()), CommitOperationAdd("app.py", app)]
    api.create_commit(rid, ops, commit_message="app", repo_type="space")
    time.sleep(0.5)  # the push's job is queued: the runtime says BUILDING from now on
    rt = wait_stage(api, rid)
    assert rt.stage == "RUNNING", rt.raw


def test_gradio_space_in_chromium(api: HfApi, new_page: Callable[..., Page]) -> None:
    """Open the Space's page, type a name into the app's textbox, press Submit, read the greeting."""
    rid = "alice/e2e-gradio"
    space(api, rid, "gradio", GRADIO, APP.replace("{GREETING}", "Hello").encode())
    page = new_page("anon")
    page.goto(f"/spaces/{rid}")
    app = page.frame_locator("iframe.space-frame")
    app.get_by_label("Name").fill("Chromium")
    app.get_by_role("button", name="Submit").click()
    out = app.get_by_label("Greeting")
    deadline = time.monotonic() + 30
    while out.input_value() != "Hello, Chromium!" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert out.input_value() == "Hello, Chromium!"
    snap(page, "gradio-running")
    api.pause_space(rid)  # the session's server runs a few apps at most


def test_streamlit_space_over_its_websocket(server: Any, api: HfApi, new_page: Callable[..., Page]) -> None:
    """Its page shows the app (Streamlit renders through one WebSocket, proxied); its health check answers."""
    rid = "alice/e2e-streamlit"
    app = b'import streamlit as st\n\nname = st.text_input("Name", "Agora")\nst.write(f"Hello, {name}!")\n'
    space(api, rid, "streamlit", STREAMLIT, app)
    health = httpx.get(f"{server.url}/spaces/{rid}/app/_stcore/health", timeout=30)
    assert health.status_code == 200 and health.text == "ok"
    page = new_page("anon")
    page.goto(f"/spaces/{rid}")
    frame = page.frame_locator("iframe.space-frame")
    frame.get_by_text("Hello, Agora!").wait_for(timeout=60_000)
    snap(page, "streamlit-running")
    api.pause_space(rid)
