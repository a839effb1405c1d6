"""Accounts in the browser: log in / out, sign up (when the admin allows it), tokens, new repos,
organizations and their members, user and organization pages."""

from __future__ import annotations

import functools
import ipaddress
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...config import Settings
from ...errors import BadRequest, Conflict, Forbidden
from ...hub import accounts, audit, avatars, commits, logins, profiles
from ...ids import CANONICAL, RepoId, check_name, parse_repo_type
from ..bodies import read_bounded
from . import session
from .base import Web, repo_path

NEW_KIND = {"new": "model", "new-dataset": "dataset", "new-space": "space"}
NO_OWNER = "(canonical)"  # the owner a site admin picks for a canonical repo (no namespace: `gpt2`)
NEW_TOKEN = "agora_new_token"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(spec: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip())


def _within(addr: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_ip(web: Web, request: Request) -> str:
    """The peer's address; behind a trusted proxy, the nearest X-Forwarded-For entry it did not add."""
    return request_ip(web.ctx.settings, request)


def request_ip(settings: Settings, request: Request) -> str:
    """`client_ip` for an API handler (it has the settings, not the pages' Web)."""
    proxies = _networks(settings.trusted_proxies)
    peer = request.client.host if request.client else ""
    if not proxies or not _within(peer, proxies):
        return peer
    for hop in reversed([h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]):
        if hop and not _within(hop, proxies):
            return hop
    return peer


def site(web: Web) -> dict[str, Any]:
    """The site settings an admin changes in the browser (data/site.json): whether sign-up is open."""
    try:
        data: dict[str, Any] = json.loads((web.ctx.settings.data / "site.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


def safe_next(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else "/"


def _start_session(web: Web, request: Request, url: str, secret: str) -> Response:
    """Redirect to `url` with the cookie of the browser session `secret`."""
    resp = web.redirect(url)
    session.set_cookie(resp, session.make_cookie(web.ctx.signer, secret), request.url.scheme == "https")
    return resp


async def _login_page(
    web: Web, request: Request, status: int, error: str, form: dict[str, str], retry: int = 0
) -> Response:
    page = await web.page(
        request,
        "login.html",
        status=status,
        error=error,
        next=form.get("next", "/"),
        signup=bool(site(web).get("signup")),
    )
    if retry:
        page.headers["Retry-After"] = str(retry)
    return page


async def login(web: Web, request: Request) -> Response:
    if request.method == "GET":
        return await web.page(
            request,
            "login.html",
            next=request.query_params.get("next", "/"),
            signup=bool(site(web).get("signup")),
        )
    form = await web.form(request)
    settings = web.ctx.settings
    result = await web.run(
        logins.log_in,
        web.hub,
        form.get("username", "").strip(),
        form.get("password", ""),
        client_ip(web, request),
        ip_max_failures=settings.login_ip_max_failures,
        user_max_failures=settings.login_max_failures,
        window=settings.login_window_seconds,
        ttl=session.TTL,
    )
    if result.outcome == "wait":
        wait = result.retry_after
        return await _login_page(
            web, request, 429, f"Too many failed log-ins: try again in {wait} seconds.", form, retry=wait
        )
    if result.outcome == "disabled":
        return await _login_page(web, request, 403, "This account is disabled: ask an administrator.", form)
    if result.outcome != "ok" or result.session is None:
        return await _login_page(web, request, 401, "Wrong user name or password.", form)
    return _start_session(web, request, safe_next(form.get("next")), result.session)


async def logout(web: Web, request: Request) -> Response:
    await web.form(request)
    sid = request.scope.get("agora_sid")
    if sid:
        await web.run(logins.log_out, web.hub, sid)
    resp = web.redirect("/")
    session.clear_cookie(resp)
    return resp


async def password(web: Web, request: Request) -> Response:
    """Change one's own password (the current one is required); every other session of the user ends."""
    who = await web.require_user(request)  # on a post: a browser session, never a token
    if request.method == "GET":
        return await web.page(request, "password.html")
    form = await web.form(request)
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return await web.page(request, "password.html", status=400, error="The two new passwords differ.")
    current, sid = form.get("current_password", ""), request.scope["agora_sid"]
    error = await web.run(logins.change_password, web.hub, who, current, new, keep_session=sid)
    if error:
        return await web.page(request, "password.html", status=400, error=error)
    return await web.page(request, "password.html", done=True)


async def join(web: Web, request: Request) -> Response:
    if not site(web).get("signup"):
        return await web.page(
            request,
            "message.html",
            status=403,
            title="Sign-up is closed",
            message="An administrator creates accounts on this Hub (agora user add NAME).",
        )
    if request.method == "GET":
        return await web.page(request, "join.html")
    form = await web.form(request)
    name, password = form.get("username", "").strip(), form.get("password", "")
    if len(password) < 8:
        return await web.page(
            request, "join.html", status=400, error="Use a password of at least 8 characters."
        )
    try:
        secret = await web.run(
            logins.sign_up, web.hub, name, password, form.get("email") or None, session.TTL
        )
    except (BadRequest, Conflict) as e:
        return await web.page(request, "join.html", status=400, error=e.message)
    return _start_session(web, request, "/", secret)


async def admin(web: Web, request: Request) -> Response:
    who = await web.require_user(request)
    if not who.is_admin:
        raise Forbidden("Only administrators can change site settings")
    if request.method == "POST":
        form = await web.form(request)
        data = site(web)
        data["signup"] = form.get("signup") == "on"
        (web.ctx.settings.data / "site.json").write_text(json.dumps(data))
        return web.redirect("/settings/site")
    return await web.page(request, "admin.html", site=site(web))


async def audit_log(web: Web, request: Request) -> Response:
    """The audit log, newest first: site admins only (others get the 404 page: nothing to see here)."""
    who = await web.require_user(request)
    if not who.is_admin:
        return await web.not_found(request)
    q = request.query_params
    actor = (q.get("actor") or "").strip() or None
    action = (q.get("action") or "").strip() or None
    try:
        limit = max(1, min(int(q.get("limit") or 200), 1000))
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    page = await web.page(
        request,
        "audit.html",
        entries=await web.run(audit.newest, web.hub, limit, actor, action),
        actor=actor or "",
        action=action or "",
        limit=limit,
    )
    page.headers["Cache-Control"] = "no-store"
    return page


async def tokens(web: Web, request: Request) -> Response:
    """Post/redirect/get: a new token travels to the next GET in a short-lived cookie bound to the user, shown
    once then cleared, so that reloading the page never creates a second token."""
    who = await web.require_user(request)
    if request.method == "POST":
        return await _change_tokens(web, request, who)
    exp, _, rest = request.cookies.get(NEW_TOKEN, "").partition(".")
    sig, _, secret = rest.partition(".")
    created = secret if web.ctx.signer.check(exp, sig, "new-token", str(who.user_id), secret) else None
    listing = await web.run(accounts.user_tokens, web.hub, who.name)
    page = await web.page(request, "tokens.html", tokens=listing, created=created)
    page.headers["Cache-Control"] = "no-store"
    if request.cookies.get(NEW_TOKEN):
        page.delete_cookie(NEW_TOKEN, path="/settings/tokens")
    return page


async def _change_tokens(web: Web, request: Request, who: accounts.Principal) -> Response:
    form = await web.form(request)
    if form.get("action") == "revoke":
        await web.run(accounts.end_token, web.hub, who.name, form.get("name", ""))
        return web.redirect("/settings/tokens")
    role = "write" if form.get("role") == "write" else "read"
    secret = await web.run(accounts.new_token, web.hub, who.name, role, form.get("name") or None)
    resp = web.redirect("/settings/tokens")
    if secret:
        exp, sig = web.ctx.signer.sign("new-token", str(who.user_id), secret, ttl=300)
        resp.set_cookie(
            NEW_TOKEN,
            f"{exp}.{sig}.{secret}",
            max_age=300,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/settings/tokens",
        )
    return resp


async def new_repo(web: Web, request: Request, kind: str) -> Response:
    who = await web.require_user(request)
    rtype = NEW_KIND[kind]
    if request.method == "GET":
        owners = await web.run(accounts.writable_namespaces, web.hub, who)
        return await web.page(request, "new_repo.html", rtype=rtype, kind=kind, owners=owners)
    form = await web.form(request)
    try:
        owner = form.get("owner") or who.name
        owner = CANONICAL if owner == NO_OWNER else owner  # a site admin's canonical repo (`gpt2`)
        rid = RepoId(parse_repo_type(rtype), owner, form.get("name", "").strip())
        repo = await web.run(
            commits.create_repo_with_readme,
            web.hub,
            who,
            rid,
            private=form.get("visibility") == "private",
            sdk=form.get("sdk") if rtype == "space" else None,
            license=form.get("license") or None,
            short_description=form.get("short_description", "").strip() or None,
        )
        if owner == CANONICAL and web.ctx.canonical is not None:
            web.ctx.canonical.invalidate()  # the router knows the new name at once
        return web.redirect(repo_path(repo))
    except (BadRequest, Conflict, Forbidden) as e:
        return await web.page(
            request,
            "new_repo.html",
            status=400,
            rtype=rtype,
            kind=kind,
            error=e.message,
            owners=await web.run(accounts.writable_namespaces, web.hub, who),
            form=form,
        )


async def new_org(web: Web, request: Request) -> Response:
    who = await web.require_user(request)
    if request.method == "GET":
        return await web.page(request, "new_org.html")
    form = await web.form(request)
    try:
        name = await web.run(
            accounts.new_org, web.hub, form.get("name", "").strip(), who.name, form.get("fullname", "")
        )
    except (BadRequest, Conflict) as e:
        return await web.page(request, "new_org.html", status=400, error=e.message)
    return web.redirect(f"/{name}")


async def members(web: Web, request: Request, org: str) -> Response:
    who = await web.require_user(request)
    if request.method == "POST":
        form = await web.form(request)
        role = None if form.get("action") == "remove" else form.get("role", "read")
        await web.run(accounts.change_member, web.hub, who, org, form.get("user", "").strip(), role)
        return web.redirect(f"/organizations/{org}/members")
    found = await web.run(accounts.org_members, web.hub, who, org)
    return await web.page(
        request, "members.html", org=found.org, members=found.members, is_admin=found.is_admin
    )


async def org_settings(web: Web, request: Request, org: str) -> Response:
    """An org's full name (this form) and avatar (PUT by app.js to org_avatar): its admins only."""
    who = await web.require_user(request)
    if request.method == "POST":
        form = await web.form(request)
        await web.run(avatars.set_fullname, web.hub, who, org, form.get("fullname", ""))
        return web.redirect(f"/organizations/{org}/settings")
    found = await web.run(accounts.org_members, web.hub, who, org)
    if not found.is_admin:
        raise Forbidden(f"Only an admin of {found.org.name!r} can change its settings")
    return await web.page(request, "org_settings.html", org=found.org, max_kib=avatars.MAX_BYTES // 1024)


async def org_avatar(web: Web, request: Request, org: str) -> Response:
    """PUT: the avatar's bytes as the body (at most avatars.MAX_BYTES, read bounded), with X-CSRF-Token."""
    who = await web.require_user(request)
    web.check_csrf_header(request)
    data = await read_bounded(request, avatars.MAX_BYTES, "The avatar")
    ctype = await web.run(avatars.set_avatar, web.hub, who, org, data)
    return JSONResponse({"contentType": ctype})


async def profile(web: Web, request: Request, name: str) -> Response:
    who = await web.who(request)
    check_name(name, "name")
    p = await web.run(profiles.profile, web.hub, who, name)
    return await web.page(
        request,
        "profile.html",
        account=p.account,
        repos=p.repos,
        orgs=p.orgs,
        collections=p.collections,
        can_write_here=p.can_write_here,
    )
