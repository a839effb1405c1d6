"""kill -9 of the whole server while a dataset's parquet converter runs, then a restart: the converter died
with its server (no orphan `agora.viewer.convert`), the job is offered again at once (the dead worker's lease,
not a fixed 30 minutes) and completes, and the dead conversion's temp folder is gone. Runs its own server on
its own data folder."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from ..conftest import kill_group, new_site
from ..conftest import start_killable as start

ROWS = 600_000


def _csv(path: Path, rows: int) -> None:
    rnd = random.Random(14)
    with open(path, "w") as fh:
        fh.write("a,b,c\n")
        for i in range(rows):
            fh.write(f"{i},text number {i} {rnd.random()},{i * 0.5}\n")


def _ppid_pgid(pid: int) -> tuple[int, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def _converters() -> dict[int, int]:
    """{pid: parent pid} of every running `agora.viewer.convert` process."""
    out: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        got = _ppid_pgid(int(d.name))
        if b"agora.viewer.convert" in cmd and got is not None:
            out[int(d.name)] = got[0]
    return out


def _ours(server_pgid: int) -> list[int]:
    """The converters whose parent is in the server's process group."""
    return [pid for pid, ppid in _converters().items() if (_ppid_pgid(ppid) or (0, 0))[1] == server_pgid]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return state != "Z" and b"agora.viewer.convert" in cmd


def test_kill_9_during_conversion_then_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = new_site(tmp_path / "data", "erin", tmp_path / "server.log")
    data, token, port, endpoint, log = site.data, site.token, site.port, site.endpoint, site.log
    src = tmp_path / "train.csv"
    _csv(src, ROWS)  # ~32 MB, read 512 bytes at a time: a converter that runs for many seconds
    monkeypatch.setenv("AGORA_VIEWER_BLOCK_SIZE", "512")
    proc = start(data, port, log)
    try:
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo("erin/big", repo_type="dataset")
        sha = api.upload_file(
            path_or_fileobj=str(src), path_in_repo="train.csv", repo_id="erin/big", repo_type="dataset"
        ).oid
        deadline = time.time() + 120
        while time.time() < deadline and not (ours := _ours(proc.pid)):
            assert proc.poll() is None, log.read_text()
            time.sleep(0.01)
        assert ours, f"no converter started:\n{log.read_text()[-3000:]}"
        assert list((data / "tmp").glob("convert-*")), "the conversion has no temp folder"
        time.sleep(1)  # the converter has its request and is converting
        assert all(_running(pid) for pid in ours), "the converter ended before the server could be killed"
        kill_group(proc)

        # The converter dies with its server (at once: it would run on, unsupervised, for seconds more).
        deadline = time.time() + 1.5
        while time.time() < deadline and any(_running(pid) for pid in ours):
            time.sleep(0.1)
        orphans = [pid for pid in ours if _running(pid)]
        for pid in orphans:  # do not leave it running past the test
            os.kill(pid, 9)
        assert not orphans, f"converter(s) {orphans} outlived the server killed with -9"

        proc = start(data, port, log)
        started = time.time()
        deadline = started + 180
        last = None
        while time.time() < deadline:
            r = httpx.get(
                f"{endpoint}/api/datasets-server/splits",
                params={"dataset": "erin/big"},
                headers={"authorization": f"Bearer {token}"},
                timeout=30,
            )
            last = (r.status_code, r.text[:300], r.headers.get("x-revision"))
            if r.status_code == 200 and r.headers.get("x-revision") == sha and not r.json()["pending"]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the conversion was not re-run after the restart: {last}")
        rows = httpx.get(
            f"{endpoint}/api/datasets-server/size",
            params={"dataset": "erin/big"},
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert rows.status_code == 200 and rows.json()["size"]["dataset"]["num_rows"] == ROWS, rows.text
        assert time.time() - started < 180  # not the 30 minutes of a fixed staleness
        assert not list((data / "tmp").glob("convert-*")), "a dead conversion's temp folder remains"
        assert not _ours(proc.pid)
    finally:
        kill_group(proc)
