"""Streaming readers: one split's data files -> Arrow record batches, never a whole file in memory.

Each reader yields batches of bounded size (`block_size` bytes of input at a time); a row larger than a
block is an error that names the file, not an out-of-memory. Compressed inputs (.gz, .bz2, .zst, .xz,
.lz4) are decompressed as a stream; zip archives are read member by member through a guard that stops a
zip bomb (an expansion ratio and an absolute size limit).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from .discovery import AUDIO_EXT, IMAGE_EXT, METADATA_FILENAMES, module_extensions

COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz", ".lz4": "lz4"}


class DataError(Exception):
    """Bad input data; the message is shown on the split."""


@dataclass
class Limits:
    block_size: int = 16 * 1024 * 1024  # the largest row we accept, in bytes of input
    max_uncompressed: int = 8 * 1024**3  # per archive member or compressed stream
    max_ratio: int = 200  # a larger expansion than this is treated as a zip bomb
    batch_rows: int = 10_000


@dataclass
class Input:
    path: str  # repo path (names the file in errors)
    local: str  # where the bytes are on this machine


class _Guard(io.RawIOBase):
    """A raw stream that passes the bytes of `inner` through `_admit`, which may refuse them. The refusal
    is kept in `error` too: pyarrow's readers report it as a generic error, _guard_error finds it again."""

    inner: Any
    error: DataError | None

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.inner.read(len(b))
        n = len(data)
        self._admit(data)
        b[:n] = data
        return n

    def _admit(self, data: bytes) -> None:
        raise NotImplementedError

    def _refuse(self, message: str) -> NoReturn:
        self.error = DataError(message)
        raise self.error


class GuardedStream(_Guard):
    """A decompressing stream that refuses to expand past a size and a ratio (zip bombs)."""

    def __init__(self, inner: BinaryIO, compressed: int, limits: Limits, name: str) -> None:
        self.inner, self.compressed, self.limits, self.name = inner, max(compressed, 1), limits, name
        self.total = 0
        self.error = None

    def _admit(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self.limits.max_uncompressed:
            self._refuse(f"{self.name} expands to more than {self.limits.max_uncompressed} bytes: refused")
        if self.total > 64 * 1024 * 1024 and self.total > self.compressed * self.limits.max_ratio:
            self._refuse(
                f"{self.name} expands more than {self.limits.max_ratio}x "
                f"({self.compressed} compressed bytes): refused as a likely zip bomb"
            )


class LineGuard(_Guard):
    """Passes bytes through, failing once a line (a row, for text formats) grows past `limit` bytes.

    pyarrow's JSON reader grows its block to fit an oversized row, so without this one 2 GB line would be
    held in memory whole; here it stops at the limit with a message that names the file.
    """

    def __init__(self, inner: Any, limit: int | None, name: str) -> None:
        self.inner, self.limit, self.name = inner, limit, name
        self.run = 0
        self.error = None

    def _admit(self, data: bytes) -> None:
        n = len(data)
        if self.limit is not None and n:
            nl = data.find(b"\n")
            if nl == -1:
                self.run += n
            else:
                self.run += nl
                if self.run <= self.limit:
                    self.run = n - data.rfind(b"\n") - 1
            if self.run > self.limit:
                self._refuse(
                    f"{self.name}: a row is larger than {self.limit // 2**20} MB, the largest "
                    "row the viewer reads"
                )


def _suffixes(name: str) -> list[str]:
    return ["." + s.lower() for s in name.rsplit("/", 1)[-1].split(".")[1:]]


def open_stream(inp: Input, limits: Limits) -> io.BufferedReader:
    """The decompressed byte stream of one (non-zip) data file, behind the row-size guard."""
    import os

    sfx = _suffixes(inp.path)
    comp = COMPRESSION.get(sfx[-1]) if sfx else None
    raw: Any = open(inp.local, "rb", buffering=0)
    if comp is not None:
        raw = io.BufferedReader(
            GuardedStream(
                pa.input_stream(inp.local, compression=comp), os.path.getsize(inp.local), limits, inp.path
            ),
            1024 * 1024,
        )
    return io.BufferedReader(LineGuard(raw, limits.block_size, inp.path), 1024 * 1024)


def zip_members(inp: Input, module: str, limits: Limits) -> Iterator[tuple[str, io.BufferedReader]]:
    exts = module_extensions(module) - {".zip"}
    try:
        zf = zipfile.ZipFile(inp.local)
    except zipfile.BadZipFile as e:
        raise DataError(f"{inp.path} is not a valid zip archive: {e}") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not any(s in exts for s in _suffixes(info.filename)):
                continue
            name = f"{inp.path}::{info.filename}"
            if info.file_size > limits.max_uncompressed or (
                info.file_size > 64 * 1024 * 1024
                and info.file_size > max(info.compress_size, 1) * limits.max_ratio
            ):
                raise DataError(
                    f"{name} expands to {info.file_size} bytes from {info.compress_size}: refused as "
                    "a likely zip bomb"
                )
            with zf.open(info) as fh:
                inner = io.BufferedReader(GuardedStream(fh, info.compress_size, limits, name), 1024 * 1024)  # type: ignore[arg-type]
                yield name, io.BufferedReader(LineGuard(inner, limits.block_size, name), 1024 * 1024)


def streams(inputs: list[Input], module: str, limits: Limits) -> Iterator[tuple[str, io.BufferedReader]]:
    for inp in inputs:
        if _suffixes(inp.path)[-1:] == [".zip"]:
            yield from zip_members(inp, module, limits)
        else:
            with open_stream(inp, limits) as stream:
                yield inp.path, stream


def _guard_error(stream: Any) -> DataError | None:
    """Our own error, when it surfaced through pyarrow's reader as a generic one."""
    raw = getattr(stream, "raw", None)
    for _ in range(6):
        if raw is None:
            return None
        if getattr(raw, "error", None) is not None:
            return raw.error
        raw = getattr(raw, "inner", None)
        raw = getattr(raw, "raw", raw)
    return None


# ---- per format -----------------------------------------------------------------------------------------
def _explain(name: str, e: Exception, limits: Limits) -> DataError:
    msg = str(e).split("\n")[0]
    if "straddling" in msg or "block size" in msg.lower():
        return DataError(
            f"{name}: a row is larger than {limits.block_size // 2**20} MB, the largest row the "
            f"viewer reads ({msg})"
        )
    return DataError(f"{name}: {msg}")


def pieces(stream: Any, name: str, limits: Limits, quoted: bool) -> Iterator[bytes]:
    """The stream cut at record boundaries into pieces of about `block_size` bytes.

    We cut ourselves rather than use pyarrow's streaming readers: those read dozens of blocks ahead, so
    their memory grows to hundreds of MB whatever the block size. A newline ends a CSV record only outside
    quotes, i.e. where the count of `"` before it is even (quotes inside fields are doubled).
    """
    carry = b""
    while True:
        data = stream.read(limits.block_size)
        buf = carry + data if carry else data
        if not data:
            if buf.strip():
                yield buf
            return
        cut = buf.rfind(b"\n")
        if quoted:
            quotes = buf.count(b'"')
            while cut >= 0 and (quotes - buf.count(b'"', cut)) % 2:
                cut = buf.rfind(b"\n", 0, cut)
        if cut < 0:
            if len(buf) > limits.block_size * 2:
                raise DataError(
                    f"{name}: a row is larger than {limits.block_size // 2**20} MB, the largest row "
                    "the viewer reads"
                )
            carry = buf
            continue
        yield buf[: cut + 1]
        carry = buf[cut + 1 :]


def _settle(table: pa.Table) -> pa.Table:
    """Columns that were all null in the first piece become strings, so later pieces can fill them."""
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def read_csv(inputs: list[Input], kwargs: dict[str, Any], limits: Limits) -> Iterator[pa.RecordBatch]:
    sep = kwargs.get("sep") or kwargs.get("delimiter") or ","
    for name, stream in streams(inputs, "csv", limits):
        if name.endswith(".tsv") and "sep" not in kwargs:
            sep = "\t"
        parse = pacsv.ParseOptions(delimiter=sep, newlines_in_values=True)
        schema: pa.Schema | None = None
        try:
            for piece in pieces(stream, name, limits, quoted=True):
                big = pacsv.ReadOptions(block_size=len(piece) + 1)
                if schema is None:  # the first piece has the header and decides the column types
                    table = _settle(
                        pacsv.read_csv(pa.BufferReader(piece), read_options=big, parse_options=parse)
                    )
                    schema = table.schema
                else:
                    table = pacsv.read_csv(
                        pa.BufferReader(piece),
                        parse_options=parse,
                        read_options=pacsv.ReadOptions(column_names=schema.names, block_size=len(piece) + 1),
                        convert_options=pacsv.ConvertOptions(column_types=schema),
                    )
                yield from table.to_batches(max_chunksize=limits.batch_rows)
        except DataError:
            raise
        except Exception as e:  # pyarrow's errors, or ours surfacing through pyarrow
            raise (_guard_error(stream) or _explain(name, e, limits)) from None


def _json_array(name: str, stream: Any, kwargs: dict[str, Any], limits: Limits) -> Iterator[pa.RecordBatch]:
    data = stream.read(limits.block_size * 4 + 1)
    if len(data) > limits.block_size * 4:
        raise DataError(
            f"{name}: a JSON document (not JSON Lines) larger than {limits.block_size * 4 // 2**20} MB; "
            "use JSON Lines for large files"
        )
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise DataError(f"{name}: invalid JSON: {e}") from None
    field = kwargs.get("field")
    if field and isinstance(obj, dict):
        obj = obj.get(field)
    if isinstance(obj, dict) and all(isinstance(v, list) for v in obj.values()):
        table = pa.table(obj)
    elif isinstance(obj, list):
        table = pa.Table.from_pylist([x if isinstance(x, dict) else {"value": x} for x in obj])
    else:
        raise DataError(f"{name}: expected a list of objects or JSON Lines")
    yield from table.to_batches(max_chunksize=limits.batch_rows)


def read_json(inputs: list[Input], kwargs: dict[str, Any], limits: Limits) -> Iterator[pa.RecordBatch]:
    for name, stream in streams(inputs, "json", limits):
        first = stream.peek(64)[:64].lstrip()[:1]
        if first == b"[" or kwargs.get("field"):
            _line_guard(stream).limit = None  # one JSON document: bounded by _json_array's own cap
            yield from _json_array(name, stream, kwargs, limits)
            continue
        schema: pa.Schema | None = None
        try:
            for piece in pieces(stream, name, limits, quoted=False):  # JSON Lines: every newline ends a row
                big = pajson.ReadOptions(block_size=len(piece) + 1)
                if schema is None:
                    table = _settle(pajson.read_json(pa.BufferReader(piece), read_options=big))
                    schema = table.schema
                else:
                    table = pajson.read_json(
                        pa.BufferReader(piece),
                        read_options=big,
                        parse_options=pajson.ParseOptions(explicit_schema=schema),
                    )
                yield from table.to_batches(max_chunksize=limits.batch_rows)
        except DataError:
            raise
        except Exception as e:
            raise (_guard_error(stream) or _explain(name, e, limits)) from None


def _line_guard(stream: Any) -> LineGuard:
    raw = stream.raw
    assert isinstance(raw, LineGuard)
    return raw


def read_text(inputs: list[Input], kwargs: dict[str, Any], limits: Limits) -> Iterator[pa.RecordBatch]:
    for name, stream in streams(inputs, "text", limits):
        buf: list[str] = []
        size = 0
        while True:
            line = stream.readline(limits.block_size + 1)
            if not line:
                break
            if len(line) > limits.block_size:
                raise DataError(
                    f"{name}: a line is larger than {limits.block_size // 2**20} MB, the largest row "
                    "the viewer reads"
                )
            buf.append(line.decode("utf-8", "replace").rstrip("\r\n"))
            size += len(line)
            if len(buf) >= limits.batch_rows or size > limits.block_size:
                yield pa.record_batch({"text": pa.array(buf, pa.string())})
                buf, size = [], 0
        if buf:
            yield pa.record_batch({"text": pa.array(buf, pa.string())})


def read_parquet(inputs: list[Input], kwargs: dict[str, Any], limits: Limits) -> Iterator[pa.RecordBatch]:
    for inp in inputs:
        try:
            pf = pq.ParquetFile(inp.local)
            rows = max(1, min(limits.batch_rows, _rows_per_block(pf, limits)))
            yield from pf.iter_batches(batch_size=rows)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as e:
            raise DataError(f"{inp.path}: not a readable parquet file ({str(e).splitlines()[0]})") from None


def _rows_per_block(pf: pq.ParquetFile, limits: Limits) -> int:
    md = pf.metadata
    if md.num_rows == 0 or md.num_row_groups == 0:
        return limits.batch_rows
    per_row = max(1, sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups)) // md.num_rows)
    return max(1, limits.block_size // per_row)


def read_arrow(inputs: list[Input], kwargs: dict[str, Any], limits: Limits) -> Iterator[pa.RecordBatch]:
    for inp in inputs:
        try:
            with pa.memory_map(inp.local) as src:
                try:
                    reader: Any = pa.ipc.open_stream(src)
                    yield from reader
                except pa.ArrowInvalid:
                    src.seek(0)
                    f = pa.ipc.open_file(src)
                    for i in range(f.num_record_batches):
                        yield f.get_batch(i)
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(f"{inp.path}: not a readable Arrow file ({str(e).splitlines()[0]})") from None


def read_folder(
    inputs: list[Input], kwargs: dict[str, Any], limits: Limits, kind: str
) -> Iterator[pa.RecordBatch]:
    """Image or audio folders: one row per media file, joined with metadata.csv/jsonl/parquet by file_name."""
    exts = IMAGE_EXT if kind == "image" else AUDIO_EXT
    media = [i for i in inputs if any(s in exts for s in _suffixes(i.path)[-1:])]
    metas = [i for i in inputs if i.path.rsplit("/", 1)[-1] in METADATA_FILENAMES]
    meta_rows = _folder_metadata(metas, limits)
    labels = None if metas else _folder_labels(media)
    cols: dict[str, list[Any]] = {}
    size = 0
    for inp in media:
        data = _media_bytes(inp, limits)
        row: dict[str, Any] = {kind: {"bytes": data, "path": inp.path.rsplit("/", 1)[-1]}}
        if meta_rows:
            extra = meta_rows.get(inp.path)
            if extra is None:
                continue  # like datasets: files without metadata are skipped when metadata exists
            row.update(extra)
        elif labels is not None:
            row["label"] = labels.index(inp.path.rsplit("/", 2)[-2])
        for k, v in row.items():
            cols.setdefault(k, []).append(v)
        size += len(data)
        if size > limits.block_size or len(cols[kind]) >= 100:
            yield _folder_batch(cols, kind, labels)
            cols, size = {}, 0
    if cols:
        yield _folder_batch(cols, kind, labels)


def _folder_metadata(metas: list[Input], limits: Limits) -> dict[str, dict[str, Any]]:
    """Repo path of a media file -> its row in the metadata files (file_name is relative to their folder)."""
    meta_rows: dict[str, dict[str, Any]] = {}
    for m in metas:
        base = m.path.rsplit("/", 1)[0] + "/" if "/" in m.path else ""
        if m.path.endswith(".csv"):
            batches: Iterator[pa.RecordBatch] = read_csv([m], {}, limits)
        elif m.path.endswith(".jsonl"):
            batches = read_json([m], {}, limits)
        else:
            batches = read_parquet([m], {}, limits)
        for b in batches:
            for meta in b.to_pylist():
                fname = meta.pop("file_name", None)
                if isinstance(fname, str):
                    meta_rows[base + fname] = meta
                    if len(meta_rows) > 5_000_000:
                        raise DataError("metadata file has more than 5M rows")
    return meta_rows


def _folder_labels(media: list[Input]) -> list[str] | None:
    """The class names of a folder without metadata: the media files' parent folders, when there are
    several."""
    parents = {i.path.rsplit("/", 2)[-2] if i.path.count("/") >= 1 else "" for i in media}
    return sorted(parents) if len(parents) > 1 else None


def _media_bytes(inp: Input, limits: Limits) -> bytes:
    with open(inp.local, "rb") as fh:
        data = fh.read(limits.block_size * 4 + 1)
    if len(data) > limits.block_size * 4:
        raise DataError(f"{inp.path}: a media file larger than {limits.block_size * 4 // 2**20} MB")
    return data


def _folder_batch(cols: dict[str, list[Any]], kind: str, labels: list[str] | None) -> pa.RecordBatch:
    batch = pa.record_batch({k: pa.array(v) for k, v in cols.items()})
    # Tell features_of what datasets would call these columns: Image/Audio, and the folder ClassLabel.
    from .features import feature_of

    hf = {f.name: feature_of(f.type, f.name) for f in batch.schema}
    hf[kind] = {"_type": "Image" if kind == "image" else "Audio"}
    if labels is not None and "label" in hf:
        hf["label"] = {"names": labels, "_type": "ClassLabel"}
    return batch.replace_schema_metadata({b"huggingface": json.dumps({"info": {"features": hf}}).encode()})


def batches(
    module: str, inputs: list[Input], kwargs: dict[str, Any], limits: Limits
) -> Iterator[pa.RecordBatch]:
    if module == "zip":
        inner = _zip_module(inputs)
        module = inner
    if module == "csv":
        return read_csv(inputs, kwargs, limits)
    if module == "json":
        return read_json(inputs, kwargs, limits)
    if module == "text":
        return read_text(inputs, kwargs, limits)
    if module == "parquet":
        return read_parquet(inputs, kwargs, limits)
    if module == "arrow":
        return read_arrow(inputs, kwargs, limits)
    if module == "imagefolder":
        return read_folder(inputs, kwargs, limits, "image")
    if module == "audiofolder":
        return read_folder(inputs, kwargs, limits, "audio")
    raise DataError(f"The {module!r} format is not supported by this viewer")


def _zip_module(inputs: list[Input]) -> str:
    from .discovery import infer_module

    names: list[str] = []
    for inp in inputs:
        try:
            with zipfile.ZipFile(inp.local) as zf:
                names += [i.filename for i in zf.infolist()[:1000] if not i.is_dir()]
        except zipfile.BadZipFile as e:
            raise DataError(f"{inp.path} is not a valid zip archive: {e}") from None
    module, _ = infer_module(names)
    if module not in ("csv", "json", "text"):
        raise DataError(f"Zip archives holding {module or 'no data'} files are not supported by this viewer")
    return module
