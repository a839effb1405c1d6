"""Content-addressed Python environments for Spaces, built with uv in a sandbox: `<root>/envs/<key>/`.

One environment per key = sha256(interpreter path and version, sdk, sdk_version, requirements.txt bytes,
pre-requirements.txt bytes when there are any), shared read-only by every Space with that key (bound at its
own path in each sandbox: uv venvs keep absolute paths in `pyvenv.cfg`, so the path never changes once built).

- Builds run under a per-key flock, into `envs/.tmp-<key>-<pid>`, renamed into place when complete: a
  second build of the same key waits and reuses it; a failed build leaves nothing.
- One uv cache for all (`<root>/envs/.uv-cache`, hardlinked into the envs: a hardlink cannot cross mounts, so
  the cache and the envs share the one folder bound into the build sandbox), bytecode compiled at build time
  (the sandbox cannot write `.pyc` into a read-only env: without it every start pays ~2 s).
- The machine's pip configuration (index-url, extra-index-url, find-links, constraint, cert) is applied to
  uv, which ignores pip.conf: a requirement of torch takes the build pip would take (here the local CPU
  wheel), and indexes are combined as pip does (`unsafe-best-match`).
- Source distributions are never built (`--no-build`): building one runs its setup code. A requirement
  without a wheel fails the build with uv's message. pre-requirements.txt is installed first, on its own.
- python_version "3.X" (README) picks /usr/bin/python3.X (`interpreter`): root's, runnable by all, never
  downloaded (`UV_PYTHON_DOWNLOADS=never`); one the host lacks fails the build, listing those it has.
- packages.txt (Debian packages) is checked, not installed (`check_packages`, dpkg-query, every build): a
  missing package fails the build naming the admin's `apt-get install` command.

The build sandbox (`Build`): each uv run is a bwrap sandbox made of sandbox.py's blocks (`base_args`,
`env_args`, `Runner.launch`: setpriv, `--unshare-all`, read-only /usr, a cgroup with the Space limits) with
`<root>/envs` writable at its own path (this build's target and the cache: the build uid owns nothing else
there but the envs it built), uv at /opt/uv/uv, the shim, and pip's local indexes, find-links folders,
constraint files and cert read-only at their own paths. Its network is its own loopback only: uv's
HTTP(S)_PROXY is the shim's listener on 127.0.0.1:3128, forwarded to a unix socket where the server's
`indexproxy.IndexProxy` lets through only the configured remote index hosts (and their files hosts,
AGORA_SPACES_BUILD_HOSTS); anything else is refused and logged ("blocked: host X is not a package index").

Which uid builds: one dedicated build uid (`BUILD_UID`, the caller passes AGORA_SPACES_UID_BASE - 1), not the
Space's. An env and the uv cache are shared by every Space with the same key, so:
- the cache must be writable by every build and its files owned by the builder: the kernel's
  protected_hardlinks lets a uid hardlink only files it owns (or may write), so with per-Space uids either
  the cache would be world-writable (one Space's build could change the files of all) or every build after
  the first would fall back to copying whole envs;
- an env built as Space A's uid would be A's to change while Space B runs it (bound read-only into B, but A's
  uid owns the inodes on the host).
The build uid never runs a Space's app (no Space has number -1), and the build runs no Space code
(`--no-build`): what a Space chooses is only which wheels of the allowed indexes land in its env. The app
uids may read the envs (world-readable, umask 022) and write nothing of them.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import uv

from .cgroups import Limits
from .indexproxy import IndexProxy, allowed_hosts
from .sandbox import RUN, SHIM, Runner, SandboxError, base_args, check_reachable, env_args

LineSink = Callable[[str], None]

# pip's setting -> (uv's variable, the separator uv wants between several values)
PIP_TO_UV = {
    "index-url": ("UV_INDEX_URL", " "),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
    "constraint": ("UV_CONSTRAINT", " "),
    "cert": ("SSL_CERT_FILE", " "),
}
# `pip config list` sections that apply to `pip install`, the weakest first (the environment wins).
SECTION_RANK = {"global": 0, "install": 1, ":env:": 2}
BUILD_UID = 899_999_999  # the default AGORA_SPACES_UID_BASE - 1: builds run as this uid (see above)
TAIL = 40  # lines of uv's output an error carries
DEFAULT_INDEX = "https://pypi.org/simple"  # uv's, when pip names no index-url
UV = "/opt/uv/uv"  # where the uv binary is bound in the build sandbox
PROXY_PORT = 3128  # the shim's listener inside the build sandbox, forwarded to the index proxy
PYTHONS = Path("/usr/bin")  # python_version X.Y picks /usr/bin/pythonX.Y
DEB_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?")  # a Debian package name, maybe :arch


class BuildError(Exception):
    """An environment could not be built; the message ends with uv's own output."""


@dataclass(frozen=True)
class EnvSpec:
    """What an environment holds. `sdk` is "gradio" or "streamlit" (pinned to `sdk_version` when given), or
    "" for a plain app (and "static", which needs no Python but may still ask for one)."""

    python: str = "/usr/bin/python3"
    sdk: str = ""
    sdk_version: str = ""
    requirements: bytes = b""
    pre_requirements: bytes = b""  # pre-requirements.txt: installed first, on its own (as the Hub does)
    packages: bytes = b""  # packages.txt: Debian packages the host must have (checked, not installed)

    def pins(self) -> list[str]:
        if self.sdk not in ("gradio", "streamlit"):
            return []
        return [f"{self.sdk}=={self.sdk_version}" if self.sdk_version else self.sdk]


@cache
def python_version(python: str) -> str:
    """The interpreter's full version (`sys.version`), part of the key: an upgraded Python is a new env."""
    out = subprocess.run(
        [python, "-I", "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    )
    if out.returncode:
        raise BuildError(f"The interpreter {python} does not run: {out.stderr.strip()}")
    return out.stdout.strip()


def env_key(spec: EnvSpec) -> str:
    h = hashlib.sha256()
    for part in (spec.python, python_version(spec.python), spec.sdk, spec.sdk_version):
        h.update(part.encode() + b"\0")
    h.update(spec.requirements)
    if spec.pre_requirements:  # only then: the keys of the envs built before pre-requirements stay
        h.update(b"\0pre-requirements\0" + spec.pre_requirements)
    return h.hexdigest()


def pythons() -> dict[str, str]:
    """The system interpreters a Space may ask for, {"3.11": "/usr/bin/python3.11"}: root's, runnable by
    anyone (the build and the app run as other uids). Never downloaded."""
    out = {}
    for p in PYTHONS.glob("python3.*"):
        m = re.fullmatch(r"python(\d+\.\d+)", p.name)
        st = p.stat() if m and p.exists() else None
        if m and st and st.st_uid == 0 and st.st_mode & 0o005 == 0o005:
            out[m[1]] = str(p)
    return out


def interpreter(version: str | None, default: str) -> str:
    """The interpreter of README `python_version` ("3.11"; a patch level, "3.11.4", is not matched):
    /usr/bin/python3.11, or `default` when none is asked for."""
    if not version:
        return default
    want = ".".join(version.split(".")[:2])
    have = pythons()
    if want not in have:
        listed = ", ".join(sorted(have, key=lambda v: tuple(map(int, v.split("."))))) or "none"
        raise BuildError(
            f"python_version {version}: this host has no Python {want} (it has: {listed}); "
            "name one of those in the README, or ask the admin to install python" + want
        )
    return have[want]


def check_packages(text: bytes, log: LineSink) -> None:
    """packages.txt: the Debian packages a Space needs must be installed on the host already (a build
    cannot install system packages); a missing one fails the build, naming the admin's command."""
    names = []
    for n, raw in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        for name in raw.split("#")[0].split():
            if not DEB_NAME.fullmatch(name):
                raise BuildError(f"packages.txt line {n}: {name!r} is not a Debian package name")
            names.append(name)
    if not names:
        return
    lacking = [name for name in names if not deb_installed(name)]
    if lacking:
        raise BuildError(
            f"packages.txt: this host lacks {', '.join(lacking)} (Spaces cannot install system packages): "
            f"an admin installs them with `apt-get install {' '.join(lacking)}`"
        )
    log(f"packages.txt: installed on this host: {', '.join(names)}")


def deb_installed(name: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", name], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == "installed"


def check_requirements(text: bytes, name: str = "requirements.txt") -> None:
    """Refuse what would make uv read the host's files or another index: options (`-r`, `-c`, `-e`,
    `--index-url`...) and local paths. The build sandbox binds only the local indexes, but uv's errors
    quote what it read and another index would be refused by the proxy anyway: say so first."""
    for n, raw in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        line = raw.split(" #")[0].strip()
        option = line.startswith("-") and not line.startswith("--hash")  # hashes continue a pinned line
        if line and not line.startswith("#") and (option or line[0] in "/.~" or "file:" in line):
            raise BuildError(
                f"{name} line {n}: {line!r} is not allowed here (options and local paths are "
                "refused: name packages from the index, e.g. `six==1.17.0`)"
            )


def pip_settings(pip_python: str = sys.executable) -> dict[str, str]:
    """pip's effective install settings as `pip config list` reports them (files and PIP_* variables)."""
    out = subprocess.run([pip_python, "-m", "pip", "config", "list"], capture_output=True, text=True)
    found: dict[str, tuple[int, str]] = {}
    for line in out.stdout.splitlines():
        m = re.fullmatch(r"(.*?)\.([\w-]+)=('.*')", line.strip())  # the value is a Python repr
        if not m or m[1] not in SECTION_RANK:
            continue
        rank = SECTION_RANK[m[1]]
        if m[2] not in found or found[m[2]][0] <= rank:
            found[m[2]] = (rank, str(ast.literal_eval(m[3])))
    return {k: v for k, (_, v) in found.items()}


def uv_env(pip: dict[str, str]) -> dict[str, str]:
    """pip's settings as uv's variables (uv ignores pip.conf)."""
    out = {"UV_INDEX_STRATEGY": "unsafe-best-match"}  # pip's way: the best version across all indexes
    for key, (var, sep) in PIP_TO_UV.items():
        if pip.get(key):
            out[var] = sep.join(pip[key].split())
    return out


def local_paths(pip: dict[str, str]) -> list[str]:
    """The host files pip's configuration names (file:// indexes with the folder their pages link into,
    find-links folders, constraint files, the cert), bound read-only into the build sandbox."""
    out = []
    for key in PIP_TO_UV:
        for v in pip.get(key, "").split():
            u = urlsplit(v)
            if u.scheme not in ("", "file"):
                continue
            path = Path(u.path)
            out.append(path.parent if key.endswith("index-url") else path)  # simple/ links to ../../files
    return sorted({str(p) for p in out if p.is_absolute() and p.exists()})


def own_bytes(path: Path) -> int:
    """The bytes removing the folder `path` frees: its folders' blocks and those of every file all of whose
    links are in it (an env's files hardlinked from the uv cache are not), links never followed."""
    total = os.stat(path, follow_symlinks=False).st_blocks * 512
    files: dict[int, list[int]] = {}  # inode -> [its links seen here, its link count, its bytes]
    for _, dirs, names, fd in os.fwalk(path):
        for name, is_dir in [*((d, True) for d in dirs), *((n, False) for n in names)]:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError:  # gone meanwhile
                continue
            if is_dir:
                total += st.st_blocks * 512
            else:
                files.setdefault(st.st_ino, [0, st.st_nlink, st.st_blocks * 512])[0] += 1
    return total + sum(size for seen, nlink, size in files.values() if seen >= nlink)


def remote_urls(pip: dict[str, str]) -> list[str]:
    """The remote index and find-links URLs of pip's configuration (uv's default index when none)."""
    urls = pip.get("index-url", DEFAULT_INDEX).split() + pip.get("extra-index-url", "").split()
    urls += pip.get("find-links", "").split()
    return [u for u in urls if urlsplit(u).scheme in ("http", "https")]


class EnvStore:
    """The environments under `<root>/envs/`, their shared uv cache `<root>/envs/.uv-cache/`, built in the
    build sandbox as `uid` under `limits`; `hosts` are the admin's extra index hosts (`host[:port]`)."""

    def __init__(
        self,
        root: Path,
        pip_python: str = sys.executable,
        uid: int = BUILD_UID,
        limits: Limits | None = None,
        hosts: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.envs = root / "envs"
        self.locks = root / "env-locks"
        self.cache = self.envs / ".uv-cache"  # in envs/: a hardlink cannot cross mounts, one bind holds both
        self.runs = root / "build-run"
        for d in (self.root, self.envs, self.runs):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)  # the Space's uid must reach its env (it never lists the folder: bound alone)
        self.locks.mkdir(mode=0o700, exist_ok=True)
        self.pip_python = pip_python
        self.uid = uid
        self.limits = limits or Limits()
        self.hosts = hosts
        self.runner = Runner(root / "sandbox")
        shutil.rmtree(root / "uv-cache", ignore_errors=True)  # the cache of root's builds, before sandboxing
        self.cache.mkdir(mode=0o700, exist_ok=True)
        if self.cache.stat().st_uid != uid:
            chown_tree(self.cache, uid)

    def path(self, key: str) -> Path:
        return self.envs / key

    def find(self, spec: EnvSpec) -> Path | None:
        """The built environment of `spec`, if there is one."""
        p = self.path(env_key(spec))
        return p if p.is_dir() else None

    def build(self, spec: EnvSpec, log: LineSink) -> Path:
        """The environment of `spec`, built now unless it exists; every line of the build goes to `log`."""
        check_requirements(spec.pre_requirements, "pre-requirements.txt")
        check_requirements(spec.requirements)
        check_packages(spec.packages, log)
        key = env_key(spec)
        final = self.path(key)
        with self._lock(key):
            if final.is_dir():
                log(f"Environment {key[:12]} exists: reused")
                return final
            tmp = self.envs / f".tmp-{key}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                self._build_into(tmp, key, spec, log)
                tmp.rename(final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        log(f"Environment {key[:12]} built")
        return final

    def gc(self, keep: set[str], apply: bool = True) -> dict[str, int]:
        """Remove the environments whose key is not in `keep` (and leftovers of dead builds), except those
        being built now; returns each key removed with the bytes that freed (`own_bytes`: the files an env
        shares with the uv cache stay there). `apply=False` removes nothing and says what it would."""
        removed = {}
        for p in sorted(self.envs.iterdir()):
            if p == self.cache:
                continue
            key = p.name.split("-")[1] if p.name.startswith(".tmp-") else p.name
            if key in keep and p.name == key:
                continue
            with self._lock(key, wait=False) as held:
                if held:
                    size = own_bytes(p)
                    if apply:
                        shutil.rmtree(p, ignore_errors=True)
                    if p.name == key:
                        removed[key] = size
        return removed

    @contextmanager
    def _lock(self, key: str, wait: bool = True) -> Iterator[bool]:
        with open(self.locks / f"{key}.lock", "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def _build_into(self, target: Path, key: str, spec: EnvSpec, log: LineSink) -> None:
        if not spec.python.startswith("/usr/"):
            raise BuildError(
                f"The interpreter {spec.python} is not under /usr: the build sandbox has /usr only"
            )
        pip = pip_settings(self.pip_python)
        run = self.runs / f"{key[:16]}-{os.getpid()}"  # short: a unix socket's path has 107 bytes at most
        shutil.rmtree(run, ignore_errors=True)
        for d in (target, run):  # the build's only writable places (with the cache)
            d.mkdir(mode=0o700)
            os.chown(d, self.uid, self.uid)
        target.chmod(0o755)
        hosts = allowed_hosts(remote_urls(pip), self.hosts)
        try:
            with IndexProxy(run / "proxy.sock", hosts, log):
                os.chown(run / "proxy.sock", self.uid, self.uid)
                build = Build(self, target, run, key, pip, log)
                build.uv(["venv", "--relocatable", "--python", spec.python, str(target)])
                args = ["pip", "install", "--python", str(target / "bin" / "python"), "--compile-bytecode"]
                if spec.pre_requirements.strip():
                    req = build.file("agora-pre-requirements.txt", spec.pre_requirements)
                    build.uv([*args, "--no-build", "-r", req])
                if spec.pins() or spec.requirements.strip():
                    req = build.file("agora-requirements.txt", spec.requirements)
                    build.uv([*args, "--no-build", *spec.pins(), "-r", req])
        finally:
            shutil.rmtree(run, ignore_errors=True)
        (target / ".lock").unlink(missing_ok=True)  # uv's own, 0666: nothing in a finished env is writable
        target.chmod(0o755)

    def uv_environ(self) -> dict[str, str]:
        """uv's environment in the build sandbox but for its proxy: pip's configuration, the shared cache."""
        env = uv_env(pip_settings(self.pip_python))
        env.update(
            PATH="/usr/bin:/bin",
            HOME="/tmp",
            UV_CACHE_DIR=str(self.cache),
            UV_LINK_MODE="hardlink",
            UV_PYTHON_DOWNLOADS="never",
            UV_NO_CONFIG="1",  # pip's configuration is the machine's; no uv.toml of the server's user
            UV_NO_PROGRESS="1",
        )
        return env


@dataclass
class Build:
    """One build's uv runs, each in a build sandbox (`bwrap_args`), their output on the build log."""

    store: EnvStore
    target: Path
    run: Path
    key: str
    pip: dict[str, str]
    log: LineSink

    def file(self, name: str, text: bytes) -> str:
        (self.target / name).write_bytes(text)
        (self.target / name).chmod(0o644)
        return str(self.target / name)

    def bwrap_args(self, args: list[str], etc: Path, info_fd: int) -> list[str]:
        """The build sandbox: the envs folder (the cache and this build's target inside) writable, uv, the
        shim and pip's local indexes read-only, no network but the shim's forward to the index proxy."""
        st = self.store
        out = base_args("build", etc, info_fd)
        out += [
            "--ro-bind",
            str(st.runner.shim_dir),
            str(Path(SHIM).parent),
            "--ro-bind",
            uv.find_uv_bin(),
            UV,
        ]
        out += ["--bind", str(st.envs), str(st.envs), "--bind", str(self.run), RUN]
        for p in local_paths(self.pip):
            out += ["--ro-bind", p, p]
        proxy = f"http://127.0.0.1:{PROXY_PORT}"
        environ = st.uv_environ() | {
            k: proxy for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
        }
        out += ["--chdir", "/tmp", *env_args(environ)]
        forward = ["--forward", f"{PROXY_PORT}={RUN}/proxy.sock"]
        return [*out, "/usr/bin/python3", "-I", SHIM, *forward, "--", UV, *args]

    def uv(self, args: list[str]) -> None:
        st = self.store
        self.log("$ uv " + " ".join(args))
        tail: list[str] = []

        def sink(line: str) -> None:
            self.log(line)
            tail[:] = [*tail[-(TAIL - 1) :], line]

        try:
            for p in [
                str(st.envs),
                str(self.run),
                str(st.runner.shim_dir),
                uv.find_uv_bin(),
                *local_paths(self.pip),
            ]:
                check_reachable(Path(p))  # bwrap opens them as the build uid
            etc = st.runner.etc(st.uid)
            sb = st.runner.launch(
                f"build-{self.key[:16]}", st.uid, st.limits, lambda fd: self.bwrap_args(args, etc, fd), sink
            )
        except SandboxError as exc:
            raise BuildError(f"The build sandbox cannot start: {exc}") from exc
        code = sb.wait()
        if code:
            what = " ".join(a for a in args[:2] if not a.startswith("-"))
            detail = "\n".join(tail)
            raise BuildError(f"uv {what} failed (exit {code}):\n{detail}")


def chown_tree(top: Path, uid: int) -> None:
    """Give `top` and everything below to uid (symlinks themselves, never followed)."""
    os.chown(top, uid, uid, follow_symlinks=False)
    for d, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(d, name), uid, uid, follow_symlinks=False)
