"""The card editor's domain: a README.md and the values of the metadata form -> the README with its front
matter rewritten, the form's values read back, and the problems found, by field.

The form knows a few common keys (license, language, tags, ...). A changed field rewrites only its own key
in the YAML front matter (dumped with yaml.safe_dump); every other key keeps its text, comments and place,
and the body after the front matter is kept byte for byte. New keys go after the existing ones, in the
form's order. The problems are the commit's own: `commits.readme_errors`, which refuses a commit whose
README metadata is invalid, so the editor's preview and the commit agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import cards, commits, tagnames
from . import taxonomy as tx

FIELDS: dict[str, tuple[str, ...]] = {
    "model": (
        "license",
        "language",
        "tags",
        "datasets",
        "pipeline_tag",
        "base_model",
        "library_name",
        "widget",
    ),
    "dataset": ("license", "language", "tags", "task_categories", "pretty_name"),
    "space": ("license", "tags", "models", "datasets"),
}
LISTS = ("language", "tags", "datasets", "base_model", "task_categories", "models")  # comma-separated
ALWAYS_LISTS = ("tags", "datasets", "task_categories", "models")  # written as lists even with one value
CONTENT = "content"  # the problems of the README itself (its YAML, its size), shown by the text area
_KEY = re.compile(r'^"([A-Za-z_-]+)')  # the key a validation message starts with: "license" must ...


@dataclass
class Edit:
    """The editor's state after one round: the README text, the form's values, the problems by field."""

    text: str
    base: dict[str, str]  # the form's values as the text holds them
    fields: dict[str, str]  # what the form shows: `base`, except the fields whose input was refused
    errors: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""  # the markdown after the front matter, for the preview

    @property
    def ok(self) -> bool:
        return not self.errors


class _Dumper(yaml.SafeDumper):
    """safe_dump with lists indented under their key, as cards are usually written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump(key: str, value: Any) -> str:
    return yaml.dump(
        {key: value},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1000,
    )


def split(text: str) -> tuple[str | None, str]:
    """(the front matter between the --- lines or None, the body after it, byte for byte): the same rule
    as cards.parse."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---" or not text.startswith("---"):
        return None, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return None, text
    return "".join(lines[1:end]), "".join(lines[end + 1 :])


# ---- the form's values <-> YAML values -----------------------------------------------------------------


def shown(key: str, value: Any) -> str:
    """A YAML value as the form shows it: lists comma-separated, widget examples one per line."""
    if value is None:
        return ""
    if key == "widget":
        items = value if isinstance(value, list) else []
        return "\n".join(x["text"] for x in items if isinstance(x, dict) and isinstance(x.get("text"), str))
    if isinstance(value, list):
        return ", ".join(str(x) for x in value if isinstance(x, (str, int, float)))
    return str(value) if isinstance(value, (str, int, float)) else ""


def form_values(data: dict[str, Any] | None, repo_type: str) -> dict[str, str]:
    data = data or {}
    return {k: shown(k, data.get(k)) for k in FIELDS.get(repo_type, ())}


def language_code(name: str) -> str | None:
    """An ISO 639 code (kept) or a language's English name ("Spanish" -> es); None when neither."""
    s = name.strip()
    if cards.is_known_language(s.lower()) or (len(s) <= 3 and cards.is_language(s.lower())):
        return s.lower()
    code = tagnames.language_code(s)
    return code if code is not None and cards.is_language(code) else None


def language_names(codes: str) -> str:
    """The English names of the form's language codes ("es, vi" -> "Spanish, Vietnamese"), for a hint."""
    return ", ".join(tagnames.language_name(code) or code for code in _items(codes))


def _items(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parse_field(key: str, text: str, old: Any) -> tuple[Any, str | None]:
    """-> (the YAML value of a form field, or None to remove the key; an error message or None)."""
    if key == "widget":
        return _widget(text, old), None
    if key not in LISTS:
        value = text.strip()
        if key == "license" and value.lower() in tx.LICENSES:
            value = value.lower()
        return value or None, None
    items = _items(text)
    if key == "language":
        codes = [language_code(x) for x in items]
        unknown = [x for x, c in zip(items, codes, strict=True) if c is None]
        if unknown:
            return (
                None,
                f"Unknown language: {', '.join(unknown)} (use a name such as Spanish or a code such as es)",
            )
        items = list(dict.fromkeys(c for c in codes if c))
    if not items:
        return None, None
    if len(items) == 1 and key not in ALWAYS_LISTS and not isinstance(old, list):
        return items[0], None
    return items, None


def _widget(text: str, old: Any) -> list[dict[str, Any]] | None:
    """Widget examples, one text per line: an old example with the same text is kept as it was (its title),
    and examples that are not text (images, audio) stay."""
    olds = old if isinstance(old, list) else []
    by_text = {x["text"]: x for x in olds if isinstance(x, dict) and isinstance(x.get("text"), str)}
    others = [x for x in olds if not (isinstance(x, dict) and isinstance(x.get("text"), str))]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = others + [by_text.get(line, {"text": line}) for line in lines]
    return out or None


# ---- rewriting the front matter ------------------------------------------------------------------------


def _spans(block: str, node: Any) -> dict[str, tuple[int, int]] | None:
    """The lines [start, end) of each top-level key of a block mapping (trailing blank and comment lines
    left to what follows); None when the text cannot be cut by lines (a flow mapping, odd keys)."""
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        return None
    keys = [(k.value, k.start_mark.line) for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
    if len(keys) != len(node.value) or len({k for k, _ in keys}) != len(keys):
        return None
    lines = block.splitlines(keepends=True)
    out: dict[str, tuple[int, int]] = {}
    for i, (key, start) in enumerate(keys):
        end = keys[i + 1][1] if i + 1 < len(keys) else len(lines)
        while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
            end -= 1
        out[str(key)] = (start, end)
    return out


def rewrite(block: str, node: Any, data: dict[str, Any], updates: dict[str, Any]) -> str:
    """The front matter with `updates` (key -> value, None removes it) applied, other keys' text kept."""
    spans = _spans(block, node)
    if spans is None:  # cannot cut it: the whole mapping dumped again, in its order
        merged = {**data, **updates}
        return "".join(dump(k, v) for k, v in merged.items() if v is not None)
    lines = block.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for key, (start, end) in sorted(
        ((k, spans[k]) for k in updates if k in spans), key=lambda kv: kv[1][0], reverse=True
    ):
        value = updates[key]
        lines[start:end] = [] if value is None else [dump(key, value)]
    lines += [dump(k, v) for k, v in updates.items() if k not in spans and v is not None]
    return "".join(lines)


# ---- one round of the editor ---------------------------------------------------------------------------


def _field_of(message: str, repo_type: str) -> str:
    m = _KEY.match(message)
    return m.group(1) if m and m.group(1) in FIELDS.get(repo_type, ()) else CONTENT


def _too_long(text: str) -> str | None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > commits.README_MAX:
        return (
            f"The card is {size} bytes long: at most {commits.README_MAX} bytes "
            "(a longer README.md is neither validated nor indexed)"
        )
    return None


def edit(text: str, repo_type: str, given: dict[str, str], base: dict[str, str]) -> Edit:
    """Apply the form fields the user changed (those that differ from `base`, the values the form was
    filled with) to the README `text`, then check the result as a commit would."""
    text = text.replace("\r\n", "\n")
    errors: dict[str, list[str]] = {}
    refused: dict[str, str] = {}
    too_long = _too_long(text)
    changed = {
        k: given[k] for k in FIELDS.get(repo_type, ()) if k in given and given[k] != base.get(k, given[k])
    }
    if too_long:
        errors[CONTENT] = [too_long]
    elif changed:
        text = _apply(text, repo_type, changed, errors, refused)
    card = cards.parse(text)
    for msg in commits.readme_errors(text, repo_type) if not too_long else []:
        errors.setdefault(_field_of(msg, repo_type), []).append(msg)
    values = form_values(card.data, repo_type)
    return Edit(text, values, {**values, **refused}, errors, split(text)[1])


def _apply(
    text: str, repo_type: str, changed: dict[str, str], errors: dict[str, list[str]], refused: dict[str, str]
) -> str:
    block, body = split(text)
    try:
        data, node = cards.load_yaml(block, first_line=2) if block is not None else ({}, None)
    except cards.YamlRefused:
        data, node = None, None
    if not isinstance(data, dict):  # the text's own problem, which readme_errors names
        refused.update(changed)
        errors.setdefault(CONTENT, []).append("Fix the YAML front matter before changing the form's fields")
        return text
    updates: dict[str, Any] = {}
    for key, value in changed.items():
        parsed, problem = parse_field(key, value, data.get(key))
        if problem:
            errors.setdefault(key, []).append(problem)
            refused[key] = value
        else:
            updates[key] = parsed
    if not updates:
        return text
    new_block = rewrite(block or "", node, data, updates)
    return "---\n" + new_block + "---\n" + body
