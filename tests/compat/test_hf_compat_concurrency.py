"""Concurrent commits through huggingface_hub: parentCommit is a real compare-and-swap, and nothing is lost.

The threads go through the client's normal path (preupload, then the NDJSON commit) against the live
server, so the race happens where it would in production: between requests, inside the server.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError


def _race(n: int, fn: Any) -> list[Any]:
    """Run fn(i) for i in range(n) in n threads released at the same instant; return results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return fn(i)
        except Exception as e:  # noqa: BLE001 - collected and checked by the caller
            return e

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _new_repo(api: HfApi, repo_id: str, repo_type: str = "model") -> str:
    api.create_repo(repo_id, repo_type=repo_type)
    api.upload_file(path_or_fileobj=b"base\n", path_in_repo="base.txt", repo_id=repo_id, repo_type=repo_type)
    sha = api.repo_info(repo_id, repo_type=repo_type).sha
    assert sha
    return sha


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_same_parent_commit_exactly_one_lands(
    server: Any, alice: str, repo_name: str, repo_type: str, tmp_path: Path
) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = f"alice/{repo_name}"
    parent = _new_repo(api, repo_id, repo_type)
    n_before = len(api.list_repo_commits(repo_id, repo_type=repo_type))

    def commit(i: int) -> Any:
        # one client per thread, as separate processes would have
        client = HfApi(endpoint=server.url, token=alice)
        return client.create_commit(
            repo_id,
            repo_type=repo_type,
            parent_commit=parent,
            commit_message=f"racer {i}",
            operations=[CommitOperationAdd(f"racer-{i}.txt", f"racer {i}\n".encode())],
        )

    results = _race(20, commit)
    wins = [(i, r) for i, r in enumerate(results) if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1, f"{len(wins)} commits landed with the same parent: {results}"
    for e in losses:
        assert isinstance(e, HfHubHTTPError), repr(e)
        assert e.response is not None and e.response.status_code == 412, (e, e.response)
        assert e.response.headers.get("X-Error-Code"), dict(e.response.headers)
        assert "refresh" in str(e).lower() or "commit has happened" in str(e).lower(), str(e)

    winner, info = wins[0]
    commits = api.list_repo_commits(repo_id, repo_type=repo_type)
    assert len(commits) == n_before + 1
    assert commits[0].commit_id == info.oid
    assert commits[0].title == f"racer {winner}"
    assert api.repo_info(repo_id, repo_type=repo_type).sha == info.oid
    files = api.list_repo_files(repo_id, repo_type=repo_type)
    assert [f for f in files if f.startswith("racer-")] == [f"racer-{winner}.txt"]
    assert "base.txt" in files
    path = hf_hub_download(
        repo_id, f"racer-{winner}.txt", repo_type=repo_type, token=alice, cache_dir=tmp_path
    )
    assert Path(path).read_bytes() == f"racer {winner}\n".encode()

    # The winner's commit is the new head: a commit against the old parent is still refused,
    # one against the new head goes through.
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(
            repo_id,
            repo_type=repo_type,
            parent_commit=parent,
            commit_message="stale",
            operations=[CommitOperationAdd("stale.txt", b"stale")],
        )
    assert err.value.response.status_code == 412
    after = api.create_commit(
        repo_id,
        repo_type=repo_type,
        parent_commit=info.oid,
        commit_message="fresh",
        operations=[CommitOperationAdd("fresh.txt", b"fresh")],
    )
    assert api.list_repo_commits(repo_id, repo_type=repo_type)[0].commit_id == after.oid


def test_same_parent_commit_on_a_branch(server: Any, alice: str, repo_name: str) -> None:
    """The race on a non-default branch: main is untouched, one commit lands on the branch."""
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = f"alice/{repo_name}"
    main_sha = _new_repo(api, repo_id)
    api.create_branch(repo_id, branch="dev")
    parent = api.repo_info(repo_id, revision="dev").sha

    def commit(i: int) -> Any:
        client = HfApi(endpoint=server.url, token=alice)
        return client.create_commit(
            repo_id,
            revision="dev",
            parent_commit=parent,
            commit_message=f"dev {i}",
            operations=[CommitOperationAdd(f"dev-{i}.txt", b"dev")],
        )

    results = _race(20, commit)
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results
    assert all(r.response.status_code == 412 for r in results if isinstance(r, BaseException)), results
    assert len(api.list_repo_commits(repo_id, revision="dev")) == len(api.list_repo_commits(repo_id)) + 1
    assert api.repo_info(repo_id).sha == main_sha
    assert len([f for f in api.list_repo_files(repo_id, revision="dev") if f.startswith("dev-")]) == 1


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_concurrent_commits_without_parent_all_land(
    server: Any, alice: str, repo_name: str, repo_type: str
) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = f"alice/{repo_name}"
    _new_repo(api, repo_id, repo_type)
    before = api.list_repo_commits(repo_id, repo_type=repo_type)

    def commit(i: int) -> Any:
        client = HfApi(endpoint=server.url, token=alice)
        ops = [CommitOperationAdd(f"part-{i}/file.txt", f"content {i}\n".encode())]
        if i % 3 == 0:  # some go through LFS too (*.bin is an LFS pattern)
            ops.append(CommitOperationAdd(f"part-{i}/weights.bin", bytes([i]) * 4096))
        return client.create_commit(
            repo_id, repo_type=repo_type, commit_message=f"writer {i}", operations=ops
        )

    results = _race(10, commit)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    oids = {r.oid for r in results}
    assert len(oids) == 10

    commits = api.list_repo_commits(repo_id, repo_type=repo_type)
    assert len(commits) == len(before) + 10
    new = commits[:10]
    assert {c.commit_id for c in new} == oids
    assert sorted(c.title for c in new) == sorted(f"writer {i}" for i in range(10))
    # A straight line of history: every new commit's parent is the one before it.
    assert commits[10].commit_id == before[0].commit_id

    files = set(api.list_repo_files(repo_id, repo_type=repo_type))
    for i in range(10):
        assert f"part-{i}/file.txt" in files, f"writer {i}'s file was lost"
        if i % 3 == 0:
            assert f"part-{i}/weights.bin" in files
    assert "base.txt" in files
    info = api.repo_info(repo_id, repo_type=repo_type)
    assert info.sha == commits[0].commit_id
    # Metadata derived from the head (listings) agrees with git.
    listing = api.list_models if repo_type == "model" else api.list_datasets
    listed = {x.id: x for x in listing(author="alice", expand=["sha"])}  # type: ignore[operator]
    assert listed[repo_id].sha == info.sha
    for i in (0, 3):
        got = api.get_paths_info(repo_id, [f"part-{i}/weights.bin"], repo_type=repo_type)[0]
        assert got.lfs is not None and got.size == 4096  # type: ignore[union-attr]


def test_concurrent_commits_same_file_without_parent(server: Any, alice: str, repo_name: str) -> None:
    """Last writer wins on one path, but every commit is kept in history and the file is one of the writes."""
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = f"alice/{repo_name}"
    _new_repo(api, repo_id)
    n_before = len(api.list_repo_commits(repo_id))

    def commit(i: int) -> Any:
        client = HfApi(endpoint=server.url, token=alice)
        return client.create_commit(
            repo_id,
            commit_message=f"same {i}",
            operations=[CommitOperationAdd("shared.txt", f"writer {i}\n".encode())],
        )

    results = _race(10, commit)
    assert not [r for r in results if isinstance(r, BaseException)], results
    commits = api.list_repo_commits(repo_id)
    assert len(commits) == n_before + 10
    last = int(commits[0].title.split()[-1])
    content = api.hf_hub_download(repo_id, "shared.txt", revision=commits[0].commit_id)
    assert Path(content).read_text() == f"writer {last}\n"
