"""Run a Space's app as its own unprivileged uid under bubblewrap, reached over a unix socket.

The command line (`launch_args`; the recipe measured for issue 16):

    sh -c '<join the cgroups>; exec "$@"' ... setpriv --reuid N --regid N --clear-groups
      bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --as-pid-1 <mounts> --clearenv ...
      <env>/bin/python -I /opt/agora/shim.py --listen /run/agora/app.sock --port 7860
        [--forward 7850=/run/agora-hub/hub.sock] -- <app command>

- setpriv first: bwrap started by root with `--unshare-user` keeps host uid 0 for file access (it could
  read root's 0600 files); as uid N it reads only what others may read.
- Inside: a read-only /usr (and the /bin, /lib symlinks), a few files of /etc (ssl, alternatives, localtime,
  mime.types, and a generated passwd/group/hosts), the env read-only at its own path, the app read-only at
  /home/user/app, /data (the Space's, owned by N) and /tmp (a tmpfs: charged to the memory limit) writable,
  the run folder at /run/agora (owned by N, 0700) where the shim makes `app.sock`. No network namespace
  but its own loopback. The environment is `--clearenv` plus what the caller names: nothing of the
  server's (no AGORA_*, AWS_*, tokens).
- The Hub, and only it, when the caller names its address (`SandboxSpec.hub`): a `HubBridge`
  (hubbridge.py) listens on `<root>/hub/<name>/hub.sock`, bound read-only at /run/agora-hub, for as long as
  the sandbox lives; the shim forwards 127.0.0.1:7850 inside to it, and HF_ENDPOINT names that address.
- Limits: a cgroup (cgroups.py), joined by the launcher shell before it execs, so every process is in it.
  /tmp is a tmpfs: what the app writes there is memory, charged to the cgroup's memory limit.
- /data's size (`SandboxSpec.data_mb`): measured by the supervisor (`Sandbox.data_over`, a walk of the
  folder), which stops a Space over it. Not a filesystem quota nor a size-limited mount: quotas need the
  filesystem mounted with them and a quota tool; a loop-mounted image per Space needs root with mount
  rights, loop devices and mkfs (absent in most containers), leaves mounts behind when the server is
  killed, and must be resized and migrated when the limit or the folder changes. The walk works on any
  host and takes effect at once, at a price: the limit is soft, a Space may write past it for the time
  between two checks (a few seconds of its disk bandwidth) before it is stopped.
- The app's stdout and stderr (and bwrap's, the shim's) go to a callback line by line: the run log.
- Stop: SIGTERM to the shim (pid 1 of the sandbox, `--as-pid-1`), which forwards it to the app; SIGKILL to
  bwrap after the grace period (`--die-with-parent` then kills everything inside).
- The building blocks are shared with the build sandbox (envs.py): `base_args` (namespaces, /usr, /etc),
  `env_args`, `launch_args` (setpriv and the cgroup), `Runner.launch` (spawned, drained, limited).
- The sandbox dies with the server: `--die-with-parent` is PR_SET_PDEATHSIG, which fires when the *thread*
  that started the child ends, so every sandbox is started by one thread that lives as long as the
  process (`_Spawner`, as inference/pool.py does).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from . import cgroups
from .cgroups import Limits
from .hubbridge import HubBridge, source_address

log = logging.getLogger("agora.spaces")

LineSink = Callable[[str], None]
APP = "/home/user/app"
RUN = "/run/agora"
SHIM = "/opt/agora/shim.py"
HUB_DIR = "/run/agora-hub"  # the folder of hub.sock inside
# Where the app reaches the Hub: HF_ENDPOINT=http://127.0.0.1:7850 (outside the 7860-7959 gradio may take).
HUB_PORT = 7850
# /etc files a Python app needs: TLS roots, the alternatives links /usr points into, time zone, MIME types.
ETC = ("/etc/ssl", "/etc/alternatives", "/etc/localtime", "/etc/mime.types")
NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")  # sandbox names: they name cgroup folders
# Joins the cgroups named before "--" (writes its own pid to each cgroup.procs), then execs the rest.
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


class SandboxError(Exception):
    """A sandbox could not be started; the message says what to fix."""


@dataclass
class SandboxSpec:
    """One run of a Space's app. `command` runs in /home/user/app with the env's bin/ first on PATH
    (e.g. ["python", "-u", "app.py"]) and must listen on 127.0.0.1:`port`."""

    name: str  # a unique name for this Space (cgroup and log names): [A-Za-z0-9_.-]
    uid: int
    env: Path  # the Python environment (EnvStore.build)
    app: Path  # the app's files: read-only inside
    data: Path  # the Space's persistent /data: created, owned by uid
    run: Path  # the run folder: created, owned by uid, 0700; holds app.sock
    command: list[str]
    environ: dict[str, str] = field(default_factory=dict)
    port: int = 7860
    limits: Limits = field(default_factory=Limits)
    hub: tuple[str, int] | None = None  # the Hub's listening (host, port): the one place the app may reach
    hub_connections: int = 32  # connections to the Hub one Space may have open at once
    data_mb: int = 0  # /data's size limit in MiB, checked by `Sandbox.data_over`; 0: none


class _Spawner:
    """The one thread that starts sandboxes, alive as long as the process (PDEATHSIG is per thread)."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="spaces-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            fn, fut = self.jobs.get()
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

    def call(self, fn: Callable[[], Any]) -> Any:
        fut: Future[Any] = Future()
        self.jobs.put((fn, fut))
        return fut.result()


@cache
def _spawner() -> _Spawner:
    return _Spawner()


def check_reachable(path: Path) -> None:
    """bwrap opens the mount sources as the Space's uid: every folder above them must let others pass."""
    for p in path.parents:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            raise SandboxError(
                f"{p} is not traversable by other users: the Space's uid cannot reach {path} (chmod o+x {p})"
            )


def environment(spec: SandboxSpec) -> dict[str, str]:
    """The app's whole environment: a few basics, then the caller's (the Space's variables and secrets)."""
    env = {
        "PATH": f"{spec.env}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/data",
        "USER": "user",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "VIRTUAL_ENV": str(spec.env),
    }
    env.update(spec.environ)
    if spec.hub is not None:  # ours win: no other endpoint is reachable
        env.update(HF_ENDPOINT=f"http://127.0.0.1:{HUB_PORT}", HF_HUB_DISABLE_TELEMETRY="1")
    return env


def base_args(hostname: str, etc_dir: Path, info_fd: int) -> list[str]:
    """What every sandbox has (an app's and a build's): all namespaces new, no capabilities, a read-only /usr,
    its own /proc, /dev and /tmp, the few /etc files of ETC and the generated passwd, group and hosts."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--as-pid-1"]
    args += ["--info-fd", str(info_fd), "--hostname", hostname]
    args += ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for link in ("bin", "lib", "lib64", "sbin"):
        args += ["--symlink", f"usr/{link}", f"/{link}"]
    for p in ETC:
        args += ["--ro-bind-try", p, p]
    for name in ("passwd", "group", "hosts"):
        args += ["--ro-bind", str(etc_dir / name), f"/etc/{name}"]
    return args


def env_args(environ: dict[str, str]) -> list[str]:
    """The whole environment inside: `environ` and nothing of the server's."""
    args = ["--clearenv"]
    for k, v in environ.items():
        args += ["--setenv", k, v]
    return args


def bwrap_args(
    spec: SandboxSpec, shim_dir: Path, etc_dir: Path, info_fd: int, hub_dir: Path | None = None
) -> list[str]:
    args = base_args("space", etc_dir, info_fd)
    args += ["--ro-bind", str(shim_dir), str(Path(SHIM).parent), "--ro-bind", str(spec.env), str(spec.env)]
    args += ["--ro-bind", str(spec.app), APP, "--bind", str(spec.data), "/data", "--bind", str(spec.run), RUN]
    hub = ["--forward", f"{HUB_PORT}={HUB_DIR}/hub.sock"] if hub_dir else []
    if hub_dir:
        args += ["--ro-bind", str(hub_dir), HUB_DIR]
    args += ["--chdir", APP, *env_args(environment(spec))]
    shim = [
        str(spec.env / "bin" / "python"),
        "-I",
        SHIM,
        "--listen",
        f"{RUN}/app.sock",
        "--port",
        str(spec.port),
        *hub,
    ]
    return [*args, *shim, "--", *spec.command]


def launch_args(uid: int, cg: cgroups.Cgroup | None, bwrap: list[str]) -> list[str]:
    """`bwrap` started as uid (setpriv) by a shell that first joins the cgroup."""
    ids = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    procs = [str(p) for p in cg.procs] if cg else []
    return ["/bin/sh", "-c", JOIN, "agora-space", *procs, "--", *ids, *bwrap]


class Runner:
    """Starts sandboxes. `root` (world-traversable) holds the shim and the generated /etc files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.shim_dir = root / "shim"
        self.shim_dir.mkdir(parents=True, exist_ok=True)
        for d in (root, self.shim_dir):
            d.chmod(0o755)
        target = self.shim_dir / "shim.py"
        shutil.copyfile(Path(__file__).with_name("shim.py"), target)
        target.chmod(0o644)

    def etc(self, uid: int) -> Path:
        """passwd, group and hosts for uid (some libraries want a user name: getpass.getuser())."""
        d = self.root / "etc" / str(uid)
        d.mkdir(parents=True, exist_ok=True)
        for p in (d.parent, d):
            p.chmod(0o755)
        files = {
            "passwd": f"user:x:{uid}:{uid}:user:/data:/bin/sh\n",
            "group": f"user:x:{uid}:\n",
            "hosts": "127.0.0.1 localhost space\n::1 localhost\n",
        }
        for name, text in files.items():  # replaced whole: a sandbox starting now reads the old or the new
            tmp = d / f".{name}.{os.getpid()}.{threading.get_ident()}"
            tmp.write_text(text)
            tmp.chmod(0o644)
            tmp.replace(d / name)
        return d

    def start(self, spec: SandboxSpec, sink: LineSink) -> Sandbox:
        """Start the app; its output goes to `sink` line by line. Raises SandboxError if it cannot start."""
        self._prepare(spec)
        etc = self.etc(spec.uid)
        bridge = self._hub_bridge(spec, spec.hub) if spec.hub is not None else None
        hub_dir = bridge.path.parent if bridge else None
        try:
            sb = self.launch(
                spec.name,
                spec.uid,
                spec.limits,
                lambda fd: bwrap_args(spec, self.shim_dir, etc, fd, hub_dir),
                sink,
                bridge,
            )
        except BaseException:
            if bridge:
                bridge.close()
            raise
        sb.socket = spec.run / "app.sock"
        sb.data, sb.data_mb = spec.data, spec.data_mb
        return sb

    def _hub_bridge(self, spec: SandboxSpec, hub: tuple[str, int]) -> HubBridge:
        """The outer end of the Space's way to the Hub: `<root>/hub/<name>/hub.sock` (the folder root's),
        connecting from the Space's own loopback address when the Hub is on 127.0.0.1."""
        d = self.root / "hub" / spec.name
        d.mkdir(parents=True, exist_ok=True)
        for p in (d.parent, d):
            p.chmod(0o755)
        source = source_address(spec.uid) if hub[0] == "127.0.0.1" else None
        return HubBridge(d / "hub.sock", hub, spec.uid, spec.hub_connections, source)

    def launch(
        self,
        name: str,
        uid: int,
        limits: Limits,
        bwrap: Callable[[int], list[str]],
        sink: LineSink,
        bridge: HubBridge | None = None,
    ) -> Sandbox:
        """Start `bwrap(info_fd)` (the bwrap command line) as uid in a cgroup of `limits` named `name`;
        `bridge` is closed when it ends."""
        from . import missing

        if problems := missing():
            raise SandboxError("Spaces cannot run on this host: " + "; ".join(problems))
        if not NAME.fullmatch(name) or name in (".", ".."):
            raise SandboxError(f"{name!r} is not a sandbox name: letters, digits, '_', '.' and '-' only")
        cg = cgroups.create(name, limits)
        if cg is None:
            sink("sandbox: cgroups cannot be used on this host: it runs without memory/cpu/pids limits")
        r, w = os.pipe()
        try:
            argv = launch_args(uid, cg, bwrap(w))
            proc: subprocess.Popen[bytes] = _spawner().call(lambda: self._popen(argv, w))
        except BaseException:
            os.close(r)
            if cg:
                cg.remove()
            raise
        finally:
            os.close(w)
        return Sandbox(name, limits, proc, r, cg, sink, bridge)

    @staticmethod
    def _popen(argv: list[str], info_fd: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=[info_fd],
            start_new_session=True,
        )

    def _prepare(self, spec: SandboxSpec) -> None:
        for p in (spec.env, spec.app):
            if not p.is_dir():
                raise SandboxError(f"{p} is not a folder")
        for p in (spec.data, spec.run):
            p.mkdir(parents=True, exist_ok=True)
            os.chown(p, spec.uid, spec.uid)
            p.chmod(0o700)
        (spec.run / "app.sock").unlink(missing_ok=True)
        for p in (spec.env, spec.app, spec.data, spec.run, self.shim_dir):
            check_reachable(p)


def bound_paths(under: Path) -> set[Path]:
    """The host folders under `under` that running sandboxes have bound (their env, their app): read from
    the command lines of this host's bwrap processes, whoever started them."""
    found: set[Path] = set()
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:  # not a process, or gone
            continue
        if not argv or Path(argv[0]).name != "bwrap":
            continue
        for flag, src in zip(argv, argv[1:], strict=False):
            if flag in ("--ro-bind", "--bind") and Path(src).is_relative_to(under):
                found.add(Path(src))
    return found


def disk_usage(path: Path) -> int:
    """Bytes of disk the folder `path` takes: allocated blocks of every file and folder under it, each inode
    once, symbolic links never followed (`os.fwalk` holds each folder open: a link swapped in for a folder
    during the walk leads nowhere)."""
    seen: set[int] = set()
    total = os.stat(path, follow_symlinks=False).st_blocks * 512
    for _, dirs, files, fd in os.fwalk(path):
        for name in (*dirs, *files):
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:  # gone meanwhile
                continue
            if st.st_nlink > 1:
                if st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
            total += st.st_blocks * 512
    return total


class Sandbox:
    """A running sandbox. For an app, `socket` is where the server connects (its port, through the shim)."""

    def __init__(
        self,
        name: str,
        limits: Limits,
        proc: subprocess.Popen[bytes],
        info: int,
        cg: cgroups.Cgroup | None,
        sink: LineSink,
        bridge: HubBridge | None = None,
    ) -> None:
        self.name = name
        self.limits = limits
        self.proc = proc
        self.cgroup = cg
        self.bridge = bridge
        self.sink = sink
        self.socket = Path()
        self.data: Path | None = None  # an app's /data and its limit in MiB (0: none), for `data_over`
        self.data_mb = 0
        self.returncode: int | None = None
        self.done = threading.Event()
        self._measure_at = 0.0  # when /data may be measured again (data_over)
        with os.fdopen(info, "rb") as fh:  # bwrap writes it once the sandbox exists; EOF if it failed first
            text = fh.read()
        self.shim_pid: int | None = json.loads(text)["child-pid"] if text.strip() else None
        threading.Thread(target=self._drain, name=f"space-log-{name}", daemon=True).start()

    def _drain(self) -> None:
        """The run log, then the end: stdout reaches EOF once no process of the sandbox holds it."""
        assert self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                self._say(raw.decode("utf-8", "replace").rstrip("\n"))
        finally:
            self.returncode = self.proc.wait()
            if self.bridge:
                try:
                    self.bridge.close()
                except Exception:  # the sandbox's end must still be told
                    log.exception("Sandbox %s: its Hub bridge did not close", self.name)
            if self.cgroup:
                if kills := self.cgroup.oom_kills():
                    limit = self.limits.memory_mb
                    self._say(f"sandbox: the memory limit ({limit} MiB) killed {kills} process(es)")
                self.cgroup.remove()
            self._say(f"sandbox: exited with status {self.returncode}")
            self.done.set()

    def _say(self, line: str) -> None:
        try:
            self.sink(line)
        except Exception:  # a failing log callback must not leave the sandbox unwatched
            log.exception("Sandbox %s: the log callback failed", self.name)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status once the sandbox has ended (and its log is complete), else None after timeout."""
        self.done.wait(timeout)
        return self.returncode

    def running(self) -> bool:
        return not self.done.is_set()

    def data_over(self) -> int | None:
        """The bytes /data takes if that is over its limit (`data_mb`), else None. The supervisor asks
        every beat; the folder is walked at most every 20 times as long as its last walk took."""
        now = time.monotonic()
        if self.data is None or not self.data_mb or now < self._measure_at:
            return None
        try:
            used = disk_usage(self.data)
        except OSError:  # the folder itself is gone: nothing to hold against the Space
            return None
        self._measure_at = now + 20 * (time.monotonic() - now)
        return used if used > self.data_mb * 2**20 else None

    def stop(self, grace: float = 10) -> int | None:
        """SIGTERM to the shim (it forwards it to the app), SIGKILL to the sandbox after `grace` seconds."""
        if self.shim_pid and self.running():
            try:
                os.kill(self.shim_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(grace) is not None:
                return self.returncode
        if self.running():
            self.proc.kill()
        return self.wait(5)
