"""What every page handler shares: templates, who is logged in, CSRF, the 404 page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import quote, unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ...errors import Forbidden, HubError
from ...hub import accounts, discussions, logins, spaces, tagnames
from ...hub.accounts import Principal
from ...hub.repos import Hub, repo_spelling
from ...ids import FROM_PLURAL, RepoId, repo_full, repo_web_path
from .. import wire
from ..auth import principal as token_principal
from ..bodies import read_bounded
from ..context import Ctx
from ..routing import request_id
from . import render, session

if TYPE_CHECKING:
    from ...hub.repos import Repo  # the detached row Hub.open_repo hands out; only its attributes are read

PS = ParamSpec("PS")
T = TypeVar("T")
HERE = Path(__file__).parent
P = r"(?:(?P<p>datasets|spaces)/)?"
ID = r"(?P<ns>[^/]*)/(?P<name>[^/]+)"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
TYPE_LABEL = {"model": "Models", "dataset": "Datasets", "space": "Spaces"}


def rid_of(p: str | None, ns: str, name: str) -> RepoId:
    """The repo id of a page address: /{ns}/{name} (a model), /datasets/... or /spaces/... (`p`)."""
    return RepoId(FROM_PLURAL[p] if p else "model", ns, name)


def page_param(request: Request, first: int, last: int = 100_000) -> int:
    """The page number `?p=` (from `first` to `last`), or `first` when it is not one ("abc", "²", 5,000 digits)."""
    try:
        n = int(request.query_params.get("p") or first)
    except ValueError:
        return first
    return n if first <= n <= last else first


def repo_path(repo: Repo) -> str:
    return "/" + repo_web_path(repo.type, repo.namespace, repo.name)


def environment() -> Environment:
    """The pages' Jinja environment: the templates folder, autoescape, and the filters and globals they use."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        filesize=render.filesize,
        timeago=render.timeago,
        timeago_iso=render.timeago_iso,
        compact=render.compact,
        task_label=tagnames.task_name,
        tag_label=tagnames.label,  # tags as people read them: hub/tagnames.py, the one place
        value_label=lambda value, group: tagnames.value_name(group, value),
        tag_heading=tagnames.heading,
        seg=render.seg,
        plural=render.plural,  # "1 file", "2 files" (issue 18, first steps and details)
    )
    env.globals["icon"] = render.icon  # the SVG sprite's icons: {{ icon("copy") }}
    env.globals.update(repo_path=repo_path, TYPE_LABEL=TYPE_LABEL, space_look=spaces.look)
    env.filters["repo_id"] = lambda r: repo_full(r.namespace, r.name)  # `gpt2` for a canonical repo
    return env


class Web:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.hub: Hub = ctx.hub
        self.env = environment()

    # ---- who --------------------------------------------------------------------------------------
    def _who(self, request: Request) -> Principal | None:
        """The session cookie's user; else, for GET/HEAD only, the token's. A token never drives a web form:
        posts are the session's alone (a read token must not mint a write token through /settings/tokens)."""
        sid = session.session_id_from(self.ctx.signer, request)
        if sid is not None:
            who = logins.browser_principal(self.hub, sid)
            if who is not None:
                request.scope["agora_sid"] = sid  # the CSRF token is bound to it
                return who
        if request.method not in SAFE_METHODS:
            return None
        try:
            return token_principal(self.hub, request)
        except HubError:
            return None

    async def who(self, request: Request) -> Principal | None:
        if "agora_who" not in request.scope:
            request.scope["agora_who"] = await self.ctx.run(self._who, request)
        return request.scope["agora_who"]

    async def repo(self, request: Request, rid: RepoId, write: bool = False) -> Repo:
        """The repo if the visitor may see it (and write it, if asked): Hub.open_repo for the browser's user."""
        who = await self.who(request)
        return await self.ctx.run(self.hub.open_repo, who, rid, write)

    async def require_user(self, request: Request) -> Principal:
        who = await self.who(request)
        if who is None:
            if request.method not in SAFE_METHODS and request.headers.get("authorization"):
                raise Forbidden("Web forms need a browser session (log in); tokens work with the API only")
            raise LoginRequired()
        if request.method not in SAFE_METHODS and not who.can_write_at_all:
            raise Forbidden("This action needs a write-capable identity")
        return who

    def _check_post(self, request: Request) -> None:
        """Every state-changing web request: refused when Origin (or Referer) names another site."""
        if not session.same_origin(request, self.ctx.settings.public_url):
            raise Forbidden("This form was posted from another site: reload the page and try again")

    async def form(self, request: Request, limit: int | None = None) -> dict[str, str]:
        """Parse a urlencoded form (at most `limit` bytes, AGORA_MAX_FORM_BYTES by default) and check its
        CSRF token."""
        from urllib.parse import parse_qsl

        await self.who(request)  # resolves the session, which the CSRF token is bound to
        self._check_post(request)
        body = await read_bounded(request, limit or self.ctx.settings.max_form_bytes, "Form")
        data = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if not session.csrf_ok(
            self.ctx.signer, request, data.get("csrf") or request.headers.get("x-csrf-token")
        ):
            raise Forbidden("The form expired or came from another site (CSRF check failed): reload the page")
        return data

    def check_csrf_header(self, request: Request) -> None:
        """For fetch() calls; the caller has resolved who() first (require_user), as the token is bound to it."""
        self._check_post(request)
        if not session.csrf_ok(self.ctx.signer, request, request.headers.get("x-csrf-token")):
            raise Forbidden("CSRF check failed: reload the page")

    # ---- canonical names ---------------------------------------------------------------------------
    async def canonical_path(self, request: Request, params: dict[str, Any]) -> str | None:
        """Where a page addressed by another case of a repo id (/ALICE/PM) or of a user or org name
        (/ALICE) lives: the same address with the stored spelling, or None. Only for what `who` may see
        (otherwise the page's own 404 answers, with no hint)."""
        ns, name = params.get("ns"), params.get("name")
        if not isinstance(name, str) or (ns is None and set(params) != {"name"}):
            return None
        raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1").split("?", 1)[0]
        parts = raw.split("/")  # "", [datasets|spaces,] ns, name, rest...
        at, rtype = 1, "model"
        if (
            ns is not None
            and len(parts) > 3
            and parts[1] in ("datasets", "spaces")
            and unquote(parts[2]) == ns
        ):
            at, rtype = 2, FROM_PLURAL[parts[1]]
        who = await self.who(request)
        found: tuple[str, ...] | None
        if ns is None:
            spelt = await self.ctx.run(accounts.account_spelling, self.hub, name)
            found = (spelt,) if spelt is not None else None
        else:
            rid = RepoId(rtype, ns, name)  # type: ignore[arg-type]
            found = await self.ctx.run(repo_spelling, self.hub, who, rid)
        if found is None:
            return None
        parts[at : at + len(found)] = [quote(x, safe="") for x in found]
        query = request.url.query
        return "/".join(parts) + (f"?{query}" if query else "")

    # ---- rendering --------------------------------------------------------------------------------
    async def page(self, request: Request, template: str, status: int = 200, **data: Any) -> HTMLResponse:
        who = await self.who(request)
        repo: Repo | None = data.get("repo")
        if repo is not None and "can_admin" not in data:  # a repo's page: its Settings tab
            data["can_admin"] = await self.ctx.run(accounts.may_admin, self.hub, who, repo)
        if repo is not None and "community_count" not in data:  # the Community tab's count of open threads
            data["community_count"] = await self.ctx.run(discussions.open_count, self.hub, repo.id)
        tpl = self.env.get_template(template)
        body = tpl.render(
            request=request,
            who=who,
            csrf=session.csrf_token(self.ctx.signer, request),
            path=request.url.path,
            request_id=request_id.get() if status >= 400 else None,  # to quote when reporting the error
            **data,
        )
        # CSP, nosniff, Referrer-Policy, X-Frame-Options: added to every response by http/headers.py
        response = HTMLResponse(body, status_code=status)
        session.remember_csrf(request, response)  # a first-time visitor's CSRF cookie (login CSRF)
        return response

    async def not_found(
        self, request: Request, message: str = "Sorry, we can't find the page you are looking for."
    ) -> Response:
        return await self.page(request, "404.html", status=404, message=message)

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    async def run(self, fn: Callable[PS, T], *args: PS.args, **kwargs: PS.kwargs) -> T:
        return await self.ctx.run(fn, *args, **kwargs)

    def base_url(self, request: Request) -> str:
        return wire.base_url(request, self.ctx.settings.public_url)

    async def fallback(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What no route matched: the 404 page for a browser, the Hub's JSON error for a client."""
        request = Request(scope, receive)
        if "text/html" in request.headers.get("accept", ""):
            response = await self.not_found(request)
        else:
            response = wire.error(404, "NotFound", f"Not found: {request.url.path}")
        await response(scope, receive, send)


class LoginRequired(Exception):
    pass
