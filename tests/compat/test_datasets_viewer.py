"""The dataset viewer against a live server: a GLUE-like repo (configs cola and qnli, three splits each),
the viewer API shapes, the parquet export under refs/convert/parquet, load_dataset of one config, the UI.
"""

from __future__ import annotations

import io

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT, Server
from .datasets_helpers import viewer, wait_converted

GLUE_README = """---
license: cc-by-4.0
task_categories:
- text-classification
language:
- en
configs:
- config_name: cola
  data_files:
  - split: train
    path: cola/train-*
  - split: validation
    path: cola/validation-*
  - split: test
    path: cola/test-*
- config_name: qnli
  data_files:
  - split: train
    path: qnli/train-*
  - split: validation
    path: qnli/validation-*
  - split: test
    path: qnli/test-*
---
# GLUE-like

Two subsets, cola and qnli.
"""

SIZES = {"train": 250, "validation": 120, "test": 60}
HX = {"HX-Request": "true"}  # what htmx sends; without it /viewer redirects to the whole page


def cola(split: str, n: int) -> pa.Table:
    return pa.table(
        {
            "sentence": [f"cola {split} sentence number {i}" for i in range(n)],
            "label": pa.array([i % 2 for i in range(n)], pa.int64()),
            "idx": pa.array(range(n), pa.int32()),
        }
    )


def qnli(split: str, n: int) -> pa.Table:
    return pa.table(
        {
            "question": [f"What is qnli {split} question {i}?" for i in range(n)],
            "sentence": [f"Answer {i} for {split}." + (" needle" if i == 7 else "") for i in range(n)],
            "label": pa.array([i % 2 for i in range(n)], pa.int64()),
            "idx": pa.array(range(n), pa.int32()),
        }
    )


def parquet_bytes(t: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(t, buf, row_group_size=50)
    return buf.getvalue()


@pytest.fixture(scope="module")
def glue(server: Server, alice: str) -> tuple[str, str]:
    api = HfApi(endpoint=ENDPOINT, token=alice)
    repo_id = "alice/glue-like"
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    ops = [CommitOperationAdd("README.md", GLUE_README.encode())]
    for cfg, make in (("cola", cola), ("qnli", qnli)):
        for split, n in SIZES.items():
            ops.append(
                CommitOperationAdd(f"{cfg}/{split}-00000-of-00001.parquet", parquet_bytes(make(split, n)))
            )
    info = api.create_commit(repo_id, ops, commit_message="GLUE-like data", repo_type="dataset")
    wait_converted(repo_id, info.oid)
    return repo_id, info.oid


def test_splits_lists_both_configs(glue: tuple[str, str]) -> None:
    repo_id, sha = glue
    r = viewer("splits", dataset=repo_id)
    assert r.status_code == 200
    assert r.headers["x-revision"] == sha
    got = [(s["config"], s["split"]) for s in r.json()["splits"]]
    assert got == [(c, s) for c in ("cola", "qnli") for s in ("train", "validation", "test")]
    assert r.json()["failed"] == []
    only = viewer("splits", dataset=repo_id, config="qnli").json()["splits"]
    assert {s["config"] for s in only} == {"qnli"}


def test_first_rows_and_rows_page_through(glue: tuple[str, str]) -> None:
    repo_id, _ = glue
    r = viewer("first-rows", dataset=repo_id, config="cola", split="train")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["name"] for f in body["features"]] == ["sentence", "label", "idx"]
    assert body["features"][0]["type"] == {"dtype": "string", "_type": "Value"}
    assert len(body["rows"]) == 100 and body["truncated"] is True
    assert body["rows"][3] == {
        "row_idx": 3,
        "row": {"sentence": "cola train sentence number 3", "label": 1, "idx": 3},
        "truncated_cells": [],
    }
    seen = []
    offset = 0
    while True:
        page = viewer(
            "rows", dataset=repo_id, config="qnli", split="validation", offset=offset, length=37
        ).json()
        assert page["num_rows_total"] == SIZES["validation"]
        if not page["rows"]:
            break
        seen += [row["row"]["idx"] for row in page["rows"]]
        assert [row["row_idx"] for row in page["rows"]] == list(range(offset, offset + len(page["rows"])))
        offset += 37
    assert seen == list(range(SIZES["validation"]))
    assert viewer("rows", dataset=repo_id, config="qnli", split="validation", length=101).status_code == 400
    assert viewer("rows", dataset=repo_id, config="nope", split="train").status_code == 404


def test_search_filter_statistics(glue: tuple[str, str]) -> None:
    repo_id, _ = glue
    r = viewer("search", dataset=repo_id, config="qnli", split="train", query="NEEDLE")
    assert r.status_code == 200, r.text
    assert r.json()["num_rows_total"] == 1 and r.json()["rows"][0]["row_idx"] == 7
    r = viewer(
        "filter",
        dataset=repo_id,
        config="cola",
        split="test",
        where='"label" = 1 AND idx < 10',
        orderby="idx DESC",
    )
    assert r.status_code == 200, r.text
    assert [x["row"]["idx"] for x in r.json()["rows"]] == [9, 7, 5, 3, 1]
    assert r.json()["num_rows_total"] == 5
    for bad in (
        "label = 1; DROP TABLE x",
        "label = 1 OR 1=1) --",
        "nosuch = 1",
        "label = (SELECT 1)",
        "sentence = 'a' UNION SELECT 1",
    ):
        resp = viewer("filter", dataset=repo_id, config="cola", split="test", where=bad)
        assert resp.status_code == 400, (bad, resp.text)
    # A quote inside a value is data, not syntax.
    r = viewer("filter", dataset=repo_id, config="cola", split="test", where="sentence = 'it''s; --'")
    assert r.status_code == 200 and r.json()["num_rows_total"] == 0
    stats = viewer("statistics", dataset=repo_id, config="cola", split="train").json()
    assert stats["num_examples"] == SIZES["train"]
    by_name = {s["column_name"]: s for s in stats["statistics"]}
    assert by_name["idx"]["column_type"] == "int"
    assert by_name["idx"]["column_statistics"]["max"] == SIZES["train"] - 1
    assert sum(by_name["idx"]["column_statistics"]["histogram"]["hist"]) == SIZES["train"]


def test_parquet_size_info_is_valid(glue: tuple[str, str], alice: str) -> None:
    repo_id, sha = glue
    assert viewer("is-valid", dataset=repo_id).json() == {
        "preview": True,
        "viewer": True,
        "search": True,
        "filter": True,
        "statistics": True,
    }
    files = viewer("parquet", dataset=repo_id).json()["parquet_files"]
    assert {(f["config"], f["split"], f["filename"]) for f in files} == {
        (c, s, "0000.parquet") for c in ("cola", "qnli") for s in SIZES
    }
    # The export is a real git ref: listed under converts, and its files download as parquet.
    api = HfApi(endpoint=ENDPOINT, token=alice)
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    assert [c.ref for c in refs.converts] == ["refs/convert/parquet"]
    url = next(f["url"] for f in files if f["config"] == "qnli" and f["split"] == "validation")
    data = httpx.get(url, timeout=30, follow_redirects=True).content  # S3 mode: a 302 to the store
    assert (
        pq.read_table(io.BytesIO(data))
        .select(["question", "sentence", "label", "idx"])
        .equals(qnli("validation", SIZES["validation"]))
    )
    tree = api.list_repo_files(repo_id, repo_type="dataset", revision="refs/convert/parquet")
    assert "cola/train/0000.parquet" in tree
    size = viewer("size", dataset=repo_id).json()["size"]
    assert size["dataset"]["num_rows"] == 2 * sum(SIZES.values())
    assert {(s["config"], s["split"]): s["num_rows"] for s in size["splits"]}[("qnli", "test")] == SIZES[
        "test"
    ]
    info = viewer("info", dataset=repo_id, config="qnli").json()["dataset_info"]
    assert (
        info["config_name"] == "qnli" and info["splits"]["validation"]["num_examples"] == SIZES["validation"]
    )
    assert set(info["features"]) == {"question", "sentence", "label", "idx"}


def test_datasets_server_host_alias(glue: tuple[str, str]) -> None:
    repo_id, sha = glue
    r = httpx.get(
        f"{ENDPOINT}/splits",
        params={"dataset": repo_id},
        headers={"host": "datasets-server.127.0.0.1"},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["x-revision"] == sha
    assert len(r.json()["splits"]) == 6
    # What load_dataset reads there when HF_ENDPOINT is a localhost URL: /info, with X-Revision.
    r = httpx.get(
        f"{ENDPOINT}/info",
        params={"dataset": repo_id},
        headers={"host": "datasets-server.localhost"},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["x-revision"] == sha
    body = r.json()
    assert body["partial"] is False and body["pending"] == [] and body["failed"] == []
    assert body["dataset_info"]["cola"]["splits"]["train"]["num_examples"] == SIZES["train"]


def test_load_dataset_one_config(glue: tuple[str, str]) -> None:
    from datasets import load_dataset

    repo_id, _ = glue
    ds = load_dataset(repo_id, "qnli", split="validation")
    assert ds.data.table.select(["question", "sentence", "label", "idx"]).equals(
        qnli("validation", SIZES["validation"])
    )
    # The parquet export loads too, config by config (its README lists the shards of each).
    export = load_dataset(repo_id, "cola", split="test", revision="refs/convert/parquet")
    assert export.data.table.select(["sentence", "label", "idx"]).equals(cola("test", SIZES["test"]))


def test_private_dataset_viewer_is_404(server: Server, alice: str, bob: str, repo_name: str) -> None:
    api = HfApi(endpoint=ENDPOINT, token=alice)
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, repo_type="dataset", private=True)
    info = api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n3,4\n", path_in_repo="train.csv", repo_id=repo_id, repo_type="dataset"
    )
    wait_converted(repo_id, info.oid, token=alice)
    assert (
        viewer("rows", alice, dataset=repo_id, config="default", split="train").json()["num_rows_total"] == 2
    )
    for token in (None, bob):
        for ep in ("splits", "rows", "parquet", "is-valid"):
            r = viewer(ep, token, dataset=repo_id, config="default", split="train")
            assert r.status_code == 404, (ep, r.text)
            assert "a,b" not in r.text
    for path in ("viewer", "viewer/cell?config=default&split=train&row=0&column=a"):
        assert httpx.get(f"{ENDPOINT}/datasets/{repo_id}/{path}", headers=HX, timeout=30).status_code == 404


def test_ui_selector_switches_subsets(glue: tuple[str, str]) -> None:
    repo_id, _ = glue
    page = httpx.get(f"{ENDPOINT}/datasets/{repo_id}", timeout=30).text
    assert 'id="viewer"' in page
    frag = httpx.get(
        f"{ENDPOINT}/datasets/{repo_id}/viewer",
        params={"config": "cola", "split": "train"},
        headers=HX,
        timeout=30,
    ).text
    assert "cola train sentence number 0" in frag and "250 rows" in frag
    assert '<option value="qnli"' in frag
    frag = httpx.get(
        f"{ENDPOINT}/datasets/{repo_id}/viewer",
        params={"config": "qnli", "split": "test"},
        headers=HX,
        timeout=30,
    ).text
    assert "What is qnli test question 0?" in frag and "cola train" not in frag
    frag = httpx.get(
        f"{ENDPOINT}/datasets/{repo_id}/viewer",
        params={"config": "qnli", "split": "train", "q": "needle"},
        headers=HX,
        timeout=30,
    ).text
    assert "Answer 7 for train. needle" in frag and "1 row" in frag
    # A reload of the URL htmx pushed shows the whole page on the same view.
    r = httpx.get(
        f"{ENDPOINT}/datasets/{repo_id}/viewer",
        params={"config": "qnli", "split": "test"},
        follow_redirects=True,
        timeout=30,
    )
    assert "<html" in r.text and "What is qnli test question 0?" in r.text
