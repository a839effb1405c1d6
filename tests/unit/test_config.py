"""Every AGORA_* variable is read in config.py: the settings that used to be read elsewhere arrive there."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.config import HookEnv, Settings, ViewerLimits, serve_env


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in (
        "AGORA_JOBS",
        "AGORA_VIEWER_MAX_RSS",
        "AGORA_VIEWER_TIMEOUT",
        "AGORA_VIEWER_BLOCK_SIZE",
        "AGORA_S3_ENDPOINT",
        "AGORA_S3_REGION",
    ):
        monkeypatch.delenv(k, raising=False)
    s = Settings.from_env(tmp_path)
    assert s.jobs is True
    assert s.viewer == ViewerLimits(max_rss=2 * 1024**3, timeout=1800, block_size=16 * 1024 * 1024)
    assert s.s3_endpoint is None and s.s3_region == "us-east-1"


def test_jobs_viewer_and_s3_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_JOBS", "0")
    monkeypatch.setenv("AGORA_VIEWER_MAX_RSS", "1000")
    monkeypatch.setenv("AGORA_VIEWER_TIMEOUT", "2.5")
    monkeypatch.setenv("AGORA_VIEWER_BLOCK_SIZE", "4096")
    monkeypatch.setenv("AGORA_BLOB_STORE", "s3://bucket/pre")
    monkeypatch.setenv("AGORA_S3_ENDPOINT", "http://s3.internal:8333")
    monkeypatch.setenv("AGORA_S3_PUBLIC_ENDPOINT", "http://s3.example:8333")
    monkeypatch.setenv("AGORA_S3_ACCESS_KEY", "key")
    monkeypatch.setenv("AGORA_S3_SECRET_KEY", "secret")
    monkeypatch.setenv("AGORA_S3_REGION", "eu-west-1")
    s = Settings.from_env(tmp_path)
    assert s.jobs is False
    assert s.viewer == ViewerLimits(max_rss=1000, timeout=2.5, block_size=4096)
    cfg = s.blobs("lfs").cfg  # the S3 store (no request is made to build it)
    assert (
        cfg.bucket,
        cfg.prefix,
        cfg.endpoint,
        cfg.public_endpoint,
        cfg.access_key,
        cfg.secret_key,
        cfg.region,
    ) == ("bucket", "pre/", "http://s3.internal:8333", "http://s3.example:8333", "key", "secret", "eu-west-1")


def test_hook_env_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings.from_env(tmp_path)
    env = HookEnv(42, "dataset", "alice").env(s)
    assert env["AGORA_DATA"] == str(s.data) and env["AGORA_DATABASE_URL"] == s.database_url
    assert env["AGORA_CARD_MAX_DEPTH"] == str(s.card.max_depth)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert HookEnv.from_env() == HookEnv(42, "dataset", "alice")
    monkeypatch.delenv("AGORA_REPO_ID")
    monkeypatch.delenv("AGORA_REPO_TYPE")
    assert HookEnv.from_env() == HookEnv(None, "model", "alice")


def test_serve_env(tmp_path: Path) -> None:
    s = Settings.from_env(tmp_path)
    assert serve_env(s, "127.0.0.1:8080") == {"AGORA_DATA": str(s.data), "AGORA_LISTEN": "127.0.0.1:8080"}


def test_hook_env_carries_the_refs_a_push_may_update(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings.from_env(tmp_path)
    for refs in (None, (), ("refs/pr/1", "refs/pr/4")):
        for k, v in HookEnv(7, "model", "bob", refs).env(s).items():
            monkeypatch.setenv(k, v)
        assert HookEnv.from_env().push_refs == refs
