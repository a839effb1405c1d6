"""kill -9 of the whole server (granian, its worker, git receive-pack and the pre-receive hook) in the middle
of a push, then a restart: the repo is at the old or the new head, `git fsck --strict` is clean, and the next
push works. Runs its own server on its own data folder, so the shared session server is never touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from huggingface_hub import HfApi

from ..conftest import kill_group, new_site, push_into_quarantine
from ..conftest import start_killable as start
from .test_git_push import MIB, Git, write_random


def test_kill_9_during_push_then_restart(tmp_path: Path) -> None:
    site = new_site(tmp_path / "data", "dave", tmp_path / "server.log")
    data, token, port, endpoint, log = site.data, site.token, site.port, site.endpoint, site.log
    proc = start(data, port, log)
    try:
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo("dave/crash")
        old = api.model_info("dave/crash").sha
        git = Git(tmp_path / "client")
        remote = f"http://dave:{token}@127.0.0.1:{port}/dave/crash"
        git("clone", remote, "work")
        work = tmp_path / "client" / "work"
        git("config", "core.compression", "0", cwd=work)  # the client need not spend time compressing noise
        for i in range(3):  # incompressible plain blobs, each under the 10 MiB LFS limit
            write_random(work / f"part{i}.dat", 4 * MIB)
        git("add", ".", cwd=work)
        git("commit", "-m", "big push", cwd=work)
        new = git.head(work)

        repo_dir = next((data / "repos").glob("*/*.git"))
        push = push_into_quarantine(work, git.env, repo_dir)
        kill_group(proc)
        push.communicate(timeout=60)

        proc = start(data, port, log)
        head = api.model_info("dave/crash").sha
        assert head in (old, new)
        if push.returncode == 0:  # the server died only after answering
            assert head == new
        fsck = subprocess.run(
            ["git", "--git-dir", str(repo_dir), "fsck", "--strict", "--no-progress"],
            capture_output=True,
            text=True,
        )
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        assert git("ls-remote", remote, "refs/heads/main", cwd=work).stdout.split()[0] == head

        # The next push works and everyone sees it.
        (work / "after.txt").write_text("after the crash\n")
        git("add", ".", cwd=work)
        git("commit", "-m", "after the crash", cwd=work)
        git("push", "origin", "main", cwd=work)
        assert api.model_info("dave/crash").sha == git.head(work)
        assert api.list_repo_commits("dave/crash")[0].title == "after the crash"
    finally:
        kill_group(proc)
