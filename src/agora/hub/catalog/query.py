"""The query algebra: which repos a listing query matches, in which order, how many, with which tags.

A query is a repo type, an audience (whose private repos the reader may see), an author, posting keys
and search terms. Every answer is computed from the postings under the lock:
- visibility: the type's public bitmap, with its private one for an admin, or with the private repos
  of the audience's namespaces (from the owners' postings);
- matching: the bitmaps of common keys are and-ed by pyarrow over zero-copy views; when a key is rare,
  its sorted array drives and the other keys are checked at its slots only; search terms scan the id
  text (idtext.py), or the ids of the few slots a rare key left;
- order and cursor: without sort, slots highest first, the mask scanned down from the cursor's slot in
  growing blocks; with sort, (value, slot) descending after the cursor's (value, slot) (keyset: each repo
  once), ranked first among the column's top share (about 1/TOP_SHARE of the repos: a full page there
  is the page, since all others rank below);
- counts, and facets: exact tag counts over the matches, by reading the matches' tags or by and-ing
  every common key's bitmap and one lookup of all rare postings, whichever costs less (TAGS_PER_REPO);
  cached until `tags_version` moves (the follower bumps it when tags, visibility or membership change);
- the default fields of a listing entry, from the columns.
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from .. import catalog  # the package: its tunables (TOP_SHARE, TOP_MIN, TAGS_PER_REPO) are read at call time
from .idtext import IdText
from .postings import INTERNAL, KINDS, NAMESPACE, Top, _has, _set_bit, _split, _view_ids

SORT_COLUMNS = {
    "downloads": "downloads",
    "likes": "likes",
    "lastModified": "updated",
    "createdAt": "created",
    "trendingScore": "trending",
}
EPOCH = datetime(1970, 1, 1)

# Audience: None = anonymous, ALL = an admin, else the namespaces whose private repos the user may see.
ALL = frozenset({"\0all"})


def iso(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds") + "Z"


class Where(NamedTuple):
    """Which repos a listing, count or facet query is over: a type, seen by `audience`, owned by `author`
    (None: anyone), with every posting key (tags, pipeline) and every search term in the id."""

    rtype: str
    audience: frozenset[str] | None
    author: str | None
    keys: list[str]
    terms: list[str]


@dataclass
class Result:
    """The repos matching a query: a boolean mask over slots (broad queries) or a list of slots."""

    mask: pa.BooleanArray | None = None
    slots: list[int] | None = None


class Query(IdText):
    """Listing queries over the postings and the id text (callers hold no lock; each query takes it)."""

    def __init__(self) -> None:
        self.tags_version = 0  # bumps when tags, visibility or membership change (keys facet caches)
        self._facets: dict[tuple[Any, ...], Counter[str]] = {}
        super().__init__()

    def _reset(self, cap: int) -> None:
        super()._reset(cap)
        self._rare_postings: tuple[int, pa.Array, pa.Array, list[str]] | None = None

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

    def _match(self, where: Where, ordered: bool) -> Result | Iterator[int]:
        """The repos `where` selects. With `ordered` and a search over a broad set, an iterator of slots
        highest first (a listing without sort stops after a page instead of finding every match)."""
        rtype, audience, author, keys, terms = where
        k = KINDS[rtype]
        if author is not None:
            keys = [*keys, NAMESPACE + author]
        postings = self._postings_of(keys)
        if postings is None:
            return Result(slots=[])
        dense, rare = postings
        terms = sorted({t.lower() for t in terms if t.strip()}, key=len, reverse=True)
        base = self._visible(k, audience)
        if rare:
            return self._match_rare(base, dense, rare, terms)
        mask = base
        for bm in dense:
            mask = pc.and_(mask, self._view(bm))
        if not terms:
            return Result(mask=mask)
        bits, off = memoryview(mask.buffers()[1]), mask.offset
        found = (s for s in self._search_desc(terms, None) if _has(bits, s + off))
        if ordered:
            return found
        return Result(slots=list(found))

    def _postings_of(self, keys: list[str]) -> tuple[list[bytearray], list[array[int]]] | None:
        """The postings of each distinct key: (bitmaps, sorted arrays); None when a key has none (nothing
        matches)."""
        dense: list[bytearray] = []
        rare: list[array[int]] = []
        for key in dict.fromkeys(keys):
            if key in self.bits:
                dense.append(self.bits[key])
            elif key in self.sets:
                rare.append(self.sets[key])
            else:
                return None
        return dense, rare

    def _match_rare(
        self, base: pa.BooleanArray, dense: list[bytearray], rare: list[array[int]], terms: list[str]
    ) -> Result:
        """The slots of `base` in every posting and whose id holds every term, when a key is rare: the
        shortest array drives, its members are checked against the rest by pyarrow."""
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
            out = [s for s in out if all(t in rid[s].lower() for t in terms)]
        return Result(slots=out)

    def _ranked(self, cands: Any, col: str, cursor: Any, n: int) -> list[int]:
        """The first n of `cands` (a list or an int64 array of slots) by (col desc, slot desc) after
        `cursor`."""
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
        top = pc.select_k_unstable(
            table, k=min(n, len(table)), sort_keys=[("v", "descending"), ("s", "descending")]
        )
        return table.column("s").take(top).to_pylist()  # type: ignore[no-any-return]

    def page(self, where: Where, sort: str | None, cursor: Any, n: int) -> list[int]:
        """n slots in listing order: by `sort` (then id) descending, or by id descending; after `cursor`."""
        with self.lock:
            found = self._match(where, ordered=sort is None)
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
        if top is not None and top.built // 3 <= top.count <= max(top.built, catalog.TOP_MIN) * 3:
            return top
        present = pc.not_equal(
            pa.Array.from_buffers(pa.uint8(), self.cap, [None, pa.py_buffer(self.kind)]), 0
        )
        values = pc.filter(self._col(col), present)
        target = len(values) // catalog.TOP_SHARE
        if target < catalog.TOP_MIN:
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

    def count(self, where: Where) -> int:
        with self.lock:
            found = self._match(where, ordered=False)
            assert isinstance(found, Result)
            if found.mask is not None:
                return int(pc.sum(found.mask).as_py() or 0)
            return len(found.slots or [])

    def facets(self, where: Where) -> Counter[str]:
        """Counts per tag over the matching repos. Exact; cached until a tag, visibility or repo changes."""
        rtype, audience, author, keys, terms = where
        key = (self.tags_version, rtype, audience, author, tuple(keys), tuple(terms))
        hit = self._facets.get(key)
        if hit is not None:
            return hit
        with self.lock:
            k = KINDS[rtype]
            if not keys and author is None and not terms and audience is None:  # maintained counts
                out = Counter(self.counts[k])
            else:
                found = self._match(where, ordered=False)
                assert isinstance(found, Result)
                if found.slots is not None:
                    tags = self.tags
                    out = Counter(
                        itertools.chain.from_iterable(tags[s].split("\n") for s in found.slots if tags[s])
                    )
                else:
                    mask = found.mask
                    size = pc.sum(mask).as_py() or 0
                    _, members, which, keys = self._rare_index()
                    if size * catalog.TAGS_PER_REPO <= len(members):  # fewer tags to read than rare postings
                        tags = self.tags
                        out = Counter(
                            itertools.chain.from_iterable(
                                t.split("\n")
                                for t in map(tags.__getitem__, self._slots_of(mask).to_pylist())
                                if t
                            )
                        )
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
            members = (
                pa.concat_arrays([_view_ids(self.sets[t]) for t in keys])
                if keys
                else pa.array([], pa.int64())
            )
            which = array("i")
            for i, t in enumerate(keys):
                which.extend(array("i", [i]) * len(self.sets[t]))
            which_col = pa.Array.from_buffers(pa.int32(), len(which), [None, pa.py_buffer(which)])
            got = self._rare_postings = (self.tags_version, members, which_col, keys)
        return got

    def summaries(self, slots: list[int]) -> list[dict[str, Any]]:
        with self.lock:
            return [self._summary(s) for s in slots]

    def _summary(self, s: int) -> dict[str, Any]:
        """The default fields of a listing entry, as repo_json gives them, from memory."""
        rid = self.rid[s]
        cols = self.cols
        d: dict[str, Any] = {
            "_id": f"{s:024x}",
            "id": rid,
            "likes": cols["likes"][s],
            "downloads": cols["downloads"][s],
            "trendingScore": cols["trending"][s],
            "private": bool(self.private[s]),
            "tags": _split(self.tags[s]),
            "createdAt": iso(cols["created"][s]),
        }
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
