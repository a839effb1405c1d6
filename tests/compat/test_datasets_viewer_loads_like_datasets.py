"""The viewer shows what `datasets` loads: for awkward real files, the viewer's /info and /rows against
`datasets.load_dataset` (5.2, through Agora: HF_ENDPOINT) on the same repo — the same column names and
features, the same row count, the same first rows (compared after a JSON round trip).

The files: scikit-learn's own CSVs (iris: numeric header names; wine: a first line of 5 fields over rows of
14; digits: gzip, 64 columns named by duplicate numbers plus the label), a semicolon-separated CSV (the
card's `sep`, and features the card's `dataset_info` declares), JSON Lines without a card, and one repo whose
configs are CSV, Parquet and JSON Lines.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sklearn
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT, Server
from .datasets_helpers import viewer, wait_converted

SKLEARN_DATA = Path(sklearn.__file__).parent / "datasets" / "data"
FIRST = 100  # rows compared one by one (the first /rows page)

SK_README = """---
configs:
- config_name: iris
  data_files: iris.csv
- config_name: wine
  data_files: wine_data.csv
- config_name: digits
  data_files: digits.csv.gz
- config_name: semicolon
  data_files: semi/people.csv
  sep: ";"
dataset_info:
- config_name: semicolon
  features:
  - name: id
    dtype: int32
  - name: name
    dtype: string
  - name: score
    dtype: float32
  - name: city
    dtype: string
---
# scikit-learn's CSVs
"""
SEMICOLON = (
    'id;name;score;city\n1;Ana María;3.5;Köln\n2;"Bob; Jr";4;"São Paulo"\n3;Zoë;;Hà Nội\n4;Đặng;2.25;\n'
)

MIXED_README = """---
configs:
- config_name: tab
  data_files: tab/*.csv
- config_name: col
  data_files: col/*.parquet
- config_name: lines
  data_files:
  - split: train
    path: lines/train.jsonl
  - split: broken
    path: lines/broken.jsonl
---
"""


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _parquet() -> bytes:
    buf = io.BytesIO()
    table = pa.table(
        {
            "id": pa.array(range(40), pa.int32()),
            "vec": pa.array([[float(i), i / 2] for i in range(40)], pa.list_(pa.float32())),
            "tag": pa.array([None if i % 7 == 0 else f"t{i % 3}" for i in range(40)], pa.string()),
        }
    )
    pq.write_table(table, buf, row_group_size=16)
    return buf.getvalue()


def _rows(ds: Any) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(ds[i])) for i in range(min(FIRST, ds.num_rows))]


def _same(repo_id: str, config: str, split: str, ds: Any) -> None:
    """The viewer's answers for (config, split) against the loaded `ds`."""
    info = viewer("info", dataset=repo_id, config=config)
    assert info.status_code == 200, info.text
    dataset_info = info.json()["dataset_info"]
    assert list(dataset_info["features"]) == ds.column_names, (config, dataset_info["features"])
    assert dataset_info["features"] == ds.features.to_dict()
    assert dataset_info["splits"][split]["num_examples"] == ds.num_rows
    r = viewer("rows", dataset=repo_id, config=config, split=split, offset=0, length=FIRST)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["name"] for f in body["features"]] == ds.column_names
    assert body["num_rows_total"] == ds.num_rows
    assert [row["row"] for row in body["rows"]] == _rows(ds)


@pytest.fixture(scope="module")
def hf(server: Server, alice: str) -> HfApi:
    return HfApi(endpoint=ENDPOINT, token=alice)


def test_sklearn_csvs_and_a_semicolon_csv(hf: HfApi, alice: str, repo_name: str) -> None:
    from datasets import load_dataset

    repo_id = f"alice/{repo_name}"
    hf.create_repo(repo_id, repo_type="dataset")
    ops = [CommitOperationAdd("README.md", SK_README.encode())]
    ops += [
        CommitOperationAdd(name, (SKLEARN_DATA / name).read_bytes())
        for name in ("iris.csv", "wine_data.csv", "digits.csv.gz")
    ]
    ops.append(CommitOperationAdd("semi/people.csv", SEMICOLON.encode()))
    info = hf.create_commit(repo_id, ops, commit_message="sklearn CSVs", repo_type="dataset")
    wait_converted(repo_id, info.oid, timeout=300)
    sizes = {}
    for config in ("iris", "wine", "digits", "semicolon"):
        ds = load_dataset(repo_id, config, split="train", token=alice)
        _same(repo_id, config, "train", ds)
        sizes[config] = (ds.num_rows, len(ds.column_names))
    # The cases of the issue, spelled out: wine is read (its ragged first line names 5 of 14 columns),
    # digits keeps its 65 columns (duplicate header names are not collapsed), `sep` splits at semicolons.
    assert sizes == {"iris": (150, 5), "wine": (178, 14), "digits": (1796, 65), "semicolon": (4, 4)}
    semicolon = viewer("info", dataset=repo_id, config="semicolon").json()["dataset_info"]["features"]
    assert semicolon["id"] == {"dtype": "int32", "_type": "Value"}  # the card's, as load_dataset casts

    # The other endpoints work on what was converted: statistics of every column, search, the export.
    stats = viewer("statistics", dataset=repo_id, config="digits", split="train")
    assert stats.status_code == 200 and stats.json()["num_examples"] == 1796, stats.text
    assert len(stats.json()["statistics"]) == 65
    found = viewer("search", dataset=repo_id, config="semicolon", split="train", query="Jr")
    assert found.status_code == 200 and [r["row"]["name"] for r in found.json()["rows"]] == ["Bob; Jr"]
    files = viewer("parquet", dataset=repo_id).json()["parquet_files"]
    assert sorted(f["config"] for f in files) == ["digits", "iris", "semicolon", "wine"]
    wine = load_dataset(repo_id, "wine", split="train", revision="refs/convert/parquet", token=alice)
    assert wine.column_names == load_dataset(repo_id, "wine", split="train", token=alice).column_names


def test_jsonl_without_a_card(hf: HfApi, alice: str, repo_name: str) -> None:
    from datasets import load_dataset

    repo_id = f"alice/{repo_name}"
    hf.create_repo(repo_id, repo_type="dataset")
    train = [
        {"id": i, "text": f"línea {i}", "score": i / 3 if i % 2 else i, "tags": ["a", "b"][: i % 3]}
        for i in range(150)
    ]
    train[5]["meta"] = {"source": "web", "ok": True}  # a key only some rows have
    test = [{"id": i, "text": None if i == 2 else f"t{i}", "score": 1.5, "tags": []} for i in range(7)]
    info = hf.create_commit(
        repo_id,
        [
            CommitOperationAdd("data/train.jsonl", _jsonl(train)),
            CommitOperationAdd("data/test.jsonl", _jsonl(test)),
        ],
        commit_message="jsonl",
        repo_type="dataset",
    )
    wait_converted(repo_id, info.oid)
    dd = load_dataset(repo_id, token=alice)
    for split in ("train", "test"):
        _same(repo_id, "default", split, dd[split])


def test_configs_of_three_formats_in_one_repo(hf: HfApi, alice: str, repo_name: str) -> None:
    """Each config is read with its own format. datasets 5.2's `load_dataset(repo, config)` infers one
    format from the first config for all of them, so the reference for each config is datasets' builder of
    that config's format over the same files, read through Agora (hf://)."""
    from datasets import load_dataset

    repo_id = f"alice/{repo_name}"
    hf.create_repo(repo_id, repo_type="dataset")
    lines = [{"q": f"question {i}?", "a": [i, i + 1], "ok": i % 2 == 0} for i in range(30)]
    info = hf.create_commit(
        repo_id,
        [
            CommitOperationAdd("README.md", MIXED_README.encode()),
            CommitOperationAdd("tab/a.csv", b"x,x,y\n1,2,a\n3,4,b\n"),  # a duplicate header name
            CommitOperationAdd("col/part.parquet", _parquet()),
            CommitOperationAdd("lines/train.jsonl", _jsonl(lines)),
            CommitOperationAdd("lines/broken.jsonl", b'{"q": "fine", "a": [1], "ok": true}\n{"q": oops\n'),
        ],
        commit_message="three formats",
        repo_type="dataset",
    )
    wait_converted(repo_id, info.oid)
    base = f"hf://datasets/{repo_id}@{info.oid}"
    for config, module, path in (
        ("tab", "csv", "tab/a.csv"),
        ("col", "parquet", "col/part.parquet"),
        ("lines", "json", "lines/train.jsonl"),
    ):
        ds = load_dataset(module, data_files=f"{base}/{path}", split="train", token=alice)
        _same(repo_id, config, "train", ds)
    # The first config is also what load_dataset(repo, config) reads.
    _same(repo_id, "tab", "train", load_dataset(repo_id, "tab", split="train", token=alice))

    # A split that cannot be converted gets the Hub viewer's error answer; the config's other split works.
    r = viewer("rows", dataset=repo_id, config="lines", split="broken")
    assert r.status_code == 500 and r.headers["x-error-code"] == "DatasetGenerationError", r.text
    body = r.json()
    assert "lines/broken.jsonl" in body["error"] and body["cause_exception"] and body["cause_message"]
    with pytest.raises(Exception, match="generating the dataset"):  # as load_dataset fails on it
        load_dataset("json", data_files=f"{base}/lines/broken.jsonl", split="train", token=alice)
    assert viewer("rows", dataset=repo_id, config="lines", split="train").status_code == 200
    splits = viewer("splits", dataset=repo_id).json()
    assert [(s["config"], s["split"]) for s in splits["splits"]] == [
        ("tab", "train"),
        ("col", "train"),
        ("lines", "train"),
        ("lines", "broken"),
    ]
    assert splits["failed"] == []  # a config fails only when it cannot be resolved at all
