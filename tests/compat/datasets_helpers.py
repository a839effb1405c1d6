"""Shared by the datasets compat tests: waiting for the parquet conversion, calling the viewer API."""

from __future__ import annotations

import time
from typing import Any

import httpx

from ..conftest import ENDPOINT

VIEWER = f"{ENDPOINT}/api/datasets-server"


def viewer(endpoint: str, token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{VIEWER}/{endpoint}", params=params, headers=headers, timeout=60)


def wait_converted(repo_id: str, sha: str, token: str | None = None, timeout: float = 120) -> dict[str, Any]:
    """Poll /splits until its data comes from `sha` and nothing is pending (bounded)."""
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        r = viewer("splits", token, dataset=repo_id)
        last = (r.status_code, r.text[:300], r.headers.get("x-revision"))
        if r.status_code == 200 and r.headers.get("x-revision") == sha and not r.json()["pending"]:
            return r.json()  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError(f"conversion of {repo_id}@{sha} did not finish in {timeout}s: {last}")
