"""A Hugging Face cache folder, as huggingface_hub lays it out, written by tests (for `agora import`)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_cache_folder(root: Path, folder: str, files: dict[str, bytes]) -> None:
    """`root/folder` (e.g. models--acme--one): content-addressed blobs, refs/main and a snapshot of symlinks."""
    sha = hashlib.sha1(folder.encode()).hexdigest()
    d, snap = root / folder, root / folder / "snapshots" / sha
    (d / "blobs").mkdir(parents=True)
    (d / "refs").mkdir()
    (d / "refs" / "main").write_text(sha)
    for rel, data in files.items():
        blob = d / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snap / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, (snap / rel).parent), snap / rel)
