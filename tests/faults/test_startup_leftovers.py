"""What dead processes left in the data folder is removed when a server starts, and only that: a git
quarantine folder of a receive-pack killed mid-push, conversion folders of dead servers, temp xorbs and
sealed multipart parts. What is young, or owned by a live process (another server sharing the folder), stays."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from huggingface_hub import HfApi

from agora.hub.startup import host_tag, owner

from ..conftest import _free_port, agora, kill_group
from ..conftest import start_killable as start

OLD = time.time() - 3 * 3600  # older than the safe age (an hour)


def _plant(path: Path, old: bool, folder: bool = False) -> Path:
    if folder:
        path.mkdir(parents=True)
        (path / "pack-1.pack").write_bytes(b"x" * 100)
        if old:
            os.utime(path / "pack-1.pack", (OLD, OLD))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
    if old:
        os.utime(path, (OLD, OLD))
    return path


def _dead_owner() -> str:
    """The owner token of a process that ran and is gone."""
    p = subprocess.Popen(["sleep", "30"])
    token = owner(p.pid)
    p.kill()
    p.wait()
    return token


def test_startup_removes_only_what_dead_processes_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    agora("user", "add", "fay", "--password-stdin", data=data, stdin="fay-password\n")
    token = agora("token", "create", "fay", "--role", "write", data=data)
    port = _free_port()
    log = tmp_path / "server.log"
    proc = start(data, port, log)
    try:
        HfApi(endpoint=f"http://127.0.0.1:{port}", token=token).create_repo("fay/m")
    finally:
        kill_group(proc)
    objects = next((data / "repos").glob("*/*.git")) / "objects"
    tmp = data / "tmp"
    gone = [
        _plant(objects / "tmp_objdir-incoming-AbC123", old=True, folder=True),
        _plant(
            tmp / f"convert-{_dead_owner()}-{host_tag()}-k3j_x9", old=False, folder=True
        ),  # its owner is dead
        _plant(tmp / "convert-oldstyle", old=True, folder=True),  # no owner, untouched for hours
        _plant(data / "xet" / "xorbs" / "tmp" / "up-0123456789abcdef01234567", old=True),
        _plant(data / "lfs" / "tmp" / "mp-0123456789abcdef-sealed", old=True),
    ]
    kept = [
        _plant(objects / "tmp_objdir-incoming-XyZ789", old=False, folder=True),  # a push going on
        _plant(tmp / f"convert-{owner()}-{host_tag()}-a1b2c3", old=True, folder=True),  # a live owner (us)
        _plant(tmp / f"convert-{_dead_owner()}-0th3rh0s-a1b2c3", old=False, folder=True),  # another host's
        _plant(tmp / "convert-newstyle", old=False, folder=True),
        _plant(data / "xet" / "xorbs" / "tmp" / "up-fedcba9876543210fedcba98", old=False),
        _plant(data / "lfs" / "tmp" / "mp-fedcba9876543210", old=False),
    ]
    proc = start(data, port, log)
    try:
        left = [p.relative_to(data) for p in gone if p.exists()]
        assert not left, f"leftovers of dead processes remain after the restart: {left}"
        lost = [p.relative_to(data) for p in kept if not p.exists()]
        assert not lost, f"files of live processes (or young ones) were removed: {lost}"
    finally:
        kill_group(proc)
