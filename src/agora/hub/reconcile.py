"""Git and the database agree again: the repair of a write whose ref moved but whose database transaction
never committed (a kill -9, a lock timeout, a lost connection between the two; issue 14).

The journal is git itself. Every write moves its ref first (the compare-and-swap that makes a commit
visible) and derives the database from it second (`commits.ref_moved`: `Hub.after_ref_update`, then the
commit). What the database derives from refs is recorded in `repos.head_sha`: the commit of `refs/heads/main`
it last derived card data, tags, search text, the catalog entry (through `index_log`) and the queued
artefacts from. So a repo whose `refs/heads/main` differs from `head_sha` is a write the database missed,
and re-running `after_ref_update(main, head_sha -> git's main)` is its repair. Other refs derive nothing
stored today but `updated_at` (no artefact triggers on them): a missed move of theirs loses only that.

The repair runs under `Hub.writer` and re-reads both sides there, so it is idempotent and safe next to
live writers: when it is not needed (any more), it changes nothing. It runs
- at server start, for every repo, in a background thread (`start`; one process per host does the pass);
- when a commit's database step fails after its ref moved (hub/commits.py), and after a failed push hook;
- lazily, when a reader notices (`notice`: `Hub.open_repo`, `index.repo_info`);
- from `agora fsck --repair` (`disagreements`, `repair`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pygit2
from sqlalchemy import select

from ..db.models import Repo
from ..ids import HEX40
from ..storage.gitstore import GitRepo

if TYPE_CHECKING:
    from .repos import Hub

log = logging.getLogger("agora.hub")
MAIN = "refs/heads/main"
RETRY_AFTER = 5.0  # seconds a reader waits before trying again a repair that failed (a stuck database)
_failed: dict[int, float] = {}  # repo id -> when a lazy repair last failed, in this process
_failed_lock = threading.Lock()


@dataclass(frozen=True)
class Disagreement:
    repo_id: int
    name: str  # "type:ns/name"
    db_head: str | None
    git_head: str

    def line(self) -> str:
        return (
            f"{self.name}: the database is at {(self.db_head or '-')[:12]}, refs/heads/main at "
            f"{self.git_head[:12]}"
        )


def behind(hub: Hub, repo: Repo, git: GitRepo | None = None) -> str | None:
    """git's main when the database has not derived it (the repair's `new`), else None. One ref read (of
    the loose ref file, without opening the repository, in the common case where they agree)."""
    if git is None and _loose_main(hub, repo) == repo.head_sha:
        return None
    try:
        head = (git or hub.git(repo)).ref_target(MAIN)
    except (pygit2.GitError, OSError):
        return None
    return head if head is not None and head != repo.head_sha else None


def _loose_main(hub: Hub, repo: Repo) -> str | None:
    """main's target when git keeps it as a loose ref file (as every write here leaves it), read without
    opening the repository (a tenth of the cost); None otherwise (packed, symbolic, missing)."""
    try:
        text = (hub.git_dir(repo) / MAIN).read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if HEX40.match(text) else None


def repair(hub: Hub, repo_id: int) -> Disagreement | None:
    """Re-derive the repo from git's main if the database missed it, in a session of its own under
    `Hub.writer` (both sides re-read there); returns what it repaired, None when nothing was needed."""
    from .commits import RefMove, ref_moved

    with hub.db.session() as s:
        repo = s.get(Repo, repo_id)
        if repo is None:
            return None
        git = hub.git(repo)
        with hub.writer(s, repo, git):
            s.refresh(repo)  # what the last writer committed, read under its lock
            new = behind(hub, repo, git)
            if new is None:
                return None
            found = Disagreement(repo.id, f"{repo.type}:{repo.namespace}/{repo.name}", repo.head_sha, new)
            log.warning("repairing %s (a write whose database step was lost)", found.line())
            ref_moved(hub, s, repo, [RefMove(MAIN, repo.head_sha, new)])
    return found


def disagreements(hub: Hub) -> list[Disagreement]:
    """Every repo whose main in git is not the head the database derived (one ref read per repo)."""
    with hub.db.session() as s:
        repos = list(s.scalars(select(Repo).order_by(Repo.id)))
    out = []
    for repo in repos:
        new = behind(hub, repo)
        if new is not None:
            out.append(Disagreement(repo.id, f"{repo.type}:{repo.namespace}/{repo.name}", repo.head_sha, new))
    return out


def repair_all(hub: Hub) -> list[Disagreement]:
    """`repair` for every repo in `disagreements`; a repo whose repair fails is logged and left for later."""
    done = []
    for d in disagreements(hub):
        try:
            fixed = repair(hub, d.repo_id)
        except Exception:  # noqa: BLE001 - one repo's failure must not stop the pass
            log.exception("could not repair %s", d.line())
            continue
        if fixed is not None:
            done.append(fixed)
    return done


def notice(hub: Hub, repo: Repo, git: GitRepo | None = None) -> bool:
    """A reader's check (one ref read): when the database is behind git's main, repair it now; True if it
    did. A repair that fails (the database is stuck) is logged, the reader goes on with what the database
    has, and this process tries again only after RETRY_AFTER seconds."""
    if behind(hub, repo, git) is None:
        return False
    with _failed_lock:
        if time.monotonic() - _failed.get(repo.id, -RETRY_AFTER) < RETRY_AFTER:
            return False
    try:
        return repair(hub, repo.id) is not None
    except Exception:  # noqa: BLE001 - a read goes on; the next reader or the next start repairs
        log.warning(
            "the database is behind git for repo %d and could not catch up now", repo.id, exc_info=True
        )
        with _failed_lock:
            _failed[repo.id] = time.monotonic()
        return False


def start(hub: Hub) -> threading.Thread:
    """The start-up pass, in a background thread (start-up is not delayed). With several processes on one
    data folder, the one that gets `repos/reconcile.lock` does it; the others skip (the pass is idempotent,
    and readers repair lazily anyway)."""
    t = threading.Thread(target=_startup_pass, args=(hub,), name="agora-reconcile", daemon=True)
    t.start()
    return t


def _startup_pass(hub: Hub) -> None:
    hub.repos_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(hub.repos_root / "reconcile.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process of this host is doing the pass
        for d in repair_all(hub):
            log.warning("repaired at start: %s", d.line())
    except Exception:  # noqa: BLE001 - a background thread: log, never die silently
        log.exception("the start-up check of refs against the database failed")
    finally:
        os.close(fd)
