"""Git and the database agree after a write meets a fault between its ref move and its database commit
(issue 14, item 1): a stuck database during a commit (SQLite's write lock held; a PostgreSQL row lock), a
kill -9 between receive-pack moving the ref and the push's database step, and a ref moved by hand that
`agora fsck` reports and `agora fsck --repair` fixes. Each test runs its own server on its own data folder.

"The database's head" is read where the database keeps it: the listing (`list_models(full=True)`
answers `sha` from `repos.head_sha`, never from git) or the row itself; git's from the bare repo.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..compat.test_git_push import MIB, Git, write_random
from ..conftest import _free_port, kill_group, start_killable, start_push

BIN = Path(sys.executable).parent
LOCK_TIMEOUT = "2"  # AGORA_DB_LOCK_TIMEOUT of these servers: a stuck database fails fast


class Hub:
    """One `agora serve` (its own process group, so kill -9 takes granian's workers and git with it)."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.data = root / "data"
        self.log = root / "server.log"
        self.env = {**os.environ, **(env or {})}
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cli("user", "add", "dave", "--password-stdin", stdin="dave-password\n")
        self.token = self.cli("token", "create", "dave", "--role", "write").strip()
        self.api = HfApi(endpoint=self.url, token=self.token)

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        p = subprocess.run(
            [str(BIN / "agora"), *args, "--data", str(self.data)],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"agora {' '.join(args)} exited with {p.returncode}:\n{p.stdout}\n{p.stderr}"
            )
        return p.stdout + (p.stderr if not check else "")

    def start(self) -> None:
        self.proc = start_killable(self.data, self.port, self.log, self.env)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup code anywhere gets to run."""
        if self.proc is None:
            return
        kill_group(self.proc)
        self.proc = None

    def bare(self) -> Path:
        return next((self.data / "repos").glob("*/*.git"))

    def git_main(self) -> str:
        out = subprocess.run(
            ["git", "--git-dir", str(self.bare()), "rev-parse", "refs/heads/main"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    def db_head(self, repo: str) -> str | None:
        """The head the database derived, as the listing answers it (repos.head_sha)."""
        for m in self.api.list_models(author=repo.split("/")[0], full=True):
            if m.id == repo:
                return m.sha
        raise AssertionError(f"{repo} is not listed")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path, {"AGORA_DB_LOCK_TIMEOUT": LOCK_TIMEOUT, "AGORA_JOBS": "0"})
    h.start()
    try:
        yield h
    finally:
        h.kill()


def wait_for(check, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


# ---- a stuck database during a commit ----------------------------------------------------------------
def test_sqlite_write_lock_held_during_a_commit_is_a_503_and_nothing_lands(hub: Hub) -> None:
    """SQLite: the commit's lock (its first write) waits AGORA_DB_LOCK_TIMEOUT, then a 503 with Retry-After
    that says nothing changed (today: 30 s, then a 500 "database is locked"). The ref has not moved; the
    retry, once the lock is gone, lands; the database and git agree."""
    hub.api.create_repo("dave/locked")
    before = hub.git_main()
    go = threading.Event()

    def body() -> Iterator[bytes]:
        yield json.dumps({"key": "header", "value": {"summary": "while locked"}}).encode() + b"\n"
        go.wait(30)  # the request is authenticated and the repo found: now the database is locked
        line = {"key": "file", "value": {"path": "a.txt", "content": "YQ==", "encoding": "base64"}}
        yield json.dumps(line).encode() + b"\n"

    answer: dict[str, httpx.Response] = {}

    def post() -> None:
        answer["r"] = httpx.post(
            f"{hub.url}/api/models/dave/locked/commit/main",
            content=body(),
            headers={"Authorization": f"Bearer {hub.token}", "Content-Type": "application/x-ndjson"},
            timeout=120,
        )

    def last_used() -> str | None:
        with sqlite3.connect(hub.data / "agora.db") as c:
            return c.execute("SELECT max(last_used_at) FROM tokens").fetchone()[0]  # type: ignore[no-any-return]

    used = last_used()
    t = threading.Thread(target=post)
    t.start()
    # The request's token use is written (when the server writes it: at most so often) before the lock.
    deadline = time.time() + 5
    while time.time() < deadline and last_used() == used:
        time.sleep(0.05)
    time.sleep(0.5)
    holder = sqlite3.connect(hub.data / "agora.db", isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")
    started = time.time()
    try:
        go.set()
        t.join(60)
        took = time.time() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    r = answer["r"]
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers.get("Retry-After") and r.headers.get("X-Error-Code") == "ServiceUnavailable"
    assert "nothing was changed" in r.headers["X-Error-Message"]
    assert took < 15, took
    assert hub.git_main() == before  # nothing landed

    info = hub.api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id="dave/locked")
    assert hub.git_main() == info.oid == hub.db_head("dave/locked")


def test_postgres_row_lock_after_the_ref_moved_then_the_database_catches_up(tmp_path: Path) -> None:
    """PostgreSQL: the repo row locked (SELECT ... FOR UPDATE) while a commit runs: the commit's ref moves,
    its database step waits for the lock. Today the request hangs as long as the lock is held. Now: a 503
    within the lock timeout saying the commit landed; once the lock is gone, the first reader repairs the
    database, which then equals git (the card's tags included)."""
    from ..stack import Postgres, pg_bin

    try:
        pg_bin()
    except RuntimeError as e:
        pytest.skip(str(e))
    import psycopg

    pg = Postgres().start()
    hub = Hub(
        tmp_path, {"AGORA_DATABASE_URL": pg.url, "AGORA_DB_LOCK_TIMEOUT": LOCK_TIMEOUT, "AGORA_JOBS": "0"}
    )
    try:
        hub.start()
        hub.api.create_repo("dave/rowlock")
        holder = psycopg.connect(pg.url.replace("postgresql+psycopg://", "postgresql://"))
        holder.execute("SELECT id FROM repos WHERE name = 'rowlock' FOR UPDATE")  # a transaction, left open
        out: dict[str, object] = {}

        def upload() -> None:
            try:
                out["info"] = hub.api.upload_file(
                    path_or_fileobj=b"---\ntags:\n- after-the-lock\n---\n# card\n",
                    path_in_repo="README.md",
                    repo_id="dave/rowlock",
                )
            except HfHubHTTPError as e:
                out["error"] = e

        t = threading.Thread(target=upload)
        t.start()
        t.join(20)
        answered = not t.is_alive()
        landed = hub.git_main()
        holder.rollback()  # the lock is gone
        t.join(60)
        holder.close()
        assert answered, "the commit hung while the repo row was locked (no lock timeout)"
        err = out.get("error")
        assert isinstance(err, HfHubHTTPError) and err.response.status_code == 503, out
        assert err.response.headers.get("Retry-After")
        assert f"Your commit {landed} is in refs/heads/main" in err.response.headers["X-Error-Message"]

        assert hub.db_head("dave/rowlock") != landed  # the listing reads the row: still behind
        info = hub.api.model_info("dave/rowlock")  # a reader notices, and repairs
        assert info.sha == landed and "after-the-lock" in (info.tags or [])
        assert hub.db_head("dave/rowlock") == landed
    finally:
        hub.kill()
        pg.stop()


# ---- kill -9 between receive-pack and the push's database step ---------------------------------------
class Lock:
    """The database lock a test holds, and the row's head read directly: SQLite's write lock, or a
    PostgreSQL row lock on the repo row (SELECT ... FOR UPDATE)."""

    def __init__(self, data: Path, pg_url: str | None) -> None:
        self.data, self.pg_url = data, pg_url
        self.conn: object = None

    def take(self) -> None:
        if self.pg_url is None:
            c = sqlite3.connect(self.data / "agora.db", isolation_level=None, timeout=30)
            c.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            c = psycopg.connect(self.pg_url)
            c.execute("SELECT id FROM repos FOR UPDATE")  # a transaction, left open
        self.conn = c

    def release(self) -> None:
        c, self.conn = self.conn, None
        if isinstance(c, sqlite3.Connection):
            c.execute("ROLLBACK")
        if c is not None:
            c.close()  # type: ignore[attr-defined]

    def head(self) -> str | None:
        if self.pg_url is None:
            with sqlite3.connect(self.data / "agora.db") as c:
                return c.execute("SELECT head_sha FROM repos").fetchone()[0]  # type: ignore[no-any-return]
        import psycopg

        with psycopg.connect(self.pg_url) as c:
            row = c.execute("SELECT head_sha FROM repos").fetchone()
            return row[0] if row else None


@pytest.fixture(params=["sqlite", "postgresql"])
def push_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Hub, Lock]]:
    """A server whose database step waits long enough for a lock (30 s) that the kill comes first."""
    env = {"AGORA_JOBS": "0", "AGORA_DB_LOCK_TIMEOUT": "30"}
    pg = None
    if request.param == "postgresql":
        from ..stack import Postgres, pg_bin

        try:
            pg_bin()
        except RuntimeError as e:
            pytest.skip(str(e))
        pg = Postgres().start()
        env["AGORA_DATABASE_URL"] = pg.url
    h = Hub(tmp_path, env)
    try:
        h.start()
        yield h, Lock(h.data, pg.url.replace("postgresql+psycopg://", "postgresql://") if pg else None)
    finally:
        h.kill()
        if pg is not None:
            pg.stop()


def test_push_killed_after_its_ref_moved_is_derived_at_the_next_start(
    push_hub: tuple[Hub, Lock], tmp_path: Path
) -> None:
    """The database is locked once receive-pack runs, so the push's database step (after_push) waits; the
    server is killed (-9) once git's main has moved. After a restart, with no new push and no reader of the
    repo, the start-up pass brings the database to git's main (today it stays behind for good, and a
    retried push says "Everything up-to-date")."""
    hub, lock = push_hub
    hub.api.create_repo("dave/pushed")
    old = hub.db_head("dave/pushed")
    git = Git(tmp_path / "client")
    git("clone", f"http://dave:{hub.token}@127.0.0.1:{hub.port}/dave/pushed", "work")
    work = tmp_path / "client" / "work"
    git("config", "core.compression", "0", cwd=work)
    for i in range(3):  # receive-pack takes a moment: the lock is taken while it runs
        write_random(work / f"part{i}.dat", 3 * MIB)
    git("add", ".", cwd=work)
    git("commit", "-m", "pushed before the crash", cwd=work)
    new = git.head(work)
    bare = hub.bare()
    push = start_push(work, git.env)
    # Authenticated (a token's use is written) and receiving: now the database is locked.
    wait_for(lambda: list((bare / "objects").glob("tmp_objdir-incoming-*")) or push.poll() is not None, "git")
    lock.take()
    try:
        wait_for(lambda: hub.git_main() == new, "receive-pack to move main")
        time.sleep(1)  # after_push is waiting for the database lock
        hub.kill()
    finally:
        lock.release()
    push.communicate(timeout=60)
    assert lock.head() == old  # the window was hit: git moved, the database did not

    hub.start()
    wait_for(lambda: lock.head() == new, "the start-up repair")
    assert hub.db_head("dave/pushed") == new
    remote = git("ls-remote", f"http://dave:{hub.token}@127.0.0.1:{hub.port}/dave/pushed", "refs/heads/main")
    assert remote.stdout.split()[0] == new
    assert hub.api.list_repo_commits("dave/pushed")[0].title == "pushed before the crash"


# ---- agora fsck ----------------------------------------------------------------------------------------
def test_fsck_reports_a_ref_moved_by_hand_and_repair_fixes_it(hub: Hub) -> None:
    hub.api.create_repo("dave/byhand")
    first = hub.api.upload_file(
        path_or_fileobj=b"---\ntags:\n- first\n---\n", path_in_repo="README.md", repo_id="dave/byhand"
    ).oid
    second = hub.api.upload_file(
        path_or_fileobj=b"---\ntags:\n- second\n---\n", path_in_repo="README.md", repo_id="dave/byhand"
    ).oid
    hub.kill()  # nothing repairs behind fsck's back
    subprocess.run(
        ["git", "--git-dir", str(hub.bare()), "update-ref", "refs/heads/main", first, second], check=True
    )

    report = subprocess.run(
        [str(BIN / "agora"), "fsck", "--data", str(hub.data)], capture_output=True, text=True, env=hub.env
    )
    assert report.returncode == 1, report.stdout + report.stderr
    assert (
        f"model:dave/byhand: the database is at {second[:12]}, refs/heads/main at {first[:12]}"
        in report.stdout
    )
    assert "agora fsck --repair" in report.stdout

    fixed = subprocess.run(
        [str(BIN / "agora"), "fsck", "--repair", "--data", str(hub.data)],
        capture_output=True,
        text=True,
        env=hub.env,
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "repaired: model:dave/byhand" in fixed.stdout
    again = subprocess.run(
        [str(BIN / "agora"), "fsck", "--data", str(hub.data)], capture_output=True, text=True, env=hub.env
    )
    assert again.returncode == 0 and "no problems found" in again.stderr, again.stdout + again.stderr

    hub.start()
    assert hub.db_head("dave/byhand") == first
    assert "first" in (hub.api.model_info("dave/byhand").tags or [])
