"""The listing catalog: every repo's listing fields in memory, one copy per server process.

Listings, counts and facets over a million repos must answer in milliseconds, and a B-tree walks too many
rows for a conjunction of broad tags ("en" and "fill-mask" each cover a tenth of the Hub). So each process
keeps, built from the database at start and kept current by the `index_log` change feed, the repos'
listing fields in columns, a posting list per tag, pipeline tag and owner, and the ids as one text. The
parts, one concept each, are the layers of one object, each using only the ones above it here:
- postings.py: the per-slot columns and the postings (a bitmap per common key, a sorted array of slots
  per rare key, owners as keys, a public and a private bitmap per type, the top share of each sort
  column), and how one repo's change or a bulk load updates them;
- idtext.py: the id text index, the lower-cased ids as one text that `search=` scans;
- query.py: the query algebra: postings combined by pyarrow, pages ranked (among the top share first)
  after a keyset cursor, counts, facets and their cache;
- feed.py: the change-feed follower: the load, and the `index_log` rows applied (gaps, a pruned log).

This module is the facade: `Catalog`, one per database (`of(engine)`, `for_session(s)`), the names its
callers use, and the tunables below. The parts read the tunables from this module when they run, so
setting one here (as the tests do) changes it for all of them.
"""

from __future__ import annotations

import threading
import weakref

import pyarrow as pa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .feed import STATE, Follower
from .postings import INTERNAL, KINDS, NAMESPACE, PIPELINE, Top
from .query import ALL, EPOCH, SORT_COLUMNS, Result, Where, iso

__all__ = [
    "Where",
    "ALL",
    "EPOCH",
    "GAP_WAIT",
    "INTERNAL",
    "KINDS",
    "NAMESPACE",
    "PIPELINE",
    "SMALL",
    "SORT_COLUMNS",
    "STATE",
    "TAGS_PER_REPO",
    "TOP_MIN",
    "TOP_SHARE",
    "Catalog",
    "Result",
    "Top",
    "for_session",
    "iso",
    "of",
]

pa.set_cpu_count(1)  # the kernels used here are small and serial; a pool only adds hand-offs between threads

GAP_WAIT = 120.0  # seconds a missing log sequence number is looked for again
SMALL = 4096  # rare keys become bitmaps above max(SMALL, capacity / 256) members
TOP_SHARE, TOP_MIN = 64, 256  # sorted listings first rank the top 1/64th (when that is 256 repos or more)
TAGS_PER_REPO = 400  # facets: reading one repo's tags costs about as much as looking up 400 rare postings


class Catalog(Follower):
    """The listing catalog of one database: `start`, `sync`, then `page`, `count`, `facets`, `summaries`,
    `sort_value`, `tags_of` (all under its own lock)."""


# ---- one catalog per database (db/session.py's flush hook feeds the log) -----------------------------------
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
