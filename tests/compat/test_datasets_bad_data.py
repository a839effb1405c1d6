"""Bad data: a malformed CSV, a corrupt parquet, one huge row, a zip bomb. The bad split shows a clear
error (the Hub viewer's answer: 500, X-Error-Code DatasetGenerationError, the cause in the body); the other
splits of the same dataset and the rest of the Hub keep working.
"""

from __future__ import annotations

import io
import zipfile

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT, Server
from .datasets_helpers import viewer, wait_converted


def _error(repo_id: str, config: str, split: str, cause: str = "") -> str:
    """The Hub viewer's answer for a split its worker could not convert: 500, DatasetGenerationError, and
    the cause (its exception's name and message) in the body."""
    r = viewer("rows", dataset=repo_id, config=config, split=split)
    assert r.status_code == 500 and r.headers["x-error-code"] == "DatasetGenerationError", r.text
    body = r.json()
    assert body["cause_exception"] == (cause or body["cause_exception"]) and body["cause_message"], body
    return str(body["error"])


def _ok(repo_id: str, config: str, split: str, rows: int) -> None:
    r = viewer("rows", dataset=repo_id, config=config, split=split)
    assert r.status_code == 200, r.text
    assert r.json()["num_rows_total"] == rows


def test_bad_splits_fail_alone(server: Server, alice: str, repo_name: str) -> None:
    api = HfApi(endpoint=ENDPOINT, token=alice)
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, repo_type="dataset")
    good = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(10)), "y": [str(i) for i in range(10)]}), good)
    huge = b'{"x": 1, "y": "' + b"a" * (20 * 1024 * 1024) + b'"}\n'
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("data.csv", "w") as fh:
            fh.write(b"x,y\n")
            zero = b"0,0\n" * (1024 * 1024)
            for _ in range(25):  # 100 MB of rows in ~100 KB
                fh.write(zero)
    # datasets infers one format from the first config, so each format's cases get their own repo.
    readme = """---
configs:
- config_name: csv
  data_files:
  - split: train
    path: csv/good.csv
  - split: malformed
    path: csv/bad.csv
- config_name: zipped
  data_files:
  - split: train
    path: zz/bomb.zip
---
"""
    ops = [
        CommitOperationAdd("README.md", readme.encode()),
        CommitOperationAdd("csv/good.csv", b"x,y\n1,a\n2,b\n3,c\n"),
        CommitOperationAdd("csv/bad.csv", b'x,y\n1,a\n2,b,c,d\n"unterminated\n'),
        CommitOperationAdd("zz/bomb.zip", bomb.getvalue()),
    ]
    info = api.create_commit(repo_id, ops, commit_message="csv cases", repo_type="dataset")
    wait_converted(repo_id, info.oid, timeout=240)
    _ok(repo_id, "csv", "train", 3)
    msg = _error(repo_id, "csv", "malformed", "ParserError")  # pandas' error, through datasets' csv builder
    assert "csv/bad.csv" in msg and "Expected 2 fields" in msg
    msg = _error(repo_id, "zipped", "train", "DataError")
    assert "zip bomb" in msg

    pq_repo = f"{repo_id}-pq"
    api.create_repo(pq_repo, repo_type="dataset")
    info = api.create_commit(
        pq_repo,
        [
            CommitOperationAdd("pq/good.parquet", good.getvalue()),
            CommitOperationAdd(
                "pq/corrupt.parquet", good.getvalue()[:40] + b"\x00garbage" * 50 + good.getvalue()[-40:]
            ),
            CommitOperationAdd(
                "README.md",
                b"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                b"    path: pq/good.parquet\n  - split: corrupt\n    path: pq/corrupt.parquet\n---\n",
            ),
        ],
        commit_message="parquet cases",
        repo_type="dataset",
    )
    wait_converted(pq_repo, info.oid)
    _ok(pq_repo, "default", "train", 10)
    msg = _error(pq_repo, "default", "corrupt")
    assert "pq/corrupt.parquet" in msg

    js_repo = f"{repo_id}-json"
    api.create_repo(js_repo, repo_type="dataset")
    info = api.create_commit(
        js_repo,
        [
            CommitOperationAdd("train.jsonl", b'{"x": 1, "y": "a"}\n{"x": 2, "y": "b"}\n'),
            CommitOperationAdd("test.jsonl", huge),
        ],
        commit_message="json cases",
        repo_type="dataset",
    )
    wait_converted(js_repo, info.oid)
    _ok(js_repo, "default", "train", 2)
    msg = _error(js_repo, "default", "test", "DataError")
    assert "larger than" in msg and "test.jsonl" in msg

    # The dataset page shows the error on that split, and the rest of the Hub answers as usual.
    page = httpx.get(
        f"{ENDPOINT}/datasets/{js_repo}", params={"config": "default", "split": "test"}, timeout=30
    ).text
    assert 'class="error-text split-error"' in page and "larger than" in page
    assert viewer("is-valid", dataset=js_repo).json()["viewer"] is True
    assert api.dataset_info(js_repo).sha == info.oid
    assert httpx.get(f"{ENDPOINT}/api/datasets", timeout=30).status_code == 200
