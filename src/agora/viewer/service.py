"""What the viewer API and the dataset page ask: the conversion record of a dataset and its splits.

The record shown is the one derived from the default branch's head when it exists; while that head is
still being converted, the newest earlier record is shown and `pending` is true.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import jobs
from ..db.models import Job, Repo, ViewerResult
from ..errors import NotFound
from ..hub import artefacts
from .errors import NotReady, SplitFailed, SplitStopped
from .pipeline import KIND
from .query import Shard

if TYPE_CHECKING:
    from ..hub.accounts import Principal
    from ..hub.repos import Hub
    from ..ids import RepoId


@dataclass
class State:
    repo: Repo
    head: str
    result: dict[str, Any] | None  # ViewerResult.data
    revision: str | None  # the commit the result was derived from
    pending: bool
    job: str | None = None  # the head's conversion job: queued, running, done, failed (None: none queued)
    job_error: str | None = None  # why the head's conversion job failed

    def configs(self) -> list[dict[str, Any]]:
        return (self.result or {}).get("configs", [])

    def config(self, name: str | None) -> dict[str, Any]:
        cs = self.configs()
        if not cs:
            raise NotFound(
                "The dataset has no converted configs yet"
                if self.pending
                else f"The dataset viewer has no configs for this dataset: {(self.result or {}).get('error')}"
            )
        if name is None:
            return next((c for c in cs if c.get("default")), cs[0])
        for c in cs:
            if c["name"] == name:
                return c
        raise NotFound(f"Config {name!r} does not exist. Available: {', '.join(c['name'] for c in cs)}")

    def ready(self) -> None:
        """NotReady while the dataset has no conversion record yet."""
        if self.result is None:
            raise NotReady(
                "The response is not ready yet: the dataset is being converted. Please retry later."
            )

    def converted_split(self, config: str | None, split: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(config, split) whose rows can be read: NotReady, NotFound or SplitFailed otherwise."""
        self.ready()
        c, sp = self.split(config, split)
        if sp.get("error"):
            code = sp.get("error_code") or "SplitConversionError"
            cause = {
                "cause_exception": sp.get("cause_exception") or code,
                "cause_message": sp.get("cause_message") or sp["error"],
            }
            kind = SplitStopped if code.startswith("JobManager") else SplitFailed
            raise kind(
                f"The split {sp['name']!r} of config {c['name']!r} could not be converted: {sp['error']}",
                code,
                body=cause,
            )
        return c, sp

    def split(self, config: str | None, split: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        c = self.config(config)
        if not c["splits"]:
            raise NotFound(f"Config {c['name']!r} has no splits: {c.get('error')}")
        if split is None:
            return c, c["splits"][0]
        for sp in c["splits"]:
            if sp["name"] == split:
                return c, sp
        raise NotFound(
            f"Split {split!r} does not exist in config {c['name']!r}. "
            f"Available: {', '.join(s['name'] for s in c['splits'])}"
        )


# (result id, created_at) -> data. A record changes only when a newer version of the conversion replaces it
# (viewer/pipeline.py `_record`), and that gives it a new created_at.
_RESULTS: OrderedDict[tuple[int, datetime], dict[str, Any]] = OrderedDict()
_LOCK = threading.Lock()


def _data(s: Session, result_id: int, created_at: datetime) -> dict[str, Any]:
    key = (result_id, created_at)
    with _LOCK:
        hit = _RESULTS.get(key)
        if hit is not None:
            _RESULTS.move_to_end(key)
            return hit
    data: dict[str, Any] = s.scalar(select(ViewerResult.data).where(ViewerResult.id == result_id)) or {}
    with _LOCK:
        _RESULTS[key] = data
        while len(_RESULTS) > 256:
            _RESULTS.popitem(last=False)
    return data


def state(s: Session, repo: Repo) -> State:
    head = repo.head_sha or ""
    cols = (ViewerResult.id, ViewerResult.revision, ViewerResult.created_at)
    row = s.execute(
        select(*cols).where(ViewerResult.repo_id == repo.id, ViewerResult.revision == head)
    ).first()
    if row is None:
        row = s.execute(
            select(*cols).where(ViewerResult.repo_id == repo.id).order_by(ViewerResult.id.desc()).limit(1)
        ).first()
    pending = row is None or row.revision != head or jobs.pending(s, KIND, repo.id)
    if row is None and pending and not jobs.pending(s, KIND, repo.id):
        failed = s.scalar(
            select(Job.error)
            .where(Job.kind == KIND, Job.repo_id == repo.id, Job.status == "failed")
            .order_by(Job.id.desc())
            .limit(1)
        )
        if failed:  # the job itself crashed (not a bad split): say so rather than "pending" forever
            error = f"The conversion job failed: {failed}"
            return State(repo, head, {"configs": [], "error": error}, None, False, "failed", failed)
    data = _data(s, row.id, row.created_at) if row else None
    job = artefacts.status(s, KIND, repo.id, head) if head else None
    return State(repo, head, data, row.revision if row else None, pending, *(job or (None, None)))


def shards(hub: Hub, split: dict[str, Any]) -> list[Shard]:
    out = []
    for f in split.get("files", []):
        try:  # a local path either way: the store's own file, or a cached copy of an S3 object
            path = hub.blobs.cached_path(f["oid"])
        except NotFound:
            raise NotFound(f"The converted file {f['filename']} is missing from storage") from None
        out.append(Shard(f["oid"], str(path), int(f["num_rows"])))
    return out


def open_state(hub: Hub, who: Principal | None, rid: RepoId) -> State:
    """The viewer state of the dataset `rid` if `who` may see it (else RepoNotFound) and passes its gate
    (else GatedRepo: the rows are the dataset's bytes), in a session of its own: the viewer API, the
    dataset page's viewer fragment and media cells."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, download=True)
        st = state(s, repo)
        s.expunge(repo)
    return st


def repo_state(hub: Hub, repo: Repo) -> State:
    """The viewer state of a repo already found (a detached row), in a session of its own."""
    with hub.db.session() as s:
        return state(s, repo)


@dataclass(frozen=True)
class Size:
    """What a dataset card in a list (and the dataset page's header) says of its converted data."""

    num_rows: int
    num_bytes: int  # the original files' bytes, or the parquet shards' when the originals are not known


def size_of(data: dict[str, Any]) -> Size | None:
    """The size of a conversion record; None when it converted nothing (an error, no data files)."""
    splits = [sp for c in data.get("configs", []) for sp in c.get("splits", [])]
    if not splits:
        return None
    original = sum(int(sp.get("num_bytes_original_files") or 0) for sp in splits)
    parquet = sum(int(sp.get("num_bytes_parquet_files") or 0) for sp in splits)
    return Size(sum(int(sp.get("num_rows") or 0) for sp in splits), original or parquet)


def sizes(hub: Hub, repos: list[Repo]) -> dict[int, Size]:
    """{repo id: Size} of the datasets among `repos` whose conversion is known: the head's record, else the
    newest one (a list shows the last known size while a new commit is converted)."""
    heads = {r.id: r.head_sha for r in repos if r.type == "dataset"}
    if not heads:
        return {}
    out: dict[int, Size] = {}
    with hub.db.session() as s:
        rows = s.execute(
            select(ViewerResult.id, ViewerResult.repo_id, ViewerResult.revision, ViewerResult.created_at)
            .where(ViewerResult.repo_id.in_(list(heads)))
            .order_by(ViewerResult.id.desc())
        ).all()
        newest: dict[int, Any] = {}
        for row in rows:  # newest first; the head's own record wins over a newer one of another branch
            if row.repo_id not in newest or row.revision == heads[row.repo_id]:
                newest[row.repo_id] = row
        for repo_id, row in newest.items():
            size = size_of(_data(s, row.id, row.created_at))
            if size is not None:
                out[repo_id] = size
    return out
