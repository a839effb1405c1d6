"""Tags as people read them (hub/tagnames.py) and the dataset tags derived from the converted data
(hub/datatags.py, cards.derive with data facts), without a server."""

from __future__ import annotations

import pytest

from agora.hub import cards, datatags, tagnames
from agora.hub import taxonomy as tx


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("es", "Spanish"),
        ("vi", "Vietnamese"),
        ("spa", "Spanish"),
        ("zh", "Chinese"),
        ("pt-BR", "Portuguese (Brazil)"),
        ("yue", "Cantonese"),
    ],
)
def test_language_codes_are_named_from_the_registry(code: str, name: str) -> None:
    assert tagnames.language_name(code) == name


@pytest.mark.parametrize("word", ["xx", "gpt", "code", "bert", "text-classification", "", "e2e-seed"])
def test_words_that_are_not_languages_have_no_name(word: str) -> None:
    assert tagnames.language_name(word) is None


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("es", "es"),
        ("ES", "es"),
        ("spa", "es"),
        ("Spanish", "es"),
        ("spanish", "es"),
        ("Español", "es"),
        ("Vietnamese", "vi"),
        ("vie", "vi"),
        ("eng", "en"),
        ("pt_BR", "pt-BR"),
        ("tl", "tl"),  # kept as the card writes it (langcodes would say `fil`)
        ("yue", "yue"),
    ],
)
def test_a_language_by_name_or_code_is_the_cards_code(given: str, code: str) -> None:
    assert tagnames.language_code(given) == code


@pytest.mark.parametrize("given", ["", "  ", "Not a language", "voice", "xx", "bert"])
def test_not_a_language_has_no_code(given: str) -> None:
    assert tagnames.language_code(given) is None


def test_task_names_are_the_hubs() -> None:
    assert tagnames.task_name("text-classification") == "Text Classification"
    assert tagnames.task_name("text-to-image") == "Text-to-Image"
    assert tagnames.task_name("image-text-to-text") == "Image-Text-to-Text"
    assert tagnames.task_name("text-to-3d") == "Text-to-3D"
    assert tagnames.task_name("fill-mask") == "Fill-Mask"
    assert tagnames.task_name("zero-shot-classification") == "Zero-Shot Classification"
    assert tagnames.task_name("graph-ml") == "Graph Machine Learning"
    assert tagnames.task_name("extractive-qa") == "Extractive QA"  # a sub-task (task_ids)
    assert tagnames.task_name("sentiment-classification") == "Sentiment Classification"
    for task in tx.TASKS:  # every task reads as words: no dashes between plain words, no lower-case start
        name = tagnames.task_name(task)
        assert name[0].isupper() and "--" not in name, (task, name)


@pytest.mark.parametrize(
    ("tag", "group", "shown"),
    [
        ("license:mit", "license", "License: mit"),
        ("dataset:squad", "dataset", "Dataset: squad"),
        ("es", "language", "Spanish"),
        ("es", None, "es"),  # a bare word is a language only in the language group
        ("text-classification", "pipeline_tag", "Text Classification"),
        ("language:vi", None, "Vietnamese"),
        ("task_categories:text-classification", None, "Text Classification"),
        ("task_ids:sentiment-classification", None, "Sentiment Classification"),
        ("size_categories:1K<n<10K", None, "1K - 10K"),
        ("size_categories:n<1K", None, "< 1K"),
        ("size_categories:n>1T", None, "> 1T"),
        ("modality:image", None, "Image"),
        ("format:csv", None, "CSV"),
        ("arxiv:1706.03762", None, "arXiv: 1706.03762"),
        ("region:us", None, "Region: us"),
        ("gpt2", "other", "gpt2"),
    ],
)
def test_labels(tag: str, group: str | None, shown: str) -> None:
    assert tagnames.label(tag, group) == shown


def test_headings() -> None:
    got = [
        tagnames.heading(g)
        for g in ("task_categories", "size_categories", "modality", "format", "language", "license")
    ]
    assert got == ["Tasks", "Sizes", "Modalities", "Formats", "Languages", "Licenses"]
    assert tagnames.heading("multilinguality") == "Multilinguality"


# ---- derived from the data ----------------------------------------------------------------------------
NUM = {"dtype": "float64", "_type": "Value"}
INT = {"dtype": "int64", "_type": "Value"}
STR = {"dtype": "string", "_type": "Value"}


def record(*splits: dict[str, object]) -> dict[str, object]:
    return {"configs": [{"name": "default", "splits": list(splits)}]}


def split(features: dict[str, object] | None, rows: int = 10, error: str | None = None) -> dict[str, object]:
    return {"name": "train", "features": features, "num_rows": rows, "error": error}


def test_modality_from_features() -> None:
    assert datatags.modalities({"a": NUM, "b": NUM, "c": INT}) == {"tabular"}
    assert datatags.modalities({"text": STR, "label": INT}) == {"text"}
    assert datatags.modalities({"image": {"_type": "Image"}, "label": INT, "x": NUM}) == {"image"}
    assert datatags.modalities({"audio": {"_type": "Audio"}, "sentence": STR}) == {"audio", "text"}
    assert datatags.modalities({"clip": {"_type": "Video"}}) == {"video"}
    nested = {"frames": {"feature": {"_type": "Image"}, "_type": "List"}, "meta": {"caption": STR}}
    assert datatags.modalities(nested) == {"image", "text"}
    assert datatags.modalities({"t": {"_type": "Translation", "languages": ["en", "fr"]}}) == {"text"}


def test_facts_of_a_record() -> None:
    f = datatags.facts(record(split({"a": NUM, "b": NUM}, 1000), split({"a": NUM, "b": NUM}, 500)))
    assert f == datatags.DataFacts(frozenset({"tabular"}), 1500)
    partial = datatags.facts(record(split({"a": STR}, 10), split(None, 0, "bad file")))
    assert partial == datatags.DataFacts(frozenset({"text"}), None)  # rows unknown: a split failed
    assert datatags.facts(record(split(None, 0, "bad"))) is None
    assert datatags.facts(None) is None and datatags.facts({"error": "no data"}) is None


@pytest.mark.parametrize(
    ("n", "cat"),
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1000, "1K<n<10K"),
        (1500, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (2_500_000, "1M<n<10M"),
        (10**13, "n>1T"),
    ],
)
def test_size_category(n: int, cat: str) -> None:
    assert datatags.size_category(n) == cat


def _dataset_tags(card: str, files: list[str], data: datatags.DataFacts | None) -> set[str]:
    return set(cards.derive("dataset", cards.parse(card), files, data_facts=data).tags)


def test_dataset_tags_from_the_data() -> None:
    numbers = datatags.DataFacts(frozenset({"tabular"}), 1500)
    sentences = datatags.DataFacts(frozenset({"text"}), 20)
    tags = _dataset_tags("", ["data.csv"], numbers)
    assert {"modality:tabular", "size_categories:1K<n<10K", "format:csv"} <= tags
    tags = _dataset_tags("", ["data.csv"], sentences)
    assert "modality:text" in tags and "modality:tabular" not in tags  # the data, not the extension
    # The card's own size wins.
    tags = _dataset_tags("---\nsize_categories:\n- 10K<n<100K\n---\n", ["data.csv"], numbers)
    assert "size_categories:10K<n<100K" in tags and "size_categories:1K<n<10K" not in tags
    # Media files add their modality to what the features say (metadata.csv beside images).
    tags = _dataset_tags("", ["train/a.png", "train/metadata.csv"], sentences)
    assert {"modality:image", "modality:text"} <= tags
    # Before the conversion: the extensions' guess, as before.
    assert "modality:tabular" in _dataset_tags("", ["data.csv"], None)
