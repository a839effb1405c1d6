"""`agora gc --apply` after an Xet upload that was never committed (issue 14, item 6).

hf_xet keeps the shard of every upload it finished in its local cache (`$HF_HOME/xet/<endpoint>/shard-cache`)
for three weeks and dedups against it before asking the server: a later upload of the same bytes sends no
xorb, only a shard naming the xorbs it believes the server has. If gc removed them meanwhile, no answer of
the server makes the client upload them again. So gc keeps unreferenced xorbs for longer than that cache
lives (`AGORA_GC_XORB_GRACE`), and the retry, two days later here, must work without touching the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from huggingface_hub import HfApi

from ..conftest import BIN, kill_group, new_site
from ..conftest import start_killable as start

DAYS = 2  # how long ago the abandoned upload happened: past the old 60-minute grace, well within the new one


def _client(script: str, token: str, endpoint: str, hf_home: Path) -> subprocess.CompletedProcess[str]:
    """huggingface_hub with hf_xet (Xet on) in a process of its own, with its own HF_HOME (its Xet cache)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_XET", "HF_XET_CACHE")}
    env.update(HF_TOKEN=token, HF_ENDPOINT=endpoint, HF_HOME=str(hf_home))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=300
    )


def _age(data: Path, seconds: float) -> None:
    """Make everything Xet stored look `seconds` older: the xorb and shard files and their rows."""
    then = time.time() - seconds
    for kind in ("xorbs", "shards"):
        for p in (data / "xet" / kind).glob("??/??/*"):
            os.utime(p, (then, then))
    db = sqlite3.connect(data / "agora.db")
    with db:
        for table in ("xet_xorbs", "xet_files", "lfs_objects"):
            db.execute(
                f"UPDATE {table} SET created_at = datetime(created_at, ?)", (f"-{int(seconds)} seconds",)
            )
    db.close()


def test_upload_retried_after_gc_works_without_clearing_the_xet_cache(tmp_path: Path) -> None:
    site = new_site(tmp_path / "data", "gina", tmp_path / "server.log")
    proc = start(site.data, site.port, site.log)
    try:
        api = HfApi(endpoint=site.endpoint, token=site.token)
        api.create_repo("gina/m")
        src = tmp_path / "weights.bin"
        src.write_bytes(os.urandom(3 * 1024 * 1024))
        want = hashlib.sha256(src.read_bytes()).hexdigest()
        hf_home = tmp_path / "hf-home"
        upload = f"""
            from huggingface_hub import CommitOperationAdd, HfApi
            from huggingface_hub.utils._runtime import is_xet_available
            assert is_xet_available()
            op = CommitOperationAdd(path_in_repo="weights.bin", path_or_fileobj={str(src)!r})
            if "%s" == "commit":
                HfApi().upload_file(path_or_fileobj={str(src)!r}, path_in_repo="weights.bin", repo_id="gina/m")
            else:  # the bytes go up through Xet (xorbs, then the shard), and no commit follows
                HfApi().preupload_lfs_files("gina/m", additions=[op])
        """
        out = _client(upload % "upload only", site.token, site.endpoint, hf_home)
        assert out.returncode == 0, out.stderr[-2000:]
        assert list((site.data / "xet" / "xorbs").glob("??/??/*")), "the upload sent no xorb"
        assert list(hf_home.glob("xet/*/shard-cache/*.mdb")), "hf_xet cached no shard"
    finally:
        kill_group(proc)

    _age(site.data, DAYS * 86400)
    gc = subprocess.run(
        [str(BIN / "agora"), "gc", "--apply", "--data", str(site.data)], capture_output=True, text=True
    )
    assert gc.returncode == 0, gc.stderr
    assert "xorb" in gc.stderr and "grace" in gc.stderr, gc.stderr  # says how long unreferenced xorbs stay

    proc = start(site.data, site.port, site.log)
    try:
        out = _client(upload % "commit", site.token, site.endpoint, hf_home)  # the same cache, untouched
        assert out.returncode == 0, out.stderr[-3000:]
        got = _client(
            f"""
            import hashlib, json
            from huggingface_hub import hf_hub_download
            p = hf_hub_download("gina/m", "weights.bin", cache_dir={str(tmp_path / "dl")!r})
            print(json.dumps({{"sha": hashlib.sha256(open(p, "rb").read()).hexdigest()}}))
            """,
            site.token,
            site.endpoint,
            tmp_path / "hf-home-reader",
        )
        assert got.returncode == 0, got.stderr[-3000:]
        assert json.loads(got.stdout.strip().splitlines()[-1])["sha"] == want
    finally:
        kill_group(proc)


def test_a_xorb_gc_removed_anyway_gets_an_answer_that_says_what_to_do(tmp_path: Path) -> None:
    """With the grace set to nothing, gc removes the xorb the client's cache still names: the upload fails,
    and the client shows the server's message (through the v2 shard upload's error frame), which names the
    cache to clear; clearing it makes the upload work."""
    site = new_site(tmp_path / "data", "hugo", tmp_path / "server.log")
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024))
    hf_home = tmp_path / "hf-home"
    upload = f"""
        from huggingface_hub import CommitOperationAdd, HfApi
        api = HfApi()
        if "%s" == "commit":
            api.upload_file(path_or_fileobj={str(src)!r}, path_in_repo="weights.bin", repo_id="hugo/m")
        else:
            api.create_repo("hugo/m")
            api.preupload_lfs_files("hugo/m", additions=[CommitOperationAdd("weights.bin", {str(src)!r})])
    """
    proc = start(site.data, site.port, site.log)
    try:
        out = _client(upload % "upload only", site.token, site.endpoint, hf_home)
        assert out.returncode == 0, out.stderr[-2000:]
    finally:
        kill_group(proc)
    _age(site.data, 3600)
    gc = subprocess.run(
        [str(BIN / "agora"), "gc", "--apply", "--xorb-grace-days", "0", "--data", str(site.data)],
        capture_output=True,
        text=True,
    )
    assert "removed 0 LFS object(s) and 1 xorb(s)" in gc.stderr, gc.stderr

    proc = start(site.data, site.port, site.log)
    try:
        out = _client(upload % "commit", site.token, site.endpoint, hf_home)
        assert out.returncode != 0
        assert "which this server does not have" in out.stderr and "shard-cache" in out.stderr, out.stderr[
            -3000:
        ]
        for cache in hf_home.glob("xet/*/shard-cache"):  # what the message says to do
            shutil.rmtree(cache)
        out = _client(upload % "commit", site.token, site.endpoint, hf_home)
        assert out.returncode == 0, out.stderr[-3000:]
        want = hashlib.sha256(src.read_bytes()).hexdigest()
        assert (
            HfApi(endpoint=site.endpoint, token=site.token)
            .get_paths_info("hugo/m", ["weights.bin"])[0]
            .lfs.sha256
            == want
        )
    finally:
        kill_group(proc)
