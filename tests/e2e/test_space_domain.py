"""AGORA_SPACES_DOMAIN (issue 16): each Space's app on an origin of its own, `{owner}--{name}.<domain>`, a
site apart from the Hub's. A Hub of its own here, with the domain `spaces.localhost:<port>` (Chromium takes
any `*.localhost` for this machine; Python's resolver does not, so the gradio_client test maps those names to
127.0.0.1 for its own process).

- space_info's `host` names the Space's origin, and gradio_client's Client("alice/...") works through it;
  Gradio's root is that origin (a private Space's with its capability in the path).
- The Hub's own `/spaces/{id}/app/…` paths redirect there; nothing of the Hub answers on a Space host.
- The Space page frames the app from its origin (the page's CSP allows those hosts), and Chromium uses it.

Marked `spaces` (real builds and sandboxes): first pass only."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from agora.spaces import missing

from ..conftest import Site, kill_group, new_site, start_killable
from ..spaces.test_spaces_run import APP, GRADIO, card, wait_stage
from .test_space_apps import greeted

pytestmark = [pytest.mark.spaces, pytest.mark.skipif(bool(missing()), reason="; ".join(missing()) or "ok")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("domain")
    s = new_site(tmp / "data", "alice", tmp / "server.log")
    root = Path(tempfile.mkdtemp(prefix="agora-test-spaces-domain-"))  # one spaces root per Hub
    root.chmod(0o755)
    env = {"AGORA_SPACES_ROOT": str(root), "AGORA_SPACES_DOMAIN": f"http://spaces.localhost:{s.port}"}
    proc = start_killable(s.data, s.port, s.log, env=env)
    yield s
    kill_group(proc)


@pytest.fixture(scope="module")
def demo(site: Site) -> str:
    """A public gradio Space of that Hub, running."""
    gradio_space(HfApi(endpoint=site.endpoint, token=site.token), "alice/Dom_Demo", "Hello")
    return "alice/Dom_Demo"


def space_host(site: Site, label: str) -> str:
    return f"http://{label}.spaces.localhost:{site.port}"


@pytest.fixture
def resolve_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """`*.localhost` is this machine (as browsers take it), for this test process's own connections."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def gradio_space(api: HfApi, rid: str, greeting: str, private: bool = False) -> None:
    api.create_repo(rid, repo_type="space", space_sdk="gradio", private=private)
    ops = [CommitOperationAdd("README.md", card("gradio", GRADIO).encode()),
           CommitOperationAdd("app.py", APP.replace("{GREETING}", greeting).encode())]  # fmt: skip
    api.create_commit(rid, ops, commit_message="app", repo_type="space")
    time.sleep(0.5)
    assert wait_stage(api, rid).stage == "RUNNING"


def test_gradio_space_on_its_own_origin(
    site: Site, demo: str, resolve_localhost: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.hf_api
    from gradio_client import Client

    # gradio_client asks huggingface_hub's module-level client (HF_ENDPOINT, read at import) for the Space
    monkeypatch.setattr(huggingface_hub.hf_api.api, "endpoint", site.endpoint)
    api = HfApi(endpoint=site.endpoint, token=site.token)
    origin = space_host(site, "alice--dom-demo")
    assert api.space_info("alice/Dom_Demo").host == origin + "/"
    config = httpx.get(origin + "/config", timeout=30).json()
    assert config["root"] == origin
    assert Client("alice/Dom_Demo", verbose=False).predict("Agora", api_name="/greet") == "Hello, Agora!"
    # the Hub's path to the app goes to the Space's origin; the Hub does not answer on a Space host
    r = httpx.get(f"{site.endpoint}/spaces/alice/Dom_Demo/app/config?x=1")
    assert r.status_code == 308 and r.headers["location"] == origin + "/config?x=1"
    hub_path = httpx.get(origin + "/api/whoami-v2", headers={"Authorization": f"Bearer {site.token}"})
    assert "alice" not in hub_path.text and hub_path.status_code == 404
    assert httpx.get(space_host(site, "nobody--here") + "/").status_code == 404
    # a private Space: its origin answers only through the capability space_info gives its readers
    gradio_space(api, "alice/dom-private", "Psst", private=True)
    host = api.space_info("alice/dom-private").host
    assert host and host.startswith(space_host(site, "alice--dom-private") + "/~")
    assert httpx.get(host + "config", timeout=30).json()["root"] == host.rstrip("/")
    assert (
        Client("alice/dom-private", token=site.token, verbose=False).predict("A", api_name="/greet")
        == "Psst, A!"
    )
    bare = httpx.get(space_host(site, "alice--dom-private") + "/config", timeout=30)
    assert bare.status_code == 404 and "Psst" not in bare.text
    api.pause_space("alice/dom-private")


def test_space_page_frames_its_own_origin(site: Site, demo: str, browser: Any) -> None:
    """Chromium: the Space page's frame comes from the Space's own host, and the app works in it."""
    ctx = browser.new_context(base_url=site.endpoint)
    try:
        page = ctx.new_page()
        page.goto("/spaces/alice/Dom_Demo")
        csp = httpx.get(f"{site.endpoint}/spaces/alice/Dom_Demo").headers["content-security-policy"]
        assert f"frame-src 'self' http://*.spaces.localhost:{site.port}" in csp, csp
        frame = page.locator("iframe.space-frame")
        assert frame.get_attribute("src") == space_host(site, "alice--dom-demo") + "/"
        greeted(page)
    finally:
        ctx.close()
