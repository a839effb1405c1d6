"""Config/split discovery agrees with datasets 5.2 itself on the same file layouts (resolved locally)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.errors import BadRequest
from agora.viewer.discovery import DiscoveryError, discover, glob_regex
from agora.viewer.where import compile_orderby, compile_where

LAYOUTS = [
    [
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/test-00000-of-00001.parquet",
        "README.md",
    ],
    ["train.csv", "test.csv", "dev.csv", "notes/readme.txt"],
    ["my_train_file.jsonl", "my-valid.jsonl", "eval.jsonl", ".hidden/x.jsonl", "__pycache__/y.jsonl"],
    ["train/a.txt", "train/b.txt", "validation/c.txt", "other/d.txt"],
    ["folder/one.csv", "folder/two.csv", "config.json"],
    ["training/part1.csv", "testing/x.csv", "data.csv"],
    ["images/train/cat/1.png", "images/train/dog/2.png", "images/test/cat/3.png"],
]


def _datasets_splits(root: Path) -> dict[str, list[str]]:
    from datasets.data_files import DataFilesDict, get_data_patterns
    from datasets.packaged_modules import _ALL_ALLOWED_EXTENSIONS

    patterns = get_data_patterns(str(root))
    files = DataFilesDict.from_patterns(
        patterns, base_path=str(root), allowed_extensions=_ALL_ALLOWED_EXTENSIONS
    )
    return {split: sorted(str(Path(f).relative_to(root)) for f in fl) for split, fl in files.items()}


@pytest.mark.parametrize("layout", LAYOUTS, ids=[str(i) for i in range(len(LAYOUTS))])
def test_default_patterns_match_datasets(tmp_path: Path, layout: list[str]) -> None:
    for p in layout:
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_bytes(b"x")
    expected = _datasets_splits(tmp_path)
    [config] = discover(sorted(layout), {})
    got = {sp.name: sorted(sp.files) for sp in config.splits}
    # datasets keeps files of any data extension here; our split list is what the module then filters.
    assert list(got) == list(expected)
    for split in expected:
        assert set(got[split]) <= set(expected[split])


def test_readme_configs_data_dir_and_default() -> None:
    files = ["cola/train.parquet", "cola/validation.parquet", "qnli/train.parquet", "qnli/test.parquet"]
    card = {
        "configs": [
            {
                "config_name": "cola",
                "data_files": [
                    {"split": "train", "path": "cola/train*"},
                    {"split": "validation", "path": "cola/validation*"},
                ],
            },
            {"config_name": "qnli", "data_dir": "qnli", "default": True},
        ]
    }
    cola, qnli = discover(files, card)
    assert (cola.name, cola.default, [s.name for s in cola.splits]) == (
        "cola",
        False,
        ["train", "validation"],
    )
    assert (qnli.name, qnli.default, [s.name for s in qnli.splits]) == ("qnli", True, ["train", "test"])
    assert qnli.splits[1].files == ["qnli/test.parquet"] and qnli.module == "parquet"
    with pytest.raises(DiscoveryError, match="several default"):
        discover(
            files,
            {
                "configs": [
                    {"config_name": "a", "default": True, "data_files": "cola/*"},
                    {"config_name": "b", "default": True, "data_files": "qnli/*"},
                ]
            },
        )


def test_glob_semantics() -> None:
    assert glob_regex("**/train[-._ 0-9]*").match("a/b/train.csv")
    assert glob_regex("**/train[-._ 0-9]*").match("train-01.csv")
    assert not glob_regex("**/train[-._ 0-9]*").match("a/trainer.csv")
    assert glob_regex("data/*").match("data/x.csv") and not glob_regex("data/*").match("data/a/x.csv")
    assert glob_regex("**").match("a/b/c")


def test_where_grammar_is_a_whitelist() -> None:
    cols = {"label", "text", 'weird "name'}
    sql, params = compile_where("label >= 2 AND (text ILIKE '%a''b%' OR \"weird \"\"name\" IS NULL)", cols)
    assert sql == '("label" >= $p0 AND (("text" ILIKE $p1 OR "weird ""name" IS NULL)))'
    assert params == [2, "%a'b%"]
    assert compile_where("label IN (1, 2) AND NOT text = 'x'", cols)[1] == [1, 2, "x"]
    assert compile_orderby("label DESC, text", cols) == '"label" DESC, "text" ASC'
    for bad in (
        "label = 1; DROP TABLE t",
        "label = (SELECT 1)",
        "nosuch = 1",
        "label = 1 --",
        "label",
        "text = 'a' UNION SELECT *",
        "label = label",
        "1 = 1",
    ):
        with pytest.raises(BadRequest):
            compile_where(bad, cols)


def test_each_config_is_read_in_its_own_format() -> None:
    files = ["tab/a.csv", "tab/b.csv", "col/part.parquet", "lines/train.jsonl", "semi/x.tsv", "notes/x.bin"]
    card = {
        "configs": [
            {"config_name": "tab", "data_files": "tab/*.csv"},
            {"config_name": "col", "data_files": "col/*"},
            {"config_name": "lines", "data_files": [{"split": "train", "path": "lines/*.jsonl"}]},
            {"config_name": "semi", "data_files": "semi/*", "sep": ";"},
            {"config_name": "none", "data_files": "notes/*"},
        ]
    }
    got = {c.name: (c.module, c.kwargs, [sp.error for sp in c.splits]) for c in discover(files, card)}
    assert got["tab"] == ("csv", {}, [None])
    assert got["col"] == ("parquet", {}, [None])
    assert got["lines"] == ("json", {}, [None])
    assert got["semi"] == ("csv", {"sep": ";"}, [None])  # the card's kwargs win over the extension's "\t"
    assert got["none"][0] == "" and "No data file matches" in str(got["none"][2][0])  # the others still work
