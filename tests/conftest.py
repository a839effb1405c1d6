"""A live Agora server on an ephemeral port, shared by the whole session, and the client environment.

huggingface_hub reads HF_ENDPOINT and HF_HUB_DISABLE_XET once, at import: they are set here, before any
test module imports it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# AGORA_TEST_STACK=scale runs the same tests against PostgreSQL + SeaweedFS (S3) + two `agora serve`
# processes behind a round-robin proxy (tests/stack.py); PORT is then the proxy's.
STACK = os.environ.get("AGORA_TEST_STACK", "")
PORT = _free_port()
ENDPOINT = f"http://127.0.0.1:{PORT}"
ROOT = Path(tempfile.mkdtemp(prefix="agora-tests-"))
HF_HOME = ROOT / "hf-home"
for k in (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
):
    os.environ.pop(k, None)
os.environ.update(
    {
        "HF_ENDPOINT": ENDPOINT,
        "HF_HUB_DISABLE_XET": "1",  # until native Xet lands (issue 4); one xfail test runs the default client
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HOME": str(HF_HOME),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_GLOBAL": str(ROOT / "gitconfig"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
)
(ROOT / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
# Spaces run as other uids, which must traverse every folder above their mounts: ROOT (mkdtemp) is 0700.
SPACES_ROOT = Path(tempfile.mkdtemp(prefix="agora-test-spaces-"))
SPACES_ROOT.chmod(0o755)
os.environ["AGORA_SPACES_ROOT"] = str(SPACES_ROOT)
os.environ.setdefault("AGORA_SPACES_MAX_RUNNING", "3")  # the shared test server: at most 3 apps at once

BIN = Path(sys.executable).parent


def agora(*args: str, data: Path, stdin: str | None = None) -> str:
    out = subprocess.run(
        [str(BIN / "agora"), *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@dataclass
class Server:
    url: str
    data: Path
    proc: subprocess.Popen
    tokens: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def store(self, kind: str):  # type: ignore[no-untyped-def]
        """The server's BlobStore for "lfs", "xorbs" or "shards" (local folder or S3, as configured)."""
        from agora.config import Settings

        return Settings.from_env(self.data).blobs(kind)

    def token(self, user: str, role: str = "write") -> str:
        key = f"{user}:{role}"
        if key not in self.tokens:
            self.tokens[key] = agora("token", "create", user, "--role", role, data=self.data)
        return self.tokens[key]


def start_server(data: Path, port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`agora serve` on 127.0.0.1:port, once it accepts connections; `env` adds or overrides settings."""
    fh = open(log, "ab")
    # Small multipart settings so that a 30 MB upload exercises the HF multipart transfer.
    env = {
        **os.environ,
        "AGORA_MULTIPART_THRESHOLD": str(20 * 2**20),
        "AGORA_MULTIPART_CHUNK": str(8 * 2**20),
        **(env or {}),
    }
    proc = subprocess.Popen(
        [str(BIN / "agora"), "serve", "--port", str(port), "--data", str(data)],
        stdout=fh,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agora serve exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"agora serve did not start:\n{log.read_text()}")


@dataclass
class Site:
    """A data folder with one user and a write token, and the free port a server of its own will listen on."""

    data: Path
    user: str
    token: str
    port: int
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def new_site(data: Path, user: str, log: Path) -> Site:
    """A user `user` (password `<user>-password`) and a write token in `data`, made with the command line."""
    agora("user", "add", user, "--password-stdin", data=data, stdin=f"{user}-password\n")
    token = agora("token", "create", user, "--role", "write", data=data)
    return Site(data, user, token, _free_port(), log)


def start_killable(
    data: Path, port: int, log: Path, env: dict[str, str] | None = None, workers: int | None = None
) -> subprocess.Popen:
    """`agora serve` in a process group of its own (kill_group reaches granian and its workers), once a worker
    answers HTTP (an open port is not enough). `env` adds or overrides settings; `workers`: `--workers N`."""
    proc = subprocess.Popen(
        [str(BIN / "agora"), "serve", "--port", str(port), "--data", str(data)]
        + ([] if workers is None else ["--workers", str(workers)]),
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/models/none/none", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the server's whole process group: no cleanup code anywhere gets to run."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def start_push(work: Path, env: dict[str, str]) -> subprocess.Popen:
    """`git push origin main` from `work`, in the background, its output captured."""
    return subprocess.Popen(
        ["git", "push", "origin", "main"], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def push_into_quarantine(work: Path, env: dict[str, str], bare: Path) -> subprocess.Popen:
    """A push started and waited for until receive-pack holds its pack in quarantine in `bare` (receiving
    it, or running the hook): the moment the crash tests interrupt."""
    push = start_push(work, env)
    deadline = time.time() + 60
    while time.time() < deadline and not list((bare / "objects").glob("tmp_objdir-incoming-*")):
        assert push.poll() is None, "the push ended before it could be interrupted"
        time.sleep(0.002)
    return push


@pytest.fixture(scope="session")
def server() -> Server:
    if STACK == "scale":
        yield from _scale_server()
        return
    data = ROOT / "data"
    data.mkdir()
    for user in ("alice", "bob", "carol"):
        agora("user", "add", user, "--password-stdin", data=data, stdin=f"{user}-password\n")
    agora("org", "create", "acme", "--owner", "alice", data=data)
    agora("org", "add-member", "acme", "carol", "--role", "read", data=data)
    log = ROOT / "server.log"
    proc = start_server(data, PORT, log)
    srv = Server(ENDPOINT, data, proc, log=log)
    yield srv
    stop_server(proc)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _scale_server():  # type: ignore[no-untyped-def]
    from .stack import Stack

    st = Stack(
        ROOT / "scale",
        extra_env={"AGORA_MULTIPART_THRESHOLD": str(20 * 2**20), "AGORA_MULTIPART_CHUNK": str(8 * 2**20)},
    ).start_services()
    try:
        # The CLI (agora() above) and servers started by tests reach the same database and store.
        os.environ.update(
            {k: v for k, v in st.env().items() if k.startswith("AGORA_") and "MULTIPART" not in k}
        )
        st.agora("migrate")
        for user in ("alice", "bob", "carol"):
            agora("user", "add", user, "--password-stdin", data=st.data, stdin=f"{user}-password\n")
        agora("org", "create", "acme", "--owner", "alice", data=st.data)
        agora("org", "add-member", "acme", "carol", "--role", "read", data=st.data)
        st.start_servers(PORT)
        yield Server(ENDPOINT, st.data, st.procs[0], log=st.log)
    finally:
        st.stop()


@pytest.fixture(scope="session")
def alice(server: Server) -> str:
    return server.token("alice")


@pytest.fixture(scope="session")
def bob(server: Server) -> str:
    return server.token("bob")


@pytest.fixture(scope="session")
def api(alice: str):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    return HfApi(endpoint=ENDPOINT, token=alice)


_counter = iter(range(1, 10**6))


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A fresh repo name per test, readable in the server log."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"{base}-{next(_counter)}"


@pytest.fixture(scope="session", autouse=True)
def every_repo_passes_git_fsck():  # type: ignore[no-untyped-def]
    """At the end of the session (after the shared server stopped: autouse, so set up first and torn down last),
    every bare repo the suite made in the shared server's data folder (plain or scale stack) passes
    `git fsck --strict`: API, push and browser-made repos alike. A broken one is an ERROR of the session."""
    yield
    bad = []
    for d in sorted([*ROOT.glob("data/repos/*/*.git"), *ROOT.glob("scale/data/repos/*/*.git")]):
        out = subprocess.run(
            ["git", "--git-dir", str(d), "fsck", "--strict", "--no-progress"],
            check=False,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            bad.append(f"{d}: {out.stdout}{out.stderr}")
    if bad:
        pytest.fail("git fsck --strict failed:\n" + "\n".join(bad), pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == 0 and not os.environ.get("AGORA_KEEP_TEST_DATA"):
        shutil.rmtree(ROOT, ignore_errors=True)
        shutil.rmtree(SPACES_ROOT, ignore_errors=True)


# ---- Chromium -------------------------------------------------------------------------------------------------
# One browser for the whole session (Playwright's sync API allows one running instance per thread): the e2e and
# security tests share it. Debian's /usr/bin/chromium, never `playwright install`; no background traffic.
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    sync = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium")
    with sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def no_server_errors(server: Server) -> Iterator[None]:
    """Whatever a test sends, the server must not log an unhandled exception (a 500). Modules opt in with
    `pytestmark = pytest.mark.usefixtures("no_server_errors")`."""
    assert server.log is not None
    start = server.log.stat().st_size
    yield
    with open(server.log, "rb") as fh:
        fh.seek(start)
        new = fh.read().decode("utf-8", "replace")
    assert "unhandled error" not in new and "Traceback" not in new, new[-4000:]
