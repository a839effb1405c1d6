"""HfFileSystem: ls, glob, info and ranged reads through /tree, /paths-info and /resolve with Range."""

from __future__ import annotations

import os

from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem

from ..conftest import ENDPOINT


def test_ls_glob_open_ranged(api: HfApi, alice: str, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    big = os.urandom(3 * 1024 * 1024 + 17)
    api.create_commit(
        rid,
        repo_type="dataset",
        commit_message="data",
        operations=[
            CommitOperationAdd("data/train.csv", b"a,b\n1,2\n3,4\n"),
            CommitOperationAdd("data/test.csv", b"a,b\n5,6\n"),
            CommitOperationAdd("data/blob.bin", big),
            CommitOperationAdd("README.md", b"# hello\n"),
        ],
    )
    fs = HfFileSystem(endpoint=ENDPOINT, token=alice)
    root = f"datasets/{rid}"
    names = sorted(fs.ls(root, detail=False))
    assert names == sorted([f"{root}/.gitattributes", f"{root}/README.md", f"{root}/data"])
    assert sorted(fs.glob(f"{root}/data/*.csv")) == [f"{root}/data/test.csv", f"{root}/data/train.csv"]
    assert fs.info(f"{root}/data/blob.bin")["size"] == len(big)
    assert fs.cat_file(f"{root}/data/train.csv") == b"a,b\n1,2\n3,4\n"
    with fs.open(f"{root}/data/blob.bin", "rb", block_size=64 * 1024) as f:
        f.seek(1_000_000)
        assert f.read(100) == big[1_000_000:1_000_100]
        f.seek(len(big) - 10)
        assert f.read() == big[-10:]
    assert fs.cat_file(f"{root}/data/blob.bin", start=5, end=50) == big[5:50]
    assert not fs.exists(f"{root}/data/missing.csv")
    assert fs.exists(f"{root}/data")
