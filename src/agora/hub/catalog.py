"""The listing catalog: every repo's listing fields in memory, one copy per server process.

Listings, counts and facets over a million repos must answer in milliseconds, and a B-tree walks too many
rows for a conjunction of broad tags ("en" and "fill-mask" each cover a tenth of the Hub). So each process
keeps, built from the database at start and kept current by the `index_log` change feed:
- per posting key (a tag, `\\0p:<pipeline tag>`): the repos that have it, as a bitmap (a bytearray, bit i =
  repo id i) once the key is common, as a set of ids while it is rare. Conjunctions of bitmaps are computed
  by pyarrow over zero-copy views of the bytearrays; rare keys drive the query through their sets;
- per repo id (a slot): type, visibility, id, namespace, sort keys, tags; enough to answer a default
  listing without SQL;
- the lower-cased repo ids as one text in slot order, for `search=` (a substring of the id, as on the Hub).

The database stays the source of truth. Every flush that touches a Repo row appends its id to `index_log`
in the same transaction (the session hook in db/session.py, registered wherever the ORM is used); before answering, a catalog applies
the rows it has not seen yet (a single indexed `max(seq)` query when nothing changed). So a listing shows a
commit as soon as the commit's call returned, whichever process answers. Sequence numbers seen missing (a
transaction still open on PostgreSQL, or rolled back) are looked for again for GAP_WAIT seconds.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import threading
import time
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from ..db.models import IndexLog

pa.set_cpu_count(1)  # the kernels used here are small and serial; a pool only adds hand-offs between threads

KINDS = {"model": 1, "dataset": 2, "space": 3}
SORT_COLUMNS = {"downloads": "downloads", "likes": "likes", "lastModified": "updated", "createdAt": "created",
                "trendingScore": "trending"}
PIPELINE = "\0p:"  # posting key prefix of pipeline tags (datasets and Spaces have no such tag)
NAMESPACE = "\0n:"  # posting key prefix of owners (author= and the private repos a reader may see)
INTERNAL = "\0"  # keys that are not tags (no facet counts them)
GAP_WAIT = 120.0
SMALL = 4096  # rare keys become bitmaps above max(SMALL, capacity / 256) members
TOP_SHARE, TOP_MIN = 64, 256  # sorted listings first rank the top 1/64th (when that is 256 repos or more)
TAGS_PER_REPO = 400  # facets: reading one repo's tags costs about as much as looking up 400 rare postings
EPOCH = datetime(1970, 1, 1)

# What _reset builds and load swaps in.
STATE = ("cap", "kind", "private", "rid", "namespace", "cols", "pipeline", "library", "sdk", "tags", "top",
         "_rare_postings",
         "bits", "sets", "public", "private_bits", "counts", "_interned", "text", "text_starts",
         "text_slots", "text_dead", "text_tail", "_arange")

# Audience: None = anonymous, ALL = an admin, else the namespaces whose private repos the user may see.
ALL = frozenset({"\0all"})


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
            self.repos_by_pipeline = ("SELECT pipeline_tag, group_concat(id, ',') FROM repos"
                                      " WHERE pipeline_tag IS NOT NULL GROUP BY pipeline_tag")
        else:
            def ms(c: str) -> str:
                return f"CAST(EXTRACT(EPOCH FROM {c}) * 1000 AS BIGINT)"
            self.mark = "%s"
            self.begin = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
            self.repos_by_tag = "SELECT tag, string_agg(repo_id::text, ',') FROM repo_tags GROUP BY tag"
            self.repos_by_namespace = "SELECT namespace, string_agg(id::text, ',') FROM repos GROUP BY namespace"
            self.repos_by_pipeline = ("SELECT pipeline_tag, string_agg(id::text, ',') FROM repos"
                                      " WHERE pipeline_tag IS NOT NULL GROUP BY pipeline_tag")
        kind = " ".join(f"WHEN '{t}' THEN {k}" for t, k in KINDS.items())
        self.columns = (f"id, CASE type {kind} END, namespace, namespace || '/' || name, private, downloads,"
                        f" likes, trending_score, {ms('created_at')}, {ms('updated_at')}, pipeline_tag,"
                        " library_name, sdk, tag_list")

    def repos(self, where: str) -> str:
        return f"SELECT {self.columns} FROM repos {where}"


def iso(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


def _split(joined: str | None) -> list[str]:
    return joined.split("\n") if joined else []


def _set_bit(bm: bytearray, s: int) -> None:
    bm[s >> 3] |= 1 << (s & 7)


def _clear_bit(bm: bytearray, s: int) -> None:
    bm[s >> 3] &= ~(1 << (s & 7)) & 0xFF


def _has(bm: Any, s: int) -> bool:
    return bool(bm[s >> 3] >> (s & 7) & 1)


def _view_ids(members: array) -> pa.Array:
    """A zero-copy int64 view of a sorted slot array (used under the lock, dropped before any change)."""
    return pa.Array.from_buffers(pa.int64(), len(members), [None, pa.py_buffer(members)])


def _insort(members: array, s: int) -> None:
    i = bisect_left(members, s)
    if i == len(members) or members[i] != s:
        members.insert(i, s)


def _discard(members: array, s: int) -> None:
    i = bisect_left(members, s)
    if i < len(members) and members[i] == s:
        del members[i]


def _ids(joined: str) -> array:
    """ "3,17,42" (a database's aggregate of ids) as a sorted array."""
    members = array("q", map(int, joined.split(",")))
    if any(a > b for a, b in itertools.pairwise(members)):
        members = array("q", sorted(members))
    return members


@dataclass
class Result:
    """The repos matching a query: a boolean mask over slots (broad queries) or a list of slots."""

    mask: pa.BooleanArray | None = None
    slots: list[int] | None = None


@dataclass
class Top:
    threshold: float  # members: value >= threshold
    bits: bytearray
    count: int
    built: int  # the count when chosen: a drift by 3x either way chooses again


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.RLock()  # state: held by every read and every apply
        self.sync_lock = threading.Lock()  # one thread at a time reads the log
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.seq = 0
        self.gaps: dict[int, float] = {}
        self.tags_version = 0  # bumps when tags, visibility or membership change (keys facet caches)
        self._facets: dict[tuple[Any, ...], Any] = {}
        self._reset(0)

    # ---- state ----------------------------------------------------------------------------------------
    def _reset(self, cap: int) -> None:
        cap = max(1024, (cap + 1023) // 1024 * 1024)
        self.cap = cap
        self.kind = bytearray(cap)
        self.private = bytearray(cap)
        self.rid: list[str | None] = [None] * cap
        self.namespace: list[str | None] = [None] * cap
        self.cols = {"downloads": array("q", bytes(8 * cap)), "likes": array("q", bytes(8 * cap)),
                     "updated": array("q", bytes(8 * cap)), "created": array("q", bytes(8 * cap)),
                     "trending": array("d", bytes(8 * cap))}
        self.pipeline: list[str | None] = [None] * cap
        self.library: list[str | None] = [None] * cap
        self.sdk: list[str | None] = [None] * cap
        self.tags: list[str] = [""] * cap  # "\n"-joined, as repos.tag_list (split when needed)
        # Posting lists: a bitmap per common key, a sorted array of slots per rare key and per namespace
        # (an array holds 8 bytes a slot; a set of ints about 60).
        self.bits: dict[str, bytearray] = {}
        self.sets: dict[str, array] = {}
        self.public = {k: bytearray(cap // 8) for k in KINDS.values()}
        self.private_bits = {k: bytearray(cap // 8) for k in KINDS.values()}
        self.counts: dict[int, Counter[str]] = {k: Counter() for k in KINDS.values()}  # public repos' tags
        self._interned: dict[str, str] = {}
        self.text = ""
        self.text_starts = array("q")
        self.text_slots = array("q")
        self.text_dead: set[int] = set()
        self.text_tail: dict[int, str] = {}
        self._arange: pa.Array | None = None
        # Per sort column, the repos at or above a threshold value (about 1/64th of all): the first pages
        # of a sorted listing are ranked among those only. None until first needed, and after drifting.
        self.top: dict[str, Top | None] = dict.fromkeys(self.cols)
        self._rare_postings: tuple[int, pa.Array, pa.Array, list[str]] | None = None

    def _grow(self, slot: int) -> None:
        """Room for `slot`. Columns are reallocated, never resized: views of the old ones stay valid."""
        if slot < self.cap:
            return
        new = max(slot + 1, self.cap * 2)
        new = (new + 1023) // 1024 * 1024
        extra = new - self.cap
        self.kind = self.kind + bytearray(extra)
        self.private = self.private + bytearray(extra)
        for name in ("rid", "namespace", "pipeline", "library", "sdk"):
            getattr(self, name).extend([None] * extra)
        self.tags.extend([""] * extra)
        for name, col in self.cols.items():
            grown = array(col.typecode, bytes(8 * new))
            grown[:self.cap] = col
            self.cols[name] = grown
        for store in (self.bits, self.public, self.private_bits):
            for key, bm in store.items():
                store[key] = bm + bytearray(extra // 8)  # type: ignore[index]
        self.top = dict.fromkeys(self.cols)
        self.cap = new
        self._arange = None

    def _intern(self, tag: str) -> str:
        return self._interned.setdefault(tag, tag)

    def _promote_limit(self) -> int:
        return max(SMALL, self.cap // 256)

    def _post(self, key: str, s: int) -> None:
        bm = self.bits.get(key)
        if bm is not None:
            _set_bit(bm, s)
            return
        members = self.sets.get(key)
        if members is None:
            members = self.sets[key] = array("q")
        _insort(members, s)
        if len(members) > self._promote_limit():  # common now: a bitmap is smaller than the array
            bm = bytearray(self.cap // 8)
            for m in members:
                _set_bit(bm, m)
            self.bits[key] = bm
            del self.sets[key]

    def _unpost(self, key: str, s: int) -> None:
        bm = self.bits.get(key)
        if bm is not None:
            _clear_bit(bm, s)
            return
        members = self.sets.get(key)
        if members is not None:
            _discard(members, s)
            if not members:
                del self.sets[key]

    def _remove(self, s: int) -> None:
        k = self.kind[s]
        if not k:
            return
        for top in self.top.values():
            if top is not None and _has(top.bits, s):
                _clear_bit(top.bits, s)
                top.count -= 1
        tags = _split(self.tags[s])
        for t in tags:
            self._unpost(t, s)
        if self.pipeline[s]:
            self._unpost(PIPELINE + self.pipeline[s], s)  # type: ignore[operator]
        self._unpost(NAMESPACE + self.namespace[s], s)  # type: ignore[operator]
        if self.private[s]:
            _clear_bit(self.private_bits[k], s)
        else:
            _clear_bit(self.public[k], s)
            counts = self.counts[k]
            for t in tags:
                counts[t] -= 1
                if counts[t] <= 0:
                    del counts[t]
        self.kind[s] = 0
        self.private[s] = 0
        self.tags[s] = ""

    def _add(self, row: tuple[Any, ...]) -> None:
        (s, k, ns, rid, private, downloads, likes, trending, created, updated, pipeline, library, sdk,
         joined) = row
        self._grow(s)
        tags = [self._intern(t) for t in _split(joined)]
        self.kind[s] = k
        self.private[s] = 1 if private else 0
        self.namespace[s] = self._intern(ns)
        self.rid[s] = rid
        cols = self.cols
        cols["downloads"][s] = downloads or 0
        cols["likes"][s] = likes or 0
        cols["trending"][s] = trending or 0.0
        cols["created"][s] = created or 0
        cols["updated"][s] = updated or 0
        self.pipeline[s] = self._intern(pipeline) if pipeline else None
        self.library[s] = self._intern(library) if library else None
        self.sdk[s] = sdk
        self.tags[s] = joined or ""
        for name, top in self.top.items():
            if top is not None and cols[name][s] >= top.threshold:
                _set_bit(top.bits, s)
                top.count += 1
        for t in tags:
            self._post(t, s)
        if pipeline:
            self._post(PIPELINE + pipeline, s)
        self._post(NAMESPACE + self.namespace[s], s)  # type: ignore[operator]
        if private:
            _set_bit(self.private_bits[k], s)
        else:
            _set_bit(self.public[k], s)
            self.counts[k].update(tags)

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

    # ---- the search text --------------------------------------------------------------------------------
    def _build_text(self) -> None:
        parts, starts, slots = [], array("q"), array("q")
        pos = 0
        for s in range(self.cap):
            if self.kind[s]:
                r = self.rid[s].lower()  # type: ignore[union-attr]
                starts.append(pos)
                slots.append(s)
                parts.append(r)
                pos += len(r) + 1
        starts.append(pos)
        self.text = "\n".join(parts) + "\n"
        self.text_starts, self.text_slots = starts, slots
        self.text_dead, self.text_tail = set(), {}

    def _text_changed(self, s: int, old: str | None, new: str | None) -> None:
        if old is not None and new is not None and old.lower() == new.lower():
            return
        if s in self.text_tail:
            del self.text_tail[s]
        elif old is not None:
            self.text_dead.add(s)
        if new is not None:
            self.text_tail[s] = new.lower()
        if len(self.text_tail) + len(self.text_dead) > 20_000:
            self._build_text()

    def _search_desc(self, terms: list[str], below: int | None) -> Iterator[int]:
        """Slots whose lower-cased id contains every term, highest first (and below `below`)."""
        first, rest = terms[0], terms[1:]
        tail = sorted((s for s, r in self.text_tail.items()
                       if (below is None or s < below) and all(t in r for t in terms)), reverse=True)

        def main() -> Iterator[int]:
            text, starts, slots, dead = self.text, self.text_starts, self.text_slots, self.text_dead
            end = len(text)
            if below is not None:
                end = starts[bisect_right(slots, below - 1)]  # slots are ascending
            while True:
                i = text.rfind(first, 0, end)
                if i < 0:
                    return
                line = bisect_right(starts, i) - 1
                end = starts[line]
                s = slots[line]
                if s in dead:
                    continue
                if rest:
                    r = text[starts[line]:starts[line + 1] - 1]
                    if not all(t in r for t in rest):
                        continue
                yield s
        return heapq.merge(main(), tail, key=lambda s: -s)

    # ---- loading and following the log ----------------------------------------------------------------------
    def start(self) -> Catalog:
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
        fresh = Catalog(self.engine)
        sql = _Sql(self.engine.dialect.name)
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(sql.begin)
            cur.execute("SELECT max(seq) FROM index_log")
            seq = cur.fetchone()[0] or 0
            cur.execute("SELECT max(id) FROM repos")
            fresh._reset((cur.fetchone()[0] or 0) + 1)
            cur.execute(sql.repos(""))
            while rows := cur.fetchmany(50_000):  # in pieces: a million rows at once would double the peak
                fresh._bulk_rows(rows)
            cur.execute(sql.repos_by_namespace)
            namespaces = [(NAMESPACE + ns, ids) for ns, ids in cur.fetchall()]
            cur.execute(sql.repos_by_tag)
            postings = cur.fetchall()
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

    # The bulk loaders set many slots in tight loops: per-slot method calls cost more than the data.
    def _bulk_rows(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        (ids, kinds, nss, rids, privs, downloads, likes, trending, created, updated, pipelines, libraries,
         sdks, tag_lists) = zip(*rows)
        intern = {x: x for x in (*nss, *pipelines, *libraries)}
        intern.update((x, x) for x in self._interned)
        kind, private, rid, namespace = self.kind, self.private, self.rid, self.namespace
        for s, k, ns, r, priv in zip(ids, kinds, nss, rids, privs):
            kind[s] = k
            rid[s] = r
            namespace[s] = intern[ns]
            if priv:
                private[s] = 1
                bm = self.private_bits[k]
                bm[s >> 3] |= 1 << (s & 7)
            else:
                bm = self.public[k]
                bm[s >> 3] |= 1 << (s & 7)
        for name, values in (("downloads", downloads), ("likes", likes), ("trending", trending),
                             ("created", created), ("updated", updated)):
            col = self.cols[name]
            for s, v in zip(ids, values):
                col[s] = v or 0
        for target, values in ((self.pipeline, pipelines), (self.library, libraries)):
            for s, v in zip(ids, values):
                target[s] = intern[v] if v else None
        for s, v in zip(ids, sdks):
            self.sdk[s] = v
        self._interned.update((x, x) for x in intern if x)
        tags = self.tags
        for s, joined in zip(ids, tag_lists):
            tags[s] = joined or ""

    def _bulk_postings(self, postings: list[tuple[str, str]]) -> None:
        limit = self._promote_limit()
        known = self._interned
        for key, joined in postings:
            key = known.setdefault(key, key)
            if joined.count(",") >= limit:
                self.bits[key] = self._bitmap_of(joined)
            else:
                self.sets[key] = _ids(joined)
        kind, private = self.kind, self.private
        for key, members in self.sets.items():
            if key.startswith(INTERNAL):
                continue
            for s in members:
                if not private[s]:
                    self.counts[kind[s]][key] += 1
        for key, bm in self.bits.items():
            if key.startswith(INTERNAL):
                continue
            view = self._view(bm)
            for k, pub in self.public.items():
                n = pc.sum(pc.and_(view, self._view(pub))).as_py()
                if n:
                    self.counts[k][key] = n

    def _bitmap_of(self, joined: str) -> bytearray:
        """The bitmap of "3,17,42": parsed and scattered by pyarrow, not bit by bit in Python."""
        idx = pc.cast(pc.list_flatten(pc.split_pattern(pa.array([joined]), ",")), pa.int64())
        mask = pc.fill_null(pc.scatter(pc.not_equal(idx, -1), idx, max_index=self.cap - 1), False)
        bm = bytearray(mask.buffers()[1].to_pybytes()[: self.cap // 8])
        return bm + bytearray(self.cap // 8 - len(bm))

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
            top = cur.fetchone()[0] or 0
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
            or_(IndexLog.seq > start, IndexLog.seq.in_(list(self.gaps))) if self.gaps else IndexLog.seq > start)
        log = c.execute(q).all()
        fresh = sorted(seq for seq, _ in log if seq > start)
        if fresh and fresh[0] > start + 1 and start:
            low = c.scalar(select(func.min(IndexLog.seq))) or 0
            if low > start + 1:  # pruned past what this process saw: start over
                self.load()
                return
        seen = {seq for seq, _ in log}
        for seq in list(self.gaps):
            if seq in seen or now - self.gaps[seq] > GAP_WAIT:
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
            chunk = ids[i:i + 500]
            cur = raw.cursor()
            cur.execute(sql.repos(f"WHERE id IN ({','.join([sql.mark] * len(chunk))})"), chunk)
            rows += [tuple(r) for r in cur.fetchall()]
            cur.close()
        return rows

    # ---- queries (callers hold no lock; each takes it) -------------------------------------------------------------
    def _view(self, bm: bytearray) -> pa.BooleanArray:
        return pa.BooleanArray.from_buffers(pa.bool_(), self.cap, [None, pa.py_buffer(bm)])

    def _col(self, name: str) -> pa.Array:
        col = self.cols[name]
        return pa.Array.from_buffers(pa.float64() if col.typecode == "d" else pa.int64(), self.cap,
                                     [None, pa.py_buffer(col)])

    def _slots_of(self, mask: pa.BooleanArray) -> pa.Array:
        if self._arange is None or len(self._arange) != self.cap:
            self._arange = pa.array(range(self.cap), pa.int64())
        return pc.filter(self._arange, mask)

    def _visible(self, k: int, audience: frozenset[str] | None) -> pa.BooleanArray:
        """The repos of kind k that `audience` may list: the public ones, and the private ones of its
        namespaces (all of them for an admin), combined by pyarrow from the owners' postings."""
        mask = self._view(self.public[k])
        if audience is None:
            return mask
        private = self._view(self.private_bits[k])
        if audience is ALL:
            return pc.or_(mask, private)
        more = None
        for ns in audience:
            key = NAMESPACE + ns
            if key in self.bits:
                mask = pc.or_(mask, pc.and_(private, self._view(self.bits[key])))
            elif key in self.sets:
                if more is None:
                    more = bytearray(self.cap // 8)
                for s in self.sets[key]:
                    if self.private[s] and self.kind[s] == k:
                        _set_bit(more, s)
        return mask if more is None else pc.or_(mask, self._view(more))

    def _match(self, rtype: str, audience: frozenset[str] | None, author: str | None, keys: list[str],
              terms: list[str], ordered: bool) -> Result | Iterator[int]:
        """The repos of `rtype` visible to `audience` with every posting key, the author, and every search
        term in their id. With `ordered` and a search over a broad set, an iterator of slots highest first
        (a listing without sort stops after a page instead of finding every match)."""
        k = KINDS[rtype]
        if author is not None:
            keys = [*keys, NAMESPACE + author]
        dense, rare = [], []
        for key in dict.fromkeys(keys):
            if key in self.bits:
                dense.append(self.bits[key])
            elif key in self.sets:
                rare.append(self.sets[key])
            else:
                return Result(slots=[])
        terms = sorted({t.lower() for t in terms if t.strip()}, key=len, reverse=True)
        base = self._visible(k, audience)
        if rare:  # a rare key drives: its members are checked against the rest by pyarrow
            rare.sort(key=len)
            if not rare[0]:
                return Result(slots=[])
            idx = _view_ids(rare[0])
            keep = pc.take(base, idx)
            for other in rare[1:]:
                keep = pc.and_(keep, pc.is_in(idx, value_set=_view_ids(other)))
            for bm in dense:
                keep = pc.and_(keep, pc.take(self._view(bm), idx))
            out = pc.filter(idx, keep).to_pylist()
            if terms:
                rid = self.rid
                out = [s for s in out if all(t in rid[s].lower() for t in terms)]  # type: ignore[union-attr]
            return Result(slots=out)
        mask = base
        for bm in dense:
            mask = pc.and_(mask, self._view(bm))
        if not terms:
            return Result(mask=mask)
        bits, off = memoryview(mask.buffers()[1]), mask.offset  # type: ignore[arg-type]
        found = (s for s in self._search_desc(terms, None) if _has(bits, s + off))
        if ordered:
            return found
        return Result(slots=list(found))

    def _ranked(self, cands: Any, col: str, cursor: Any, n: int) -> list[int]:
        """The first n of `cands` (a list or an int64 array of slots) by (col desc, slot desc) after `cursor`."""
        if isinstance(cands, list) and len(cands) <= 64:
            values = self.cols[col]
            if cursor is not None:
                v, last = cursor
                cands = [s for s in cands if values[s] < v or (values[s] == v and s < last)]
            return heapq.nlargest(n, cands, key=lambda s: (values[s], s))
        idx = pa.array(cands, pa.int64()) if isinstance(cands, list) else cands
        vals = pc.take(self._col(col), idx)
        if cursor is not None:
            v, last = cursor
            keep = pc.or_(pc.less(vals, v), pc.and_(pc.equal(vals, v), pc.less(idx, last)))
            vals, idx = pc.filter(vals, keep), pc.filter(idx, keep)
        table = pa.table({"v": vals, "s": idx})
        top = pc.select_k_unstable(table, k=min(n, len(table)), sort_keys=[("v", "descending"), ("s", "descending")])
        return table.column("s").take(top).to_pylist()  # type: ignore[no-any-return]

    def page(self, rtype: str, audience: frozenset[str] | None, author: str | None, keys: list[str],
             terms: list[str], sort: str | None, cursor: Any, n: int) -> list[int]:
        """n slots in listing order: by `sort` (then id) descending, or by id descending; after `cursor`."""
        with self.lock:
            found = self._match(rtype, audience, author, keys, terms, ordered=sort is None)
            if sort is None:
                below = cursor
                if isinstance(found, Result) and found.mask is not None:
                    return self._top_bits(found.mask, below, n)
                it = found if not isinstance(found, Result) else iter(sorted(found.slots or [], reverse=True))
                return list(itertools.islice((s for s in it if below is None or s < below), n))
            assert isinstance(found, Result)
            col = SORT_COLUMNS[sort]
            if found.slots is not None:
                return self._ranked(found.slots, col, cursor, n)
            top = self._top(col)
            if top is not None:  # a full page among the top repos is the page (all others rank below them)
                got = self._ranked(self._slots_of(pc.and_(found.mask, self._view(top.bits))), col, cursor, n)
                if len(got) == n:
                    return got
            return self._ranked(self._slots_of(found.mask), col, cursor, n)

    def _top(self, col: str) -> Top | None:
        """The repos whose `col` is at or above a threshold chosen to keep about 1/TOP_SHARE of them; chosen
        anew when additions or removals made the share drift by 3x. None for small catalogs."""
        top = self.top[col]
        if top is not None and top.built // 3 <= top.count <= max(top.built, TOP_MIN) * 3:
            return top
        present = pc.not_equal(pa.Array.from_buffers(pa.uint8(), self.cap, [None, pa.py_buffer(self.kind)]), 0)
        values = pc.filter(self._col(col), present)
        target = len(values) // TOP_SHARE
        if target < TOP_MIN:
            self.top[col] = None
            return None
        best = pc.select_k_unstable(values, k=target, sort_keys=[("dummy", "descending")])
        threshold = pc.min(pc.take(values, best)).as_py()
        if int(pc.sum(pc.greater_equal(values, threshold)).as_py() or 0) > 3 * target:
            # Ties at the threshold (most repos have 0 likes): keep only the values above it, if any.
            above = pc.filter(values, pc.greater(values, threshold))
            threshold = pc.min(above).as_py() if len(above) else float("inf")
        mask = pc.and_(pc.greater_equal(self._col(col), threshold), present)
        bits = bytearray(mask.buffers()[1].to_pybytes()[: self.cap // 8])
        count = int(pc.sum(mask).as_py() or 0)
        self.top[col] = top = Top(threshold, bits, count, count)
        return top

    def _top_bits(self, mask: pa.BooleanArray, below: int | None, n: int) -> list[int]:
        """The n highest set slots under `below`, scanning the mask down from there in growing blocks."""
        end = self.cap if below is None else min(below, self.cap)
        out: list[int] = []
        block = 1024
        if self._arange is None or len(self._arange) != self.cap:
            self._arange = pa.array(range(self.cap), pa.int64())
        while end > 0 and len(out) < n:
            start = max(0, end - block)
            got = pc.filter(self._arange.slice(start, end - start), mask.slice(start, end - start))
            want = n - len(out)
            out += got.slice(max(0, len(got) - want)).to_pylist()[::-1]
            end = start
            block *= 8
        return out

    def count(self, rtype: str, audience: frozenset[str] | None, author: str | None, keys: list[str],
              terms: list[str]) -> int:
        with self.lock:
            found = self._match(rtype, audience, author, keys, terms, ordered=False)
            assert isinstance(found, Result)
            if found.mask is not None:
                return int(pc.sum(found.mask).as_py() or 0)
            return len(found.slots or [])

    def facets(self, rtype: str, audience: frozenset[str] | None, author: str | None, keys: list[str],
               terms: list[str]) -> Counter[str]:
        """Counts per tag over the matching repos. Exact; cached until a tag, visibility or repo changes."""
        key = (self.tags_version, rtype, audience, author, tuple(keys), tuple(terms))
        hit = self._facets.get(key)
        if hit is not None:
            return hit
        with self.lock:
            k = KINDS[rtype]
            if not keys and author is None and not terms and audience is None:  # maintained counts
                out = Counter(self.counts[k])
            else:
                found = self._match(rtype, audience, author, keys, terms, ordered=False)
                assert isinstance(found, Result)
                if found.slots is not None:
                    tags = self.tags
                    out = Counter(itertools.chain.from_iterable(tags[s].split("\n") for s in found.slots if tags[s]))
                else:
                    mask = found.mask
                    size = pc.sum(mask).as_py() or 0
                    _, members, which, keys = self._rare_index()
                    if size * TAGS_PER_REPO <= len(members):  # fewer tags to read than rare postings
                        tags = self.tags
                        out = Counter(itertools.chain.from_iterable(
                            t.split("\n") for t in map(tags.__getitem__, self._slots_of(mask).to_pylist()) if t))
                    else:  # common keys by bitmap, rare ones by one lookup of every rare posting in the mask
                        out = Counter()
                        for tag, bm in self.bits.items():
                            if not tag.startswith(INTERNAL):
                                n = pc.sum(pc.and_(mask, self._view(bm))).as_py()
                                if n:
                                    out[tag] = n
                        hits = pc.value_counts(pc.filter(which, pc.take(mask, members)))
                        for i, n in zip(hits.field(0).to_pylist(), hits.field(1).to_pylist(), strict=True):
                            out[keys[i]] = n
        if len(self._facets) > 256:
            self._facets = {}
        self._facets[key] = out
        return out

    def _rare_index(self) -> tuple[int, pa.Array, pa.Array, list[str]]:
        """Every rare posting as (slot, key number) columns, rebuilt when tags changed: facets of a broad
        query count rare keys with one lookup of all of them in the query's mask."""
        got = self._rare_postings
        if got is None or got[0] != self.tags_version:
            keys = [t for t in self.sets if not t.startswith(INTERNAL)]
            members = pa.concat_arrays([_view_ids(self.sets[t]) for t in keys]) if keys else pa.array([], pa.int64())
            which = array("i")
            for i, t in enumerate(keys):
                which.extend(array("i", [i]) * len(self.sets[t]))
            got = self._rare_postings = (self.tags_version, members,
                                         pa.Array.from_buffers(pa.int32(), len(which), [None, pa.py_buffer(which)]),
                                         keys)
        return got

    def summaries(self, slots: list[int]) -> list[dict[str, Any]]:
        with self.lock:
            return [self._summary(s) for s in slots]

    def _summary(self, s: int) -> dict[str, Any]:
        """The default fields of a listing entry, as repo_json gives them, from memory."""
        rid = self.rid[s]
        cols = self.cols
        d: dict[str, Any] = {"_id": f"{s:024x}", "id": rid, "likes": cols["likes"][s],
                             "downloads": cols["downloads"][s], "trendingScore": cols["trending"][s],
                             "private": bool(self.private[s]), "tags": _split(self.tags[s]),
                             "createdAt": iso(cols["created"][s])}
        k = self.kind[s]
        if k == 1:
            d["modelId"] = rid
            if self.library[s]:
                d["library_name"] = self.library[s]
            if self.pipeline[s]:
                d["pipeline_tag"] = self.pipeline[s]
        elif k == 3:
            d["sdk"] = self.sdk[s]
        return d

    def sort_value(self, s: int, sort: str) -> Any:
        return self.cols[SORT_COLUMNS[sort]][s]

    def tags_of(self, s: int) -> list[str]:
        return _split(self.tags[s]) if s < self.cap else []


# ---- one catalog per database (db/session.py's flush hook feeds the log) ------------------------------------------
_catalogs: weakref.WeakKeyDictionary[Engine, Catalog] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def of(engine: Engine) -> Catalog:
    with _registry_lock:
        cat = _catalogs.get(engine)
        if cat is None:
            cat = _catalogs[engine] = Catalog(engine)
        return cat


def for_session(s: Session) -> Catalog:
    bind = s.get_bind()
    return of(bind if isinstance(bind, Engine) else bind.engine)
