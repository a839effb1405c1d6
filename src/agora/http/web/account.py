"""Accounts in the browser: log in / out, sign up (when the admin allows it), tokens, new repos,
organizations and their members, user and organization pages."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from ...db.models import Account, Membership, Repo
from ...errors import BadRequest, Conflict, Forbidden, NotFound
from ...hub import accounts, audit, commits, index, throttle
from ...hub import collections as colls
from ...ids import RepoId, check_name, parse_repo_type
from . import session
from .base import Web, repo_path

NEW_KIND = {"new": "model", "new-dataset": "dataset", "new-space": "space"}
NEW_TOKEN = "agora_new_token"


def _networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()]


def _within(addr: str, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def mount(router: Any, web: Web) -> None:
    hub = web.hub
    site_file = web.ctx.settings.data / "site.json"

    def site() -> dict[str, Any]:
        try:
            return json.loads(site_file.read_text())
        except (OSError, ValueError):
            return {}

    def safe_next(url: str | None) -> str:
        return url if url and url.startswith("/") and not url.startswith("//") else "/"

    settings = web.ctx.settings
    proxies = _networks(settings.trusted_proxies)

    def client_ip(request: Request) -> str:
        """The peer's address; behind a trusted proxy, the nearest X-Forwarded-For entry it did not add."""
        peer = request.client.host if request.client else ""
        if not proxies or not _within(peer, proxies):
            return peer
        for hop in reversed([h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]):
            if hop and not _within(hop, proxies):
                return hop
        return peer

    async def login_page(
        request: Request, status: int, error: str, form: dict[str, str], retry: int = 0
    ) -> Response:
        page = await web.page(
            request,
            "login.html",
            status=status,
            error=error,
            next=form.get("next", "/"),
            signup=bool(site().get("signup")),
        )
        if retry:
            page.headers["Retry-After"] = str(retry)
        return page

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return await web.page(
                request,
                "login.html",
                next=request.query_params.get("next", "/"),
                signup=bool(site().get("signup")),
            )
        form = await web.form(request)
        name, password = form.get("username", "").strip(), form.get("password", "")
        ip = client_ip(request)
        keys = [
            (f"ip:{ip}", settings.login_ip_max_failures),
            (f"user:{name.lower()[:150]}", settings.login_max_failures),
        ]
        window = settings.login_window_seconds

        def attempt() -> tuple[str, Any]:
            with hub.db.session() as s:
                wait = throttle.retry_after(s, keys, window)
            if wait:
                return "wait", wait
            with hub.db.session() as s:
                user = accounts.check_login(s, name, password)  # the same argon2 work for a missing user
                if user is None:
                    throttle.record_failure(s, [k for k, _ in keys], window)
                    audit.login(s, name[:96], ip, ok=False)
                    return "wrong", None
                if user.disabled:
                    audit.login(s, user, ip, ok=False, detail={"reason": "disabled"})
                    return "disabled", None
                throttle.clear(s, keys[1][0])
                audit.login(s, user, ip)
                return "ok", accounts.create_session(s, user.id, session.TTL)

        outcome, value = await web.run(attempt)
        if outcome == "wait":
            return await login_page(
                request, 429, f"Too many failed log-ins: try again in {value} seconds.", form, retry=value
            )
        if outcome == "disabled":
            return await login_page(request, 403, "This account is disabled: ask an administrator.", form)
        if outcome != "ok":
            return await login_page(request, 401, "Wrong user name or password.", form)
        resp = web.redirect(safe_next(form.get("next")))
        session.set_cookie(resp, session.make_cookie(web.ctx.signer, value), request.url.scheme == "https")
        return resp

    async def logout(request: Request) -> Response:
        await web.form(request)
        sid = request.scope.get("agora_sid")
        if sid:

            def end() -> None:
                with hub.db.session() as s:
                    accounts.revoke_session(s, sid)

            await web.run(end)
        resp = web.redirect("/")
        session.clear_cookie(resp)
        return resp

    async def password(request: Request) -> Response:
        """Change one's own password (the current one is required); every other session of the user ends."""
        who = await web.require_user(request)  # on a post: a browser session, never a token
        if request.method == "GET":
            return await web.page(request, "password.html")
        form = await web.form(request)
        new = form.get("new_password", "")
        if new != form.get("confirm_password", ""):
            return await web.page(request, "password.html", status=400, error="The two new passwords differ.")
        sid = request.scope["agora_sid"]

        def change() -> str | None:
            with hub.db.session() as s:
                if accounts.check_login(s, who.name, form.get("current_password", "")) is None:
                    return "The current password is wrong."
                try:
                    accounts.set_password(s, who.name, new, keep_session=sid, actor=who)
                except BadRequest as e:
                    return e.message
            return None

        error = await web.run(change)
        if error:
            return await web.page(request, "password.html", status=400, error=error)
        return await web.page(request, "password.html", done=True)

    async def join(request: Request) -> Response:
        if not site().get("signup"):
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

        def do() -> int:
            with hub.db.session() as s:
                return accounts.create_user(s, name, password=password, email=form.get("email") or None).id

        try:
            uid = await web.run(do)
        except (BadRequest, Conflict) as e:
            return await web.page(request, "join.html", status=400, error=e.message)

        def start() -> str:
            with hub.db.session() as s:
                return accounts.create_session(s, uid, session.TTL)

        resp = web.redirect("/")
        session.set_cookie(
            resp, session.make_cookie(web.ctx.signer, await web.run(start)), request.url.scheme == "https"
        )
        return resp

    async def admin(request: Request) -> Response:
        who = await web.require_user(request)
        if not who.is_admin:
            raise Forbidden("Only administrators can change site settings")
        if request.method == "POST":
            form = await web.form(request)
            data = site()
            data["signup"] = form.get("signup") == "on"
            site_file.write_text(json.dumps(data))
            return web.redirect("/settings/site")
        return await web.page(request, "admin.html", site=site())

    async def audit_log(request: Request) -> Response:
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

        def load() -> list[Any]:
            with hub.db.session() as s:
                rows = audit.entries(s, limit=limit, actor=actor, action=action)
                s.expunge_all()
                return rows

        page = await web.page(
            request,
            "audit.html",
            entries=await web.run(load),
            actor=actor or "",
            action=action or "",
            limit=limit,
        )
        page.headers["Cache-Control"] = "no-store"
        return page

    async def tokens(request: Request) -> Response:
        """Post/redirect/get: a new token travels to the next GET in a short-lived cookie bound to the user, shown
        once then cleared, so that reloading the page never creates a second token."""
        who = await web.require_user(request)
        if request.method == "POST":
            form = await web.form(request)

            def change() -> str | None:
                with hub.db.session() as s:
                    if form.get("action") == "revoke":
                        accounts.revoke_token(s, who.name, form.get("name", ""))
                        return None
                    role = "write" if form.get("role") == "write" else "read"
                    return accounts.create_token(s, who.name, role, form.get("name") or None)

            secret = await web.run(change)
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
        exp, _, rest = request.cookies.get(NEW_TOKEN, "").partition(".")
        sig, _, secret = rest.partition(".")
        created = secret if web.ctx.signer.check(exp, sig, "new-token", str(who.user_id), secret) else None

        def listing() -> list[Any]:
            with hub.db.session() as s:
                return accounts.list_tokens(s, who.name)

        page = await web.page(request, "tokens.html", tokens=await web.run(listing), created=created)
        page.headers["Cache-Control"] = "no-store"
        if request.cookies.get(NEW_TOKEN):
            page.delete_cookie(NEW_TOKEN, path="/settings/tokens")
        return page

    def namespaces_of(who: Any) -> list[str]:
        with hub.db.session() as s:
            orgs = [o.name for o, role in accounts.user_orgs(s, who.user_id) if role in ("write", "admin")]
        return [who.name, *orgs]

    async def new_repo(request: Request, kind: str) -> Response:
        who = await web.require_user(request)
        rtype = NEW_KIND[kind]
        if request.method == "GET":
            return await web.page(
                request, "new_repo.html", rtype=rtype, kind=kind, owners=await web.run(namespaces_of, who)
            )
        form = await web.form(request)

        def do() -> str:
            rid = RepoId(parse_repo_type(rtype), form.get("owner") or who.name, form.get("name", "").strip())
            repo = commits.create_repo_with_readme(
                hub,
                who,
                rid,
                private=form.get("visibility") == "private",
                sdk=form.get("sdk") if rtype == "space" else None,
                license=form.get("license"),
            )
            return repo_path(repo)

        try:
            return web.redirect(await web.run(do))
        except (BadRequest, Conflict, Forbidden) as e:
            return await web.page(
                request,
                "new_repo.html",
                status=400,
                rtype=rtype,
                kind=kind,
                error=e.message,
                owners=await web.run(namespaces_of, who),
                form=form,
            )

    async def new_org(request: Request) -> Response:
        who = await web.require_user(request)
        if request.method == "GET":
            return await web.page(request, "new_org.html")
        form = await web.form(request)

        def do() -> str:
            with hub.db.session() as s:
                return accounts.create_org(
                    s, form.get("name", "").strip(), who.name, form.get("fullname", "")
                ).name

        try:
            return web.redirect(f"/{await web.run(do)}")
        except (BadRequest, Conflict) as e:
            return await web.page(request, "new_org.html", status=400, error=e.message)

    async def members(request: Request, org: str) -> Response:
        who = await web.require_user(request)
        if request.method == "POST":
            form = await web.form(request)

            def change() -> None:
                with hub.db.session() as s:
                    if not accounts.is_namespace_admin(s, who, org):
                        raise Forbidden(f"Only admins of {org} manage its members")
                    if form.get("action") == "remove":
                        accounts.remove_member(s, org, form.get("user", "").strip(), actor=who)
                    else:
                        accounts.set_member(
                            s, org, form.get("user", "").strip(), form.get("role", "read"), actor=who
                        )

            await web.run(change)
            return web.redirect(f"/organizations/{org}/members")

        def load() -> dict[str, Any]:
            with hub.db.session() as s:
                o = accounts.get_account(s, org)
                if o is None or o.kind != "org":
                    raise NotFound(f"No organization {org}")
                rows = s.execute(
                    select(Account, Membership.role)
                    .join(Membership, Membership.user_id == Account.id)
                    .where(Membership.org_id == o.id)
                    .order_by(Account.name)
                ).all()
                return {"org": o, "members": rows, "is_admin": accounts.is_namespace_admin(s, who, org)}

        return await web.page(request, "members.html", **await web.run(load))

    async def profile(request: Request, name: str) -> Response:
        who = await web.who(request)
        check_name(name, "name")

        def load() -> dict[str, Any]:
            with hub.db.session() as s:
                acc = accounts.get_account(s, name)
                if acc is None:
                    raise NotFound(f"No user or organization {name}")
                repos: dict[str, list[Repo]] = {}
                for t in ("model", "dataset", "space"):
                    rows, _ = index.search(s, who, index.Query(t, [], author=name, sort="lastModified"), 100)
                    repos[t] = rows
                orgs = [o for o, _ in accounts.user_orgs(s, acc.id)] if acc.kind == "user" else []
                owned = [
                    (c, colls.slug_of(c), len(colls.items(s, who, c))) for c in colls.owned_by(s, who, name)
                ]
                return {
                    "account": acc,
                    "repos": repos,
                    "orgs": orgs,
                    "collections": owned,
                    "can_write_here": accounts.can_write_namespace(s, who, name),
                }

        return await web.page(request, "profile.html", **await web.run(load))

    router.add("GET POST", "/login", login)
    router.add("POST", "/logout", logout)
    router.add("GET POST", "/join", join)
    router.add("GET POST", "/settings/site", admin)
    router.add("GET POST", "/settings/tokens", tokens)
    router.add("GET POST", "/settings/password", password)
    router.add("GET", "/settings/audit", audit_log)
    router.add("GET POST", r"/(?P<kind>new|new-dataset|new-space)", new_repo)
    router.add("GET POST", "/organizations/new", new_org)
    router.add("GET POST", r"/organizations/(?P<org>[^/]+)/members", members)
    router.add("GET", r"/(?P<name>[^/]+)", profile)
