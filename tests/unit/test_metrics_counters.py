"""Byte counters: files of processes that ended are folded into one lasting total (not summed from a growing pile
of files), a new process with an old pid keeps the old counts, and unreadable files are logged, not ignored."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import time
from pathlib import Path

import pytest

from agora.http import metrics
from agora.http.metrics import RETIRED, Counters


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _put(folder: Path, name: str, n: int) -> Path:
    p = folder / f"{name}.json"
    p.write_text(json.dumps({"requests": n, "bytes_in": 10 * n, "bytes_out": 100 * n}))
    return p


def test_dead_processes_fold_into_one_total(tmp_path: Path) -> None:
    c = Counters(tmp_path)
    c.values.update(requests=1, bytes_in=2, bytes_out=3)
    c.save()
    host = socket.gethostname()
    dead = [_put(tmp_path, f"{host}-{_dead_pid()}", n) for n in (5, 7)]
    elsewhere = _put(tmp_path, "some-other-host-1", 11)  # another host's process: may still run, left alone
    want = {
        "requests": 1 + 5 + 7 + 11,
        "bytes_in": 2 + 120 + 110,
        "bytes_out": 3 + 1200 + 1100,
        "processes": 2,
    }
    assert c.total() == want
    assert not any(p.exists() for p in dead) and elsewhere.exists()
    assert json.loads((tmp_path / RETIRED).read_text()) == {
        "requests": 12,
        "bytes_in": 120,
        "bytes_out": 1200,
    }
    assert c.total() == want  # folded once, counted every time after
    c.values["requests"] += 1
    c.save()
    assert c.total()["requests"] == want["requests"] + 1


def test_new_process_with_an_old_pid_keeps_its_counts(tmp_path: Path) -> None:
    c = Counters(tmp_path)
    c.values["requests"] = 4
    c.save()
    again = Counters(tmp_path)  # same host and pid: as a restarted process that got the same pid
    assert again.values["requests"] == 0
    assert again.total()["requests"] == 4


def test_unreadable_files_and_failed_writes_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = Counters(tmp_path)
    (tmp_path / "broken-1.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="agora.metrics"):
        assert c.total()["processes"] == 1
        assert "broken-1.json" in caplog.text

        def fail() -> None:
            raise OSError("disk full")

        monkeypatch.setattr(c, "save", fail)
        c.dirty.set()
        deadline = time.time() + 5
        while "could not write" not in caplog.text and time.time() < deadline:
            time.sleep(0.02)
    assert "could not write the byte counters" in caplog.text
    assert metrics.log.name == "agora.metrics"
