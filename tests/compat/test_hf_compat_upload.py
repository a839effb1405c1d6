"""Uploads and downloads through huggingface_hub: byte-identical, every revision form, the API sha is git's."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from ..conftest import Server


def git_dir(server: Server, api: HfApi, repo_id: str, repo_type: str = "model") -> Path:
    """The bare repo on disk (found by its head sha): for comparing API answers with git itself."""
    sha = api.repo_info(repo_id, repo_type=repo_type).sha
    for d in (server.data / "repos").glob("*/*.git"):
        out = subprocess.run(
            ["git", "--git-dir", str(d), "rev-parse", "refs/heads/main"], capture_output=True, text=True
        )
        if out.stdout.strip() == sha:
            return d
    raise AssertionError("no bare repo holds this sha")


def test_upload_small_and_lfs(api: HfApi, server: Server, repo_name: str, tmp_path: Path) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    small = b"small file\n"
    big = os.urandom(30 * 1024 * 1024)
    info1 = api.upload_file(
        path_or_fileobj=small, path_in_repo="notes/small.txt", repo_id=rid, commit_message="Add small"
    )
    (tmp_path / "big.bin").write_bytes(big)
    info2 = api.upload_file(
        path_or_fileobj=str(tmp_path / "big.bin"),
        path_in_repo="weights/big.bin",
        repo_id=rid,
        commit_message="Add big",
    )
    assert info2.oid != info1.oid
    # The API sha is git's sha.
    gd = git_dir(server, api, rid)
    head = subprocess.run(["git", "--git-dir", str(gd), "rev-parse", "main"], capture_output=True, text=True)
    assert head.stdout.strip() == info2.oid
    # The big file went through LFS: the tree says so and git holds a pointer.
    entries = {e.path: e for e in api.list_repo_tree(rid, recursive=True)}
    assert entries["weights/big.bin"].lfs is not None
    assert entries["weights/big.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert entries["weights/big.bin"].size == len(big)
    assert entries["notes/small.txt"].lfs is None
    pointer = subprocess.run(
        ["git", "--git-dir", str(gd), "show", "main:weights/big.bin"], capture_output=True
    )
    assert pointer.stdout.startswith(b"version https://git-lfs.github.com/spec/v1")
    # Downloads are byte-identical.
    p = hf_hub_download(rid, "weights/big.bin", cache_dir=tmp_path / "c1")
    assert Path(p).read_bytes() == big
    p = hf_hub_download(rid, "notes/small.txt", cache_dir=tmp_path / "c1")
    assert Path(p).read_bytes() == small
    snap = Path(snapshot_download(rid, cache_dir=tmp_path / "c2"))
    assert (snap / "weights/big.bin").read_bytes() == big
    assert (snap / "notes/small.txt").read_bytes() == small
    # Model info with blobs carries the LFS metadata.
    info = api.model_info(rid, files_metadata=True)
    sib = {s.rfilename: s for s in info.siblings}
    assert sib["weights/big.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert sib["weights/big.bin"].size == len(big)


def test_upload_folder_and_commit_with_deletes(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    src = tmp_path / "src"
    files = {
        "a.txt": b"a",
        "dir/b.txt": b"b" * 100,
        "dir/sub/c.json": b'{"c": 1}',
        "dir/sub/deeper/d.parquet": os.urandom(2000),
    }
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    api.upload_folder(folder_path=src, repo_id=rid, repo_type="dataset", commit_message="folder")
    assert sorted(api.list_repo_files(rid, repo_type="dataset")) == sorted([".gitattributes", *files])
    # .parquet is LFS by the dataset .gitattributes
    tree = {e.path: e for e in api.list_repo_tree(rid, repo_type="dataset", recursive=True)}
    assert tree["dir/sub/deeper/d.parquet"].lfs is not None
    api.create_commit(
        rid,
        repo_type="dataset",
        commit_message="mixed",
        operations=[
            CommitOperationAdd("new.txt", b"new"),
            CommitOperationDelete("a.txt"),
            CommitOperationDelete("dir/sub/"),
        ],
    )
    assert sorted(api.list_repo_files(rid, repo_type="dataset")) == [".gitattributes", "dir/b.txt", "new.txt"]
    api.delete_file("new.txt", rid, repo_type="dataset")
    api.delete_folder("dir", rid, repo_type="dataset")
    assert api.list_repo_files(rid, repo_type="dataset") == [".gitattributes"]
    snap = Path(
        snapshot_download(
            rid,
            repo_type="dataset",
            revision=api.list_repo_commits(rid, repo_type="dataset")[3].commit_id,
            cache_dir=tmp_path / "c",
        )
    )
    assert (snap / "dir/sub/deeper/d.parquet").read_bytes() == files["dir/sub/deeper/d.parquet"]


def test_download_at_branch_tag_sha_and_pr(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    c1 = api.upload_file(path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id=rid).oid
    api.create_tag(rid, tag="v1.0")
    api.create_branch(rid, branch="dev/feature")
    api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=rid)
    api.upload_file(path_or_fileobj=b"dev", path_in_repo="f.txt", repo_id=rid, revision="dev/feature")
    pr = api.upload_file(path_or_fileobj=b"pr", path_in_repo="f.txt", repo_id=rid, create_pr=True)
    assert pr.pr_revision == "refs/pr/1"
    cache = tmp_path / "c"
    for rev, want in (
        ("main", b"v2"),
        ("v1.0", b"v1"),
        (c1, b"v1"),
        ("dev/feature", b"dev"),
        ("refs/heads/dev/feature", b"dev"),
        ("refs/pr/1", b"pr"),
        ("refs/tags/v1.0", b"v1"),
    ):
        assert Path(hf_hub_download(rid, "f.txt", revision=rev, cache_dir=cache)).read_bytes() == want, rev
    assert api.file_exists(rid, "f.txt", revision="refs/pr/1")
    refs = api.list_repo_refs(rid, include_pull_requests=True)
    assert {b.name for b in refs.branches} == {"main", "dev/feature"}
    assert [t.name for t in refs.tags] == ["v1.0"]
    assert [p.ref for p in refs.pull_requests] == ["refs/pr/1"]
    assert api.model_info(rid).sha != pr.oid  # main unchanged by the PR


def test_branches_and_tags(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.create_branch(rid, branch="b1")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(rid, branch="b1")
    assert e.value.response.status_code == 409
    api.create_branch(rid, branch="b1", exist_ok=True)
    api.create_tag(rid, tag="t1", tag_message="annotated")
    api.create_tag(rid, tag="t2", revision="b1")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(rid, tag="t1")
    assert e.value.response.status_code == 409
    api.create_tag(rid, tag="t1", exist_ok=True)
    refs = api.list_repo_refs(rid)
    assert {b.name for b in refs.branches} == {"main", "b1"}
    assert {t.name for t in refs.tags} == {"t1", "t2"}
    head = api.model_info(rid).sha
    assert all(t.target_commit == head for t in refs.tags)
    api.delete_branch(rid, branch="b1")
    api.delete_tag(rid, tag="t1")
    refs = api.list_repo_refs(rid)
    assert [b.name for b in refs.branches] == ["main"] and [t.name for t in refs.tags] == ["t2"]


def test_list_commits_and_stale_parent(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    first = api.model_info(rid).sha
    for i in range(3):
        api.upload_file(
            path_or_fileobj=f"{i}".encode(),
            path_in_repo=f"{i}.txt",
            repo_id=rid,
            commit_message=f"commit {i}",
            commit_description=f"details {i}",
        )
    commits = api.list_repo_commits(rid)
    assert [c.title for c in commits] == ["commit 2", "commit 1", "commit 0", "initial commit"]
    assert commits[0].message == "details 2"
    assert commits[0].authors == ["alice"]
    assert commits[-1].commit_id == first
    formatted = api.list_repo_commits(rid, formatted=True)
    assert formatted[0].formatted_title == "commit 2"
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(
            rid, operations=[CommitOperationAdd("x.txt", b"x")], commit_message="stale", parent_commit=first
        )
    assert e.value.response.status_code == 412
    assert len(api.list_repo_commits(rid)) == 4
    ok = api.create_commit(
        rid,
        operations=[CommitOperationAdd("x.txt", b"x")],
        commit_message="fresh",
        parent_commit=commits[0].commit_id,
    )
    assert api.model_info(rid).sha == ok.oid


def test_paths_info_and_tree(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.create_commit(
        rid,
        commit_message="files",
        operations=[
            CommitOperationAdd("a/b/c.txt", b"c"),
            CommitOperationAdd("a/d.txt", b"dd"),
            CommitOperationAdd("w.bin", os.urandom(1000)),
        ],
    )
    infos = {i.path: i for i in api.get_paths_info(rid, ["a/d.txt", "w.bin", "missing", "a"])}
    assert set(infos) == {"a/d.txt", "w.bin", "a"}
    assert infos["a/d.txt"].size == 2
    assert infos["w.bin"].lfs is not None
    top = {e.path for e in api.list_repo_tree(rid)}
    assert top == {".gitattributes", "a", "w.bin"}
    sub = {e.path for e in api.list_repo_tree(rid, path_in_repo="a")}
    assert sub == {"a/b", "a/d.txt"}
    expanded = list(api.list_repo_tree(rid, path_in_repo="a", expand=True))
    assert all(e.last_commit is not None for e in expanded)
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(rid, path_in_repo="nope"))


def test_no_op_upload_makes_no_commit(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"same", path_in_repo="same.txt", repo_id=rid)
    n = len(api.list_repo_commits(rid))
    api.upload_file(path_or_fileobj=b"same", path_in_repo="same.txt", repo_id=rid)
    assert len(api.list_repo_commits(rid)) == n


def test_lfs_batch_offers_multipart_for_large_objects(
    api: HfApi, server: Server, alice: str, repo_name: str
) -> None:
    """The 30 MB upload above goes through HF multipart (the test server's threshold is 20 MB)."""
    import httpx

    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    r = httpx.post(
        f"{server.url}/{rid}.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {alice}", "Accept": "application/vnd.git-lfs+json"},
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "hash_algo": "sha256",
            "objects": [{"oid": "a" * 64, "size": 30 * 2**20}, {"oid": "b" * 64, "size": 10}],
        },
    )
    assert r.status_code == 200, r.text
    big, small = r.json()["objects"]
    assert big["actions"]["upload"]["header"]["chunk_size"] == str(8 * 2**20)
    assert sorted(k for k in big["actions"]["upload"]["header"] if k.isdigit()) == [
        "00001",
        "00002",
        "00003",
        "00004",
    ]
    assert small["actions"]["upload"]["header"] == {}
    # A PUT without the signature is refused and stores nothing.
    href = small["actions"]["upload"]["href"].split("?")[0]
    # Without its signature the href is refused: 401 from Agora, 403 from S3 (presigned URL, S3 mode).
    assert httpx.put(href, content=b"0123456789").status_code in (401, 403)


def test_pointer_committed_as_a_plain_file_names_only_this_repos_objects(
    api: HfApi, server: Server, bob: str, repo_name: str
) -> None:
    """A regular file whose content is an LFS pointer is served as the object it names: like a push, a commit
    may only name objects uploaded to its own repo, else anyone knowing a private file's sha256 and size
    could read it through a repo of their own."""
    secret = os.urandom(3 * 1024 * 1024)
    oid = hashlib.sha256(secret).hexdigest()
    api.create_repo(f"alice/{repo_name}", private=True)
    api.upload_file(path_or_fileobj=secret, path_in_repo="secret.bin", repo_id=f"alice/{repo_name}")
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(secret)}\n".encode()
    other = HfApi(endpoint=server.url, token=bob)
    other.create_repo(f"bob/{repo_name}")
    with pytest.raises(HfHubHTTPError) as e:
        other.create_commit(
            f"bob/{repo_name}", [CommitOperationAdd("copy.txt", pointer)], commit_message="copy"
        )
    assert e.value.response.status_code == 400 and "never uploaded" in e.value.response.text
    assert other.list_repo_files(f"bob/{repo_name}") == [".gitattributes"]

    # In the repo that holds the object, the same pointer is that file; with extension lines it is refused.
    api.create_commit(f"alice/{repo_name}", [CommitOperationAdd("copy.txt", pointer)], commit_message="copy")
    assert (api.get_paths_info(f"alice/{repo_name}", ["copy.txt"])[0].lfs or {}).get("sha256") == oid
    ext = pointer.replace(b"\noid", b"\next-0-foo sha256:" + b"d" * 64 + b"\noid")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(f"alice/{repo_name}", [CommitOperationAdd("ext.txt", ext)], commit_message="ext")
    assert e.value.response.status_code == 400 and "extensions" in e.value.response.text
