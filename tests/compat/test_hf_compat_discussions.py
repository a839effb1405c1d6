"""Discussions and pull requests through huggingface_hub: open, comment, rename, close, merge."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..conftest import ENDPOINT, Server


def test_discussion_lifecycle(api: HfApi, server: Server, bob: str, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    d = HfApi(endpoint=ENDPOINT, token=bob).create_discussion(rid, title="Question", description="How?")
    assert d.num == 1 and not d.is_pull_request and d.author == "bob"
    api.comment_discussion(rid, d.num, "Like this.")
    api.rename_discussion(rid, d.num, "Better question")
    api.change_discussion_status(rid, d.num, "closed", comment="Answered")
    details = api.get_discussion_details(rid, d.num)
    assert details.title == "Better question" and details.status == "closed"
    assert [e.type for e in details.events] == [
        "comment",
        "comment",
        "title-change",
        "comment",
        "status-change",
    ]
    assert [x.num for x in api.get_repo_discussions(rid)] == [1]
    with pytest.raises(HfHubHTTPError) as e:  # neither the author nor a writer
        HfApi(endpoint=ENDPOINT, token=server.token("carol")).change_discussion_status(rid, d.num, "open")
    assert e.value.response.status_code == 403
    HfApi(endpoint=ENDPOINT, token=bob).change_discussion_status(rid, d.num, "open")  # the author may reopen
    assert api.get_discussion_details(rid, d.num).status == "open"


def test_pull_request_commit_and_merge(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"base", path_in_repo="a.txt", repo_id=rid)
    pr = api.create_pull_request(rid, title="Improve", description="Adds b.txt")
    assert pr.is_pull_request and pr.git_reference == f"refs/pr/{pr.num}"
    api.create_commit(
        rid,
        operations=[CommitOperationAdd("b.txt", b"new")],
        commit_message="add b",
        revision=pr.git_reference,
    )
    assert sorted(api.list_repo_files(rid)) == [".gitattributes", "a.txt"]
    api.upload_file(
        path_or_fileobj=b"other", path_in_repo="c.txt", repo_id=rid
    )  # main moves on: a real merge
    api.merge_pull_request(rid, pr.num)
    assert sorted(api.list_repo_files(rid)) == [".gitattributes", "a.txt", "b.txt", "c.txt"]
    assert api.get_discussion_details(rid, pr.num).status == "merged"
    with pytest.raises(HfHubHTTPError) as e:
        api.merge_pull_request(rid, pr.num)
    assert e.value.response.status_code == 409


def test_default_client_upload_folder_as_pull_request(
    server: Server, alice: str, repo_name: str, tmp_path: Path
) -> None:
    """The pipelined upload_folder(create_pr=True) of the default client opens the PR with POST /discussions."""
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "w.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    (folder / "notes.txt").write_text("hello")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env["HF_TOKEN"] = alice
    script = textwrap.dedent(f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/{repo_name}")
        info = api.upload_folder(folder_path={str(folder)!r}, repo_id="alice/{repo_name}", create_pr=True)
        print(info.pr_revision)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "refs/pr/1"
    api = HfApi(endpoint=ENDPOINT, token=alice)
    assert sorted(api.list_repo_files(f"alice/{repo_name}", revision="refs/pr/1")) == [
        ".gitattributes",
        "notes.txt",
        "w.bin",
    ]
    assert api.list_repo_files(f"alice/{repo_name}") == [".gitattributes"]


def test_comment_edit_and_hide(api: HfApi, server: Server, bob: str, repo_name: str) -> None:
    """edit_discussion_comment keeps the history (author only); hide_discussion_comment: author or writers."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    as_bob = HfApi(endpoint=ENDPOINT, token=bob)
    d = as_bob.create_discussion(rid, title="Typo", description="There is a typo")
    c = as_bob.comment_discussion(rid, d.num, "It is in line 2")
    edited = as_bob.edit_discussion_comment(rid, d.num, c.id, "It is in line 3")
    assert edited.id == c.id and edited.edited and not edited.hidden
    assert edited.content == "It is in line 3" and edited.last_edited_by == "bob"
    assert edited.rendered == "<p>It is in line 3</p>\n"  # rendered and sanitized as cards are
    assert [h["raw"] for h in edited.edit_history] == ["It is in line 3", "It is in line 2"]
    with pytest.raises(HfHubHTTPError) as e:  # only the author edits, even the repo's owner may not
        api.edit_discussion_comment(rid, d.num, c.id, "mine now")
    assert e.value.response.status_code == 403
    carol = HfApi(endpoint=ENDPOINT, token=server.token("carol"))
    with pytest.raises(HfHubHTTPError) as e:  # neither its author nor a writer
        carol.hide_discussion_comment(rid, d.num, c.id)
    assert e.value.response.status_code == 403
    with pytest.warns(UserWarning):
        hidden = api.hide_discussion_comment(rid, d.num, c.id)  # a writer hides it
    assert hidden.hidden and hidden.content == ""
    with pytest.raises(HfHubHTTPError) as e:
        as_bob.edit_discussion_comment(rid, d.num, c.id, "again")
    assert e.value.response.status_code == 403
    mine = as_bob.comment_discussion(rid, d.num, "oops")
    with pytest.warns(UserWarning):
        assert as_bob.hide_discussion_comment(rid, d.num, mine.id).hidden  # its author hides it
    comments = [x for x in api.get_discussion_details(rid, d.num).events if x.type == "comment"]
    assert [(x.hidden, x.content) for x in comments] == [(False, "There is a typo"), (True, ""), (True, "")]
    with pytest.raises(HfHubHTTPError) as e:
        api.edit_discussion_comment(rid, d.num, "0" * 24, "x")
    assert e.value.response.status_code == 404
