"""Content-addressed Python environments for Spaces, built with uv: `<root>/envs/<key>/`.

One environment per key = sha256(interpreter path and version, sdk, sdk_version, requirements.txt bytes),
shared read-only by every Space with that key (bound at its own path in each sandbox: uv venvs keep
absolute paths in `pyvenv.cfg`, so the path never changes once built).

- Builds run under a per-key flock, into `envs/.tmp-<key>-<pid>`, renamed into place when complete: a
  second build of the same key waits and reuses it; a failed build leaves nothing.
- One uv cache for all (`<root>/uv-cache`, hardlinked into the envs: same filesystem), bytecode compiled at
  build time (the sandbox cannot write `.pyc` into a read-only env: without it every start pays ~2 s).
- The machine's pip configuration (index-url, extra-index-url, find-links, constraint, cert) is applied to
  uv, which ignores pip.conf: a requirement of torch takes the build pip would take (here the local CPU
  wheel), and indexes are combined as pip does (`unsafe-best-match`).
- Source distributions are never built (`--no-build`): building one runs its setup code, and builds run as
  the server's user. A requirement without a wheel fails the build with uv's message.
- Everything is world-readable (umask 022): the Space's uid reads the env.
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

import uv

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
# Host variables a build may need to reach the index; nothing else of the server's environment goes to uv.
PASSED = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY")
TAIL = 40  # lines of uv's output an error carries


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
    return h.hexdigest()


def check_requirements(text: bytes) -> None:
    """Refuse what would make uv read the host's files or another index: options (`-r`, `-c`, `-e`,
    `--index-url`...) and local paths. uv runs as the server's user, and its errors quote what it read."""
    for n, raw in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        line = raw.split(" #")[0].strip()
        option = line.startswith("-") and not line.startswith("--hash")  # hashes continue a pinned line
        if line and not line.startswith("#") and (option or line[0] in "/.~" or "file:" in line):
            raise BuildError(
                f"requirements.txt line {n}: {line!r} is not allowed here (options and local paths are "
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


class EnvStore:
    """The environments under `<root>/envs/` and their shared uv cache `<root>/uv-cache/`."""

    def __init__(self, root: Path, pip_python: str = sys.executable) -> None:
        self.root = root
        self.envs = root / "envs"
        self.locks = root / "env-locks"
        self.cache = root / "uv-cache"
        for d in (self.root, self.envs, self.cache):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)  # the Space's uid must reach its env (it never lists the folder: bound alone)
        self.locks.mkdir(mode=0o700, exist_ok=True)
        self.pip_python = pip_python

    def path(self, key: str) -> Path:
        return self.envs / key

    def find(self, spec: EnvSpec) -> Path | None:
        """The built environment of `spec`, if there is one."""
        p = self.path(env_key(spec))
        return p if p.is_dir() else None

    def build(self, spec: EnvSpec, log: LineSink) -> Path:
        """The environment of `spec`, built now unless it exists; every line of the build goes to `log`."""
        check_requirements(spec.requirements)
        key = env_key(spec)
        final = self.path(key)
        with self._lock(key):
            if final.is_dir():
                log(f"Environment {key[:12]} exists: reused")
                return final
            tmp = self.envs / f".tmp-{key}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                self._build_into(tmp, spec, log)
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

    def _build_into(self, target: Path, spec: EnvSpec, log: LineSink) -> None:
        env = self.uv_environ()
        self._uv(["venv", "--relocatable", "--python", spec.python, str(target)], env, log)
        pins = spec.pins()
        if pins or spec.requirements.strip():
            req = target / "agora-requirements.txt"
            req.write_bytes(spec.requirements)
            args = ["pip", "install", "--python", str(target / "bin" / "python")]
            self._uv([*args, "--compile-bytecode", "--no-build", *pins, "-r", str(req)], env, log)
        (target / ".lock").unlink(missing_ok=True)  # uv's own, 0666: nothing in a finished env is writable
        target.chmod(0o755)

    def uv_environ(self) -> dict[str, str]:
        """The whole environment uv runs with: pip's configuration, the shared cache, proxies; nothing else."""
        env = {k: os.environ[k] for k in PASSED if k in os.environ}
        env.update(uv_env(pip_settings(self.pip_python)))
        env.update(
            PATH="/usr/bin:/bin",
            HOME=str(self.root),
            UV_CACHE_DIR=str(self.cache),
            UV_LINK_MODE="hardlink",
            UV_PYTHON_DOWNLOADS="never",
            UV_NO_CONFIG="1",  # pip's configuration is the machine's; no uv.toml of the server's user
            UV_NO_PROGRESS="1",
        )
        return env

    def _uv(self, args: list[str], env: dict[str, str], log: LineSink) -> None:
        cmd = [uv.find_uv_bin(), *args]
        log("$ uv " + " ".join(args))
        tail: list[str] = []
        with subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            umask=0o022,
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                log(line)
                tail = [*tail[-(TAIL - 1) :], line]
        if proc.returncode:
            what = " ".join(a for a in args[:2] if not a.startswith("-"))
            detail = "\n".join(tail)
            raise BuildError(f"uv {what} failed (exit {proc.returncode}):\n{detail}")
