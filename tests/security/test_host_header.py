"""Issue 12, item 11 (Host part): without AGORA_PUBLIC_URL, absolute URLs (LFS hrefs, pagination links, the
clone URL and HF_ENDPOINT shown on pages) come from the Host header; a forged Host must never appear in them.
Accepted: the listening address, the loopback names on its port, `datasets-server.` + those, and
AGORA_ALLOWED_HOSTS; any other Host is replaced by the listening address.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi

from ..conftest import ROOT, STACK, Server, _free_port, start_server, stop_server

EVIL = "evil.example"


def lfs_href(server: Server, token: str, repo: str, host: str) -> str:
    data = os.urandom(64)
    oid = hashlib.sha256(data).hexdigest()
    r = httpx.post(
        f"{server.url}/{repo}.git/info/lfs/objects/batch",
        timeout=30,
        headers={
            "Host": host,
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.git-lfs+json",
            "Content-Type": "application/vnd.git-lfs+json",
        },
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": len(data)}]},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["objects"][0]["actions"]["upload"]["href"])


def urls_for(server: Server, token: str, repo: str, host: str) -> list[str]:
    """The absolute URLs a client gets back when it sends `host`."""
    out = [lfs_href(server, token, repo, host)]
    r = httpx.get(
        f"{server.url}/api/models",
        params={"limit": 1, "search": repo.split("/")[1][:20]},
        headers={"Host": host},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    link = r.headers.get("link", "")
    assert link, "expected a pagination Link (two repos match)"
    out.append(link)
    page = httpx.get(f"{server.url}/{repo}", headers={"Host": host, "Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    out.append(page.text)
    return out


@pytest.fixture(scope="module")
def two_repos(server: Server, alice: str) -> str:
    api = HfApi(endpoint=server.url, token=alice)
    name = f"host-check-{int(time.time() * 1000) % 10**8}"
    api.create_repo(f"alice/{name}")
    api.create_repo(f"alice/{name}-b")
    return f"alice/{name}"


def test_a_forged_host_never_appears_in_urls(server: Server, alice: str, two_repos: str) -> None:
    for host in (EVIL, f"{EVIL}:{server.url.rsplit(':', 1)[1]}", f"datasets-server.{EVIL}"):
        for text in urls_for(server, alice, two_repos, host):
            assert EVIL not in text, f"Host {host!r} leaked into an answer: {text[:300]}"
        href = lfs_href(server, alice, two_repos, host)
        assert href.startswith(f"{server.url}/") or "X-Amz-Signature" in href, href  # ours, or S3's presigned


def test_the_hosts_of_the_server_still_work(server: Server, alice: str, two_repos: str) -> None:
    hostport = server.url.split("://", 1)[1]
    port = hostport.rsplit(":", 1)[1]
    for host in (hostport, f"localhost:{port}"):
        href = lfs_href(server, alice, two_repos, host)
        assert href.startswith(f"http://{host}/") or "X-Amz-Signature" in href, href
        link = urls_for(server, alice, two_repos, host)[1]
        assert f"http://{host}/" in link, link
    r = httpx.get(
        f"{server.url}/api/datasets-server/is-valid",
        params={"dataset": "no/such"},
        headers={"Host": f"datasets-server.{hostport}"},
        timeout=30,
    )
    assert r.status_code in (200, 404), r.text


@pytest.fixture(scope="module")
def configured(server: Server) -> Iterator[Server]:
    """A second process on the same data with AGORA_ALLOWED_HOSTS naming more hosts (and AGORA_SPACES_ORIGIN)."""
    if STACK == "scale":
        pytest.skip("one process on the scale stack's shared data is enough here")
    port = _free_port()
    log = ROOT / "allowed-hosts-server.log"
    proc = start_server(
        server.data,
        port,
        log,
        {
            "AGORA_ALLOWED_HOSTS": f"hub.test:{port}, other.test",
            "AGORA_JOBS": "0",
            "AGORA_SPACES_ORIGIN": "http://*.spaces.test:*",
        },
    )
    yield Server(f"http://127.0.0.1:{port}", server.data, proc, tokens=server.tokens, log=log)
    stop_server(proc)


def test_allowed_hosts_setting(configured: Server, alice: str, two_repos: str) -> None:
    port = configured.url.rsplit(":", 1)[1]
    assert lfs_href(configured, alice, two_repos, f"hub.test:{port}").startswith(f"http://hub.test:{port}/")
    assert lfs_href(configured, alice, two_repos, "other.test:1234").startswith("http://other.test:1234/")
    for host in (f"hub.test:{int(port) + 1}", "hub.test", EVIL):
        assert lfs_href(configured, alice, two_repos, host).startswith(f"{configured.url}/"), host


def test_spaces_origin_setting(configured: Server) -> None:
    """UI pages may frame Space apps from the configured origins and their own static Spaces' /app/ paths
    (frame-src); nothing frames the Hub."""
    r = httpx.get(f"{configured.url}/", timeout=30)
    csp = [d.strip() for d in r.headers["content-security-policy"].split(";")]
    assert "frame-src 'self' http://*.spaces.test:*" in csp and "frame-ancestors 'none'" in csp, csp
