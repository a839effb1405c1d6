"""Issue 12, item 6: no request body is buffered past its limit, authenticated or not.

A 400 MB body, streamed from a generator (the test never holds it either), with and without
Content-Length (chunked), to every endpoint that reads a body whole: each answers 413 while the server
process tree (granian and its workers, VmRSS from /proc) grows by less than 20 MB.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from ._rss import rss

MIB = 1024 * 1024
BIG = 400 * MIB
GROWTH = 20 * MIB

pytestmark = pytest.mark.skipif(
    os.environ.get("AGORA_TEST_STACK") == "scale",
    reason="measures the memory of the one local server process",
)


def big_body() -> Iterator[bytes]:
    piece = b"a" * MIB  # one buffer, yielded again and again
    for _ in range(BIG // MIB):
        yield piece


@dataclass
class Target:
    method: str
    url: str
    headers: dict[str, str]
    client: httpx.Client


@pytest.fixture(scope="module")
def setup(server: Any, alice: str) -> Iterator[dict[str, Any]]:
    api = HfApi(endpoint=server.url, token=alice)
    repo = "alice/bodies-bound"
    api.create_repo(repo, exist_ok=True)
    api.upload_file(path_or_fileobj=b"# hi\n", path_in_repo="README.md", repo_id=repo)
    anon = httpx.Client(timeout=120)
    web = httpx.Client(timeout=120, headers={"origin": server.url})
    page = web.get(f"{server.url}/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page[:2000]
    r = web.post(
        f"{server.url}/login",
        data={"username": "alice", "password": "alice-password", "csrf": csrf.group(1), "next": "/"},
    )
    assert r.status_code in (302, 303), r.text[:2000]
    page = web.get(f"{server.url}/{repo}/upload/main").text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token, page[:2000]
    yield {"repo": repo, "anon": anon, "web": web, "csrf": token.group(1), "token": alice}
    anon.close()
    web.close()


FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
LFS = {"content-type": "application/vnd.git-lfs+json", "accept": "application/vnd.git-lfs+json"}


def targets(server: Any, st: dict[str, Any]) -> dict[str, Callable[[], Target]]:
    u, repo, anon, web = server.url, st["repo"], st["anon"], st["web"]
    bearer = {"authorization": f"Bearer {st['token']}"}
    csrf = {"x-csrf-token": st["csrf"]}
    oid = "a" * 64
    return {
        "login": lambda: Target("POST", f"{u}/login", FORM, anon),
        "lfs-batch": lambda: Target(
            "POST", f"{u}/{repo}.git/info/lfs/objects/batch", {**LFS, **bearer}, anon
        ),
        "lfs-batch-anonymous": lambda: Target("POST", f"{u}/{repo}.git/info/lfs/objects/batch", LFS, anon),
        "lfs-verify": lambda: Target("POST", f"{u}/lfs/verify/1/{oid}", LFS, anon),
        "lfs-locks": lambda: Target("POST", f"{u}/{repo}.git/info/lfs/locks", {**LFS, **bearer}, anon),
        "lfs-locks-verify": lambda: Target(
            "POST", f"{u}/{repo}.git/info/lfs/locks/verify", {**LFS, **bearer}, anon
        ),
        "paths-info": lambda: Target(
            "POST", f"{u}/api/models/{repo}/paths-info/main", {**FORM, **bearer}, anon
        ),
        "paths-info-json": lambda: Target(
            "POST", f"{u}/api/models/{repo}/paths-info/main", {**JSON, **bearer}, anon
        ),
        "preupload": lambda: Target(
            "POST", f"{u}/api/models/{repo}/preupload/main", {**JSON, **bearer}, anon
        ),
        "api-json": lambda: Target("POST", f"{u}/api/repos/create", {**JSON, **bearer}, anon),
        "web-upload-commit": lambda: Target("POST", f"{u}/{repo}/upload/main", {**JSON, **csrf}, web),
        "web-form": lambda: Target("POST", f"{u}/settings/tokens", FORM, web),
        "web-edit-form": lambda: Target("POST", f"{u}/{repo}/edit/main/README.md", FORM, web),
    }


ENDPOINTS = [
    "login",
    "lfs-batch",
    "lfs-batch-anonymous",
    "lfs-verify",
    "lfs-locks",
    "lfs-locks-verify",
    "paths-info",
    "paths-info-json",
    "preupload",
    "api-json",
    "web-upload-commit",
    "web-form",
    "web-edit-form",
]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_400mb_body_gets_413_without_growing_the_worker(
    server: Any, setup: dict[str, Any], endpoint: str, chunked: bool
) -> None:
    t = targets(server, setup)[endpoint]()
    # Warm the route (imports, templates, caches) with a small body, so that only the big one is measured.
    t.client.request(t.method, t.url, headers=t.headers, content=b"{}")
    before = rss(server.proc.pid)
    headers = dict(t.headers)
    if not chunked:
        headers["content-length"] = str(BIG)
    try:
        r = t.client.request(t.method, t.url, headers=headers, content=big_body())
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError) as e:
        pytest.fail(f"the server dropped the connection instead of answering 413: {e!r}")
    grown = rss(server.proc.pid) - before
    assert grown < GROWTH, f"the server grew by {grown / MIB:.0f} MB reading a 400 MB body to {endpoint}"
    assert r.status_code == 413, (r.status_code, r.headers, r.text[:500])
    if "text/html" not in r.headers.get("content-type", ""):
        assert r.headers.get("x-error-code") == "PayloadTooLarge", r.headers
    # The server still answers.
    assert httpx.get(f"{server.url}/api/models/{setup['repo']}", timeout=30).status_code == 200


def test_lfs_verify_checks_its_signature_before_reading(server: Any, setup: dict[str, Any]) -> None:
    """A forged verify link (size in the query, bad signature) is refused without reading the body."""
    before = rss(server.proc.pid)
    r = httpx.post(
        f"{server.url}/lfs/verify/1/{'b' * 64}?size=5&exp=1&sig=x",
        headers=LFS,
        content=big_body(),
        timeout=120,
    )
    grown = rss(server.proc.pid) - before
    assert r.status_code == 401, (r.status_code, r.text[:500])
    assert grown < GROWTH


def test_stranger_to_private_repo_is_refused_before_the_body(server: Any, alice: str, bob: str) -> None:
    """Auth first: bob's paths-info, preupload and LFS batch to alice's private repo are 404 (or 401),
    not a 413 that would confirm the repo exists, and nothing is read."""
    api = HfApi(endpoint=server.url, token=alice)
    repo = "alice/bodies-private"
    api.create_repo(repo, private=True, exist_ok=True)
    bearer = {"authorization": f"Bearer {bob}"}
    for url, headers in (
        (f"{server.url}/api/models/{repo}/paths-info/main", {**JSON, **bearer}),
        (f"{server.url}/api/models/{repo}/preupload/main", {**JSON, **bearer}),
        (f"{server.url}/{repo}.git/info/lfs/objects/batch", {**LFS, **bearer}),
        (f"{server.url}/{repo}.git/info/lfs/locks", {**LFS, **bearer}),
        (f"{server.url}/{repo}.git/info/lfs/objects/batch", LFS),
    ):
        headers = {**headers, "content-length": str(BIG)}
        r = httpx.post(url, headers=headers, content=big_body(), timeout=120)
        assert r.status_code in (401, 404), (url, r.status_code, r.text[:300])


def test_small_bodies_still_work(server: Any, setup: dict[str, Any]) -> None:
    bearer = {"authorization": f"Bearer {setup['token']}"}
    with httpx.Client(timeout=30) as c:
        r = c.post(
            f"{server.url}/api/models/{setup['repo']}/paths-info/main",
            headers={**JSON, **bearer},
            content=b'{"paths": ["README.md"]}',
        )
        assert r.status_code == 200, r.text
        assert [e["path"] for e in r.json()] == ["README.md"]
