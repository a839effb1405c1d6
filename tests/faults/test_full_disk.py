"""A full disk: the server's data folder (SQLite included) on a small tmpfs, filled to the last byte.

Uploads get a clear 507 Insufficient Storage (huggingface_hub does not retry it), authenticated reads and
clones keep working, a push fails with git's own message, and once space is freed the same upload succeeds
on an intact repo. The floor (AGORA_MIN_FREE_BYTES) refuses an upload before its body is read.
Mounting needs root (CI runs as root); elsewhere the tmpfs test is skipped.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from ..compat.test_git_push import Git
from ..compat.test_web_upload_branch_lfs import _csrf
from ..conftest import new_site, start_server, stop_server

MIB = 2**20


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {p.stderr.decode(errors='replace')}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path: Path) -> None:
    """Write `path` until the file system has no byte left."""
    block = os.urandom(MIB)
    with open(path, "wb", buffering=0) as f:
        for size in (MIB, 64 * 1024, 4096, 512, 1):
            while True:
                try:
                    f.write(block[:size])
                except OSError:
                    break
    assert os.statvfs(path).f_bavail == 0


def assert_507(exc: BaseException) -> None:
    """The client's error (an LFS upload's comes wrapped in a RuntimeError) is the server's clear 507."""
    while not isinstance(exc, HfHubHTTPError) and exc.__cause__ is not None:
        exc = exc.__cause__
    assert isinstance(exc, HfHubHTTPError), repr(exc)
    r = exc.response
    assert r is not None and r.status_code == 507, r.text if r is not None else exc
    assert r.headers["X-Error-Code"] == "InsufficientStorage"
    assert "disk is full" in r.headers["X-Error-Message"]
    assert "disk is full" in r.json()["error"]


def test_full_disk(tmpfs: Path, tmp_path: Path) -> None:
    # the log outside the tmpfs: it must not be what fails
    site = new_site(tmpfs / "data", "dave", tmp_path / "server.log")
    data, token, port, endpoint, log = site.data, site.token, site.port, site.endpoint, site.log
    proc = start_server(data, port, log, {"AGORA_MIN_FREE_BYTES": "0", "AGORA_JOBS": "0"})
    try:
        api = HfApi(endpoint=endpoint, token=token)
        repo = "dave/full"
        api.create_repo(repo)
        weights = os.urandom(2 * MIB)
        api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="hello.txt", repo_id=repo)
        api.upload_file(path_or_fileobj=weights, path_in_repo="weights.bin", repo_id=repo)
        head = api.model_info(repo).sha
        git = Git(tmp_path / "client")
        remote = f"http://dave:{token}@127.0.0.1:{port}/{repo}"

        filler = tmpfs / "filler"
        fill(filler)

        # Uploads: a 507 with the Hub's error format, answered once (huggingface_hub retries 5xx like 500)
        big = os.urandom(3 * MIB)
        for path, content in (("big.bin", big), ("notes.txt", b"a plain file\n" * 1000)):
            started = time.monotonic()
            with pytest.raises((HfHubHTTPError, RuntimeError)) as info:
                api.upload_file(path_or_fileobj=io.BytesIO(content), path_in_repo=path, repo_id=repo)
            assert_507(info.value)
            assert time.monotonic() - started < 8, "the client retried"
        assert "unhandled error" not in log.read_text()

        # Reads with the token keep working
        assert api.model_info(repo).sha == head
        assert [m.id for m in api.list_models(author="dave", token=token)] == [repo]
        cache = tmp_path / "hf-cache"
        assert (
            Path(
                hf_hub_download(repo, "hello.txt", cache_dir=cache, token=token, endpoint=endpoint)
            ).read_bytes()
            == b"hello\n"
        )
        assert (
            Path(
                hf_hub_download(repo, "weights.bin", cache_dir=cache, token=token, endpoint=endpoint)
            ).read_bytes()
            == weights
        )
        git("clone", remote, "work")
        work = tmp_path / "client" / "work"
        assert git.head(work) == head

        # A push fails with git's own message, not a 500
        (work / "pushed.txt").write_bytes(os.urandom(256 * 1024))
        git("add", ".", cwd=work)
        git("commit", "-m", "pushed on a full disk", cwd=work)
        push = git("push", "origin", "main", cwd=work, check=False)
        assert push.returncode != 0
        assert "500" not in push.stderr, push.stderr
        assert "remote: fatal: unable to write loose object file: No space left on device" in push.stderr, (
            push.stderr
        )
        assert api.model_info(repo).sha == head

        # Nothing half-written stays behind: no temp upload, no temp object, no quarantine folder
        assert not [p for p in (data / "lfs" / "tmp").iterdir() if p.name.startswith("up-")]
        repo_dir = next((data / "repos").glob("*/*.git"))
        assert not [p for p in (repo_dir / "objects").rglob("*") if "tmp" in p.name], list(
            (repo_dir / "objects").rglob("*")
        )

        # Free the space: the same upload succeeds, the repo is intact
        filler.unlink()
        git("push", "origin", "main", cwd=work)
        api.upload_file(path_or_fileobj=io.BytesIO(big), path_in_repo="big.bin", repo_id=repo)
        info2 = api.model_info(repo, files_metadata=True)
        assert {s.rfilename for s in info2.siblings or []} == {
            ".gitattributes",
            "hello.txt",
            "weights.bin",
            "big.bin",
            "pushed.txt",
        }
        assert (
            Path(
                hf_hub_download(repo, "big.bin", cache_dir=cache, token=token, endpoint=endpoint)
            ).read_bytes()
            == big
        )
        fsck = subprocess.run(
            ["git", "--git-dir", str(repo_dir), "fsck", "--full", "--strict", "--no-progress"],
            capture_output=True,
            text=True,
        )
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        git("pull", "--ff-only", cwd=work)
        assert git.head(work) == info2.sha
    finally:
        stop_server(proc)


def _raw_request(port: int, head: str) -> tuple[int, dict[str, str], bytes]:
    """Send only the request head (its body never follows) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    status_line, _, rest = raw.partition(b"\r\n")
    lines, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in lines.decode("latin-1").split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(status_line.split()[1]), headers, body


def test_floor_refuses_uploads_before_the_body(tmp_path: Path) -> None:
    """With AGORA_MIN_FREE_BYTES above the free space, uploads are refused before a byte of body is read."""
    site = new_site(tmp_path / "data", "erin", tmp_path / "server.log")
    data, token, port, endpoint, log = site.data, site.token, site.port, site.endpoint, site.log
    proc = start_server(data, port, log, {"AGORA_MIN_FREE_BYTES": str(2**62)})
    try:
        api = HfApi(endpoint=endpoint, token=token)
        repo = "erin/floor"
        api.create_repo(repo)  # small writes are not uploads: the floor lets them through
        for path, content in (("big.bin", os.urandom(MIB)), ("small.txt", b"small\n")):
            with pytest.raises((HfHubHTTPError, RuntimeError)) as info:
                api.upload_file(path_or_fileobj=content, path_in_repo=path, repo_id=repo)
            assert_507(info.value)

        # LFS PUT, commit, xorb, shard and web uploads declare a body that never comes: the answer comes anyway.
        batch = httpx.post(
            f"{endpoint}/{repo}.git/info/lfs/objects/batch",
            json={"operation": "upload", "objects": [{"oid": "a" * 64, "size": 100 * MIB}]},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
        )
        lfs_put = httpx.URL(batch.json()["objects"][0]["actions"]["upload"]["href"]).raw_path.decode()
        xet = httpx.get(
            f"{endpoint}/api/models/{repo}/xet-write-token/main", headers={"Authorization": f"Bearer {token}"}
        ).json()
        cas = httpx.URL(xet["casUrl"]).raw_path.decode().rstrip("/")
        with httpx.Client(base_url=endpoint, headers={"Origin": endpoint}) as web:
            web.post(
                "/login",
                data={"username": "erin", "password": "erin-password", "csrf": _csrf(web.get("/login").text)},
            )
            csrf = _csrf(web.get(f"/{repo}/upload/main").text)
            cookies = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
        bearer, xet_bearer = f"Authorization: Bearer {token}", f"Authorization: Bearer {xet['accessToken']}"
        browser = f"Cookie: {cookies}\r\nX-CSRF-Token: {csrf}\r\nOrigin: {endpoint}"
        for method, path, extra in (
            ("PUT", lfs_put, bearer),
            ("POST", f"/api/models/{repo}/commit/main", bearer),
            ("POST", f"{cas}/v1/xorbs/default/{'b' * 64}", xet_bearer),
            ("POST", f"{cas}/v1/shards", xet_bearer),
            ("POST", f"{cas}/v2/shards", xet_bearer),
            ("PUT", f"/{repo}/upload-blob", browser),
        ):
            status, headers, _ = _raw_request(
                port,
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n"
                f"Content-Length: {MIB}\r\nContent-Type: application/octet-stream\r\n\r\n",
            )
            assert status == 507, (method, path, status)
            assert headers["x-error-code"] == "InsufficientStorage"

        # A push: git shows the message (clones are reads: they work)
        git = Git(tmp_path / "client")
        git("clone", f"http://erin:{token}@127.0.0.1:{port}/{repo}", "work")
        work = tmp_path / "client" / "work"
        (work / "pushed.txt").write_text("pushed\n")
        git("add", ".", cwd=work)
        git("commit", "-m", "pushed below the floor", cwd=work)
        push = git("push", "origin", "main", cwd=work, check=False)
        assert push.returncode != 0
        assert "remote: The Hub's disk is full" in push.stderr, push.stderr
    finally:
        stop_server(proc)
