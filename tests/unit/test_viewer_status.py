"""The dataset viewer's state of the head revision (issue 18): while the head's conversion job is queued or
running the viewer says it is processing that revision and polls; once the job failed it says why and stops
polling (no endless "processing"); the sizes shown on cards come from the head's record, else the newest. And
the column charts drawn from the statistics say in words what their bars show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agora import jobs
from agora.db.models import Repo, ViewerResult
from agora.db.session import Database, migrate
from agora.http.web import colstats, viewer
from agora.http.web.base import environment
from agora.viewer import service
from agora.viewer.pipeline import KIND

OLD, NEW = "a" * 40, "b" * 40


class _Hub:
    def __init__(self, db: Database) -> None:
        self.db = db


def _record(rows: int, original: int, parquet: int) -> dict[str, Any]:
    split = {
        "name": "train",
        "num_rows": rows,
        "num_bytes_original_files": original,
        "num_bytes_parquet_files": parquet,
    }
    return {"configs": [{"name": "default", "splits": [split]}]}


def _hub(tmp_path: Path) -> _Hub:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    with db.session() as s:
        s.add(Repo(type="dataset", namespace="a", name="b", storage_key="k", head_sha=OLD))
        s.flush()
        s.add(ViewerResult(repo_id=1, revision=OLD, data=_record(1500, 120_000, 80_000)))
    return _Hub(db)


def _status(hub: _Hub) -> dict[str, Any]:
    with hub.db.session() as s:
        repo = s.get(Repo, 1)
        assert repo is not None
        return viewer.revision_status(service.state(s, repo))


def _render(status: dict[str, Any]) -> str:
    env = environment()
    v = {"base": "/datasets/a/b", "ready": True, "configs": [{"name": "default"}], **status}
    return env.get_template("_viewer.html").render(v=v)


def test_processing_until_the_head_job_ends_then_failed_says_why(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    assert _status(hub) | {"processing": False, "poll": False} == _status(hub)  # the head is converted
    with hub.db.session() as s:
        s.get(Repo, 1).head_sha = NEW  # type: ignore[union-attr]
        jobs.enqueue(s, KIND, 1, NEW)
    queued = _status(hub)
    assert queued["processing"] and queued["poll"] and queued["job"] == "queued"
    assert (queued["head_short"], queued["shown_short"]) == ("bbbbbbb", "aaaaaaa")
    html = _render(queued)
    assert (
        "Processing the new revision <code>bbbbbbb</code>… (queued)" in html and 'hx-trigger="every' in html
    )

    job = jobs.claim(hub, "w", [KIND])
    assert job is not None and _status(hub)["job"] == "running" and _status(hub)["processing"]
    jobs.finish(hub, job, "MemoryError: the converter went past its limit")
    failed = _status(hub)
    assert not failed["processing"] and not failed["poll"] and failed["head_failed"]
    html = _render(failed)
    assert "Processing" not in html and 'hx-trigger="every' not in html
    assert "could not be converted: MemoryError: the converter went past its limit" in html
    assert "This shows revision <code>aaaaaaa</code>" in html


def test_a_crashed_first_conversion_is_no_endless_processing(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    with hub.db.session() as s:
        s.query(ViewerResult).delete()
        s.get(Repo, 1).head_sha = NEW  # type: ignore[union-attr]
        jobs.enqueue(s, KIND, 1, NEW)
    job = jobs.claim(hub, "w", [KIND])
    assert job is not None
    jobs.finish(hub, job, "RuntimeError: boom")
    status = _status(hub)
    assert status["head_failed"] and not status["processing"] and not status["poll"]
    env = environment()
    html = env.get_template("_viewer.html").render(
        v={"base": "/d", "ready": True, "configs": [], "error": "The conversion job failed: boom", **status}
    )
    assert "could not be converted: RuntimeError: boom" in html and "not available" not in html
    assert "Processing" not in html and 'hx-trigger="every' not in html


def test_sizes_prefer_the_heads_record(tmp_path: Path) -> None:
    hub = _hub(tmp_path)
    with hub.db.session() as s:
        repo = s.get(Repo, 1)
        assert repo is not None
        s.add(ViewerResult(repo_id=1, revision="c" * 40, data=_record(9, 9, 9)))  # newer, another branch's
        s.add(Repo(type="dataset", namespace="a", name="empty", storage_key="e", head_sha=NEW))
        s.add(Repo(type="dataset", namespace="a", name="nothing", storage_key="n", head_sha=NEW))
        s.flush()
        s.add(ViewerResult(repo_id=3, revision=NEW, data={"configs": [], "error": "no data files"}))
        s.flush()
        repos = list(s.query(Repo).order_by(Repo.id))
        s.expunge_all()
    got = service.sizes(hub, repos)  # type: ignore[arg-type]
    assert got == {1: service.Size(1500, 120_000)}
    assert service.size_of(_record(10, 0, 700)) == service.Size(10, 700)  # originals unknown: parquet's


def test_charts_say_what_their_bars_show() -> None:
    number = colstats.chart(
        {
            "column_name": "n",
            "column_type": "int",
            "column_statistics": {
                "nan_count": 3,
                "nan_proportion": 0.25,
                "min": 0,
                "max": 9,
                "mean": 4.5,
                "histogram": {"hist": [1, 0, 8], "bin_edges": [0, 3, 6, 9]},
            },
        }
    )
    assert number is not None
    assert number["label"] == "min 0, max 9, mean 4.5, 3 bins; 25% null (3 rows)"
    assert [b["h"] for b in number["bars"]] == [4.38, 0, 35.0]  # the tallest bin fills the box
    assert number["bars"][1]["title"] == "3 – 6: 0 rows"
    digits = colstats.histogram(
        {"min": 0, "max": 2, "histogram": {"hist": [4, 1, 2], "bin_edges": [0, 1, 1, 2]}}, ""
    )
    assert digits is not None and [b["title"] for b in digits["bars"]] == [
        "0: 4 rows",
        "1: 1 row",
        "2: 2 rows",
    ]
    labels = colstats.chart(
        {
            "column_name": "c",
            "column_type": "class_label",
            "column_statistics": {"nan_count": 0, "frequencies": {"b": 1, "a": 3, "c": 1, "d": 5}},
        }
    )
    assert labels is not None and labels["caption"] == "4 classes (1 more)"
    assert labels["label"] == "4 classes; most frequent: d 50%, a 30%, b 10%"
    flags = colstats.chart(
        {"column_type": "bool", "column_statistics": {"nan_count": 0, "frequencies": {"True": 1}}}
    )
    assert flags is not None and flags["label"] == "1 value; most frequent: true 100%"
    assert colstats.chart({"column_type": "image", "column_statistics": {}}) is None
    empty = colstats.chart({"column_type": "float", "column_statistics": {"nan_count": 2, "histogram": {}}})
    assert empty is not None and empty["label"].startswith("no values")
