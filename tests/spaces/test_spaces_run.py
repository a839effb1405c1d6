"""gradio and streamlit Spaces run for real on the session's server (issue 16): pushed with git, built with uv
(from the machine's configured package index), started in their sandbox, reached through Agora's proxy by
gradio_client, by a WebSocket and by Chromium; a broken build and a crashing app say why in their logs.

Marked `spaces`: they run once, in the first pass of `make test` (not again in the scale pass)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
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
    assert "Build Queued" in build and "Build done" in build, build
    assert "Installed" in build or "reused" in build, build  # built here, or by an earlier Space with its env
    run = "\n".join(str(e) for e in api.fetch_space_logs(rid))
    assert "Application Startup" in run and "7860" in run, run

    (work / "app.py").write_text(APP.replace("{GREETING}", "Hi"))
    git("commit", "-qam", "another greeting", cwd=work)
    pushed(api, rid, work)
    head = api.space_info(rid).sha
    wait_stage(api, rid, after=lambda rt: rt.stage != "RUNNING" or _running_sha(server, rid) == head)
    assert Client(rid, verbose=False).predict("Agora", api_name="/greet") == "Hi, Agora!"


def test_private_gradio_space_through_its_signed_root(server: Any, api: HfApi, alice: str, bob: str) -> None:
    """A private Space is reached by those who may read its repo, and only through a capability: space_info's
    `host` carries one (so gradio_client's Client("alice/...") works with the owner's token), Gradio keeps it
    in the URLs it makes, and without it, or with a forged one, the app does not answer."""
    from gradio_client import Client

    rid = "alice/private-gradio"
    api.create_repo(rid, repo_type="space", space_sdk="gradio", private=True)
    ops = [CommitOperationAdd("README.md", card("gradio", GRADIO).encode()),
           CommitOperationAdd("app.py", APP.replace("{GREETING}", "Psst").encode())]  # fmt: skip
    api.create_commit(rid, ops, commit_message="app", repo_type="space")
    time.sleep(0.5)
    assert wait_stage(api, rid).stage == "RUNNING"
    host = api.space_info(rid).host
    assert host is not None and host.startswith(f"{server.url}/spaces/{rid}/app/~") and host.endswith("/")
    config = httpx.get(host + "config", timeout=30).json()
    assert config["root"] == host.rstrip("/")  # every URL Gradio hands out keeps the capability
    assert Client(rid, token=alice, verbose=False).predict("Agora", api_name="/greet") == "Psst, Agora!"
    # the same request without the capability, with a forged one, or as a visitor who may not read the repo
    anon = httpx.get(f"{server.url}/spaces/{rid}/app/config", timeout=30)
    assert anon.status_code == 404 and "Psst" not in anon.text
    with_cookie = httpx.get(
        f"{server.url}/spaces/{rid}/app/config", headers={"Authorization": f"Bearer {alice}"}
    )
    assert with_cookie.status_code == 404  # the app is never opened with the visitor's credentials
    forged = host[: host.rindex(".") + 1] + "0" * 64 + "/config"
    assert httpx.get(forged, timeout=30).status_code == 403
    r = httpx.get(f"{server.url}/api/spaces/{rid}", headers={"Authorization": f"Bearer {bob}"})
    assert r.status_code == 404 and "~" not in r.text
    api.pause_space(rid)


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


def test_one_supervisor_among_several_server_processes(tmp_path: Path) -> None:
    """`agora serve --workers 3`: a Space is supervised by exactly one process (its space_runs lease), one app
    runs, and requests reaching any process are answered by it; once its supervisor is dead (the server
    killed), the next server takes the lease over on the first request and the Space runs again."""
    import sqlite3

    from ..conftest import kill_group, new_site, start_killable

    site = new_site(tmp_path / "data", "alice", tmp_path / "server.log")
    root = Path(tempfile.mkdtemp(prefix="agora-test-spaces-workers-"))  # one spaces root per Hub
    root.chmod(0o755)
    proc = start_killable(site.data, site.port, site.log, env={"AGORA_SPACES_ROOT": str(root)}, workers=3)
    try:
        api = HfApi(endpoint=site.endpoint, token=site.token)
        rid = "alice/workers-demo"
        api.create_repo(rid, repo_type="space", space_sdk="gradio")
        ops = [CommitOperationAdd("README.md", card("gradio", GRADIO).encode()),
               CommitOperationAdd("app.py", APP.replace("{GREETING}", "Hello").encode())]  # fmt: skip
        api.create_commit(rid, ops, commit_message="app", repo_type="space")
        time.sleep(0.5)
        assert wait_stage(api, rid).stage == "RUNNING"
        with httpx.Client(timeout=60) as c:  # new connections: granian spreads them over its workers
            for _ in range(30):
                with httpx.Client(timeout=60) as one:
                    assert one.get(f"{site.endpoint}/spaces/{rid}/app/config").status_code == 200
            assert c.get(f"{site.endpoint}/spaces/{rid}/app/").status_code == 200

        def owner() -> str:
            with sqlite3.connect(site.data / "agora.db") as db:
                return str(db.execute("SELECT owner FROM space_runs").fetchone()[0])

        def apps() -> int:
            """This Hub's sandboxes: their shim (pid 1 inside) runs the env's python from its spaces root."""
            ps = subprocess.run(["ps", "-ww", "-eo", "args="], capture_output=True, text=True).stdout
            return sum(
                1 for line in ps.splitlines() if line.startswith(f"{root}/envs/") and "shim.py" in line
            )

        first = owner()
        assert apps() == 1
        # the whole server killed (granian stops when one of its workers dies): its sandbox dies with it, and
        # the next server on the data folder takes the dead owner's lease over when a request comes
        kill_group(proc)
        end = time.monotonic() + 15  # the kernel ends it once its parent is gone: soon, not at once
        while apps() and time.monotonic() < end:
            time.sleep(0.2)
        assert apps() == 0
        proc = start_killable(site.data, site.port, site.log, env={"AGORA_SPACES_ROOT": str(root)}, workers=3)
        r = httpx.get(f"{site.endpoint}/spaces/{rid}/app/config", timeout=120)
        assert r.status_code == 200, r.text
        assert owner() != first and apps() == 1
    finally:
        kill_group(proc)
        shutil.rmtree(root, ignore_errors=True)


HUB_AND_DISK = """import http.server, json, os, urllib.request


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/fill":  # 3 MiB into /data: over a 1 MB limit
            with open("/data/fill.bin", "wb") as fh:
                fh.write(os.urandom(3 * 2**20))
            out = "filled"
        else:  # the Space's own README, from the Hub, through HF_ENDPOINT
            url = f"{os.environ['HF_ENDPOINT']}/spaces/{os.environ['SPACE_ID']}/resolve/main/README.md"
            with urllib.request.urlopen(url, timeout=10) as r:
                out = {"endpoint": os.environ["HF_ENDPOINT"], "readme": r.read().decode()}
        body = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", 7860), H).serve_forever()
"""


def test_a_space_reaches_its_hub_and_is_stopped_past_its_disk_limit(tmp_path: Path) -> None:
    """A server of its own with AGORA_SPACES_DISK_MB=1: its Space reads its own README from the Hub through
    HF_ENDPOINT (the bridge to the address the server listens on); once it writes 3 MiB into /data the
    supervisor stops it, RUNTIME_ERROR saying why, in the run log too."""
    from ..conftest import kill_group, new_site, start_killable

    site = new_site(tmp_path / "data", "alice", tmp_path / "server.log")
    root = Path(tempfile.mkdtemp(prefix="agora-test-spaces-disk-"))
    root.chmod(0o755)
    env = {"AGORA_SPACES_ROOT": str(root), "AGORA_SPACES_DISK_MB": "1"}
    proc = start_killable(site.data, site.port, site.log, env=env)
    try:
        api = HfApi(endpoint=site.endpoint, token=site.token)
        rid = "alice/disk-demo"
        api.create_repo(rid, repo_type="space", space_sdk="gradio")
        readme = card("gradio", GRADIO)
        ops = [CommitOperationAdd("README.md", readme.encode()),
               CommitOperationAdd("app.py", HUB_AND_DISK.encode())]  # fmt: skip
        api.create_commit(rid, ops, commit_message="app", repo_type="space")
        assert wait_stage(api, rid).stage == "RUNNING"
        app = f"{site.endpoint}/spaces/{rid}/app"
        r = httpx.get(f"{app}/", timeout=60)
        assert r.status_code == 200, r.text
        assert r.json() == {"endpoint": "http://127.0.0.1:7850", "readme": readme}
        assert httpx.get(f"{app}/fill", timeout=60).json() == "filled"
        rt = wait_stage(api, rid, after=lambda rt: rt.stage != "RUNNING", timeout=60)
        assert rt.stage == "RUNTIME_ERROR", rt.raw
        assert "/data is over its 1 MB limit" in rt.raw["errorMessage"], rt.raw
        run = "\n".join(str(e) for e in api.fetch_space_logs(rid))
        assert "sandbox: the Space's /data is over its 1 MB limit" in run, run
    finally:
        kill_group(proc)
        shutil.rmtree(root, ignore_errors=True)
