"""The `hf` command-line client (huggingface_hub 2.4.0) against a live Agora server.

Each command runs in a subprocess with the environment conftest prepared (HF_ENDPOINT, HF_HOME,
HF_HUB_DISABLE_XET=1, ...) plus HF_TOKEN.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HF = str(Path(sys.executable).parent / "hf")


def hf(token: str | None, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("HF_TOKEN", None)
    if token is not None:
        env["HF_TOKEN"] = token
    env["HF_HUB_DISABLE_XET"] = "1"
    env["NO_COLOR"] = "1"
    proc = subprocess.run([HF, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    if check and proc.returncode != 0:
        pytest.fail(
            f"hf {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root by relative posix path, skipping the client's .cache bookkeeping."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".cache" not in p.relative_to(root).parts
    }


def make_folder(root: Path) -> dict[str, bytes]:
    files = {
        "README.md": b"---\nlicense: mit\n---\n# A test model\n",
        "config.json": json.dumps({"model_type": "bert", "hidden_size": 8}).encode(),
        "nested/deeper/notes.txt": "accents é ü and a space\n".encode(),
        "with space.txt": b"spaces in names\n",
        "empty.txt": b"",
        # *.bin and *.safetensors are LFS patterns in the default .gitattributes; the size makes
        # the client pick the LFS batch path (HF_HUB_DISABLE_XET=1) for at least one of them.
        "weights/model.safetensors": os.urandom(3 * 1024 * 1024 + 17),
        "weights/pytorch_model.bin": os.urandom(4096),
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return files


def test_whoami(server, alice: str) -> None:
    out = hf(alice, "auth", "whoami")
    assert "alice" in out.stdout
    # The organisations come from the same call.
    assert "acme" in out.stdout + out.stderr


def test_whoami_json(server, alice: str) -> None:
    out = hf(alice, "auth", "whoami", "--format", "json", check=False)
    if out.returncode != 0:
        pytest.skip("this hf version has no --format on whoami")
    assert "alice" in out.stdout


def test_whoami_bad_token(server) -> None:
    out = hf("hf_not_a_real_token", "auth", "whoami", check=False)
    assert out.returncode != 0
    assert "alice" not in out.stdout


def test_upload_folder_then_download(server, alice: str, tmp_path: Path, repo_name: str) -> None:
    src = tmp_path / "src"
    files = make_folder(src)
    repo = f"alice/{repo_name}"

    hf(alice, "upload", repo, str(src), ".", "--commit-message", "Upload from the hf CLI")

    from huggingface_hub import HfApi

    api = HfApi(token=alice)
    assert api.repo_exists(repo)
    listed = set(api.list_repo_files(repo))
    assert set(files) <= listed
    lfs = {f.path: f.lfs for f in api.get_paths_info(repo, ["weights/model.safetensors", "config.json"])}
    assert lfs["weights/model.safetensors"] is not None
    assert (
        lfs["weights/model.safetensors"].sha256
        == hashlib.sha256(files["weights/model.safetensors"]).hexdigest()
    )
    assert lfs["config.json"] is None
    assert api.list_repo_commits(repo)[0].title == "Upload from the hf CLI"

    dest = tmp_path / "dest"
    hf(alice, "download", repo, "--local-dir", str(dest))
    got = tree_bytes(dest)
    got.pop(".gitattributes", None)
    assert got == files

    # A single named file into another folder.
    one = tmp_path / "one"
    hf(alice, "download", repo, "weights/model.safetensors", "--local-dir", str(one))
    assert (one / "weights/model.safetensors").read_bytes() == files["weights/model.safetensors"]
    assert tree_bytes(one) == {"weights/model.safetensors": files["weights/model.safetensors"]}


def test_upload_single_file_creates_repo(server, alice: str, tmp_path: Path, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    f = tmp_path / "weights.bin"
    data = os.urandom(1024 * 1024 + 3)
    f.write_bytes(data)
    g = tmp_path / "hello.txt"
    g.write_text("hello\n")

    hf(alice, "upload", repo, str(f))  # path in repo defaults to the file name
    hf(alice, "upload", repo, str(g), "docs/hello.txt")

    dest = tmp_path / "dest"
    hf(alice, "download", repo, "--local-dir", str(dest))
    got = tree_bytes(dest)
    got.pop(".gitattributes", None)
    assert got == {"weights.bin": data, "docs/hello.txt": b"hello\n"}

    # Re-uploading identical content is a no-op that still succeeds.
    hf(alice, "upload", repo, str(f))
    from huggingface_hub import HfApi

    titles = [c.title for c in HfApi(token=alice).list_repo_commits(repo)]
    assert len(titles) == 3  # initial commit + two uploads


def test_upload_dataset_and_download_to_cache(server, alice: str, tmp_path: Path, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    src = tmp_path / "data"
    src.mkdir()
    (src / "train.csv").write_text("a,b\n1,2\n3,4\n")
    (src / "test.csv").write_text("a,b\n5,6\n")
    hf(alice, "upload", repo, str(src), "data", "--repo-type", "dataset")

    out = hf(alice, "download", repo, "--repo-type", "dataset", "--quiet")
    snapshot = Path(out.stdout.strip().splitlines()[-1])
    assert snapshot.is_dir()
    assert (snapshot / "data/train.csv").read_text() == "a,b\n1,2\n3,4\n"
    assert (snapshot / "data/test.csv").read_text() == "a,b\n5,6\n"


def test_download_private_repo_needs_token(server, alice: str, tmp_path: Path, repo_name: str) -> None:
    repo = f"alice/{repo_name}"
    f = tmp_path / "secret.txt"
    f.write_text("top secret\n")
    hf(alice, "upload", repo, str(f), "--private")

    anon = hf(None, "download", repo, "secret.txt", "--local-dir", str(tmp_path / "anon"), check=False)
    assert anon.returncode != 0
    assert not (tmp_path / "anon" / "secret.txt").exists()

    hf(alice, "download", repo, "secret.txt", "--local-dir", str(tmp_path / "ok"))
    assert (tmp_path / "ok" / "secret.txt").read_text() == "top secret\n"


def test_hf_discussions_commands(api, alice: str, bob: str, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    """`hf discussions`: bob opens a discussion and comments, edits his comment, alice renames, closes and
    reopens it; a PR's diff and its merge; `list` and `info` read all of it back."""
    from huggingface_hub import CommitOperationAdd

    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"one\n", path_in_repo="a.txt", repo_id=rid)
    out = hf(
        bob, "discussions", "create", rid, "--title", "Typo in a.txt", "--body", "It says *one*.", "--json"
    )
    num = str(json.loads(out.stdout)["num"])
    hf(bob, "discussions", "comment", rid, num, "--body", "Also two.")
    info = json.loads(hf(bob, "discussions", "info", rid, num, "--json").stdout)
    mine = [e for e in info["events"] if e.get("type") == "comment" and "Also two" in json.dumps(e)]
    assert mine, info
    hf(bob, "discussions", "edit", rid, num, mine[0]["id"], "--body", "Also three.")
    hf(alice, "discussions", "rename", rid, num, "Typos in a.txt")
    hf(alice, "discussions", "close", rid, num, "--yes")
    hf(alice, "discussions", "reopen", rid, num, "--yes")
    d = api.get_discussion_details(rid, int(num))
    assert d.title == "Typos in a.txt" and d.status == "open"
    edited = [e for e in d.events if e.type == "comment" and e.id == mine[0]["id"]]
    assert edited and edited[0].content == "Also three." and edited[0].edited
    # a pull request: its diff through the CLI, merged through the CLI
    pr = api.create_commit(rid, [CommitOperationAdd("a.txt", b"two\n")], commit_message="two", create_pr=True)
    pr_num = str(pr.pr_num)
    diff = hf(alice, "discussions", "diff", rid, pr_num).stdout
    assert "-one" in diff and "+two" in diff, diff
    listed = json.loads(hf(alice, "discussions", "list", rid, "--status", "all", "--json").stdout)
    assert {str(x["num"]) for x in listed} >= {num, pr_num}, listed
    hf(alice, "discussions", "merge", rid, pr_num, "--yes")
    assert api.get_discussion_details(rid, int(pr_num)).status == "merged"
    assert Path(api.hf_hub_download(rid, "a.txt")).read_bytes() == b"two\n"
    # bob may not merge, close or rename alice's repo's threads: the CLI says so
    assert hf(bob, "discussions", "close", rid, pr_num, "--yes", check=False).returncode != 0
