"""create_app(settings): builds the stores and the domain, mounts the HTTP faces."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .config import Settings
from .db.session import Database, migrate
from .http.auth import Signer, credential, principal
from .http.metrics import Counters, Metered
from .http.routing import LOG_FORMAT, Router, install_request_id_logging
from .hub import cards, catalog
from .hub.accounts import Principal
from .hub.repos import Hub
from .hub.xet import XetStore

T = TypeVar("T")


@dataclass
class Ctx:
    """What every handler needs: the domain, settings, and the URL signer."""

    hub: Hub
    settings: Settings
    signer: Signer
    counters: Counters | None = None
    # The browser session's user (set by the web layer): raw files open for a logged-in visitor.
    browser_who: Callable[[Request], Any] | None = None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    async def pump(self, request: Request, write: Callable[[bytes], Any], piece: int = 1024 * 1024) -> None:
        """Stream a request body into a blocking writer, a piece of about `piece` bytes at a time, off the
        event loop. Pieces are joined once (no `bytearray +=` then `bytes()`: that copied every byte twice)."""
        pieces: list[bytes] = []
        pending = 0
        async for chunk in request.stream():
            pieces.append(chunk)
            pending += len(chunk)
            if pending >= piece:
                data = b"".join(pieces)
                pieces.clear()
                pending = 0
                await run_in_threadpool(write, data)
        if pending:
            await run_in_threadpool(write, b"".join(pieces))

    async def who(self, request: Request) -> Principal | None:
        if credential(request) is None:  # anonymous: no thread hop, no database
            return None
        return await run_in_threadpool(principal, self.hub, request)


def build_hub(settings: Settings) -> Hub:
    settings.data.mkdir(parents=True, exist_ok=True)
    cards.set_limits(settings.card)
    db = Database(settings.database_url)
    migrate(db.engine)
    hub = Hub(db, settings.repos_dir, settings.blobs("lfs"))
    hub.xet = XetStore(db, settings.blobs("xorbs"), settings.blobs("shards"))
    return hub


def create_app(settings: Settings | None = None) -> Metered:
    from .http import git, metrics, web
    from .http.api import collections, commits, common, discussions, files, lfs, repos, search, viewer, xet
    from .http.headers import Guard

    settings = settings or Settings.from_env()
    install_request_id_logging()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    counters = Counters(settings.data / "metrics")
    ctx = Ctx(build_hub(settings), settings, Signer(settings.secret_key()), counters)
    catalog.of(ctx.hub.db.engine).start()  # a server's listing catalog loads in the background from now on
    common.MAX_JSON = settings.max_json_bytes
    router = Router()
    for module in (repos, search, files, commits, discussions, collections, lfs, git, xet, viewer, metrics):
        module.mount(router, ctx)
    start_workers(ctx.hub, settings)
    web.mount(router, ctx)  # last: its catch-all patterns (/{ns}/{name}, /{user}) come after the API's
    return Metered(Guard(router, settings), counters)


def start_workers(hub: Hub, settings: Settings) -> None:
    """The background job worker: it runs the jobs of the derived artefacts declared in hub/artefacts.py
    (the parquet conversion, ...); AGORA_JOBS=0 leaves the queue to other processes."""
    from .jobs import Worker

    if settings.jobs:
        Worker(hub, settings=settings).start()


def factory() -> Metered:
    """Entry point for granian (`agora.app:factory`); settings come from AGORA_* variables."""
    return create_app()
