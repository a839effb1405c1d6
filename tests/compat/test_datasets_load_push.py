"""load_dataset and push_to_hub through the real datasets==5.2.0 against the live server."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT, Server
from .datasets_helpers import viewer, wait_converted


@pytest.fixture(scope="module")
def hf(server: Server, alice: str) -> HfApi:
    return HfApi(endpoint=ENDPOINT, token=alice)


def _rows(ds) -> list[dict]:  # type: ignore[no-untyped-def]
    return [dict(r) for r in ds]


def test_load_csv_and_jsonl(hf: HfApi, alice: str, repo_name: str) -> None:
    from datasets import load_dataset

    repo_id = f"alice/{repo_name}"
    hf.create_repo(repo_id, repo_type="dataset")
    csv = "id,text,score\n" + "".join(f"{i},row {i},{i / 4}\n" for i in range(30))
    jsonl = "".join(
        json.dumps({"id": i, "text": f"line {i}", "tags": ["a", "b"][: i % 3]}) + "\n" for i in range(12)
    )
    hf.create_commit(
        repo_id,
        [
            CommitOperationAdd("train.csv", csv.encode()),
            CommitOperationAdd("test.csv", csv.encode()[:60] + b"\n"),
        ],
        commit_message="csv",
        repo_type="dataset",
    )
    dd = load_dataset(repo_id, token=alice)
    assert set(dd) == {"train", "test"}
    assert dd["train"][5] == {"id": 5, "text": "row 5", "score": 1.25}
    streamed = load_dataset(repo_id, split="train", streaming=True, token=alice)
    assert _rows(streamed) == _rows(dd["train"])

    jrepo = f"alice/{repo_name}-jsonl"
    hf.create_repo(jrepo, repo_type="dataset")
    info = hf.upload_file(
        path_or_fileobj=jsonl.encode(), path_in_repo="data/train.jsonl", repo_id=jrepo, repo_type="dataset"
    )
    ds = load_dataset(jrepo, split="train", token=alice)
    assert ds[4] == {"id": 4, "text": "line 4", "tags": ["a"]}
    assert _rows(load_dataset(jrepo, split="train", streaming=True, token=alice)) == _rows(ds)
    # and the viewer read the same rows
    wait_converted(jrepo, info.oid)
    rows = viewer("rows", dataset=jrepo, config="default", split="train").json()["rows"]
    assert [r["row"] for r in rows] == _rows(ds)


def test_readme_configs(hf: HfApi, alice: str, repo_name: str) -> None:
    from datasets import get_dataset_config_names, load_dataset

    repo_id = f"alice/{repo_name}"
    hf.create_repo(repo_id, repo_type="dataset")
    readme = """---
configs:
- config_name: en
  data_files:
  - split: train
    path: en/train.csv
  - split: test
    path: en/test.csv
  default: true
- config_name: fr
  data_dir: fr
---
"""
    ops = [CommitOperationAdd("README.md", readme.encode())]
    for lang in ("en", "fr"):
        for split in ("train", "test"):
            ops.append(
                CommitOperationAdd(f"{lang}/{split}.csv", f"x,lang\n1,{lang}-{split}\n2,{lang}\n".encode())
            )
    info = hf.create_commit(repo_id, ops, commit_message="configs", repo_type="dataset")
    assert get_dataset_config_names(repo_id, token=alice) == ["en", "fr"]
    assert load_dataset(repo_id, split="train", token=alice)[0] == {
        "x": 1,
        "lang": "en-train",
    }  # the default config
    assert load_dataset(repo_id, "fr", split="test", token=alice)[0] == {"x": 1, "lang": "fr-test"}
    assert (
        _rows(load_dataset(repo_id, "fr", split="test", streaming=True, token=alice))[0]["lang"] == "fr-test"
    )
    splits = wait_converted(repo_id, info.oid)["splits"]
    assert [(s["config"], s["split"]) for s in splits] == [
        ("en", "train"),
        ("en", "test"),
        ("fr", "train"),
        ("fr", "test"),
    ]


def test_push_to_hub_then_stream_round_trip(hf: HfApi, alice: str, repo_name: str) -> None:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, load_dataset

    repo_id = f"alice/{repo_name}"
    features = Features(
        {"text": Value("string"), "label": ClassLabel(names=["neg", "pos"]), "n": Value("int32")}
    )
    train = Dataset.from_dict(
        {"text": [f"t{i}" for i in range(40)], "label": [i % 2 for i in range(40)], "n": list(range(40))},
        features=features,
    )
    test = Dataset.from_dict({"text": ["x", "y"], "label": [0, 1], "n": [7, 8]}, features=features)
    DatasetDict({"train": train, "test": test}).push_to_hub(repo_id, token=alice)
    streamed = load_dataset(repo_id, split="train", streaming=True, token=alice)
    assert _rows(streamed) == _rows(train)
    loaded = load_dataset(repo_id, token=alice)
    assert _rows(loaded["test"]) == _rows(test) and loaded["train"].features == features

    # With a config name, and to a branch: main is left as it was.
    other = Dataset.from_dict({"text": ["only"], "label": [1], "n": [1]}, features=features)
    other.push_to_hub(repo_id, config_name="extra", token=alice)
    other.push_to_hub(repo_id, config_name="extra", revision="dev", split="validation", token=alice)
    assert _rows(load_dataset(repo_id, "extra", split="train", token=alice)) == _rows(other)
    dev = load_dataset(repo_id, "extra", split="validation", revision="dev", token=alice)
    assert _rows(dev) == _rows(other)
    assert "dev" in [b.name for b in hf.list_repo_refs(repo_id, repo_type="dataset").branches]
    # The viewer shows push_to_hub's class labels by name.
    sha = hf.dataset_info(repo_id).sha
    wait_converted(repo_id, sha)
    first = viewer("first-rows", dataset=repo_id, config="default", split="train").json()
    label = next(f for f in first["features"] if f["name"] == "label")["type"]
    assert label["_type"] == "ClassLabel" and label["names"] == ["neg", "pos"]
    assert viewer("splits", dataset=repo_id).json()["splits"][-1] == {
        "dataset": repo_id,
        "config": "extra",
        "split": "train",
    }
