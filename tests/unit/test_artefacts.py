"""The registry of derived artefacts: its declarations, which ref moves queue what, dependency order, and a
version bump queuing stored results again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from agora import jobs
from agora.config import Settings
from agora.db.models import Job, Repo, ViewerResult
from agora.db.session import Database, migrate
from agora.hub import accounts, artefacts
from agora.hub.artefacts import (
    ARTEFACTS,
    DATASET_PARQUET,
    DATASET_STATISTICS,
    PLANNED,
    REGISTRY,
    SPACE_RUN,
    AfterDependencies,
    Artefact,
    Held,
    Key,
    OnDemand,
    OnRefUpdate,
    RefUpdate,
    Registry,
    Stored,
)
from agora.hub.repos import Hub
from agora.ids import RepoId
from agora.storage.blobs import LocalBlobStore
from agora.viewer import pipeline

MAIN = "refs/heads/main"
A, B = "a" * 40, "b" * 40
RAN: list[tuple[str, int, str]] = []


def build_stats(hub: object, job: Job, settings: Settings) -> None:
    RAN.append(("stats", job.repo_id, job.revision))


def build_parquet(hub: object, job: Job, settings: Settings) -> None:
    RAN.append(("parquet", job.repo_id, job.revision))


def _art(
    name: str,
    trigger: artefacts.Trigger | None = None,
    depends_on: tuple[str, ...] = (),
    job: str | None = f"{__name__}:build_parquet",
) -> Artefact:
    return Artefact(
        name=name,
        version=1,
        trigger=trigger or OnRefUpdate(("dataset",)),
        key=Key.REVISION,
        lives=Stored(rows=("t",)),
        job=job,
        depends_on=depends_on,
    )


# ---- declarations ------------------------------------------------------------------------------------------
def test_todays_artefacts_are_declared() -> None:
    assert [a.name for a in REGISTRY] == [
        "dataset-convert",
        "dataset-statistics",
        "inference-snapshot",
        "inference-model",
        "space-environment",
        "space-run",
    ]
    parquet = REGISTRY["dataset-convert"]
    assert parquet is DATASET_PARQUET and pipeline.KIND == parquet.name and pipeline.ARTEFACT is parquet
    assert parquet.key is Key.REVISION and isinstance(parquet.lives, Stored)
    assert parquet.lives.ref == "refs/convert/parquet" and parquet.lives.rows == ("viewer_results",)
    assert parquet.trigger == OnRefUpdate(("dataset",), MAIN)
    assert parquet.job_function() is pipeline.convert_dataset
    assert parquet.outdated_function() is pipeline.outdated
    stats = REGISTRY["dataset-statistics"]
    assert stats is DATASET_STATISTICS and stats.depends_on == ("dataset-convert",)
    assert isinstance(stats.trigger, OnDemand) and stats.job is None  # computed by the API when asked
    assert stats.key is Key.CONTENT and stats.key_inputs and isinstance(stats.lives, Held)
    # the worker takes exactly the kinds with a job, and every job function resolves
    assert [a.name for a in REGISTRY.queued()] == ["dataset-convert", "space-run"]
    assert set(REGISTRY.handlers(Settings(data=Path("/nonexistent"), database_url="sqlite://"))) == {
        "dataset-convert",
        "space-run",
    }


def test_planned_artefacts_fit_the_graph() -> None:
    full = Registry(ARTEFACTS + PLANNED)
    env = full["space-environment"]
    assert env.key is Key.CONTENT and "requirements.txt" in env.key_inputs
    run = full["space-run"]
    assert isinstance(run.lives, Held) and run.job == "agora.spacehost:deploy_job"
    assert isinstance(full["inference-model"].lives, Held) and full["inference-model"].job is None
    order = [a.name for a in full]
    assert order.index("space-environment") < order.index("space-run")
    assert order.index("inference-snapshot") < order.index("inference-model")
    assert "space-build" not in REGISTRY  # a static Space's app_build_command: planned
    # a push to a Space's default branch queues its (re)start
    assert [a.name for a in REGISTRY.due(RefUpdate("space", MAIN, A, B))] == ["space-run"]


@pytest.mark.parametrize(
    "bad, message",
    [
        ([_art("x"), _art("x")], "declared twice"),
        ([_art("x" * 33)], "1 to 32 characters"),
        ([_art("x", depends_on=("nope",))], "not declared"),
        ([_art("x", depends_on=("y",)), _art("y", depends_on=("x",))], "cycle"),
        ([_art("x", AfterDependencies())], "needs some, and a job"),
        ([_art("x", job="no_colon")], "module:function"),
        ([dataclasses.replace(_art("x"), version=0)], "start at 1"),
        ([dataclasses.replace(_art("x"), key=Key.CONTENT)], "what the hash covers"),
        (
            [_art("y", OnDemand("asked"), job=None), _art("x", AfterDependencies(), depends_on=("y",))],
            "has no job",
        ),
    ],
)
def test_bad_declarations_are_refused(bad: list[Artefact], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Registry(bad)


# ---- trigger selection -------------------------------------------------------------------------------------
def test_only_a_dataset_default_branch_move_queues_the_conversion() -> None:
    assert REGISTRY.due(RefUpdate("dataset", MAIN, A, B)) == [DATASET_PARQUET]
    assert REGISTRY.due(RefUpdate("dataset", MAIN, None, B)) == [DATASET_PARQUET]  # a new repo
    assert REGISTRY.due(RefUpdate("dataset", MAIN, A, None)) == []  # deleted
    assert REGISTRY.due(RefUpdate("dataset", "refs/heads/dev", A, B)) == []
    assert REGISTRY.due(RefUpdate("dataset", "refs/pr/1", None, B)) == []
    assert REGISTRY.due(RefUpdate("model", MAIN, A, B)) == []
    assert REGISTRY.due(RefUpdate("space", MAIN, A, B)) == [SPACE_RUN]  # a Space's (re)start, not this
    assert REGISTRY.due(RefUpdate("space", "refs/heads/dev", A, B)) == []


def test_ref_prefixes_and_changed_paths() -> None:
    card = _art("card", OnRefUpdate(("model",), paths=("README.md",)))
    branches = _art("branches", OnRefUpdate(("model",), ref="refs/heads/"))
    reg = Registry([card, branches])
    readme_changed = RefUpdate("model", MAIN, A, B, changed=lambda p: p == "README.md")
    weights_changed = RefUpdate("model", MAIN, A, B, changed=lambda p: p == "model.safetensors")
    assert reg.due(readme_changed) == [card, branches]
    assert reg.due(weights_changed) == [branches]
    assert reg.due(RefUpdate("model", MAIN, A, B)) == [card, branches]  # not known what changed: all
    assert reg.due(RefUpdate("model", "refs/heads/dev", A, B, changed=lambda p: True)) == [branches]
    assert reg.due(RefUpdate("model", "refs/tags/v1", None, B)) == []


# ---- dependency order --------------------------------------------------------------------------------------
def test_dependencies_come_first_and_follow_their_jobs() -> None:
    stats = _art("stats", AfterDependencies(), depends_on=("parquet",), job=f"{__name__}:build_stats")
    report = _art("report", OnDemand("asked"), depends_on=("stats", "parquet"), job=None)
    parquet = _art("parquet")
    reg = Registry([report, stats, parquet])  # declared last-first on purpose
    assert [a.name for a in reg] == ["parquet", "stats", "report"]
    assert reg.due(RefUpdate("dataset", MAIN, A, B)) == [parquet]  # stats waits for parquet's job
    assert reg.after("parquet") == [stats] and reg.after("stats") == [] and reg.after("unknown") == []


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)
    return db


class _Hub:
    def __init__(self, db: Database) -> None:
        self.db = db


def test_a_finished_job_queues_what_depends_on_it(tmp_path: Path) -> None:
    db = _db(tmp_path)
    with db.session() as s:
        s.add(Repo(type="dataset", namespace="a", name="b", storage_key="k"))
    reg = Registry(
        [
            _art("parquet"),
            _art("stats", AfterDependencies(), depends_on=("parquet",), job=f"{__name__}:build_stats"),
        ]
    )
    with db.session() as s:
        assert reg.queue(s, 1, RefUpdate("dataset", MAIN, A, B)) == [reg["parquet"]]
    RAN.clear()
    worker = jobs.Worker(_Hub(db), settings=Settings(data=tmp_path, database_url="sqlite://"), registry=reg)
    assert worker.run_once() and worker.run_once() and not worker.run_once()
    assert RAN == [("parquet", 1, B), ("stats", 1, B)]


# ---- the post-write path, through a real Hub ---------------------------------------------------------------
def test_after_ref_update_asks_the_registry(tmp_path: Path) -> None:
    db = _db(tmp_path)
    hub = Hub(db, tmp_path / "repos", LocalBlobStore(tmp_path / "lfs"))
    with db.session() as s:
        who = accounts.session_principal(accounts.create_user(s, "alice", "alice-password"))
        ds = hub.create(s, who, RepoId("dataset", "alice", "d"))
        model = hub.create(s, who, RepoId("model", "alice", "m"))
        hub.after_ref_update(s, ds, "refs/heads/dev", None, ds.head_sha)
    with db.session() as s:
        queued = [(j.kind, j.repo_id, j.revision) for j in s.scalars(select(Job))]
    assert queued == [("dataset-convert", ds.id, ds.head_sha)]
    assert model.id != ds.id


# ---- versions ----------------------------------------------------------------------------------------------
def test_a_version_bump_queues_and_rederives_stored_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db(tmp_path)
    hub = Hub(db, tmp_path / "repos", LocalBlobStore(tmp_path / "lfs"))
    settings = Settings(data=tmp_path, database_url="sqlite://")
    with db.session() as s:
        who = accounts.session_principal(accounts.create_user(s, "alice", "alice-password"))
        ds = hub.create(s, who, RepoId("dataset", "alice", "d"))
        head = ds.head_sha
        assert head
        # a record of an older commit, made before versions were recorded: never worth re-deriving
        s.add(ViewerResult(repo_id=ds.id, revision="c" * 40, data={"configs": []}))
    worker = jobs.Worker(hub, settings=settings)
    assert worker.run_once() and not worker.run_once()  # the conversion of the head (no data files)
    with db.session() as s:
        row = s.scalars(select(ViewerResult).where(ViewerResult.revision == head)).one()
        first_id, first_at = row.id, row.created_at
        assert row.data["version"] == DATASET_PARQUET.version and row.data["error"]
        assert pipeline.outdated(s, DATASET_PARQUET.version) == []
        assert pipeline.outdated(s, DATASET_PARQUET.version + 1) == [(ds.id, head)]

    # the same version again: nothing to queue, and a job for the same commit skips
    assert jobs.requeue_outdated(hub) == 0
    with db.session() as s:
        artefacts.enqueue(s, DATASET_PARQUET.name, ds.id, head)
    assert worker.run_once()
    with db.session() as s:
        row = s.scalars(select(ViewerResult).where(ViewerResult.revision == head)).one()
        assert row.created_at == first_at
    newer = dataclasses.replace(DATASET_PARQUET, version=DATASET_PARQUET.version + 1)
    bumped = Registry([newer, DATASET_STATISTICS])
    assert jobs.requeue_outdated(hub, bumped) == 1
    assert jobs.requeue_outdated(hub, bumped) == 1  # counted again, but the waiting job is not doubled
    with db.session() as s:
        assert [j.status for j in s.scalars(select(Job).order_by(Job.id))] == ["done", "done", "queued"]

    monkeypatch.setattr(pipeline, "ARTEFACT", newer)
    assert jobs.Worker(hub, settings=settings, registry=bumped).run_once()
    with db.session() as s:
        row = s.scalars(select(ViewerResult).where(ViewerResult.revision == head)).one()
        assert row.id == first_id and row.created_at > first_at
        assert row.data["version"] == newer.version
        assert pipeline.outdated(s, newer.version) == []
    assert jobs.requeue_outdated(hub, bumped) == 0


def test_records_from_before_versions_count_as_version_1() -> None:
    assert pipeline.stored_version({"configs": []}) == 1
    assert pipeline.stored_version({"version": 3}) == 3
