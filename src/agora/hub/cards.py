"""Model, dataset and Space cards: README front matter -> card data, validation messages, derived tags.

Validation follows the Hub's metadata rules and names the field and the README line of each problem.
Derivation turns (card, files, config.json) into the tags the listing filters on, as the Hub does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from ..config import CardLimits
from . import taxonomy as tx
from .datatags import DataFacts, size_category
from .widgets import widget_errors

_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*$")
_ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", re.I)
RELATIONS = ("adapter", "merge", "quantized", "finetune")


@dataclass
class Card:
    data: dict[str, Any] | None
    body: str
    yaml_error: str | None = None
    lines: dict[str, int] = field(default_factory=dict)  # top-level key -> README line number
    item_lines: dict[tuple[str, int], int] = field(default_factory=dict)


# ---- bounded YAML --------------------------------------------------------------------------------------
# README front matter and dataset YAML are user input: a few lines of nested aliases expand to gigabytes
# ("billion laughs"), a self-referencing alias never ends, and deep nesting exhausts the stack. Every YAML
# text of a user goes through `load_yaml`, which walks the parser's events first (the parser itself keeps
# no Python recursion) and refuses, before anything is built: text over max_yaml_bytes, nesting over
# max_depth, an alias used inside its own anchor, and a result that would hold more than max_nodes values or
# max_json_bytes of text once every alias is expanded. The built value is then made JSON-safe and its JSON
# checked against max_json_bytes: what is stored and answered is bounded by the settings.
limits: CardLimits = CardLimits.from_env()
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def set_limits(new: CardLimits) -> None:
    global limits
    limits = new


class YamlRefused(ValueError):
    """The YAML is valid but over a limit, or malformed: `message` says which and where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _EventWalk:
    """The running size of a YAML event stream: open lists and mappings, and what anchors expand to."""

    def __init__(self, lim: CardLimits, first_line: int) -> None:
        self.lim = lim
        self.first_line = first_line
        self.depth = 0
        self.stack: list[list[Any]] = []  # [anchor, values, weight] of each open list / mapping
        self.sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, weight) once its node is closed
        self.total = [0, 0]

    def at(self, ev: Any) -> str:
        m = getattr(ev, "start_mark", None)
        return f" (line {m.line + self.first_line})" if m is not None else ""

    def add(self, n: int, w: int, ev: Any) -> None:
        target = self.stack[-1] if self.stack else None
        if target is not None:
            target[1] += n
            target[2] += w
        else:
            self.total[0] += n
            self.total[1] += w
        # the whole document: every open level plus what has closed
        values = self.total[0] + sum(f[1] for f in self.stack)
        weight = self.total[1] + sum(f[2] for f in self.stack)
        if values > self.lim.max_nodes:
            raise YamlRefused(
                f"aliases and values expand to more than {self.lim.max_nodes} values{self.at(ev)}"
            )
        if weight > self.lim.max_json_bytes:
            raise YamlRefused(
                f"the metadata expands to more than {self.lim.max_json_bytes} bytes{self.at(ev)}"
            )

    def open(self, ev: Any) -> None:
        self.depth += 1
        if self.depth > self.lim.max_depth:
            raise YamlRefused(
                f"lists and mappings are nested more than {self.lim.max_depth} levels deep{self.at(ev)}"
            )
        self.stack.append([ev.anchor, 1, 2])

    def close(self, ev: Any) -> None:
        self.depth -= 1
        anchor, n, w = self.stack.pop()
        if anchor is not None:
            self.sizes[anchor] = (n, w)
        self.add(n, w, ev)

    def scalar(self, ev: Any) -> None:
        n, w = 1, len(ev.value) + 4
        if ev.anchor is not None:
            self.sizes[ev.anchor] = (n, w)
        self.add(n, w, ev)

    def alias(self, ev: Any) -> None:
        if any(f[0] == ev.anchor for f in self.stack):
            raise YamlRefused(
                f"the alias *{ev.anchor} is used inside its own anchor &{ev.anchor} "
                f"(a recursive structure){self.at(ev)}"
            )
        if ev.anchor in self.sizes:  # an unknown alias: the composer names it below
            self.add(*self.sizes[ev.anchor], ev)


def _walk_events(text: str, lim: CardLimits, first_line: int) -> None:
    walk = _EventWalk(lim, first_line)
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            walk.open(ev)
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            walk.close(ev)
        elif isinstance(ev, yaml.ScalarEvent):
            walk.scalar(ev)
        elif isinstance(ev, yaml.AliasEvent):
            walk.alias(ev)


def _json_safe(v: Any) -> Any:
    """YAML values JSON can hold: dates as ISO strings, binary as text, no NaN/inf, string keys."""
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else _json_key(k)): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((_json_safe(x) for x in v), key=str)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _json_key(k: Any) -> str:
    if isinstance(k, bool) or k is None:
        return json.dumps(k)
    if isinstance(k, (date, datetime)):
        return k.isoformat()
    return str(k)


def load_yaml(text: str, first_line: int = 1, lim: CardLimits | None = None) -> tuple[Any, Any]:
    """-> (JSON-safe value, root node) of one YAML document, within `lim`; YamlRefused otherwise.

    `first_line` is the line of `text`'s first line in its file, for messages."""
    lim = lim or limits
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > lim.max_yaml_bytes:
        raise YamlRefused(f"the YAML is {size} bytes long: at most {lim.max_yaml_bytes} allowed")
    try:
        _walk_events(text, lim, first_line)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except YamlRefused:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" on line {mark.line + first_line}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise YamlRefused(
            f"Invalid YAML{where}: {problem}", mark.line + first_line if mark else None
        ) from None
    except (RecursionError, MemoryError, OverflowError, ValueError, TypeError) as e:
        raise YamlRefused(f"Invalid YAML: {type(e).__name__}") from None
    data = _json_safe(data)
    try:
        size = len(json.dumps(data, separators=(",", ":")))
    except (ValueError, TypeError, RecursionError):
        raise YamlRefused("the YAML holds values that have no JSON form") from None
    if size > lim.max_json_bytes:
        raise YamlRefused(f"the metadata is {size} bytes as JSON: at most {lim.max_json_bytes} allowed")
    return data, node


def parse(text: str) -> Card:
    """Split README.md into front matter and body; YAML errors carry their README line."""
    if not text.startswith("---"):
        return Card(None, text)
    lines = text.splitlines()
    if lines[0].strip() != "---":
        return Card(None, text)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return Card(None, text, "README.md metadata opened with '---' on line 1 is never closed with '---'")
    block = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    try:
        data, node = load_yaml(block, first_line=2)
    except YamlRefused as e:
        return Card(None, body, _metadata_error(e))
    if data is None:
        return Card({}, body)
    if not isinstance(data, dict):
        return Card(None, body, "README.md metadata must be a YAML mapping of keys to values (line 2)")
    card = Card(data, body)
    if isinstance(node, yaml.MappingNode):
        _note_lines(card, node)
    return card


def _metadata_error(e: YamlRefused) -> str:
    """The card's yaml_error for front matter load_yaml refused: it names README.md metadata."""
    msg = e.message if e.message.startswith("Invalid YAML") else f"Refused YAML: {e.message}"
    return msg.replace("Invalid YAML", "Invalid YAML in README.md metadata", 1).replace(
        "Refused YAML", "README.md metadata refused", 1
    )


def _note_lines(card: Card, node: yaml.MappingNode) -> None:
    """The README line of each top-level key and of each item of a top-level list, for messages."""
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode):
            card.lines[str(k.value)] = k.start_mark.line + 2
            if isinstance(v, yaml.SequenceNode):
                for i, item in enumerate(v.value):
                    card.item_lines[(str(k.value), i)] = item.start_mark.line + 2


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def is_language(code: Any) -> bool:
    return isinstance(code, str) and (code in tx.ISO639_1 or bool(re.fullmatch(r"[a-z]{3}", code)))


def is_known_language(code: Any) -> bool:
    """Stricter: used to tell a language code from an ordinary word in `tags:`."""
    return isinstance(code, str) and (code in tx.ISO639_1 or code in tx.ISO639_3_COMMON)


def validate(card: Card, repo_type: str) -> tuple[list[str], list[str]]:
    """-> (errors, warnings). Errors refuse the upload; warnings are shown."""
    if card.yaml_error:
        return [card.yaml_error], []
    c = _Checks(card)
    _check_license(c)
    _check_languages(c)
    _check_pipeline_tag(c)
    _check_string_lists(c)
    _check_repo_ids(c)
    _check_relation(c)
    _check_library_name(c)
    _check_widget(c)
    if "model-index" in c.data:
        c.errors += [f"{m}{c.at('model-index')}" for m in _model_index_errors(c.data["model-index"])]
    if repo_type == "dataset":
        _check_dataset_categories(c)
        _check_configs(c)
    return c.errors, c.warnings


class _Checks:
    """The errors and warnings found in one card's metadata so far; messages name the README line."""

    def __init__(self, card: Card) -> None:
        self.card = card
        self.data = card.data or {}
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def at(self, key: str, i: int | None = None) -> str:
        line = self.card.item_lines.get((key, i)) if i is not None else None
        line = line or self.card.lines.get(key)
        return f" (line {line})" if line else ""

    def strings(self, key: str) -> list[tuple[int | None, Any]]:
        """(list index or None, value) of each value of a key that holds one value or a list of them."""
        v = self.data.get(key)
        if v is None:
            return []
        if isinstance(v, list):
            return list(enumerate(v))
        return [(None, v)]


def _check_license(c: _Checks) -> None:
    lic = c.data.get("license")
    if lic is None:
        return
    for i, x in c.strings("license"):
        if not isinstance(x, str) or x not in tx.LICENSES:
            c.errors.append(
                f'"license" must be a license identifier such as apache-2.0, mit or cc-by-4.0 '
                f'(or "other" with license_name), not {x!r}{c.at("license", i)}'
            )
    if lic == "other" and not c.data.get("license_name"):
        c.warnings.append(
            f'"license: other" should come with "license_name" and "license_link"{c.at("license")}'
        )


def _check_languages(c: _Checks) -> None:
    for i, x in c.strings("language"):
        if not is_language(x):
            c.errors.append(
                f'"language" must hold ISO 639-1 or 639-3 codes such as en or fra, not {x!r}'
                f"{c.at('language', i)}"
            )


def _is_task(value: object) -> bool:
    """A task name of the taxonomy (a list or a mapping is not: it cannot even be looked up in a set)."""
    return isinstance(value, str) and value in tx.TASK_SET


def _check_pipeline_tag(c: _Checks) -> None:
    if "pipeline_tag" in c.data and c.data["pipeline_tag"] is not None:
        if not _is_task(c.data["pipeline_tag"]):
            c.errors.append(
                f'"pipeline_tag" must be a task such as text-classification, not '
                f"{c.data['pipeline_tag']!r}{c.at('pipeline_tag')}"
            )


def _check_string_lists(c: _Checks) -> None:
    for key in ("tags", "datasets", "base_model", "metrics"):
        for i, x in c.strings(key):
            if not isinstance(x, str):
                c.errors.append(
                    f'"{key}" must be a string or a list of strings; item {x!r} is not{c.at(key, i)}'
                )


def _check_repo_ids(c: _Checks) -> None:
    for key in ("datasets", "base_model"):
        for i, x in c.strings(key):
            if isinstance(x, str) and not _REPO_ID.match(x):
                c.errors.append(f'"{key}" must name repos as namespace/name, not {x!r}{c.at(key, i)}')


def _check_relation(c: _Checks) -> None:
    rel = c.data.get("base_model_relation")
    if rel is not None and rel not in RELATIONS:
        c.errors.append(
            f'"base_model_relation" must be one of {", ".join(RELATIONS)}, not {rel!r}'
            f"{c.at('base_model_relation')}"
        )


def _check_library_name(c: _Checks) -> None:
    if (
        "library_name" in c.data
        and c.data["library_name"] is not None
        and not isinstance(c.data["library_name"], str)
    ):
        c.errors.append(f'"library_name" must be a string{c.at("library_name")}')


def _check_widget(c: _Checks) -> None:
    """The Hub's words (`"widget" must be an array`, `"widget[0]" must be of type object`), then the line."""
    c.errors += [f"{m}{c.at('widget')}" for m in widget_errors(c.data.get("widget"))]


def _check_dataset_categories(c: _Checks) -> None:
    for i, x in c.strings("task_categories"):
        if x not in tx.DATASET_TASK_CATEGORIES:
            c.errors.append(
                f'"task_categories" must hold tasks such as text-classification, not {x!r}'
                f"{c.at('task_categories', i)}"
            )
    for i, x in c.strings("size_categories"):
        if x not in tx.SIZE_CATEGORIES:
            c.errors.append(
                f'"size_categories" must be one of {", ".join(tx.SIZE_CATEGORIES)}, not {x!r}'
                f"{c.at('size_categories', i)}"
            )


def _check_configs(c: _Checks) -> None:
    configs = c.data.get("configs")
    if configs is None:
        return
    if not isinstance(configs, list) or not all(isinstance(x, dict) for x in configs):
        c.errors.append(
            f'"configs" must be a list of mappings with config_name and data_files{c.at("configs")}'
        )
        return
    for i, x in enumerate(configs):
        if not isinstance(x.get("config_name"), str):
            c.errors.append(f'"configs" item {i + 1} needs a "config_name"{c.at("configs", i)}')


def _model_index_errors(mi: Any) -> list[str]:
    if not isinstance(mi, list):
        return ['"model-index" must be a list of {name, results}']
    out = []
    for i, m in enumerate(mi):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            out.append(f'"model-index[{i}]" needs a "name"')
            continue
        results = m.get("results")
        if not isinstance(results, list):
            out.append(f'"model-index[{i}].results" must be a list')
            continue
        for j, r in enumerate(results):
            if not isinstance(r, dict):
                out.append(f'"model-index[{i}].results[{j}]" must be a mapping')
                continue
            task = r.get("task")
            if not isinstance(task, dict) or not isinstance(task.get("type"), str):
                out.append(f'"model-index[{i}].results[{j}].task.type" is required')
            ds = r.get("dataset")
            if (
                not isinstance(ds, dict)
                or not isinstance(ds.get("type"), str)
                or not isinstance(ds.get("name"), str)
            ):
                out.append(f'"model-index[{i}].results[{j}].dataset" needs "type" and "name"')
            metrics = r.get("metrics")
            if not isinstance(metrics, list) or not all(
                isinstance(x, dict) and isinstance(x.get("type"), str) and "value" in x for x in metrics
            ):
                out.append(f'"model-index[{i}].results[{j}].metrics" must be a list of {{type, value}}')
    return out


@dataclass
class Derived:
    tags: list[str]
    pipeline_tag: str | None = None
    library_name: str | None = None
    languages: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # a Space's `models:` (the models it uses)
    base_models: list[tuple[str, str]] = field(default_factory=list)  # (repo id, relation)
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # config, transformersInfo, safetensors, widgetData, ...


def _library_from_files(names: set[str]) -> str | None:
    return _library_from_configs(names) or _library_from_weights(names)


def _library_from_configs(names: set[str]) -> str | None:
    """The library a known configuration file names (the Hugging Face libraries, most specific first)."""
    if "adapter_config.json" in names:
        return "peft"
    if "model_index.json" in names:
        return "diffusers"
    if "modules.json" in names or "sentence_bert_config.json" in names:
        return "sentence-transformers"
    if "config.json" in names:
        return "transformers"
    return None


def _library_from_weights(names: set[str]) -> str | None:
    """The library of the weights files' format, for repos without a known configuration file."""

    def has(suffix: str) -> bool:
        return any(n.endswith(suffix) for n in names)

    if has(".joblib") or has("skops"):
        return "sklearn"
    if has(".keras") or "keras_metadata.pb" in names or "saved_model.pb" in names:
        return "keras"
    if "meta.json" in names and "config.cfg" in names:
        return "spacy"
    if has(".gguf"):
        return "gguf"
    if has(".onnx"):
        return "onnx"
    return None


def derive(
    repo_type: str,
    card: Card,
    files: list[str],
    config: dict[str, Any] | None = None,
    has_tokenizer: bool = False,
    data_facts: DataFacts | None = None,
) -> Derived:
    """Tags, task, library, languages and links of a repo at one commit, from its card and file names (and,
    for a dataset whose conversion is done, `data_facts`: what the converted data says, hub/datatags.py)."""
    data = card.data or {}
    card_tags = [t for t in _as_list(data.get("tags") or []) if isinstance(t, str)]
    langs = [x for x in _as_list(data.get("language") or []) if is_language(x)]
    langs += [t for t in card_tags if is_known_language(t) and t not in langs]
    facts = _Facts(
        data=data,
        names={f.rsplit("/", 1)[-1] for f in files},
        card_tags=card_tags,
        langs=langs,
        licenses=[x for x in _as_list(data.get("license") or []) if isinstance(x, str)],
        data_facts=data_facts,
    )
    d = Derived(tags=[], languages=langs)
    if repo_type == "dataset":
        _derive_dataset(d, facts)
    elif repo_type == "space":
        _derive_space(d, facts)
    else:
        _derive_model(d, facts, card.body, config, has_tokenizer)
    return d


@dataclass
class _Facts:
    """What the derivation of every repo type reads from the card data and the file list."""

    data: dict[str, Any]
    names: set[str]  # file names, without their folders
    card_tags: list[str]
    langs: list[str]
    licenses: list[str]
    data_facts: DataFacts | None = None


def _tagger(tags: list[str]) -> Callable[[Any], None]:
    """-> add(t): appends t to `tags` as a stripped string, once; values that are not scalars are ignored."""

    def add(t: Any) -> None:
        if isinstance(t, (str, int, float)) and not isinstance(t, bool):
            s = str(t).strip()
            if s and s not in tags:
                tags.append(s)

    return add


def _add_each(add: Callable[[Any], None], prefix: str, values: list[Any]) -> None:
    for x in values:
        add(f"{prefix}{x}")


def _derive_dataset(d: Derived, f: _Facts) -> None:
    add = _tagger(d.tags)
    for prefix in tx.DATASET_PREFIXES:
        if prefix in ("language", "license", "format", "modality"):
            continue
        for x in _as_list(f.data.get(prefix) or []):
            if isinstance(x, str):
                add(f"{prefix}:{x}")
    _add_each(add, "", f.card_tags)
    _add_each(add, "language:", f.langs)
    _add_each(add, "license:", f.licenses)
    _add_dataset_file_tags(add, f.names, f.data_facts)
    if f.data_facts is not None and f.data_facts.num_rows is not None and not f.data.get("size_categories"):
        add(f"size_categories:{size_category(f.data_facts.num_rows)}")  # the card's own value wins
    tasks = [x for x in _as_list(f.data.get("task_categories") or []) if isinstance(x, str)]
    d.pipeline_tag = tasks[0] if tasks else None


def _add_dataset_file_tags(add: Callable[[Any], None], names: set[str], data: DataFacts | None) -> None:
    """format:, modality: and library:datasets tags. The modalities come from the converted data's features
    when the conversion is done (plus the media files' extensions); until then, a guess from the data files'
    extensions."""
    exts = {("." + n.rsplit(".", 1)[-1].lower()) for n in names if "." in n}
    exts.discard(".md")
    exts.discard(".gitattributes")
    fmt = sorted({tx.FORMAT_BY_EXT[e] for e in exts if e in tx.FORMAT_BY_EXT})
    _add_each(add, "format:", fmt)
    if data is not None:
        media = {m for m in ("image", "audio", "video") if exts & set(tx.MODALITY_BY_EXT[m])}
        _add_each(add, "modality:", sorted(data.modalities | media))
    else:
        for modality, suffixes in tx.MODALITY_BY_EXT.items():
            if any(e in suffixes for e in exts):
                tabular = modality == "text" and exts & {".csv", ".tsv", ".parquet"}
                add(f"modality:{'tabular' if tabular else modality}")
    if fmt:
        add("library:datasets")


def _derive_space(d: Derived, f: _Facts) -> None:
    add = _tagger(d.tags)
    sdk = f.data.get("sdk")
    if isinstance(sdk, str):
        add(sdk)
    _add_each(add, "", f.card_tags)
    _add_each(add, "license:", f.licenses)
    d.models = [x for x in _as_list(f.data.get("models") or []) if isinstance(x, str)]
    d.datasets = [x for x in _as_list(f.data.get("datasets") or []) if isinstance(x, str)]


def _derive_model(
    d: Derived, f: _Facts, body: str, config: dict[str, Any] | None, has_tokenizer: bool
) -> None:
    add = _tagger(d.tags)
    data = f.data
    library = (
        data.get("library_name")
        if isinstance(data.get("library_name"), str)
        else _library_from_files(f.names)
    )
    d.library_name = library
    pipeline = data.get("pipeline_tag") if _is_task(data.get("pipeline_tag")) else None
    pipeline = pipeline or next((t for t in f.card_tags if t in tx.TASK_SET), None)
    arch_info = _architecture(config)
    if config:
        d.extra["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
    if pipeline is None and arch_info:
        pipeline = arch_info[1]
    d.pipeline_tag = pipeline
    if library == "transformers" and arch_info:
        info: dict[str, Any] = {"auto_model": arch_info[0], "pipeline_tag": pipeline or arch_info[1]}
        if has_tokenizer:
            info["processor"] = "AutoTokenizer"
        d.extra["transformersInfo"] = info
    if library:
        add(library)
    _add_framework_tags(add, f.names, config)
    _add_each(add, "", f.card_tags)
    if pipeline:
        add(pipeline)
    _add_each(add, "", f.langs)
    _add_each(add, "license:", f.licenses)
    for x in _as_list(data.get("datasets") or []):
        if isinstance(x, str):
            d.datasets.append(x)
            add(f"dataset:{x}")
    _add_base_models(d, add, f, config)
    _add_each(add, "arxiv:", _ARXIV.findall(body))


def _architecture(config: dict[str, Any] | None) -> tuple[str, str] | None:
    """(auto class, task) of config.json's first architecture, when the taxonomy knows its suffix."""
    archs = config.get("architectures") if config else None
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        for suffix, auto, task in tx.ARCHITECTURE_TASKS:
            if archs[0].endswith(suffix):
                if task == "text-classification" and _is_nli(config):
                    task = "zero-shot-classification"  # an NLI classifier: what transformers' zero-shot needs
                return (auto, task)
    return None


def _is_nli(config: dict[str, Any] | None) -> bool:
    labels = config.get("id2label") if config else None
    return isinstance(labels, dict) and any(str(v).lower().startswith("entail") for v in labels.values())


def _add_framework_tags(add: Callable[[Any], None], names: set[str], config: dict[str, Any] | None) -> None:
    """Tags of the frameworks whose files are present, then config.json's model_type."""
    for tag, rule in tx.FRAMEWORK_FILES:
        if any(n == rule or (rule.startswith(".") and n.endswith(rule)) for n in names):
            add(tag)
    if config and isinstance(config.get("model_type"), str):
        add(config["model_type"])


def _add_base_models(
    d: Derived, add: Callable[[Any], None], f: _Facts, config: dict[str, Any] | None
) -> None:
    bases = [x for x in _as_list(f.data.get("base_model") or []) if isinstance(x, str)]
    if not bases:
        return
    rel = f.data.get("base_model_relation")
    if rel not in RELATIONS:
        rel = _guess_relation(bases, f, config)
    for b in bases:
        d.base_models.append((b, rel))
        add(f"base_model:{b}")
        add(f"base_model:{rel}:{b}")


def _guess_relation(bases: list[str], f: _Facts, config: dict[str, Any] | None) -> str:
    """The base_model_relation a card did not state, from the files and tags."""
    if "adapter_config.json" in f.names:
        return "adapter"
    if any(n.endswith(".gguf") for n in f.names) or (config and "quantization_config" in config):
        return "quantized"
    if len(bases) > 1 or "merge" in f.card_tags or "mergekit" in f.card_tags:
        return "merge"
    return "finetune"
