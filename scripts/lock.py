"""Write requirements.lock: every package pip resolves today for pyproject.toml's ranges (the [test] and
[inference] extras included), with its exact version. `make lock` runs this; `make install` uses the file as
pip constraints.

The versions already locked are kept (they are the ones the suite passed with): only what a change of
pyproject.toml needs is resolved anew. `--upgrade` (`make lock UPGRADE=1`) resolves everything anew."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = """\
# Exact versions of Agora's dependencies and its [test] and [inference] extras, transitive ones included:
# `make install` and `make install-test` install with this file as pip constraints. Written by `make lock`
# (scripts/lock.py).
"""


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    lock = root / "requirements.lock"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        keep = []
        if lock.exists() and "--upgrade" not in sys.argv[1:]:
            # the locked versions as constraints (when a new range excludes a pin, pip says so: UPGRADE=1)
            keep = ["-c", str(lock)]
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
             "--report", str(report), *keep, "-e", f"{root}[test,inference]"],
            check=True,
        )  # fmt: skip
        installs = json.loads(report.read_text())["install"]
    pins = sorted(
        f"{i['metadata']['name'].lower().replace('_', '-')}=={i['metadata']['version']}"
        for i in installs
        if i["metadata"]["name"] != "agora-hub"
    )
    lock.write_text(HEADER + "".join(p + "\n" for p in pins))
    print(f"requirements.lock: {len(pins)} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
