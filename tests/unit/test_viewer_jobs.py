"""The job queue hands each job to one worker; a conversion child is stopped past its memory or time limit."""

from __future__ import annotations

import threading
from pathlib import Path

from agora import jobs
from agora.db.models import Job, Repo
from agora.db.session import Database, migrate
from agora.viewer.pipeline import JobLimits, run_child


class _Hub:
    def __init__(self, db: Database) -> None:
        self.db = db


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    with db.session() as s:
        s.add(Repo(type="dataset", namespace="a", name="b", storage_key="k"))
    return db


def test_each_job_is_claimed_once(tmp_path: Path) -> None:
    db = _db(tmp_path)
    with db.session() as s:
        for i in range(20):
            jobs.enqueue(s, "k", 1, f"{i:040d}")
        jobs.enqueue(s, "k", 1, f"{0:040d}")  # the same waiting work is not queued twice
    hub = _Hub(db)
    taken: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (job := jobs.claim(hub, name, ["k"])) is not None:
            with lock:
                taken.append(job.id)
            jobs.finish(hub, job)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1, 21))
    with db.session() as s:
        assert {j.status for j in s.query(Job)} == {"done"}
        assert not jobs.pending(s, "k", 1)


def _csv_spec(tmp_path: Path, rows: int) -> dict:
    src = tmp_path / "in.csv"
    with open(src, "w") as fh:
        fh.write("a,b\n")
        for i in range(rows):
            fh.write(f"{i},text {i}\n")
    out = tmp_path / "out"
    out.mkdir()
    return {
        "module": "csv",
        "kwargs": {},
        "split": "train",
        "out_dir": str(out),
        "files": [{"path": "train.csv", "local": str(src)}],
    }


def test_child_converts_in_bounded_batches(tmp_path: Path) -> None:
    got = run_child(_csv_spec(tmp_path, 50_000), JobLimits())
    assert got["error"] is None, got
    assert got["num_rows"] == 50_000 and got["shards"][0]["filename"] == "0000.parquet"
    # What load_dataset("csv") gives: datasets 5.2 reads CSV with pandas 3, whose strings are large_string.
    assert got["features"] == {
        "a": {"dtype": "int64", "_type": "Value"},
        "b": {"dtype": "large_string", "_type": "Value"},
    }
    assert got["peak_rss"] > 0


def test_child_is_stopped_past_memory_or_time(tmp_path: Path) -> None:
    spec = _csv_spec(tmp_path, 1000)
    got = run_child(spec, JobLimits(max_rss=20 * 1024 * 1024))
    assert "memory" in got["error"]
    got = run_child(spec, JobLimits(timeout=0.05))
    assert "took longer" in got["error"]
