"""Tags as people read them: the one place that turns a raw tag into words.

The stored tags stay the raw strings the API returns (`es`, `license:mit`, `task_categories:translation`);
only what a page shows goes through here. Language names come from the `langcodes` tables (its
`language_data` package holds the names of the IANA registry's languages), never from a hand list, so a
code the card uses is named as the registry names it. Task names are the Hub's (huggingface.js
`PIPELINE_DATA`): a rule ("text-to-image" -> "Text-to-Image") plus the few names it does not produce
(`taxonomy.TASK_NAMES`).

Pure functions, cached: a page names the same few hundred tags again and again.
"""

from __future__ import annotations

import re
from functools import lru_cache

import langcodes

from . import taxonomy as tx

# The headings a dataset page groups its tags under, and the facet sidebars' titles (by tag prefix).
HEADINGS: dict[str, str] = {
    "pipeline_tag": "Tasks",
    "task_categories": "Tasks",
    "task_ids": "Tasks",
    "size_categories": "Sizes",
    "modality": "Modalities",
    "format": "Formats",
    "language": "Languages",
    "license": "Licenses",
    "library": "Libraries",
    "dataset": "Datasets",
    "other": "Tags",
}
# How a tag's prefix reads before its value when the tag stands alone (`license:mit` -> "License: mit").
PREFIX_WORDS: dict[str, str] = {"arxiv": "arXiv", "doi": "DOI", "base_model": "Base model"}
MODALITY_NAMES: dict[str, str] = {"timeseries": "Time series", "3d": "3D"}
FORMAT_NAMES: dict[str, str] = {
    "csv": "CSV",
    "json": "JSON",
    "parquet": "Parquet",
    "text": "Text",
    "arrow": "Arrow",
    "imagefolder": "Image folder",
    "audiofolder": "Audio folder",
    "webdataset": "WebDataset",
}
_WORDS = {"to": "to", "3d": "3D", "ml": "ML", "qa": "QA", "rdf": "RDF"}
_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")
_SIZE = re.compile(r"(?:n<(\w+)|(\w+)<n<(\w+)|n>(\w+))")


def task_name(task: str) -> str:
    """A task id as the Hub names it: text-generation -> Text Generation, text-to-image -> Text-to-Image,
    fill-mask -> Fill-Mask. Sub-tasks (task_ids) follow the same rule (extractive-qa -> Extractive QA)."""
    known = tx.TASK_NAMES.get(task)
    if known:
        return known
    words = [_WORDS.get(w, w[:1].upper() + w[1:]) for w in task.split("-")]
    return ("-" if "to" in words and task in tx.TASK_SET else " ").join(words)


@lru_cache(maxsize=4096)
def language_name(code: str) -> str | None:
    """The name of a language code (`es` -> "Spanish", `vie` -> "Vietnamese", `pt-BR` -> "Portuguese
    (Brazil)"); None when the registry does not know it (a word in `tags:`, a made-up code)."""
    if not _CODE.fullmatch(code):
        return None
    try:
        lang = langcodes.Language.get(code)
        if not lang.is_valid() or not lang.language:
            return None
        name = lang.display_name()
    except (LookupError, ValueError):
        return None
    return None if name.startswith("Unknown language") else name


@lru_cache(maxsize=4096)
def language_code(text: str) -> str | None:
    """The code a card uses for a language given by name or by any of its codes: "Spanish", "es", "spa",
    "ES" -> "es" (ISO 639-1 where the language has one, as the Hub's cards write it); "pt_BR" -> "pt-BR".
    A two-letter code is kept as given (`tl` stays `tl`, which langcodes would rename `fil`). None: not a
    language."""
    t = text.strip()
    if not t:
        return None
    if _CODE.fullmatch(t):
        c = t.replace("_", "-")
        base, _, rest = c.partition("-")
        if language_name(c) is None:
            return None
        if len(base) == 2:
            return base.lower() + ("-" + rest if rest else "")
        return str(langcodes.standardize_tag(c))
    try:
        return str(langcodes.find(t).to_tag())
    except LookupError:
        return None


def size_name(value: str) -> str:
    """A size category as a range: 1K<n<10K -> "1K - 10K", n<1K -> "< 1K", n>1T -> "> 1T"."""
    m = _SIZE.fullmatch(value)
    if not m:
        return value
    below, low, high, above = m.groups()
    if below:
        return f"< {below}"
    if above:
        return f"> {above}"
    return f"{low} - {high}"


def value_name(group: str, value: str) -> str:
    """How a tag's value reads under its heading (facet sidebars, a dataset page's groups)."""
    if group in ("pipeline_tag", "task_categories", "task_ids"):
        return task_name(value)
    if group == "language":
        return language_name(value) or value
    if group == "size_categories":
        return size_name(value)
    if group == "modality":
        return MODALITY_NAMES.get(value, value[:1].upper() + value[1:])
    if group == "format":
        return FORMAT_NAMES.get(value, value)
    return value


def prefix_words(prefix: str) -> str:
    """A tag prefix as words: license -> "License", task_categories -> "Task categories"."""
    known = PREFIX_WORDS.get(prefix)
    if known:
        return known
    words = prefix.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def label(tag: str, group: str | None = None) -> str:
    """A tag as a chip shows it on its own: `license:mit` -> "License: mit", `es` (a language) -> "Spanish",
    `text-classification` (a task) -> "Text Classification", `language:vi` -> "Vietnamese",
    `dataset:squad` -> "Dataset: squad". `group` is the tag's group when the caller knows it
    (index.facet_group): a model's bare `es` is a language only there."""
    if group in ("pipeline_tag", "language") and ":" not in tag:
        return value_name(group, tag)
    prefix, sep, value = tag.partition(":")
    if not sep or not value:
        return tag
    if prefix in ("task_categories", "task_ids", "language", "size_categories", "modality", "format"):
        return value_name(prefix, value)
    return f"{prefix_words(prefix)}: {value}"


def heading(group: str) -> str:
    """The heading of a group of tags (a tag prefix, or the facet group of a model's tags)."""
    return HEADINGS.get(group) or prefix_words(group)
