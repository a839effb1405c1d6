"""Private repositories through the real huggingface_hub client (and raw httpx where it says more).

A private repo must be invisible to anyone without read access: every route answers exactly as for a repo
that does not exist (404 + `X-Error-Code: RepoNotFound`), so huggingface_hub raises RepositoryNotFoundError.
Members of the owning namespace read it; only write roles with write tokens change it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

WEB = {"model": "", "dataset": "datasets/"}
API = {"model": "models", "dataset": "datasets"}
HELLO = b"hello from a private repo\n"
WEIGHTS = bytes(range(256)) * 8  # *.bin is an LFS pattern in the default .gitattributes


def _hdr(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def _api(server: Any, token: str | None) -> HfApi:
    # token=False: never fall back to a saved token, the request goes out anonymously.
    return HfApi(endpoint=server.url, token=token or False)


def _state(api: HfApi, repo_id: str, repo_type: str) -> tuple[str, list[str]]:
    info = api.repo_info(repo_id, repo_type=repo_type)
    assert info.sha is not None
    return info.sha, sorted(api.list_repo_files(repo_id, repo_type=repo_type))


def _make_private(api: HfApi, repo_id: str, repo_type: str) -> str:
    """A private repo with a regular file and an LFS file; returns the LFS oid."""
    api.create_repo(repo_id, repo_type=repo_type, private=True)
    api.create_commit(
        repo_id,
        repo_type=repo_type,
        commit_message="seed",
        operations=[CommitOperationAdd("hello.txt", HELLO), CommitOperationAdd("w.bin", WEIGHTS)],
    )
    files = {f.path: f for f in api.list_repo_tree(repo_id, repo_type=repo_type)}
    assert files["w.bin"].lfs is not None, "w.bin should be stored through LFS"
    return hashlib.sha256(WEIGHTS).hexdigest()


@pytest.fixture(scope="module")
def private_repos(server: Any, alice: str) -> dict[str, tuple[str, str]]:
    """repo_type -> (repo_id, lfs oid) for a private model and a private dataset of alice."""
    api = HfApi(endpoint=server.url, token=alice)
    out = {}
    for t in ("model", "dataset"):
        repo_id = f"alice/private-{t}"
        out[t] = (repo_id, _make_private(api, repo_id, t))
    return out


OUTSIDERS = ("anonymous", "bob", "bob-read")


def _outsider_token(server: Any, who: str) -> str | None:
    return {"anonymous": None, "bob": server.token("bob"), "bob-read": server.token("bob", "read")}[who]


def _raw_requests(
    base: str, repo_type: str, repo_id: str, oid: str
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, method, url, httpx kwargs) for every route that touches a repo."""
    api = f"{base}/api/{API[repo_type]}/{repo_id}"
    web = f"{base}/{WEB[repo_type]}{repo_id}"
    lfs_hdr = {"accept": "application/vnd.git-lfs+json", "content-type": "application/vnd.git-lfs+json"}
    batch = {
        "transfers": ["basic"],
        "objects": [{"oid": oid, "size": len(WEIGHTS)}],
        "hash_algo": "sha256",
        "ref": {"name": "main"},
    }
    ndjson = "\n".join(
        json.dumps(x)
        for x in (
            {"key": "header", "value": {"summary": "sneaky", "description": ""}},
            {"key": "file", "value": {"path": "evil.txt", "content": "ZXZpbA==", "encoding": "base64"}},
        )
    )
    return [
        ("info", "GET", api, {}),
        ("info-blobs", "GET", f"{api}?blobs=true", {}),
        ("revision", "GET", f"{api}/revision/main", {}),
        ("tree", "GET", f"{api}/tree/main?recursive=true&expand=false", {}),
        ("tree-path", "GET", f"{api}/tree/main/hello.txt?recursive=false&expand=false", {}),
        (
            "paths-info",
            "POST",
            f"{api}/paths-info/main",
            {"data": {"paths": ["hello.txt"], "expand": "false"}},
        ),
        ("commits", "GET", f"{api}/commits/main", {}),
        ("refs", "GET", f"{api}/refs", {}),
        ("resolve-head", "HEAD", f"{web}/resolve/main/hello.txt", {}),
        ("resolve-get", "GET", f"{web}/resolve/main/hello.txt", {}),
        ("resolve-lfs", "GET", f"{web}/resolve/main/w.bin", {}),
        (
            "preupload",
            "POST",
            f"{api}/preupload/main",
            {"json": {"files": [{"path": "evil.txt", "sample": "ZXZpbA==", "size": 4}]}},
        ),
        (
            "commit",
            "POST",
            f"{api}/commit/main",
            {"content": ndjson.encode(), "headers": {"content-type": "application/x-ndjson"}},
        ),
        (
            "lfs-download",
            "POST",
            f"{web}.git/info/lfs/objects/batch",
            {"content": json.dumps({**batch, "operation": "download"}).encode(), "headers": lfs_hdr},
        ),
        (
            "lfs-upload",
            "POST",
            f"{web}.git/info/lfs/objects/batch",
            {"content": json.dumps({**batch, "operation": "upload"}).encode(), "headers": lfs_hdr},
        ),
    ]


def _send(method: str, url: str, token: str | None, kwargs: dict[str, Any]) -> httpx.Response:
    kw = dict(kwargs)
    headers = {**kw.pop("headers", {}), **_hdr(token)}
    return httpx.request(method, url, headers=headers, timeout=30, **kw)


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
@pytest.mark.parametrize("who", OUTSIDERS)
def test_private_repo_is_not_found_on_every_route(
    server: Any, alice: str, private_repos: Any, who: str, repo_type: str
) -> None:
    repo_id, oid = private_repos[repo_type]
    owner = HfApi(endpoint=server.url, token=alice)
    before = _state(owner, repo_id, repo_type)
    token = _outsider_token(server, who)
    missing_id = "alice/no-such-repo-anywhere"
    for (label, method, url, kw), (_, _, missing_url, _) in zip(
        _raw_requests(server.url, repo_type, repo_id, oid),
        _raw_requests(server.url, repo_type, missing_id, oid),
        strict=True,
    ):
        r = _send(method, url, token, kw)
        if who == "anonymous" and label.startswith("lfs-"):
            # git-lfs only sends credentials after a 401 that asks for them (LFS-Authenticate): the batch
            # endpoint answers anonymous callers with 401, for a private repo exactly as for a missing one.
            assert r.status_code == 401, (label, r.status_code, r.text)
            assert "LFS-Authenticate" in r.headers, label
        else:
            assert r.status_code == 404, (label, r.status_code, r.text)
            assert r.headers.get("X-Error-Code") == "RepoNotFound", (label, dict(r.headers))
        if method != "HEAD":
            assert b"hello from" not in r.content and oid not in r.text, label
        # Nothing distinguishes a private repo from a missing one.
        m = _send(method, missing_url, token, kw)
        assert (m.status_code, m.headers.get("X-Error-Code")) == (
            r.status_code,
            r.headers.get("X-Error-Code"),
        ), label
    assert _state(owner, repo_id, repo_type) == before


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
@pytest.mark.parametrize("who", OUTSIDERS)
def test_private_repo_client_raises_repository_not_found(
    server: Any, alice: str, private_repos: Any, who: str, repo_type: str, tmp_path: Path
) -> None:
    repo_id, _ = private_repos[repo_type]
    owner = HfApi(endpoint=server.url, token=alice)
    before = _state(owner, repo_id, repo_type)
    token = _outsider_token(server, who)
    api = _api(server, token)
    kw = {"repo_type": repo_type}
    calls = {
        "repo_info": lambda: api.repo_info(repo_id, **kw),
        "repo_info@main": lambda: api.repo_info(repo_id, revision="main", **kw),
        "list_repo_files": lambda: api.list_repo_files(repo_id, **kw),
        "list_repo_tree": lambda: list(api.list_repo_tree(repo_id, **kw)),
        "get_paths_info": lambda: api.get_paths_info(repo_id, ["hello.txt"], **kw),
        "hf_hub_download": lambda: hf_hub_download(
            repo_id, "hello.txt", token=token or False, cache_dir=tmp_path / "cache", **kw
        ),
        "upload_file": lambda: api.upload_file(
            path_or_fileobj=b"evil", path_in_repo="evil.txt", repo_id=repo_id, **kw
        ),
        "upload_lfs": lambda: api.upload_file(
            path_or_fileobj=b"\x00evil" * 100, path_in_repo="evil.bin", repo_id=repo_id, **kw
        ),
        "list_repo_commits": lambda: api.list_repo_commits(repo_id, **kw),
        "list_repo_refs": lambda: api.list_repo_refs(repo_id, **kw),
    }
    for name, call in calls.items():
        with pytest.raises(RepositoryNotFoundError) as info:
            call()
        assert info.value.response is not None and info.value.response.status_code == 404, name
    assert api.repo_exists(repo_id, **kw) is False
    assert api.file_exists(repo_id, "hello.txt", **kw) is False
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("hello.txt"))
    assert _state(owner, repo_id, repo_type) == before


def test_private_repo_hidden_from_listings(server: Any, private_repos: Any) -> None:
    for who in OUTSIDERS:
        api = _api(server, _outsider_token(server, who))
        assert "alice/private-model" not in {m.id for m in api.list_models(author="alice")}, who
        assert "alice/private-dataset" not in {d.id for d in api.list_datasets(author="alice")}, who


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_owner_reads_private_repo(
    server: Any, alice: str, private_repos: Any, repo_type: str, tmp_path: Path
) -> None:
    repo_id, oid = private_repos[repo_type]
    for token in (alice, server.token("alice", "read")):
        api = HfApi(endpoint=server.url, token=token)
        info = api.repo_info(repo_id, repo_type=repo_type)
        assert info.private is True
        assert {"hello.txt", "w.bin", ".gitattributes"} <= set(
            api.list_repo_files(repo_id, repo_type=repo_type)
        )
        path = hf_hub_download(
            repo_id, "hello.txt", repo_type=repo_type, token=token, cache_dir=tmp_path / token
        )
        assert Path(path).read_bytes() == HELLO
        path = hf_hub_download(repo_id, "w.bin", repo_type=repo_type, token=token, cache_dir=tmp_path / token)
        assert Path(path).read_bytes() == WEIGHTS
        assert api.list_repo_commits(repo_id, repo_type=repo_type)[0].title == "seed"
        assert [b.name for b in api.list_repo_refs(repo_id, repo_type=repo_type).branches] == ["main"]
        assert repo_id in {
            m.id for m in (api.list_models if repo_type == "model" else api.list_datasets)(author="alice")
        }


@pytest.fixture(scope="module")
def acme_private(server: Any, alice: str) -> tuple[str, str]:
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = "acme/private-model"
    return repo_id, _make_private(api, repo_id, "model")


def test_org_read_member_reads_but_cannot_write(
    server: Any, alice: str, acme_private: Any, tmp_path: Path
) -> None:
    repo_id, oid = acme_private
    owner = HfApi(endpoint=server.url, token=alice)
    before = _state(owner, repo_id, "model")
    carol = server.token("carol")  # a write token, but carol is only a read member of acme
    api = HfApi(endpoint=server.url, token=carol)

    # Reading works, through every read route.
    assert api.repo_info(repo_id).private is True
    assert api.repo_exists(repo_id)
    assert {"hello.txt", "w.bin"} <= set(api.list_repo_files(repo_id))
    assert [p.path for p in api.get_paths_info(repo_id, ["hello.txt"])] == ["hello.txt"]
    assert Path(hf_hub_download(repo_id, "hello.txt", token=carol, cache_dir=tmp_path)).read_bytes() == HELLO
    assert Path(hf_hub_download(repo_id, "w.bin", token=carol, cache_dir=tmp_path)).read_bytes() == WEIGHTS
    assert api.list_repo_commits(repo_id)[0].title == "seed"
    assert api.list_repo_refs(repo_id).branches[0].name == "main"
    assert repo_id in {m.id for m in api.list_models(author="acme")}
    r = httpx.post(
        f"{server.url}/{repo_id}.git/info/lfs/objects/batch",
        headers={**_hdr(carol), "content-type": "application/vnd.git-lfs+json"},
        content=json.dumps({"operation": "download", "objects": [{"oid": oid, "size": len(WEIGHTS)}]}),
    )
    assert r.status_code == 200, r.text
    assert "download" in r.json()["objects"][0]["actions"]

    # Writing does not: 403 (carol can see the repo, so a 404 would be a lie), nothing changes.
    writes = {
        "upload_file": lambda: api.upload_file(
            path_or_fileobj=b"carol", path_in_repo="carol.txt", repo_id=repo_id
        ),
        "upload_lfs": lambda: api.upload_file(
            path_or_fileobj=b"\x00c" * 600, path_in_repo="c.bin", repo_id=repo_id
        ),
        "delete_file": lambda: api.delete_file("hello.txt", repo_id),
        "create_branch": lambda: api.create_branch(repo_id, branch="carol"),
        "create_tag": lambda: api.create_tag(repo_id, tag="carol"),
        "update_repo_settings": lambda: api.update_repo_settings(repo_id, visibility="public"),
        "delete_repo": lambda: api.delete_repo(repo_id),
    }
    for name, call in writes.items():
        with pytest.raises(HfHubHTTPError) as info:
            call()
        assert not isinstance(info.value, RepositoryNotFoundError), name
        assert info.value.response.status_code == 403, (name, info.value)
        assert info.value.response.headers.get("X-Error-Code") == "Forbidden", name
    r = httpx.post(
        f"{server.url}/{repo_id}.git/info/lfs/objects/batch",
        headers={**_hdr(carol), "content-type": "application/vnd.git-lfs+json"},
        content=json.dumps({"operation": "upload", "objects": [{"oid": "ab" * 32, "size": 10}]}),
    )
    assert r.status_code == 403, r.text
    assert _state(owner, repo_id, "model") == before
    assert owner.repo_info(repo_id).private is True
    refs = owner.list_repo_refs(repo_id)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []


def test_org_outsider_gets_not_found(server: Any, acme_private: Any) -> None:
    repo_id, _ = acme_private
    for who in OUTSIDERS:
        api = _api(server, _outsider_token(server, who))
        with pytest.raises(RepositoryNotFoundError):
            api.repo_info(repo_id)
        with pytest.raises(RepositoryNotFoundError):
            api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_read_token_of_owner_cannot_write(
    server: Any, alice: str, private_repos: Any, repo_type: str
) -> None:
    repo_id, _ = private_repos[repo_type]
    owner = HfApi(endpoint=server.url, token=alice)
    before = _state(owner, repo_id, repo_type)
    ro = HfApi(endpoint=server.url, token=server.token("alice", "read"))
    kw = {"repo_type": repo_type}
    writes = {
        "upload_file": lambda: ro.upload_file(
            path_or_fileobj=b"nope", path_in_repo="nope.txt", repo_id=repo_id, **kw
        ),
        "upload_lfs": lambda: ro.upload_file(
            path_or_fileobj=b"\x00n" * 600, path_in_repo="n.bin", repo_id=repo_id, **kw
        ),
        "delete_file": lambda: ro.delete_file("hello.txt", repo_id, **kw),
        "create_branch": lambda: ro.create_branch(repo_id, branch="ro", **kw),
        "update_repo_settings": lambda: ro.update_repo_settings(repo_id, visibility="public", **kw),
        "delete_repo": lambda: ro.delete_repo(repo_id, **kw),
    }
    for name, call in writes.items():
        with pytest.raises(HfHubHTTPError) as info:
            call()
        assert info.value.response.status_code == 403, (name, info.value)
        assert "read-only" in str(info.value), name  # the message says why
    assert _state(owner, repo_id, repo_type) == before
    assert owner.repo_info(repo_id, **kw).private is True
    assert [b.name for b in owner.list_repo_refs(repo_id, **kw).branches] == ["main"]


@pytest.mark.parametrize("repo_type", ["model", "dataset"])
def test_visibility_toggle(
    server: Any, alice: str, bob: str, repo_name: str, repo_type: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    owner = HfApi(endpoint=server.url, token=alice)
    _make_private(owner, repo_id, repo_type)
    viewer = HfApi(endpoint=server.url, token=bob)
    anon = _api(server, None)
    listing = (
        (lambda a: a.list_models(author="alice"))
        if repo_type == "model"
        else (lambda a: a.list_datasets(author="alice"))
    )
    kw = {"repo_type": repo_type}

    def hidden() -> None:
        for a in (viewer, anon):
            with pytest.raises(RepositoryNotFoundError):
                a.repo_info(repo_id, **kw)
            with pytest.raises(RepositoryNotFoundError):
                a.list_repo_files(repo_id, **kw)
            assert repo_id not in {x.id for x in listing(a)}
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(repo_id, "hello.txt", token=bob, cache_dir=tmp_path / "hidden", **kw)

    hidden()
    owner.update_repo_settings(repo_id, visibility="public", **kw)
    assert owner.repo_info(repo_id, **kw).private is False
    for a, tok in ((viewer, bob), (anon, False)):
        info = a.repo_info(repo_id, **kw)
        assert info.private is False
        assert {"hello.txt", "w.bin"} <= set(a.list_repo_files(repo_id, **kw))
        assert repo_id in {x.id for x in listing(a)}
        p = hf_hub_download(repo_id, "w.bin", token=tok, cache_dir=tmp_path / f"public-{bool(tok)}", **kw)
        assert Path(p).read_bytes() == WEIGHTS
    # Public does not mean writable.
    with pytest.raises(HfHubHTTPError) as err:
        viewer.upload_file(path_or_fileobj=b"bob", path_in_repo="bob.txt", repo_id=repo_id, **kw)
    assert err.value.response.status_code == 403

    owner.update_repo_settings(repo_id, private=True, **kw)
    assert owner.repo_info(repo_id, **kw).private is True
    hidden()
    assert "bob.txt" not in owner.list_repo_files(repo_id, **kw)
