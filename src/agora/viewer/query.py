"""Reading the converted parquet: row pages, full-text search, filters, statistics, media cells.

/rows reads only the row groups that hold the page (pyarrow, file metadata cached per shard); search and
filter run in DuckDB over the split's shards, with every user value bound as a parameter and every column
name checked against the schema (where.py), so no user text ever becomes SQL.
"""

from __future__ import annotations

import base64
import math
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .features import kind
from .where import compile_orderby, compile_where

MAX_CELL = 50_000  # characters of one text cell in a response; longer cells are cut and listed as truncated


@dataclass
class Shard:
    oid: str
    path: str
    num_rows: int


class _Cache:
    """Open ParquetFiles with their row-group offsets, by blob oid (immutable content, so never stale)."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self.items: OrderedDict[str, tuple[pq.ParquetFile, list[int]]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, oid: str, path: str) -> tuple[pq.ParquetFile, list[int]]:
        with self.lock:
            hit = self.items.get(oid)
            if hit is not None:
                self.items.move_to_end(oid)
                return hit
        pf = pq.ParquetFile(path, memory_map=True)
        starts = [0]
        for i in range(pf.metadata.num_row_groups):
            starts.append(starts[-1] + pf.metadata.row_group(i).num_rows)
        with self.lock:
            self.items[oid] = (pf, starts)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return pf, starts


CACHE = _Cache()


def read_rows(shards: list[Shard], offset: int, length: int) -> pa.Table:
    """Rows [offset, offset+length) of the split, reading only the row groups that hold them."""
    tables = []
    base = 0
    end = offset + length
    for sh in shards:
        lo, hi = base, base + sh.num_rows
        base = hi
        if hi <= offset or lo >= end:
            continue
        pf, starts = CACHE.get(sh.oid, sh.path)
        a, b = max(offset, lo) - lo, min(end, hi) - lo  # within this shard
        first = bisect_right(starts, a) - 1
        last = bisect_right(starts, b - 1) - 1
        t = pf.read_row_groups(list(range(first, last + 1)), use_threads=False)
        tables.append(t.slice(a - starts[first], b - a))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, bytes):
        return "base64:" + base64.b64encode(v[:1024]).decode() + ("…" if len(v) > 1024 else "")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def to_rows(
    table: pa.Table,
    features: dict[str, Any],
    first_idx: int | list[int],
    media_url: Callable[[int, str], str],
) -> list[dict[str, Any]]:
    """Hub-shaped rows: {row_idx, row, truncated_cells}; media cells become URLs, long text is cut."""
    out = []
    kinds = {name: kind(f) for name, f in features.items()}
    for i, row in enumerate(table.to_pylist()):
        idx = first_idx[i] if isinstance(first_idx, list) else first_idx + i
        truncated = []
        cells: dict[str, Any] = {}
        for name, v in row.items():
            k = kinds.get(name)
            if k == "image" and isinstance(v, dict):
                cells[name] = {"src": media_url(idx, name)} if v.get("bytes") or v.get("path") else None
            elif k == "audio" and isinstance(v, dict):
                cells[name] = (
                    [{"src": media_url(idx, name), "type": _audio_type(v.get("path"))}]
                    if v.get("bytes") or v.get("path")
                    else None
                )
            elif isinstance(v, str) and len(v) > MAX_CELL:
                cells[name] = v[:MAX_CELL]
                truncated.append(name)
            else:
                cells[name] = _jsonable(v)
        out.append({"row_idx": idx, "row": cells, "truncated_cells": truncated})
    return out


def _audio_type(path: Any) -> str:
    ext = str(path or "").rsplit(".", 1)[-1].lower()
    return {
        "mp3": "audio/mpeg",
        "flac": "audio/flac",
        "ogg": "audio/ogg",
        "opus": "audio/ogg",
        "m4a": "audio/mp4",
    }.get(ext, "audio/wav")


def media_bytes(shards: list[Shard], row: int, column: str) -> tuple[bytes, str] | None:
    t = read_rows(shards, row, 1)
    if t.num_rows == 0 or column not in t.column_names:
        return None
    v = t.column(column)[0].as_py()
    if not isinstance(v, dict) or not v.get("bytes"):
        return None
    return v["bytes"], str(v.get("path") or "")


# ---- DuckDB: search, filter, statistics -----------------------------------------------------------------
_DB: Any = None
_DB_LOCK = threading.Lock()
_TOTALS: OrderedDict[tuple[Any, ...], int] = OrderedDict()  # (shard oids, where, params) -> match count


def _connect() -> Any:
    """A cursor on the process's one in-memory DuckDB: opening a database costs ~100 ms, a cursor ~nothing,
    and the database keeps parquet metadata warm between requests."""
    global _DB
    with _DB_LOCK:
        if _DB is None:
            import duckdb

            _DB = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "1GB"})
        return _DB.cursor()


def _source(shards: list[Shard]) -> tuple[str, list[Any], dict[str, int]]:
    offsets: dict[str, int] = {}
    base = 0
    for sh in shards:
        offsets[sh.path] = base
        base += sh.num_rows
    return "read_parquet($files, filename=true, file_row_number=true)", [[sh.path for sh in shards]], offsets


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _query(
    shards: list[Shard], where_sql: str, params: list[Any], order_sql: str, offset: int, length: int
) -> tuple[pa.Table, list[int], int]:
    src, _, offsets = _source(shards)
    con = _connect()
    try:
        files = [sh.path for sh in shards]
        order = order_sql or "filename, file_row_number"
        named = {"files": files, **{f"p{i}": v for i, v in enumerate(params)}}
        key = (tuple(sh.oid for sh in shards), where_sql, repr(params))
        total = _TOTALS.get(key)
        if total is None:  # paging through one search or filter counts its matches once
            total = con.sql(f"SELECT count(*) FROM {src} WHERE {where_sql}", params=named).fetchall()[0][0]
            with _DB_LOCK:
                _TOTALS[key] = total
                while len(_TOTALS) > 1024:
                    _TOTALS.popitem(last=False)
        t = con.sql(
            f"SELECT * FROM {src} WHERE {where_sql} ORDER BY {order} LIMIT {int(length)} "
            f"OFFSET {int(offset)}",
            params=named,
        ).to_arrow_table()
    finally:
        con.close()
    idx = [
        offsets[f] + n
        for f, n in zip(
            t.column("filename").to_pylist(), t.column("file_row_number").to_pylist(), strict=True
        )
    ]
    t = t.drop_columns(["filename", "file_row_number"])
    return t, idx, int(total)


def search(
    shards: list[Shard], features: dict[str, Any], text: str, offset: int, length: int
) -> tuple[pa.Table, list[int], int]:
    """Rows where every word of `text` appears (case-insensitive) in some string column."""
    cols = [n for n, f in features.items() if kind(f) == "string"]
    words = [w for w in text.split() if w][:10]
    if not cols or not words:
        return pa.table({}), [], 0
    clauses, params = [], []
    for w in words:
        escaped = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
        ref = f"$p{len(params) - 1}"
        clauses.append("(" + " OR ".join(f"{_quote(c)} ILIKE {ref} ESCAPE '\\'" for c in cols) + ")")
    return _query(shards, " AND ".join(clauses), params, "", offset, length)


def filter_rows(
    shards: list[Shard], features: dict[str, Any], where: str, orderby: str, offset: int, length: int
) -> tuple[pa.Table, list[int], int]:
    columns = set(features)
    where_sql, params = compile_where(where, columns) if where.strip() else ("TRUE", [])
    order_sql = compile_orderby(orderby, columns) if orderby.strip() else ""
    if order_sql:
        order_sql += ", filename, file_row_number"
    return _query(shards, where_sql, params, order_sql, offset, length)


_STATS: OrderedDict[tuple[str, ...], list[dict[str, Any]]] = OrderedDict()  # shard oids -> statistics


def statistics(shards: list[Shard], features: dict[str, Any], num_rows: int) -> list[dict[str, Any]]:
    """Per column statistics in the Hub's shapes; computed once per converted split (its shards never change)."""
    key = tuple(sh.oid for sh in shards)
    with _DB_LOCK:
        hit = _STATS.get(key)
    if hit is not None:
        return hit
    out = _statistics(shards, features, num_rows)
    with _DB_LOCK:
        _STATS[key] = out
        while len(_STATS) > 256:
            _STATS.popitem(last=False)
    return out


def _statistics(shards: list[Shard], features: dict[str, Any], num_rows: int) -> list[dict[str, Any]]:
    """Per column statistics in the Hub's shapes (int/float, bool, class_label, string_label/text, list)."""
    src, _, _ = _source(shards)
    con = _connect()
    named = {"files": [sh.path for sh in shards]}
    n = max(num_rows, 1)
    out = []
    try:
        for name, f in features.items():
            got = _column_statistics(con, src, named, _quote(name), f)
            if got is None:
                continue
            column_type, nulls, stats = got
            out.append(
                {
                    "column_name": name,
                    "column_type": column_type,
                    "column_statistics": {"nan_count": nulls, "nan_proportion": round(nulls / n, 5), **stats},
                }
            )
    finally:
        con.close()
    return out


def _column_statistics(
    con: Any, src: str, named: dict[str, Any], q: str, f: Any
) -> tuple[str, int, dict[str, Any]] | None:
    """(column_type, null count, the rest of column_statistics) of one column; None for kinds without."""
    k = kind(f)
    if k == "class_label":
        rows = con.execute(f"SELECT {q}, count(*) FROM {src} GROUP BY 1", named).fetchall()
        names = f.get("names") or []
        nulls = sum(c for v, c in rows if v is None or v == -1)
        freqs = {
            names[v] if isinstance(v, int) and 0 <= v < len(names) else str(v): c
            for v, c in rows
            if v is not None and v != -1
        }
        return "class_label", nulls, _labels(freqs)
    if k == "number":
        is_int = str(f.get("dtype", "")).startswith(("int", "uint"))
        # NaN and infinities are left out of a float's figures (DuckDB orders NaN above every number: a NaN
        # maximum would make the histogram's bin width NaN)
        expr = q if is_int else f"CASE WHEN isfinite({q}) THEN {q} END"
        nulls, stats = _spread(con, src, named, q, expr, is_int)
        return ("int" if is_int else "float"), nulls, stats
    if k == "bool":
        rows = con.execute(f"SELECT {q}, count(*) FROM {src} GROUP BY 1", named).fetchall()
        nulls = sum(c for v, c in rows if v is None)
        return "bool", nulls, {"frequencies": {str(v): c for v, c in rows if v is not None}}
    if k == "string":
        distinct, nulls = con.execute(
            f"SELECT approx_count_distinct({q}), count(*) - count({q}) FROM {src}", named
        ).fetchone()
        if distinct <= 30:
            rows = con.execute(
                f"SELECT {q}, count(*) FROM {src} WHERE {q} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 30",
                named,
            ).fetchall()
            return "string_label", nulls, _labels(dict(rows))
        return "string_text", nulls, _spread(con, src, named, q, f"length({q})", True)[1]
    if k == "list":
        nulls, stats = _spread(con, src, named, q, f"len({q})", True)
        return "list", nulls, stats
    return None


def _labels(freqs: dict[str, int]) -> dict[str, Any]:
    """A labelled column's counts (class_label, string_label): every value is a label."""
    return {"no_label_count": 0, "no_label_proportion": 0.0, "n_unique": len(freqs), "frequencies": freqs}


def _spread(
    con: Any, src: str, named: dict[str, Any], q: str, expr: str, is_int: bool
) -> tuple[int, dict[str, Any]]:
    """Null count of column q, and min, max, mean, median, std and histogram of expr (q, or a length of q)."""
    mn, mx, mean, median, std, nulls = con.execute(
        f"SELECT min({expr}), max({expr}), avg({expr}), median({expr}), stddev_samp({expr}), "
        f"count(*) - count({q}) FROM {src}",
        named,
    ).fetchone()
    hist = _histogram(con, src, named, expr, mn, mx, is_int)
    return nulls, {
        "min": mn,
        "max": mx,
        "mean": _r(mean),
        "median": _r(median),
        "std": _r(std),
        "histogram": hist,
    }


def _r(v: Any) -> Any:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else round(v, 5)


def _histogram(
    con: Any, src: str, named: dict[str, Any], expr: str, mn: Any, mx: Any, is_int: bool
) -> dict[str, Any]:
    if mn is None or mx is None:
        return {"hist": [], "bin_edges": []}
    mn, mx = float(mn), float(mx)
    if mx == mn:
        return {
            "hist": [con.execute(f"SELECT count({expr}) FROM {src}", named).fetchone()[0]],
            "bin_edges": [_num(mn, is_int), _num(mx, is_int)],
        }
    bins = 10 if not is_int else int(min(10, mx - mn + 1))
    width = (mx - mn) / bins
    rows = con.execute(
        f"SELECT least(floor(({expr} - {mn!r}) / {width!r}), {bins - 1})::INTEGER AS b, count(*) "
        f"FROM {src} WHERE {expr} IS NOT NULL GROUP BY 1",
        named,
    ).fetchall()
    hist = [0] * bins
    for b, c in rows:
        hist[int(b)] += c
    edges = [_num(mn + i * width, is_int) for i in range(bins)] + [_num(mx, is_int)]
    return {"hist": hist, "bin_edges": edges}


def _num(v: float, is_int: bool) -> Any:
    return int(round(v)) if is_int else round(v, 5)
