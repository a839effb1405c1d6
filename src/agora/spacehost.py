"""The life of gradio and streamlit Spaces on this host: build, start, watch, restart on a push, sleep.

One `SpaceHost` per server process (`of(hub, settings)`). A Space is supervised by exactly one process of
the host: the one holding its lease, a `space_runs` row whose `owner` names it and whose `heartbeat_at` it
renews (BEAT); a lease not renewed for LEASE, or whose owner process is dead, is taken over. Every process
reads the row to find where the app answers (`socket`) and proxies to it (http/spaces_proxy.py).

A supervising process runs one thread per Space (`_life`):

    BUILDING      the app's files at the default branch's head are written to a folder of their own, its
                  environment built (spaces/envs.py: content-addressed, so a second Space with the same
                  python, sdk, sdk_version and requirements.txt reuses it) -> BUILD_ERROR with uv's output
    APP_STARTING  the app started in its sandbox (spaces/sandbox.py), polled over its socket until it
                  answers -> RUNTIME_ERROR if it exits or does not answer within startup_duration_timeout
    RUNNING       watched every second: it exits -> RUNTIME_ERROR; a push to main or a restart request ->
                  built and started again; paused -> PAUSED; idle past its sleep time -> SLEEPING

What starts a Space: a push to its default branch (the `space-run` artefact's job, hub/artefacts.py), a
request to its app or its page (wake on request), a restart. The build and run logs are files of JSON lines
(`Logs`), streamed by `GET /api/spaces/{id}/logs/{build|run}`.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .db.models import Repo, SpaceRun, SpaceSettings, SpaceVariable, utcnow
from .errors import Unavailable
from .hub import spaces, startup
from .ids import repo_full
from .spaces import missing
from .spaces.cgroups import Limits
from .spaces.envs import BuildError, EnvSpec, EnvStore, env_key, interpreter, own_bytes, python_version
from .spaces.sandbox import Runner, Sandbox, SandboxError, SandboxSpec, bound_paths

if TYPE_CHECKING:
    from .config import Settings, SpacesLimits
    from .hub.repos import Hub

log = logging.getLogger("agora.spaces")

LEASE = spaces.SUPERVISOR_LEASE  # a supervising process that has not beaten for this long is gone
BEAT = 2.0  # seconds between a supervisor's checks (heartbeat, exit, push, restart, pause, idle)
DEFAULT_SLEEP = 48 * 3600  # seconds of idleness before a Space sleeps (the Hub's free tier: 48 h)
USE_EVERY = timedelta(seconds=30)  # a request notes its Space's last use at most this often
FRESH = 1.0  # seconds a process trusts what it last found of a Space (public, running, its socket)
MAX_APP_BYTES = 2 * 1024**3  # the app folder a Space may check out
ERRORS = ("BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE")
BUSY = ("BUILDING", "APP_STARTING")
LogSink = Callable[[str], None]


# ---- logs ----------------------------------------------------------------------------------------------
class Logs:
    """A Space's build and run logs: files of JSON lines `{"data", "timestamp"}` under `<root>/<repo id>/`,
    started afresh by each build (build.log) and each start of the app (run.log)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._mu = threading.Lock()

    def path(self, repo_id: int, kind: str) -> Path:
        return self.root / str(repo_id) / f"{kind}.log"

    def writer(self, repo_id: int, kind: str, first: str) -> LogSink:
        """A sink for a new log of `kind`, whose first line is `first` (the previous one is kept as .1)."""
        p = self.path(repo_id, kind)
        p.parent.mkdir(parents=True, exist_ok=True)
        with self._mu:
            if p.exists():
                p.replace(p.with_suffix(".log.1"))
            p.touch()

        def write(line: str) -> None:
            rec = json.dumps({"data": line, "timestamp": iso(utcnow())}, ensure_ascii=False)
            with self._mu, open(p, "a", encoding="utf-8") as fh:
                fh.write(rec + "\n")

        write(first)
        return write

    def tail(self, repo_id: int, kind: str, n: int) -> list[str]:
        p = self.path(repo_id, kind)
        try:
            lines = p.read_text(encoding="utf-8", errors="replace").splitlines()[-n:]
        except OSError:
            return []
        return [str(json.loads(x).get("data", "")) for x in lines if x.startswith("{")]

    def follow(self, repo_id: int, kind: str, stop: Callable[[], bool]) -> Iterator[str | None]:
        """The log's JSON lines from its start, then each new one as it is written (None: nothing new for a
        moment, a chance to send a keep-alive). A log started afresh is followed from its new start."""
        p = self.path(repo_id, kind)
        pos, inode = 0, None
        while not stop():
            try:
                st = p.stat()
            except OSError:
                yield None
                continue
            if inode is not None and st.st_ino != inode:
                pos = 0
            inode = st.st_ino
            with open(p, encoding="utf-8", errors="replace") as fh:
                fh.seek(pos)
                chunk = fh.read()
                pos = fh.tell()
            complete, _, rest = chunk.rpartition("\n")
            pos -= len(rest.encode())
            if complete:
                yield from (x for x in complete.split("\n") if x)
            else:
                yield None


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# ---- the host --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Running:
    """Where a running Space's app answers (what the proxy needs)."""

    socket: str
    mount: str  # the path the app serves under: Streamlit's baseUrlPath; Gradio always "/"


@dataclass
class Life:
    repo_id: int
    stop: threading.Event = field(default_factory=threading.Event)
    sandbox: Sandbox | None = None


class SpaceHost:
    def __init__(self, hub: Hub, settings: Settings) -> None:
        self.hub = hub
        self.settings = settings
        self.limits = settings.spaces
        self.root = settings.spaces_root
        self.me = f"{startup.host()}:{startup.owner()}"
        self.logs = Logs(self.root / "logs")
        self.lives: dict[int, Life] = {}
        self.mu = threading.Lock()
        self._runner: Runner | None = None
        self._envs: EnvStore | None = None
        self._recent: dict[tuple[str, str], tuple[Repo, Running, float]] = {}

    @property
    def envs(self) -> EnvStore:
        if self._envs is None:
            self._envs = env_store(self.root, self.limits)
        return self._envs

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(self.root / "sandbox")
        return self._runner

    # ---- the proxy's fast path: a public Space found running a moment ago ----------------------------------
    def recent(self, ns: str, name: str) -> tuple[Repo, Running] | None:
        """The Space and where its app answers, if this process found it public and running less than
        FRESH seconds ago (no database visit: most requests of a page load come in such a burst)."""
        hit = self._recent.get((ns, name))
        if hit is None or time.monotonic() - hit[2] > FRESH:
            return None
        return hit[0], hit[1]

    def remember(self, ns: str, name: str, repo: Repo, running: Running) -> None:
        if len(self._recent) > 1000:
            self._recent.clear()
        self._recent[(ns, name)] = (repo, running, time.monotonic())

    # ---- what requests and jobs call (blocking: in a thread) -----------------------------------------------
    def run_row(self, repo_id: int) -> SpaceRun | None:
        with self.hub.db.session() as s:
            return s.get(SpaceRun, repo_id)

    def wake(self, repo: Repo) -> None:
        """Start the Space if no process supervises it and it is not stopped for a reason that needs its
        owner (paused, a failed build or run: a push or a restart starts those again)."""
        row = self.run_row(repo.id)
        stopped = row is not None and (row.stage in ERRORS or row.stage == "PAUSED")
        if stopped and row is not None and row.sha == repo.head_sha and not self._owned_dead(row):
            return
        self._start(repo.id)

    def deploy(self, repo_id: int) -> None:
        """A push to the default branch: the supervising process restarts the Space with it (it sees the new
        head); if none supervises it, this one starts it."""
        self._start(repo_id)

    def restart(self, repo_id: int) -> None:
        """Ask the supervising process for a fresh start; start it here if none supervises it."""
        with self.hub.db.session() as s:
            s.execute(
                update(SpaceRun).where(SpaceRun.repo_id == repo_id).values(restarts=SpaceRun.restarts + 1)
            )
        self._start(repo_id)

    def wait_running(self, repo: Repo, timeout: float) -> Running:
        """Wake the Space and wait until it runs; Unavailable saying its stage when it does not in time."""
        self.wake(repo)
        self.note_use(repo.id)
        end = time.monotonic() + timeout
        while True:
            row = self.run_row(repo.id)
            if row is not None and row.stage == "RUNNING" and row.socket:
                return Running(row.socket, self.mount(repo))
            if row is not None and row.stage not in BUSY and row.stage != "SLEEPING" and row.owner is None:
                raise Unavailable(f"This Space is not running ({row.stage}): {row.error or ''}".strip())
            if time.monotonic() > end:
                stage = row.stage if row is not None else "SLEEPING"
                raise Unavailable(f"This Space is still starting ({stage}): try again in a moment")
            time.sleep(0.2)

    def mount(self, repo: Repo) -> str:
        """The path the app serves under: Gradio is told its public root on each request (the proxy's
        X-Gradio-Server) and serves at "/"; Streamlit serves under its baseUrlPath, where the Space is served
        (hub/spaces.Serving: one mode per server, a Space started for one is restarted for the other)."""
        if repo_sdk(repo) != "streamlit":
            return "/"
        return spaces.serving_of(self.limits.domain).mount(repo.namespace, repo.name)

    def note_use(self, repo_id: int) -> None:
        now = utcnow()
        with self.hub.db.session() as s:
            s.execute(
                update(SpaceRun)
                .where(
                    SpaceRun.repo_id == repo_id,
                    or_(SpaceRun.last_used_at.is_(None), SpaceRun.last_used_at < now - USE_EVERY),
                )
                .values(last_used_at=now)
            )

    def close(self) -> None:
        """Stop every Space this process supervises (server shutdown)."""
        with self.mu:
            lives = list(self.lives.values())
        for life in lives:
            life.stop.set()
        for life in lives:
            if life.sandbox is not None:
                life.sandbox.stop(grace=5)

    # ---- the lease ----------------------------------------------------------------------------------------
    def _owned_dead(self, row: SpaceRun) -> bool:
        return row.owner is not None and not self._owner_alive(row.owner, row.heartbeat_at)

    @staticmethod
    def _owner_alive(owner: str, beat: datetime | None) -> bool:
        here, _, token = owner.partition(":")
        if beat is None or beat < utcnow() - LEASE:
            return False
        return here != startup.host() or startup.alive(token)

    def _take(self, repo_id: int) -> bool:
        """The lease of `repo_id` for this process: True if it is ours now (a new row, a free or dead one).
        Taken over, the row says BUILDING and no socket at once: a dead owner's app died with it, and nobody
        must be sent to its socket."""
        now = utcnow()
        with self.hub.db.session() as s:
            row = s.get(SpaceRun, repo_id)
            if row is None:
                try:
                    with s.begin_nested():
                        s.add(SpaceRun(repo_id=repo_id, owner=self.me, heartbeat_at=now, stage="BUILDING",
                                       updated_at=now))  # fmt: skip
                    return True
                except IntegrityError:
                    row = s.get(SpaceRun, repo_id)
                    if row is None:
                        return False
            if row.owner == self.me:
                return True
            if row.owner is not None and self._owner_alive(row.owner, row.heartbeat_at):
                return False
            got = s.execute(
                update(SpaceRun)
                .where(
                    SpaceRun.repo_id == repo_id,
                    SpaceRun.owner.is_(row.owner) if row.owner is None else SpaceRun.owner == row.owner,
                )  # fmt: skip
                .values(owner=self.me, heartbeat_at=now, updated_at=now, stage="BUILDING", socket=None)
            )
            return bool(got.rowcount)  # type: ignore[attr-defined]

    def _start(self, repo_id: int) -> None:
        with self.mu:
            if repo_id in self.lives:
                return  # ours: its watch loop sees pushes and restart requests
        if not self._take(repo_id):  # another live process supervises it: it sees pushes and restarts
            return
        life = Life(repo_id)
        with self.mu:
            if repo_id in self.lives:
                return
            self.lives[repo_id] = life
        threading.Thread(target=self._life, args=(life,), name=f"space-{repo_id}", daemon=True).start()

    def _set(self, repo_id: int, **values: Any) -> SpaceRun | None:
        """Write the row if this process still holds the lease; the row as it is now (None: lease lost)."""
        now = utcnow()
        with self.hub.db.session() as s:
            got = s.execute(
                update(SpaceRun)
                .where(SpaceRun.repo_id == repo_id, SpaceRun.owner == self.me)
                .values(heartbeat_at=now, updated_at=now, **values)
            )
            if not got.rowcount:  # type: ignore[attr-defined]
                return None
            return s.get(SpaceRun, repo_id)

    # ---- one Space's life (its own thread) ----------------------------------------------------------------
    def _life(self, life: Life) -> None:
        try:
            while not life.stop.is_set():
                if self._once(life) != "again":
                    return
        except Exception:  # noqa: BLE001 - a supervisor's bug must not leave the Space claimed for ever
            log.exception("Space %d: its supervisor failed", life.repo_id)
            self._set(
                life.repo_id,
                stage="RUNTIME_ERROR",
                error="The Space's supervisor failed (see the server log)",
            )
        finally:
            if life.sandbox is not None and life.sandbox.running():
                life.sandbox.stop(grace=5)
            self._set(life.repo_id, owner=None, socket=None)
            with self.mu:
                self.lives.pop(life.repo_id, None)

    def _once(self, life: Life) -> str:
        """Build, start and watch the Space once: "again" to start it anew (a push, a restart), else done."""
        with self.hub.db.session() as s:
            repo = s.get(Repo, life.repo_id)
            st = s.get(SpaceSettings, life.repo_id)
            row = s.get(SpaceRun, life.repo_id)
            s.expunge_all()
        if repo is None or row is None:
            return "done"
        why = self._cannot_run(repo, st)
        if why is not None:
            stage, error = why
            self._set(repo.id, stage=stage, error=error, sha=repo.head_sha)
            return "done"
        assert repo.head_sha is not None
        restarts = row.restarts
        started = self._build_and_start(life, repo)
        if not started:
            return "done"
        return self._watch(life, repo, restarts)

    def _cannot_run(self, repo: Repo, st: SpaceSettings | None) -> tuple[str, str] | None:
        cfg, errors = spaces.config(repo.card_data, repo.sdk)
        if errors:
            return "CONFIG_ERROR", "; ".join(errors)
        if problems := missing():
            return "CONFIG_ERROR", "This host cannot run Spaces: " + "; ".join(problems)
        if st is not None and st.paused:
            return "PAUSED", spaces.PAUSED
        if repo.head_sha is None or not spaces.has_file(self.hub, repo, repo.head_sha, cfg.app_file):
            return "NO_APP_FILE", f"The app file {cfg.app_file} is not in the repo"
        return None

    def _build_and_start(self, life: Life, repo: Repo) -> bool:
        sha = repo.head_sha
        assert sha is not None
        cfg = spaces.config(repo.card_data, repo.sdk)[0]
        self._set(repo.id, stage="BUILDING", sha=sha, error=None, socket=None)  # before its log names sha
        build = self.logs.writer(
            repo.id, "build", f"===== Build Queued at {iso(utcnow())} / Commit SHA: {sha} ====="
        )
        try:
            app = self._checkout(repo, sha, build)
            env = self.envs.build(self._env_spec(repo, cfg, sha), build)
        except (BuildError, OSError, ValueError) as exc:
            build(f"Build failed: {exc}")
            self._set(repo.id, stage="BUILD_ERROR", error=last_line(str(exc)))
            return False
        build("Build done")
        runlog = self.logs.writer(repo.id, "run", f"===== Application Startup at {iso(utcnow())} =====")
        self._set(repo.id, stage="APP_STARTING")
        try:
            life.sandbox = self.runner.start(self._sandbox_spec(repo, cfg, env, app), runlog)
        except SandboxError as exc:
            runlog(f"The app could not start: {exc}")
            self._set(repo.id, stage="RUNTIME_ERROR", error=str(exc))
            return False
        if not self._healthy(life, repo, cfg):
            return False
        self._set(repo.id, stage="RUNNING", socket=str(life.sandbox.socket), last_used_at=utcnow())
        return True

    def _healthy(self, life: Life, repo: Repo, cfg: spaces.SpaceConfig) -> bool:
        """Poll the app until it answers (< 500), it exits, or startup_duration_timeout passes."""
        sb = life.sandbox
        assert sb is not None
        path = self.mount(repo)
        end = time.monotonic() + cfg.startup_timeout
        transport = httpx.HTTPTransport(uds=str(sb.socket))
        with httpx.Client(transport=transport, timeout=5) as c:
            while time.monotonic() < end and not life.stop.is_set():
                if not sb.running():
                    self._set(
                        repo.id, stage="RUNTIME_ERROR", error=f"The app exited with status {sb.returncode}"
                    )
                    return False
                if (used := sb.data_over()) is not None:
                    self._over_disk(repo, sb, used)
                    return False
                try:
                    if c.get(f"http://127.0.0.1:7860{path}").status_code < 500:
                        return True
                except (httpx.HTTPError, OSError):
                    pass
                time.sleep(0.2)
        sb.stop(grace=5)
        self._set(
            repo.id, stage="RUNTIME_ERROR", error="The app did not answer within startup_duration_timeout"
        )
        return False

    def _watch(self, life: Life, repo: Repo, restarts: int) -> str:
        sb = life.sandbox
        assert sb is not None
        while not life.stop.wait(BEAT):
            row = self._set(repo.id)  # the heartbeat
            if row is None:
                return "lost"
            if not sb.running():
                self._set(repo.id, stage="RUNTIME_ERROR", socket=None,
                          error=f"The app exited with status {sb.returncode}: see the run logs")  # fmt: skip
                return "exited"
            if (used := sb.data_over()) is not None:
                return self._over_disk(repo, sb, used)
            why = self._why_stop(repo, row, restarts)
            if why is not None:
                if why in ("push", "restart"):  # said at once: nobody is sent to the app that is stopping
                    self._set(repo.id, stage="BUILDING", socket=None)
                sb.stop(grace=10)
                if why in ("push", "restart"):
                    return "again"
                stage = {"pause": "PAUSED", "sleep": "SLEEPING"}[why]
                self._set(repo.id, stage=stage, socket=None, error=spaces.PAUSED if why == "pause" else None)
                return why
        return "stop"

    def _over_disk(self, repo: Repo, sb: Sandbox, used: int) -> str:
        """/data has outgrown AGORA_SPACES_DISK_MB: stopped, RUNTIME_ERROR saying so (and the run log)."""
        why = f"the Space's /data is over its {self.limits.disk_mb} MB limit ({used / 2**20:.0f} MB used)"
        self._set(repo.id, stage="RUNTIME_ERROR", socket=None, error=why[0].upper() + why[1:])
        sb.sink(f"sandbox: {why}: stopped")
        sb.stop(grace=10)
        return "disk"

    def _why_stop(self, repo: Repo, row: SpaceRun, restarts: int) -> str | None:
        with self.hub.db.session() as s:
            head = s.scalar(select(Repo.head_sha).where(Repo.id == repo.id))
            st = s.get(SpaceSettings, repo.id)
        if head != row.sha:
            return "push"
        if row.restarts != restarts:
            return "restart"
        if st is not None and st.paused:
            return "pause"
        sleep = st.sleep_time if st is not None and st.sleep_time else self.limits.sleep_time or DEFAULT_SLEEP
        if (
            sleep > 0
            and row.last_used_at is not None
            and utcnow() - row.last_used_at > timedelta(seconds=sleep)
        ):
            return "sleep"
        if self._least_used_of_too_many(repo.id):
            return "sleep"
        return None

    def _least_used_of_too_many(self, repo_id: int) -> bool:
        """More apps run on this host than AGORA_SPACES_MAX_RUNNING and this one was used least recently."""
        with self.hub.db.session() as s:
            running = s.execute(
                select(SpaceRun.repo_id, SpaceRun.last_used_at).where(
                    SpaceRun.owner.is_not(None), SpaceRun.stage.in_(("RUNNING", "APP_STARTING", "BUILDING"))
                )
            ).all()
        if len(running) <= max(1, self.limits.max_running):
            return False
        oldest = min(running, key=lambda r: (r[1] or datetime.min, r[0]))
        return bool(oldest[0] == repo_id)

    # ---- what a start needs -------------------------------------------------------------------------------
    def _checkout(self, repo: Repo, sha: str, say: LogSink) -> Path:
        """The app's files at `sha` in a folder of their own (world-readable: the Space's uid reads them)."""
        dest = self.root / "apps" / f"{repo.id}-{sha}"
        if dest.is_dir():
            return dest
        tmp = dest.with_name(dest.name + f".tmp-{startup.owner()}")
        git = self.hub.git(repo)
        total = 0
        for e in git.all_files(sha):
            total += e.size
            if total > MAX_APP_BYTES:
                raise ValueError(f"The Space's files are larger than {MAX_APP_BYTES // 2**30} GiB")
            target = tmp / e.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                if e.lfs is None:
                    fh.write(git.blob(e.oid))
                else:
                    for start in range(0, e.size, 8 * 2**20):
                        fh.write(self.hub.read_range(repo, e, start, min(8 * 2**20, e.size - start)))
            target.chmod(0o644)
        for d in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            d.chmod(0o755)
        tmp.rename(dest)
        say(f"Checked out {sha[:12]}: {total} bytes")
        return dest

    def _env_spec(self, repo: Repo, cfg: spaces.SpaceConfig, sha: str) -> EnvSpec:
        return env_spec(self.hub, self.limits.python, repo, cfg, sha)

    def _sandbox_spec(self, repo: Repo, cfg: spaces.SpaceConfig, env: Path, app: Path) -> SandboxSpec:
        return SandboxSpec(
            name=f"space-{repo.id}",
            uid=self.limits.uid_base + repo.id,
            env=env,
            app=app,
            data=self.root / "data" / str(repo.id),
            run=self.root / "run" / str(repo.id),
            command=command(cfg, self.mount(repo)),
            environ=self._environ(repo, cfg),
            limits=Limits(
                memory_mb=self.limits.memory_mb, cpu_percent=self.limits.cpu_percent, pids=self.limits.pids
            ),  # fmt: skip
            hub=hub_address(self.settings.listen),
            hub_connections=self.limits.hub_connections,
            data_mb=self.limits.disk_mb,
        )

    def _environ(self, repo: Repo, cfg: spaces.SpaceConfig) -> dict[str, str]:
        with self.hub.db.session() as s:
            given = {
                v.key: v.value
                for v in s.scalars(select(SpaceVariable).where(SpaceVariable.repo_id == repo.id))
            }
        return {
            **given,
            "SPACE_ID": repo_full(repo.namespace, repo.name),
            "SPACE_AUTHOR_NAME": repo.namespace,
            "SPACE_REPO_NAME": repo.name,
            "SPACE_TITLE": cfg.title or repo.name,
            "CPU_CORES": str(max(1, self.limits.cpu_percent // 100)),
            "MEMORY": f"{self.limits.memory_mb // 1024}Gi"
            if self.limits.memory_mb >= 1024
            else f"{self.limits.memory_mb}Mi",
            "ACCELERATOR": "",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_SERVER_PORT": "7860",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_SHARE": "False",
        }


def env_spec(hub: Hub, python: str, repo: Repo, cfg: spaces.SpaceConfig, sha: str) -> EnvSpec:
    """What the Space's environment holds at commit `sha` (`python`: the default interpreter)."""

    def text(path: str) -> bytes:
        e = hub.git(repo).entry(sha, path)
        return hub.git(repo).blob(e.oid) if e is not None and e.lfs is None else b""

    return EnvSpec(python=interpreter(cfg.python_version, python), sdk=cfg.sdk or "",
                   sdk_version=cfg.sdk_version or "", requirements=text("requirements.txt"),
                   pre_requirements=text("pre-requirements.txt"), packages=text("packages.txt"))  # fmt: skip


def env_store(root: Path, limits: SpacesLimits) -> EnvStore:
    """The environments under `root`, built as uid AGORA_SPACES_UID_BASE - 1 within a Space's limits."""
    cg = Limits(limits.memory_mb, limits.cpu_percent, limits.pids)
    hosts = tuple(h for h in limits.build_hosts.split(",") if h.strip())
    return EnvStore(root, uid=limits.uid_base - 1, limits=cg, hosts=hosts)


def command(cfg: spaces.SpaceConfig, mount: str) -> list[str]:
    if cfg.sdk == "streamlit":
        return ["python", "-m", "streamlit", "run", cfg.app_file, "--server.port=7860",
                "--server.address=127.0.0.1", f"--server.baseUrlPath={mount.strip('/')}",
                "--server.headless=true", "--server.enableXsrfProtection=false", "--server.enableCORS=false",
                "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"]  # fmt: skip
    return ["python", "-u", cfg.app_file]


def hub_address(listen: str | None) -> tuple[str, int] | None:
    """Where a Space's Hub bridge connects: the address `agora serve` listens on (AGORA_LISTEN), a wildcard
    or `localhost` as the loopback (any worker process of this host may answer). None when unknown: no way
    to the Hub."""
    if not listen:
        return None
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    loopback = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "localhost": "127.0.0.1", "::": "::1"}
    return loopback.get(host.lower(), host), int(port)


def repo_sdk(repo: Repo) -> str | None:
    return spaces.config(repo.card_data, repo.sdk)[0].sdk


def last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:500] if lines else text[:500]


# ---- garbage (`agora gc`) -------------------------------------------------------------------------------
@dataclass
class SpacesGc:
    """What `collect_garbage` removed (or would): (name, bytes freed) of environments and app checkouts."""

    envs_removed: list[tuple[str, int]] = field(default_factory=list)
    envs_kept: int = 0
    apps_removed: list[tuple[str, int]] = field(default_factory=list)
    apps_kept: int = 0

    @property
    def freed(self) -> int:
        return sum(n for _, n in self.envs_removed) + sum(n for _, n in self.apps_removed)


def collect_garbage(hub: Hub, settings: Settings, apply: bool = False, grace: float = 3600) -> SpacesGc:
    """The environments and app checkouts (`apps/<id>-<sha>`) no Space needs: kept are those of every
    gradio/streamlit Space's default branch head, of the commit a supervisor runs or builds (its
    `space_runs` row), whatever a sandbox of this host has bound now, and what was written less than
    `grace` seconds ago (an env just built for a push gc did not see yet); the rest goes with `apply`.
    Raises BuildError (before removing anything) when the Spaces' interpreter does not run: no env key
    could be known."""
    root = settings.spaces_root
    report = SpacesGc()
    if not root.is_dir():
        return report
    keep_envs, keep_apps = _in_use(hub, settings.spaces.python)
    recent, bound = time.time() - grace, bound_paths(root)
    for kind, keep in (("envs", keep_envs), ("apps", keep_apps)):
        found = list((root / kind).iterdir()) if (root / kind).is_dir() else []
        keep.update(p.name for p in found if p.stat().st_mtime > recent)
        keep.update(p.name for p in bound if p.parent == root / kind)
    if (root / "envs").is_dir():
        store = env_store(root, settings.spaces)
        built = sum(1 for p in store.envs.iterdir() if not p.name.startswith("."))
        report.envs_removed = sorted(store.gc(keep_envs, apply).items())
        report.envs_kept = built - len(report.envs_removed)
    apps = sorted((root / "apps").iterdir()) if (root / "apps").is_dir() else []
    for app in (a for a in apps if ".tmp-" not in a.name):  # a checkout being written: its own process's
        if app.name in keep_apps:
            report.apps_kept += 1
            continue
        report.apps_removed.append((app.name, own_bytes(app)))
        if apply:
            shutil.rmtree(app, ignore_errors=True)
    return report


def _in_use(hub: Hub, python: str) -> tuple[set[str], set[str]]:
    """(env keys, app folder names) of every Space's head and of every commit a supervisor holds."""
    with hub.db.session() as s:
        found = list(s.scalars(select(Repo).where(Repo.type == "space")))
        held = dict(
            s.execute(select(SpaceRun.repo_id, SpaceRun.sha).where(SpaceRun.owner.is_not(None))).all()
        )
        s.expunge_all()
    envs: set[str] = set()
    apps: set[str] = set()
    python_version(python)  # BuildError if it does not run
    for repo in found:
        cfg = spaces.config(repo.card_data, repo.sdk)[0]
        if cfg.sdk not in ("gradio", "streamlit"):
            continue
        for sha in {repo.head_sha, held.get(repo.id)} - {None}:
            assert sha is not None
            apps.add(f"{repo.id}-{sha}")
            try:
                envs.add(env_key(env_spec(hub, python, repo, cfg, sha)))
            except (KeyError, ValueError, BuildError):  # a commit git lost, a python this host lacks
                continue
    return envs, apps


# ---- one per process -------------------------------------------------------------------------------------
_HOSTS: dict[int, SpaceHost] = {}
_HOSTS_MU = threading.Lock()


def of(hub: Hub, settings: Settings) -> SpaceHost:
    with _HOSTS_MU:
        host = _HOSTS.get(id(hub))
        if host is None:
            host = _HOSTS[id(hub)] = SpaceHost(hub, settings)
        return host


def deploy_job(hub: Hub, job: Any, settings: Settings) -> None:
    """The `space-run` artefact's job (a push to a gradio/streamlit Space's default branch): (re)start it."""
    with hub.db.session() as s:
        repo = s.get(Repo, job.repo_id)
    if repo is None or repo_sdk(repo) not in ("gradio", "streamlit"):
        return
    of(hub, settings).deploy(repo.id)
