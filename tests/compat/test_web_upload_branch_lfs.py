"""A browser upload to a branch stores each file as LFS or not by that branch's .gitattributes, not main's."""

from __future__ import annotations

import re

import httpx
from huggingface_hub import HfApi

from ..conftest import Server


def _csrf(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m, "no csrf meta tag"
    return m.group(1)


def _lfs(api: HfApi, repo_id: str, rev: str, path: str) -> bool:
    (info,) = api.get_paths_info(repo_id, [path], revision=rev)
    return info.lfs is not None


def test_web_upload_follows_the_target_branchs_gitattributes(
    server: Server, api: HfApi, repo_name: str
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    api.create_branch(repo_id, branch="other")
    # On `other`: *.bin is no longer LFS (main's default tracks it), *.dat is (main does not track it).
    api.upload_file(
        path_or_fileobj=b"*.dat filter=lfs diff=lfs merge=lfs -text\n",
        path_in_repo=".gitattributes",
        repo_id=repo_id,
        revision="other",
    )
    with httpx.Client(base_url=server.url, timeout=60, headers={"Origin": server.url}) as c:
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"username": "alice", "password": "alice-password", "csrf": token})
        assert r.status_code in (200, 302, 303), r.text[:300]
        token = _csrf(c.get(f"/{repo_id}/upload/other").text)

        def upload(rev: str, files: dict[str, bytes]) -> None:
            staged = [
                {
                    **c.put(f"/{repo_id}/upload-blob", content=data, headers={"X-CSRF-Token": token}).json(),
                    "path": path,
                }
                for path, data in files.items()
            ]
            r = c.post(
                f"/{repo_id}/upload/{rev}",
                headers={"X-CSRF-Token": token},
                json={"files": staged, "message": f"upload to {rev}"},
            )
            assert r.status_code == 200, r.text[:300]

        files = {"w.bin": b"small weights", "t.dat": b"small data"}
        upload("other", files)
        upload("main", files)
    assert not _lfs(api, repo_id, "other", "w.bin")
    assert _lfs(api, repo_id, "other", "t.dat")
    assert _lfs(api, repo_id, "main", "w.bin")
    assert not _lfs(api, repo_id, "main", "t.dat")
    for rev in ("other", "main"):
        for path, data in files.items():
            with open(api.hf_hub_download(repo_id, path, revision=rev), "rb") as fh:
                assert fh.read() == data
