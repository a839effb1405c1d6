"""Hub behaviours huggingface_hub relies on, through the client: request ids, short shas, folder deletes and
.gitignore, the Hub's error texts, super-squash, copies of LFS files, LFS file listing and deletion, duplicates.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from ..conftest import ENDPOINT

pytestmark = pytest.mark.usefixtures("no_server_errors")


# ---- X-Request-Id ------------------------------------------------------------------------------------


def test_request_id_echoed_and_in_the_error_message(server: Any, alice: str) -> None:
    """The client's id comes back (it quotes it in its error message), so one id names the call on both
    sides; huggingface_hub sends X-Amzn-Trace-Id on every call, and X-Request-Id when the user sets one."""
    api = HfApi(endpoint=ENDPOINT, token=alice, headers={"X-Request-Id": "my-call-42"})
    with pytest.raises(RepositoryNotFoundError) as e:
        api.model_info("alice/no-such-repo-for-request-id")
    assert e.value.response.headers["x-request-id"] == "my-call-42"
    assert "(Request ID: my-call-42)" in str(e.value)

    r = httpx.get(f"{ENDPOINT}/api/models/alice/nope-x", headers={"X-Amzn-Trace-Id": "Root=1-abc-def"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "Root=1-abc-def"


def test_request_id_of_an_error_names_its_server_log_line(server: Any, alice: str) -> None:
    """The "(Request ID: ...)" huggingface_hub prints finds a line in the server log: every error answer
    logs one (method, path, status, code), under the id."""
    api = HfApi(endpoint=ENDPOINT, token=alice, headers={"X-Request-Id": "log-line-77"})
    with pytest.raises(RepositoryNotFoundError) as e:
        api.model_info("alice/no-such-repo-for-a-log-line")
    assert "(Request ID: log-line-77)" in str(e.value)
    lines = [line for line in server.log.read_text().splitlines() if "[log-line-77]" in line]
    assert any("/api/models/alice/no-such-repo-for-a-log-line answered 404 RepoNotFound" in x for x in lines)


@pytest.mark.parametrize("sent", ["x" * 129, "a b", "<script>", ""])
def test_unsafe_request_id_replaced(sent: str) -> None:
    r = httpx.get(f"{ENDPOINT}/api/models/alice/nope-x", headers={"X-Request-Id": sent})
    rid = r.headers["x-request-id"]
    assert rid != sent and re.fullmatch(r"[0-9a-f]{16}", rid)


def test_request_id_on_the_error_page() -> None:
    r = httpx.get(
        f"{ENDPOINT}/alice/no-such-repo-page", headers={"accept": "text/html", "X-Request-Id": "pg-1"}
    )
    assert r.status_code == 404 and "Request ID: <code>pg-1</code>" in r.text


# ---- short commit shas -------------------------------------------------------------------------------


def test_short_sha_wherever_a_revision_is(api: HfApi, repo_name: str, tmp_path: Any) -> None:
    """A unique prefix of 7+ hex characters names its commit on every surface, as on the Hub."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    first = api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=rid).oid
    api.upload_file(path_or_fileobj=b"two", path_in_repo="a.txt", repo_id=rid)
    short = first[:7]

    assert api.model_info(rid, revision=short).sha == first
    path = hf_hub_download(rid, "a.txt", revision=short, cache_dir=tmp_path)
    assert open(path, "rb").read() == b"one"
    assert [f.path for f in api.list_repo_tree(rid, revision=first[:10])] == [".gitattributes", "a.txt"]
    assert api.list_repo_commits(rid, revision=short)[0].commit_id == first
    api.create_branch(rid, branch="from-short", revision=short)
    assert api.model_info(rid, revision="from-short").sha == first
    r = httpx.get(f"{ENDPOINT}/{rid}/resolve/{short}/a.txt", headers={"authorization": f"Bearer {api.token}"})
    assert r.content == b"one" and r.headers["x-repo-commit"] == first
    for page in (f"tree/{short}", f"blob/{short}/a.txt", f"commit/{short}", f"commits/{short}"):
        r = httpx.get(f"{ENDPOINT}/{rid}/{page}", headers={"authorization": f"Bearer {api.token}"})
        assert r.status_code == 200, page

    for bad in (first[:6], "0000000", "abcdefg"):
        with pytest.raises(RevisionNotFoundError) as e:
            api.model_info(rid, revision=bad)
        assert "Invalid rev id" in str(e.value)


def test_parent_commit_prefix_and_the_hubs_412_text(api: HfApi, repo_name: str) -> None:
    """The client takes a short parent_commit; a stale one is the Hub's 412, in the words tools match."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    old = api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=rid).oid
    head = api.upload_file(path_or_fileobj=b"two", path_in_repo="a.txt", repo_id=rid).oid
    add = [CommitOperationAdd("b.txt", b"b")]
    new = api.create_commit(rid, add, commit_message="on head", parent_commit=head[:7].upper()).oid
    assert api.list_repo_commits(rid)[1].commit_id == head
    for stale in (old, old[:8]):
        with pytest.raises(HfHubHTTPError) as e:
            api.create_commit(
                rid, [CommitOperationAdd("c.txt", b"c")], commit_message="x", parent_commit=stale
            )
        assert e.value.response.status_code == 412
        text = str(e.value)
        assert "The branch was updated since you opened this page. Please refresh and try again." in text
        assert "A commit has happened since" in text
    assert api.model_info(rid).sha == new


# ---- folder deletes and .gitignore ----------------------------------------------------------------------


def test_delete_folder_without_trailing_slash(api: HfApi, repo_name: str) -> None:
    """The client sends "folder" as a file delete; the Hub deletes the folder (delete_folder does the same)."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.create_commit(
        rid,
        [CommitOperationAdd(p, b"data") for p in ("1/a.md", "1/sub/b.md", "2/c.md", "1x.md")],
        commit_message="seed",
    )
    api.create_commit(rid, [CommitOperationDelete("1")], commit_message="drop 1")
    assert api.list_repo_files(rid) == [".gitattributes", "1x.md", "2/c.md"]
    api.delete_folder("2", repo_id=rid)
    assert api.list_repo_files(rid) == [".gitattributes", "1x.md"]
    with pytest.raises(EntryNotFoundError):
        api.create_commit(rid, [CommitOperationDelete("nothing-here")], commit_message="x")


def _tree(tmp_path: Any, with_gitignore: bool) -> Any:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "file.bin").write_bytes(b"\0" * 2048)  # LFS by .gitattributes
    (tmp_path / "nested" / "keep.txt").write_text("kept")
    (tmp_path / "nested" / "notes.txt").write_text("left out")
    (tmp_path / "top.log").write_text("left out")
    (tmp_path / "temp").write_text("kept")
    if with_gitignore:
        (tmp_path / ".gitignore").write_text("nested/*\n!nested/keep.txt\n*.log\n")
    return tmp_path


def test_gitignore_on_the_hub_makes_preupload_ignore(api: HfApi, repo_name: str, tmp_path: Any) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(
        path_or_fileobj=b"nested/*\n!nested/keep.txt\n*.log\n", path_in_repo=".gitignore", repo_id=rid
    )
    api.upload_folder(folder_path=_tree(tmp_path, False), repo_id=rid)
    assert api.list_repo_files(rid) == [".gitattributes", ".gitignore", "nested/keep.txt", "temp"]


def test_gitignore_in_the_commit_makes_preupload_ignore(api: HfApi, repo_name: str, tmp_path: Any) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_folder(folder_path=_tree(tmp_path, True), repo_id=rid)
    assert api.list_repo_files(rid) == [".gitattributes", ".gitignore", "nested/keep.txt", "temp"]
    # the raw answer: shouldIgnore per file, the sent rules winning over the repo's
    r = httpx.post(
        f"{ENDPOINT}/api/models/{rid}/preupload/main",
        json={
            "files": [{"path": p, "size": 1, "sample": ""} for p in ("a.log", "x.txt")],
            "gitIgnore": "x.*",
        },
        headers={"authorization": f"Bearer {api.token}"},
    )
    assert [f["shouldIgnore"] for f in r.json()["files"]] == [False, True]


# ---- the Hub's error texts -----------------------------------------------------------------------------

INVALID_MODELCARD = "---\nmodel-index: foo\n---\n\nA card with invalid metadata.\n"


def test_the_hubs_error_texts(api: HfApi, repo_name: str) -> None:
    """The texts huggingface_hub's own tests (and users' scripts) match."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    with pytest.raises(HfHubHTTPError, match="Cannot delete refs/heads/main"):
        api.delete_branch(rid, branch="main")
    with pytest.raises(HfHubHTTPError, match="Invalid rev id"):
        api.delete_branch(rid, branch="cool-branch")
    api.create_tag(rid, tag="cool-tag")
    with pytest.raises(HfHubHTTPError, match="Invalid rev id"):
        api.delete_branch(rid, branch="cool-tag")
    api.create_branch(rid, branch="cool-branch")
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/cool-branch already exists"):
        api.create_branch(rid, branch="cool-branch")
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/main already exists"):
        api.create_branch(rid, branch="main")
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        api.create_commit(
            rid, [CommitOperationAdd("README.md", INVALID_MODELCARD.encode())], commit_message="card"
        )
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"content", path_in_repo="..\\ddd", repo_id=rid)
    assert e.value.response.status_code == 422


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_repository_called_already_exists(api: HfApi, repo_name: str, repo_type: str) -> None:
    rid = f"alice/{repo_name}"
    kw: dict[str, Any] = {"space_sdk": "static"} if repo_type == "space" else {}
    api.create_repo(rid, repo_type=repo_type, **kw)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(rid, repo_type=repo_type, **kw)
    assert e.value.response.status_code == 409
    assert f"A {repo_type} repository called {rid} already exists" in str(e.value)
    assert f"You already created this {repo_type} repo" in str(e.value)
    other = api.create_repo(f"{rid}-2", repo_type=repo_type, **kw).repo_id
    with pytest.raises(HfHubHTTPError, match=rf"A {repo_type} repository called .* already exists"):
        api.move_repo(other, rid, repo_type=repo_type)


# ---- super-squash --------------------------------------------------------------------------------------


def test_super_squash_branch_and_pr(api: HfApi, bob: str, repo_name: str, tmp_path: Any) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="file.txt", path_or_fileobj=b"content")
    api.upload_file(repo_id=rid, path_in_repo="lfs.bin", path_or_fileobj=b"\0lfs content")
    api.upload_file(repo_id=rid, path_in_repo="file.txt", path_or_fileobj=b"another_content")
    api.create_branch(rid, branch="v0.1")
    api.upload_file(repo_id=rid, path_in_repo="file.txt", path_or_fileobj=b"foo", revision="v0.1")
    before = {e.path: e.blob_id for e in api.list_repo_tree(rid, recursive=True)}

    with pytest.raises(HfHubHTTPError):  # a reader may not
        HfApi(endpoint=ENDPOINT, token=bob).super_squash_history(repo_id=rid)
    api.super_squash_history(repo_id=rid)
    main = api.list_repo_commits(rid, revision="main")
    assert [c.title for c in main] == ["Super-squash branch 'main' using huggingface_hub"]
    assert {e.path: e.blob_id for e in api.list_repo_tree(rid, recursive=True)} == before
    path = hf_hub_download(rid, "lfs.bin", cache_dir=tmp_path)
    assert open(path, "rb").read() == b"\0lfs content"
    branch = api.list_repo_commits(rid, revision="v0.1")
    assert len(branch) == 5 and branch[-1].title == "initial commit"
    api.super_squash_history(repo_id=rid, branch="v0.1", commit_message="One\n\nbody")
    squashed = api.list_repo_commits(rid, revision="v0.1")
    assert [(c.title, c.message) for c in squashed] == [("One", "body")]

    pr = api.create_pull_request(rid, title="squash me")
    for content in (b"a", b"b"):
        api.upload_file(
            repo_id=rid, path_in_repo="pr.txt", path_or_fileobj=content, revision=pr.git_reference
        )
    api.super_squash_history(repo_id=rid, branch=pr.git_reference)
    assert len(api.list_repo_commits(rid, revision=pr.git_reference)) == 1
    api.create_tag(rid, tag="t1")
    with pytest.raises(RevisionNotFoundError):
        api.super_squash_history(repo_id=rid, branch="t1")


# ---- copies of LFS and Xet files -----------------------------------------------------------------------


def _stored(store: Any, oids: set[str]) -> list[Any]:
    """(oid, size, mtime) of these objects in the blob store: an upload again would write them anew. (Other
    objects come and go meanwhile: background jobs of other tests write parquet conversions.)"""
    return sorted(x for x in store.list_objects() if x[0] in oids)


def _lfs_of(api: HfApi, rid: str, paths: list[str]) -> dict[str, Any]:
    return {f.path: (f.lfs.sha256 if f.lfs else None, f.xet_hash) for f in api.get_paths_info(rid, paths)}


def test_copy_lfs_file_no_reupload(server: Any, api: HfApi, repo_name: str, tmp_path: Any) -> None:
    """The client sends an LFS copy as an `lfsFile` line without size: the same object, nothing uploaded."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    data = b"\0weights" * 1000
    api.upload_file(repo_id=rid, path_in_repo="w.bin", path_or_fileobj=data)
    api.upload_file(repo_id=rid, path_in_repo="small.txt", path_or_fileobj=b"plain")
    lfs = server.store("lfs")
    oid = api.get_paths_info(rid, ["w.bin"])[0].lfs.sha256
    objects = _stored(lfs, {oid})
    api.create_commit(
        rid,
        [CommitOperationCopy("w.bin", "copies/w.bin"), CommitOperationCopy("small.txt", "copies/small.txt")],
        commit_message="copies",
    )
    assert _stored(lfs, {oid}) == objects  # not written again
    assert _lfs_of(api, rid, ["w.bin", "copies/w.bin"]) == {"w.bin": (oid, None), "copies/w.bin": (oid, None)}
    path = hf_hub_download(rid, "copies/w.bin", cache_dir=tmp_path)
    assert open(path, "rb").read() == data
    assert open(hf_hub_download(rid, "copies/small.txt", cache_dir=tmp_path), "rb").read() == b"plain"
    # a rename: copy then delete, in one commit
    api.create_commit(
        rid,
        [CommitOperationCopy("w.bin", "renamed.bin"), CommitOperationDelete("w.bin")],
        commit_message="mv",
    )
    assert _lfs_of(api, rid, ["renamed.bin"]) == {"renamed.bin": (oid, None)}
    assert "w.bin" not in api.list_repo_files(rid)


def test_copy_xet_file_no_reupload(server: Any, alice: str, api: HfApi, repo_name: str) -> None:
    """A file uploaded through Xet, copied by the default client (Xet on): the same Xet file, no new xorb."""
    from .test_xet_client import run_default_client, xorb_bytes

    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    run_default_client(
        f"""
        import os
        from huggingface_hub import HfApi
        HfApi(endpoint="{ENDPOINT}").upload_file(
            repo_id="{rid}", path_in_repo="big.bin", path_or_fileobj=os.urandom(3 * 2**20))
        """,
        alice,
    )
    before = _lfs_of(api, rid, ["big.bin"])["big.bin"]
    assert before[1]  # stored in Xet
    stored = xorb_bytes(server)
    run_default_client(
        f"""
        from huggingface_hub import HfApi, CommitOperationCopy
        HfApi(endpoint="{ENDPOINT}").create_commit(
            "{rid}", [CommitOperationCopy("big.bin", "copy.bin")], commit_message="copy")
        """,
        alice,
    )
    assert xorb_bytes(server) == stored
    assert _lfs_of(api, rid, ["copy.bin"]) == {"copy.bin": before}
    a = httpx.get(f"{ENDPOINT}/{rid}/resolve/main/big.bin", headers={"authorization": f"Bearer {alice}"})
    b = httpx.get(f"{ENDPOINT}/{rid}/resolve/main/copy.bin", headers={"authorization": f"Bearer {alice}"})
    assert a.status_code == b.status_code == 200 and a.content == b.content and len(a.content) == 3 * 2**20


def test_copy_across_repos_shares_the_xet_file(
    server: Any, alice: str, bob: str, api: HfApi, repo_name: str
) -> None:
    """A cross-repo copy (src_repo_id): the client asks the source repo to share the object with the target
    (`/lfs-files/duplicate`), then commits an `lfsFile` line; no byte moves. Regular files are re-sent."""
    from .test_xet_client import run_default_client, xorb_bytes

    src, dst = f"alice/{repo_name}", f"alice/{repo_name}-dst"
    api.create_repo(src, private=True)
    api.create_repo(dst, repo_type="dataset")
    run_default_client(
        f"""
        import os
        from huggingface_hub import HfApi
        api = HfApi(endpoint="{ENDPOINT}")
        api.upload_file(repo_id="{src}", path_in_repo="big.bin", path_or_fileobj=os.urandom(2 * 2**20))
        api.upload_file(repo_id="{src}", path_in_repo="notes.txt", path_or_fileobj=b"notes")
        """,
        alice,
    )
    before = _lfs_of(api, src, ["big.bin"])["big.bin"]
    stored = xorb_bytes(server)
    run_default_client(
        f"""
        from huggingface_hub import HfApi, CommitOperationCopy
        HfApi(endpoint="{ENDPOINT}").create_commit(
            "{dst}",
            [CommitOperationCopy("big.bin", "data/big.bin", src_repo_id="{src}", src_repo_type="model"),
             CommitOperationCopy("notes.txt", "notes.txt", src_repo_id="{src}", src_repo_type="model")],
            commit_message="copy", repo_type="dataset")
        """,
        alice,
    )
    assert xorb_bytes(server) == stored
    paths = api.get_paths_info(dst, ["data/big.bin", "notes.txt"], repo_type="dataset")
    assert [(p.path, p.lfs.sha256 if p.lfs else None, p.xet_hash) for p in paths] == [
        ("data/big.bin", before[0], before[1]),
        ("notes.txt", None, None),
    ]
    # bob may not read the private source: the duplicate answers as if it did not exist
    r = httpx.post(
        f"{ENDPOINT}/api/models/{src}/lfs-files/duplicate",
        json={"target": {"type": "model", "name": "bob/x"}, "files": [{"sha256": before[0]}]},
        headers={"authorization": f"Bearer {bob}"},
    )
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    # an object the source does not own is reported, not shared
    r = httpx.post(
        f"{ENDPOINT}/api/datasets/{dst}/lfs-files/duplicate",
        json={"target": {"type": "model", "name": src}, "files": [{"sha256": "ab" * 32}]},
        headers={"authorization": f"Bearer {alice}"},
    )
    assert r.status_code == 200 and [f["sha256"] for f in r.json()["failed"]] == ["ab" * 32]


# ---- LFS files: list and delete for good -----------------------------------------------------------------


def test_list_and_permanently_delete_lfs_files(server: Any, api: HfApi, bob: str, repo_name: str) -> None:
    rid, other = f"alice/{repo_name}", f"alice/{repo_name}-other"
    api.create_repo(rid)
    api.create_repo(other)
    tag = repo_name.encode()  # contents of this test only: objects are shared by content across repos
    first = api.upload_file(
        path_or_fileobj=b"LFS content" + tag, path_in_repo="lfs_file.bin", repo_id=rid
    ).oid
    api.upload_file(path_or_fileobj=b"TXT content", path_in_repo="txt_file.txt", repo_id=rid)
    api.upload_file(path_or_fileobj=b"LFS content 2" + tag, path_in_repo="lfs_file_2.bin", repo_id=rid)
    api.create_branch(rid, branch="my-branch")
    api.upload_file(
        path_or_fileobj=b"LFS branch" + tag,
        path_in_repo="lfs_file_branch.bin",
        repo_id=rid,
        revision="my-branch",
    )
    api.upload_file(
        path_or_fileobj=b"LFS content 2" + tag, path_in_repo="same.bin", repo_id=other
    )  # shares an object

    files = list(api.list_lfs_files(rid))
    assert sorted((f.filename, f.ref, f.size) for f in files) == [
        ("lfs_file.bin", "refs/heads/main", 11 + len(tag)),
        ("lfs_file_2.bin", "refs/heads/main", 13 + len(tag)),
        ("lfs_file_branch.bin", "refs/heads/my-branch", 10 + len(tag)),
    ]
    assert all(f.file_oid == f.oid and len(f.file_oid) == 64 and f.pushed_at for f in files)
    with pytest.raises(HfHubHTTPError):  # a reader may not
        list(HfApi(endpoint=ENDPOINT, token=bob).list_lfs_files(rid))

    on_main = [f for f in files if f.ref in ("main", "refs/heads/main")]
    lfs = server.store("lfs")
    oids = {f.filename: f.file_oid for f in files}
    r = httpx.post(
        f"{ENDPOINT}/api/models/{rid}/lfs-files/batch",
        json={"deletions": {"sha": [f.file_oid for f in on_main], "rewriteHistory": True}},
        headers={"authorization": f"Bearer {bob}"},
    )
    assert r.status_code == 403 or r.status_code == 404
    api.permanently_delete_lfs_files(rid, on_main)

    assert [f.filename for f in api.list_lfs_files(rid)] == ["lfs_file_branch.bin"]
    assert api.list_repo_files(rid) == [".gitattributes", "txt_file.txt"]
    assert "lfs_file_branch.bin" in api.list_repo_files(rid, revision="my-branch")
    assert "lfs_file.bin" not in api.list_repo_files(rid, revision="my-branch")  # removed from every head
    assert lfs.size(oids["lfs_file.bin"]) is None  # its bytes are gone
    assert lfs.size(oids["lfs_file_2.bin"]) == 13 + len(tag)  # still the other repo's
    assert open(hf_hub_download(other, "same.bin"), "rb").read() == b"LFS content 2" + tag
    # an older commit still names the deleted object: a clean 404, no server error
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(rid, "lfs_file.bin", revision=first, force_download=True)


def test_delete_lfs_files_answers_the_storage_freed(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"x" * 5000 + repo_name.encode(), path_in_repo="a.bin", repo_id=rid)
    oid = next(iter(api.list_lfs_files(rid))).file_oid
    auth = {"authorization": f"Bearer {api.token}"}
    url = f"{ENDPOINT}/api/models/{rid}/lfs-files/batch"
    r = httpx.post(url, json={"deletions": {"sha": [oid], "rewriteHistory": False}}, headers=auth)
    assert r.status_code == 200 and r.json() == {"deleted": 1, "freedBytes": 5000 + len(repo_name)}
    assert api.list_repo_files(rid) == [".gitattributes", "a.bin"]  # no commit without rewriteHistory
    r = httpx.post(url, json={"deletions": {"sha": [oid], "rewriteHistory": False}}, headers=auth)
    assert r.json() == {"deleted": 0, "freedBytes": 0}


# ---- duplicate a repo or a Space -----------------------------------------------------------------------


def test_duplicate_repo_shares_content(
    server: Any, api: HfApi, bob: str, repo_name: str, tmp_path: Any
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="w.bin", path_or_fileobj=b"\0weights" * 500)
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=b"---\nlicense: mit\n---\nhi")
    api.create_branch(rid, branch="dev")
    api.upload_file(repo_id=rid, path_in_repo="dev.txt", path_or_fileobj=b"dev", revision="dev")
    api.create_tag(rid, tag="v1")
    lfs = server.store("lfs")
    oids = {f.file_oid for f in api.list_lfs_files(rid)}
    objects = _stored(lfs, oids)

    url = api.duplicate_repo(rid, f"acme/{repo_name}-copy")
    copy = url.repo_id
    assert copy == f"acme/{repo_name}-copy" and url.repo_type == "model"
    assert _stored(lfs, oids) == objects and len(objects) == 1  # nothing uploaded again
    src_refs, dst_refs = api.list_repo_refs(rid), api.list_repo_refs(copy)
    assert {(b.name, b.target_commit) for b in dst_refs.branches} == {
        (b.name, b.target_commit) for b in src_refs.branches
    }
    assert [(t.name, t.target_commit) for t in dst_refs.tags] == [
        (t.name, t.target_commit) for t in src_refs.tags
    ]
    info = api.model_info(copy)
    assert (
        info.sha == api.model_info(rid).sha and info.private is False and info.card_data["license"] == "mit"
    )
    assert open(hf_hub_download(copy, "w.bin", cache_dir=tmp_path), "rb").read() == b"\0weights" * 500
    # the copy lives apart: deleting the source leaves it whole; it takes commits of its own
    api.delete_repo(rid)
    api.upload_file(repo_id=copy, path_in_repo="more.txt", path_or_fileobj=b"more")
    assert open(hf_hub_download(copy, "w.bin", cache_dir=tmp_path / "2"), "rb").read() == b"\0weights" * 500

    # taken: a 409 carrying the url (exist_ok), and private on request
    with pytest.raises(HfHubHTTPError) as e:
        api.duplicate_repo(copy, copy)
    assert e.value.response.status_code == 409
    assert api.duplicate_repo(copy, copy, exist_ok=True).repo_id == copy
    mine = HfApi(endpoint=ENDPOINT, token=bob).duplicate_repo(copy, private=True)
    assert mine.repo_id == f"bob/{repo_name}-copy"
    assert HfApi(endpoint=ENDPOINT, token=bob).model_info(mine.repo_id).private is True


def test_duplicate_private_repo_hidden_from_others(api: HfApi, bob: str, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=ENDPOINT, token=bob).duplicate_repo(rid)
    assert api.duplicate_repo(rid, f"{rid}-2").repo_id == f"{rid}-2"
    assert api.model_info(f"{rid}-2").private is True  # as the source


def test_duplicate_space_copies_settings_not_secrets(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="space", space_sdk="static")
    api.add_space_variable(rid, "COLOR", "blue", description="the theme")
    api.add_space_secret(rid, "TOKEN", "s3cret")
    copy = api.duplicate_repo(
        rid, f"{rid}-dup", repo_type="space", space_secrets=[{"key": "NEW", "value": "v"}]
    ).repo_id
    assert api.space_info(copy).sdk == "static"
    variables = api.get_space_variables(copy)
    assert {k: (v.value, v.description) for k, v in variables.items()} == {"COLOR": ("blue", "the theme")}
    auth = {"authorization": f"Bearer {api.token}"}
    secrets = httpx.get(f"{ENDPOINT}/api/spaces/{copy}/secrets", headers=auth).json()
    assert sorted(secrets) == ["NEW"]


def test_duplicate_and_share_pass_the_gate(api: HfApi, bob: str, repo_name: str) -> None:
    """A copy is a download: a gated repo's copy (or sharing its objects) needs access, as its files do."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="w.bin", path_or_fileobj=b"\0gated" + repo_name.encode())
    api.update_repo_settings(rid, gated="manual")
    oid = api.get_paths_info(rid, ["w.bin"])[0].lfs.sha256
    with pytest.raises(GatedRepoError):
        HfApi(endpoint=ENDPOINT, token=bob).duplicate_repo(rid)
    r = httpx.post(
        f"{ENDPOINT}/api/models/{rid}/lfs-files/duplicate",
        json={"target": {"type": "model", "name": f"bob/{repo_name}"}, "files": [{"sha256": oid}]},
        headers={"authorization": f"Bearer {bob}"},
    )
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    assert not api.repo_exists(f"bob/{repo_name}")
