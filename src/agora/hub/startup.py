"""What a dead process leaves behind, found and cleaned when a server process starts (`recover`).

A process is named by its *owner* token, `<pid>-<start>` (the start time of the process in clock ticks since
boot, from /proc), so that a pid reused by a later process is not mistaken for the one that died. What a
process owns carries that token: the claim of a running job (`<host>:<owner>:<random>`), the temp folder
of a conversion (`tmp/convert-<owner>-<host tag>-<random>`), and the mark of a running receive-pack
(`<repo>.git/agora-pushes/push-<owner>-<host tag>-<random>`, made by http/git.py before git reads the push):
git names its quarantine folder (`objects/tmp_objdir-incoming-*`) at random, so the folders of a repo whose
marks all name dead processes are a dead push's; and the temp uploads of the local blob stores (LFS objects,
xorbs, shards: `up-<owner>-<host tag>-<random>`, see own_uploads). The rest carries no owner and is judged by
age only: multipart parts (`mp-<id>`, `mp-<id>-sealed`) and S3 temp keys and multipart uploads, which any
process may complete for a client while its signed URL lives; temp uploads named before owners were; and
quarantine folders in a repo without marks (a push by something else).

Only what is provably dead goes: a job whose owner on this host no longer runs, or whose lease lapsed (its
worker renews `heartbeat_at` every few seconds while it runs, see jobs.py); a folder whose owner no longer
runs; an unowned leftover with nothing written for `SAFE_AGE` (AGORA_TEMP_MAX_AGE). Several server
processes sharing a data folder may run `recover` at once: every step is a compare-and-set UPDATE or a
removal that tolerates losing the race.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from ..db.models import Job, utcnow
from ..db.session import Database
from ..storage.blobs import BlobStore, LocalBlobStore
from .repos import Hub

log = logging.getLogger("agora.startup")

LEASE = timedelta(
    seconds=60
)  # a running job whose worker has not renewed its heartbeat for this long is dead
HEARTBEAT = 10.0  # seconds between a running job's heartbeats
MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not offered again
SAFE_AGE = timedelta(hours=1)  # an unowned temp file or folder untouched this long belongs to nobody


def _start_time(pid: int) -> tuple[str, str] | None:
    """(state, start time) of a process from /proc/<pid>/stat, or None when there is no such file."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    return fields[0], fields[19]  # field 22 is the start time


def owner(pid: int | None = None) -> str:
    """This process's (or `pid`'s) owner token, `<pid>-<start time>`."""
    pid = os.getpid() if pid is None else pid
    got = _start_time(pid)
    return f"{pid}-{got[1] if got else 0}"


def host() -> str:
    return socket.gethostname()[:24]


def alive(token: str) -> bool:
    """Whether the process named by an owner token runs; a token that names nothing is taken as alive."""
    pid_s, _, start = token.partition("-")
    if not pid_s.isdigit():
        return True
    pid = int(pid_s)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    got = _start_time(pid)
    if got is None:
        return True  # no /proc: the pid exists, that is all we know
    state, started = got
    return state not in ("Z", "X") and (start in ("", "0") or started == start)


# ---- jobs ----------------------------------------------------------------------------------------------


def lapsed(now: datetime) -> ColumnElement[bool]:
    """A running job whose lease lapsed: its last heartbeat (or its start, before it beat) is older than LEASE."""
    return and_(Job.status == "running", func.coalesce(Job.heartbeat_at, Job.started_at) < now - LEASE)


def _dead_owner(claim: str | None, here: str) -> bool:
    """Whether a claim `<host>:<owner>:<random>` names a process of this host that no longer runs."""
    parts = (claim or "").rsplit(":", 2)
    return len(parts) == 3 and parts[0] == here and not alive(parts[1])


def reclaim_jobs(db: Database) -> int:
    """Offer again the running jobs whose worker is dead (its process on this host is gone, or its lease
    lapsed); a job whose worker died MAX_ATTEMPTS times fails instead. Returns how many were reclaimed."""
    now, here = utcnow(), host()
    n = 0
    with db.session() as s:
        rows = s.execute(
            select(Job.id, Job.claim, Job.attempts, lapsed(now)).where(Job.status == "running")
        ).all()
        for job_id, claim, attempts, is_lapsed in rows:
            if not (is_lapsed or _dead_owner(claim, here)):
                continue
            values: dict[str, object] = (
                {"status": "failed", "finished_at": now, "error": f"its worker died {attempts} times"}
                if attempts >= MAX_ATTEMPTS
                else {"status": "queued", "claim": None, "heartbeat_at": None}
            )
            cas = and_(
                Job.id == job_id, Job.status == "running", or_(Job.claim == claim, Job.claim.is_(None))
            )
            res = s.execute(update(Job).where(cas).values(**values))
            n += res.rowcount  # type: ignore[attr-defined]
    if n:
        log.info("%d job(s) of dead workers offered again (or failed after %d attempts)", n, MAX_ATTEMPTS)
    return n


# ---- files ---------------------------------------------------------------------------------------------


def _newest(path: Path) -> float:
    """The newest modification time of a folder and everything in it."""
    newest = path.lstat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                pass
    return newest


def _untouched(path: Path, cutoff: datetime) -> bool:
    try:
        return datetime.fromtimestamp(_newest(path), UTC) < cutoff
    except OSError:
        return False  # gone already, or unreadable: not ours to judge


def _remove(path: Path) -> bool:
    if not path.exists():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def host_tag() -> str:
    """This host, short and without dashes (for names of temp folders that hosts sharing a folder may see)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_prefix(kind: str) -> str:
    """The prefix of a temp folder this process owns: `<kind>-<pid>-<start>-<host tag>-`."""
    return f"{kind}-{owner()}-{host_tag()}-"


def _temp_owner(name: str) -> str | None:
    """The owner token in `<kind>-<pid>-<start>-<host tag>-<random>` when it names a process of this host;
    None for a name without one (older), or of another host (only age tells those are dead)."""
    parts = name.split("-")
    ours = len(parts) == 5 and parts[1].isdigit() and parts[3] == host_tag()
    return f"{parts[1]}-{parts[2]}" if ours else None


def sweep_conversions(tmp_root: Path, cutoff: datetime, dry_run: bool = False) -> int:
    """Remove the conversion folders of dead processes: of this host, whose owner is gone; the others
    (another host's, or unowned older ones) when nothing was written in them since cutoff. `dry_run` only
    counts them (agora fsck)."""
    n = 0
    for path in tmp_root.glob("convert-*") if tmp_root.is_dir() else ():
        token = _temp_owner(path.name)
        dead = not alive(token) if token is not None else _untouched(path, cutoff)
        if dead and (dry_run or _remove(path)):
            n += 1
    return n


PUSHES = "agora-pushes"  # in a bare repo: one mark per receive-pack running there (http/git.py)


def mark_push(git_dir: Path, pid: int) -> Path:
    """Record that receive-pack `pid` runs in `git_dir`, before it can make its quarantine folder: a file
    `agora-pushes/push-<pid>-<start>-<host tag>-<random>`, removed when it exits (`unmark_push`). While a
    repo's marks all name dead processes of this host, its quarantine folders are a dead push's."""
    folder = git_dir / PUSHES
    folder.mkdir(exist_ok=True)
    path = folder / f"push-{owner(pid)}-{host_tag()}-{secrets.token_hex(4)}"
    path.touch()
    return path


def unmark_push(mark: Path) -> None:
    mark.unlink(missing_ok=True)


def _pushes_dead(git_dir: Path) -> bool:
    """Whether every receive-pack that may have made a quarantine folder in `git_dir` is dead: there are
    marks (a repo without any was pushed to by something that does not mark: only age tells), and each names
    a process of this host that no longer runs."""
    marks = [p.name for p in (git_dir / PUSHES).glob("push-*")]
    tokens = [_temp_owner(name) for name in marks]
    return bool(marks) and all(t is not None and not alive(t) for t in tokens)


def sweep_quarantines(repos_root: Path, cutoff: datetime, dry_run: bool = False) -> int:
    """Remove git's quarantine folders (`objects/tmp_objdir-incoming-*`) of dead pushes: at once when the
    repo's push marks all name dead processes (a server killed mid-push), else when untouched since cutoff
    (a running receive-pack writes there or holds its hook). Then the marks of dead processes go. The
    folders are listed before the marks are read: a push that starts meanwhile marks before it makes one.
    `dry_run` only counts the folders (agora fsck)."""
    n = 0
    found: dict[Path, list[Path]] = {}
    for path in repos_root.glob("*/*.git/objects/tmp_objdir-incoming-*"):
        found.setdefault(path.parent.parent, []).append(path)
    for git_dir, paths in found.items():
        dead = _pushes_dead(git_dir)
        for path in paths:
            if (dead or _untouched(path, cutoff)) and (dry_run or _remove(path)):
                n += 1
    for mark in repos_root.glob(f"*/*.git/{PUSHES}/push-*") if not dry_run else ():
        token = _temp_owner(mark.name)
        if token is not None and not alive(token):
            unmark_push(mark)
    return n


def _git_dir(repos_root: Path, path: Path) -> Path:
    ab, name = path.relative_to(repos_root).parts[:2]
    return repos_root / ab / name


def _no_live_push(git_dir: Path) -> bool:
    """No receive-pack can be running in `git_dir`: each of its push marks (if any) names a dead process of
    this host."""
    tokens = [_temp_owner(p.name) for p in (git_dir / PUSHES).glob("push-*")]
    return all(t is not None and not alive(t) for t in tokens)


@contextmanager
def _repo_free(git_dir: Path) -> Iterator[bool]:
    """Whether no server-side writer holds the repo (its flock, `agora.lock`, taken without waiting); held
    while the block runs."""
    fd = os.open(git_dir / "agora.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def sweep_ref_locks(repos_root: Path, dry_run: bool = False) -> int:
    """Remove git's ref lock files (`HEAD.lock`, `packed-refs.lock`, `refs/**/*.lock`) that a git or libgit2
    killed mid-update left: while one remains, every later update of that ref fails ("cannot lock ref ...
    File exists" for a push, a 412 for a commit). Git holds them for milliseconds, under the repo's flock
    (server-side commits) or in a marked receive-pack; so a lock file goes when the repo's flock is free and
    no mark names a live process. The files are listed before either is checked (a writer that starts
    meanwhile takes the flock or marks itself before it locks a ref)."""
    found: dict[Path, list[Path]] = {}
    for pattern in ("*/*.git/HEAD.lock", "*/*.git/packed-refs.lock", "*/*.git/refs/**/*.lock"):
        for path in repos_root.glob(pattern):
            found.setdefault(_git_dir(repos_root, path), []).append(path)
    n = 0
    for git_dir, paths in found.items():
        with _repo_free(git_dir) as free:
            if not (free and _no_live_push(git_dir)):
                continue
            for path in paths:
                if not dry_run:
                    path.unlink(missing_ok=True)
                n += 1
    if n and not dry_run:
        log.warning("removed %d git ref lock file(s) left by git processes killed mid-update", n)
    return n


def own_uploads(hub: Hub) -> None:
    """Name this process's temp uploads in the local blob stores `up-<pid>-<start>-<host tag>-<random>`, so that
    once it is dead the start-up sweep removes them at once (a temp upload is written by one process only and
    cannot be resumed; multipart parts, which any process may complete, stay judged by age)."""
    for store in _stores(hub):
        if isinstance(store, LocalBlobStore):
            store.upload_prefix = temp_prefix("up")


def _stores(hub: Hub) -> list[BlobStore]:
    return [hub.blobs, *((hub.xet.xorbs, hub.xet.shards) if hub.xet is not None else ())]


def sweep_uploads(store: BlobStore, dry_run: bool = False) -> int:
    """Remove the temp uploads of dead processes of this host from a local store (see own_uploads)."""
    n = 0
    for path in store.tmp_dir.glob("up-*") if isinstance(store, LocalBlobStore) else ():
        token = _temp_owner(path.name)
        if token is not None and not alive(token):
            if not dry_run:
                path.unlink(missing_ok=True)
            n += 1
    return n


@dataclass
class Swept:
    jobs: int = 0
    conversions: int = 0
    quarantines: int = 0
    temp_files: int = 0
    ref_locks: int = 0


def conversions_root(hub: Hub) -> Path:
    """Where conversion jobs make their temp folders (`<data>/tmp`)."""
    return Path(hub.repos_root).parent / "tmp"


def sweep_files(hub: Hub, cutoff: datetime, dry_run: bool = False) -> Swept:
    """Every temp file and folder of a dead process: conversions, git quarantines, blob stores' temp files.
    `dry_run` counts what would go and removes nothing (agora fsck without --repair)."""
    swept = Swept()
    swept.conversions = sweep_conversions(conversions_root(hub), cutoff, dry_run)
    swept.quarantines = sweep_quarantines(Path(hub.repos_root), cutoff, dry_run)
    swept.ref_locks = sweep_ref_locks(Path(hub.repos_root), dry_run)
    for store in _stores(hub):
        swept.temp_files += sweep_uploads(store, dry_run)
        # Temp uploads, temp xorbs and shards, multipart part files (`mp-<id>`, `mp-<id>-sealed`) untouched
        # since the cutoff (SAFE_AGE, the signed URLs' lifetime: a sealed part can be completed until then;
        # sealing touches the file, storage/blobs.py).
        swept.temp_files += store.purge_temp(cutoff, dry_run=dry_run)
    return swept


def recover(hub: Hub, safe_age: timedelta = SAFE_AGE) -> Swept:
    """Run once when a server process starts (app.create_app): reclaim the jobs of dead workers and remove
    the temp files and folders of dead processes. Each step that fails is logged and the others still run."""
    swept = Swept()
    try:
        swept.jobs = reclaim_jobs(hub.db)
    except Exception:
        log.exception("reclaiming the jobs of dead workers failed")
    try:
        files = sweep_files(hub, datetime.now(UTC) - safe_age)
    except Exception:
        log.exception("removing the temp files of dead processes failed")
        return swept
    swept.conversions, swept.quarantines, swept.temp_files, swept.ref_locks = (
        files.conversions,
        files.quarantines,
        files.temp_files,
        files.ref_locks,
    )
    if files.conversions or files.quarantines or files.temp_files:
        log.info(
            "removed leftovers of dead processes: %d conversion folder(s), %d git quarantine folder(s), "
            "%d temp upload file(s)",
            files.conversions,
            files.quarantines,
            files.temp_files,
        )
    return swept


__all__ = [
    "HEARTBEAT",
    "LEASE",
    "MAX_ATTEMPTS",
    "SAFE_AGE",
    "Swept",
    "alive",
    "host",
    "lapsed",
    "mark_push",
    "own_uploads",
    "owner",
    "reclaim_jobs",
    "recover",
    "sweep_files",
    "temp_prefix",
    "unmark_push",
]
