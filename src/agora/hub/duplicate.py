"""Duplicating a repo or a Space (`duplicate_repo`): a new repo of the caller's with the same content.

The new repo gets every branch and tag of the source (its git objects fetched into its own bare repo, so the
two live apart: deleting one leaves the other whole) and owns the source's LFS objects (their `LfsObject`
rows: LFS and Xet bytes are shared, nothing is uploaded again). Open PRs and discussions stay with the source.
A Space's settings (sleep time) and variables come along; its secrets do not (the caller may send new ones
with the request, as the Hub's form asks for them).
"""

from __future__ import annotations

import shutil
import subprocess

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import LfsObject, Repo, SpaceSettings, SpaceVariable
from ..errors import Conflict, Unauthorized
from ..ids import RepoId
from ..storage.gitstore import GitRepo
from .accounts import Principal
from .repos import Hub

REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def duplicate(hub: Hub, who: Principal | None, src: RepoId, dst: RepoId, private: bool | None) -> Repo:
    """The copy of `src` (which the caller reads) at `dst` (a namespace the caller writes; Conflict when
    taken, carrying the existing repo as `create_repo` does). Private like the source unless told."""
    if who is None:
        raise Unauthorized("You must be authenticated to duplicate a repository")
    with hub.db.session() as s:
        source = hub.find(s, who, src, download=True)  # a copy is a download: a gated repo's gate applies
        try:
            repo = hub.create(
                s, who, dst, private=source.private if private is None else private, sdk=source.sdk
            )
        except Conflict as e:
            if e.extra.get("repo") is not None:
                s.expunge(e.extra["repo"])  # the rollback would expire it: the 409 carries its URL
            raise
        git = hub.git(repo)
        try:
            _fill(hub, s, source, repo, git)
        except BaseException:
            shutil.rmtree(git.path, ignore_errors=True)  # the rows roll back: no folder without its row
            raise
        s.flush()
        s.expunge(repo)
        return repo


def _fill(hub: Hub, s: Session, source: Repo, repo: Repo, git: GitRepo) -> None:
    """The source's refs and objects into the new repo's git, its LFS objects and Space settings to its rows.
    The git fetch runs in the transaction that created the repo (a failure leaves nothing): a large history
    holds the database's write lock meanwhile (the LFS bytes never move, only git objects)."""
    initial = git.ref_target("refs/heads/main")
    with git.lock():
        subprocess.run(
            [
                "git",
                f"--git-dir={git.path}",
                "fetch",
                "--quiet",
                "--update-head-ok",
                str(hub.git(source).path),
            ]
            + list(REFSPECS),
            check=True,
            capture_output=True,
            timeout=3600,
        )
    for ref in git.refs("refs/heads/") + git.refs("refs/tags/"):
        hub.after_ref_update(s, repo, ref.ref, initial if ref.ref == "refs/heads/main" else None, ref.target)
    rows = s.execute(select(LfsObject.oid, LfsObject.size).where(LfsObject.repo_id == source.id)).all()
    for oid, size in rows:
        hub.record_lfs(s, repo, oid, size)
    if source.type == "space":
        _copy_space(s, source, repo)


def _copy_space(s: Session, source: Repo, repo: Repo) -> None:
    st = s.get(SpaceSettings, source.id)
    if st is not None:
        s.add(SpaceSettings(repo_id=repo.id, paused=False, sleep_time=st.sleep_time))
    for v in s.scalars(
        select(SpaceVariable).where(SpaceVariable.repo_id == source.id, SpaceVariable.secret.is_(False))
    ):
        s.add(
            SpaceVariable(repo_id=repo.id, secret=False, key=v.key, value=v.value, description=v.description)
        )
