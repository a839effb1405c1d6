"""Resident memory of a live `agora serve`: the process and its granian workers, read from /proc."""

from __future__ import annotations

import os


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
    return out


def tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids += tree(child)
    return pids


def rss(pid: int) -> int:
    """Bytes of VmRSS summed over `pid` and all its descendants."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total
