"""A private repo's pages answer 404 to another user and to anonymous visitors (issue 6, second must-show),
and nothing of the repo's content ever appears in the HTML they get."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Page

from .conftest import login, snap

MARKERS = ("SECRET-CARD-7f3a", "secret-notes-7f3a", "SECRET-FILE-7f3a", "SECRET-COMMIT-7f3a")


@pytest.fixture(scope="module")
def private_repos(api: HfApi) -> dict[str, tuple[str, str, str]]:
    """repo type -> (web base path, commit sha, private file path) for a private model and dataset of alice."""
    out = {}
    for rtype, prefix in (("model", ""), ("dataset", "datasets/")):
        rid = f"alice/e2e-private-{rtype}"
        api.create_repo(rid, repo_type=rtype, private=True, exist_ok=True)
        info = api.create_commit(
            rid,
            repo_type=rtype,
            commit_message=f"{MARKERS[3]} seed",
            operations=[
                CommitOperationAdd(
                    "README.md", f"---\nlicense: mit\ntags:\n- {MARKERS[1]}\n---\n# {MARKERS[0]}\n".encode()
                ),
                CommitOperationAdd(f"{MARKERS[1]}.txt", f"{MARKERS[2]}\n".encode()),
            ],
        )
        out[rtype] = (f"/{prefix}{rid}", info.oid, f"{MARKERS[1]}.txt")
    return out


def pages_of(base: str, sha: str, file: str) -> dict[str, str]:
    return {
        "repo": base,
        "tree": f"{base}/tree/main",
        "blob": f"{base}/blob/main/{file}",
        "commits": f"{base}/commits/main",
        "commit": f"{base}/commit/{sha}",
        "settings": f"{base}/settings",
        "community": f"{base}/discussions",
        "history": f"{base}/commits/main/{file}",
        "edit": f"{base}/edit/main/README.md",
        "upload": f"{base}/upload/main",
    }


def check_hidden(page: Page, url: str, label: str) -> None:
    resp = page.goto(url)
    snap(page, label)
    assert resp is not None and resp.status == 404, f"{url}: {resp and resp.status}"
    assert page.locator("main h1").inner_text() == "404"
    html = page.content()
    for m in MARKERS[:1] + MARKERS[2:]:
        assert m not in html, f"{url} leaks {m}"
    # The private file's name is only in the visited URL itself (the 404's log-in link), never as content.
    assert f">{MARKERS[1]}" not in html and "e2e-private" not in page.locator("main").inner_text().replace(
        url, ""
    )


@pytest.mark.parametrize("rtype", ["model", "dataset"])
def test_private_pages_are_404_to_others(
    new_page: Callable[..., Page], private_repos: dict[str, Any], rtype: str
) -> None:
    base, sha, file = private_repos[rtype]
    urls = pages_of(base, sha, file)
    if rtype == "dataset":  # the five main pages; the model covers every other page of a repo
        urls = {k: urls[k] for k in ("repo", "tree", "blob", "commits", "settings")}

    owner = new_page("alice")
    login(owner, "alice")
    for label in ("repo", "tree", "blob", "commits", "settings"):
        resp = owner.goto(urls[label])
        snap(owner, f"owner-{label}")
        assert resp is not None and resp.status == 200, label
        if label == "repo":
            assert MARKERS[0] in owner.locator("article.card-body").inner_text()
        if label == "blob":
            assert MARKERS[2] in owner.locator("div.code").inner_text()

    bob = new_page("bob")
    login(bob, "bob")
    anon = new_page("anon")
    for label, url in urls.items():
        check_hidden(bob, url, f"bob-{label}")
        check_hidden(anon, url, f"anon-{label}")

    # Nor is it listed anywhere they look.
    for who in (bob, anon):
        who.goto(f"/{'models' if rtype == 'model' else 'datasets'}?search=e2e-private")
        snap(who, "listing-search")
        assert "e2e-private" not in who.locator("section.results").inner_text()
        who.goto("/alice")
        snap(who, "alice-profile")
        assert "e2e-private" not in who.content()
