"""Issue 12: security headers on every UI page, error page and redirect (and nosniff + a CSP on every answer).

The routes come from the router itself (agora.http.routing.Router.routes of an app built on the test server's
data), each instantiated with real ids: a route added later without the headers fails here. Every route is
asked anonymously and as a logged-in user, with each of its methods (posts without a CSRF token: refused,
but the refusal is a page too).
"""

from __future__ import annotations

import re
import re._parser as sre  # type: ignore[import-not-found]
from re._constants import (  # type: ignore[import-not-found]
    ANY,
    AT,
    BRANCH,
    CATEGORY,
    CATEGORY_DIGIT,
    IN,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    NEGATE,
    NOT_LITERAL,
    RANGE,
    SUBPATTERN,
)
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from ..conftest import Server


def fill(pattern: str, values: dict[str, str | None]) -> str | None:
    """A path matching `pattern`, with named groups taken from `values` (None leaves an optional group out)."""
    tree = sre.parse(pattern)
    return _Filler(pattern, values, tree.state.groupdict).emit(tree)


class _Filler:
    """Instantiates a parsed regex: each item gives a string, "" for nothing, or None when it cannot match."""

    def __init__(self, pattern: str, values: dict[str, str | None], groupdict: dict[str, int]) -> None:
        self.pattern = pattern
        self.values = values
        self.names = {i: n for n, i in groupdict.items()}

    def emit(self, items: Any) -> str | None:
        out = []
        for op, av in items:
            got = self.item(op, av)
            if got is None:
                return None
            out.append(got)
        return "".join(out)

    def item(self, op: Any, av: Any) -> str | None:
        if op is LITERAL:
            return chr(av)
        if op is AT:
            return ""
        if op is ANY:
            return "x"
        if op is NOT_LITERAL:
            return "x" if av != ord("x") else "y"
        if op is IN:
            return self.pick(av)
        if op is BRANCH:
            return next((g for g in (self.emit(alt) for alt in av[1]) if g is not None), None)
        if op is SUBPATTERN:
            return self.group(av)
        if op in (MAX_REPEAT, MIN_REPEAT):
            return self.repeat(av)
        raise AssertionError(f"cannot instantiate {op} in {self.pattern}")

    def group(self, av: Any) -> str | None:
        group, sub = av[0], av[-1]
        name = self.names.get(group)
        if name is not None and name in self.values:
            return self.values[name]  # None: this optional group is left out, so the path cannot match it
        return self.emit(sub)

    def repeat(self, av: Any) -> str | None:
        lo, _hi, sub = av
        got = self.emit(sub)
        if got is None:
            return None if lo else ""
        return got * max(lo, 1)

    def pick(self, ranges: Any) -> str:
        if ranges and ranges[0][0] is NEGATE:
            return "x"
        op, av = ranges[0]
        if op is LITERAL:
            return chr(av)
        if op is RANGE:
            return chr(av[0])
        if op is CATEGORY:
            return "0" if av is CATEGORY_DIGIT else "a"
        raise AssertionError(f"cannot pick from {ranges} in {self.pattern}")


PAGE = {
    "default-src 'self'",
    "script-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
}


def check(r: httpx.Response, what: str) -> list[str]:
    problems = []
    h = r.headers
    csp = {d.strip() for d in h.get("content-security-policy", "").split(";") if d.strip()}
    if h.get("x-content-type-options") != "nosniff":
        problems.append(f"{what}: no nosniff")
    if not csp:
        problems.append(f"{what}: no Content-Security-Policy")
    page = h.get("content-type", "").startswith("text/html") or 300 <= r.status_code < 400
    if page:
        missing = PAGE - csp
        if missing:
            problems.append(f"{what}: CSP lacks {sorted(missing)}")
        if not any(d.startswith("frame-src ") for d in csp):
            problems.append(f"{what}: CSP has no frame-src")
        if h.get("x-frame-options", "").upper() != "DENY":
            problems.append(f"{what}: no X-Frame-Options DENY")
        if h.get("referrer-policy") not in ("strict-origin-when-cross-origin", "same-origin", "no-referrer"):
            problems.append(f"{what}: Referrer-Policy {h.get('referrer-policy')!r}")
    elif "sandbox" not in csp and "default-src 'none'" not in csp and not (csp & PAGE):
        problems.append(f"{what}: a non-page answer with a weak CSP {csp}")
    return problems


@pytest.fixture(scope="module")
def routes(server: Server, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    import os

    from agora.app import create_app
    from agora.config import Settings

    old = os.environ.get("AGORA_JOBS")
    os.environ["AGORA_JOBS"] = "0"
    try:
        app = create_app(Settings.from_env(server.data))
    finally:
        if old is None:
            os.environ.pop("AGORA_JOBS", None)
        else:
            os.environ["AGORA_JOBS"] = old
    router = app
    while not hasattr(router, "routes"):
        router = router.app  # Metered -> Guard -> Router
    return list(router.routes)


def browser_client(server: Server, user: str) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=60, headers={"Accept": "text/html", "Origin": server.url})
    page = c.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    r = c.post(
        "/login",
        data={
            "csrf": csrf.group(1) if csrf else "",
            "username": user,
            "name": user,
            "password": f"{user}-password",
            "next": "/",
        },
    )
    assert r.status_code in (200, 303), r.text[:500]
    assert user in c.get("/").text
    return c


def instantiate(route: Any, values: dict[str, str | None], dataset: str) -> str:
    """A path of `route` with real ids: `values`, the dataset's for dataset pages."""
    pattern = route.regex.pattern
    vals = dict(values)
    if pattern.startswith("^/datasets/"):
        vals.update(ns=dataset.split("/")[0], name=dataset.split("/")[1], path="data.csv")
    if pattern in (r"^/(?P<name>[^/]+)$",):
        vals["name"] = "alice"  # the profile page
    if "static" in pattern:
        vals["path"] = "style.css"
    path = fill(pattern, vals)
    if path is None or not route.regex.match(path):  # a value one group does not take: its own
        for key in route.regex.groupindex:
            other = fill(pattern, {k: v for k, v in vals.items() if k != key})
            if other is not None and route.regex.match(other):
                path = other
                break
    assert path is not None and route.regex.match(path), f"cannot instantiate {pattern}: {path!r}"
    return path


def test_every_route_answers_with_the_security_headers(
    server: Server, alice: str, routes: list[Any], repo_name: str
) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    model = api.create_repo(f"alice/{repo_name}").repo_id
    dataset = api.create_repo(f"alice/{repo_name}-data", repo_type="dataset").repo_id
    api.upload_file(path_or_fileobj=b"# card\n", path_in_repo="README.md", repo_id=model)
    api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=dataset, repo_type="dataset"
    )
    sha = api.model_info(model).sha
    hdr = {"Authorization": f"Bearer {alice}"}
    coll = httpx.post(
        f"{server.url}/api/collections",
        headers=hdr,
        timeout=30,
        json={"title": f"headers {repo_name}", "namespace": "alice"},
    )
    assert coll.status_code == 200, coll.text
    slug = coll.json()["slug"]
    item = httpx.post(
        f"{server.url}/api/collections/{slug}/items",
        headers=hdr,
        timeout=30,
        json={"item": {"id": model, "type": "model"}},
    )
    assert item.status_code == 200, item.text
    item_id = next(i["_id"] for i in item.json()["items"])
    ns, name = model.split("/")
    values: dict[str, str | None] = {
        "p": None,
        "ns": ns,
        "name": name,
        "rev": "main",
        "path": "README.md",
        "sha": sha,
        "kind": "new",
        "org": "acme",
        "slug": slug,
        "item": item_id,
        "t": "models",
        "user": "alice",
        "num": "1",
        "verb": "comment",
        "branch": "b",
        "oid": "0" * 64,
        "h": "0" * 64,
        "repo_id": "1",
        "upload_id": "0" * 32,
        "n": "1",
        "lock_id": "1",
        "prefix": "default",
        "v": "1",
    }
    clients = {
        "anonymous": httpx.Client(base_url=server.url, timeout=60, headers={"Accept": "text/html"}),
        "alice": browser_client(server, "alice"),
    }
    problems: list[str] = []
    seen = 0
    try:
        for route in routes:
            path = instantiate(route, values, dataset)
            web_route = route.handler.__module__.startswith("agora.http.web")
            for method in sorted(route.methods - {"HEAD"}):
                for who, client in clients.items():
                    if who != "anonymous" and not web_route:
                        continue
                    headers = (
                        {"Host": "datasets-server." + server.url.split("://")[1]} if route.host_prefix else {}
                    )
                    # A page post without its CSRF token: refused, never executed (no side effects here).
                    r = client.request(
                        method,
                        path,
                        headers=headers,
                        content=b"" if method != "GET" else None,
                        follow_redirects=False,
                    )
                    seen += 1
                    if r.status_code >= 500:
                        problems.append(f"{who} {method} {path}: {r.status_code}")
                    problems += check(r, f"{who} {method} {path} -> {r.status_code}")
        # The 404 page of an unknown path (a JSON 404 for API clients), and a path that is not UTF-8 (its status
        # is item 10's business; its headers are ours).
        for path in ("/no/such/page/at/all", "/api/no/such/thing", "/%FF/x"):
            r = clients["anonymous"].get(path)
            problems += check(r, f"GET {path} -> {r.status_code}")
    finally:
        for c in clients.values():
            c.close()
    assert seen > 100
    assert not problems, "\n".join(problems)
