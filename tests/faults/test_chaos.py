"""The chaos test (issue 14): four writers — huggingface_hub through Xet, huggingface_hub through LFS with
LFS-sized files, git, git with git-lfs — write while the whole server process group is killed with SIGKILL
at random moments and restarted, ROUNDS times. After each restart, with the writers paused:

- every repo's database head (the `repos.head_sha` row) equals its git ref as `git ls-remote` shows it, the
  API's `sha` too, and `agora fsck` exits 0;
- `git fsck --full --strict` is clean on every bare repo;
- every commit whose request was acknowledged (the client got success) is in its branch's history, with its
  files;
- every upload that failed is retried once, and that retry succeeds;
- no temp file of a dead process remains. What "remains" means follows hub/startup.py: what names its owner
  is gone at the restart — a conversion folder (`tmp/convert-<pid>-<start>-<host>-*`), a git quarantine
  folder (its receive-pack is marked in `<repo>.git/agora-pushes/`) and the mark, a temp upload or xorb
  (`up-<pid>-<start>-<host>-*`); what names no owner (multipart parts, sealed or not) is judged by age,
  because any process may complete them, for as long as their signed URLs live (SAFE_AGE,
  AGORA_TEMP_MAX_AGE). So every such leftover found after a restart is aged past SAFE_AGE
  (its mtime set back), and the next restart must have removed it; after the last round one more restart
  leaves no temp file at all.

The moments come from a seed the test prints; AGORA_CHAOS_SEED=<seed> replays it (AGORA_CHAOS_ROUNDS
changes the number of kills). Runs in the first pass of `make test` only (tests/faults).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import select
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download

from agora.hub.startup import PUSHES, SAFE_AGE

from ..compat.test_git_push import MIB, Git, sha256, write_random
from ..conftest import BIN, kill_group, new_site, start_killable
from .chaos_writer import payload

SEED = int(os.environ.get("AGORA_CHAOS_SEED") or secrets.randbelow(10**9))
ROUNDS = int(os.environ.get("AGORA_CHAOS_ROUNDS") or 10)
WRITER = Path(__file__).with_name("chaos_writer.py")
OLD = SAFE_AGE.total_seconds() + 3600  # how far back a leftover's mtime is set: past the startup sweep's age
ENV = {
    # Files of 10 MiB and more go through the LFS multipart transfer (part files, sealed on completion).
    "AGORA_MULTIPART_THRESHOLD": str(10 * MIB),
    "AGORA_MULTIPART_CHUNK": str(5 * MIB),
    "AGORA_DB_LOCK_TIMEOUT": "5",
}


class HfWriter:
    """huggingface_hub in a process of its own (chaos_writer.py): operation N uploads the same bytes each
    time it is sent, so a failed one is retried by sending N again."""

    def __init__(self, kind: str, endpoint: str, token: str, repo: str, home: Path) -> None:
        self.name, self.repo = kind, repo
        env = {**os.environ, "HF_HOME": str(home / kind)}
        if kind == "xet":
            env.pop("HF_HUB_DISABLE_XET", None)  # the default client: LFS-mode files go through Xet
        else:
            env["HF_HUB_DISABLE_XET"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), endpoint, token, repo, kind, str(SEED)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.acked: dict[str, list[str]] = {}  # commit -> the files it added
        self.failed: list[int] = []
        self.n = 0

    def files(self, n: int) -> list[str]:
        return [f"xet/{n}.bin"] if self.name == "xet" else [f"docs/{n}.txt", f"lfs/{n}.bin"]

    def send(self, n: int) -> dict[str, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 240)
        assert ready, f"writer {self.name} gave no answer to operation {n} in 240 s (seed {SEED})"
        line = self.proc.stdout.readline()
        assert line, f"writer {self.name} died (seed {SEED})"
        return json.loads(line)  # type: ignore[no-any-return]

    def attempt(self, n: int) -> tuple[bool, str]:
        got = self.send(n)
        if got["ok"]:
            self.acked[got["commit"]] = self.files(n)
            return True, ""
        return False, got["error"]

    def step(self) -> None:
        n, self.n = self.n, self.n + 1
        ok, _ = self.attempt(n)
        if not ok:
            self.failed.append(n)

    def retry(self) -> list[str]:
        """Each failed upload once more, now that the server is up: -> the errors of those that failed. A 503
        (the database busy, with Retry-After: the start-up repair may hold it) is waited for, twice at most."""
        errors = []
        for n in self.failed:
            for _ in range(3):
                ok, error = self.attempt(n)
                if ok or "503" not in error:
                    break
                time.sleep(2)
            if not ok:
                errors.append(f"{self.name} operation {n}: {error}")
        self.failed = []
        return errors

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(30)


class GitWriter:
    """git clone once, then commit and push: plain files (some of 3 MiB, sent in the pack) or, with `lfs`,
    binary files through git-lfs (every fourth one 12 MiB). A failed push is retried by pushing again."""

    def __init__(self, kind: str, remote: str, repo: str, root: Path) -> None:
        self.name, self.repo, self.remote = kind, repo, remote
        self.git = Git(root / kind)
        self.git("lfs", "install")
        self.git("clone", remote, "work")
        self.work = root / kind / "work"
        self.git("config", "core.compression", "0", cwd=self.work)
        self.acked: dict[str, list[str]] = {}
        self.pending: list[str] = []  # files committed, not yet acknowledged by a push
        self.failed = False
        self.n = 0

    def step(self) -> None:
        n, self.n = self.n, self.n + 1
        for folder in ("big", "plain"):
            (self.work / folder).mkdir(exist_ok=True)
        if self.name == "git-lfs":
            path = f"big/{n}.bin"
            write_random(self.work / path, 12 * MIB if n % 4 == 3 else 2 * MIB)
        elif n % 3 == 2:
            path = f"plain/{n}.dat"
            write_random(self.work / path, 3 * MIB)
        else:
            path = f"plain/{n}.txt"
            (self.work / path).write_text(f"commit {n} of the git writer\n")
        self.git("add", path, cwd=self.work)
        self.git("commit", "-q", "-m", f"{self.name} {n}", cwd=self.work)
        self.pending.append(path)
        self.failed = not self.push()

    def push(self) -> bool:
        p = self.git("push", "origin", "main", cwd=self.work, check=False)
        if p.returncode != 0:
            return False
        self.acked[self.git.head(self.work)] = self.pending
        self.pending = []
        return True

    def retry(self) -> list[str]:
        if not self.failed:
            return []
        self.failed = False
        if self.push():
            return []
        out = self.git("push", "origin", "main", cwd=self.work, check=False)
        return [f"{self.name}: a second push failed too: {out.stderr[-800:]}"]

    def close(self) -> None:
        pass


Writer = HfWriter | GitWriter


class Driver:
    """One thread per writer: it writes while `run` is set, and says when it is idle (between two writes)."""

    def __init__(self, writer: Writer, run: threading.Event) -> None:
        self.writer, self.run = writer, run
        self.idle = threading.Event()
        self.done = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            while not self.done:
                self.idle.set()
                self.run.wait(0.5)
                if not self.run.is_set() or self.done:
                    continue
                self.idle.clear()
                if self.run.is_set():
                    self.writer.step()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            self.idle.set()

    def wait_idle(self, timeout: float) -> None:
        assert self.idle.wait(timeout), (
            f"writer {self.writer.name} still busy after {timeout} s (seed {SEED})"
        )
        assert self.error is None, f"writer {self.writer.name} broke: {self.error!r} (seed {SEED})"


class Chaos:
    def __init__(self, root: Path) -> None:
        self.site = new_site(root / "data", "chaos", root / "server.log")
        self.data, self.port = self.site.data, self.site.port
        self.api = HfApi(endpoint=self.site.endpoint, token=self.site.token)
        self.proc: subprocess.Popen[bytes] | None = None
        self.aged: set[Path] = set()
        self.stats = {"kills": 0, "failed": 0}

    def start(self) -> None:
        self.proc = start_killable(self.data, self.port, self.site.log, ENV)

    def kill(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def remote(self, repo: str) -> str:
        return f"http://chaos:{self.site.token}@127.0.0.1:{self.port}/{repo}"

    def bare(self, repo: str) -> Path:
        with sqlite3.connect(self.data / "agora.db") as c:
            (key,) = c.execute(
                "SELECT storage_key FROM repos WHERE namespace = ? AND name = ?", repo.split("/")
            ).fetchone()
        return next((self.data / "repos").glob(f"*/{key}.git"))

    def db_head(self, repo: str) -> str | None:
        with sqlite3.connect(self.data / "agora.db") as c:
            row = c.execute("SELECT head_sha FROM repos WHERE namespace = ? AND name = ?", repo.split("/"))
            return row.fetchone()[0]  # type: ignore[no-any-return]

    def git_head(self, repo: str) -> str:
        out = subprocess.run(
            ["git", "ls-remote", self.remote(repo), "refs/heads/main"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.split()[0]

    def owned(self) -> set[Path]:
        """What names its process: git quarantine folders (their receive-pack is marked in the repo) and
        those marks, git's ref lock files, conversion folders, temp uploads (`up-<pid>-<start>-<host>-*`).
        None may remain of a dead process."""
        d = self.data
        return {
            *d.glob("repos/*/*.git/objects/tmp_objdir-incoming-*"),
            *d.glob(f"repos/*/*.git/{PUSHES}/*"),
            *d.glob("repos/*/*.git/HEAD.lock"),  # git's ref locks: a push killed mid-update left one (fixed)
            *d.glob("repos/*/*.git/packed-refs.lock"),
            *d.glob("repos/*/*.git/refs/**/*.lock"),
            *d.glob("tmp/convert-*"),
            *d.glob("lfs/tmp/up-*"),
            *d.glob("xet/*/tmp/up-*"),
        }

    def leftovers(self) -> set[Path]:
        """Every temp file and folder in the data folder (none of them belongs to a live upload while the
        writers are paused)."""
        d = self.data
        return {*self.owned(), *d.glob("lfs/tmp/*"), *d.glob("xet/*/tmp/*")}


def _age(path: Path) -> None:
    """Set a leftover's mtimes (and those of what it holds) back past SAFE_AGE."""
    then = time.time() - OLD
    for root, dirs, files in os.walk(path) if path.is_dir() else ():
        for name in (*dirs, *files):
            os.utime(os.path.join(root, name), (then, then), follow_symlinks=False)
    os.utime(path, (then, then), follow_symlinks=False)


def check_agreement(chaos: Chaos, repos: list[str], fsck: bool = True) -> None:
    """Each repo's database head equals git's ref (the start-up check repairs a database left behind: it
    runs in the background, so allow it a moment), the API says so too, and (with `fsck`: every other round,
    it takes seconds) `agora fsck` exits 0: refs, xorbs, LFS pointers, temp files of dead processes."""
    for repo in repos:
        git = chaos.git_head(repo)
        deadline = time.time() + 30
        while chaos.db_head(repo) != git and time.time() < deadline:
            time.sleep(0.2)
        assert chaos.db_head(repo) == git, (
            f"{repo}: database at {chaos.db_head(repo)}, git at {git} ({SEED=})"
        )
        assert chaos.api.model_info(repo).sha == git
    if not fsck:
        return
    out = subprocess.run(
        [str(BIN / "agora"), "fsck", "--data", str(chaos.data)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, f"agora fsck: {out.stdout}{out.stderr} ({SEED=})"


def check_git(chaos: Chaos, writers: list[Writer]) -> None:
    """`git fsck --full` is clean; every acknowledged commit is in its branch, and its files at the head."""
    for w in writers:
        bare = chaos.bare(w.repo)
        fsck = subprocess.run(
            ["git", "--git-dir", str(bare), "fsck", "--full", "--strict", "--no-progress"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fsck.returncode == 0, f"git fsck {w.repo}: {fsck.stdout}{fsck.stderr} ({SEED=})"
        history = set(
            subprocess.run(
                ["git", "--git-dir", str(bare), "rev-list", "refs/heads/main"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        lost = [c for c in w.acked if c not in history]
        assert not lost, f"{w.name}: acknowledged commits not in main: {lost} ({SEED=})"
        tree = set(
            subprocess.run(
                ["git", "--git-dir", str(bare), "ls-tree", "-r", "--name-only", "refs/heads/main"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
        )
        missing = [f for files in w.acked.values() for f in files if f not in tree]
        assert not missing, f"{w.name}: files of acknowledged commits missing from main: {missing} ({SEED=})"


def check_leftovers(chaos: Chaos) -> int:
    """What the previous round aged is gone; conversion folders left name a live owner; what is left now
    (young, unowned) is aged for the next restart."""
    now = chaos.leftovers()
    stayed = sorted(str(p.relative_to(chaos.data)) for p in chaos.aged & now)
    assert not stayed, f"temp files of dead processes survived the startup sweep: {stayed} ({SEED=})"
    owned = sorted(str(p.relative_to(chaos.data)) for p in chaos.owned())
    assert not owned, f"folders or marks of dead processes remain after the restart: {owned} ({SEED=})"
    for p in now:
        _age(p)
    chaos.aged = now
    return len(now)


def restart(chaos: Chaos) -> None:
    chaos.kill()
    chaos.stats["kills"] += 1
    chaos.start()


def run_rounds(chaos: Chaos, writers: list[Writer], repos: list[str], log: Callable[[str], None]) -> None:
    rng = random.Random(SEED)
    run = threading.Event()
    drivers = [Driver(w, run) for w in writers]
    try:
        for rnd in range(ROUNDS):
            run.set()
            delay = rng.uniform(0.5, 6.0)
            time.sleep(delay)
            restart(chaos)  # SIGKILL of the whole group, then a new server on the same data folder
            run.clear()
            for d in drivers:
                d.wait_idle(300)
            failed = sum(len(w.failed) if isinstance(w, HfWriter) else int(w.failed) for w in writers)
            chaos.stats["failed"] += failed
            check_agreement(chaos, repos, fsck=rnd % 2 == 1)
            check_git(chaos, writers)
            young = check_leftovers(chaos)
            errors = [e for w in writers for e in w.retry()]
            assert not errors, f"retries failed after round {rnd} ({SEED=}): {errors}"
            check_git(chaos, writers)
            log(
                f"round {rnd}: killed after {delay:.1f} s, {failed} failed upload(s) retried, {young} young leftover(s)"
            )
    finally:
        for d in drivers:
            d.done = True
        run.set()
        for d in drivers:
            d.thread.join(300)


def test_kill_9_at_random_moments_under_four_writers(tmp_path: Path) -> None:
    started = time.time()
    print(f"chaos seed {SEED} (replay with AGORA_CHAOS_SEED={SEED}), {ROUNDS} rounds")
    chaos = Chaos(tmp_path)
    chaos.start()
    writers: list[Writer] = []
    try:
        for repo in ("chaos/hf", "chaos/git", "chaos/git-lfs"):
            chaos.api.create_repo(repo)
        ep, token = chaos.site.endpoint, chaos.site.token
        writers = [
            HfWriter("xet", ep, token, "chaos/hf", tmp_path / "hf"),
            HfWriter("lfs", ep, token, "chaos/hf", tmp_path / "hf"),
            GitWriter("git", chaos.remote("chaos/git"), "chaos/git", tmp_path / "clients"),
            GitWriter("git-lfs", chaos.remote("chaos/git-lfs"), "chaos/git-lfs", tmp_path / "clients"),
        ]
        repos = sorted({w.repo for w in writers})
        looped = time.time()
        run_rounds(chaos, writers, repos, print)

        # One more restart ages out every leftover: nothing at all remains.
        for p in chaos.leftovers():
            _age(p)
        restart(chaos)
        left = sorted(str(p.relative_to(chaos.data)) for p in chaos.leftovers())
        assert not left, f"temp files remain after the final restart: {left} ({SEED=})"
        check_agreement(chaos, repos)

        # What was acknowledged reads back: a fresh clone smudges every LFS file; the Xet and LFS uploads
        # download with the bytes that were sent.
        lfs = writers[3]
        assert isinstance(lfs, GitWriter)
        lfs.git("clone", lfs.remote, "fresh")
        fresh = lfs.git.root / "fresh"
        for path in sorted((lfs.work / "big").iterdir())[-3:]:
            assert sha256(fresh / "big" / path.name) == sha256(path)
        for w in writers[:2]:
            assert isinstance(w, HfWriter)
            names = sorted(f for files in w.acked.values() for f in files if f.endswith(".bin"))
            n = int(names[-1].split("/")[1].split(".")[0])
            got = hf_hub_download(
                w.repo, names[-1], endpoint=ep, token=token, cache_dir=str(tmp_path / "dl" / w.name)
            )
            data = Path(got).read_bytes()
            assert data == payload(SEED, w.name, n, len(data))
        log = chaos.site.log.read_text(errors="replace")
        chaos.stats["repaired_at_start"] = log.count("repaired at start")
        assert "unhandled error" not in log and "Traceback" not in log, (
            f"a 500 was answered: see {chaos.site.log}"
        )
        took, kills = time.time() - started, time.time() - looped
        acked = sum(len(w.acked) for w in writers)
        print(
            f"chaos: {chaos.stats}, {acked} acknowledged commits, {kills:.0f} s of kills, {took:.0f} s in all"
        )
        assert chaos.stats["kills"] >= 10 or ROUNDS < 10
        assert kills < 300, f"{chaos.stats['kills']} kills took {kills:.0f} s (seed {SEED})"
    finally:
        for w in writers:
            w.close()
        chaos.kill()
