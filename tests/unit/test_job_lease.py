"""A running job is held by a lease its worker renews: a live worker keeps its job however long it runs, a dead
one loses it when the lease lapses (not after a fixed 30 minutes), or at once when its process on this host
is gone; a job whose workers died MAX_ATTEMPTS times fails."""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from agora import jobs
from agora.db.models import Job, Repo
from agora.db.session import Database, migrate
from agora.hub import startup


class _Hub:
    def __init__(self, db: Database) -> None:
        self.db = db


def _hub(tmp_path: Path, n: int = 1) -> _Hub:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    with db.session() as s:
        s.add(Repo(type="dataset", namespace="a", name="b", storage_key="k"))
        s.flush()
        for i in range(n):
            jobs.enqueue(s, "k", 1, f"{i:040d}")
    return _Hub(db)


def _status(hub: _Hub, job_id: int) -> tuple[str, int]:
    with hub.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.status, job.attempts


def test_a_live_worker_keeps_its_job_and_a_silent_one_loses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(startup, "LEASE", timedelta(seconds=0.6))
    hub = _hub(tmp_path, 2)
    release = threading.Event()
    ran: list[int] = []

    def slow(_hub: object, job: Job) -> None:
        ran.append(job.id)
        release.wait(10)

    worker = jobs.Worker(hub, {"k": slow}, poll=0.05)
    worker.heartbeat = 0.1
    worker.start()
    try:
        deadline = time.time() + 5
        while not ran and time.time() < deadline:
            time.sleep(0.02)
        assert ran == [1]
        time.sleep(1.5)  # more than twice the lease: the worker renewed it all along
        assert startup.reclaim_jobs(hub.db) == 0
        assert _status(hub, 1) == ("running", 1)
        # A worker that took job 2 and went silent (another host: only the lease tells it is dead).
        silent = jobs.claim(hub, "elsewhere:1-1", ["k"])
        assert silent is not None and silent.id == 2
        assert jobs.claim(hub, "other:2-2", ["k"]) is None  # the silent worker's lease still runs
        time.sleep(0.8)
        again = jobs.claim(hub, "other:2-2", ["k"])
        assert again is not None and again.id == 2 and again.attempts == 2
        jobs.finish(hub, silent, "late")  # the first worker's outcome no longer counts
        assert _status(hub, 2) == ("running", 2)
    finally:
        release.set()
        worker.stop()
    deadline = time.time() + 5
    while _status(hub, 1)[0] == "running" and time.time() < deadline:
        time.sleep(0.02)
    assert _status(hub, 1) == ("done", 1)


def _dead_owner() -> str:
    p = subprocess.Popen(["sleep", "30"])
    token = startup.owner(p.pid)
    p.kill()
    p.wait()
    return token


def test_a_job_of_a_dead_process_on_this_host_is_offered_again_at_once(tmp_path: Path) -> None:
    hub = _hub(tmp_path, 2)
    dead = jobs.claim(hub, f"{startup.host()}:{_dead_owner()}", ["k"])
    live = jobs.claim(hub, f"{startup.host()}:{startup.owner()}", ["k"])
    assert dead is not None and live is not None
    assert startup.reclaim_jobs(hub.db) == 1
    assert _status(hub, dead.id) == ("queued", 1)
    assert _status(hub, live.id) == ("running", 1)
    again = jobs.claim(hub, "w", ["k"])
    assert again is not None and again.id == dead.id and again.attempts == 2


def test_a_job_whose_workers_died_too_often_fails(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    for _ in range(startup.MAX_ATTEMPTS):
        job = jobs.claim(hub, f"{startup.host()}:{_dead_owner()}", ["k"])
        assert job is not None
        startup.reclaim_jobs(hub.db)
    assert _status(hub, 1) == ("failed", startup.MAX_ATTEMPTS)
    with hub.db.session() as s:
        job = s.get(Job, 1)
        assert job is not None and "died 3 times" in (job.error or "")


def test_processes_starting_together_reclaim_each_job_once(tmp_path: Path) -> None:
    hub = _hub(tmp_path, 12)
    dead = _dead_owner()
    while jobs.claim(hub, f"{startup.host()}:{dead}", ["k"]) is not None:
        pass
    counts: list[int] = []
    lock = threading.Lock()

    def recover() -> None:
        n = startup.reclaim_jobs(hub.db)
        with lock:
            counts.append(n)

    threads = [threading.Thread(target=recover) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counts) == 4 and sum(counts) == 12
    with hub.db.session() as s:
        assert {j.status for j in s.query(Job)} == {"queued"}
