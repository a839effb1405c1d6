"""Gated repos through the real clients: huggingface_hub's downloads, access-request calls and auth_check,
git clone, the LFS batch API, Xet tokens, the dataset viewer and a static Space's app.

A gated repo keeps its metadata public (repo info, the file list, README.md) and serves its files only to
its namespace's members and the users given access: the anonymous get GatedRepo with 401, a logged-in user
without access GatedRepo with 403 (huggingface_hub: GatedRepoError either way).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

from ..conftest import Server
from .datasets_helpers import viewer, wait_converted
from .test_git_push import Git, url

pytestmark = pytest.mark.usefixtures("no_server_errors")

CARD = """---
license: mit
extra_gated_prompt: Tell us who you are before you download the weights.
extra_gated_fields:
  Company: text
  I agree to use this model for research only: checkbox
---
# A gated model
"""
WEIGHTS = bytes(range(256)) * 16  # *.bin: stored through LFS
CONFIG = b'{"model_type": "gated-test"}\n'


def _api(server: Server, token: str | None) -> HfApi:
    return HfApi(endpoint=server.url, token=token or False)


def _hdr(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def _gated_model(api: HfApi, repo_id: str, mode: str) -> None:
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        commit_message="seed",
        operations=[
            CommitOperationAdd("README.md", CARD.encode()),
            CommitOperationAdd("config.json", CONFIG),
            CommitOperationAdd("weights.bin", WEIGHTS),
        ],
    )
    api.update_repo_settings(repo_id, gated=mode)  # type: ignore[arg-type]


def _ask(
    server: Server, repo_id: str, token: str, fields: dict[str, Any], kind: str = "models"
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/{kind}/{repo_id}/ask-access",
        json={"fields": fields},
        headers=_hdr(token),
        timeout=30,
    )


def _download_fails(
    server: Server, repo_id: str, token: str | None, tmp: Path, repo_type: str = "model"
) -> None:
    """Every download surface refuses the caller with GatedRepo."""
    with pytest.raises(GatedRepoError):
        hf_hub_download(
            repo_id, "config.json" if repo_type == "model" else "data.csv", repo_type=repo_type,
            endpoint=server.url, token=token or False, cache_dir=tmp / "c1",
        )  # fmt: skip
    with pytest.raises(GatedRepoError):
        snapshot_download(
            repo_id, repo_type=repo_type, endpoint=server.url, token=token or False, cache_dir=tmp / "c2"
        )
    with pytest.raises(GatedRepoError):
        _api(server, token).auth_check(repo_id, repo_type=repo_type)


def _clone(
    server: Server, tmp: Path, repo_id: str, user: str, token: str | None, dest: str
) -> subprocess.CompletedProcess[str]:
    git = Git(tmp / f"git-{dest}")
    return git("clone", url(server, repo_id, token, user), str(tmp / dest), check=False)


def test_manual_gate_request_accept_reject_cancel_grant(
    server: Server, api: HfApi, alice: str, bob: str, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    _gated_model(api, repo_id, "manual")
    carol = server.token("carol")

    # Metadata stays public: info, the file list, the card.
    anon = _api(server, None)
    assert anon.model_info(repo_id).gated == "manual"
    assert sorted(anon.list_repo_files(repo_id)) == [
        ".gitattributes",
        "README.md",
        "config.json",
        "weights.bin",
    ]
    card = hf_hub_download(
        repo_id, "README.md", endpoint=server.url, token=False, cache_dir=tmp_path / "card"
    )
    assert Path(card).read_text() == CARD

    # The anonymous and bob (no request yet) get GatedRepo everywhere; the Hub's statuses: 401 and 403.
    for token in (None, bob):
        _download_fails(server, repo_id, token, tmp_path / f"no-{bool(token)}")
    r = httpx.get(f"{server.url}/{repo_id}/resolve/main/config.json")
    assert r.status_code == 401 and r.headers["x-error-code"] == "GatedRepo"
    assert f"Access to model {repo_id} is restricted" in r.headers["x-error-message"]
    r = httpx.get(f"{server.url}/{repo_id}/resolve/main/config.json", headers=_hdr(bob))
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    assert "not in the authorized list" in r.json()["error"]

    # git: the anonymous are asked to log in (401), bob is told why (git prints the message).
    assert _clone(server, tmp_path, repo_id, "", None, "anon").returncode != 0
    p = _clone(server, tmp_path, repo_id, "bob", bob, "bob-before")
    assert p.returncode != 0 and "is restricted" in p.stderr, p.stderr
    # LFS batch downloads and Xet read tokens are behind the gate too; alice (the owner) passes.
    oid = hashlib.sha256(WEIGHTS).hexdigest()
    batch = {"operation": "download", "objects": [{"oid": oid, "size": len(WEIGHTS)}]}
    lfs_hdr = {"accept": "application/vnd.git-lfs+json", "content-type": "application/vnd.git-lfs+json"}
    r = httpx.post(
        f"{server.url}/{repo_id}.git/info/lfs/objects/batch", json=batch, headers={**lfs_hdr, **_hdr(bob)}
    )
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    r = httpx.get(f"{server.url}/api/models/{repo_id}/xet-read-token/main", headers=_hdr(bob))
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    assert (
        httpx.get(f"{server.url}/api/models/{repo_id}/xet-read-token/main", headers=_hdr(alice)).status_code
        == 200
    )
    api.auth_check(repo_id)

    # bob asks: the card's fields are required (the checkbox ticked); manual gating leaves it pending.
    r = _ask(server, repo_id, bob, {"Company": "Bob & Co"})
    assert r.status_code == 400 and "I agree" in r.json()["error"]
    r = _ask(
        server, repo_id, bob, {"Company": "Bob & Co", "I agree to use this model for research only": True}
    )
    assert r.status_code == 200 and r.json() == {"status": "pending"}
    _download_fails(server, repo_id, bob, tmp_path / "pending")
    with pytest.raises(HfHubHTTPError) as e:  # only the repo's writers see the requests
        list(_api(server, bob).list_pending_access_requests(repo_id))
    assert e.value.response.status_code == 403

    (req,) = list(api.list_pending_access_requests(repo_id))
    assert req.username == "bob" and req.status == "pending"
    assert req.fields == {"Company": "Bob & Co", "I agree to use this model for research only": True}
    assert list(api.list_accepted_access_requests(repo_id)) == []

    # Accepted: every surface serves bob.
    api.accept_access_request(repo_id, "bob")
    assert [r.username for r in api.list_accepted_access_requests(repo_id)] == ["bob"]
    _api(server, bob).auth_check(repo_id)
    got = hf_hub_download(repo_id, "weights.bin", endpoint=server.url, token=bob, cache_dir=tmp_path / "ok")
    assert Path(got).read_bytes() == WEIGHTS
    snap = Path(snapshot_download(repo_id, endpoint=server.url, token=bob, cache_dir=tmp_path / "ok2"))
    assert (snap / "config.json").read_bytes() == CONFIG
    p = _clone(server, tmp_path, repo_id, "bob", bob, "bob-after")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "bob-after" / "config.json").read_bytes() == CONFIG

    # Rejected (with a reason): closed again; cancelled: back to pending.
    api.reject_access_request(repo_id, "bob", rejection_reason="Research labs only")
    (rej,) = list(api.list_rejected_access_requests(repo_id))
    assert rej.username == "bob" and rej.status == "rejected"
    _download_fails(server, repo_id, bob, tmp_path / "rejected")
    api.cancel_access_request(repo_id, "bob")
    assert [r.username for r in api.list_pending_access_requests(repo_id)] == ["bob"]
    assert list(api.list_rejected_access_requests(repo_id)) == []
    _download_fails(server, repo_id, bob, tmp_path / "cancelled")

    # grant_access: carol never asked, and may download at once.
    _download_fails(server, repo_id, carol, tmp_path / "carol")
    api.grant_access(repo_id, "carol")
    _api(server, carol).auth_check(repo_id)
    assert [r.username for r in api.list_accepted_access_requests(repo_id)] == ["carol"]
    with pytest.raises(HfHubHTTPError) as e:
        api.accept_access_request(repo_id, "nobody-asked")
    assert e.value.response.status_code == 404

    # Ungated: open to everyone again.
    api.update_repo_settings(repo_id, gated=False)
    anon.auth_check(repo_id)


def test_auto_gate_accepts_at_once(
    server: Server, api: HfApi, bob: str, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    _gated_model(api, repo_id, "auto")
    _download_fails(server, repo_id, bob, tmp_path / "before")
    r = _ask(
        server, repo_id, bob, {"Company": "Bob & Co", "I agree to use this model for research only": "on"}
    )
    assert r.status_code == 200 and r.json() == {"status": "accepted"}
    _api(server, bob).auth_check(repo_id)
    got = hf_hub_download(repo_id, "config.json", endpoint=server.url, token=bob, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == CONFIG
    assert [r.username for r in api.list_accepted_access_requests(repo_id)] == ["bob"]
    # The anonymous cannot ask; a repo that is not gated takes no requests.
    assert _ask(server, repo_id, "", {}).status_code == 401
    api.update_repo_settings(repo_id, gated=False)
    assert _ask(server, repo_id, bob, {}).status_code == 400


def test_gated_dataset_viewer_and_downloads(
    server: Server, api: HfApi, alice: str, bob: str, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, repo_type="dataset")
    info = api.upload_file(
        path_or_fileobj=b"a,b\n1,x\n2,y\n", path_in_repo="data.csv", repo_id=repo_id, repo_type="dataset"
    )
    wait_converted(repo_id, info.oid, alice)
    api.update_repo_settings(repo_id, gated="manual", repo_type="dataset")

    for token in (None, bob):
        _download_fails(server, repo_id, token, tmp_path / f"no-{bool(token)}", "dataset")
        for endpoint in ("rows", "first-rows", "parquet"):
            r = viewer(endpoint, token, dataset=repo_id, config="default", split="train")
            assert r.status_code == (403 if token else 401), (endpoint, r.text)
            assert r.headers["x-error-code"] == "GatedRepo"
    p = _clone(server, tmp_path, f"datasets/{repo_id}", "bob", bob, "bob-before")
    assert p.returncode != 0 and "is restricted" in p.stderr, p.stderr
    assert _api(server, None).dataset_info(repo_id).gated == "manual"  # metadata stays public

    assert _ask(server, repo_id, bob, {}, kind="datasets").json() == {"status": "pending"}
    api.accept_access_request(repo_id, "bob", repo_type="dataset")
    r = viewer("rows", bob, dataset=repo_id, config="default", split="train")
    assert r.status_code == 200 and [x["row"]["a"] for x in r.json()["rows"]] == [1, 2]
    got = hf_hub_download(
        repo_id, "data.csv", repo_type="dataset", endpoint=server.url, token=bob, cache_dir=tmp_path / "ok"
    )
    assert Path(got).read_bytes() == b"a,b\n1,x\n2,y\n"
    assert _clone(server, tmp_path, f"datasets/{repo_id}", "bob", bob, "bob-after").returncode == 0


def test_gated_static_space_app(server: Server, api: HfApi, bob: str, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, repo_type="space", space_sdk="static")
    api.upload_file(
        path_or_fileobj=b"<p>hi</p>", path_in_repo="index.html", repo_id=repo_id, repo_type="space"
    )
    app = f"{server.url}/spaces/{repo_id}/app/"
    assert httpx.get(app).status_code == 200
    api.update_repo_settings(repo_id, gated="manual", repo_type="space")
    r = httpx.get(app)
    assert r.status_code == 401 and r.headers["x-error-code"] == "GatedRepo"
    with pytest.raises(GatedRepoError):
        _api(server, bob).auth_check(repo_id, repo_type="space")
    # Its logs too (the run log is the app's output); its owner reads them.
    for token, status in ((None, 401), (bob, 403), (server.token("alice"), 200)):
        with httpx.stream("GET", f"{server.url}/api/spaces/{repo_id}/logs/build", headers=_hdr(token)) as r:
            assert r.status_code == status, (token, r.status_code)
            assert status == 200 or r.headers["x-error-code"] == "GatedRepo"


def test_a_gated_repos_pr_diff_only_past_its_gate(
    server: Server, api: HfApi, bob: str, repo_name: str
) -> None:
    """A PR's diff is the files' bytes: its details answer it to those past the gate only (its thread stays
    readable, as the repo's metadata)."""
    repo_id = f"alice/{repo_name}"
    _gated_model(api, repo_id, "manual")
    pr = api.create_commit(repo_id, [CommitOperationAdd("notes.txt", b"secret numbers\n")], commit_message="x",
                           create_pr=True)  # fmt: skip
    num = int(pr.pr_num or 0)
    assert "secret numbers" in (api.get_discussion_details(repo_id, num).diff or "")
    seen = _api(server, bob).get_discussion_details(repo_id, num)
    assert seen.title == "x" and "secret numbers" not in (seen.diff or "")
    page = httpx.get(f"{server.url}/{repo_id}/discussions/{num}/files", headers=_hdr(bob))
    assert page.status_code == 200 and "secret numbers" not in page.text


def test_the_web_editor_and_file_page_only_past_the_gate(
    server: Server, api: HfApi, bob: str, repo_name: str, tmp_path: Path
) -> None:
    """The web editor shows a file's bytes (a contributor may open it to propose a PR on a public repo) and
    the file page too: both answer as a download does until the gate is passed (the card stays public)."""
    repo_id = f"alice/{repo_name}"
    _gated_model(api, repo_id, "manual")
    for path in ("edit/main/config.json", "blob/main/config.json"):
        for token, status in ((bob, 403), (None, 401)):
            r = httpx.get(f"{server.url}/{repo_id}/{path}", headers=_hdr(token))
            if token is None and path.startswith("edit"):  # the anonymous are sent to log in first
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), r.text
                continue
            assert r.status_code == status and r.headers["x-error-code"] == "GatedRepo", (path, r.text)
            assert "gated-test" not in r.text and "restricted" in r.text
    r = httpx.get(f"{server.url}/{repo_id}/edit/main/README.md", headers=_hdr(bob))
    assert r.status_code == 200 and "extra_gated_prompt" in r.text  # the card is public metadata

    _ask(server, repo_id, bob, {"Company": "B", "I agree to use this model for research only": True})
    _download_fails(server, repo_id, bob, tmp_path)  # pending
    api.accept_access_request(repo_id, "bob")
    for path in ("edit/main/config.json", "blob/main/config.json"):
        r = httpx.get(f"{server.url}/{repo_id}/{path}", headers=_hdr(bob))
        assert r.status_code == 200 and "gated-test" in r.text, (path, r.status_code)


def _push_tree_naming(
    server: Server, repo_id: str, user: str, token: str, ref: str, old: str, blob: str, work: Path
) -> str:
    """A push to `ref` of a commit whose README.md is the repo's blob `blob`, which the pusher does not have: the
    pack holds the commit and its tree only (git's own push would look for the blob), as a hand-made client
    may send it. Returns the commit id."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null"}

    def git(*args: str, stdin: bytes) -> bytes:
        return subprocess.run(["git", "-C", str(work), *args], input=stdin, env=env, capture_output=True,
                              check=True).stdout  # fmt: skip

    subprocess.run(["git", "init", "-q", str(work)], check=True, env=env)
    tree = git("mktree", "--missing", stdin=f"100644 blob {blob}\tREADME.md\n".encode()).decode().strip()
    body = f"tree {tree}\nparent {old}\nauthor b <b@x> 0 +0000\ncommitter b <b@x> 0 +0000\n\ncard?\n"
    commit = git("hash-object", "-t", "commit", "-w", "--stdin", stdin=body.encode()).decode().strip()
    pack = git("pack-objects", "--stdout", stdin=f"{commit}\n{tree}\n".encode())
    line = f"{old} {commit} {ref}\0report-status\n".encode()
    r = httpx.post(
        f"{server.url}/{repo_id}.git/git-receive-pack",
        content=f"{len(line) + 4:04x}".encode() + line + b"0000" + pack,
        auth=(user, token),
        headers={"content-type": "application/x-git-receive-pack-request"},
        timeout=60,
    )
    assert r.status_code == 200 and b"ok " + ref.encode() in r.content, r.content
    return commit


def test_a_prs_readme_is_not_the_card(
    server: Server, api: HfApi, bob: str, repo_name: str, tmp_path: Path
) -> None:
    """README.md passes the gate as the card, but only on a branch or tag (refs the repo's writers move): anyone
    may open a PR, and a PR's README.md can be any of the repo's files (a same-repo CommitOperationCopy of an
    LFS file sends only its sha256)."""
    repo_id = f"alice/{repo_name}"
    _gated_model(api, repo_id, "manual")
    mine = HfApi(endpoint=server.url, token=bob)
    copy = CommitOperationCopy("weights.bin", "README.md")
    pr = mine.create_commit(repo_id, [copy], commit_message="card?", create_pr=True)
    head = mine.list_repo_refs(repo_id, include_pull_requests=True).pull_requests[0].target_commit
    for rev in (pr.pr_revision, head):
        with pytest.raises(GatedRepoError):
            hf_hub_download(
                repo_id, "README.md", revision=rev, endpoint=server.url, token=bob, cache_dir=tmp_path
            )
        for page in (f"blob/{head}/README.md", f"edit/{head}/README.md"):
            r = httpx.get(f"{server.url}/{repo_id}/{page}", headers=_hdr(bob))
            assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo", (page, r.status_code)
    # A hand-made push: the PR's README.md is config.json's blob (a regular file: in git).
    blob = next(f.blob_id for f in api.get_paths_info(repo_id, ["config.json"]))
    ref = str(pr.pr_revision)
    pushed = _push_tree_naming(server, repo_id, "bob", bob, ref, head, blob, tmp_path / "w")
    for page in (f"resolve/{pushed}/README.md", f"blob/{pushed}/README.md", f"edit-card/{pushed}"):
        r = httpx.get(f"{server.url}/{repo_id}/{page}", headers=_hdr(bob))
        assert r.status_code == 403 and b"gated-test" not in r.content, (page, r.status_code)
    # The card at main and at a tag stays public; past the gate the PR's README.md is served.
    for rev in ("main", "v1"):
        if rev == "v1":
            api.create_tag(repo_id, tag="v1")
        r = httpx.get(f"{server.url}/{repo_id}/resolve/{rev}/README.md")
        assert r.status_code == 200 and r.text == CARD
    api.grant_access(repo_id, "bob")
    got = hf_hub_download(
        repo_id, "README.md", revision=head, endpoint=server.url, token=bob, cache_dir=tmp_path
    )
    assert Path(got).read_bytes() == WEIGHTS


def test_a_contributors_xet_write_token_reads_nothing(
    server: Server, api: HfApi, alice: str, bob: str, repo_name: str
) -> None:
    """Anyone may upload bytes for a PR on a public repo, so bob (no access) gets a Xet write token for a gated
    one: it must not reconstruct the repo's files (their xetHash is public metadata in paths-info)."""
    from .test_xet_client import run_default_client

    repo_id = f"alice/{repo_name}"
    _gated_model(api, repo_id, "manual")
    script = f"""
        from huggingface_hub import HfApi
        HfApi(endpoint="{server.url}").upload_file(repo_id="{repo_id}", path_in_repo="big.bin",
                                                  path_or_fileobj=b"xet-secret " * 100_000)
        """
    run_default_client(script, alice)
    (info,) = _api(server, bob).get_paths_info(repo_id, ["big.bin"])
    assert info.xet_hash  # public metadata, as on the Hub
    r = httpx.get(f"{server.url}/api/models/{repo_id}/xet-write-token/main", headers=_hdr(bob))
    assert r.status_code == 200, r.text  # a contributor's upload for a PR
    tok = r.json()
    rec = httpx.get(
        f"{tok['casUrl']}/v1/reconstructions/{info.xet_hash}",
        headers={"authorization": f"Bearer {tok['accessToken']}"},
    )
    assert rec.status_code == 403 and "read token" in rec.json()["error"], rec.text
    # alice (past the gate) reads it with a read token.
    r = httpx.get(f"{server.url}/api/models/{repo_id}/xet-read-token/main", headers=_hdr(alice))
    rec = httpx.get(
        f"{r.json()['casUrl']}/v1/reconstructions/{info.xet_hash}",
        headers={"authorization": f"Bearer {r.json()['accessToken']}"},
    )
    assert rec.status_code == 200 and rec.json()["terms"], rec.text
