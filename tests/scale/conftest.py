"""The scale-out stack for tests/scale: PostgreSQL + SeaweedFS + two `agora serve` processes on one data
folder and one database, behind a round-robin proxy (tests/stack.py). Started once for the directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ..conftest import ROOT
from ..stack import Stack

MB = 2**20


@dataclass
class Scale:
    stack: Stack
    token: str

    @property
    def url(self) -> str:
        return self.stack.url

    def backend(self, i: int) -> str:
        return f"http://127.0.0.1:{self.stack.ports[i]}"

    def metrics(self) -> dict[str, int]:
        import httpx

        return httpx.get(f"{self.url}/api/agora/metrics", timeout=30).json()  # type: ignore[no-any-return]

    def api(self, endpoint: str | None = None):  # type: ignore[no-untyped-def]
        from huggingface_hub import HfApi

        return HfApi(endpoint=endpoint or self.url, token=self.token)


@pytest.fixture(scope="session")
def scale() -> Iterator[Scale]:
    st = Stack(
        ROOT / "scale-tests",
        extra_env={"AGORA_MULTIPART_THRESHOLD": str(20 * MB), "AGORA_MULTIPART_CHUNK": str(8 * MB)},
    )
    try:
        st.start_services()
        st.agora("migrate")
        st.agora("user", "add", "alice", "--password-stdin", stdin="alice-password\n")
        token = st.agora("token", "create", "alice")
        st.start_servers()
        yield Scale(st, token)
    finally:
        st.stop()


@pytest.fixture
def s3_keys(scale: Scale):  # type: ignore[no-untyped-def]
    """The object keys in the bucket (what is really stored)."""
    assert scale.stack.s3 is not None
    client = scale.stack.s3.client()

    def keys(prefix: str = "") -> set[str]:
        out: set[str] = set()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket="agora", Prefix=prefix):
            out.update(o["Key"] for o in page.get("Contents", []))
        return out

    return keys
