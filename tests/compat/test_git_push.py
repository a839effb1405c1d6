"""git and git-lfs over smart HTTP against the live server: the seed's clone / lfs track / push flow, and
that git and the API see one history.

Every test runs the real `git` (2.39) and `git-lfs` (3.3) with its own HOME and global git config, so that
credentials stored by one test (or `git lfs install`) never leak into another.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from ..conftest import Server

AUTHOR = os.environ.get("GIT_AUTHOR_NAME", "Test Author")
MIB = 1024 * 1024
HF = str(Path(sys.executable).parent / "hf")


class Git:
    """Runs git with a private HOME and global config under `root`."""

    def __init__(self, root: Path, credential_store: bool = False) -> None:
        self.root = root
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        config = root / "gitconfig"
        text = "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        self.credentials = root / "git-credentials"
        if credential_store:
            text += f"[credential]\n\thelper = store --file={self.credentials}\n"
        config.write_text(text)
        self.env = {
            **os.environ,
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_TERMINAL_PROMPT": "0",
        }

    def run(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            args, cwd=cwd or self.root, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited with {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def __call__(
        self, *args: str, cwd: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run("git", *args, cwd=cwd, check=check)

    def head(self, cwd: Path, rev: str = "HEAD") -> str:
        return self("rev-parse", rev, cwd=cwd).stdout.strip()


def url(server: Server, path: str, token: str | None = None, user: str = "alice") -> str:
    host = server.url.split("://", 1)[1]
    return f"http://{user}:{token}@{host}/{path}" if token else f"http://{host}/{path}"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MIB)
            f.write(os.urandom(n))
            left -= n


def refs(api: HfApi, repo_id: str, repo_type: str | None = None) -> dict[str, str]:
    r = api.list_repo_refs(repo_id, repo_type=repo_type)
    return {
        **{f"refs/heads/{b.name}": b.target_commit for b in r.branches},
        **{f"refs/tags/{t.name}": t.target_commit for t in r.tags},
    }


def quarantine_leftovers(server: Server) -> list[Path]:
    return list((server.data / "repos").glob("*/*.git/objects/tmp_objdir-incoming-*"))


# ---- the seed flow ---------------------------------------------------------------------------------------------
def test_seed_flow_lfs_push_after_hf_login(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    """hf auth login --add-to-git-credential; git clone; git lfs track; 50 MB model.joblib; git push."""
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    git = Git(tmp_path, credential_store=True)

    # The token goes to git's credential store for HF_ENDPOINT: later pushes need no token in the URL.
    git.env["HF_HOME"] = str(tmp_path / "hf-home")  # keep the session's HF_HOME free of tokens
    login = git.run(HF, "auth", "login", "--token", alice, "--add-to-git-credential", check=False)
    assert login.returncode == 0, login.stdout + login.stderr
    assert alice in git.credentials.read_text()

    git("clone", url(server, repo_id))
    work = tmp_path / repo_name
    git("lfs", "install", cwd=work)
    git("lfs", "track", "*.joblib", cwd=work)
    model = work / "model.joblib"
    write_random(model, 50 * MIB)
    git("add", ".", cwd=work)
    git("commit", "-m", "First model version", cwd=work)
    push = git("push", cwd=work)
    assert "main -> main" in push.stderr
    head = git.head(work)

    # The API sees the pushed commit, with its message and author, as the head of main.
    commits = api.list_repo_commits(repo_id)
    assert commits[0].commit_id == head
    assert commits[0].title == "First model version"
    assert commits[0].authors == [AUTHOR]
    assert api.model_info(repo_id).sha == head
    info = api.get_paths_info(repo_id, ["model.joblib"])[0]
    assert info.lfs is not None and info.lfs.sha256 == sha256(model) and info.lfs.size == 50 * MIB

    # hf_hub_download returns the very bytes git-lfs uploaded.
    got = hf_hub_download(repo_id, "model.joblib", cache_dir=tmp_path / "cache", token=False)
    assert sha256(Path(got)) == sha256(model)

    # An anonymous clone of the public repo smudges the LFS file (anonymous batch download).
    anon = Git(tmp_path / "anon")
    anon("lfs", "install")
    anon("clone", url(server, repo_id), "copy")
    assert sha256(tmp_path / "anon" / "copy" / "model.joblib") == sha256(model)


# ---- one history for git and the API ---------------------------------------------------------------------------
def test_api_repo_cloned_by_git_shares_history(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    api.upload_file(
        path_or_fileobj=b"# hello\n", path_in_repo="README.md", repo_id=repo_id, commit_message="API commit"
    )
    git = Git(tmp_path)
    git("clone", url(server, repo_id, alice), "work")
    work = tmp_path / "work"
    log = git("log", "--format=%H", cwd=work).stdout.split()
    assert log == [c.commit_id for c in api.list_repo_commits(repo_id)]
    assert len(log) == 2

    # A commit pushed by git: the API lists it, serves its files, and after_ref_update re-derived the card.
    (work / "README.md").write_text("---\nlicense: mit\n---\n# hello from git\n")
    (work / "notes.txt").write_text("pushed with git\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "Git commit", "-m", "with a body", cwd=work)
    git("push", cwd=work)
    head = git.head(work)
    commits = api.list_repo_commits(repo_id)
    assert [c.commit_id for c in commits] == git("log", "--format=%H", cwd=work).stdout.split()
    assert commits[0].title == "Git commit" and "with a body" in commits[0].message
    info = api.model_info(repo_id)
    assert info.sha == head
    assert (info.card_data or {}).get("license") == "mit"
    got = hf_hub_download(repo_id, "notes.txt", cache_dir=tmp_path / "cache", token=False)
    assert Path(got).read_text() == "pushed with git\n"

    # An API commit reaches `git pull`.
    res = api.upload_file(
        path_or_fileobj=b"from the API\n",
        path_in_repo="api.txt",
        repo_id=repo_id,
        commit_message="Another API commit",
    )
    git("pull", "--ff-only", cwd=work)
    assert git.head(work) == res.oid
    assert (work / "api.txt").read_text() == "from the API\n"
    assert git("log", "-1", "--format=%s", cwd=work).stdout.strip() == "Another API commit"


@pytest.mark.parametrize("kind", ["dataset", "space"])
def test_dataset_and_space_urls_with_dot_git(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path, kind: str
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, repo_type=kind, space_sdk="static" if kind == "space" else None)
    git = Git(tmp_path)
    git("clone", url(server, f"{kind}s/{repo_id}.git", alice), "work")
    work = tmp_path / "work"
    (work / "data.csv").write_text("a,b\n1,2\n")
    git("add", ".", cwd=work)
    git("commit", "-m", f"add data to a {kind}", cwd=work)
    git("push", cwd=work)
    assert api.repo_info(repo_id, repo_type=kind).sha == git.head(work)
    assert "data.csv" in api.list_repo_files(repo_id, repo_type=kind)


# ---- refs: branches, tags, force-push, shallow clone, fetch ---------------------------------------------------
def test_branches_tags_force_push_shallow_and_fetch(
    server: Server, alice: str, bob: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    git = Git(tmp_path)
    origin = url(server, repo_id, alice)
    git("clone", origin, "work")
    work = tmp_path / "work"
    for i in range(3):
        (work / f"f{i}.txt").write_text(f"{i}\n")
        git("add", ".", cwd=work)
        git("commit", "-m", f"commit {i}", cwd=work)
    git("push", cwd=work)
    main = git.head(work)

    # Branches and tags pushed with git are refs the API lists.
    git("push", "origin", "HEAD~1:refs/heads/dev", cwd=work)
    git("tag", "v1", "HEAD~2", cwd=work)
    git("tag", "-a", "v2", "-m", "release 2", cwd=work)
    git("push", "origin", "v1", "v2", cwd=work)
    r = refs(api, repo_id)
    assert r["refs/heads/main"] == main
    assert r["refs/heads/dev"] == git.head(work, "HEAD~1")
    assert r["refs/tags/v1"] == git.head(work, "HEAD~2")
    assert r["refs/tags/v2"] == main
    assert api.list_repo_commits(repo_id, revision="dev")[0].commit_id == git.head(work, "HEAD~1")

    # A force-push (history rewrite) needs write access.
    git("commit", "--amend", "-m", "commit 2, rewritten", cwd=work)
    rewritten = git.head(work)
    plain = git("push", "origin", "main", cwd=work, check=False)
    assert plain.returncode != 0 and ("non-fast-forward" in plain.stderr or "rejected" in plain.stderr)
    for token, user in ((bob, "bob"), (server.token("alice", "read"), "alice")):
        denied = git("push", "--force", url(server, repo_id, token, user), "main", cwd=work, check=False)
        assert denied.returncode != 0 and "403" in denied.stderr, denied.stderr
    assert refs(api, repo_id)["refs/heads/main"] == main
    git("push", "--force", "origin", "main", cwd=work)
    assert api.model_info(repo_id).sha == rewritten

    # main is never deleted; other branches are.
    gone = git("push", "origin", ":main", cwd=work, check=False)
    assert gone.returncode != 0 and "default branch main cannot be deleted" in gone.stderr
    git("push", "origin", ":dev", cwd=work)
    r = refs(api, repo_id)
    assert "refs/heads/dev" not in r and r["refs/heads/main"] == rewritten

    # A shallow clone, then fetching an API commit into it.
    git("clone", "--depth", "1", url(server, repo_id), "shallow")
    shallow = tmp_path / "shallow"
    assert git("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    assert git.head(shallow) == rewritten
    res = api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=repo_id, commit_message="API")
    git("fetch", cwd=shallow)
    assert git.head(shallow, "origin/main") == res.oid
    git("fetch", "--tags", cwd=work)
    assert git.head(work, "origin/main") == res.oid


@pytest.mark.parametrize("version", ["0", "1", "2"])
def test_clone_with_each_protocol_version(server: Server, api: HfApi, tmp_path: Path, version: str) -> None:
    repo_id = "alice/git-protocol-versions"
    api.create_repo(repo_id, exist_ok=True)
    git = Git(tmp_path)
    p = git("-c", f"protocol.version={version}", "clone", url(server, repo_id), "work")
    assert p.returncode == 0
    assert git.head(tmp_path / "work") == api.model_info(repo_id).sha


def test_gzip_request_body_and_headers(server: Server, api: HfApi) -> None:
    """git gzips large fetch negotiations; the server inflates while streaming."""
    import gzip

    repo_id = "alice/git-protocol-versions"
    api.create_repo(repo_id, exist_ok=True)

    def pkt(s: str) -> bytes:
        return f"{len(s) + 4:04x}".encode() + s.encode()

    body = pkt("command=ls-refs\n") + b"0001" + pkt("symrefs\n") + b"0000"
    head = api.model_info(repo_id).sha
    for encoding in (None, "gzip"):
        r = httpx.post(
            f"{server.url}/{repo_id}.git/git-upload-pack",
            content=gzip.compress(body) if encoding else body,
            headers={
                "Content-Type": "application/x-git-upload-pack-request",
                "Git-Protocol": "version=2",
                **({"Content-Encoding": encoding} if encoding else {}),
            },
        )
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-git-upload-pack-result"
        assert "no-cache" in r.headers["cache-control"]
        assert f"{head} refs/heads/main".encode() in r.content
    r = httpx.get(f"{server.url}/{repo_id}/info/refs", params={"service": "git-upload-pack"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert "no-cache" in r.headers["cache-control"]
    assert r.content.startswith(b"001e# service=git-upload-pack\n0000")
    r = httpx.get(f"{server.url}/{repo_id}/info/refs", params={"service": "git-receive-pack"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")


# ---- private repos and auth ------------------------------------------------------------------------------------
def test_private_repo_clone_and_push_auth(
    server: Server, alice: str, bob: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, private=True)
    api.upload_file(path_or_fileobj=b"secret\n", path_in_repo="secret.txt", repo_id=repo_id)
    git = Git(tmp_path)

    anon = git("clone", url(server, repo_id), "anon", check=False)
    assert anon.returncode != 0
    assert "could not read Username" in anon.stderr or "Authentication failed" in anon.stderr, anon.stderr
    r = httpx.get(f"{server.url}/{repo_id}.git/info/refs", params={"service": "git-upload-pack"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")

    wrong = git("clone", url(server, repo_id, "hf_not_a_token"), "wrong", check=False)
    assert wrong.returncode != 0 and "Authentication failed" in wrong.stderr, wrong.stderr

    stranger = git("clone", url(server, repo_id, bob, "bob"), "bob", check=False)
    assert stranger.returncode != 0 and "not found" in stranger.stderr, stranger.stderr

    read = server.token("alice", "read")
    git("clone", url(server, repo_id, read), "work")
    work = tmp_path / "work"
    assert (work / "secret.txt").read_text() == "secret\n"

    before = refs(api, repo_id)
    (work / "more.txt").write_text("more\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "push with a read token", cwd=work)
    denied = git("push", cwd=work, check=False)
    assert denied.returncode != 0 and "403" in denied.stderr, denied.stderr
    assert "read-only" in denied.stderr
    assert refs(api, repo_id) == before

    # The same commit with a write token (Bearer through http.extraHeader this time) lands.
    git(
        "-c",
        f"http.extraHeader=Authorization: Bearer {alice}",
        "push",
        url(server, repo_id),
        "main",
        cwd=work,
    )
    assert api.model_info(repo_id).sha == git.head(work)


def test_org_read_member_can_clone_not_push(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"acme/{repo_name}"
    api.create_repo(repo_id, private=True)
    carol = server.token("carol", "write")  # a write token, but carol only has read in acme
    git = Git(tmp_path)
    git("clone", url(server, repo_id, carol, "carol"), "work")
    work = tmp_path / "work"
    (work / "x.txt").write_text("x\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "carol tries", cwd=work)
    denied = git("push", cwd=work, check=False)
    assert denied.returncode != 0 and "403" in denied.stderr, denied.stderr


# ---- push rules ------------------------------------------------------------------------------------------------
def test_large_plain_file_refused_until_tracked_with_lfs(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    git = Git(tmp_path)
    git("clone", url(server, repo_id, alice), "work")
    work = tmp_path / "work"
    git("lfs", "install", cwd=work)
    before = refs(api, repo_id)

    write_random(work / "weights.dat", 12 * MIB)  # *.dat is not an LFS pattern of the default .gitattributes
    (work / "small.txt").write_text("small\n")
    git("add", ".", cwd=work)
    git("commit", "-m", "add weights without LFS", cwd=work)
    git("checkout", "-b", "feature", cwd=work)
    refused = git("push", "origin", "main", "feature", cwd=work, check=False)
    assert refused.returncode != 0
    assert "git lfs track" in refused.stderr and "weights.dat" in refused.stderr, refused.stderr
    assert refs(api, repo_id) == before  # neither branch moved
    assert api.list_repo_files(repo_id) == [".gitattributes"]
    assert not quarantine_leftovers(server)

    # An LFS pointer to an object never uploaded (git-lfs' pre-push hook skipped) is refused too.
    git("checkout", "-q", "main", cwd=work)
    git("reset", "-q", "--hard", "HEAD~1", cwd=work)
    fake = "0" * 63 + "1"
    (work / "fake.bin").write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{fake}\nsize 5\n")
    git("add", "fake.bin", cwd=work)  # already a pointer: git-lfs' clean filter keeps it as it is
    git("commit", "-m", "dangling pointer", cwd=work)
    refused = git("push", "--no-verify", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "never uploaded" in refused.stderr, refused.stderr
    assert refs(api, repo_id) == before

    # Following the hint: track the file with LFS, rewrite the commit, push again.
    git("reset", "-q", "--hard", "HEAD~1", cwd=work)
    write_random(work / "weights.dat", 12 * MIB)
    git("lfs", "track", "*.dat", cwd=work)
    git("add", ".gitattributes", "weights.dat", cwd=work)
    git("commit", "-m", "add weights with LFS", cwd=work)
    git("push", "origin", "main", cwd=work)
    files = {f.path: f for f in api.list_repo_tree(repo_id)}
    assert files["weights.dat"].lfs is not None and files["weights.dat"].size == 12 * MIB
    assert api.model_info(repo_id).sha == git.head(work)


def test_lfs_pointer_with_extensions_is_refused(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    """A pointer with git-lfs extension lines (`ext-0-name sha256:...`) names the object the extension's clean
    step made; the server cannot run the smudge step, so the push is refused, even though the object was
    uploaded, and /resolve never serves the pointer text. The same pointer without extensions is accepted."""
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    data = os.urandom(4096)
    api.upload_file(path_or_fileobj=data, path_in_repo="weights.bin", repo_id=repo_id)  # uploads the object
    oid = hashlib.sha256(data).hexdigest()
    git = Git(tmp_path)
    git("clone", url(server, repo_id, alice), "work")  # no `git lfs install`: files are committed as written
    work = tmp_path / "work"
    before = refs(api, repo_id)

    ext = f"ext-0-foo sha256:{'d' * 64}\n"
    (work / "copy.bin").write_text(
        f"version https://git-lfs.github.com/spec/v1\n{ext}oid sha256:{oid}\nsize {len(data)}\n"
    )
    git("add", "copy.bin", cwd=work)
    git("commit", "-m", "pointer with an extension", cwd=work)
    refused = git("push", "--no-verify", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0 and "extensions" in refused.stderr and "copy.bin" in refused.stderr, (
        refused.stderr
    )
    assert refs(api, repo_id) == before
    r = httpx.get(
        f"{server.url}/{repo_id}/resolve/main/copy.bin", headers={"Authorization": f"Bearer {alice}"}
    )
    assert r.status_code == 404 and b"git-lfs" not in r.content

    # Without the extension line the pointer names the uploaded object: accepted, served as its bytes.
    (work / "copy.bin").write_text(
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
    )
    git("commit", "-q", "--amend", "-am", "plain pointer", cwd=work)
    git("push", "--no-verify", "origin", "main", cwd=work)
    r = httpx.get(
        f"{server.url}/{repo_id}/resolve/main/copy.bin",
        headers={"Authorization": f"Bearer {alice}"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and r.content == data


def test_lfs_batch_401_carries_lfs_authenticate(server: Server, api: HfApi) -> None:
    repo_id = "alice/git-protocol-versions"
    api.create_repo(repo_id, exist_ok=True)
    body = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": "1" * 64, "size": 1}]}
    r = httpx.post(
        f"{server.url}/{repo_id}.git/info/lfs/objects/batch",
        json=body,
        headers={"Accept": "application/vnd.git-lfs+json"},
    )
    assert r.status_code == 401
    assert r.headers["lfs-authenticate"].startswith("Basic")
    body["operation"] = "download"
    r = httpx.post(
        f"{server.url}/{repo_id}.git/info/lfs/objects/batch",
        json=body,
        headers={"Accept": "application/vnd.git-lfs+json"},
    )
    assert r.status_code == 200  # anonymous download of a public repo: the object is just unknown
    assert r.json()["objects"][0]["error"]["code"] == 404


# ---- LFS locks -------------------------------------------------------------------------------------------------
def test_lfs_locks_with_git_lfs(
    server: Server, alice: str, bob: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    git = Git(tmp_path)
    git("clone", url(server, repo_id, alice), "work")
    work = tmp_path / "work"
    git("lfs", "install", cwd=work)
    git("config", "lfs.locksverify", "true", cwd=work)
    (work / "weights.bin").write_bytes(os.urandom(4096))
    git("add", ".", cwd=work)
    git("commit", "-m", "weights", cwd=work)
    push = git("push", cwd=work)
    assert "locking API" not in push.stderr + push.stdout

    lock = git("lfs", "lock", "weights.bin", "--json", cwd=work)
    assert '"path":"weights.bin"' in lock.stdout.replace(" ", "")
    listed = git("lfs", "locks", cwd=work).stdout
    assert "weights.bin" in listed and "alice" in listed
    again = git("lfs", "lock", "weights.bin", cwd=work, check=False)
    assert again.returncode != 0 and "already" in (again.stderr + again.stdout)

    # Locks are visible to readers, and only writers may take them.
    lfs = f"{server.url}/{repo_id}.git/info/lfs"
    hdr = {"Accept": "application/vnd.git-lfs+json"}
    r = httpx.get(f"{lfs}/locks", headers=hdr)
    assert r.status_code == 200 and [lk["path"] for lk in r.json()["locks"]] == ["weights.bin"]
    assert r.json()["locks"][0]["owner"] == {"name": "alice"}
    r = httpx.post(f"{lfs}/locks", json={"path": "other.bin"}, headers=hdr)
    assert r.status_code == 401 and r.headers["lfs-authenticate"].startswith("Basic")
    r = httpx.post(
        f"{lfs}/locks", json={"path": "other.bin"}, headers={**hdr, "Authorization": f"Bearer {bob}"}
    )
    assert r.status_code == 403
    r = httpx.post(f"{lfs}/locks/verify", json={}, headers={**hdr, "Authorization": f"Bearer {alice}"})
    assert [lk["path"] for lk in r.json()["ours"]] == ["weights.bin"] and r.json()["theirs"] == []

    # The owner pushes changes to the locked file; then releases it.
    (work / "weights.bin").write_bytes(os.urandom(4096))
    git("commit", "-am", "new weights", cwd=work)
    git("push", cwd=work)
    git("lfs", "unlock", "weights.bin", cwd=work)
    assert "weights.bin" not in git("lfs", "locks", cwd=work).stdout
