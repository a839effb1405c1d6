"""Model, dataset and Space cards: README front matter -> card data, validation messages, derived tags.

Validation follows the Hub's metadata rules and names the field and the README line of each problem.
Derivation turns (card, files, config.json) into the tags the listing filters on, as the Hub does.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from ..config import CardLimits
from . import taxonomy as tx

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


def _walk_events(text: str, lim: CardLimits, first_line: int) -> None:
    depth = 0
    stack: list[list[Any]] = []  # [anchor, values, weight] of each open list / mapping
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, weight) once its node is closed
    total = [0, 0]

    def at(ev: Any) -> str:
        m = getattr(ev, "start_mark", None)
        return f" (line {m.line + first_line})" if m is not None else ""

    def add(n: int, w: int, ev: Any) -> None:
        target = stack[-1] if stack else None
        if target is not None:
            target[1] += n
            target[2] += w
        else:
            total[0] += n
            total[1] += w
        # the whole document: every open level plus what has closed
        values = total[0] + sum(f[1] for f in stack)
        weight = total[1] + sum(f[2] for f in stack)
        if values > lim.max_nodes:
            raise YamlRefused(f"aliases and values expand to more than {lim.max_nodes} values{at(ev)}")
        if weight > lim.max_json_bytes:
            raise YamlRefused(f"the metadata expands to more than {lim.max_json_bytes} bytes{at(ev)}")

    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > lim.max_depth:
                raise YamlRefused(
                    f"lists and mappings are nested more than {lim.max_depth} levels deep{at(ev)}"
                )
            stack.append([ev.anchor, 1, 2])
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
            anchor, n, w = stack.pop()
            if anchor is not None:
                sizes[anchor] = (n, w)
            add(n, w, ev)
        elif isinstance(ev, yaml.ScalarEvent):
            n, w = 1, len(ev.value) + 4
            if ev.anchor is not None:
                sizes[ev.anchor] = (n, w)
            add(n, w, ev)
        elif isinstance(ev, yaml.AliasEvent):
            if any(f[0] == ev.anchor for f in stack):
                raise YamlRefused(
                    f"the alias *{ev.anchor} is used inside its own anchor &{ev.anchor} "
                    f"(a recursive structure){at(ev)}"
                )
            if ev.anchor in sizes:  # an unknown alias: the composer names it below
                add(*sizes[ev.anchor], ev)


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
        msg = e.message if e.message.startswith("Invalid YAML") else f"Refused YAML: {e.message}"
        return Card(
            None,
            body,
            msg.replace("Invalid YAML", "Invalid YAML in README.md metadata", 1).replace(
                "Refused YAML", "README.md metadata refused", 1
            ),
        )
    if data is None:
        return Card({}, body)
    if not isinstance(data, dict):
        return Card(None, body, "README.md metadata must be a YAML mapping of keys to values (line 2)")
    card = Card(data, body)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                card.lines[str(k.value)] = k.start_mark.line + 2
                if isinstance(v, yaml.SequenceNode):
                    for i, item in enumerate(v.value):
                        card.item_lines[(str(k.value), i)] = item.start_mark.line + 2
    return card


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
    data = card.data or {}
    errors: list[str] = []
    warnings: list[str] = []

    def at(key: str, i: int | None = None) -> str:
        line = card.item_lines.get((key, i)) if i is not None else None
        line = line or card.lines.get(key)
        return f" (line {line})" if line else ""

    def strings(key: str) -> list[tuple[int | None, Any]]:
        v = data.get(key)
        if v is None:
            return []
        if isinstance(v, list):
            return list(enumerate(v))
        return [(None, v)]

    lic = data.get("license")
    if lic is not None:
        for i, x in strings("license"):
            if not isinstance(x, str) or x not in tx.LICENSES:
                errors.append(
                    f'"license" must be a license identifier such as apache-2.0, mit or cc-by-4.0 '
                    f'(or "other" with license_name), not {x!r}{at("license", i)}'
                )
        if lic == "other" and not data.get("license_name"):
            warnings.append(
                f'"license: other" should come with "license_name" and "license_link"{at("license")}'
            )
    for i, x in strings("language"):
        if not is_language(x):
            errors.append(
                f'"language" must hold ISO 639-1 or 639-3 codes such as en or fra, not {x!r}'
                f"{at('language', i)}"
            )
    if "pipeline_tag" in data and data["pipeline_tag"] is not None:
        if data["pipeline_tag"] not in tx.TASK_SET:
            errors.append(
                f'"pipeline_tag" must be a task such as text-classification, not '
                f"{data['pipeline_tag']!r}{at('pipeline_tag')}"
            )
    for key in ("tags", "datasets", "base_model", "metrics"):
        for i, x in strings(key):
            if not isinstance(x, str):
                errors.append(f'"{key}" must be a string or a list of strings; item {x!r} is not{at(key, i)}')
    for key in ("datasets", "base_model"):
        for i, x in strings(key):
            if isinstance(x, str) and not _REPO_ID.match(x):
                errors.append(f'"{key}" must name repos as namespace/name, not {x!r}{at(key, i)}')
    rel = data.get("base_model_relation")
    if rel is not None and rel not in RELATIONS:
        errors.append(
            f'"base_model_relation" must be one of {", ".join(RELATIONS)}, not {rel!r}'
            f"{at('base_model_relation')}"
        )
    if (
        "library_name" in data
        and data["library_name"] is not None
        and not isinstance(data["library_name"], str)
    ):
        errors.append(f'"library_name" must be a string{at("library_name")}')
    widget = data.get("widget")
    if widget is not None:
        if not isinstance(widget, list) or not all(isinstance(w, dict) for w in widget):
            errors.append(
                f'"widget" must be a list of examples, each a mapping such as {{text: ...}}{at("widget")}'
            )
    if "model-index" in data:
        errors += [f"{m}{at('model-index')}" for m in _model_index_errors(data["model-index"])]
    if repo_type == "dataset":
        for i, x in strings("task_categories"):
            if x not in tx.DATASET_TASK_CATEGORIES:
                errors.append(
                    f'"task_categories" must hold tasks such as text-classification, not {x!r}'
                    f"{at('task_categories', i)}"
                )
        for i, x in strings("size_categories"):
            if x not in tx.SIZE_CATEGORIES:
                errors.append(
                    f'"size_categories" must be one of {", ".join(tx.SIZE_CATEGORIES)}, not {x!r}'
                    f"{at('size_categories', i)}"
                )
        configs = data.get("configs")
        if configs is not None:
            if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
                errors.append(
                    f'"configs" must be a list of mappings with config_name and data_files{at("configs")}'
                )
            else:
                for i, c in enumerate(configs):
                    if not isinstance(c.get("config_name"), str):
                        errors.append(f'"configs" item {i + 1} needs a "config_name"{at("configs", i)}')
    return errors, warnings


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
    base_models: list[tuple[str, str]] = field(default_factory=list)  # (repo id, relation)
    extra: dict[str, Any] = field(
        default_factory=dict
    )  # config, transformersInfo, safetensors, widgetData, ...


def _library_from_files(names: set[str]) -> str | None:
    def has(suffix: str) -> bool:
        return any(n.endswith(suffix) for n in names)

    if "adapter_config.json" in names:
        return "peft"
    if "model_index.json" in names:
        return "diffusers"
    if "modules.json" in names or "sentence_bert_config.json" in names:
        return "sentence-transformers"
    if "config.json" in names:
        return "transformers"
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
) -> Derived:
    data = card.data or {}
    names = {f.rsplit("/", 1)[-1] for f in files}
    tags: list[str] = []

    def add(t: Any) -> None:
        if isinstance(t, (str, int, float)) and not isinstance(t, bool):
            s = str(t).strip()
            if s and s not in tags:
                tags.append(s)

    card_tags = [t for t in _as_list(data.get("tags") or []) if isinstance(t, str)]
    langs = [x for x in _as_list(data.get("language") or []) if is_language(x)]
    langs += [t for t in card_tags if is_known_language(t) and t not in langs]
    lic = [x for x in _as_list(data.get("license") or []) if isinstance(x, str)]
    d = Derived(tags=tags, languages=langs)
    if repo_type == "dataset":
        for prefix in tx.DATASET_PREFIXES:
            if prefix in ("language", "license", "format", "modality"):
                continue
            for x in _as_list(data.get(prefix) or []):
                if isinstance(x, str):
                    add(f"{prefix}:{x}")
        for t in card_tags:
            add(t)
        for x in langs:
            add(f"language:{x}")
        for x in lic:
            add(f"license:{x}")
        exts = {("." + n.rsplit(".", 1)[-1].lower()) for n in names if "." in n}
        exts.discard(".md")
        exts.discard(".gitattributes")
        fmt = sorted({tx.FORMAT_BY_EXT[e] for e in exts if e in tx.FORMAT_BY_EXT})
        for f in fmt:
            add(f"format:{f}")
        for modality, suffixes in tx.MODALITY_BY_EXT.items():
            if any(e in suffixes for e in exts):
                add(
                    f"modality:{'tabular' if modality == 'text' and exts & {'.csv', '.tsv', '.parquet'} else modality}"
                )
        if fmt:
            add("library:datasets")
        tasks = [x for x in _as_list(data.get("task_categories") or []) if isinstance(x, str)]
        d.pipeline_tag = tasks[0] if tasks else None
        return d
    if repo_type == "space":
        sdk = data.get("sdk")
        if isinstance(sdk, str):
            add(sdk)
        for t in card_tags:
            add(t)
        for x in lic:
            add(f"license:{x}")
        for x in _as_list(data.get("models") or []):
            if isinstance(x, str):
                d.datasets.append(x)  # reused as "models used" by the index
        return d
    # models
    library = (
        data.get("library_name") if isinstance(data.get("library_name"), str) else _library_from_files(names)
    )
    d.library_name = library
    pipeline = data.get("pipeline_tag") if data.get("pipeline_tag") in tx.TASK_SET else None
    pipeline = pipeline or next((t for t in card_tags if t in tx.TASK_SET), None)
    arch_info = None
    if config:
        archs = config.get("architectures")
        if isinstance(archs, list) and archs and isinstance(archs[0], str):
            for suffix, auto, task in tx.ARCHITECTURE_TASKS:
                if archs[0].endswith(suffix):
                    arch_info = (auto, task)
                    break
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
    for tag, rule in tx.FRAMEWORK_FILES:
        if any(n == rule or (rule.startswith(".") and n.endswith(rule)) for n in names):
            add(tag)
    if config and isinstance(config.get("model_type"), str):
        add(config["model_type"])
    for t in card_tags:
        add(t)
    if pipeline:
        add(pipeline)
    for x in langs:
        add(x)
    for x in lic:
        add(f"license:{x}")
    for x in _as_list(data.get("datasets") or []):
        if isinstance(x, str):
            d.datasets.append(x)
            add(f"dataset:{x}")
    bases = [x for x in _as_list(data.get("base_model") or []) if isinstance(x, str)]
    if bases:
        rel = data.get("base_model_relation")
        if rel not in RELATIONS:
            if "adapter_config.json" in names:
                rel = "adapter"
            elif any(n.endswith(".gguf") for n in names) or (config and "quantization_config" in config):
                rel = "quantized"
            elif len(bases) > 1 or "merge" in card_tags or "mergekit" in card_tags:
                rel = "merge"
            else:
                rel = "finetune"
        for b in bases:
            d.base_models.append((b, rel))
            add(f"base_model:{b}")
            add(f"base_model:{rel}:{b}")
    for m in _ARXIV.findall(card.body):
        add(f"arxiv:{m}")
    widget = data.get("widget")
    if isinstance(widget, list):
        d.extra["widgetData"] = [w for w in widget if isinstance(w, dict)]
    return d
