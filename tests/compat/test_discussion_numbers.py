"""Concurrent discussion and pull request creation (issue 14): every call succeeds, with its own number.

A number is allocated as the repo's highest one plus one, under the repo's write lock; the lock must be held
until the new row is committed, else two creators read the same maximum and one fails on the unique
(repo, num) constraint (a 500). The threads go through huggingface_hub against the live server, mixing
the three ways a thread is opened: a discussion, an empty pull request (the discussions endpoint), and a
commit that opens a pull request (create_commit(create_pr=True)), whose refs/pr/N must hold its commit.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi
from huggingface_hub.community import DiscussionWithDetails

N = 40


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


def test_concurrent_discussions_and_prs_get_distinct_numbers(server: Any, alice: str, repo_name: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"base\n", path_in_repo="base.txt", repo_id=rid)
    main = api.repo_info(rid).sha
    assert main

    def create(i: int) -> Any:
        client = HfApi(endpoint=server.url, token=alice)  # one client per thread, as separate processes
        if i % 3 == 0:
            return client.create_discussion(rid, title=f"discussion {i}", description=f"body {i}")
        if i % 3 == 1:
            return client.create_pull_request(rid, title=f"empty pr {i}", description=f"body {i}")
        return client.create_commit(
            rid,
            operations=[CommitOperationAdd(f"pr-{i}.txt", f"pr {i}\n".encode())],
            commit_message=f"pr {i}",
            create_pr=True,
        )

    results = _race(N, create)
    failures = [(i, r) for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {N} creations failed: {failures[:3]}"

    nums: dict[int, int] = {}  # the number each call got -> i
    expect_ref: dict[int, str] = {}  # a PR's number -> the commit its refs/pr/N must hold
    for i, r in enumerate(results):
        if i % 3 == 2:
            assert isinstance(r, CommitInfo) and r.pr_num is not None, r
            num, expect_ref[r.pr_num] = r.pr_num, r.oid
        else:
            assert isinstance(r, DiscussionWithDetails), r
            assert r.is_pull_request == (i % 3 == 1)
            num = r.num
            if r.is_pull_request:
                expect_ref[num] = main
        assert num not in nums, f"calls {nums[num]} and {i} both got #{num}"
        nums[num] = i
    assert sorted(nums) == list(range(1, N + 1))

    pr_refs = {
        r.ref: r.target_commit for r in api.list_repo_refs(rid, include_pull_requests=True).pull_requests
    }
    assert pr_refs == {f"refs/pr/{num}": sha for num, sha in expect_ref.items()}

    listed = {d.num: d for d in api.get_repo_discussions(rid)}
    assert sorted(listed) == list(range(1, N + 1))
    for num, i in nums.items():
        d = listed[num]
        assert d.is_pull_request == (i % 3 != 0), (num, i, d)
        assert d.title.endswith(str(i)), (num, i, d.title)
    for num, i in nums.items():
        if i % 3 == 2:  # the commit landed on the PR only, and the PR holds it
            assert f"pr-{i}.txt" in api.list_repo_files(rid, revision=f"refs/pr/{num}")
    assert api.repo_info(rid).sha == main  # no PR moved main
