"""Spaces: build a Space's Python environment and run its app sandboxed, reached over a unix socket.

A library with no HTTP, database or lifecycle of its own (the supervisor and the proxy sit on top of it):

- `envs.EnvStore`: content-addressed environments built with uv (`<root>/envs/<key>/`), one shared cache,
  each uv run in a build sandbox whose only way out is `indexproxy.IndexProxy` (package indexes only);
- `sandbox.Runner`: an app started as its own unprivileged uid under bubblewrap, with cgroup limits
  (`cgroups.py`), its output sent line by line to a callback, reached through `shim.py` on a unix socket.

It imports nothing of Agora's: `shim.py` even runs inside the sandbox, with the environment's interpreter.
See docs/architecture.md "Spaces" and SECURITY.md "Spaces".
"""

from __future__ import annotations

import os
import shutil

# The host tools the sandbox needs, and where they come from (Debian package names).
TOOLS = {"bwrap": "bubblewrap", "setpriv": "util-linux"}


def missing() -> list[str]:
    """What this host lacks to run Spaces, each as a sentence naming the fix; empty when all is there."""
    out = [
        f"{tool} is not installed: apt-get install {pkg}"
        for tool, pkg in TOOLS.items()
        if not shutil.which(tool)
    ]
    if os.geteuid() != 0:
        out.append("the server is not root: it cannot start each Space as a uid of its own")
    return out
