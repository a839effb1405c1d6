"""Dataset tags derived from the data itself, once the viewer has converted it (viewer/pipeline.py):

- `modality:` from the split's features (the datasets `Features` JSON the conversion records): an Image,
  Audio or Video feature anywhere -> image / audio / video; a string column -> text; at least two numeric
  top-level columns and no media -> tabular. The Hub's dataset-viewer decides the same way
  (`dataset-modalities`), so a CSV of numbers is tabular and a CSV of sentences is text, whatever the
  extension says;
- `size_categories:` from the converted row count of every config and split (n<1K, 1K<n<10K, ...), used
  only when the card does not state one.

Pure: reads the `viewer_results` record's `data`, returns facts; cards.derive turns them into tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import taxonomy as tx

MEDIA = {"Image": "image", "Audio": "audio", "Video": "video"}
_NUMERIC = ("int", "uint", "float")


@dataclass(frozen=True)
class DataFacts:
    """What the converted data says: its modalities, and its row count when every split was converted."""

    modalities: frozenset[str]
    num_rows: int | None


def facts(record: dict[str, Any] | None) -> DataFacts | None:
    """The facts of a conversion record; None when no split was converted (nothing known from the data)."""
    if not isinstance(record, dict):
        return None
    splits = [sp for c in record.get("configs") or [] if isinstance(c, dict) for sp in c.get("splits") or []]
    done = [sp for sp in splits if isinstance(sp, dict) and isinstance(sp.get("features"), dict)]
    if not done:
        return None
    found: set[str] = set()
    for sp in done:
        found |= modalities(sp["features"])
    complete = len(done) == len(splits) and not any(sp.get("error") for sp in done)
    rows = sum(int(sp.get("num_rows") or 0) for sp in done) if complete else None
    return DataFacts(frozenset(found), rows)


def modalities(features: dict[str, Any]) -> set[str]:
    """The modalities of one split's features (see the module's docstring)."""
    found = {m for f in _walk(features) for m in [_modality(f)] if m}
    numeric = sum(1 for f in features.values() if _is_numeric(f))
    if not found & {"image", "audio", "video"} and numeric >= 2:
        found.add("tabular")
    return found


def _walk(feature: Any) -> Iterator[dict[str, Any]]:
    """Every feature dict inside `feature` (nested dicts, lists, `List`/`Sequence` features)."""
    if isinstance(feature, list):
        for x in feature:
            yield from _walk(x)
    elif isinstance(feature, dict):
        if "_type" in feature:
            yield feature
            inner = feature.get("feature")
            if inner is not None:
                yield from _walk(inner)
        else:
            for x in feature.values():
                yield from _walk(x)


def _modality(f: dict[str, Any]) -> str | None:
    t = f.get("_type")
    if t in MEDIA:
        return MEDIA[str(t)]
    if t == "Value" and str(f.get("dtype")) in ("string", "large_string"):
        return "text"
    if t in ("Translation", "TranslationVariableLanguages"):
        return "text"
    return None


def _is_numeric(f: Any) -> bool:
    return isinstance(f, dict) and f.get("_type") == "Value" and str(f.get("dtype")).startswith(_NUMERIC)


def size_category(n: int) -> str:
    """The Hub's size category of `n` rows: 999 -> n<1K, 1000 and 1500 -> 1K<n<10K, ... n>1T."""
    bound = 1000
    for cat in tx.SIZE_CATEGORIES[:-1]:
        if n < bound:
            return cat
        bound *= 10
    return tx.SIZE_CATEGORIES[-1]
