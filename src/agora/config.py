"""Settings from the environment (AGORA_*) and command-line flags."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Settings:
    data: Path
    database_url: str
    public_url: str | None = None
    # LFS uploads above this size are offered the HF multipart transfer (parts written in place).
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunk: int = 32 * 1024 * 1024
    max_commit_line: int = 64 * 1024 * 1024

    @classmethod
    def from_env(cls, data: str | Path | None = None) -> "Settings":
        d = Path(data or os.environ.get("AGORA_DATA", "./data")).resolve()
        url = os.environ.get("AGORA_DATABASE_URL") or f"sqlite:///{d / 'agora.db'}"
        s = cls(data=d, database_url=url, public_url=os.environ.get("AGORA_PUBLIC_URL") or None)
        for name in ("multipart_threshold", "multipart_chunk", "max_commit_line"):
            v = os.environ.get(f"AGORA_{name.upper()}")
            if v:
                setattr(s, name, int(v))
        return s

    @property
    def repos_dir(self) -> Path:
        return self.data / "repos"

    @property
    def lfs_dir(self) -> Path:
        return self.data / "lfs"

    def secret_key(self) -> bytes:
        """Signs URL capabilities; kept in the data folder so that every process shares it."""
        env = os.environ.get("AGORA_SECRET_KEY")
        if env:
            return env.encode()
        path = self.data / "secret.key"
        if not path.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # first writer wins, across processes
            except FileExistsError:
                pass
            tmp.unlink()
        return path.read_text().strip().encode()
