"""Git over HTTP: clone through Agora vs `git http-backend` behind nginx, and a 1 GiB git-lfs push.

    .venv/bin/python bench/git_clone.py [--commits 5000] [--files 2000] [--runs 5] [--lfs-mib 1024]

It works in one temporary folder (removed at the end unless --keep) and:

1. builds a bare repo of --commits commits touching --files files with `git fast-import` (a generated,
   seeded stream: commit i adds file i while there are files to add, and edits 1-3 existing files);
2. starts `agora serve` on an ephemeral port with a fresh data folder, creates the repo through the API and
   `git push --mirror`s the generated history into it through Agora (timed, for information);
3. serves Agora's own bare repo of that model (the very same directory) with `git http-backend` through
   fcgiwrap behind nginx, both started here on a unix socket / an ephemeral port and stopped at the end;
4. clones both ways --runs times, alternating which goes first: `git clone --bare` (transfer + index-pack,
   what the server is responsible for) and a plain `git clone` (with the checkout of all files). It reports
   the median wall time, the ratio Agora / http-backend (target <= 1.1x) and the server-side CPU seconds
   per clone (a cgroup cpuacct group per server, git children included: unlike wall time this does not
   move with what else the machine runs), and how much of Agora's is its own Python;
5. pushes one --lfs-mib MiB random file through Agora with git-lfs (`git lfs track`, commit, then timed
   `git lfs push` and `git push`) and reports the throughput, with the same bytes' `sha256 + cp` on the
   same disk as a floor, and the peak VmRSS of the granian worker processes (children of `agora serve`),
   sampled every 100 ms.

Needs git, git-lfs, nginx and fcgiwrap (`apt-get install -y fcgiwrap`). --lfs-mib 0 skips step 5.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from _server import free_port, start_server  # bench/_server.py: the one way benchmarks start `agora serve`

MiB = 1024 * 1024
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def wait_for(check: Callable[[], bool], proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log.read_text(errors='replace')}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')}")


def port_open(port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def stop(proc: subprocess.Popen | None, group: bool = False) -> None:
    """SIGTERM (then SIGKILL) to proc, or with group=True to its whole process group: fcgiwrap's
    preforked children outlive their parent otherwise."""
    if proc is None:
        return

    def signal_it(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        except ProcessLookupError:
            pass

    if proc.poll() is None or group:
        signal_it(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            signal_it(signal.SIGKILL)
            proc.wait()


# --- process tree: memory and CPU ------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                kids += [int(x) for x in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                pass
    except FileNotFoundError:
        pass
    return kids


def tree(pid: int) -> list[int]:
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree_cpu(roots: list[int]) -> float:
    """utime + stime + cutime + cstime over the live processes of the trees: a process that has exited and
    been waited for is counted in its parent's cutime/cstime, so nothing is counted twice or lost."""
    ticks = 0
    for root in roots:
        for pid in tree(root):
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            ticks += sum(int(x) for x in f[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuGroup:
    """A cgroup-v1 cpuacct group that the server processes start in: its cpuacct.usage counts every
    process of the tree, even those that were reaped without being accounted to a parent (fcgiwrap ignores
    SIGCHLD, so the CPU time of http-backend and its upload-pack never reaches it). Falls back to the
    process-tree sum when cgroups are not writable here."""

    BASE = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, name: str) -> None:
        self.path: Path | None = self.BASE / f"agora-bench-{os.getpid()}-{name}"
        self.roots: list[int] = []
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def preexec(self) -> None:
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        if self.path is not None:
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        return tree_cpu(self.roots)

    def remove(self) -> None:
        if self.path is not None:
            for _ in range(50):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    time.sleep(0.1)


def own_cpu(pids: list[int]) -> float:
    """utime + stime of these processes alone (not their children): Agora's Python, without git."""
    ticks = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ticks += int(f[11]) + int(f[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class RssSampler:
    """Every `period` s: the summed VmRSS of the direct children of root (granian's workers) and, for
    information, of all their descendants (the git processes they spawn). `phase` labels the samples."""

    root_pid: int
    period: float = 0.1
    phase: str = "idle"
    samples: list[tuple[str, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> RssSampler:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = children(self.root_pid)
            own = sum(rss_kb(p) for p in workers)
            everything = sum(rss_kb(p) for w in workers for p in tree(w))
            self.samples.append((self.phase, own, everything))
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()

    def of(self, phase: str, everything: bool = False) -> list[int]:
        return [e if everything else o for ph, o, e in self.samples if ph == phase]


# --- the generated repository ----------------------------------------------------------------------------


def generate_repo(dest: Path, commits: int, files: int, env: dict[str, str], seed: int = 20261129) -> None:
    """A bare repo with `commits` commits on main whose last tree has `files` text files, via fast-import."""
    rnd = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(2, 10))) for _ in range(3000)]

    def line() -> bytes:
        return (
            " " * (4 * rnd.randint(0, 3)) + " ".join(rnd.choices(words, k=rnd.randint(3, 12))) + "\n"
        ).encode()

    paths = [f"src/pkg{i % 40:02d}/mod{i // 40:02d}_{i:04d}.py" for i in range(files)]
    content: list[list[bytes]] = []
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(dest)], check=True, env=env)
    fi = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=dest, env=env, stdin=subprocess.PIPE)
    assert fi.stdin is not None
    out = fi.stdin
    t0 = 1_700_000_000
    for c in range(commits):
        ops: list[tuple[str, int]] = []
        if len(content) < files and (c < files or c >= commits - (files - len(content))):
            content.append([line() for _ in range(rnd.randint(15, 80))])
            ops.append(("add", len(content) - 1))
        if content and (not ops or c % 3):
            for i in rnd.sample(range(len(content)), min(len(content), rnd.randint(1, 3))):
                lines = content[i]
                for _ in range(rnd.randint(1, 4)):
                    k = rnd.randrange(len(lines) + 1)
                    if rnd.random() < 0.6 or not lines:
                        lines.insert(k, line())
                    else:
                        lines[min(k, len(lines) - 1)] = line()
                ops.append(("edit", i))
        msg = f"Commit {c + 1}: {' '.join(rnd.choices(words, k=6))}\n".encode()
        who = f"Dev {rnd.randint(1, 25)} <dev{rnd.randint(1, 25)}@example.com> {t0 + 600 * c} +0000"
        out.write(b"commit refs/heads/main\n")
        out.write(f"author {who}\ncommitter {who}\n".encode())
        out.write(f"data {len(msg)}\n".encode() + msg)
        for _, i in ops:
            blob = b"".join(content[i])
            out.write(f"M 100644 inline {paths[i]}\ndata {len(blob)}\n".encode() + blob + b"\n")
        out.write(b"\n")
    out.close()
    if fi.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "gc", "-q", "--prune=now"], cwd=dest, check=True, env=env)


# --- nginx + fcgiwrap + git http-backend ------------------------------------------------------------------

NGINX_CONF = """\
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    keepalive_timeout 60;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            fastcgi_pass unix:{socket};
            fastcgi_buffering off;
            fastcgi_request_buffering off;
            fastcgi_read_timeout 600s;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {project_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
        }}
    }}
}}
"""


def start_http_backend(
    root: Path, port: int, project_root: Path, group: CpuGroup
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """fcgiwrap on a unix socket, then nginx in front of it. Returns (fcgiwrap, nginx)."""
    root.mkdir(parents=True, exist_ok=True)
    sock = root / "fcgiwrap.sock"
    log = root / "fcgiwrap.log"
    fcgi = subprocess.Popen(
        [shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap", "-c", "4", "-s", f"unix:{sock}"],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=group.preexec,
        start_new_session=True,
    )  # its own process group: see stop(group=True)
    wait_for(sock.exists, fcgi, "fcgiwrap", log)
    conf = root / "nginx.conf"
    # As root, nginx's worker would otherwise drop to `nobody` and could not reach the socket.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(
            user=user, root=root, port=port, socket=sock, backend=HTTP_BACKEND, project_root=project_root
        )
    )
    nlog = root / "nginx-stdout.log"
    nginx = subprocess.Popen(
        [
            shutil.which("nginx") or "/usr/sbin/nginx",
            "-p",
            str(root),
            "-e",
            str(root / "nginx-error.log"),
            "-c",
            str(conf),
            "-g",
            "daemon off;",
        ],
        stdout=open(nlog, "ab"),
        stderr=subprocess.STDOUT,
        preexec_fn=group.preexec,
    )
    wait_for(port_open(port), nginx, "nginx", nlog)
    group.roots = [fcgi.pid, nginx.pid]
    return fcgi, nginx


# --- helpers ----------------------------------------------------------------------------------------------


def run(argv: list[str], env: dict[str, str], cwd: Path | None = None, capture: bool = True) -> str:
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=capture, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return (p.stdout or "").strip()


def timed(fn: Callable[[], object]) -> float:
    os.sync()  # no dirty pages left by the previous step to be written back during this one
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_s(xs: list[float]) -> str:
    return f"{med(xs):7.2f} s (best {min(xs):.2f})"


def create_repo(host: str, token: str | None, name: str) -> None:
    import httpx

    r = httpx.post(
        f"http://{host}/api/repos/create",
        json={"name": name, "type": "model"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    r.raise_for_status()


def floor_copy(big: Path, dest: Path) -> None:
    """What any upload of `big` must do at least: read it through sha256, and write a copy."""
    h = hashlib.sha256()
    with open(big, "rb") as fh:
        while chunk := fh.read(8 * MiB):
            h.update(chunk)
    shutil.copyfile(big, dest)


def lfs_push_rows(
    lfs_mib: int,
    root: Path,
    host: str,
    token: str | None,
    env: dict[str, str],
    group: CpuGroup,
    sampler: RssSampler,
) -> list[tuple[str, str, str, str]]:
    """5. One big LFS file through git-lfs: git lfs push, then git push of its commit; the report's rows."""
    import httpx

    size = lfs_mib * MiB
    create_repo(host, token, "big-lfs")
    work = root / "lfs-work"
    run(["git", "clone", "-q", f"http://bench:{token}@{host}/bench/big-lfs", str(work)], env)
    run(["git", "lfs", "install", "--local"], env, cwd=work)
    run(["git", "lfs", "track", "*.bin"], env, cwd=work)
    big = work / "model.bin"
    print(f"writing {lfs_mib} MiB of random bytes and `git add`ing it ...", flush=True)
    with open(big, "wb") as fh:
        left = size
        while left:
            n = min(left, 16 * MiB)
            fh.write(os.urandom(n))
            left -= n
    run(["git", "add", ".gitattributes", "model.bin"], env, cwd=work)
    run(["git", "commit", "-q", "-m", "Add a big model"], env, cwd=work)
    lfs_head = run(["git", "rev-parse", "HEAD"], env, cwd=work)

    t_floor = timed(lambda: floor_copy(big, root / "floor-copy.bin"))
    (root / "floor-copy.bin").unlink()

    print("git lfs push, then git push ...", flush=True)
    c0 = group.seconds()
    sampler.phase = "lfs-push"
    t_lfs = timed(lambda: run(["git", "lfs", "push", "origin", "main"], env, cwd=work))
    c1 = group.seconds()
    t_git = timed(lambda: run(["git", "push", "-q", "origin", "main"], env, cwd=work))
    sampler.phase = "idle"
    c2 = group.seconds()
    t_push = t_lfs + t_git
    r = httpx.get(f"http://{host}/api/models/bench/big-lfs", timeout=60)
    r.raise_for_status()
    if r.json().get("sha") != lfs_head:
        raise RuntimeError(f"after the LFS push the API shows {r.json().get('sha')}, expected {lfs_head}")
    time.sleep(0.5)
    push_rss = sampler.of("lfs-push")
    push_all = sampler.of("lfs-push", everything=True)
    idle = sampler.of("idle")
    return [
        (
            f"git lfs push: upload of a {lfs_mib} MiB file -> agora",
            f"{t_lfs:7.2f} s",
            f"{lfs_mib / t_lfs:.0f} MiB/s",
            f"server CPU {c1 - c0:.1f} s",
        ),
        (
            "then git push of the commit (pointer checks)",
            f"{t_git:7.2f} s",
            "",
            f"server CPU {c2 - c1:.1f} s",
        ),
        (
            "git lfs push + git push, end to end",
            f"{t_push:7.2f} s",
            f"{lfs_mib / t_push:.0f} MiB/s",
            "",
        ),
        (
            "info: floor sha256 + cp of the same file",
            f"{t_floor:7.2f} s",
            f"{lfs_mib / t_floor:.0f} MiB/s",
            f"push / floor {t_push / t_floor:.2f}x",
        ),
        (
            "agora worker RSS: idle at start -> end",
            f"{idle[0] / 1024:7.0f} -> {idle[-1] / 1024:.0f} MB",
            "",
            "",
        ),
        (
            "agora worker RSS peak during the LFS push",
            f"{max(push_rss) / 1024:7.0f} MB",
            f"{len(push_rss)} samples",
            f"with git children {max(push_all) / 1024:.0f} MB",
        ),
    ]


def check_clone(dest: Path, who: str, full: bool, head: str, n_files: int, env: dict[str, str]) -> None:
    """The clone in `dest` has HEAD at `head` and, when checked out (`full`), all `n_files` files."""
    got = run(["git", "rev-parse", "HEAD"], env, cwd=dest)
    if got != head:
        raise RuntimeError(f"clone from {who} has HEAD {got}, expected {head}")
    if full:
        checked_out = sum(1 for p in dest.rglob("*.py"))
        if checked_out != n_files:
            raise RuntimeError(f"clone from {who} checked out {checked_out} files, expected {n_files}")


def clone_rows(
    runs: int,
    root: Path,
    urls: dict[str, str],
    server_pid: int,
    groups: dict[str, CpuGroup],
    env: dict[str, str],
    head: str,
    n_files: int,
    sampler: RssSampler,
) -> list[tuple[str, str, str, str]]:
    """4. Clones, --bare and with checkout, from each server in turn (after a warm-up); the report's rows."""
    rows: list[tuple[str, str, str, str]] = []
    results: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    py_cpu: dict[str, list[float]] = {}

    def clone(kind: str, who: str, i: int) -> None:
        dest = root / f"clone-{who}-{kind}-{i}"
        argv = ["git", "clone", "-q"] + (["--bare"] if kind == "bare" else []) + [urls[who], str(dest)]
        py = [server_pid, *children(server_pid)]
        c0, p0 = groups[who].seconds(), own_cpu(py)
        t = timed(lambda: run(argv, env))
        time.sleep(0.2)  # let the server reap its git children (for the fallback CPU count)
        c1, p1 = groups[who].seconds(), own_cpu(py)
        if who == "agora":
            py_cpu.setdefault(kind, []).append(p1 - p0)
        check_clone(dest, who, kind == "full", head, n_files, env)
        shutil.rmtree(dest)
        results.setdefault((kind, who), []).append(t)
        cpu.setdefault((kind, who), []).append(c1 - c0)

    print("warm-up clones (not counted) ...", flush=True)
    for who in urls:
        dest = root / f"warm-{who}"
        run(["git", "clone", "-q", "--bare", urls[who], str(dest)], env)
        shutil.rmtree(dest)
    for kind in ("bare", "full"):
        for i in range(runs):
            order = ["agora", "http-backend"] if i % 2 == 0 else ["http-backend", "agora"]
            for who in order:
                sampler.phase = f"clone-{who}"
                clone(kind, who, i)
                sampler.phase = "idle"
            a, b = results[(kind, "agora")][-1], results[(kind, "http-backend")][-1]
            print(
                f"  clone {'--bare' if kind == 'bare' else '(full)'} run {i + 1}: agora {a:.2f} s, "
                f"http-backend {b:.2f} s, ratio {a / b:.2f}",
                flush=True,
            )

    for kind, label in (("bare", "git clone --bare"), ("full", "git clone (with checkout)")):
        a, b = results[(kind, "agora")], results[(kind, "http-backend")]
        ca, cb = cpu[(kind, "agora")], cpu[(kind, "http-backend")]
        ratio = med(a) / med(b)
        rows += [
            (
                f"{label} <- agora",
                fmt_s(a),
                f"server CPU {med(ca):.2f} s",
                f"of which Python {med(py_cpu[kind]):.2f} s",
            ),
            (f"{label} <- nginx + http-backend", fmt_s(b), f"server CPU {med(cb):.2f} s", ""),
            (
                f"{label}: ratio agora / http-backend",
                f"{ratio:7.2f}x",
                f"CPU ratio {med(ca) / med(cb):.2f}x",
                "target <= 1.1x " + ("OK" if ratio <= 1.1 else "MISSED"),
            ),
        ]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5, help="clones of each kind from each server (default 5)")
    ap.add_argument("--lfs-mib", type=int, default=1024, help="size of the LFS file pushed, MiB (0: skip)")
    ap.add_argument("--workers", type=int, default=1, help="granian workers for `agora serve` (default 1)")
    ap.add_argument("--workdir", default=None, help="parent folder for the temporary data (default: $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if args.files > args.commits:
        ap.error("--files must not exceed --commits (each commit adds at most one file)")

    root = Path(tempfile.mkdtemp(prefix="agora-bench-git-", dir=args.workdir))
    home = root / "home"
    home.mkdir()
    (root / "gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        "[user]\n\tname = Bench\n\temail = bench@example.com\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "HF_"))}
    env.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": str(root / "gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    load_start = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    port, nport = free_port(), free_port()
    host = f"127.0.0.1:{port}"
    server = fcgi = nginx = None
    sampler = None
    groups = {"agora": CpuGroup("agora"), "http-backend": CpuGroup("http-backend")}
    rows: list[tuple[str, str, str, str]] = []
    try:
        # 1. the history
        src = root / "generated.git"
        print(f"generating {args.commits} commits / {args.files} files with git fast-import ...", flush=True)
        t_gen = timed(lambda: generate_repo(src, args.commits, args.files, env))
        head = run(["git", "rev-parse", "main"], env, cwd=src)
        n_commits = int(run(["git", "rev-list", "--count", "main"], env, cwd=src))
        n_files = len(run(["git", "ls-tree", "-r", "--name-only", "main"], env, cwd=src).splitlines())
        pack_kb = sum(p.stat().st_size for p in (src / "objects" / "pack").glob("*.pack")) / 1024
        print(
            f"  {n_commits} commits, {n_files} files, pack {pack_kb / 1024:.1f} MiB, {t_gen:.1f} s",
            flush=True,
        )

        # 2. Agora, the repo through the API, the history through git push
        data = root / "data"
        server = start_server(
            data,
            port=port,
            workers=args.workers,
            log=root / "server.log",
            env=env,
            preexec_fn=groups["agora"].preexec,
        )
        token = server.token
        groups["agora"].roots = [server.pid]
        time.sleep(1)  # let the workers finish importing before the first idle sample
        sampler = RssSampler(server.pid).start()

        import httpx

        create_repo(host, token, "history")
        push_url = f"http://bench:{token}@{host}/bench/history"
        print("git push --mirror into Agora ...", flush=True)
        t_import = timed(lambda: run(["git", "push", "-q", "--mirror", push_url], env, cwd=src))
        r = httpx.get(f"http://{host}/api/models/bench/history", timeout=60)
        r.raise_for_status()
        if r.json().get("sha") != head:
            raise RuntimeError(f"after the push the API shows {r.json().get('sha')}, expected {head}")
        print(f"  {t_import:.1f} s; the API shows the pushed head", flush=True)
        bare = [
            p
            for p in (data / "repos").glob("*/*.git")
            if run(["git", "rev-parse", "main"], env, cwd=p) == head
        ]
        if len(bare) != 1:
            raise RuntimeError(
                f"cannot tell which bare repo under {data / 'repos'} is the pushed one: {bare}"
            )
        bare_repo = bare[0]

        # 3. the same bare repo behind nginx + fcgiwrap + git http-backend
        fcgi, nginx = start_http_backend(root / "nginx", nport, bare_repo.parent, groups["http-backend"])
        urls = {
            "agora": f"http://{host}/bench/history",
            "http-backend": f"http://127.0.0.1:{nport}/{bare_repo.name}",
        }

        # 4. clones
        rows += clone_rows(args.runs, root, urls, server.pid, groups, env, head, n_files, sampler)
        rows.append(("info: push --mirror of the history into agora", f"{t_import:7.2f} s", "", ""))

        # 5. one big LFS file through git-lfs
        if args.lfs_mib:
            rows += lfs_push_rows(args.lfs_mib, root, host, token, env, groups["agora"], sampler)
        clone_rss = sampler.of("clone-agora")
        clone_all = sampler.of("clone-agora", everything=True)
        rows.append(
            (
                "agora worker RSS peak during the clones",
                f"{max(clone_rss) / 1024:7.0f} MB",
                f"{len(clone_rss)} samples",
                f"with git children {max(clone_all) / 1024:.0f} MB",
            )
        )
        sampler.stop()

        w = [
            max(len(r[i]) for r in rows + [("measure", "time / value", "rate / detail", "target")])
            for i in range(4)
        ]
        print()
        print(
            f"Agora git benchmark: {n_commits} commits, {n_files} files (pack {pack_kb / 1024:.1f} MiB), "
            f"{args.runs} run(s) per clone kind and server, median (best); "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {platform.machine()}, "
            f"Python {platform.python_version()}, {run(['git', '--version'], env)}, granian workers="
            f"{args.workers}, server CPU from "
            f"{'cgroup cpuacct' if groups['agora'].path else 'the process trees'}, "
            f"load average at start {load_start}, at end "
            f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
        )
        print()
        print(
            f"| {'measure':{w[0]}} | {'time / value':{w[1]}} | {'rate / detail':{w[2]}} | {'target':{w[3]}} |"
        )
        print(f"|{'-' * (w[0] + 2)}|{'-' * (w[1] + 2)}|{'-' * (w[2] + 2)}|{'-' * (w[3] + 2)}|")
        for r in rows:
            print(f"| {r[0]:{w[0]}} | {r[1]:{w[1]}} | {r[2]:{w[2]}} | {r[3]:{w[3]}} |")
        return 0
    finally:
        if sampler:
            sampler.stop()
        stop(nginx)
        stop(fcgi, group=True)
        if server:
            server.stop()
        for g in groups.values():
            g.remove()
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
