"""The access matrix: every principal x every surface x private repos of all three types, owned by a user and by
an organization, through real HTTP (httpx, git) against the live server.

Roles (the Hub's): an org `read` member reads private repos; `write` pushes, creates branches/tags, merges;
`admin` changes settings and visibility, moves, renames and deletes. A user is the admin of their own
namespace. Token roles: a `read` token never changes anything; a `write` token acts with the user's roles.

What is expected:
- who may not read a repo gets exactly what a nonexistent repo gets (status, X-Error-Code, message shape):
  404 RepoNotFound (401 for a revoked token, and for anonymous LFS), nothing that tells them it exists;
- who may read but not do: 403 (X-Error-Code Forbidden on the API);
- who may do: success.

The tables are the test: a new surface is one row of SURFACES (a request against one repo) or of LISTINGS
(a listing that must not reveal the repo). Principals are the rows of PRINCIPALS.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from ..conftest import agora

P = "mx"  # everything here is prefixed: the module shares the session server with other tests
OWNER, OTHER, OREAD, OWRITE, OADMIN, NONMEMBER = (
    f"{P}owner",
    f"{P}other",
    f"{P}oread",
    f"{P}owrite",
    f"{P}oadmin",
    f"{P}nonmember",
)
ORG = f"{P}org"
TYPES = ("model", "dataset", "space")
API = {"model": "models", "dataset": "datasets", "space": "spaces"}
WEB = {"model": "", "dataset": "datasets/", "space": "spaces/"}
HELLO = b"secret hello from a private repo\n"
LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}


# ---- principals -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    key: str
    user: str | None  # whose token / session; None = anonymous
    token_role: str = "write"  # "read" | "write" | "revoked"
    user_level: str = "none"  # the role over OWNER's namespace
    org_level: str = "none"  # the role over ORG

    def level(self, owner: str) -> str:
        if self.token_role == "revoked":
            return "none"
        return self.user_level if owner == OWNER else self.org_level

    @property
    def read_only(self) -> bool:
        return self.token_role == "read"


PRINCIPALS = [
    Principal("anonymous", None),
    Principal("other-user", OTHER),
    Principal("read-token", OWNER, "read", user_level="read"),  # the owner's own read token
    Principal("write-token", OWNER, "write", user_level="admin"),
    Principal("revoked-token", OWNER, "revoked"),
    Principal("org-read", OREAD, org_level="read"),
    Principal("org-write", OWRITE, org_level="write"),
    Principal("org-admin", OADMIN, org_level="admin"),
    Principal("non-member", NONMEMBER),
]
PRINCIPAL_IDS = [p.key for p in PRINCIPALS]


@dataclass
class Repo:
    type: str
    namespace: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def api(self) -> str:
        return f"/api/{API[self.type]}/{self.id}"

    @property
    def web(self) -> str:
        return f"/{WEB[self.type]}{self.id}"

    def renamed(self, namespace: str, name: str) -> Repo:
        return Repo(self.type, namespace, name)


@dataclass
class World:
    url: str
    data: Any
    tokens: dict[str, str]  # principal key -> token ("" for anonymous)
    admin_tokens: dict[str, str]  # namespace -> a write token of its admin
    repos: list[Repo]
    cookies: dict[str, httpx.Cookies] = field(default_factory=dict)  # user -> logged-in session


@dataclass
class Answer:
    """What a surface answered: enough to compare a denial with a nonexistent repo's."""

    status: int
    code: str | None
    message: str
    body: str

    @classmethod
    def of(cls, r: httpx.Response) -> Answer:
        return cls(r.status_code, r.headers.get("X-Error-Code"), r.headers.get("X-Error-Message", ""), r.text)

    def shape(self, repo: Repo) -> tuple[int, str | None, str]:
        msg = self.message.replace(repo.id, "<ID>").replace(quote(repo.id, safe=""), "<ID>")
        return self.status, self.code, msg


def _h(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


class Client:
    def __init__(self, w: World, p: Principal) -> None:
        self.w, self.p, self.token = w, p, w.tokens[p.key]

    def req(self, method: str, path: str, **kw: Any) -> Answer:
        headers = {**kw.pop("headers", {}), **_h(self.token)}
        return Answer.of(httpx.request(method, self.w.url + path, headers=headers, timeout=60, **kw))

    def page(self, path: str) -> Answer:
        """A UI page, through the principal's browser session (a token principal's user logged in), never a
        token: only full-rights identities use the UI. Read-only and revoked tokens have no session."""
        cookies = (
            self.w.cookies.get(self.p.user or "", httpx.Cookies()) if self.p.token_role == "write" else None
        )
        return Answer.of(httpx.get(self.w.url + path, cookies=cookies, timeout=60, follow_redirects=False))


# ---- surfaces: one request (or a do-and-undo pair) against one repo ---------------------------------------
Act = Callable[[Client, Repo], Answer]


def _ndjson(*lines: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps(x) for x in lines).encode()


def _commit(c: Client, r: Repo) -> Answer:
    body = _ndjson(
        {"key": "header", "value": {"summary": f"by {c.p.key}", "description": ""}},
        {"key": "file", "value": {"path": f"by-{c.p.key}.txt", "content": "aGk=", "encoding": "base64"}},
    )
    return c.req(
        "POST", f"{r.api}/commit/main", content=body, headers={"content-type": "application/x-ndjson"}
    )


def _lfs(op: str) -> Act:
    def act(c: Client, r: Repo) -> Answer:
        body = {
            "operation": op,
            "transfers": ["basic"],
            "hash_algo": "sha256",
            "ref": {"name": "main"},
            "objects": [{"oid": "ab" * 32, "size": 10}],
        }
        return c.req(
            "POST",
            f"{r.web}.git/info/lfs/objects/batch",
            content=json.dumps(body).encode(),
            headers={
                "accept": "application/vnd.git-lfs+json",
                "content-type": "application/vnd.git-lfs+json",
            },
        )

    return act


LFS_JSON = {"accept": "application/vnd.git-lfs+json", "content-type": "application/vnd.git-lfs+json"}


def _lock_pair(c: Client, r: Repo) -> Answer:
    """Lock a path then unlock it (git lfs lock / unlock): a write action."""
    a = c.req(
        "POST",
        f"{r.web}.git/info/lfs/locks",
        headers=LFS_JSON,
        content=json.dumps({"path": f"lock-{c.p.key}.bin", "ref": {"name": "refs/heads/main"}}).encode(),
    )
    if a.status >= 400:
        return a
    lock_id = json.loads(a.body)["lock"]["id"]
    return c.req("POST", f"{r.web}.git/info/lfs/locks/{lock_id}/unlock", headers=LFS_JSON, content=b"{}")


def _ref_pair(kind: str) -> Act:
    """Create then delete a branch or tag: both are write actions (the Hub's `write` role)."""

    def act(c: Client, r: Repo) -> Answer:
        name = f"{kind[0]}-{c.p.key}"
        if kind == "branch":
            first = c.req("POST", f"{r.api}/branch/{name}", json={})
        else:
            first = c.req("POST", f"{r.api}/tag/main", json={"tag": name})
        if first.status >= 400:
            return first
        return c.req("DELETE", f"{r.api}/{kind}/{name}")

    return act


def _squash(c: Client, r: Repo) -> Answer:
    """Super-squash a branch the namespace's admin made for it (main's history stays for the other rows)."""
    admin = _h(c.w.admin_tokens[r.namespace])
    name = f"sq-{c.p.key}"
    httpx.post(f"{c.w.url}{r.api}/branch/{name}", headers=admin, json={}, timeout=60)
    a = c.req("POST", f"{r.api}/super-squash/{name}", json={"message": "squash"})
    httpx.delete(f"{c.w.url}{r.api}/branch/{name}", headers=admin, timeout=60)
    return a


def _move(c: Client, r: Repo) -> Answer:
    """Move the repo into the principal's own namespace (a transfer: item 4), then back if that worked."""
    ns = c.p.user if c.p.user and c.p.token_role != "revoked" else OTHER
    dst = r.renamed(ns, r.name + "-mv")
    a = c.req("POST", "/api/repos/move", json={"fromRepo": r.id, "toRepo": dst.id, "type": r.type})
    if a.status < 400:
        # Put it back: the principal owns the target namespace; else the source namespace's admin.
        for tok in (c.token, c.w.admin_tokens[r.namespace]):
            back = httpx.post(
                c.w.url + "/api/repos/move",
                headers=_h(tok),
                timeout=60,
                json={"fromRepo": dst.id, "toRepo": r.id, "type": r.type},
            )
            if back.status_code == 200:
                break
        assert back.status_code == 200, f"could not move {dst.id} back: {back.text}"
    return a


def _delete(c: Client, r: Repo) -> Answer:
    """Delete a fresh private repo made for this request (made by the namespace's admin)."""
    victim = r.renamed(r.namespace, f"{r.name}-del-{c.p.key}")
    if not victim.name.startswith("no-such"):
        made = httpx.post(
            c.w.url + "/api/repos/create",
            headers=_h(c.w.admin_tokens[r.namespace]),
            timeout=60,
            json={
                "name": victim.name,
                "organization": victim.namespace,
                "type": r.type,
                "private": True,
                **({"sdk": "static"} if r.type == "space" else {}),
            },
        )
        assert made.status_code == 200, made.text
    a = c.req("DELETE", "/api/repos/delete", json={"name": victim.id, "type": r.type})
    if a.status >= 400 and not victim.name.startswith("no-such"):
        cleanup = httpx.request(
            "DELETE",
            c.w.url + "/api/repos/delete",
            headers=_h(c.w.admin_tokens[r.namespace]),
            json={"name": victim.id, "type": r.type},
            timeout=60,
        )
        assert cleanup.status_code == 200, cleanup.text
    # Compare like with like: the message names the victim, not `r`.
    a.message = a.message.replace(victim.id, r.id)
    return a


def _git_ls_remote(c: Client, r: Repo) -> Answer:
    u = urlsplit(c.w.url)
    auth = f"user:{c.token}@" if c.token else ""
    url = f"{u.scheme}://{auth}{u.netloc}{r.web}"
    out = subprocess.run(
        ["git", "ls-remote", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "GIT_TERMINAL_PROMPT": "0",
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ASKPASS": "/bin/false",
        },
    )
    err = out.stderr.replace(c.token, "<TOKEN>") if c.token else out.stderr
    ok = out.returncode == 0 and "refs/heads/main" in out.stdout
    return Answer(200 if ok else 404, None if ok else "git", err.replace(r.id, "<ID>"), out.stdout)


def _git_push(c: Client, r: Repo) -> Answer:
    """Push a new branch (an unrelated one-commit history), then delete it: git's write path."""
    u = urlsplit(c.w.url)
    auth = f"user:{c.token}@" if c.token else ""
    url = f"{u.scheme}://{auth}{u.netloc}{r.web}"
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ASKPASS": "/bin/false",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    with tempfile.TemporaryDirectory() as tmp:

        def git(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["git", *args], cwd=tmp, capture_output=True, text=True, timeout=60, env=env
            )

        git("init", "-q", "-b", "main")
        git("commit", "-q", "--allow-empty", "-m", f"push by {c.p.key}")
        ref = f"refs/heads/g-{c.p.key}"
        out = git("push", url, f"HEAD:{ref}")
        if out.returncode == 0:
            out = git("push", url, f":{ref}")
    err = out.stderr.replace(c.token, "<TOKEN>") if c.token else out.stderr
    m = re.search(r"error: (\d{3})", err)
    if out.returncode == 0:
        status = 200
    elif m:
        status = int(m.group(1))
    elif "not found" in err:
        status = 404
    elif "Username" in err or "Authentication failed" in err:
        status = 401
    else:
        status = 400
    msg = re.sub(r"To \S+|'[^']*'", "", err.replace(r.id, "<ID>").replace(c.w.url, "<URL>"))
    return Answer(status, "Forbidden" if status == 403 else None if status == 200 else "git", msg, out.stdout)


def _viewer(endpoint: str, extra: str = "") -> Act:
    def act(c: Client, r: Repo) -> Answer:
        return c.req("GET", f"/api/datasets-server/{endpoint}?dataset={quote(r.id)}{extra}")

    return act


@dataclass(frozen=True)
class Surface:
    name: str
    need: str  # "read" | "write" | "admin" | "participate" (read access + a write token: discussions, likes)
    act: Act
    types: tuple[str, ...] = TYPES
    ui: bool = False  # a browser page: answered with the session of the principal's user
    lenient: bool = False  # the allowed answer may be a non-access error (e.g. a viewer not ready yet)


def _webhook_pair(c: Client, r: Repo) -> Answer:
    """A webhook watching the repo, created then deleted at once (a public address: no allow-list here; no
    event happens in between, so nothing is ever sent)."""
    watched = [{"type": r.type, "name": r.id}]
    got = c.req(
        "POST", "/api/settings/webhooks", json={"url": "http://93.184.215.14/hook", "watched": watched}
    )
    if got.status == 200:
        c.req("DELETE", f"/api/settings/webhooks/{json.loads(got.body)['webhook']['id']}")
    return got


def _get(path: str) -> Act:
    return lambda c, r: c.req("GET", path.format(api=r.api, web=r.web))


def _page(path: str) -> Act:
    return lambda c, r: c.page(path.format(web=r.web))


CHAT = [{"role": "user", "content": "hello"}]
SURFACES = [
    Surface("api-info", "read", _get("{api}")),
    Surface("api-revision", "read", _get("{api}/revision/main")),
    Surface("api-tree", "read", _get("{api}/tree/main")),
    Surface(
        "api-paths-info",
        "read",
        lambda c, r: c.req(
            "POST", f"{r.api}/paths-info/main", data={"paths": ["hello.txt"], "expand": "false"}
        ),
    ),
    Surface("api-commits", "read", _get("{api}/commits/main")),
    Surface("api-refs", "read", _get("{api}/refs")),
    Surface("resolve", "read", _get("{web}/resolve/main/hello.txt")),
    Surface("git-ls-remote", "read", _git_ls_remote),
    Surface("lfs-download", "read", _lfs("download")),
    Surface("xet-read-token", "read", _get("{api}/xet-read-token/main")),
    Surface("auth-check", "read", _get("{api}/auth-check")),
    Surface(
        "lfs-locks-list", "read", lambda c, r: c.req("GET", f"{r.web}.git/info/lfs/locks", headers=LFS_JSON)
    ),
    Surface("discussions-list", "read", _get("{api}/discussions")),
    Surface("discussion-details", "read", _get("{api}/discussions/1")),
    Surface("likers", "read", _get("{api}/likers")),
    Surface("viewer-is-valid", "read", _viewer("is-valid"), types=("dataset",), lenient=True),
    Surface("viewer-splits", "read", _viewer("splits"), types=("dataset",), lenient=True),
    Surface(
        "viewer-first-rows",
        "read",
        _viewer("first-rows", "&config=default&split=train"),
        types=("dataset",),
        lenient=True,
    ),
    Surface("inference-status", "read", lambda c, r: c.req("GET", f"/status/{r.id}"), types=("model",)),
    Surface(
        "inference-run",  # a 400 for the allowed (the repo is no transformers model): past the access check
        "read",
        lambda c, r: c.req("POST", f"/models/{r.id}", json={"inputs": "hello"}),
        types=("model",),
        lenient=True,
    ),
    Surface(
        "inference-chat",  # a 400 for the allowed (no config.json), past the access check
        "read",
        lambda c, r: c.req("POST", f"/models/{r.id}/v1/chat/completions", json={"messages": CHAT}),
        types=("model",),
        lenient=True,
    ),
    Surface(
        "inference-chat-v1",  # the model named in the body (InferenceClient(base_url=f"{HUB}/v1"))
        "read",
        lambda c, r: c.req("POST", "/v1/chat/completions", json={"model": r.id, "messages": CHAT}),
        types=("model",),
        lenient=True,
    ),
    Surface("ui-repo", "read", _page("{web}"), ui=True),
    Surface("ui-tree", "read", _page("{web}/tree/main"), ui=True),
    Surface("ui-blob", "read", _page("{web}/blob/main/hello.txt"), ui=True),
    Surface("ui-commits", "read", _page("{web}/commits/main"), ui=True),
    Surface("ui-discussions", "read", _page("{web}/discussions"), ui=True),
    Surface(
        "preupload",
        "write",
        lambda c, r: c.req(
            "POST",
            f"{r.api}/preupload/main",
            json={"files": [{"path": "x.txt", "sample": "eA==", "size": 1}]},
        ),
    ),
    Surface("commit", "write", _commit),
    Surface("git-push", "write", _git_push),
    Surface("lfs-lock-unlock", "write", _lock_pair),
    Surface("lfs-upload", "write", _lfs("upload")),
    Surface("xet-write-token", "write", _get("{api}/xet-write-token/main")),
    Surface("auth-check-write", "write", _get("{api}/auth-check/write")),
    Surface("access-requests-list", "write", _get("{api}/user-access-request/pending")),
    Surface("branch-create-delete", "write", _ref_pair("branch")),
    Surface("tag-create-delete", "write", _ref_pair("tag")),
    Surface("super-squash", "write", _squash),
    Surface("api-lfs-files-list", "write", _get("{api}/lfs-files")),
    Surface(
        "api-lfs-files-delete",  # an empty batch: the check without deleting anything
        "admin",
        lambda c, r: c.req(
            "POST", f"{r.api}/lfs-files/batch", json={"deletions": {"sha": [], "rewriteHistory": False}}
        ),
    ),
    Surface(
        "discussion-status",
        "write",  # #1 was opened by the namespace's admin: only writers change it
        lambda c, r: c.req("POST", f"{r.api}/discussions/1/status", json={"status": "open"}),
    ),
    Surface(
        "discussion-create",
        "participate",
        lambda c, r: c.req(
            "POST", f"{r.api}/discussions", json={"title": f"from {c.p.key}", "description": "hello"}
        ),
    ),
    Surface(
        "discussion-comment",
        "participate",
        lambda c, r: c.req("POST", f"{r.api}/discussions/1/comment", json={"comment": f"from {c.p.key}"}),
    ),
    Surface("like", "participate", lambda c, r: c.req("POST", f"{r.api}/like")),
    Surface("webhook-watch", "participate", _webhook_pair),
    Surface(
        "settings-visibility", "admin", lambda c, r: c.req("PUT", f"{r.api}/settings", json={"private": True})
    ),
    Surface("settings-gated", "admin", lambda c, r: c.req("PUT", f"{r.api}/settings", json={"gated": False})),
    Surface("move", "admin", _move),
    Surface("delete", "admin", _delete),
    Surface("ui-settings", "admin", _page("{web}/settings"), ui=True),
    Surface("ui-gated-users", "write", _page("{web}/gated-users"), ui=True),
]


def _allowed(p: Principal, owner: str, need: str) -> bool:
    lvl = LEVELS[p.level(owner)]
    if need == "participate":
        return lvl >= LEVELS["read"] and not p.read_only
    return lvl >= LEVELS[need]


def _missing(r: Repo) -> Repo:
    return Repo(r.type, r.namespace, f"no-such-{r.name}")


# ---- the world ----------------------------------------------------------------------------------------------
def _login(url: str, user: str) -> httpx.Cookies:
    with httpx.Client(base_url=url, timeout=60, headers={"origin": url}) as c:
        page = c.get("/login")
        m = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert m, page.text[:500]
        r = c.post(
            "/login", data={"username": user, "password": f"{user}-password", "csrf": m.group(1), "next": "/"}
        )
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        return c.cookies


@pytest.fixture(scope="module")
def world(server: Any) -> World:
    data = server.data
    for u in (OWNER, OTHER, OREAD, OWRITE, OADMIN, NONMEMBER):
        agora("user", "add", u, "--password-stdin", data=data, stdin=f"{u}-password\n")
    agora("org", "create", ORG, "--owner", OADMIN, data=data)
    agora("org", "add-member", ORG, OREAD, "--role", "read", data=data)
    agora("org", "add-member", ORG, OWRITE, "--role", "write", data=data)
    tokens: dict[str, str] = {}
    for p in PRINCIPALS:
        if p.user is None:
            tokens[p.key] = ""
        elif p.token_role == "revoked":
            tokens[p.key] = agora(
                "token", "create", p.user, "--role", "write", "--name", "to-revoke", data=data
            )
            agora("token", "revoke", p.user, "to-revoke", data=data)
        else:
            tokens[p.key] = agora("token", "create", p.user, "--role", p.token_role, data=data)
    admin_tokens = {OWNER: tokens["write-token"], ORG: tokens["org-admin"]}
    repos = []
    for ns in (OWNER, ORG):
        h = _h(admin_tokens[ns])
        for t in TYPES:
            r = Repo(t, ns, f"{P}-private-{t}")
            made = httpx.post(
                server.url + "/api/repos/create",
                headers=h,
                timeout=60,
                json={
                    "name": r.name,
                    "organization": ns,
                    "type": t,
                    "private": True,
                    **({"sdk": "static"} if t == "space" else {}),
                },
            )
            assert made.status_code == 200, made.text
            card = (f"---\ntags:\n- {P}secrettag-{ns}-{t}\n---\n# {P}secretword{ns}{t}\n").encode()
            body = _ndjson(
                {"key": "header", "value": {"summary": "seed", "description": ""}},
                *(
                    {"key": "file", "value": {"path": path, "content": _b64(content), "encoding": "base64"}}
                    for path, content in (
                        ("hello.txt", HELLO),
                        ("README.md", card),
                        ("data.csv", b"a,b\n1,2\n"),
                    )
                ),
            )
            done = httpx.post(
                f"{server.url}{r.api}/commit/main",
                headers={**h, "content-type": "application/x-ndjson"},
                content=body,
                timeout=60,
            )
            assert done.status_code == 200, done.text
            d = httpx.post(
                f"{server.url}{r.api}/discussions",
                headers=h,
                json={"title": "first", "description": "x"},
                timeout=60,
            )
            assert d.status_code == 200 and d.json()["num"] == 1, d.text
            liked = httpx.post(f"{server.url}{r.api}/like", headers=h, timeout=60)
            assert liked.status_code == 200, liked.text
            repos.append(r)
    w = World(server.url, data, tokens, admin_tokens, repos)
    for u in {p.user for p in PRINCIPALS if p.user and p.token_role == "write"}:
        w.cookies[u] = _login(server.url, u)
    return w


def _b64(b: bytes) -> str:
    import base64

    return base64.b64encode(b).decode()


# ---- the tests ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("principal", PRINCIPALS, ids=PRINCIPAL_IDS)
@pytest.mark.parametrize("surface", SURFACES, ids=[s.name for s in SURFACES])
def test_access(world: World, surface: Surface, principal: Principal) -> None:
    c = Client(world, principal)
    if surface.ui and principal.token_role != "write":
        # Pages are for browser sessions: a read-only or revoked token is no session, the page sees anonymous.
        principal = PRINCIPALS[0]
    problems = []
    for r in world.repos:
        if r.type not in surface.types:
            continue
        got = surface.act(c, r)
        where = (
            f"{surface.name} by {principal.key} on {r.type} {r.id}: {got.status} {got.code} {got.message!r}"
        )
        problems += _access_problems(c, surface, principal, r, got, where)
    assert not problems, "\n".join(problems)


def _access_problems(
    c: Client, surface: Surface, principal: Principal, r: Repo, got: Answer, where: str
) -> list[str]:
    if _allowed(principal, r.namespace, surface.need):
        if surface.lenient:
            ok = got.code not in ("RepoNotFound", "Forbidden", "Unauthorized") and got.status not in (
                401,
                403,
            )
        else:
            ok = got.status < 400
        return [] if ok else [f"refused, should succeed: {where}"]
    if principal.level(r.namespace) == "none":
        return _hidden_problems(c, surface, principal, r, got, where)
    # Sees the repo, may not do this: 403, said plainly.
    if got.status != 403 or (not surface.ui and got.code != "Forbidden"):
        return [f"not 403 Forbidden: {where}"]
    return []


def _hidden_problems(
    c: Client, surface: Surface, principal: Principal, r: Repo, got: Answer, where: str
) -> list[str]:
    """A repo the principal may not see: no existence oracle, exactly what a repo that does not exist gets."""
    problems = []
    miss = surface.act(c, _missing(r))
    if got.shape(r) != miss.shape(_missing(r)):
        problems.append(f"differs from a missing repo ({miss.status} {miss.code} {miss.message!r}): {where}")
    if surface.ui:
        if got.status != 404:
            problems.append(f"not a 404 page: {where}")
    elif not surface.name.startswith("git-"):
        problems += _hidden_api_problems(surface, principal, got, where)
    elif got.status == 200:
        problems.append(f"git answered: {where}")
    if HELLO.decode().strip() in got.body:
        problems.append(f"content leaked: {where}")
    return problems


def _hidden_api_problems(surface: Surface, principal: Principal, got: Answer, where: str) -> list[str]:
    if principal.token_role == "revoked" or (principal.user is None and surface.name.startswith("lfs-")):
        return [] if got.status == 401 else [f"not 401: {where}"]
    if principal.user is None and surface.need != "read" and got.status == 401:
        return []  # anonymous writes: "log in first", for a missing repo the same (checked above)
    if (got.status, got.code) != (404, "RepoNotFound"):
        return [f"not 404 RepoNotFound: {where}"]
    return []


# ---- listings: a repo shows up only for those who may read it -------------------------------------------
Reveal = Callable[[Client, Repo], tuple[bool, Answer]]


def _listing(path: str, key: str) -> Reveal:
    def reveal(c: Client, r: Repo) -> tuple[bool, Answer]:
        a = c.req(
            "GET",
            path.format(t=API[r.type], ns=r.namespace, name=r.name, q=f"{P}secretword{r.namespace}{r.type}"),
        )
        if a.status != 200:
            return False, a
        data = json.loads(a.body)
        rows = data.get(key, []) if isinstance(data, dict) and key else data
        ids = {x.get("id") for x in rows}
        return r.id in ids, a

    return reveal


def _text(path: str) -> Reveal:
    def reveal(c: Client, r: Repo) -> tuple[bool, Answer]:
        a = c.req("GET", path.format(t=API[r.type]))
        return (a.status == 200 and f"{P}secrettag-{r.namespace}-{r.type}" in a.body), a

    return reveal


def _likes(c: Client, r: Repo) -> tuple[bool, Answer]:
    liker = OWNER if r.namespace == OWNER else OADMIN
    a = c.req("GET", f"/api/users/{liker}/likes")
    return (a.status == 200 and r.id in {x["repo"]["name"] for x in json.loads(a.body)}), a


def _quicksearch(c: Client, r: Repo) -> tuple[bool, Answer]:
    a = c.req("GET", f"/api/quicksearch?q={r.name}&type={r.type}")
    return (a.status == 200 and r.id in {x["id"] for x in json.loads(a.body)[API[r.type]]}), a


LISTINGS: list[tuple[str, Reveal, tuple[str, ...]]] = [
    ("search", _listing("/api/{t}?search={name}", ""), TYPES),
    ("author", _listing("/api/{t}?author={ns}", ""), TYPES),
    ("full-text", _listing("/api/search/full-text?q={q}", "results"), TYPES),
    ("quicksearch", _quicksearch, TYPES),
    # Datasets facet only prefixed tags (task_categories:..., license:...): a free tag shows on models/spaces.
    ("facets", _text("/api/{t}/facets"), ("model", "space")),
    ("tags-by-type", _text("/api/{t}-tags-by-type"), ("model",)),
    ("user-likes", _likes, TYPES),
]


@pytest.mark.parametrize("principal", PRINCIPALS, ids=PRINCIPAL_IDS)
@pytest.mark.parametrize("listing", LISTINGS, ids=[x[0] for x in LISTINGS])
def test_listings(world: World, listing: Any, principal: Principal) -> None:
    name, reveal, types = listing
    c = Client(world, principal)
    problems = []
    for r in world.repos:
        if r.type not in types:
            continue
        shown, a = reveal(c, r)
        readable = principal.level(r.namespace) != "none"
        if shown != readable:
            problems.append(
                f"{name} by {principal.key}: {r.id} shown={shown}, readable={readable} ({a.status})"
            )
        if principal.token_role == "revoked" and a.status != 401:
            problems.append(f"{name} by {principal.key}: a revoked token answered {a.status}")
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def collection(world: World) -> dict[str, str]:
    """A public collection of each namespace's admin: public repo, the private repo, public repo (in that order)."""
    out = {}
    for ns in (OWNER, ORG):
        h = _h(world.admin_tokens[ns])
        owner = OWNER if ns == OWNER else OADMIN
        c = httpx.post(
            world.url + "/api/collections",
            headers=h,
            json={"title": f"{P} picks of {ns}", "namespace": owner},
            timeout=60,
        )
        assert c.status_code == 200, c.text
        slug = c.json()["slug"]
        for i, private in enumerate((False, True, False)):
            if private:
                rid, t = f"{ns}/{P}-private-model", "model"
            else:
                rid, t = f"{ns}/{P}-public-{i}", "model"
                made = httpx.post(
                    world.url + "/api/repos/create",
                    headers=h,
                    timeout=60,
                    json={"name": rid.split("/")[1], "organization": ns, "type": t},
                )
                assert made.status_code == 200, made.text
            added = httpx.post(
                f"{world.url}/api/collections/{slug}/items",
                headers=h,
                timeout=60,
                json={"item": {"type": t, "id": rid}},
            )
            assert added.status_code == 200, added.text
        out[ns] = slug
    return out


@pytest.mark.parametrize("principal", PRINCIPALS, ids=PRINCIPAL_IDS)
def test_collections(world: World, collection: dict[str, str], principal: Principal) -> None:
    """A private repo in a public collection: shown to its readers only, and its place leaves no gap."""
    c = Client(world, principal)
    for ns, slug in collection.items():
        a = c.req("GET", f"/api/collections/{slug}")
        if principal.token_role == "revoked":
            assert a.status == 401, a.body
            continue
        assert a.status == 200, a.body
        items = json.loads(a.body)["items"]
        ids = [x["id"] for x in items]
        readable = principal.level(ns) != "none"
        assert (f"{ns}/{P}-private-model" in ids) == readable, (principal.key, ids)
        assert [x["position"] for x in items] == list(range(len(items))), (principal.key, items)
        by_item = c.req("GET", f"/api/collections?item=models/{ns}/{P}-private-model")
        assert by_item.status == 200
        assert (slug in by_item.body) == readable, (principal.key, by_item.body)


def test_read_token_changes_nothing(world: World) -> None:
    """Read tokens are read-only everywhere (item 11): no discussion, comment, status, like or collection."""
    c = Client(world, next(p for p in PRINCIPALS if p.key == "read-token"))
    r = next(x for x in world.repos if x.namespace == OWNER and x.type == "model")
    attempts = {
        "discussion": c.req("POST", f"{r.api}/discussions", json={"title": "ro", "description": ""}),
        "pull request": c.req("POST", f"{r.api}/discussions", json={"title": "ro", "pullRequest": True}),
        "comment": c.req("POST", f"{r.api}/discussions/1/comment", json={"comment": "ro"}),
        "title": c.req("POST", f"{r.api}/discussions/1/title", json={"title": "ro"}),
        "status": c.req("POST", f"{r.api}/discussions/1/status", json={"status": "closed"}),
        "like": c.req("POST", f"{r.api}/like"),
        "unlike": c.req("DELETE", f"{r.api}/like"),
        "collection": c.req("POST", "/api/collections", json={"title": "ro"}),
    }
    for what, a in attempts.items():
        assert (a.status, a.code) == (403, "Forbidden"), (what, a)
    d = httpx.get(f"{world.url}{r.api}/discussions/1", headers=_h(world.admin_tokens[OWNER])).json()
    assert d["title"] == "first" and d["status"] == "open"
    assert all("ro" != (e["data"].get("latest") or {}).get("raw") for e in d["events"])


def test_org_writer_cannot_take_the_repo(world: World) -> None:
    """Item 4: an org `write` member moves nothing out of the org; the org keeps its repo."""
    c = Client(world, next(p for p in PRINCIPALS if p.key == "org-write"))
    r = next(x for x in world.repos if x.namespace == ORG and x.type == "model")
    a = c.req(
        "POST", "/api/repos/move", json={"fromRepo": r.id, "toRepo": f"{OWRITE}/{r.name}", "type": "model"}
    )
    assert (a.status, a.code) == (403, "Forbidden"), a
    assert httpx.get(f"{world.url}{r.api}", headers=_h(world.admin_tokens[ORG])).status_code == 200
    assert (
        httpx.get(
            f"{world.url}/api/models/{OWRITE}/{r.name}", headers=_h(world.tokens["org-write"])
        ).status_code
        == 404
    )


@pytest.mark.parametrize("name", ["avatars", "Avatars", "settings", "new-dataset", "new-space", "metrics"])
def test_reserved_names(world: World, name: str) -> None:
    """Item 11: a user or org named like a top-level path (`/avatars/{name}`, ...) would shadow or be shadowed."""
    out = subprocess.run(
        [str(Path(sys.executable).parent / "agora"), "user", "add", name, "--data", str(world.data)],
        input="",
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "reserved" in out.stderr, out
    with httpx.Client(
        base_url=world.url, cookies=world.cookies[OWNER], timeout=60, headers={"origin": world.url}
    ) as c:
        page = c.get("/organizations/new")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, page.text[:300]
        r = c.post("/organizations/new", data={"name": name, "fullname": "", "csrf": csrf.group(1)})
        assert r.status_code == 400 and "reserved" in r.text, (r.status_code, r.text[:300])
    r = httpx.post(
        world.url + "/api/repos/create",
        headers=_h(world.tokens["write-token"]),
        json={"name": "x", "organization": name},
    )
    assert r.status_code in (400, 403, 404) and r.headers.get("X-Error-Code") != "RepoNotFound", r.text


@pytest.mark.parametrize(
    "principal",
    [p for p in PRINCIPALS if p.user and p.token_role == "write"],
    ids=[p.key for p in PRINCIPALS if p.user and p.token_role == "write"],
)
def test_settings_tab_for_admins_only(world: World, principal: Principal) -> None:
    """The repo page links to Settings only for those the settings page lets in."""
    c = Client(world, principal)
    for r in world.repos:
        page = c.page(r.web)
        if principal.level(r.namespace) == "none":
            assert page.status == 404
            continue
        assert page.status == 200, (principal.key, r.id)
        assert (f'href="{r.web}/settings"' in page.body) == (principal.level(r.namespace) == "admin"), (
            principal.key,
            r.id,
        )
