"""Item 11 of issue 12 (refs and paths): what a writer may push or commit is what the Hub accepts.

Refs: only branches (refs/heads/*, not HEAD) and tags (refs/tags/*) naming commits, and the refs/pr/N of an
existing pull request; refs/meta/config, refs/notes/*, refs/pr/N without a PR, tags of blobs or trees are
refused by the push hook, and the API branch / tag endpoints apply the same name rules.
Paths: a file or folder name over 255 bytes, and a path that differs from another of the tree only by Unicode
normalisation (NFC vs NFD), are refused by API commits and pushes alike (paths are kept as given, never renamed).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..compat.test_git_push import Git, url
from ..conftest import Server


def clone(server: Server, token: str, api: HfApi, repo_id: str, tmp_path: Path) -> tuple[Git, Path]:
    api.create_repo(repo_id, exist_ok=True)
    git = Git(tmp_path)
    work = tmp_path / "w"
    git("clone", url(server, repo_id, token), str(work))
    (work / "a.txt").write_text("a\n")
    git("add", "a.txt", cwd=work)
    git("commit", "-m", "a", cwd=work)
    return git, work


def remote_refs(git: Git, work: Path) -> set[str]:
    out = git("ls-remote", "origin", cwd=work).stdout
    return {line.split("\t")[1] for line in out.splitlines() if "\t" in line}


@pytest.mark.parametrize(
    "refspec",
    [
        "HEAD:refs/heads/HEAD",
        "HEAD:refs/meta/config",
        "HEAD:refs/notes/commits",
        "HEAD:refs/pr/7",
        "HEAD:refs/convert/parquet",
        "HEAD:refs/something/else",
        "HEAD:refs/tags/HEAD",
    ],
)
def test_push_of_refs_the_hub_refuses(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path, refspec: str
) -> None:
    git, work = clone(server, alice, api, f"alice/{repo_name}", tmp_path)
    before = remote_refs(git, work)
    p = git("push", "origin", refspec, cwd=work, check=False)
    assert p.returncode != 0, p.stderr
    assert "error" in p.stderr.lower()
    assert remote_refs(git, work) == before


def test_tags_must_name_commits(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    git, work = clone(server, alice, api, f"alice/{repo_name}", tmp_path)
    blob = git("hash-object", "-w", "a.txt", cwd=work).stdout.strip()
    tree = git("rev-parse", "HEAD^{tree}", cwd=work).stdout.strip()
    git("tag", "blobtag", blob, cwd=work)
    git("tag", "-a", "-m", "a tree", "treetag", tree, cwd=work)
    git("tag", "-a", "-m", "a blob", "annblob", blob, cwd=work)
    for tag in ("blobtag", "treetag", "annblob"):
        p = git("push", "origin", f"refs/tags/{tag}", cwd=work, check=False)
        assert p.returncode != 0 and "commit" in p.stderr, (tag, p.stderr)
    assert not any(r.startswith("refs/tags/") for r in remote_refs(git, work))
    # what stays allowed: branches, tags of commits (light and annotated)
    git("tag", "v1", cwd=work)
    git("tag", "-a", "-m", "release", "v2", cwd=work)
    git(
        "push",
        "origin",
        "HEAD:refs/heads/main",
        "HEAD:refs/heads/feature/x",
        "refs/tags/v1",
        "refs/tags/v2",
        cwd=work,
    )
    assert {"refs/heads/feature/x", "refs/tags/v1", "refs/tags/v2"} <= remote_refs(git, work)


def test_pr_ref_of_an_existing_pr_takes_pushes(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    git, work = clone(server, alice, api, repo_id, tmp_path)
    pr = api.create_pull_request(repo_id, title="change")
    git("push", "origin", f"HEAD:refs/pr/{pr.num}", cwd=work)
    assert f"refs/pr/{pr.num}" in remote_refs(git, work)
    p = git("push", "origin", f":refs/pr/{pr.num}", cwd=work, check=False)
    assert p.returncode != 0
    p = git("push", "origin", f"HEAD:refs/pr/{pr.num + 1}", cwd=work, check=False)
    assert p.returncode != 0 and "does not exist" in p.stderr


@pytest.mark.parametrize(
    "name",
    [
        "HEAD",
        "a..b",
        "a b",
        "x.lock",
        ".hidden",
        "a~1",
        "a:b",
        "-x",
        "x/",
        "a//b",
        "@",
        "x@{1}",
        "q?",
        "br[1]",
        "c\\d",
    ],
)
def test_api_branch_names(server: Server, alice: str, api: HfApi, name: str) -> None:
    repo_id = f"alice/refnames-{abs(hash(name)) % 10**8}"
    api.create_repo(repo_id)
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_branch(repo_id, branch=name)
    assert exc.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_tag(repo_id, tag=name)
    assert exc.value.response.status_code == 400
    refs = api.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []


def test_api_good_ref_names_still_work(server: Server, alice: str, api: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    api.create_branch(repo_id, branch="feature/one")
    api.create_tag(repo_id, tag="v1.0")
    api.create_tag(repo_id, tag="v1.1", tag_message="annotated")
    refs = api.list_repo_refs(repo_id)
    assert {b.name for b in refs.branches} == {"main", "feature/one"}
    assert {t.name for t in refs.tags} == {"v1.0", "v1.1"}


# ---- paths ------------------------------------------------------------------------------------------------
LONG = "n" * 256
NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")


def test_api_refuses_names_over_255_bytes(server: Server, alice: str, api: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    for path in (LONG, f"dir/{LONG}", f"{LONG}/x.txt", "é" * 128):
        with pytest.raises(HfHubHTTPError) as exc:
            api.upload_file(path_or_fileobj=b"x", path_in_repo=path, repo_id=repo_id)
        assert exc.value.response.status_code == 400 and "255" in str(exc.value)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="n" * 255, repo_id=repo_id)
    assert [f for f in api.list_repo_files(repo_id) if f.startswith("n")] == ["n" * 255]


def test_api_refuses_unicode_twins(server: Server, alice: str, api: HfApi, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    assert NFC != NFD
    api.upload_file(path_or_fileobj=b"nfc", path_in_repo=NFC, repo_id=repo_id)
    head = api.model_info(repo_id).sha
    with pytest.raises(HfHubHTTPError) as exc:
        api.upload_file(path_or_fileobj=b"nfd", path_in_repo=NFD, repo_id=repo_id)
    assert exc.value.response.status_code == 400 and "normalisation" in str(exc.value)
    with pytest.raises(HfHubHTTPError):  # a folder twin
        api.upload_file(path_or_fileobj=b"x", path_in_repo=f"{NFD}/inner.txt", repo_id=repo_id)
    assert api.model_info(repo_id).sha == head
    # the same spelling again is an ordinary update
    api.upload_file(path_or_fileobj=b"nfc2", path_in_repo=NFC, repo_id=repo_id)
    files = api.list_repo_files(repo_id)
    assert NFC in files and NFD not in files


@pytest.mark.parametrize("kind", ["long", "twin", "long-dir"])
def test_push_refuses_bad_paths(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path, kind: str
) -> None:
    repo_id = f"alice/{repo_name}"
    git, work = clone(server, alice, api, repo_id, tmp_path)
    if kind == "twin":
        (work / NFC).write_text("nfc\n")
        git("add", "--", NFC, cwd=work)
        git("commit", "-m", "nfc", cwd=work)
        git("push", "origin", "main", cwd=work)
        (work / NFD).write_text("nfd\n")  # a distinct file name on Linux
        git("add", "--", NFD, cwd=work)
    else:  # no file system holds such a name: build the index entry directly
        blob = git("hash-object", "-w", "a.txt", cwd=work).stdout.strip()
        path = LONG if kind == "long" else f"{LONG}/x.txt"
        git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", cwd=work)
    git("commit", "-m", "bad path", cwd=work)
    head = api.model_info(repo_id).sha
    p = git("push", "origin", "main", cwd=work, check=False)
    assert p.returncode != 0
    assert "paths the Hub refuses" in p.stderr, p.stderr
    assert ("255" in p.stderr) if kind != "twin" else ("normalisation" in p.stderr)
    assert api.model_info(repo_id).sha == head


def _csrf(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m, "no csrf meta tag"
    return m.group(1)


def test_web_upload_refuses_bad_paths(server: Server, api: HfApi, repo_name: str) -> None:
    """The browser's upload form (stage a blob, then commit it by path): the same path rules."""
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"nfc", path_in_repo=NFC, repo_id=repo_id)
    head = api.model_info(repo_id).sha
    with httpx.Client(base_url=server.url, timeout=60, headers={"Origin": server.url}) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"username": "alice", "password": "alice-password", "csrf": token})
        assert r.status_code in (200, 302, 303), r.text[:300]
        page = c.get(f"/{repo_id}/upload/main")
        assert page.status_code == 200
        token = _csrf(page.text)
        staged = c.put(f"/{repo_id}/upload-blob", content=b"x", headers={"X-CSRF-Token": token}).json()
        for path, word in ((LONG, "255"), (f"d/{LONG}", "255"), (NFD, "normalisation")):
            r = c.post(
                f"/{repo_id}/upload/main",
                headers={"X-CSRF-Token": token},
                json={"files": [{**staged, "path": path}], "message": "bad"},
            )
            assert r.status_code == 400 and word in r.text, r.text[:300]
    assert api.model_info(repo_id).sha == head
