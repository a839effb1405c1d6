"""Runs last (by name): after everything the suite did, every bare repo passes `git fsck --strict`."""

from __future__ import annotations

import subprocess

from ..conftest import Server


def test_every_repo_passes_git_fsck_strict(server: Server) -> None:
    repos = sorted((server.data / "repos").glob("*/*.git"))
    assert repos, "the suite created no repos?"
    for d in repos:
        out = subprocess.run(["git", "--git-dir", str(d), "fsck", "--strict", "--no-progress"],
                             capture_output=True, text=True)
        assert out.returncode == 0, f"{d}: {out.stdout}{out.stderr}"
