"""Postings: what the catalog holds per repo, and per posting key the repos that have it.

A repo's id is its slot. Per slot, in columns (bytearrays, `array`s and lists indexed by slot): type,
visibility, id, namespace, the sort columns, pipeline tag, library, sdk, and the tags joined as
repos.tag_list joins them; enough to answer a default listing without SQL.

Per posting key (a tag, PIPELINE + a pipeline tag, NAMESPACE + an owner): the slots that have it, as a
bitmap (a bytearray, bit i = slot i) once the key is common (more than max(SMALL, capacity / 256) repos),
as a sorted array of slots while it is rare. Per type: a bitmap of its public repos and one of its private
ones, and the tag counts of the public ones (the facets of an unfiltered listing). Per sort column: the
top share, a bitmap of the repos at or above a threshold (chosen by query.py, kept current here).

This module owns that state and its changes: building it in bulk at load, posting and unposting one repo,
growing past capacity, and the zero-copy pyarrow views of bitmaps and columns that queries combine.
Nothing here takes the lock: the callers (queries, the follower) hold it.
"""

from __future__ import annotations

import itertools
import threading
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from .. import catalog  # the package: its tunables (SMALL) are read at call time

KINDS = {"model": 1, "dataset": 2, "space": 3}
PIPELINE = "\0p:"  # posting key prefix of pipeline tags (datasets and Spaces have no such tag)
NAMESPACE = "\0n:"  # posting key prefix of owners (author= and the private repos a reader may see)
INTERNAL = "\0"  # keys that are not tags (no facet counts them)


def _split(joined: str | None) -> list[str]:
    return joined.split("\n") if joined else []


# A per-slot sort column: an int64 ("q") or, for trending, a float64 ("d") array.
Column: TypeAlias = "array[Any]"


def _set_bit(bm: bytearray, s: int) -> None:
    bm[s >> 3] |= 1 << (s & 7)


def _clear_bit(bm: bytearray, s: int) -> None:
    bm[s >> 3] &= ~(1 << (s & 7)) & 0xFF


def _has(bm: Any, s: int) -> bool:
    return bool(bm[s >> 3] >> (s & 7) & 1)


def _view_ids(members: array[int]) -> pa.Array:
    """A zero-copy int64 view of a sorted slot array (used under the lock, dropped before any change)."""
    return pa.Array.from_buffers(pa.int64(), len(members), [None, pa.py_buffer(members)])


def _insort(members: array[int], s: int) -> None:
    i = bisect_left(members, s)
    if i == len(members) or members[i] != s:
        members.insert(i, s)


def _discard(members: array[int], s: int) -> None:
    i = bisect_left(members, s)
    if i < len(members) and members[i] == s:
        del members[i]


def _ids(joined: str) -> array[int]:
    """ "3,17,42" (a database's aggregate of ids) as a sorted array."""
    members = array("q", map(int, joined.split(",")))
    if any(a > b for a, b in itertools.pairwise(members)):
        members = array("q", sorted(members))
    return members


@dataclass
class Top:
    """The top share of one sort column: the repos whose value is at or above `threshold`."""

    threshold: float  # members: value >= threshold
    bits: bytearray
    count: int
    built: int  # the count when chosen: a drift by 3x either way chooses again


class Postings:
    """The per-slot columns and the posting lists of one catalog (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # state: held by every read and every apply
        self._reset(0)

    # ---- state ----------------------------------------------------------------------------------------
    def _reset(self, cap: int) -> None:
        cap = max(1024, (cap + 1023) // 1024 * 1024)
        self.cap = cap
        self.kind = bytearray(cap)
        self.private = bytearray(cap)
        self.rid: list[str | None] = [None] * cap
        self.namespace: list[str | None] = [None] * cap
        self.cols: dict[str, Column] = {
            "downloads": array("q", bytes(8 * cap)),
            "likes": array("q", bytes(8 * cap)),
            "updated": array("q", bytes(8 * cap)),
            "created": array("q", bytes(8 * cap)),
            "trending": array("d", bytes(8 * cap)),
        }
        self.pipeline: list[str | None] = [None] * cap
        self.library: list[str | None] = [None] * cap
        self.sdk: list[str | None] = [None] * cap
        self.tags: list[str] = [""] * cap  # "\n"-joined, as repos.tag_list (split when needed)
        # Posting lists: a bitmap per common key, a sorted array of slots per rare key and per namespace
        # (an array holds 8 bytes a slot; a set of ints about 60).
        self.bits: dict[str, bytearray] = {}
        self.sets: dict[str, array[int]] = {}
        self.public = {k: bytearray(cap // 8) for k in KINDS.values()}
        self.private_bits = {k: bytearray(cap // 8) for k in KINDS.values()}
        self.counts: dict[int, Counter[str]] = {k: Counter() for k in KINDS.values()}  # public repos' tags
        self._interned: dict[str, str] = {}
        self._arange: pa.Array | None = None
        # Per sort column, the repos at or above a threshold value (about 1/64th of all): the first pages
        # of a sorted listing are ranked among those only. None until first needed, and after drifting.
        self.top: dict[str, Top | None] = dict.fromkeys(self.cols)

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
            grown[: self.cap] = col
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
        return max(catalog.SMALL, self.cap // 256)

    def _post(self, key: str, s: int) -> None:
        if self._flip_bit(key, s, True):
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
        if self._flip_bit(key, s, False):
            return
        members = self.sets.get(key)
        if members is not None:
            _discard(members, s)
            if not members:
                del self.sets[key]

    def _flip_bit(self, key: str, s: int, on: bool) -> bool:
        """Set (on) or clear bit `s` of the key's postings if a bitmap holds them; False when they are a
        sorted array of slots (or there are none): the caller changes the array."""
        bm = self.bits.get(key)
        if bm is None:
            return False
        if on:
            _set_bit(bm, s)
        else:
            _clear_bit(bm, s)
        return True

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
        (
            s,
            k,
            ns,
            rid,
            private,
            downloads,
            likes,
            trending,
            created,
            updated,
            pipeline,
            library,
            sdk,
            joined,
        ) = row
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
        self._post(NAMESPACE + self.namespace[s], s)
        if private:
            _set_bit(self.private_bits[k], s)
        else:
            _set_bit(self.public[k], s)
            self.counts[k].update(tags)

    # ---- bulk loading (a load builds a fresh state with these) --------------------------------------------
    # The bulk loaders set many slots in tight loops: per-slot method calls cost more than the data.
    def _bulk_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        (
            ids,
            kinds,
            nss,
            rids,
            privs,
            downloads,
            likes,
            trending,
            created,
            updated,
            pipelines,
            libraries,
            sdks,
            tag_lists,
        ) = zip(*rows, strict=True)
        intern = {x: x for x in (*nss, *pipelines, *libraries)}
        intern.update((x, x) for x in self._interned)
        kind, private, rid, namespace = self.kind, self.private, self.rid, self.namespace
        for s, k, ns, r, priv in zip(ids, kinds, nss, rids, privs, strict=True):
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
        for name, values in (
            ("downloads", downloads),
            ("likes", likes),
            ("trending", trending),
            ("created", created),
            ("updated", updated),
        ):
            col = self.cols[name]
            for s, v in zip(ids, values, strict=True):
                col[s] = v or 0
        for target, values in ((self.pipeline, pipelines), (self.library, libraries)):
            for s, v in zip(ids, values, strict=True):
                target[s] = intern[v] if v else None
        for s, v in zip(ids, sdks, strict=True):
            self.sdk[s] = v
        self._interned.update((x, x) for x in intern if x)
        tags = self.tags
        for s, joined in zip(ids, tag_lists, strict=True):
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
        self._count_array_postings()
        self._count_bitmap_postings()

    def _count_array_postings(self) -> None:
        """Add the public repos of every array-held key (INTERNAL ones aside) to the facet counts."""
        kind, private = self.kind, self.private
        for key, members in self.sets.items():
            if key.startswith(INTERNAL):
                continue
            for s in members:
                if not private[s]:
                    self.counts[kind[s]][key] += 1

    def _count_bitmap_postings(self) -> None:
        """Set the facet counts of every bitmap-held key (INTERNAL ones aside), per kind of repo, with
        pyarrow: the AND of the key's bitmap with the kind's public repos."""
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

    # ---- zero-copy views (used under the lock, dropped before any change) ----------------------------------
    def _view(self, bm: bytearray) -> pa.BooleanArray:
        return pa.BooleanArray.from_buffers(pa.bool_(), self.cap, [None, pa.py_buffer(bm)])

    def _col(self, name: str) -> pa.Array:
        col = self.cols[name]
        return pa.Array.from_buffers(
            pa.float64() if col.typecode == "d" else pa.int64(), self.cap, [None, pa.py_buffer(col)]
        )

    def _slots_of(self, mask: pa.BooleanArray) -> pa.Array:
        if self._arange is None or len(self._arange) != self.cap:
            self._arange = pa.array(range(self.cap), pa.int64())
        return pc.filter(self._arange, mask)
