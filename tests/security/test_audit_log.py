"""The audit log: every listed admin and account action leaves one entry, whatever the surface (API, web, CLI);
site admins read it at /settings/audit and with `agora audit`; nobody else sees it; a refused action leaves none.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from ..conftest import agora

ADMIN, USER, MEMBER = "auditadmin", "audituser", "auditmember"
ORG = "auditorg"


def _login(url: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=60, headers={"origin": url})
    page = c.get("/login")
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m, page.text[:300]
    r = c.post(
        "/login", data={"username": user, "password": f"{user}-password", "csrf": m.group(1), "next": "/"}
    )
    assert r.status_code in (302, 303), r.text[:300]
    return c


def _post_form(c: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    got = c.get(page)
    m = re.search(r'name="csrf" value="([^"]+)"', got.text)
    assert m, got.text[:300]
    return c.post(action, data={**data, "csrf": m.group(1)})


def _entries(server: Any, *args: str) -> list[list[str]]:
    out = agora("audit", "--limit", "1000", *args, data=server.data)
    return [line.split("\t") for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def people(server: Any) -> dict[str, str]:
    agora("user", "add", ADMIN, "--admin", "--password-stdin", data=server.data, stdin=f"{ADMIN}-password\n")
    for u in (USER, MEMBER):
        agora("user", "add", u, "--password-stdin", data=server.data, stdin=f"{u}-password\n")
    return {
        "user": agora("token", "create", USER, "--role", "write", "--name", "audit-main", data=server.data),
        "member": agora("token", "create", MEMBER, "--role", "write", data=server.data),
    }


def test_each_action_is_recorded(server: Any, people: dict[str, str]) -> None:
    h = {"authorization": f"Bearer {people['user']}"}
    # Tokens (CLI, then web).
    agora("token", "create", USER, "--role", "read", "--name", "audit-ro", data=server.data)
    agora("token", "revoke", USER, "audit-ro", data=server.data)
    web = _login(server.url, USER)
    assert _post_form(
        web, "/settings/tokens", "/settings/tokens", {"name": "audit-web", "role": "read"}
    ).status_code in (302, 303)
    # An organization and its members (web).
    assert _post_form(
        web, "/organizations/new", "/organizations/new", {"name": ORG, "fullname": ""}
    ).status_code in (302, 303)
    members = f"/organizations/{ORG}/members"
    for data in (
        {"user": MEMBER, "role": "write"},
        {"user": MEMBER, "role": "read"},
        {"user": MEMBER, "action": "remove"},
    ):
        r = _post_form(web, members, members, data)
        assert r.status_code in (302, 303), r.text[:300]
    # An org keeps one admin: removing or demoting the last one is refused, and not recorded.
    r = _post_form(web, members, members, {"user": USER, "action": "remove"})
    assert r.status_code == 409, r.text[:300]
    # Repos (API): create, visibility, gating, move, delete.
    assert (
        httpx.post(
            f"{server.url}/api/repos/create", headers=h, json={"name": "audited", "organization": ORG}
        ).status_code
        == 200
    )
    assert (
        httpx.put(
            f"{server.url}/api/models/{ORG}/audited/settings", headers=h, json={"private": True}
        ).status_code
        == 200
    )
    assert (
        httpx.put(
            f"{server.url}/api/models/{ORG}/audited/settings", headers=h, json={"gated": "auto"}
        ).status_code
        == 200
    )
    assert (
        httpx.post(
            f"{server.url}/api/repos/move",
            headers=h,
            json={"fromRepo": f"{ORG}/audited", "toRepo": f"{ORG}/audited-2"},
        ).status_code
        == 200
    )
    assert (
        httpx.request(
            "DELETE", f"{server.url}/api/repos/delete", headers=h, json={"name": f"{ORG}/audited-2"}
        ).status_code
        == 200
    )

    got = [(e[1], e[2], e[3], e[4:]) for e in _entries(server, "--actor", USER)]
    actions = [a for _, a, _, _ in got]
    for action in (
        "token.create",
        "token.revoke",
        "org.create",
        "org.member.add",
        "org.member.role",
        "org.member.remove",
        "repo.visibility",
        "repo.gated",
        "repo.move",
        "repo.delete",
    ):
        assert action in actions, (action, got)
    assert actions.count("token.create") >= 2  # CLI and web
    assert ("audituser", "repo.move", f"model:{ORG}/audited", ["to=auditorg/audited-2"]) in got
    assert ("audituser", "org.member.role", f"{ORG}/{MEMBER}", ["from=write to=read"]) in got
    assert ("audituser", "repo.delete", f"model:{ORG}/audited-2", ["private=True"]) in got
    assert not any(a == "org.member.remove" and t == f"{ORG}/{USER}" for _, a, t, _ in got)
    # --action filters, --limit bounds.
    assert {e[2] for e in _entries(server, "--action", "repo.move")} == {"repo.move"}
    assert len(agora("audit", "--limit", "2", data=server.data).splitlines()) == 2


def test_refused_actions_leave_no_entry(server: Any, people: dict[str, str]) -> None:
    h = {"authorization": f"Bearer {people['member']}"}
    before = len(_entries(server, "--actor", MEMBER))
    r = httpx.post(
        f"{server.url}/api/repos/move", headers=h, json={"fromRepo": "alice/nope", "toRepo": f"{MEMBER}/x"}
    )
    assert r.status_code == 404
    r = httpx.put(f"{server.url}/api/models/alice/nope/settings", headers=h, json={"private": False})
    assert r.status_code == 404
    assert len(_entries(server, "--actor", MEMBER)) == before


def test_only_site_admins_read_it(server: Any, people: dict[str, str]) -> None:
    admin = _login(server.url, ADMIN)
    page = admin.get("/settings/audit")
    assert page.status_code == 200, page.text[:300]
    assert "token.create" in page.text and USER in page.text
    assert "Cache-Control" in page.headers and "no-store" in page.headers["Cache-Control"]
    filtered = admin.get("/settings/audit", params={"actor": USER, "action": "repo.move"})
    assert filtered.status_code == 200 and 'data-action="repo.move"' in filtered.text
    assert 'data-action="token.create"' not in filtered.text
    assert 'href="/settings/audit"' in admin.get("/settings/site").text  # linked from the admin settings

    user = _login(server.url, USER)
    r = user.get("/settings/audit")
    assert r.status_code == 404 and "token.create" not in r.text
    anon = httpx.get(f"{server.url}/settings/audit", follow_redirects=False)
    assert anon.status_code in (302, 303, 401, 404) and "token.create" not in anon.text


def test_logins_passwords_and_disabling_are_recorded(server: Any, people: dict[str, str]) -> None:
    """Log-ins (good, wrong password, unknown name, disabled user), password changes and disable/enable."""
    name = "auditlogin"
    agora("user", "add", name, "--password-stdin", data=server.data, stdin=f"{name}-password\n")
    _login(server.url, name)
    with httpx.Client(base_url=server.url, timeout=60, headers={"origin": server.url}) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        for user in (name, "auditnobody"):
            r = c.post("/login", data={"username": user, "password": "not-the-password", "csrf": csrf})
            assert r.status_code == 401
    agora("user", "set-password", name, "--password-stdin", data=server.data, stdin="a-new-password\n")
    agora("user", "disable", name, data=server.data)
    with httpx.Client(base_url=server.url, timeout=60, headers={"origin": server.url}) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        assert (
            c.post("/login", data={"username": name, "password": "a-new-password", "csrf": csrf}).status_code
            == 403
        )
    agora("user", "enable", name, data=server.data)
    got = [(e[1], e[2], e[3]) for e in _entries(server) if name in (e[1], e[3]) or e[1] == "auditnobody"]
    for want in [
        (name, "login", name),
        (name, "login.failed", name),
        ("auditnobody", "login.failed", "auditnobody"),
        ("-", "user.password", name),
        ("-", "user.disable", name),
        ("-", "user.enable", name),
    ]:
        assert want in got, (want, got)
    ips = [e for e in _entries(server, "--action", "login") if e[1] == name]
    assert ips and ips[0][4] == "ip=127.0.0.1"
