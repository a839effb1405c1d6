"""Convert one split to parquet, in a child process: `python -m agora.viewer.convert < spec.json`.

The child reads the split's files with the `datasets` library's own builder (builders.py: the columns,
types and rows `load_dataset` gives), writes `NNNN.parquet` shards into `out_dir` and prints one JSON line:
rows, features, sizes, its peak RSS, or the error (with the Hub viewer's error code and its cause).
Running it as a child process is what bounds a job: the parent (viewer/pipeline.py run_child) kills it past
a memory or time limit, and a crash in a native reader (a corrupt file) takes down only the child, so only
that split shows an error.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .builders import BuildFailed, card_features, inferred_features, prepare, tables
from .features import features_of
from .readers import DataError, Input, Limits

SHARD_BYTES = 256 * 1024 * 1024  # the Hub keeps each converted file well under its own 5 GB LFS limit
ROW_GROUP_BYTES = 1024 * 1024  # small row groups: a /rows page decodes ~1 MB, not a whole shard
ROW_GROUP_ROWS = 10_000


def _unify(batch: pa.RecordBatch, schema: pa.Schema, name: str) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    if set(batch.schema.names) != set(schema.names):
        raise DataError(f"{name}: columns {batch.schema.names} differ from the first file's {schema.names}")
    try:
        return pa.RecordBatch.from_arrays(
            [batch.column(n).cast(schema.field(n).type) for n in schema.names], schema=schema
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise DataError(f"{name}: a column changes type between files or blocks ({e})") from None


class _ShardWriter:
    """The split's parquet shards in `out_dir`: row groups of about ROW_GROUP_BYTES / ROW_GROUP_ROWS, and a
    new `NNNN.parquet` file once one passes SHARD_BYTES. `schema` is set by the first batch."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.schema: pa.Schema | None = None
        self.shards: list[dict[str, Any]] = []
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.RecordBatch] = []
        self.pending_bytes = 0

    def add(self, batch: pa.RecordBatch) -> None:
        # Row groups of ~1 MB: a /rows page reads one or two of them, never a whole shard.
        per_row = max(1, batch.nbytes // batch.num_rows)
        step = max(1, min(batch.num_rows, ROW_GROUP_BYTES // per_row, ROW_GROUP_ROWS))
        for start in range(0, batch.num_rows, step):
            part = batch.slice(start, step)
            self.pending.append(part)
            self.pending_bytes += part.nbytes
            if (
                self.pending_bytes >= ROW_GROUP_BYTES
                or sum(p.num_rows for p in self.pending) >= ROW_GROUP_ROWS
            ):
                self.flush()

    def _open_shard(self) -> pq.ParquetWriter:
        path = self.out_dir / f"{len(self.shards):04d}.parquet"
        self.shards.append({"filename": path.name, "num_rows": 0})
        assert self.schema is not None
        return pq.ParquetWriter(str(path), self.schema, compression="zstd", write_page_index=True)

    def flush(self) -> None:
        """The pending rows as one row group."""
        if not self.pending:
            return
        if self.writer is None:
            self.writer = self._open_shard()
        table = pa.Table.from_batches(self.pending, schema=self.schema)
        self.writer.write_table(table, row_group_size=len(table))
        self.shards[-1]["num_rows"] += len(table)
        self.pending, self.pending_bytes = [], 0
        if (self.out_dir / self.shards[-1]["filename"]).stat().st_size > SHARD_BYTES:
            self.writer.close()
            self.writer = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _with_features(schema: pa.Schema, hf: Any) -> pa.Schema:
    """The schema, carrying the datasets features `hf` (when given) in its huggingface metadata."""
    return schema.with_metadata(
        {
            **(schema.metadata or {}),
            **({b"huggingface": json.dumps({"info": {"features": hf}}).encode()} if hf else {}),
        }
    )


def _rows(spec: dict[str, Any], out: _ShardWriter, limits: Limits) -> tuple[int, int]:
    """Write the split's rows into `out`: -> (rows, bytes in memory)."""
    out_dir = Path(spec["out_dir"])
    inputs = [Input(f["path"], f["local"]) for f in spec["files"]]
    kwargs = spec.get("kwargs", {})
    prepared = prepare(spec["module"], inputs, kwargs, out_dir / "in", limits)
    features = card_features(spec["card_features"]) if spec.get("card_features") else None
    if features is None and spec.get(
        "features_from"
    ):  # the config's first split decides the features (builders.py)
        first = [Input(f["path"], f["local"]) for f in spec["features_from"]]
        features = inferred_features(
            prepare(spec["module"], first, kwargs, out_dir / "in-first", limits), kwargs, out_dir / "cache"
        )
    rows = mem = 0
    for batch in tables(prepared, kwargs, out_dir / "cache", features):
        if out.schema is None:
            out.schema = _with_features(batch.schema, spec.get("hf_features"))
        batch = _unify(batch, out.schema, spec["split"])
        if batch.num_rows == 0:
            continue
        rows += batch.num_rows
        mem += batch.nbytes
        out.add(batch)
    out.flush()
    if out.schema is None:
        raise DataError("The split has no rows")
    return rows, mem


def convert(spec: dict[str, Any]) -> dict[str, Any]:
    limits = Limits(**spec.get("limits", {}))
    out_dir = Path(spec["out_dir"])
    started = time.monotonic()
    out = _ShardWriter(out_dir)
    rows = mem = 0
    error: dict[str, str] | None = None
    try:
        rows, mem = _rows(spec, out, limits)
    except BuildFailed as e:
        error = {"error": e.message, "code": e.code, "exception": e.cause_exception, "cause": e.cause_message}
    except DataError as e:  # refused by our own guards (a zip bomb, a row too large)
        error = {"error": str(e), "code": "DatasetGenerationError", "exception": "DataError", "cause": str(e)}
    except MemoryError:
        msg = "The split needs more memory than a conversion job may use"
        error = {"error": msg, "code": "DatasetGenerationError", "exception": "MemoryError", "cause": msg}
    finally:
        out.close()
        shutil.rmtree(out_dir / "in", ignore_errors=True)
        shutil.rmtree(out_dir / "in-first", ignore_errors=True)
        shutil.rmtree(out_dir / "cache", ignore_errors=True)
        shutil.rmtree(out_dir / "hf-home", ignore_errors=True)
    schema, shards = out.schema, out.shards
    for s in shards:
        s["size"] = (out_dir / s["filename"]).stat().st_size
    return {
        "split": spec["split"],
        "num_rows": rows if not error else 0,
        "num_bytes_memory": mem,
        "shards": [] if error else shards,
        "features": features_of(schema) if schema is not None and not error else None,
        "num_columns": len(schema.names) if schema is not None else 0,
        "error": error["error"] if error else None,
        "error_code": error["code"] if error else None,
        "cause_exception": error["exception"] if error else None,
        "cause_message": error["cause"] if error else None,
        "seconds": round(time.monotonic() - started, 3),
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux), so that a server killed with -9
    leaves no converter running; exit at once when the parent died already (before the request was in)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    if len(sys.argv) > 1:  # the pid of the server process that runs this conversion
        die_with_parent(int(sys.argv[1]))
    spec = json.loads(sys.stdin.read())
    # datasets only reads the job's own files: no network, and its caches stay in the job's folder.
    home = Path(spec["out_dir"]) / "hf-home"
    os.environ.update(
        {"HF_HOME": str(home), "HF_DATASETS_CACHE": str(home / "datasets"), "HF_HUB_OFFLINE": "1"}
    )
    os.environ.update({"HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"})
    # Arrow's default pool (jemalloc) keeps RSS flat here; the system pool measured ~2x higher.
    print(json.dumps(convert(spec)), flush=True)


if __name__ == "__main__":
    main()
