"""What every page handler shares: templates, who is logged in, CSRF, the 404 page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...db.models import Account, Repo
from ...hub import accounts
from ...hub.accounts import Principal
from ...hub.errors import Forbidden, HubError
from ...hub.ids import WEB_PREFIX
from .. import wire
from ..auth import principal as token_principal
from . import render, session

HERE = Path(__file__).parent
P = r"(?:(?P<p>datasets|spaces)/)?"
ID = r"(?P<ns>[^/]+)/(?P<name>[^/]+)"
TYPE_LABEL = {"model": "Models", "dataset": "Datasets", "space": "Spaces"}


def repo_path(repo: Repo) -> str:
    return f"/{WEB_PREFIX[repo.type]}{repo.namespace}/{repo.name}"  # type: ignore[index]


class Web:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.hub = ctx.hub
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(filesize=render.filesize, timeago=render.timeago, compact=render.compact,
                                task_label=render.task_label, seg=render.seg)
        self.env.globals.update(repo_path=repo_path, TYPE_LABEL=TYPE_LABEL, WEB_PREFIX=WEB_PREFIX)

    # ---- who --------------------------------------------------------------------------------------
    def _who(self, request: Request) -> Principal | None:
        uid = session.user_id_from(self.ctx.signer, request)
        if uid is not None:
            with self.hub.db.session() as s:
                user = s.get(Account, uid)
                if user is not None and user.kind == "user":
                    return accounts.session_principal(user)
        try:
            return token_principal(self.hub, request)
        except HubError:
            return None

    async def who(self, request: Request) -> Principal | None:
        if "agora_who" not in request.scope:
            request.scope["agora_who"] = await self.ctx.run(self._who, request)
        return request.scope["agora_who"]  # type: ignore[no-any-return]

    async def require_user(self, request: Request) -> Principal:
        who = await self.who(request)
        if who is None:
            raise LoginRequired()
        return who

    async def form(self, request: Request) -> dict[str, str]:
        """Parse a urlencoded form and check its CSRF token."""
        from urllib.parse import parse_qsl
        body = await request.body()
        if len(body) > 16 * 1024 * 1024:
            raise HubError("Form too large")
        data = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not session.csrf_ok(self.ctx.signer, request, data.get("csrf") or request.headers.get("x-csrf-token")):
            raise Forbidden("The form expired or came from another site (CSRF check failed): reload the page")
        return data

    def check_csrf_header(self, request: Request) -> None:
        if not session.csrf_ok(self.ctx.signer, request, request.headers.get("x-csrf-token")):
            raise Forbidden("CSRF check failed: reload the page")

    # ---- rendering --------------------------------------------------------------------------------
    async def page(self, request: Request, template: str, status: int = 200, **data: Any) -> HTMLResponse:
        who = await self.who(request)
        tpl = self.env.get_template(template)
        body = tpl.render(request=request, who=who, csrf=session.csrf_token(self.ctx.signer, request),
                          path=request.url.path, **data)
        # CSP, nosniff, Referrer-Policy, X-Frame-Options: added to every response by http/headers.py
        return HTMLResponse(body, status_code=status)

    async def not_found(self, request: Request, message: str = "Sorry, we can't find the page you are looking for.") -> Response:
        return await self.page(request, "404.html", status=404, message=message)

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    async def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.ctx.run(fn, *args, **kwargs)

    def base_url(self, request: Request) -> str:
        return wire.base_url(request, self.ctx.settings.public_url)


class LoginRequired(Exception):
    pass
