"""The default huggingface_hub install uploads LFS-mode files through Xet without asking the server.

Native Xet storage (issue 4) makes this work with no environment variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from ..conftest import Server


def test_default_client_uploads_lfs_file(server: Server, alice: str, repo_name: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env["HF_TOKEN"] = alice
    script = textwrap.dedent(f"""
        import os
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.utils._runtime import is_xet_available
        assert is_xet_available()
        api = HfApi()
        api.create_repo("alice/{repo_name}")
        data = os.urandom(2 * 1024 * 1024)
        api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id="alice/{repo_name}")
        assert open(hf_hub_download("alice/{repo_name}", "w.bin"), "rb").read() == data
    """)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
