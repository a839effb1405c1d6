"""Repo lifecycle through huggingface_hub: create, info, exists, move, settings, delete."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..conftest import ENDPOINT


def test_whoami(api: HfApi) -> None:
    me = api.whoami()
    assert me["name"] == "alice"
    assert me["type"] == "user"
    assert "acme" in [o["name"] for o in me["orgs"]]
    assert me["auth"]["accessToken"]["role"] == "write"


def test_create_model_and_dataset(api: HfApi, repo_name: str) -> None:
    url = api.create_repo(repo_name)
    assert url.repo_id == f"alice/{repo_name}"
    assert str(url) == f"{ENDPOINT}/alice/{repo_name}"
    durl = api.create_repo(repo_name, repo_type="dataset")
    assert durl.repo_id == f"alice/{repo_name}" and durl.repo_type == "dataset"
    info = api.model_info(f"alice/{repo_name}")
    assert info.id == f"alice/{repo_name}"
    assert len(info.sha) == 40
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]
    commits = api.list_repo_commits(f"alice/{repo_name}")
    assert len(commits) == 1 and commits[0].authors == ["system"]
    dinfo = api.dataset_info(f"alice/{repo_name}")
    assert dinfo.id == f"alice/{repo_name}" and dinfo.sha != info.sha or dinfo.sha


def test_create_exist_ok(api: HfApi, repo_name: str) -> None:
    api.create_repo(repo_name)
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(repo_name)
    assert e.value.response.status_code == 409
    assert api.create_repo(repo_name, exist_ok=True).repo_id == f"alice/{repo_name}"


def test_create_private_and_in_org(api: HfApi, repo_name: str) -> None:
    api.create_repo(f"acme/{repo_name}", private=True)
    info = api.model_info(f"acme/{repo_name}")
    assert info.private is True
    assert not HfApi(endpoint=ENDPOINT, token=False).repo_exists(f"acme/{repo_name}")


def test_repo_exists_file_exists_revision_exists(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    assert not api.repo_exists(rid)
    api.create_repo(rid)
    assert api.repo_exists(rid)
    assert api.file_exists(rid, ".gitattributes")
    assert not api.file_exists(rid, "nope.txt")
    assert api.revision_exists(rid, "main")
    assert not api.revision_exists(rid, "nope")


def test_move_repo(api: HfApi, repo_name: str) -> None:
    api.create_repo(repo_name)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=f"alice/{repo_name}")
    api.move_repo(f"alice/{repo_name}", f"acme/{repo_name}-moved")
    # the old name redirects to the new one, as on the Hub (test_hf_compat_names.py)
    assert api.model_info(f"alice/{repo_name}").id == f"acme/{repo_name}-moved"
    assert api.list_repo_files(f"acme/{repo_name}-moved") == [".gitattributes", "a.txt"]


def test_update_settings(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.update_repo_settings(rid, private=True, gated="manual")
    info = api.model_info(rid)
    assert info.private is True and info.gated == "manual"
    api.update_repo_settings(rid, private=False, gated=False)
    info = api.model_info(rid)
    assert info.private is False and info.gated is False


def test_delete_repo(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.delete_repo(rid)
    assert not api.repo_exists(rid)
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(rid)
    api.delete_repo(rid, missing_ok=True)
    api.create_repo(rid)  # the name is free again
    assert api.list_repo_files(rid) == [".gitattributes"]


def test_list_models(api: HfApi, repo_name: str) -> None:
    api.create_repo(repo_name)
    found = [m.id for m in api.list_models(search=repo_name)]
    assert found == [f"alice/{repo_name}"]
    assert f"alice/{repo_name}" in [m.id for m in api.list_models(author="alice")]
