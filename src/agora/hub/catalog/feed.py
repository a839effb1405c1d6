"""The change-feed follower: loading the catalog from the database and keeping it current.

The database stays the source of truth. Every flush that touches a Repo row appends its id to `index_log`
in the same transaction (the session hook in db/session.py, registered wherever the ORM is used); before
answering, a catalog applies the rows it has not seen yet (a single indexed `max(seq)` query when nothing
changed): each logged repo is read again and made what the database says (added, changed or removed in
the postings and the id text). So a listing shows a commit as soon as the commit's call returned,
whichever process answers. Sequence numbers seen missing (a transaction still open on PostgreSQL, or
rolled back) are looked for again for GAP_WAIT seconds. A log pruned past what this process has seen
makes it load everything again.

A load reads everything in one snapshot, the log position first (so changes made meanwhile are read
again), builds a fresh state aside (queries go on over the current one) and swaps it in under the lock.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Self

from sqlalchemy import Engine, func, or_, select

from ...db.models import IndexLog
from .. import catalog  # the package: its tunables (GAP_WAIT) are read at call time
from .postings import KINDS, NAMESPACE, PIPELINE
from .query import Query

# What _reset builds and load swaps in (the state of every layer: postings, id text, query caches).
STATE = (
    "cap",
    "kind",
    "private",
    "rid",
    "namespace",
    "cols",
    "pipeline",
    "library",
    "sdk",
    "tags",
    "top",
    "_rare_postings",
    "bits",
    "sets",
    "public",
    "private_bits",
    "counts",
    "_interned",
    "text",
    "text_starts",
    "text_slots",
    "text_dead",
    "text_tail",
    "_arange",
)


def _first(row: Sequence[Any] | None) -> int:
    """The number in a one-column aggregate row (`max(...)`), 0 for NULL (an empty table)."""
    value: int = (row[0] or 0) if row is not None else 0
    return value


class _Sql:
    """The catalog's reads, in each dialect: timestamps arrive as milliseconds since 1970 and a tag's
    repos as one joined string, so that the database, not Python, does the per-row work."""

    def __init__(self, dialect: str) -> None:
        if dialect == "sqlite":

            def ms(c: str) -> str:
                return f"CAST(ROUND((julianday({c}) - 2440587.5) * 86400000.0) AS INTEGER)"

            self.mark = "?"
            self.begin = "BEGIN"  # one snapshot for every read of a load (WAL)
            self.repos_by_tag = "SELECT tag, group_concat(repo_id, ',') FROM repo_tags GROUP BY tag"
            self.repos_by_namespace = "SELECT namespace, group_concat(id, ',') FROM repos GROUP BY namespace"
            self.repos_by_pipeline = (
                "SELECT pipeline_tag, group_concat(id, ',') FROM repos"
                " WHERE pipeline_tag IS NOT NULL GROUP BY pipeline_tag"
            )
        else:

            def ms(c: str) -> str:
                return f"CAST(EXTRACT(EPOCH FROM {c}) * 1000 AS BIGINT)"

            self.mark = "%s"
            self.begin = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
            self.repos_by_tag = "SELECT tag, string_agg(repo_id::text, ',') FROM repo_tags GROUP BY tag"
            self.repos_by_namespace = (
                "SELECT namespace, string_agg(id::text, ',') FROM repos GROUP BY namespace"
            )
            self.repos_by_pipeline = (
                "SELECT pipeline_tag, string_agg(id::text, ',') FROM repos"
                " WHERE pipeline_tag IS NOT NULL GROUP BY pipeline_tag"
            )
        kind = " ".join(f"WHEN '{t}' THEN {k}" for t, k in KINDS.items())
        self.columns = (
            # the id text: `gpt2` for a canonical repo (no namespace)
            f"id, CASE type {kind} END, namespace,"
            " CASE namespace WHEN '' THEN name ELSE namespace || '/' || name END, private, downloads,"
            f" likes, trending_score, {ms('created_at')}, {ms('updated_at')}, pipeline_tag,"
            " library_name, sdk, tag_list"
        )

    def repos(self, where: str) -> str:
        return f"SELECT {self.columns} FROM repos {where}"


class Follower(Query):
    """A catalog kept current from the database: `start` loads it in the background, `sync` catches up."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sync_lock = threading.Lock()  # one thread at a time reads the log
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.seq = 0
        self.gaps: dict[int, float] = {}
        super().__init__()

    # ---- loading and following the log ---------------------------------------------------------------
    def start(self) -> Self:
        """Load in the background; queries wait for it (`ready`)."""
        if not hasattr(self, "_thread"):
            self._thread = threading.Thread(target=self._initial_load, name="agora-catalog", daemon=True)
            self._thread.start()
        return self

    def _initial_load(self) -> None:
        gc.disable()  # millions of new objects: the collector would rescan them again and again
        try:
            self.load()
        except BaseException as exc:  # noqa: BLE001 - reported to every query instead of hanging them
            self.error = exc
        finally:
            gc.enable()
            gc.freeze()  # the loaded state is long-lived: keep it out of every later collection
            self.ready.set()

    def load(self) -> None:
        """Everything from the database: the log position first, so changes made meanwhile are re-read.
        Built aside (queries go on over the current state meanwhile) and swapped in."""
        fresh = type(self)(self.engine)
        sql = _Sql(self.engine.dialect.name)
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(sql.begin)
            cur.execute("SELECT max(seq) FROM index_log")
            seq = _first(cur.fetchone())
            cur.execute("SELECT max(id) FROM repos")
            fresh._reset(_first(cur.fetchone()) + 1)
            cur.execute(sql.repos(""))
            while rows := cur.fetchmany(50_000):  # in pieces: a million rows at once would double the peak
                fresh._bulk_rows(rows)
            cur.execute(sql.repos_by_namespace)
            namespaces = [(NAMESPACE + ns, ids) for ns, ids in cur.fetchall()]
            cur.execute(sql.repos_by_tag)
            postings = list(cur.fetchall())
            cur.execute(sql.repos_by_pipeline)
            postings += [(PIPELINE + p, ids) for p, ids in cur.fetchall()] + namespaces
            cur.close()
            raw.rollback()
        finally:
            raw.close()
        fresh._bulk_postings(postings)
        fresh._build_text()
        for col in fresh.cols:
            fresh._top(col)
        with self.lock:
            for name in STATE:
                setattr(self, name, getattr(fresh, name))
            self.seq = seq
            self.gaps = {}
            self.tags_version += 1
            self._facets = {}

    def sync(self) -> None:
        """Apply the log rows not seen yet. Cheap when nothing changed: one `max(seq)` on the primary key."""
        if not self.ready.is_set():
            self.start()
            self.ready.wait()
        if self.error is not None:
            raise RuntimeError("the listing catalog failed to load") from self.error
        raw = self.engine.raw_connection()  # the DBAPI cursor directly: this runs before every listing
        try:
            cur = raw.cursor()
            cur.execute("SELECT max(seq) FROM index_log")
            top = _first(cur.fetchone())
            cur.close()
        finally:
            raw.close()
        if top <= self.seq and not self.gaps:
            return
        with self.sync_lock, self.engine.connect() as c:
            self._follow(c, top)

    def _follow(self, c: Any, top: int) -> None:
        now = time.monotonic()
        start = self.seq
        q = select(IndexLog.seq, IndexLog.repo_id).where(
            or_(IndexLog.seq > start, IndexLog.seq.in_(list(self.gaps)))
            if self.gaps
            else IndexLog.seq > start
        )
        log = c.execute(q).all()
        fresh = sorted(seq for seq, _ in log if seq > start)
        if fresh and fresh[0] > start + 1 and start:
            low = c.scalar(select(func.min(IndexLog.seq))) or 0
            if low > start + 1:  # pruned past what this process saw: start over
                self.load()
                return
        seen = {seq for seq, _ in log}
        for seq in list(self.gaps):
            if seq in seen or now - self.gaps[seq] > catalog.GAP_WAIT:
                del self.gaps[seq]
        if fresh:
            for seq in range(start + 1, fresh[-1]):
                if seq not in seen and len(self.gaps) < 100_000:
                    self.gaps[seq] = now
        ids = sorted({rid for _, rid in log})
        if ids:
            rows = self._read(c, ids)
            with self.lock:
                self._apply(rows, ids)
                if len(self._facets) > 0:
                    self._facets = {k: v for k, v in self._facets.items() if k[0] == self.tags_version}
        self.seq = max(self.seq, fresh[-1] if fresh else start)

    def _read(self, c: Any, ids: list[int]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        raw = c.connection.dbapi_connection
        sql = _Sql(c.dialect.name)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            cur = raw.cursor()
            cur.execute(sql.repos(f"WHERE id IN ({','.join([sql.mark] * len(chunk))})"), chunk)
            rows += [tuple(r) for r in cur.fetchall()]
            cur.close()
        return rows

    def _apply(self, rows: list[tuple[Any, ...]], ids: Iterable[int]) -> None:
        """Make `ids` what the database says: rows present are (re)added, the others removed."""
        present = {r[0]: r for r in rows}
        for s in ids:
            old = self.rid[s] if s < self.cap and self.kind[s] else None
            before = self._facet_inputs(s) if old else None
            if old:
                self._remove(s)
            row = present.get(s)
            if row is not None:
                self._add(row)
            if before != (self._facet_inputs(s) if row is not None else None):
                self.tags_version += 1
            self._text_changed(s, old, self.rid[s] if row is not None else None)

    def _facet_inputs(self, s: int) -> tuple[Any, ...]:
        return (self.tags[s], self.private[s], self.kind[s], self.rid[s], self.pipeline[s])
