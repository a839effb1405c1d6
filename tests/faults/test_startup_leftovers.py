"""What dead processes left in the data folder is removed when a server starts, and only that: a git
quarantine folder of a receive-pack killed mid-push, conversion folders of dead servers, temp xorbs and
sealed multipart parts. What is young, or owned by a live process (another server sharing the folder), stays."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from huggingface_hub import HfApi

from agora.hub.startup import PUSHES, host_tag, mark_push, owner

from ..compat.test_git_push import MIB, Git, write_random
from ..conftest import _free_port, agora, kill_group, new_site, push_into_quarantine
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
        # temp uploads named by their process (hub/startup.own_uploads), which is dead: young, yet gone
        _plant(data / "lfs" / "tmp" / f"up-{_dead_owner()}-{host_tag()}-0123456789abcdef01234567", old=False),
        _plant(
            data / "xet" / "xorbs" / "tmp" / f"up-{_dead_owner()}-{host_tag()}-abcdef0123456789", old=False
        ),
    ]
    kept = [
        _plant(objects / "tmp_objdir-incoming-XyZ789", old=False, folder=True),  # a push going on
        _plant(tmp / f"convert-{owner()}-{host_tag()}-a1b2c3", old=True, folder=True),  # a live owner (us)
        _plant(tmp / f"convert-{_dead_owner()}-0th3rh0s-a1b2c3", old=False, folder=True),  # another host's
        _plant(tmp / "convert-newstyle", old=False, folder=True),
        _plant(data / "xet" / "xorbs" / "tmp" / "up-fedcba9876543210fedcba98", old=False),
        _plant(data / "lfs" / "tmp" / "mp-fedcba9876543210", old=False),
        # a temp upload of a live process (us)
        _plant(data / "lfs" / "tmp" / f"up-{owner()}-{host_tag()}-fedcba9876543210fedcba98", old=False),
        _plant(
            data / "lfs" / "tmp" / f"up-{_dead_owner()}-0th3rh0s-fedcba9876543210", old=False
        ),  # other host
    ]
    proc = start(data, port, log)
    try:
        left = [p.relative_to(data) for p in gone if p.exists()]
        assert not left, f"leftovers of dead processes remain after the restart: {left}"
        lost = [p.relative_to(data) for p in kept if not p.exists()]
        assert not lost, f"files of live processes (or young ones) were removed: {lost}"
    finally:
        kill_group(proc)


def test_quarantine_of_a_push_killed_with_the_server_is_removed_at_the_restart(tmp_path: Path) -> None:
    """kill -9 of the server while receive-pack holds a push in quarantine: at the restart the quarantine
    folder is gone at once (its receive-pack, marked in the repo, is dead), not an hour later; a young
    quarantine folder in a repo where a live push is marked stays."""
    site = new_site(tmp_path / "data", "quinn", tmp_path / "server.log")
    proc = start(site.data, site.port, site.log)
    try:
        api = HfApi(endpoint=site.endpoint, token=site.token)
        api.create_repo("quinn/m")
        api.create_repo("quinn/busy")
        git = Git(tmp_path / "client")
        git("clone", f"http://quinn:{site.token}@127.0.0.1:{site.port}/quinn/m", "work")
        work = tmp_path / "client" / "work"
        git("config", "core.compression", "0", cwd=work)
        for i in range(3):
            write_random(work / f"part{i}.dat", 4 * MIB)
        git("add", ".", cwd=work)
        git("commit", "-m", "killed mid-push", cwd=work)
        repo_dir, busy_dir = _bare(site.data, "m"), _bare(site.data, "busy")
        push = push_into_quarantine(work, git.env, repo_dir)
        kill_group(proc)
        push.communicate(timeout=60)
        assert list((repo_dir / "objects").glob("tmp_objdir-incoming-*")), "receive-pack cleaned up after all"
        # Another repo: a push of a live process (this one) is marked there, its quarantine is young.
        live = mark_push(busy_dir, os.getpid())
        busy = _plant(busy_dir / "objects" / "tmp_objdir-incoming-Busy01", old=False, folder=True)

        proc = start(site.data, site.port, site.log)
        left = list((repo_dir / "objects").glob("tmp_objdir-incoming-*"))
        assert not left, f"the quarantine of the killed push remains after the restart: {left}"
        assert not list((repo_dir / PUSHES).iterdir()), "the dead push's mark remains"
        assert busy.exists() and live.exists(), "a live push's quarantine (or mark) was removed"
        git("push", "origin", "main", cwd=work)  # the push, again, works
        assert api.model_info("quinn/m").sha == git.head(work)
    finally:
        kill_group(proc)


def _bare(data: Path, name: str) -> Path:
    import sqlite3

    with sqlite3.connect(data / "agora.db") as c:
        (key,) = c.execute("SELECT storage_key FROM repos WHERE name = ?", (name,)).fetchone()
    return next((data / "repos").glob(f"*/{key}.git"))


def test_ref_locks_of_a_git_killed_mid_update_are_removed_at_the_restart(tmp_path: Path) -> None:
    """git killed while it updates a ref leaves `HEAD.lock` (found by the chaos test) or `refs/heads/main.lock`:
    every later push then fails ("cannot lock ref 'HEAD' ... File exists") and every commit is a 412, until
    someone removes the file by hand. At the restart they go (the receive-pack that held them is marked dead);
    the same files in a repo where a live push is marked stay."""
    site = new_site(tmp_path / "data", "rita", tmp_path / "server.log")
    proc = start(site.data, site.port, site.log)
    try:
        api = HfApi(endpoint=site.endpoint, token=site.token)
        api.create_repo("rita/m")
        api.create_repo("rita/busy")
        git = Git(tmp_path / "client")
        git("clone", f"http://rita:{site.token}@127.0.0.1:{site.port}/rita/m", "work")
        work = tmp_path / "client" / "work"
    finally:
        kill_group(proc)
    repo_dir, busy_dir = _bare(site.data, "m"), _bare(site.data, "busy")
    dead = subprocess.Popen(["sleep", "30"])  # the receive-pack that was killed mid-update
    mark_push(repo_dir, dead.pid)
    dead.kill()
    dead.wait()
    locks = [repo_dir / "HEAD.lock", repo_dir / "refs" / "heads" / "main.lock"]
    for lock in locks:
        lock.write_text("0" * 40 + "\n")
    live = mark_push(busy_dir, os.getpid())
    busy_lock = busy_dir / "HEAD.lock"
    busy_lock.write_text("0" * 40 + "\n")

    proc = start(site.data, site.port, site.log)
    try:
        left = [p.name for p in locks if p.exists()]
        assert not left, f"ref lock files of a dead git remain after the restart: {left}"
        assert busy_lock.exists() and live.exists(), "the lock of a live push was removed"
        (work / "a.txt").write_text("after the crash\n")
        git("add", ".", cwd=work)
        git("commit", "-m", "after the crash", cwd=work)
        git("push", "origin", "main", cwd=work)
        api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id="rita/m")
        assert [c.title for c in api.list_repo_commits("rita/m")][:2] == [
            "Upload b.txt with huggingface_hub",
            "after the crash",
        ]
    finally:
        kill_group(proc)
