"""Pull requests from anyone, as on the Hub: a non-member with a write token proposes a change to a public
repo (create_commit / upload_folder with create_pr=True), adds commits to its refs/pr/N through the API and
git push, and may not merge it nor write anywhere else; the repo's owner merges."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..conftest import ENDPOINT, PORT, Server
from .test_git_push import Git
from .test_web_upload_branch_lfs import _csrf


def test_pull_request_from_a_non_member(api: HfApi, bob: str, repo_name: str, tmp_path: Path) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"base\n", path_in_repo="a.txt", repo_id=rid)
    as_bob = HfApi(endpoint=ENDPOINT, token=bob)
    info = as_bob.create_commit(
        rid,
        operations=[CommitOperationAdd("b.txt", b"from bob\n"), CommitOperationAdd("w.bin", b"\0" * 4096)],
        commit_message="Add b",
        create_pr=True,
    )
    assert info.pr_revision == "refs/pr/1"
    pr = api.get_discussion_details(rid, 1)
    assert pr.is_pull_request and pr.author == "bob" and pr.status == "open"
    as_bob.create_commit(  # more commits to their own PR, through the API
        rid,
        operations=[CommitOperationAdd("c.txt", b"second\n")],
        commit_message="Add c",
        revision="refs/pr/1",
    )
    git = Git(tmp_path)  # ... and through git, the token as the password
    url = f"http://bob:{bob}@127.0.0.1:{PORT}/{rid}"
    git("clone", url, "work")
    work = tmp_path / "work"
    git("fetch", "origin", "refs/pr/1:pr", cwd=work)
    git("checkout", "pr", cwd=work)
    (work / "d.txt").write_text("pushed\n")
    git("add", "d.txt", cwd=work)
    git("-c", "user.name=bob", "-c", "user.email=b@x", "commit", "-m", "Add d", cwd=work)
    git("push", "origin", "HEAD:refs/pr/1", cwd=work)
    assert sorted(api.list_repo_files(rid, revision="refs/pr/1")) == [
        ".gitattributes",
        "a.txt",
        "b.txt",
        "c.txt",
        "d.txt",
        "w.bin",
    ]
    refused = git("push", "origin", "HEAD:main", cwd=work, check=False)  # not main
    assert refused.returncode != 0 and "own open pull requests" in refused.stderr
    with pytest.raises(HfHubHTTPError) as e:
        as_bob.create_commit(rid, operations=[CommitOperationAdd("x", b"x")], commit_message="x")
    assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as e:
        as_bob.merge_pull_request(rid, 1)
    assert e.value.response.status_code == 403
    commits = [x.summary for x in api.get_discussion_details(rid, 1).events if x.type == "commit"]
    assert commits == ["Add b", "Add c", "Add d"]
    api.merge_pull_request(rid, 1)
    assert sorted(api.list_repo_files(rid)) == [".gitattributes", "a.txt", "b.txt", "c.txt", "d.txt", "w.bin"]
    assert (
        api.hf_hub_download(rid, "d.txt", local_dir=tmp_path / "dl")
        and (tmp_path / "dl/d.txt").read_text() == "pushed\n"
    )


def test_someone_elses_pull_request_and_private_repos(
    api: HfApi, bob: str, server: Server, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    carol = HfApi(endpoint=ENDPOINT, token=server.token("carol"))
    carol.create_commit(rid, operations=[CommitOperationAdd("c", b"c")], commit_message="c", create_pr=True)
    with pytest.raises(HfHubHTTPError) as e:  # carol's PR is carol's
        HfApi(endpoint=ENDPOINT, token=bob).create_commit(
            rid, operations=[CommitOperationAdd("b", b"b")], commit_message="b", revision="refs/pr/1"
        )
    assert e.value.response.status_code == 403
    reader = HfApi(endpoint=ENDPOINT, token=server.token("bob", role="read"))
    with pytest.raises(HfHubHTTPError) as e:  # a read token proposes nothing
        reader.create_commit(
            rid, operations=[CommitOperationAdd("b", b"b")], commit_message="b", create_pr=True
        )
    assert e.value.response.status_code in (401, 403)
    api.create_repo(f"{rid}-private", private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=ENDPOINT, token=bob).create_commit(
            f"{rid}-private", operations=[CommitOperationAdd("b", b"b")], commit_message="b", create_pr=True
        )


def test_conflicts_are_listed(api: HfApi, bob: str, repo_name: str) -> None:
    """get_discussion_details(...).conflicting_files names the files that keep a PR from merging."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"base\n", path_in_repo="a.txt", repo_id=rid)
    HfApi(endpoint=ENDPOINT, token=bob).create_commit(
        rid, operations=[CommitOperationAdd("a.txt", b"bob\n")], commit_message="Bob's a", create_pr=True
    )
    details = api.get_discussion_details(rid, 1)
    assert details.conflicting_files == [] and details.diff is not None
    assert "-base\n+bob\n" in details.diff and "a/a.txt" in details.diff
    api.upload_file(path_or_fileobj=b"alice\n", path_in_repo="a.txt", repo_id=rid)
    assert api.get_discussion_details(rid, 1).conflicting_files == ["a.txt"]
    with pytest.raises(HfHubHTTPError) as e:
        api.merge_pull_request(rid, 1)
    assert e.value.response.status_code == 409 and "a.txt" in str(e.value)


def test_web_upload_as_a_pull_request(server: Server, api: HfApi, repo_name: str) -> None:
    """A non-member's web upload to a public repo opens a PR (its page is the answer's url); main is untouched."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    with httpx.Client(base_url=server.url, timeout=60, headers={"Origin": server.url}) as c:
        token = _csrf(c.get("/login").text)
        c.post("/login", data={"username": "bob", "password": "bob-password", "csrf": token})
        page = c.get(f"/{rid}/upload/main")
        assert page.status_code == 200 and "Open a pull request" in page.text
        token = _csrf(page.text)
        blob = c.put(f"/{rid}/upload-blob", content=b"weights", headers={"X-CSRF-Token": token}).json()
        r = c.post(
            f"/{rid}/upload/main",
            headers={"X-CSRF-Token": token},
            json={"files": [{**blob, "path": "w.bin"}], "message": "Add weights", "pr": True},
        )
        assert r.status_code == 200, r.text[:300]
        assert r.json()["url"] == f"/{rid}/discussions/1"
        r = c.post(  # not to main
            f"/{rid}/upload/main",
            headers={"X-CSRF-Token": token},
            json={"files": [{**blob, "path": "w.bin"}], "message": "Add weights"},
        )
        assert r.status_code == 403
    assert api.list_repo_files(rid) == [".gitattributes"]
    assert api.list_repo_files(rid, revision="refs/pr/1") == [".gitattributes", "w.bin"]
    assert api.get_discussion_details(rid, 1).author == "bob"


def test_default_client_upload_folder_as_a_pull_request_by_a_non_member(
    api: HfApi, bob: str, repo_name: str, tmp_path: Path
) -> None:
    """The default client (Xet on) asks for a Xet write token with the revision "None": a contributor gets one."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "w.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (folder / "notes.txt").write_text("hello")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env["HF_TOKEN"] = bob
    script = textwrap.dedent(f"""
        from huggingface_hub import HfApi
        info = HfApi().upload_folder(folder_path={str(folder)!r}, repo_id={rid!r}, create_pr=True)
        print(info.pr_revision)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "refs/pr/1"
    assert sorted(api.list_repo_files(rid, revision="refs/pr/1")) == [".gitattributes", "notes.txt", "w.bin"]
    assert api.get_discussion_details(rid, 1).author == "bob"
