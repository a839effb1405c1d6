"""Derived artefacts, declared once: what each is, what makes it stale, what it is keyed by, where it lives,
what it needs first, and the function that computes it.

Everything but the git objects, the accounts and the social rows is derived from (repo, commit) and can be
dropped and recomputed. This module is the one list of what is derived *after* a write, in the background
or when a request asks for it. The post-write path (`Hub.after_ref_update`) calls `REGISTRY.queue(s,
repo_id, update)`: the registry picks the artefacts the ref move makes stale (`due`) and queues a job for
each (a `jobs` row keyed by repo + revision, in the write's transaction). The job worker (`jobs.Worker`)
runs a job by looking its kind up here, and when a job succeeds it queues the artefacts that follow it.
Nothing else names an artefact's kind. The domain writes queue rows here (`enqueue`); `jobs.py`, above
`hub/`, claims and runs them.

Not in the registry, on purpose: what is derived synchronously, inside the write's own transaction, so that
the API shows it as soon as the write returns:
- the index rows of a repo (card data, tags, links, search text, parameter count): `index.reindex`, called
  by `Hub.after_ref_update` for the default branch;
- the listing catalog (`hub/catalog/`): each process's in-memory copy of those rows, which follows the
  `index_log` change feed rather than being computed from a commit.

An artefact is declared with:
- `name`: its job kind (the `jobs.kind` column, at most 32 characters); never rename a declared one, queued
  and finished jobs carry it;
- `version`: bump it when the job's output changes shape or meaning; a stored result of an older version is
  queued again (`outdated`, checked when a worker starts), and a job re-derives it instead of skipping it;
- `trigger`: `OnRefUpdate` (a ref move on some repo types, optionally only when some paths changed: a card
  change is `paths=("README.md",)`), `AfterDependencies` (queued when a job it depends on succeeds) or
  `OnDemand` (computed when a request needs it; no write queues it);
- `key`: `Key.REVISION` (repo + revision) or `Key.CONTENT` (a hash of the inputs, shared by every repo with
  the same inputs: a Space environment is shared by every Space with the same requirements). Jobs are always
  queued per (repo, revision), the write that asked for them; a content-keyed job computes its hash and
  finds the shared result or builds it;
- `lives`: `Stored(...)` (database rows, files, a git ref: it survives restarts) or `Held(lease)` (only in a
  running process: a loaded model, a running Space; released when unused for `lease`);
- `depends_on`: the artefacts it is derived from (the graph; `REGISTRY` lists artefacts dependencies first);
- `job`: `"module:function"` computing it for one job, called as `fn(hub, job, settings)`; a reference, not
  an import, because the functions live above `hub/` (in `viewer/`, later in the Spaces and inference
  packages). It must be safe to run twice and in any process: it checks whether the result for its key
  already exists at this version.
- `outdated`: `"module:function"` called as `fn(session, version)`, returning the (repo id, revision) keys
  whose stored result was made by an older version (only those worth re-deriving: the heads).

To add one: declare it in `ARTEFACTS` (or move it there from `PLANNED`), write its job function, store its
version with its result; see CONTRIBUTING.md, "How to add a derived artefact".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..db.models import Job

if TYPE_CHECKING:
    from ..storage.gitstore import GitRepo
    from .repos import Hub

DEFAULT_BRANCH = "refs/heads/main"
MAX_NAME = 32  # the width of jobs.kind

JobFn = Callable[["Hub", Job, Settings], None]  # fn(hub, job, settings)
Handler = Callable[[Any, Job], None]  # what jobs.Worker calls: fn(hub, job)
OutdatedFn = Callable[[Session, int], list[tuple[int, str]]]  # fn(session, version) -> [(repo id, revision)]


# ---- what a write tells the registry ---------------------------------------------------------------------
@dataclass(frozen=True)
class RefUpdate:
    """A ref that moved, as `Hub.after_ref_update` sees it. `new` is None when the ref was deleted.
    `changed(path)` says whether a path's content differs between `old` and `new`; None: not known (every
    path counts as changed)."""

    repo_type: str
    ref: str
    old: str | None
    new: str | None
    changed: Callable[[str], bool] | None = None

    def touches(self, paths: Iterable[str]) -> bool:
        return self.changed is None or any(self.changed(p) for p in paths)


def path_changed(open_git: Callable[[], GitRepo], old: str | None, new: str | None) -> Callable[[str], bool]:
    """`RefUpdate.changed` for a move old -> new: compares the path's blob ids. The repo is opened only
    when a trigger asks about a path."""
    opened: list[GitRepo] = []

    def changed(path: str) -> bool:
        if old is None or new is None:
            return True
        if not opened:
            opened.append(open_git())
        a, b = opened[0].entry(old, path), opened[0].entry(new, path)
        return (a.oid if a else None) != (b.oid if b else None)

    return changed


# ---- triggers ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OnRefUpdate:
    """Stale when `ref` of a repo of one of `repo_types` moves to a commit (deletions trigger nothing).
    `ref` is a full name, or a prefix ending in "/" ("refs/heads/": any branch). With `paths`, only when
    one of them changed (a card change: `paths=("README.md",)`)."""

    repo_types: tuple[str, ...]
    ref: str = DEFAULT_BRANCH
    paths: tuple[str, ...] = ()

    def matches(self, u: RefUpdate) -> bool:
        if u.new is None or u.repo_type not in self.repo_types:
            return False
        if u.ref != self.ref and not (self.ref.endswith("/") and u.ref.startswith(self.ref)):
            return False
        return not self.paths or u.touches(self.paths)


@dataclass(frozen=True)
class AfterDependencies:
    """Queued for (repo, revision) when a job of one of its `depends_on` succeeds for that key. With several
    dependencies the job runs once per finished dependency and does its work when all are present."""


@dataclass(frozen=True)
class OnDemand:
    """Computed when a request needs it (`when`), in that request or by the process serving it; no write
    queues a job for it."""

    when: str


Trigger = OnRefUpdate | AfterDependencies | OnDemand


class Key(Enum):
    REVISION = "repo+revision"  # one result per (repo, commit)
    CONTENT = "content-hash"  # one result per hash of its inputs, shared by every repo with the same inputs


# ---- where it lives ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stored:
    """Persisted: survives restarts and is seen by every process. `rows`: tables; `files`: paths under
    the data folder or the blob store; `ref`: a git ref of the repo."""

    rows: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    ref: str | None = None


@dataclass(frozen=True)
class Held:
    """Only in a running process (a loaded model, a running Space): gone when the process ends, rebuilt on
    demand. Released when unused for `lease`; None: kept until the process's own bound evicts it
    (`evicted`)."""

    lease: timedelta | None
    evicted: str = ""


# ---- the declaration ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Artefact:
    name: str
    version: int
    trigger: Trigger
    key: Key
    lives: Stored | Held
    job: str | None = None  # "module:function", called as fn(hub, job, settings)
    depends_on: tuple[str, ...] = ()
    outdated: str | None = None  # "module:function", called as fn(session, version)
    doc: str = ""
    key_inputs: tuple[str, ...] = ()  # Key.CONTENT: what the hash covers

    def job_function(self) -> JobFn:
        if self.job is None:
            raise LookupError(f"artefact {self.name!r} has no job function")
        return cast(JobFn, _resolve(self.job))

    def outdated_function(self) -> OutdatedFn | None:
        return cast(OutdatedFn, _resolve(self.outdated)) if self.outdated else None


def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


class Registry:
    """The declared artefacts, dependencies first. Checked when built: unique names that fit `jobs.kind`,
    known dependencies, no cycle, and triggers that fit the declaration."""

    def __init__(self, artefacts: Iterable[Artefact]) -> None:
        declared: dict[str, Artefact] = {}
        for a in artefacts:
            if a.name in declared:
                raise ValueError(f"artefact {a.name!r} is declared twice")
            _check(a)
            declared[a.name] = a
        for a in declared.values():
            for d in a.depends_on:
                if d not in declared:
                    raise ValueError(f"artefact {a.name!r} depends on {d!r}, which is not declared")
                if isinstance(a.trigger, AfterDependencies) and declared[d].job is None:
                    raise ValueError(f"artefact {a.name!r} is queued after {d!r}, which has no job")
        self._order = _dependencies_first(declared)
        self._by_name = declared

    def __iter__(self) -> Iterator[Artefact]:
        return iter(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Artefact:
        return self._by_name[name]

    def due(self, update: RefUpdate) -> list[Artefact]:
        """The artefacts to queue for this ref move, dependencies first: those with a job whose trigger
        matches. (Their dependents are queued as each job succeeds: `after`.)"""
        return [
            a
            for a in self._order
            if a.job is not None and isinstance(a.trigger, OnRefUpdate) and a.trigger.matches(update)
        ]

    def after(self, name: str) -> list[Artefact]:
        """The artefacts to queue for a key once a job of `name` succeeded for it."""
        return [a for a in self._order if isinstance(a.trigger, AfterDependencies) and name in a.depends_on]

    def queue(self, s: Session, repo_id: int, update: RefUpdate) -> list[Artefact]:
        """Queue a job for each artefact this ref move makes stale, in the caller's transaction."""
        if update.new is None:
            return []
        due = self.due(update)
        for a in due:
            enqueue(s, a.name, repo_id, update.new)
        return due

    def queued(self) -> list[Artefact]:
        """The artefacts computed by jobs, i.e. the kinds a worker takes."""
        return [a for a in self._order if a.job is not None]

    def handlers(self, settings: Settings) -> dict[str, Handler]:
        """{kind: fn(hub, job)} for a worker; resolving every job function here fails at start, not later."""
        return {a.name: partial(_call, a.job_function(), settings=settings) for a in self.queued()}

    def outdated(self, s: Session) -> list[tuple[Artefact, int, str]]:
        """(artefact, repo id, revision) of stored results made by an older version of their job."""
        out = []
        for a in self.queued():
            fn = a.outdated_function()
            if fn is not None:
                out += [(a, repo_id, revision) for repo_id, revision in fn(s, a.version)]
        return out


# ---- the queue's rows, as the domain writes and reads them (jobs.py claims and runs them) ------------------
def enqueue(s: Session, kind: str, repo_id: int, revision: str) -> None:
    """Queue `kind` for (repo, revision) unless the same work is already waiting."""
    waiting = s.scalar(
        select(Job.id).where(
            Job.kind == kind, Job.repo_id == repo_id, Job.revision == revision, Job.status == "queued"
        )
    )
    if waiting is None:
        s.add(Job(kind=kind, repo_id=repo_id, revision=revision, status="queued", attempts=0))
        s.flush()


def pending(s: Session, kind: str, repo_id: int) -> bool:
    """Whether a job of `kind` is waiting or running for the repo (at any revision)."""
    return (
        s.scalar(
            select(Job.id)
            .where(Job.kind == kind, Job.repo_id == repo_id, Job.status.in_(("queued", "running")))
            .limit(1)
        )
        is not None
    )


def status(s: Session, kind: str, repo_id: int, revision: str) -> tuple[str, str | None] | None:
    """(state, error) of the newest job of `kind` for (repo, revision), the state being queued, running, done
    or failed; None when none was queued. A page says with it whether a new commit is still being processed
    or why its job failed."""
    row = s.execute(
        select(Job.status, Job.error)
        .where(Job.kind == kind, Job.repo_id == repo_id, Job.revision == revision)
        .order_by(Job.id.desc())
        .limit(1)
    ).first()
    return (row.status, row.error) if row else None


def _check(a: Artefact) -> None:
    """One declaration on its own: a name that fits `jobs.kind`, references that name a function, a trigger
    and a key that fit the rest of it."""
    if not a.name or len(a.name) > MAX_NAME:
        raise ValueError(f"artefact name {a.name!r} must be 1 to {MAX_NAME} characters (jobs.kind)")
    if a.version < 1:
        raise ValueError(f"artefact {a.name!r}: versions start at 1")
    for ref in (a.job, a.outdated):
        if ref is None:
            continue
        module, _, function = ref.partition(":")
        if not module or not function:
            raise ValueError(f"artefact {a.name!r}: {ref!r} is not 'module:function'")
    if isinstance(a.trigger, AfterDependencies) and (not a.depends_on or a.job is None):
        raise ValueError(f"artefact {a.name!r} is queued after its dependencies: it needs some, and a job")
    if a.key is Key.CONTENT and not a.key_inputs:
        raise ValueError(f"artefact {a.name!r} is keyed by a content hash: say what the hash covers")


def _call(fn: JobFn, hub: Hub, job: Job, settings: Settings) -> None:
    fn(hub, job, settings)


def _dependencies_first(declared: dict[str, Artefact]) -> list[Artefact]:
    """Declaration order, except that each artefact comes after what it depends on; a cycle is refused."""
    out: list[Artefact] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(a: Artefact, path: Sequence[str]) -> None:
        if state.get(a.name) == "done":
            return
        if state.get(a.name) == "visiting":
            raise ValueError(f"artefact dependencies form a cycle: {' -> '.join([*path, a.name])}")
        state[a.name] = "visiting"
        for d in a.depends_on:
            visit(declared[d], [*path, a.name])
        state[a.name] = "done"
        out.append(a)

    for a in declared.values():
        visit(a, [])
    return out


# ---- today's artefacts ------------------------------------------------------------------------------------
DATASET_PARQUET = Artefact(
    name="dataset-convert",
    version=2,  # 2: converted with datasets' own builders (viewer/builders.py), the Hub's error codes
    trigger=OnRefUpdate(repo_types=("dataset",)),
    key=Key.REVISION,
    lives=Stored(
        rows=("viewer_results",),
        files=("LFS objects of the parquet shards (blob store)",),
        ref="refs/convert/parquet",
    ),
    job="agora.viewer.pipeline:convert_dataset",
    outdated="agora.viewer.pipeline:outdated",
    doc="The dataset viewer's parquet conversion of a dataset's default branch: configs and splits found "
    "from the files and the card, each split converted in a child process, one commit on "
    "refs/convert/parquet and one viewer_results row (rows, features, sizes, errors) per source commit. "
    "Results made before versions were recorded count as version 1.",
)

DATASET_STATISTICS = Artefact(
    name="dataset-statistics",
    version=1,
    trigger=OnDemand("GET /statistics for a converted split, or the dataset page's column charts"),
    key=Key.CONTENT,
    key_inputs=("the split's parquet shard oids",),
    lives=Held(lease=None, evicted="per-process LRU of 256 splits (viewer/query.py _STATS)"),
    depends_on=(DATASET_PARQUET.name,),
    doc="Per-column statistics of one converted split, computed by viewer/query.statistics from its parquet "
    "shards when asked and kept in the serving process; shards never change, so neither do they.",
)

INFERENCE_SNAPSHOT = Artefact(
    name="inference-snapshot",
    version=1,
    trigger=OnDemand("an Inference API request for a model at a commit (POST /models/{id})"),
    key=Key.REVISION,
    lives=Stored(files=("<data>/infer-snapshots/<repo id>/<sha>: the commit's files, LFS ones as links",)),
    doc="A read-only folder of a model repo at a commit, for from_pretrained without copying weights "
    "(inference/snapshots.py); Xet- and S3-stored weights are rebuilt into <data>/infer-cache first.",
)

INFERENCE_MODEL = Artefact(
    name="inference-model",
    version=1,
    trigger=OnDemand("an Inference API request"),
    key=Key.REVISION,
    lives=Held(
        lease=None, evicted="a worker's LRU past AGORA_INFER_MAX_MODELS, or its RSS cap (inference/worker.py)"
    ),
    depends_on=(INFERENCE_SNAPSHOT.name,),
    doc="A model loaded in an inference worker, keyed by (repo, commit, task); the worker pool is one per host.",
)

SPACE_ENVIRONMENT = Artefact(
    name="space-environment",
    version=1,
    trigger=OnDemand("a Space's build (spacehost.py), before its app starts"),
    key=Key.CONTENT,
    key_inputs=("python interpreter and version", "sdk", "sdk_version", "requirements.txt"),
    lives=Stored(files=("<spaces root>/envs/<hash>: a venv, mounted read-only in the Spaces using it",)),
    doc="A Space's Python environment (spaces/envs.py: uv, one shared cache), shared by every Space with the "
    "same inputs; `EnvStore.gc` removes the ones no Space uses.",
)

SPACE_RUN = Artefact(
    name="space-run",
    version=1,
    trigger=OnRefUpdate(repo_types=("space",)),
    key=Key.REVISION,
    lives=Held(lease=timedelta(seconds=30), evicted="put to sleep after its sleep time without a request"),
    job="agora.spacehost:deploy_job",
    depends_on=(SPACE_ENVIRONMENT.name,),
    doc="A running gradio/streamlit Space: its app at the default branch's head in its sandbox, supervised by "
    "the one process holding its space_runs lease (spacehost.py). A push queues this job, which (re)starts "
    "it; a request to its app or its page wakes it.",
)

ARTEFACTS: tuple[Artefact, ...] = (
    DATASET_PARQUET,
    DATASET_STATISTICS,
    INFERENCE_SNAPSHOT,
    INFERENCE_MODEL,
    SPACE_ENVIRONMENT,
    SPACE_RUN,
)


# ---- declared ahead of their code (docs: shared spaces.md, inference.md); not registered until they have it
PLANNED: tuple[Artefact, ...] = (
    Artefact(
        name="space-build",
        version=1,
        trigger=OnRefUpdate(repo_types=("space",)),
        key=Key.REVISION,
        lives=Stored(ref="refs/convert/build"),
        doc="The output of a static Space's app_build_command, committed on refs/convert/build.",
    ),
)

REGISTRY = Registry(ARTEFACTS)
