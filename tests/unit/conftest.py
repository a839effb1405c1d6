"""Fixtures of the in-process domain tests: a Hub on SQLite in a temp folder, and alice with a model repo."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agora.app import build_hub
from agora.config import Settings
from agora.hub import accounts
from agora.hub.accounts import Principal
from agora.hub.repos import Hub
from agora.ids import RepoId

RID = RepoId("model", "alice", "m")  # the repo the `who` fixture creates
T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: the session's Playwright browser (tests/e2e) may be running an
    event loop in this one, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    data = tmp_path.resolve()
    return build_hub(Settings(data=data, database_url=f"sqlite:///{data / 'agora.db'}"))


@pytest.fixture
def who(hub: Hub) -> Principal:
    """alice, the owner of the model repo RID (created empty)."""
    with hub.db.session() as s:
        who = accounts.session_principal(accounts.create_user(s, "alice", "alice-password"))
        hub.create(s, who, RID)
    return who
