"""Memory, CPU and pid limits of one sandbox as a cgroup, on cgroup v2 (Debian 12's default) or v1.

The group is made under the server's own cgroup (`<own>/agora-spaces/<name>`), so a limit the host puts on
the server covers its Spaces too. The sandbox's first process joins it before it execs (the launcher
writes its own pid into each `cgroup.procs`, see sandbox.py), so every process of the Space is in it.

- v1 (hybrid hosts): one group per controller: `memory.limit_in_bytes` (+ `memory.memsw.limit_in_bytes`:
  no escape into swap), `cpu.cfs_quota_us` over a 100 ms period, `pids.max`.
- v2: one group: `memory.max`, `memory.swap.max` = 0, `cpu.max`, `pids.max`. The controllers must be
  enabled in the parent's `cgroup.subtree_control`, which the kernel refuses while the parent itself holds
  processes (the "no internal processes" rule): run the server in a leaf of a delegated subtree
  (systemd: `Delegate=yes`, the server in a sub-group) for v2 limits.

When no group can be made, `create` says why on the log and returns None: the Space runs without limits.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("agora.spaces")

FS = Path("/sys/fs/cgroup")
V1 = ("memory", "cpu", "pids")
PERIOD_US = 100_000


@dataclass(frozen=True)
class Limits:
    """What one Space may use. cpu_percent: 100 = one core."""

    memory_mb: int = 2048
    cpu_percent: int = 100
    pids: int = 512


@dataclass
class Cgroup:
    dirs: list[Path]  # v2: one folder; v1: one per controller (memory first)
    v2: bool

    @property
    def procs(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def oom_kills(self) -> int:
        """Processes the memory limit killed so far."""
        text = _read(self.dirs[0] / ("memory.events" if self.v2 else "memory.oom_control"))
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                return int(v)
        return 0

    def remove(self) -> None:
        """Remove the group once its processes are gone (the kernel frees a dying group in a moment)."""
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


def own_paths(text: str) -> dict[str, str]:
    """`/proc/self/cgroup` as {controller: path}; the v2 (unified) line is under ""."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            out[c] = path
    return out


def create(name: str, limits: Limits) -> Cgroup | None:
    own = own_paths(_read(Path("/proc/self/cgroup")))
    try:
        if (FS / "cgroup.controllers").exists():
            return _create_v2(FS / own.get("", "/").lstrip("/"), name, limits)
        if all((FS / c).is_dir() for c in V1):
            return _create_v1(own, name, limits)
        raise OSError(f"no cgroup v2 at {FS} and no v1 memory, cpu and pids hierarchies")
    except OSError as exc:
        log.warning(
            "Space %s runs WITHOUT memory/cpu/pids limits: cgroups cannot be used here (%s)", name, exc
        )
        return None


def _create_v1(own: dict[str, str], name: str, limits: Limits) -> Cgroup:
    dirs = []
    try:
        for c in V1:
            d = FS / c / own.get(c, "/").lstrip("/") / "agora-spaces" / name
            d.mkdir(parents=True, exist_ok=True)
            dirs.append(d)
        mem, cpu, pids = dirs
        limit = str(limits.memory_mb * 1024 * 1024)
        (mem / "memory.limit_in_bytes").write_text(limit)
        with contextlib.suppress(FileNotFoundError):  # memsw exists only with swap accounting
            (mem / "memory.memsw.limit_in_bytes").write_text(limit)
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(limits.cpu_percent * PERIOD_US // 100))
        (pids / "pids.max").write_text(str(limits.pids))
    except OSError:
        Cgroup(dirs, v2=False).remove()
        raise
    return Cgroup(dirs, v2=False)


def _create_v2(own: Path, name: str, limits: Limits) -> Cgroup:
    parent = own / "agora-spaces"
    parent.mkdir(exist_ok=True)
    for d in (own, parent):
        (d / "cgroup.subtree_control").write_text("+memory +cpu +pids")
    g = parent / name
    g.mkdir(exist_ok=True)
    try:
        (g / "memory.max").write_text(str(limits.memory_mb * 1024 * 1024))
        with contextlib.suppress(FileNotFoundError):
            (g / "memory.swap.max").write_text("0")
        (g / "cpu.max").write_text(f"{limits.cpu_percent * PERIOD_US // 100} {PERIOD_US}")
        (g / "pids.max").write_text(str(limits.pids))
    except OSError:
        Cgroup([g], v2=True).remove()
        raise
    return Cgroup([g], v2=True)
