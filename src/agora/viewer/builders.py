"""One split read by the `datasets` library's own packaged builder (csv, json, text, parquet, arrow,
imagefolder, audiofolder), in the conversion child: the columns, types and rows are the ones
`load_dataset` gives, as on the Hub, whose dataset viewer converts with `datasets` too.

Before the builder sees them, the split's files are laid out in the job's folder under names we choose
(`prepare`): compressed files and zip members are decompressed through the guards of readers.py (a zip
bomb is refused by its expansion ratio and size), text files are scanned once for a row larger than the
block size (so one 2 GB line is an error that names the file, not an out-of-memory kill), and media
folders keep their repo layout (class folders, `metadata.*` beside the files). Then `download_and_prepare`
writes the builder's Arrow files into the job's folder, read back batch by batch (`tables`); the parent
turns them into the parquet shards.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .discovery import FOLDER_MODULES, infer_module
from .readers import COMPRESSION, DataError, Input, Limits, LineGuard, _suffixes, open_stream, zip_members

_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,16}$")


@dataclass
class Prepared:
    """The split's files as the builder reads them, and which repo path each one stands for."""

    module: str
    files: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # local path -> repo path (for messages)

    def repo_paths(self, text: str) -> str:
        """`text` with the local paths of the job's folder replaced by the repo paths they stand for."""
        for local in sorted(self.names, key=len, reverse=True):
            text = text.replace(local, self.names[local])
        return text


def _format_suffix(name: str) -> str:
    """The last suffix of `name` that is not a compression's, when it is a plain one (".csv")."""
    sfx = [s for s in _suffixes(name) if s not in COMPRESSION]
    return sfx[-1] if sfx and _SAFE_SUFFIX.match(sfx[-1]) else ""


def _copy_guarded(stream: Any, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)


def _scan(stream: Any) -> None:
    """Read the stream to its end through its guards (a row larger than the block size is an error)."""
    while stream.read(1024 * 1024):
        pass


def _open_checked(inp: Input, module: str, kwargs: dict[str, Any], limits: Limits) -> Any:
    """The file's decompressed stream behind the row-size guard, which only text formats read by rows keep
    (a JSON document, `[...]` or read by `field`, is one value: datasets loads it whole)."""
    stream = open_stream(inp, limits)
    rows = module in ("csv", "json", "text")
    if not rows or (module == "json" and (kwargs.get("field") or stream.peek(64)[:64].lstrip()[:1] == b"[")):
        guard = stream.raw
        assert isinstance(guard, LineGuard)
        guard.limit = None
    return stream


def prepare(module: str, inputs: list[Input], kwargs: dict[str, Any], work: Path, limits: Limits) -> Prepared:
    """Lay out the split's files in `work` for the builder of `module` ("zip": the archives' own format)."""
    if module == "zip":
        module = _zip_module(inputs)
    out = Prepared(module)
    folder = module in FOLDER_MODULES
    for i, inp in enumerate(inputs):
        if _suffixes(inp.path)[-1:] == [".zip"]:
            for j, (name, stream) in enumerate(zip_members(inp, module, limits)):
                dest = work / f"{i:05d}-{j:05d}{_format_suffix(name)}"
                _copy_guarded(stream, dest)
                out.files.append(str(dest))
                out.names[str(dest)] = name
            continue
        compressed = any(s in COMPRESSION for s in _suffixes(inp.path)[-1:])
        dest = work / (inp.path if folder else f"{i:05d}{_format_suffix(inp.path)}")
        if compressed:  # decompressed here, through the zip-bomb and row-size guards
            with _open_checked(inp, module, kwargs, limits) as stream:
                _copy_guarded(stream, dest)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(inp.local, dest)
            if module in ("csv", "json", "text"):
                with _open_checked(inp, module, kwargs, limits) as stream:
                    _scan(stream)
        out.files.append(str(dest))
        out.names[str(dest)] = inp.path
    return out


def _zip_module(inputs: list[Input]) -> str:
    import zipfile

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


def builder_kwargs(module: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The card config's kwargs that the builder's config takes (datasets ignores the others the same way)."""
    from datasets.load import import_main_class
    from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

    cls = import_main_class(_PACKAGED_DATASETS_MODULES[module][0])
    assert cls is not None
    config_cls = cls.BUILDER_CONFIG_CLASS
    skip = {"name", "version", "data_dir", "data_files", "description", "features"}
    return {k: v for k, v in kwargs.items() if hasattr(config_cls, k) and k not in skip}


class _Failures(logging.Handler):
    """The datasets builders log the file they failed on before raising: keep those lines."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _quiet() -> Any:
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def card_features(declared: Any) -> Any:
    """The card's `dataset_info.features` (YAML list form) as datasets `Features`; None when datasets
    cannot read them (the builder then infers its own)."""
    datasets = _quiet()
    try:
        return datasets.DatasetInfo._from_yaml_dict({"features": declared}).features
    except Exception:
        return None


def inferred_features(prepared: Prepared, kwargs: dict[str, Any], cache: Path) -> Any:
    """The features the builder infers from these files (the config's first split's first file): what
    datasets casts every split of the config to, for the json, parquet and arrow builders. None when it
    infers none (or cannot: the split itself then says why)."""
    datasets = _quiet()
    try:
        builder = datasets.load_dataset_builder(
            prepared.module,
            data_files={"train": prepared.files},
            cache_dir=str(cache),
            **builder_kwargs(prepared.module, kwargs),
        )
        return builder.as_streaming_dataset(split="train").features
    except Exception:
        return None


def tables(
    prepared: Prepared, kwargs: dict[str, Any], cache: Path, features: Any = None
) -> Iterator[pa.RecordBatch]:
    """The split's rows as the builder generates them: `download_and_prepare` into `cache`, then its Arrow
    files read batch by batch (not memory-mapped: mapped pages would count in the child's RSS). Media
    columns get their files' bytes embedded, as the Hub's parquet export has them."""
    from datasets.table import embed_table_storage

    datasets = _quiet()
    if prepared.module == "audiofolder":
        _audio_paths_without_torchcodec()
    failures = _Failures()
    logging.getLogger("datasets").addHandler(failures)
    try:
        builder = datasets.load_dataset_builder(
            prepared.module,
            data_files={"train": prepared.files},
            cache_dir=str(cache),
            **({"features": features} if features is not None else {}),
            **builder_kwargs(prepared.module, kwargs),
        )
        builder.download_and_prepare(num_proc=None)
    except Exception as e:
        raise BuildFailed.of(e, prepared, failures.lines) from None
    finally:
        logging.getLogger("datasets").removeHandler(failures)
    media = prepared.module in FOLDER_MODULES
    for path in sorted(Path(builder.cache_dir).glob("*-train*.arrow")):
        with pa.OSFile(str(path)) as src:
            for batch in pa.ipc.open_stream(src):
                yield embed_table_storage(pa.Table.from_batches([batch])).to_batches()[0] if media else batch
        path.unlink()


def _audio_paths_without_torchcodec() -> None:
    """datasets 5.2's `Audio.encode_example` imports torch and torchcodec before anything else, though a
    file path or bytes (all an audio folder yields) are stored as they are, `{bytes, path}`, without them.
    The server has no torchcodec (the Hub's viewer decodes audio to show it; this one serves the files), so
    the child stores those two cases itself and leaves every other value to datasets."""
    from datasets.features.audio import Audio

    encode = Audio.encode_example
    if getattr(encode, "agora_paths", False):
        return

    def encode_example(self: Any, value: Any) -> Any:
        if isinstance(value, (str, Path)):
            return {"bytes": None, "path": str(Path(value).absolute()) if isinstance(value, Path) else value}
        if isinstance(value, (bytes, bytearray)):
            return {"bytes": value, "path": None}
        return encode(self, value)

    encode_example.agora_paths = True  # type: ignore[attr-defined]
    Audio.encode_example = encode_example


class BuildFailed(Exception):
    """The builder could not generate the split: the Hub viewer's error code and the cause."""

    def __init__(self, message: str, code: str, cause_exception: str, cause_message: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code
        self.cause_exception, self.cause_message = cause_exception, cause_message

    @classmethod
    def of(cls, e: Exception, prepared: Prepared, logged: list[str]) -> BuildFailed:
        from datasets.data_files import EmptyDatasetError
        from datasets.exceptions import (
            DataFilesNotFoundError,
            DatasetGenerationCastError,
            DatasetGenerationError,
        )

        code, cause = "DatasetGenerationError", e
        if isinstance(e, DatasetGenerationCastError):
            code = "DatasetGenerationCastError"
        elif isinstance(e, (EmptyDatasetError, DataFilesNotFoundError)):
            code = "EmptyDatasetError"
        elif isinstance(e, DatasetGenerationError):  # the builder's own error wraps the reader's
            cause = e.__cause__ or e.__context__ or e
        cause_message = prepared.repo_paths(str(cause).strip())
        where = next(
            (repo for line in logged for local, repo in prepared.names.items() if local in line), None
        )
        if where is None:
            where = next((repo for repo in prepared.names.values() if repo in cause_message), None)
        detail = cause_message.splitlines()[0] if cause_message else type(cause).__name__
        message = f"{where}: {detail}" if where and where not in detail else detail
        return cls(message[:2000], code, type(cause).__name__, cause_message[:4000])
