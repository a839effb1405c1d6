"""gradio and streamlit Spaces run for real on the session's server (issue 16): pushed with git, built with uv
(from the machine's configured package index), started in their sandbox, reached through Agora's proxy by
gradio_client, by a WebSocket and by Chromium; a broken build and a crashing app say why in their logs.

Marked `spaces`: they run once, in the first pass of `make test` (not again in the scale pass)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from agora.spaces import missing

pytestmark = [pytest.mark.spaces, pytest.mark.skipif(bool(missing()), reason="; ".join(missing()) or "ok")]

GRADIO = "6.31.0"
STREAMLIT = "1.67.0"
APP = """import gradio as gr


def greet(name):
    return f"{GREETING}, {name}!"


gr.Interface(fn=greet, inputs=gr.Textbox(label="Name"), outputs=gr.Textbox(label="Greeting")).launch()
"""
TERMINAL = ("RUNNING", "BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "PAUSED")


def card(sdk: str, version: str) -> str:
    return f"---\ntitle: Demo\nemoji: 🚀\ncolorFrom: blue\ncolorTo: green\nsdk: {sdk}\nsdk_version: {version}\n---\n"


def wait_stage(
    api: HfApi, rid: str, after: Callable[[Any], bool] = lambda rt: True, timeout: float = 300
) -> Any:
    """The Space's runtime once it reaches a terminal stage (and `after` holds: e.g. a new commit runs)."""
    end = time.monotonic() + timeout
    while True:
        rt = api.get_space_runtime(rid)
        if rt.stage in TERMINAL and after(rt):
            return rt
        assert time.monotonic() < end, f"{rid} stayed {rt.stage}: {rt.raw}"
        time.sleep(0.5)


def git(*args: str, cwd: Path) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"git {' '.join(args)}: {p.stdout}{p.stderr}"
    return p.stdout.strip()


def pushed(api: HfApi, rid: str, work: Path) -> None:
    """Push `work`'s main and wait until the Hub's info shows it (a push is derived just after it lands)."""
    git("push", "-q", "origin", "main", cwd=work)
    sha = git("rev-parse", "HEAD", cwd=work)
    end = time.monotonic() + 30
    while api.space_info(rid).sha != sha:
        assert time.monotonic() < end, "the push did not show"
        time.sleep(0.2)


def test_gradio_space_pushed_with_git(server: Any, api: HfApi, alice: str, tmp_path: Path) -> None:
    """Pushed with git, it builds and runs; gradio_client's Client("alice/...") predicts through Agora; a
    second push is live once rebuilt; the build and run logs are there."""
    from gradio_client import Client

    rid = "alice/gradio-demo"
    api.create_repo(rid, repo_type="space", space_sdk="gradio")
    host = server.url.split("://", 1)[1]
    work = tmp_path / "demo"
    git("clone", f"http://alice:{alice}@{host}/spaces/{rid}", str(work), cwd=tmp_path)
    (work / "README.md").write_text(card("gradio", GRADIO))
    (work / "app.py").write_text(APP.replace("{GREETING}", "Hello"))
    git("add", "-A", cwd=work)
    git("commit", "-qm", "a gradio app", cwd=work)
    started = time.monotonic()
    pushed(api, rid, work)
    rt = wait_stage(api, rid)
    assert rt.stage == "RUNNING", rt.raw
    print(f"gradio Space RUNNING {time.monotonic() - started:.1f} s after its push")
    assert Client(rid, verbose=False).predict("Agora", api_name="/greet") == "Hello, Agora!"
    build = "\n".join(str(e) for e in api.fetch_space_logs(rid, build=True))
    assert "Build Queued" in build and "Installed" in build, build
    run = "\n".join(str(e) for e in api.fetch_space_logs(rid))
    assert "Application Startup" in run and "7860" in run, run

    (work / "app.py").write_text(APP.replace("{GREETING}", "Hi"))
    git("commit", "-qam", "another greeting", cwd=work)
    pushed(api, rid, work)
    head = api.space_info(rid).sha
    wait_stage(api, rid, after=lambda rt: rt.stage != "RUNNING" or _running_sha(server, rid) == head)
    assert Client(rid, verbose=False).predict("Agora", api_name="/greet") == "Hi, Agora!"


def _running_sha(server: Any, rid: str) -> str | None:
    """The commit of the Space's last build: its build log's first line names it."""
    with httpx.stream("GET", f"{server.url}/api/spaces/{rid}/logs/build", timeout=10) as r:
        for line in r.iter_lines():
            if "Commit SHA: " in line:
                return line.split("Commit SHA: ", 1)[1].split(" ", 1)[0]
    return None


def test_broken_requirements_and_crashing_app_say_why(api: HfApi) -> None:
    """A requirement that does not exist: BUILD_ERROR, uv's error in the build log. An app that raises at
    start: RUNTIME_ERROR, its traceback in the run log."""
    broken, crash = "alice/gradio-broken", "alice/gradio-crash"
    for rid, files in (
        (broken, {"requirements.txt": b"agora-no-such-package-anywhere==9.9.9\n", "app.py": b"print(1)\n"}),
        (crash, {"app.py": b"import gradio\nraise RuntimeError('boom at start')\n"}),
    ):
        api.create_repo(rid, repo_type="space", space_sdk="gradio")
        ops = [CommitOperationAdd("README.md", card("gradio", GRADIO).encode())]
        ops += [CommitOperationAdd(p, d) for p, d in files.items()]
        api.create_commit(rid, ops, commit_message="app", repo_type="space")
    rt = wait_stage(api, broken)
    assert rt.stage == "BUILD_ERROR", rt.raw
    build = "\n".join(str(e) for e in api.fetch_space_logs(broken, build=True))
    assert "agora-no-such-package-anywhere" in build and "Build failed" in build, build
    rt = wait_stage(api, crash)
    assert rt.stage == "RUNTIME_ERROR", rt.raw
    run = "\n".join(str(e) for e in api.fetch_space_logs(crash))
    assert "RuntimeError: boom at start" in run and "Traceback" in run, run
