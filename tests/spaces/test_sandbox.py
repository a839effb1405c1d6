"""The Spaces runner core, for real: uv builds environments, bubblewrap runs apps as their own uid under
cgroup limits, the server reaches them over the shim's unix socket. No mocks.

Needs root, bwrap and setpriv (`make install`); skipped with the reason otherwise. Marked `spaces`: they
run once, in the first pass of `make test` (the scale pass reruns tests/compat only).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from uv import find_uv_bin

from agora.spaces import missing
from agora.spaces.cgroups import Limits, create, own_paths
from agora.spaces.envs import (
    BUILD_UID,
    BuildError,
    EnvSpec,
    EnvStore,
    check_requirements,
    env_key,
    interpreter,
    pip_settings,
    pythons,
    uv_env,
)
from agora.spaces.hubbridge import HubBridge, source_address
from agora.spaces.sandbox import Runner, Sandbox, SandboxError, SandboxSpec

pytestmark = [
    pytest.mark.spaces,
    pytest.mark.skipif(bool(missing()), reason="; ".join(missing()) or "ok"),
]

UID = 900_000_101  # the default AGORA_SPACES_UID_BASE plus a Space number
SERVE = """
import http.server, json, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(REPORT).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", 7860), H).serve_forever()
"""


class Log(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)

    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="agora-spaces-"))
    d.chmod(0o755)  # the Space's uid must traverse it to reach its mounts
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def store(root: Path) -> EnvStore:
    return EnvStore(root / "spaces")


@pytest.fixture(scope="module")
def runner(root: Path) -> Runner:
    return Runner(root / "spaces")


@pytest.fixture(scope="module")
def plain_env(store: EnvStore) -> Path:
    return store.build(EnvSpec(), Log())


@pytest.fixture(scope="module")
def six_env(store: EnvStore) -> Path:
    return store.build(EnvSpec(requirements=b"six\n"), Log())


def make_app(root: Path, name: str, code: str) -> Path:
    app = root / "apps" / name
    app.mkdir(parents=True)
    for d in (app.parent, app):
        d.chmod(0o755)
    (app / "app.py").write_text(code)
    (app / "app.py").chmod(0o644)
    return app


def start(
    runner: Runner, root: Path, name: str, env: Path, app: Path, uid: int = UID, **kw: object
) -> tuple[Sandbox, Log]:
    log = Log()
    spec = SandboxSpec(
        name=name,
        uid=uid,
        env=env,
        app=app,
        data=root / "spaces-data" / name / "data",
        run=root / "spaces-data" / name / "run",
        command=["python", "-u", "app.py"],
        **kw,  # type: ignore[arg-type]
    )
    (root / "spaces-data").mkdir(exist_ok=True)
    (root / "spaces-data").chmod(0o755)
    return runner.start(spec, log), log


def get(sb: Sandbox, path: str = "/", timeout: float = 20) -> httpx.Response:
    """GET through the unix socket, once the app answers."""
    deadline = time.monotonic() + timeout
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sb.socket)), timeout=5) as c:
        while True:
            try:
                return c.get(f"http://space{path}")
            except httpx.TransportError:
                if time.monotonic() > deadline or not sb.running():
                    raise
                time.sleep(0.05)


# --- environments ---------------------------------------------------------------------------------------


def test_env_without_requirements_and_with_a_package_then_reuse(store: EnvStore, plain_env: Path) -> None:
    assert (plain_env / "bin" / "python").exists()
    assert not list((plain_env / "lib").glob("python3*/site-packages/six.py"))
    log = Log()
    t = time.monotonic()
    six = store.build(EnvSpec(requirements=b"six\n"), log)
    assert list((six / "lib").glob("python3*/site-packages/six.py")), log.text()
    assert six.parent == store.envs and six.name == env_key(EnvSpec(requirements=b"six\n"))
    # the second build of the same key is a reuse: same path, no uv run
    log2 = Log()
    t = time.monotonic()
    assert store.build(EnvSpec(requirements=b"six\n"), log2) == six
    assert time.monotonic() - t < 1.0
    assert "reused" in log2.text() and not any(line.startswith("$ uv") for line in log2)
    # world-readable: the Space's uid reads it (the sandbox test imports six as that uid)
    st = next((six / "lib").glob("python3*/site-packages/six.py")).stat()
    assert st.st_mode & 0o004 and six.stat().st_mode & 0o005 == 0o005
    assert not list(store.envs.glob(".tmp-*"))
    # built in the build sandbox, as the build uid: it owns what it wrote, hardlinked from the shared cache
    assert (six.stat().st_uid, st.st_uid, st.st_nlink) == (BUILD_UID, BUILD_UID, 2)
    assert "blocked:" not in log.text()  # PyPI (pypi.org, files.pythonhosted.org) went through the proxy


def test_concurrent_builds_of_one_key_build_once(store: EnvStore) -> None:
    spec = EnvSpec(requirements=b"six\n# concurrent\n")
    logs = [Log(), Log()]
    paths: list[Path] = []
    threads = [threading.Thread(target=lambda lg=lg: paths.append(store.build(spec, lg))) for lg in logs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert paths[0] == paths[1]
    assert sum("reused" in lg.text() for lg in logs) == 1


def test_bad_requirement_fails_with_uvs_message_and_leaves_nothing(store: EnvStore) -> None:
    spec = EnvSpec(requirements=b"agora-no-such-package-4f2a9c==1.0\n")
    log = Log()
    with pytest.raises(BuildError) as exc:
        store.build(spec, log)
    assert "agora-no-such-package-4f2a9c" in str(exc.value)
    assert "No solution found" in log.text() or "not found" in log.text(), log.text()
    assert not store.path(env_key(spec)).exists()
    assert not list(store.envs.glob(".tmp-*"))


def test_build_reaches_no_host_but_the_indexes(store: EnvStore) -> None:
    """A requirement URL on a host that is no index: refused by the proxy, on the build log; the host's
    listener (on the host's loopback, which the build sandbox does not share) gets nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    spec = EnvSpec(
        requirements=f"agora-probe @ http://127.0.0.1:{port}/agora_probe-1.0-py3-none-any.whl\n".encode()
    )
    log = Log()
    try:
        with pytest.raises(BuildError):
            store.build(spec, log)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert "blocked: host 127.0.0.1 is not a package index" in log.text(), log.text()


def test_pre_requirements_come_first_and_are_part_of_the_key(store: EnvStore, six_env: Path) -> None:
    spec = EnvSpec(pre_requirements=b"six\n")
    assert env_key(spec) != env_key(EnvSpec()) and env_key(EnvSpec(requirements=b"six\n")) == six_env.name
    log = Log()
    env = store.build(spec, log)
    assert list((env / "lib").glob("python3*/site-packages/six.py")), log.text()
    assert any("agora-pre-requirements.txt" in line for line in log if line.startswith("$ uv pip install"))


def test_python_version_and_packages_txt_fail_with_what_to_do(store: EnvStore) -> None:
    have = pythons()
    assert have["3.11"] == "/usr/bin/python3.11" and interpreter("3.11.4", "/x") == "/usr/bin/python3.11"
    assert interpreter(None, "/usr/bin/python3") == "/usr/bin/python3"
    with pytest.raises(BuildError, match=r"no Python 3\.10 \(it has: .*3\.11") as exc:
        interpreter("3.10", "/usr/bin/python3")
    assert "3.10" not in have, exc.value
    log = Log()
    with pytest.raises(BuildError, match="apt-get install agora-no-such-deb") as exc:
        store.build(EnvSpec(packages=b"coreutils\nagora-no-such-deb  # comment\n"), log)
    assert "lacks agora-no-such-deb " in str(exc.value) and "coreutils" not in str(exc.value)
    store.build(EnvSpec(packages=b"coreutils bash\n"), log)
    assert "packages.txt: installed on this host: coreutils, bash" in log.text()
    with pytest.raises(BuildError, match="not a Debian package name"):
        store.build(EnvSpec(packages=b"coreutils;rm\n"), log)


def test_requirements_may_not_name_host_files() -> None:
    check_requirements(b"six==1.17.0  # a comment\n\n# only a comment\ngradio>=5\n")
    check_requirements(
        b"six==1.17.0 \\\n    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\n"
    )
    for bad in (
        b"--index-url http://evil/simple\n",
        b"-r /etc/shadow\n",
        b"six\n-e .\n",
        b"/root/pkg.whl\n",
        b"pkg @ file:///etc/passwd\n",
    ):
        with pytest.raises(BuildError, match="not allowed"):
            check_requirements(bad)


def test_pip_configuration_becomes_uvs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///a/simple  file:///b/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "/x\n/y")  # several values, one a line as in pip.conf
    env = uv_env(pip_settings())
    assert env["UV_EXTRA_INDEX_URL"] == "file:///a/simple file:///b/simple"  # the variable beats pip.conf
    assert env["UV_FIND_LINKS"] == "/x,/y"
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"


@pytest.mark.parametrize("req", ["torch==2.13.0", "six"])
def test_uv_takes_the_build_pip_takes(store: EnvStore, plain_env: Path, req: str) -> None:
    """With this machine's pip configuration, `torch==2.13.0` is the local CPU wheel (2.13.0+cpu)."""
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed"]
    report = subprocess.run([*pip, "--report", "-", req], capture_output=True, text=True, check=True)
    want = json.loads(report.stdout)["install"][0]["metadata"]["version"]
    cmd = [
        find_uv_bin(),
        "pip",
        "install",
        "--dry-run",
        "--no-deps",
        "--python",
        str(plain_env / "bin" / "python"),
    ]
    out = subprocess.run([*cmd, req], capture_output=True, text=True, env=store.uv_environ())
    assert f" + {req.split('=')[0]}=={want}" in out.stdout + out.stderr, out.stdout + out.stderr


def test_gc_removes_envs_no_space_uses(store: EnvStore, plain_env: Path, six_env: Path) -> None:
    extra = store.build(EnvSpec(requirements=b"six\n# gc\n"), Log())
    (store.envs / f".tmp-{'0' * 64}-1").mkdir()  # a dead build's leftover
    removed = store.gc({plain_env.name, six_env.name})
    assert extra.name in removed and not extra.exists()
    assert plain_env.exists() and six_env.exists()
    assert not list(store.envs.glob(".tmp-*"))
    assert (store.cache / "CACHEDIR.TAG").exists()  # the uv cache lives among the envs: never collected


def test_own_cgroup_paths() -> None:
    assert own_paths("0::/system.slice/agora.service\n") == {"": "/system.slice/agora.service"}
    v1 = own_paths("4:memory:/a/b\n2:cpu,cpuacct:/\n0::/\n")
    assert v1["memory"] == "/a/b" and v1["cpu"] == "/" and v1["cpuacct"] == "/" and v1[""] == "/"


# --- sandboxes ------------------------------------------------------------------------------------------


def test_plain_app_answers_through_the_unix_socket(runner: Runner, root: Path, plain_env: Path) -> None:
    app = make_app(root, "plain", "REPORT = 'hello from a Space'\n" + SERVE)
    sb, log = start(runner, root, "plain", plain_env, app)
    try:
        r = get(sb)
        assert r.status_code == 200 and r.json() == "hello from a Space", log.text()
        assert oct(sb.socket.parent.stat().st_mode & 0o777) == "0o700"
        assert sb.socket.parent.stat().st_uid == UID
        assert sb.cgroup is not None, log.text()  # this host (and Debian 12) can limit a Space
        names = ("memory.max", "memory.limit_in_bytes", "pids.max", "cpu.max", "cpu.cfs_quota_us")
        limits = {n: (d / n).read_text().split() for d in sb.cgroup.dirs for n in names if (d / n).exists()}
        mem = limits.get("memory.max") or limits["memory.limit_in_bytes"]
        assert mem == [str(2048 * 1024 * 1024)] and limits["pids.max"] == ["512"]
        assert limits.get("cpu.max", limits.get("cpu.cfs_quota_us")) in (["100000", "100000"], ["100000"])
    finally:
        assert sb.stop(grace=5) == 128 + 15  # SIGTERM reached the app through the shim
    assert "shim: the app killed by signal 15" in log.text()
    assert any('"GET / HTTP/1.1" 200' in line for line in log), log.text()  # the app's stderr, in the run log


PROBE = r"""
import errno, json, os, socket
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
def write(p):
    with open(p, "w") as fh:
        fh.write("x")
def connect(host, port):
    with socket.create_connection((host, port), timeout=3):
        pass
import six
REPORT = {
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "six": six.__version__,
    "env": sorted(os.environ),
    "secret_var": os.environ.get("SPACE_SECRET"),
    "read_server_data": attempt(lambda: open(SERVER_SECRET).read()),
    "read_other_space": attempt(lambda: open(OTHER_DATA).read()),
    "list_root_home": attempt(lambda: os.listdir("/root")),
    "write_app": attempt(lambda: write("/home/user/app/new.py")),
    "write_usr": attempt(lambda: write("/usr/agora-probe")),
    "write_data": attempt(lambda: write("/data/probe.txt")),
    "write_tmp": attempt(lambda: write("/tmp/probe.txt")),
    "connect_host_port": attempt(lambda: connect("127.0.0.1", HOST_PORT)),
    "connect_internet": attempt(lambda: connect("1.1.1.1", 443)),
    "interfaces": sorted(name for _, name in socket.if_nameindex()),
}
"""


def test_probe_app_confinement(runner: Runner, root: Path, six_env: Path, plain_env: Path) -> None:
    # the server's data folder (a root-only file) and another Space's /data, at their host paths
    server = root / "server-data"
    server.mkdir()
    (server / "secret.key").write_text("server secret")
    (server / "secret.key").chmod(0o600)
    other_app = make_app(root, "other", "REPORT = 'other'\n" + SERVE)
    other, _ = start(runner, root, "other", plain_env, other_app, uid=UID + 1)
    other_file = root / "spaces-data" / "other" / "data" / "private.txt"
    other_file.write_text("other Space's data")
    listener = socket.create_server(("127.0.0.1", 0))  # a host service on the host's loopback
    os.environ["AGORA_PROBE_SERVER_ONLY"] = "must not reach a Space"
    code = f"SERVER_SECRET = {str(server / 'secret.key')!r}\nOTHER_DATA = {str(other_file)!r}\n"
    code += f"HOST_PORT = {listener.getsockname()[1]}\n" + PROBE + SERVE
    sb, log = start(
        runner, root, "probe", six_env, make_app(root, "probe", code), environ={"SPACE_SECRET": "s3"}
    )
    try:
        rep = get(sb).json()
    finally:
        sb.stop(grace=5)
        other.stop(grace=5)
        listener.close()
        del os.environ["AGORA_PROBE_SERVER_ONLY"]
    assert (rep["uid"], rep["gid"], rep["groups"]) == (UID, UID, []), log.text()
    assert rep["six"]  # the env's package imports, as the Space's uid
    assert rep["secret_var"] == "s3"
    assert not [k for k in rep["env"] if k.startswith(("AGORA_", "AWS_", "HF_TOKEN"))], rep["env"]
    assert set(rep["env"]) <= {
        "PATH",
        "HOME",
        "USER",
        "LANG",
        "TMPDIR",
        "PYTHONUNBUFFERED",
        "VIRTUAL_ENV",
        "SPACE_SECRET",
        "PWD",
    }
    assert rep["read_server_data"] == "ENOENT"  # not even visible
    assert rep["read_other_space"] == "ENOENT"
    assert rep["list_root_home"] == "ENOENT"
    assert rep["write_app"] == "EROFS" and rep["write_usr"] == "EROFS"
    assert rep["write_data"] == "ok" and rep["write_tmp"] == "ok"
    assert (root / "spaces-data" / "probe" / "data" / "probe.txt").stat().st_uid == UID
    assert rep["connect_host_port"] == "ECONNREFUSED"  # its own loopback, not the host's
    assert rep["connect_internet"] == "ENETUNREACH"
    assert rep["interfaces"] == ["lo"]
    # and outside, the other Space's uid could not read this one's /data either
    assert oct((root / "spaces-data" / "probe" / "data").stat().st_mode & 0o777) == "0o700"


HOG = """
import time
chunks = []
print("allocating", flush=True)
for i in range(256):
    chunks.append(bytearray(16 * 1024 * 1024))  # 4 GiB in all, touched (bytearray zero-fills)
print("survived", flush=True)
time.sleep(60)
"""


def test_memory_hog_is_killed_by_the_limit(runner: Runner, root: Path, plain_env: Path) -> None:
    sb, log = start(runner, root, "hog", plain_env, make_app(root, "hog", HOG), limits=Limits(memory_mb=128))
    status = sb.wait(60)
    assert status == 128 + 9, log.text()  # the shim reports the app's SIGKILL
    assert "shim: the app killed by signal 9" in log.text()
    assert "survived" not in log.text()
    assert "the memory limit (128 MiB) killed" in log.text(), log.text()
    assert sb.cgroup is not None and not any(d.exists() for d in sb.cgroup.dirs)  # removed once it ended


ORPHAN = """
import json, sys, threading, time
from pathlib import Path
from agora.spaces.sandbox import Runner, SandboxSpec
root, env, app = (Path(a) for a in sys.argv[1:4])
spec = SandboxSpec(name="orphan", uid=int(sys.argv[4]), env=env, app=app, data=root / "orphan" / "data",
                   run=root / "orphan" / "run", command=["python", "-u", "app.py"])
out = []
t = threading.Thread(target=lambda: out.append(Runner(root / "spaces").start(spec, lambda line: None)))
t.start()
t.join()  # the thread that asked for the sandbox is gone: the sandbox must live on
print(json.dumps({"shim": out[0].shim_pid, "bwrap": out[0].proc.pid}), flush=True)
time.sleep(600)
"""


def test_sandbox_outlives_the_calling_thread_and_dies_with_the_server(
    runner: Runner, root: Path, plain_env: Path
) -> None:
    app = make_app(root, "orphan", "REPORT = 'orphan'\n" + SERVE)
    server = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(root), str(plain_env), str(app), str(UID + 2)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert server.stdout is not None
        pids = json.loads(server.stdout.readline())
        sock = root / "orphan" / "run" / "app.sock"
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=5) as c:
            for _ in range(200):
                try:
                    assert c.get("http://space/").json() == "orphan"
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            else:
                raise AssertionError("the sandbox died with the thread that started it")
    finally:
        server.send_signal(signal.SIGKILL)  # the server dies without a word
        server.wait()
        if cg := create("orphan", Limits()):  # its cgroup outlives it (a supervisor reuses the name)
            cg.remove()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{p}").exists() for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids.values() if Path(f"/proc/{p}").exists()], "the sandbox outlived the server"


def test_settings_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.config import Settings, SpacesLimits

    d = SpacesLimits()
    assert Limits() == Limits(memory_mb=d.memory_mb, cpu_percent=d.cpu_percent, pids=d.pids)
    assert EnvSpec().python == d.python
    monkeypatch.setenv("AGORA_SPACES_MEMORY_MB", "256")
    monkeypatch.setenv("AGORA_SPACES_UID_BASE", "70000")
    monkeypatch.setenv("AGORA_SPACES_PYTHON", "/usr/bin/python3.11")
    s = Settings.from_env("/tmp/agora-settings-test").spaces
    assert (s.memory_mb, s.uid_base, s.python, s.pids) == (256, 70000, "/usr/bin/python3.11", 512)
    from agora.spacehost import hub_address

    assert s.hub_connections == 32 and s.disk_mb == 10240
    assert hub_address("0.0.0.0:8080") == ("127.0.0.1", 8080) and hub_address("[::]:80") == ("::1", 80)
    assert hub_address("hub.lan:8080") == ("hub.lan", 8080) and hub_address(None) is None
    assert hub_address("localhost:8080") == ("127.0.0.1", 8080)


STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
print("up", flush=True)
while True:
    time.sleep(1)
"""


def test_stop_kills_an_app_that_ignores_sigterm(runner: Runner, root: Path, plain_env: Path) -> None:
    sb, log = start(runner, root, "stubborn", plain_env, make_app(root, "stubborn", STUBBORN))
    while "up" not in log and sb.running():
        time.sleep(0.02)
    pid = sb.shim_pid
    t = time.monotonic()
    assert sb.stop(grace=1) == -signal.SIGKILL, log.text()
    assert 1 <= time.monotonic() - t < 15  # SIGKILL after the 1 s grace (a loaded machine is slow)
    assert "ignoring SIGTERM" in log.text()
    assert pid and gone(pid)  # the run log ends when no process holds its pipe: every process has ended


def gone(pid: int) -> bool:
    """The process has ended: no /proc entry, or a zombie waiting for a reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_names_and_unreachable_folders_are_refused(runner: Runner, root: Path, plain_env: Path) -> None:
    app = make_app(root, "refused", "")
    with pytest.raises(SandboxError, match="not a sandbox name"):
        start(runner, root, "../escape", plain_env, app)
    hidden = root / "hidden"
    hidden.mkdir(mode=0o700)
    (hidden / "app").mkdir()
    with pytest.raises(SandboxError, match=rf"chmod o\+x {hidden}\)"):
        start(runner, root, "hidden", plain_env, hidden / "app")


def test_missing_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert missing() == [
        "bwrap is not installed: apt-get install bubblewrap",
        "setpriv is not installed: apt-get install util-linux",
    ]


ECHO = """
import socketserver
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data.upper())
        self.request.sendall(b"BYE")  # after the client's half-close: the other direction still works
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", 7860), Echo).serve_forever()
"""


def echo_connection(sb: Sandbox, deadline: float) -> socket.socket:
    """A connection through the shim once the app answers "ping" (before it listens, the shim hangs up)."""
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(str(sb.socket))
            s.sendall(b"ping")
            if s.recv(100) == b"PING":
                return s
        except OSError:
            pass
        s.close()
        assert time.monotonic() < deadline and sb.running(), "the echo app never answered"
        time.sleep(0.05)


def test_the_shim_pipes_raw_bytes_both_ways(runner: Runner, root: Path, plain_env: Path) -> None:
    """What WebSocket and SSE need: a long-lived connection, bytes either way at any time, half-close."""
    sb, log = start(runner, root, "echo", plain_env, make_app(root, "echo", ECHO))
    try:
        with echo_connection(sb, time.monotonic() + 20) as s:
            big = os.urandom(1 << 20).hex().encode()  # 2 MiB through both pipes while they are read
            threading.Thread(target=lambda: (s.sendall(big), s.shutdown(socket.SHUT_WR))).start()
            got = bytearray()
            while chunk := s.recv(1 << 16):
                got += chunk
        assert bytes(got) == big.upper() + b"BYE", log.text()
    finally:
        sb.stop(grace=5)


ORPHANS = """
import os, time
for _ in range(5):  # each child forks a grandchild and exits: the grandchild ends as an orphan of pid 1
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(0.2)
        os._exit(0)
    os.wait()
print("forked", flush=True)
time.sleep(60)
"""


def test_the_shim_reaps_orphans(runner: Runner, root: Path, plain_env: Path) -> None:
    sb, log = start(runner, root, "orphans", plain_env, make_app(root, "orphans", ORPHANS))
    try:
        deadline = time.monotonic() + 10
        while "forked" not in log:
            assert time.monotonic() < deadline, log.text()
            time.sleep(0.05)
        time.sleep(1.5)  # the grandchildren have exited; the shim looks every second
        kids = Path(f"/proc/{sb.shim_pid}/task/{sb.shim_pid}/children").read_text().split()
        states = [Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1].split()[0] for k in kids]
        assert states and "Z" not in states, states  # only the app is left, alive
    finally:
        sb.stop(grace=1)


HUB_CLIENT = r"""
import errno, hashlib, http.server, json, os, socket, time, urllib.request
HUB = os.environ["HF_ENDPOINT"]
def attempt(fn):
    try:
        return fn()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))
def connect(host, port):
    with socket.create_connection((host, port), timeout=3):
        return "ok"
def download(path):
    with urllib.request.urlopen(f"{HUB}/{REPO}/resolve/main/{path}", timeout=30) as r:
        return r.read()
def via_bridge_as_proxy(url):  # the bridge is no proxy: an absolute URL still reaches the Hub, as the Hub
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": HUB}))
    with opener.open(url, timeout=10) as r:
        return r.status
def held_open():  # the bridge's bound: the third connection at once is closed by the server's end
    conns = [socket.create_connection(("127.0.0.1", 7850), timeout=1) for _ in range(3)]
    out = []
    for c in conns:
        try:
            out.append("closed" if c.recv(1) == b"" else "data")
        except TimeoutError:
            out.append("open")
    for c in conns:
        c.close()
    return out
def report():
    big = download("big.bin")
    return {
        "endpoint": HUB,
        "hello": download("hello.txt").decode(),
        "big": [len(big), hashlib.sha256(big).hexdigest()],
        "model_id": json.load(urllib.request.urlopen(f"{HUB}/api/models/{REPO}", timeout=10))["id"],
        "proxy_elsewhere": attempt(lambda: via_bridge_as_proxy(f"http://127.0.0.1:{HOST_PORT}/")),
        "connect_hub_port": attempt(lambda: connect("127.0.0.1", HUB_PORT)),
        "connect_host_port": attempt(lambda: connect("127.0.0.1", HOST_PORT)),
        "connect_internet": attempt(lambda: connect("1.1.1.1", 443)),
        "held_open": (time.sleep(0.5), held_open())[1],
    }
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(report()).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", 7860), H).serve_forever()
"""


def test_the_space_reaches_the_hub_and_nothing_else(
    runner: Runner, root: Path, plain_env: Path, server: Any, api: Any
) -> None:
    """HF_ENDPOINT leads to the running Hub (a small and a 3 MB file of a public model repo, the API); the
    host's other loopback ports and the internet stay unreachable, the bridge reaches no host the Space
    names, and a Space holds at most `hub_connections` connections to the Hub at once."""
    import hashlib

    rid = f"alice/space-hub-{os.getpid()}"
    api.create_repo(rid)
    big = os.urandom(3 * 2**20)
    api.upload_file(path_or_fileobj=b"hello from the Hub", path_in_repo="hello.txt", repo_id=rid)
    api.upload_file(path_or_fileobj=big, path_in_repo="big.bin", repo_id=rid)
    hub_port = int(server.url.rsplit(":", 1)[1])
    listener = socket.create_server(("127.0.0.1", 0))  # another host service on the host's loopback
    listener.setblocking(False)
    port = listener.getsockname()[1]
    code = f"REPO = {rid!r}\nHUB_PORT = {hub_port}\nHOST_PORT = {port}\n" + HUB_CLIENT
    sb, log = start(
        runner,
        root,
        "hubclient",
        plain_env,
        make_app(root, "hubclient", code),
        hub=("127.0.0.1", hub_port),
        hub_connections=2,
    )
    sock = runner.root / "hub" / "hubclient" / "hub.sock"
    try:
        r = get(sb, timeout=60)
        assert r.status_code == 200, log.text()
        rep = r.json()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected to it
        assert sock.stat().st_uid == UID and oct(sock.stat().st_mode & 0o777) == "0o600"
    finally:
        sb.stop(grace=5)
        listener.close()
    assert rep["endpoint"] == "http://127.0.0.1:7850"
    assert rep["hello"] == "hello from the Hub"
    assert rep["big"] == [len(big), hashlib.sha256(big).hexdigest()]
    assert rep["model_id"] == rid
    assert rep["proxy_elsewhere"] == 200  # the Hub's own home page, not the host's listener
    assert rep["connect_hub_port"] == "ECONNREFUSED"  # the Hub only through the bridge
    assert rep["connect_host_port"] == "ECONNREFUSED"
    assert rep["connect_internet"] == "ENETUNREACH"
    assert rep["held_open"] == ["open", "open", "closed"], rep
    assert not sock.exists()  # the bridge ended with the sandbox


def test_the_hub_bridge_pipes_bytes_from_the_spaces_own_loopback_address(root: Path) -> None:
    """The outer end alone: what comes in on hub.sock reaches the target unchanged, from 127.x.y.z of the
    Space's uid (not 127.0.0.1); closed, it removes its socket."""
    target = socket.create_server(("127.0.0.1", 0))
    target.settimeout(10)
    folder = root / "bridge-alone"
    folder.mkdir()
    bridge = HubBridge(
        folder / "hub.sock", ("127.0.0.1", target.getsockname()[1]), UID, 4, source_address(UID)
    )
    try:
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(str(bridge.path))
            c.sendall(b"GET http://elsewhere:8080/ HTTP/1.1\r\nHost: elsewhere:8080\r\n\r\n")
            conn, peer = target.accept()
            with conn:
                assert (
                    conn.recv(1000) == b"GET http://elsewhere:8080/ HTTP/1.1\r\nHost: elsewhere:8080\r\n\r\n"
                )
                conn.sendall(b"an answer")
                assert c.recv(100) == b"an answer"
        assert peer[0] == source_address(UID) == "127.164.233.101"
    finally:
        bridge.close()
        target.close()
    assert not bridge.path.exists()
    assert source_address(2**25 - 1) == source_address(2**24 + 1) == "127.0.0.2"  # never .255.255.255, .0.0.1


FILLER = """
import os, time
with open("/data/one.bin", "wb") as fh:
    fh.write(os.urandom(2**20))
for i in range(10):  # the same inode eleven times: counted once
    os.link("/data/one.bin", f"/data/link{i}.bin")
os.symlink("/usr", "/data/usr")  # never followed
os.makedirs("/data/a/b/c")
print("ready", flush=True)
time.sleep(2)
with open("/data/a/b/c/fill.bin", "wb") as fh:
    for _ in range(8):
        fh.write(os.urandom(2**20))
        fh.flush()
        os.fsync(fh.fileno())
print("wrote", flush=True)
time.sleep(60)
"""


def test_data_over_its_limit_is_seen(runner: Runner, root: Path, plain_env: Path) -> None:
    """/data's size (its blocks, each inode once, links not followed) against `data_mb`: what the supervisor
    asks every beat before it stops the Space (test_spaces_run checks that stop)."""
    sb, log = start(runner, root, "filler", plain_env, make_app(root, "filler", FILLER), data_mb=4)
    try:
        deadline = time.monotonic() + 20
        while "ready" not in log:
            assert time.monotonic() < deadline and sb.running(), log.text()
            time.sleep(0.05)
        assert sb.data_over() is None, log.text()  # 1 MiB: the links and /usr do not count
        while (used := sb.data_over()) is None:
            assert time.monotonic() < deadline and sb.running(), log.text()
            time.sleep(0.1)
        assert 4 * 2**20 < used < 12 * 2**20, used
    finally:
        sb.stop(grace=1)
