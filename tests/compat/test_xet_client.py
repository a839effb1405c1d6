"""Native Xet with the default client (huggingface_hub + hf_xet, no HF_HUB_DISABLE_XET), and every other reader.

The test process itself runs with HF_HUB_DISABLE_XET=1 (tests/conftest.py), so it reads over plain HTTP;
the default client runs in subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from ..conftest import ENDPOINT, Server


def run_default_client(script: str, token: str, hf_home: Path | None = None, timeout: int = 240) -> str:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env["HF_TOKEN"] = token
    if hf_home is not None:
        env["HF_HOME"] = str(hf_home)
    prelude = "from huggingface_hub.utils._runtime import is_xet_available\nassert is_xet_available()\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def xorb_bytes(server: Server) -> int:
    return sum(size for _, size, _ in server.store("xorbs").list_objects())


def sha(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while b := fh.read(1 << 20):
            h.update(b)
    return h.hexdigest()


def head(url: str, token: str) -> dict[str, str]:
    req = urllib.request.Request(url, method="HEAD", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return {k.lower(): v for k, v in r.headers.items()}


def test_upload_file_40mb_then_download_through_xet_and_http(
    server: Server, alice: str, repo_name: str, tmp_path: Path
) -> None:
    from huggingface_hub import HfApi, hf_hub_download

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(40 * 1024 * 1024))
    want = sha(src)
    before = xorb_bytes(server)
    out = run_default_client(
        f"""
        import hashlib, json
        from huggingface_hub import HfApi, hf_hub_download
        api = HfApi()
        api.create_repo("alice/{repo_name}")
        api.upload_file(path_or_fileobj={str(src)!r}, path_in_repo="weights/big.bin", repo_id="alice/{repo_name}")
        p = hf_hub_download("alice/{repo_name}", "weights/big.bin", cache_dir={str(tmp_path / "xet-cache")!r})
        print(json.dumps({{"sha": hashlib.sha256(open(p, "rb").read()).hexdigest()}}))
    """,
        alice,
    )
    assert json.loads(out.strip().splitlines()[-1])["sha"] == want
    assert xorb_bytes(server) - before >= 40 * 1024 * 1024  # stored as xorbs, not as an LFS blob
    assert not server.store("lfs").exists(want)

    # Plain HTTP (this process has Xet disabled) reads the same bytes, reconstructed while streaming.
    p = hf_hub_download(
        f"alice/{repo_name}", "weights/big.bin", cache_dir=tmp_path / "http-cache", token=alice
    )
    assert sha(p) == want
    url = f"{ENDPOINT}/alice/{repo_name}/resolve/main/weights/big.bin"
    h = head(url, alice)
    assert h["x-linked-size"] == str(40 * 1024 * 1024) and h["content-length"] == str(40 * 1024 * 1024)
    assert len(h["x-xet-hash"]) == 64 and 'rel="xet-auth"' in h["link"] and "/xet-read-token/" in h["link"]
    req = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {alice}", "Range": "bytes=1000000-1065535"}
    )
    with urllib.request.urlopen(req) as r:
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes 1000000-1065535/{40 * 1024 * 1024}"
        assert r.read() == src.read_bytes()[1000000:1065536]
    (entry,) = HfApi(token=alice).get_paths_info(f"alice/{repo_name}", ["weights/big.bin"])
    assert entry.xet_hash == h["x-xet-hash"] and entry.lfs.sha256 == want


def test_upload_folder_create_commit_snapshot_both_ways(
    server: Server, alice: str, repo_name: str, tmp_path: Path
) -> None:
    from huggingface_hub import snapshot_download

    folder = tmp_path / "model"
    (folder / "shards").mkdir(parents=True)
    for i in range(3):
        (folder / "shards" / f"part-{i}.safetensors").write_bytes(os.urandom(6 * 1024 * 1024 + i))
    (folder / "config.json").write_text('{"model_type": "bert"}')
    extra = tmp_path / "extra.bin"
    extra.write_bytes(os.urandom(11 * 1024 * 1024))
    out = run_default_client(
        f"""
        import hashlib, json, os
        from huggingface_hub import CommitOperationAdd, HfApi, snapshot_download
        api = HfApi()
        api.create_repo("alice/{repo_name}")
        api.upload_folder(folder_path={str(folder)!r}, repo_id="alice/{repo_name}")
        api.create_commit("alice/{repo_name}", operations=[
            CommitOperationAdd("extra/extra.bin", {str(extra)!r}),
            CommitOperationAdd("notes.txt", b"small file")], commit_message="more")
        d = snapshot_download("alice/{repo_name}", cache_dir={str(tmp_path / "xet-cache")!r})
        out = {{}}
        for root, _, files in os.walk(d):
            for f in files:
                p = os.path.join(root, f)
                out[os.path.relpath(p, d)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        print(json.dumps(out))
    """,
        alice,
    )
    via_xet = json.loads(out.strip().splitlines()[-1])
    d = Path(snapshot_download(f"alice/{repo_name}", cache_dir=tmp_path / "http-cache", token=alice))
    via_http = {str(p.relative_to(d)): sha(p) for p in d.rglob("*") if p.is_file()}
    want = {str(p.relative_to(folder)): sha(p) for p in folder.rglob("*") if p.is_file()}
    want["extra/extra.bin"] = sha(extra)
    want["notes.txt"] = hashlib.sha256(b"small file").hexdigest()
    for got in (via_xet, via_http):
        assert {k: v for k, v in got.items() if k != ".gitattributes"} == want


def test_dedup_second_upload_of_a_modified_file_stores_few_new_bytes(
    server: Server, alice: str, repo_name: str, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download

    size = 100 * 1000 * 1000  # the figure: 100 MB, then a copy with 10 % changed in the middle
    a = bytearray(os.urandom(size))
    (tmp_path / "a.bin").write_bytes(a)
    a[size // 2 : size // 2 + size // 10] = os.urandom(size // 10)  # 10 % changed in the middle
    (tmp_path / "b.bin").write_bytes(a)
    script = """
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/{repo}", exist_ok=True)
        api.upload_file(path_or_fileobj={src!r}, path_in_repo={dst!r}, repo_id="alice/{repo}")
    """
    run_default_client(
        script.format(repo=repo_name, src=str(tmp_path / "a.bin"), dst="v1.bin"),
        alice,
        hf_home=tmp_path / "home-1",
    )
    mid = xorb_bytes(server)
    # A fresh client cache: only the server's global dedup answer can tell it what is already stored.
    run_default_client(
        script.format(repo=repo_name, src=str(tmp_path / "b.bin"), dst="v2.bin"),
        alice,
        hf_home=tmp_path / "home-2",
    )
    growth = xorb_bytes(server) - mid
    print(f"xorb store growth for a {size} byte file with 10% changed: {growth} bytes")
    assert growth <= 20 * 1000 * 1000, growth
    p = hf_hub_download(f"alice/{repo_name}", "v2.bin", cache_dir=tmp_path / "http-cache", token=alice)
    assert sha(p) == sha(tmp_path / "b.bin")


def test_lfs_upload_read_by_default_client(
    server: Server,
    alice: str,
    api,
    repo_name: str,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    api.create_repo(f"alice/{repo_name}")
    api.upload_file(path_or_fileobj=data, path_in_repo="lfs.bin", repo_id=f"alice/{repo_name}")  # LFS batch
    assert "x-xet-hash" not in head(f"{ENDPOINT}/alice/{repo_name}/resolve/main/lfs.bin", alice)
    out = run_default_client(
        f"""
        import hashlib
        from huggingface_hub import hf_hub_download
        p = hf_hub_download("alice/{repo_name}", "lfs.bin", cache_dir={str(tmp_path / "c")!r})
        print(hashlib.sha256(open(p, "rb").read()).hexdigest())
    """,
        alice,
    )
    assert out.strip().splitlines()[-1] == hashlib.sha256(data).hexdigest()


def test_git_lfs_clone_of_xet_uploaded_files(
    server: Server, alice: str, repo_name: str, tmp_path: Path
) -> None:
    if shutil.which("git-lfs") is None:
        pytest.skip("git-lfs is not installed")
    try:
        urllib.request.urlopen(f"{ENDPOINT}/alice/none/info/refs?service=git-upload-pack")
    except urllib.error.HTTPError as e:
        if e.code == 404 and e.headers.get("X-Error-Code") == "NotFound":  # no such route
            pytest.skip("this server has no git smart HTTP face yet")
    data = os.urandom(5 * 1024 * 1024)
    (tmp_path / "w.bin").write_bytes(data)
    run_default_client(
        f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/{repo_name}")
        api.upload_file(path_or_fileobj={str(tmp_path / "w.bin")!r}, path_in_repo="w.bin", repo_id="alice/{repo_name}")
    """,
        alice,
    )
    dest = tmp_path / "clone"
    url = ENDPOINT.replace("http://", f"http://alice:{alice}@") + f"/alice/{repo_name}"
    subprocess.run(["git", "clone", "-q", url, str(dest)], check=True, capture_output=True, timeout=120)
    assert (dest / "w.bin").read_bytes() == data


def test_create_pr_upload_through_xet(server: Server, alice: str, repo_name: str, tmp_path: Path) -> None:
    from huggingface_hub import hf_hub_download

    data = os.urandom(2 * 1024 * 1024)
    (tmp_path / "w.bin").write_bytes(data)
    out = run_default_client(
        f"""
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo("alice/{repo_name}")
        info = api.upload_file(path_or_fileobj={str(tmp_path / "w.bin")!r}, path_in_repo="w.bin",
                               repo_id="alice/{repo_name}", create_pr=True)
        print(info.pr_revision)
    """,
        alice,
    )
    rev = out.strip().splitlines()[-1]
    assert rev == "refs/pr/1"
    p = hf_hub_download(f"alice/{repo_name}", "w.bin", revision=rev, cache_dir=tmp_path / "c", token=alice)
    assert Path(p).read_bytes() == data


def test_dataset_push_to_hub_through_xet(server: Server, alice: str, repo_name: str, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    from datasets import load_dataset
    from huggingface_hub import HfApi

    out = run_default_client(
        f"""
        from datasets import Dataset
        ds = Dataset.from_dict({{"id": list(range(5000)), "text": [f"row {{i}} " * 8 for i in range(5000)]}})
        ds.push_to_hub("alice/{repo_name}")
        print("pushed")
    """,
        alice,
    )
    assert out.strip().splitlines()[-1] == "pushed"
    files = HfApi(token=alice).list_repo_tree(f"alice/{repo_name}", repo_type="dataset", recursive=True)
    parquet = [f for f in files if f.path.endswith(".parquet")]
    assert parquet and all(f.xet_hash for f in parquet)  # uploaded through Xet
    ds = load_dataset(f"alice/{repo_name}", split="train", cache_dir=str(tmp_path / "ds"), token=alice)
    assert ds.num_rows == 5000 and ds[4999]["text"].startswith("row 4999 ")
