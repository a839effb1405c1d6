"""The inference pool without a server: the supervisor (lease, unix socket, real worker processes) driven
through InferencePool, on a tiny model folder (tests/tiny_models.py). Queue bounds and memory recycling."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agora.errors import HubError, Unavailable
from agora.inference.front import InferencePool, check
from agora.inference.pool import PoolConfig

from ..tiny_models import tiny_models  # noqa: F401  (the session fixture)
from .conftest import run_async


@pytest.fixture
def pools(tmp_path: Path) -> Iterator[list[InferencePool]]:
    made: list[InferencePool] = []
    yield made
    for p in made:
        p.close()


def request(folder: Path, inputs: str) -> dict[str, Any]:
    return {"op": "run", "key": f"cls@{folder}", "path": str(folder), "task": "text-classification",
            "inputs": inputs, "parameters": {}, "stream": False}  # fmt: skip


async def answer(pool: InferencePool, req: dict[str, Any]) -> dict[str, Any] | HubError:
    try:
        return check(await pool.run(req))
    except HubError as exc:
        return exc


def test_queue_bound_answers_overloaded(
    tmp_path: Path,
    tiny_models: dict[str, Path],  # noqa: F811
    pools: list[InferencePool],
) -> None:
    """queue=1: one request runs, one waits, the others are refused at once with 503 overloaded."""
    pool = InferencePool(tmp_path / "infer", PoolConfig(workers=1, threads=1, queue=1, test_sleep=1.0))
    pools.append(pool)
    req = request(tiny_models["text-classification"], "agora-test-sleep")

    async def main() -> list[dict[str, Any] | HubError]:
        return list(await asyncio.gather(*(answer(pool, req) for _ in range(4))))

    got = run_async(main())
    ok = [g for g in got if isinstance(g, dict)]
    refused = [g for g in got if isinstance(g, Unavailable)]
    assert len(ok) == 2 and len(refused) == 2, got
    assert all("overloaded" in e.message for e in refused)
    assert all(g["ok"][0][0]["label"] in ("NEGATIVE", "POSITIVE") for g in ok)


def test_worker_past_its_memory_cap_is_replaced(
    tmp_path: Path,
    tiny_models: dict[str, Path],  # noqa: F811
    pools: list[InferencePool],
) -> None:
    """max_rss below what a worker needs: it answers, drops its models, asks to be recycled; a new worker
    answers the next request."""
    pool = InferencePool(tmp_path / "infer", PoolConfig(workers=1, threads=1, max_rss=1))
    pools.append(pool)
    req = request(tiny_models["text-classification"], "I like you")

    async def main() -> tuple[Any, ...]:
        return await answer(pool, req), await answer(pool, req)

    first, second = run_async(main())
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["pid"] != second["pid"]  # the first worker was replaced after answering
    assert pool.supervisor is not None  # this process took the lease


def test_connections_are_kept_and_a_dead_one_is_replaced(
    tmp_path: Path,
    tiny_models: dict[str, Path],  # noqa: F811
    pools: list[InferencePool],
) -> None:
    """A server process sends its requests over connections it keeps (one per request cost a connect, an accept
    and a thread); when the supervisor goes away, a kept connection is dead: the request runs on a new one."""
    pool = InferencePool(tmp_path / "infer", PoolConfig(workers=1, threads=1))
    pools.append(pool)
    req = request(tiny_models["text-classification"], "I like you")

    def serving() -> int:
        return sum(t.name == "infer-conn" and t.is_alive() for t in threading.enumerate())

    async def main() -> None:
        for _ in range(5):
            assert check(await pool.run(req))["ok"][0][0]["label"] in ("NEGATIVE", "POSITIVE")
        assert serving() == 1  # five requests, one connection, still open for the next
        first = pool.supervisor
        assert first is not None and first.pids()
        first.close()  # the supervisor goes away (its owner died), the lease with it
        pool.supervisor = None
        assert pool._lease is not None
        os.close(pool._lease)
        pool._lease = None
        got = check(await pool.run(req))  # the kept connection is dead: retried on a new supervisor
        assert got["ok"][0][0]["label"] in ("NEGATIVE", "POSITIVE")
        assert pool.supervisor is not None and pool.supervisor is not first

    run_async(main())
