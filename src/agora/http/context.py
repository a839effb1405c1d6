"""Ctx: what every handler is given. Handlers are module-level functions `async def h(ctx, request, **params)`
(pages: `h(web, request, **params)`, http/web/base.py), listed once, in order, in http/routes.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..config import Settings
from ..hub.accounts import Principal
from ..hub.repos import Hub
from ..ids import RepoId
from . import bodies, wire
from .auth import Signer, credential, principal

if TYPE_CHECKING:
    from ..hub.repos import Repo
    from ..inference.service import (
        Inference,
    )  # the detached row Hub.open_repo hands out; only its attributes are read
    from .canonical import Names
    from .metrics import Counters
    from .spaces_proxy import Proxy

T = TypeVar("T")
P = ParamSpec("P")


@dataclass
class Ctx:
    """The domain, the settings, the URL signer and the byte counters: built once by app.create_app."""

    hub: Hub
    settings: Settings
    signer: Signer
    counters: Counters | None = None
    # The browser session's user (set when the pages are mounted): /resolve opens a private file for a
    # logged-in visitor (api/files.py).
    browser_who: Callable[[Request], Awaitable[Principal | None]] | None = None
    # The Inference API's way to the host's worker pool (api/inference.py builds it on first use).
    inference: Inference | None = None
    # The reverse proxy to running Spaces' apps (api/spaces.py builds it on first use).
    space_proxy: Proxy | None = None
    # The canonical repos' names the router reads (http/canonical.py; set by routes.build).
    canonical: Names | None = None

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Blocking work (database, git, files) off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def pump(
        self, request: Request, write: Callable[[bytes], object], piece: int = 1024 * 1024
    ) -> None:
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

    def check_room(self, request: Request) -> None:
        """507 before an upload's body is read when the data folder is below AGORA_MIN_FREE_BYTES."""
        bodies.check_room(request, self.settings.data, self.settings.min_free_bytes)

    async def who(self, request: Request) -> Principal | None:
        """The token's owner (Bearer, or Basic with the token as password); None for an anonymous request."""
        if credential(request) is None:  # anonymous: no thread hop, no database
            return None
        return await run_in_threadpool(principal, self.hub, request)

    async def repo(
        self, request: Request, rid: RepoId, write: bool = False, download: bool | str = False
    ) -> Repo:
        """The repo `rid` names if the caller may see it (and write it, if asked): else the domain's
        RepoNotFound / Unauthorized / Forbidden. The row is detached: read its attributes, never write them."""
        who = await self.who(request)
        return await self.run(self.hub.open_repo, who, rid, write, download)

    def base_url(self, request: Request) -> str:
        return wire.base_url(request, self.settings.public_url)
