"""Configs and splits of a dataset repo, resolved the way datasets 5.2 `load_dataset` resolves them.

Input: the file paths of one commit and its README card data. Output: the configs (in README order), each
with its splits and their data files, the builder module ("csv", "parquet", "imagefolder", ...) and the
builder kwargs. The rules (datasets/data_files.py, datasets/load.py, utils/metadata.py):
- README `configs:` ({config_name, data_files?, data_dir?, default?, <builder kwargs>}): data_files is a
  str, a list of str, or [{split, path: str | list}], relative to data_dir when given. A config with only
  data_dir gets the default patterns below, applied inside data_dir.
- otherwise one config "default" whose splits come from the first pattern family that matches anything:
  `data/{split}-NNNNN-of-NNNNN*.*`, then `**/*.eval` (logs), harbor task files, split keywords in directory
  names, split keywords in file names, and finally everything as "train".
- globbing is fsspec's (>= 2023.12): `*` stays in a path segment, `**` spans segments; hidden files, `__*`
  directories and a few metadata file names are skipped unless the pattern names them.
- the module (the most common extension, ties going to parquet) is inferred per config, from that config's
  own files, so a repo whose subsets mix formats (one CSV, one Parquet, one JSON Lines) shows each with its
  own reader. datasets 5.2's `load_dataset(repo, config)` infers it once, from the first config, and reads
  the other configs with that module; `load_dataset("<module>", data_files=...)` reads them as shown here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

SPLIT_KEYWORDS = {
    "train": ["train", "training"],
    "validation": ["validation", "valid", "dev", "val"],
    "test": ["test", "testing", "eval", "evaluation"],
}
SEP = "-._ 0-9"
SHARDED = "data/{split}-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]*.*"
IN_FILENAME = ["**/{keyword}[{sep}]*", "**/*[{sep}]{keyword}[{sep}]*"]
IN_DIRNAME = [
    "**/{keyword}/**",
    "**/{keyword}[{sep}]*/**",
    "**/*[{sep}]{keyword}/**",
    "**/*[{sep}]{keyword}[{sep}]*/**",
]
FILES_TO_IGNORE = {
    "README.md",
    "config.json",
    "dataset_info.json",
    "dataset_infos.json",
    "dummy_data.zip",
    "dataset_dict.json",
}
SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")

IMAGE_EXT = {
    ".apng",
    ".avif",
    ".bmp",
    ".gif",
    ".ico",
    ".jpeg",
    ".jpg",
    ".png",
    ".tif",
    ".tiff",
    ".webp",
    ".jfif",
    ".pbm",
    ".pgm",
    ".ppm",
    ".pcx",
    ".tga",
    ".xbm",
    ".jp2",
    ".j2k",
    ".heic",
    ".heif",
}
AUDIO_EXT = {
    ".aiff",
    ".au",
    ".avr",
    ".caf",
    ".flac",
    ".htk",
    ".svx",
    ".mat4",
    ".mat5",
    ".mpc2k",
    ".ogg",
    ".paf",
    ".pvf",
    ".raw",
    ".rf64",
    ".sd2",
    ".sds",
    ".ircam",
    ".voc",
    ".w64",
    ".wav",
    ".nist",
    ".wavex",
    ".wve",
    ".xi",
    ".mp3",
    ".opus",
    ".3gp",
    ".3g2",
    ".avi",
    ".asf",
    ".flv",
    ".mp4",
    ".mov",
    ".m4v",
    ".mkv",
    ".webm",
    ".f4v",
    ".wmv",
    ".wma",
    ".ogm",
    ".mxf",
    ".nut",
    ".aac",
    ".m4a",
}
EXTENSION_TO_MODULE: dict[str, tuple[str, dict[str, Any]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {}),
    ".ndjson": ("json", {}),
    ".parquet": ("parquet", {}),
    ".geoparquet": ("parquet", {}),
    ".gpq": ("parquet", {}),
    ".arrow": ("arrow", {}),
    ".txt": ("text", {}),
    ".conll": ("conll", {}),
    ".conllu": ("conll", {}),
    ".tar": ("webdataset", {}),
    ".xml": ("xml", {}),
    ".hdf5": ("hdf5", {}),
    ".h5": ("hdf5", {}),
    ".eval": ("eval", {}),
    ".toml": ("harbor", {}),
    ".md": ("harbor", {}),
    ".lance": ("lance", {}),
    ".vortex": ("vortex", {}),
    ".fa": ("fasta", {}),
    ".fasta": ("fasta", {}),
    ".fq": ("fastq", {}),
    ".fastq": ("fastq", {}),
    ".pdf": ("pdffolder", {}),
    **{e: ("imagefolder", {}) for e in IMAGE_EXT},
    **{e: ("audiofolder", {}) for e in AUDIO_EXT},
}
EXTENSION_TO_MODULE.update(
    {k.upper(): v for k, v in list(EXTENSION_TO_MODULE.items()) if v[0] in ("imagefolder", "audiofolder")}
)
METADATA_FILENAMES = {"metadata.csv", "metadata.jsonl", "metadata.parquet"}
FOLDER_MODULES = {"imagefolder", "audiofolder"}
ALLOWED_EXTENSIONS = set(EXTENSION_TO_MODULE) | {".zip"}
# What this viewer can convert; other modules are listed with an error on each split.
SUPPORTED = {"csv", "json", "parquet", "arrow", "text", "imagefolder", "audiofolder"}


NO_DATA = "No supported data file found (csv, tsv, json, jsonl, parquet, arrow, txt, images, audio)"


class DiscoveryError(Exception):
    """The repo's layout or README configs cannot be resolved; the message says what to fix."""


@dataclass
class SplitSpec:
    name: str
    files: list[str]  # repo paths
    error: str | None = None


@dataclass
class ConfigSpec:
    name: str
    splits: list[SplitSpec]
    module: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    default: bool = False
    error: str | None = None


# ---- globbing ---------------------------------------------------------------------------------------
@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """fsspec glob semantics: `**` as a whole segment spans zero or more segments; `*`, `?`, `[..]` stay in one."""
    parts = pattern.strip("/").split("/")
    out = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out += ".*" if last else "(?:[^/]+/)*"
            continue
        seg = ""
        j = 0
        while j < len(part):
            c = part[j]
            if c == "*":
                while j + 1 < len(part) and part[j + 1] == "*":
                    j += 1
                seg += "[^/]*"
            elif c == "?":
                seg += "[^/]"
            elif c == "[":
                end = part.find("]", j + 2 if j + 1 < len(part) and part[j + 1] in "!^" else j + 1)
                if end == -1:
                    seg += re.escape(c)
                else:
                    body = part[j + 1 : end]
                    if body[:1] in ("!", "^"):
                        body = "^" + body[1:]
                    seg += "[" + body.replace("\\", "\\\\") + "]"
                    j = end
            else:
                seg += re.escape(c)
            j += 1
        out += seg + ("" if last else "/")
    return re.compile(f"^{out}$")


def _hidden_parts(path: str) -> int:
    return sum(1 for p in path.split("/") if p.startswith(".") and set(p) != {"."})


def _special_dirs(path: str) -> int:
    return sum(1 for p in path.split("/")[:-1] if p.startswith("__"))


def resolve(pattern: str, files: list[str], base: str = "", allowed: set[str] | None = None) -> list[str]:
    """Repo paths under `base` matching `pattern` (relative to base), with the client's exclusions."""
    prefix = f"{base.strip('/')}/" if base.strip("/") else ""
    rx = glob_regex(pattern)
    pat_base = pattern.rsplit("/", 1)[-1]
    ignore = FILES_TO_IGNORE - {pat_base}
    out = []
    for path in files:
        if prefix and not path.startswith(prefix):
            continue
        rel = path[len(prefix) :]
        if not rx.match(rel):
            continue
        name = rel.rsplit("/", 1)[-1]
        if name in ignore:
            continue
        if _special_dirs(rel) != _special_dirs(pattern) or _hidden_parts(rel) != _hidden_parts(pattern):
            continue
        if allowed is not None and not any("." + sfx in allowed for sfx in name.split(".")[1:]):
            continue
        out.append(path)
    return sorted(out)


def default_patterns(files: list[str], base: str = "") -> dict[str, list[str]]:
    """The first family of split patterns that matches anything (datasets' `get_data_patterns`)."""
    sharded = resolve(SHARDED.replace("{split}", "*"), files, base)
    if sharded:
        splits = set()
        rx = re.compile(r"^(.*?)-[0-9]{5}-of-[0-9]{5}")
        for p in sharded:
            m = rx.match(p.rsplit("/", 1)[-1])
            if m:
                splits.add(m.group(1))
        bad = [s for s in splits if not SPLIT_NAME.match(s)]
        if bad:
            raise DiscoveryError(f"Split names must match {SPLIT_NAME.pattern!r}, got {sorted(bad)} in data/")
        order = [s for s in SPLIT_KEYWORDS if s in splits] + sorted(splits - set(SPLIT_KEYWORDS))
        return {s: [SHARDED.replace("{split}", s)] for s in order}
    families: list[dict[str, list[str]]] = [
        {"logs": ["**/*.eval"]},
        {"test": ["**/task.toml", "**/instruction.md"]},
        {
            s: [p.format(keyword=k, sep=SEP) for k in kws for p in IN_DIRNAME]
            for s, kws in SPLIT_KEYWORDS.items()
        },
        {
            s: [p.format(keyword=k, sep=SEP) for k in kws for p in IN_FILENAME]
            for s, kws in SPLIT_KEYWORDS.items()
        },
        {"train": ["**"]},
    ]
    for family in families:
        found = {s: pats for s, pats in family.items() if any(resolve(p, files, base) for p in pats)}
        if found:
            return found
    raise DiscoveryError("The repository has no data files")


def sanitize(data_files: Any) -> dict[str, list[str]]:
    """README `data_files` (str | list[str] | list[{split, path}] | dict) -> {split: [patterns]}."""
    if isinstance(data_files, str):
        return {"train": [data_files]}
    if isinstance(data_files, dict):
        return {str(k): v if isinstance(v, list) else [v] for k, v in data_files.items()}
    if isinstance(data_files, list):
        if any(isinstance(x, dict) for x in data_files):
            out: dict[str, list[str]] = {}
            for x in data_files:
                if not (
                    isinstance(x, dict)
                    and "split" in x
                    and isinstance(x.get("path"), (str, list))
                    and len(x) == 2
                    and SPLIT_NAME.match(str(x["split"]))
                ):
                    raise DiscoveryError(
                        f"Invalid data_files entry {x!r}: expected {{split: <name>, path: <glob>}}"
                    )
                if str(x["split"]) in out:
                    raise DiscoveryError(f"Split {x['split']!r} appears twice in data_files")
                out[str(x["split"])] = x["path"] if isinstance(x["path"], list) else [x["path"]]
            return out
        if all(isinstance(x, str) for x in data_files):
            return {"train": list(data_files)}
    raise DiscoveryError(
        f"Invalid data_files {data_files!r}: expected a path, a list, or a list of {{split, path}} entries"
    )


def _files_for(patterns: dict[str, list[str]], files: list[str], base: str) -> list[SplitSpec]:
    out = []
    for split, pats in patterns.items():
        found: list[str] = []
        for p in pats:
            for f in resolve(str(p), files, base, ALLOWED_EXTENSIONS):
                if f not in found:
                    found.append(f)
        out.append(
            SplitSpec(split, found, None if found else f"No data file matches {pats} for split {split!r}")
        )
    return out


def infer_module(paths: list[str]) -> tuple[str | None, dict[str, Any]]:
    """The most common extension wins; metadata files count last; ties favour parquet, then arrow, json, csv."""
    counts = Counter(
        (("." + sfx.lower()), name in METADATA_FILENAMES)
        for path in paths
        for name in [path.rsplit("/", 1)[-1]]
        for sfx in name.split(".")[1:]
    )
    pref = [".parquet", ".lance", ".vortex", ".arrow", ".jsonl", ".json", ".csv"]

    def key(item: tuple[tuple[str, bool], int]) -> tuple[Any, ...]:
        (ext, meta), n = item
        return (not meta, n, *[ext == p for p in pref], ext)

    for (ext, _), _ in sorted(counts.items(), key=key, reverse=True):
        if ext in EXTENSION_TO_MODULE:
            return EXTENSION_TO_MODULE[ext][0], dict(EXTENSION_TO_MODULE[ext][1])
        if ext == ".zip":
            return "zip", {}
    return None, {}


def module_extensions(module: str) -> set[str]:
    return {e for e, (m, _) in EXTENSION_TO_MODULE.items() if m == module} | {".zip"}


def _keep(path: str, module: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    if module in FOLDER_MODULES and name in METADATA_FILENAMES:
        return True
    exts = module_extensions(module)
    return any("." + sfx in exts for sfx in name.split(".")[1:])


def discover(files: list[str], card: dict[str, Any] | None) -> list[ConfigSpec]:
    """All configs with their splits and files; raises DiscoveryError when nothing can be resolved."""
    metadata, defaults = _readme_configs((card or {}).get("configs"))
    if metadata:
        out = [_readme_config(c, files, defaults) for c in metadata]
    else:
        out = [ConfigSpec("default", _files_for(default_patterns(files), files, ""), "", {}, True)]
    found = False
    for c in out:  # each config is read with the format of its own files (see the module docstring)
        module, module_kwargs = infer_module([f for sp in c.splits for f in sp.files])
        if module is None:
            c.error = c.error or NO_DATA
            for sp in c.splits:
                sp.error = sp.error or NO_DATA
            continue
        found = True
        c.module = module
        c.kwargs = {**module_kwargs, **c.kwargs}
        for sp in c.splits:
            _keep_module_files(sp, module)
    if not found:
        raise DiscoveryError(NO_DATA)
    return out


def _readme_configs(configs: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """-> (the README `configs`, checked; the names of the default ones: at most one)."""
    metadata: list[dict[str, Any]] = []
    if not configs:
        return metadata, []
    if not isinstance(configs, list):
        raise DiscoveryError("README `configs` must be a list of {config_name, data_files, ...}")
    for c in configs:
        if not isinstance(c, dict) or not isinstance(c.get("config_name"), str):
            raise DiscoveryError(f"Each README config needs a `config_name`, got {c!r}")
        metadata.append(c)
    defaults = [
        c["config_name"]
        for c in metadata
        if len(metadata) == 1 or c["config_name"] == "default" or c.get("default")
    ]
    if len(defaults) > 1:
        raise DiscoveryError(f"Dataset has several default configs: {defaults[0]!r} and {defaults[1]!r}")
    return metadata, defaults


def _readme_config(c: dict[str, Any], files: list[str], defaults: list[str]) -> ConfigSpec:
    """One README config with its splits; a config whose files cannot be resolved carries the error."""
    data_dir = str(c.get("data_dir") or "").strip("/")
    kwargs = {k: v for k, v in c.items() if k not in ("config_name", "data_files", "data_dir", "default")}
    try:
        pats = (
            sanitize(c["data_files"])
            if c.get("data_files") is not None
            else default_patterns(files, data_dir)
        )
        splits = _files_for(pats, files, data_dir)
        return ConfigSpec(c["config_name"], splits, "", kwargs, c["config_name"] in defaults)
    except DiscoveryError as e:
        return ConfigSpec(c["config_name"], [], "", kwargs, c["config_name"] in defaults, str(e))


def _keep_module_files(sp: SplitSpec, module: str) -> None:
    """Keep only the split's files of `module`; the split shows an error when none is left."""
    if sp.error:
        return
    sp.files = [f for f in sp.files if _keep(f, module)]
    if not sp.files or all(f.rsplit("/", 1)[-1] in METADATA_FILENAMES for f in sp.files):
        sp.error = (
            f"Split {sp.name!r} has no {module} data files: a config is read in one format, the most "
            "common one among its files"
        )
    elif module not in SUPPORTED and module != "zip":
        sp.error = f"The {module!r} format is not supported by this viewer yet"
