"""A gated model in the browser: bob sees the access form (the card's prompt and custom fields) instead of
download links, asks, alice accepts him in the Settings page's "Gated users" (then on /gated-users, the
writers' page of the section), and bob then downloads."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Page

from .conftest import login, snap

CARD = """---
license: mit
extra_gated_prompt: Please tell us where you work.
extra_gated_fields:
  Company: text
  I agree to the terms: checkbox
---
# Gated in the browser
"""


def test_request_form_accept_then_download_links(
    new_page: Callable[..., Page], api: HfApi, server: object, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.create_commit(
        rid,
        commit_message="seed",
        operations=[
            CommitOperationAdd("README.md", CARD.encode()),
            CommitOperationAdd("config.json", b'{"a": 1}\n'),
        ],
    )
    api.update_repo_settings(rid, gated="manual")

    bob = new_page("bob")
    login(bob, "bob")
    bob.goto(f"/{rid}/tree/main")
    snap(bob, "files-gated")
    assert bob.locator("#gate-note").is_visible()
    assert bob.locator("a.download").count() == 0
    # A file's page answers as its download does (403 GatedRepo) and links the repo page's form.
    shown = bob.goto(f"/{rid}/blob/main/config.json")
    snap(bob, "file-gated")
    assert shown is not None and shown.status == 403 and shown.headers["x-error-code"] == "GatedRepo"
    assert "not in the authorized list" in bob.locator("main").inner_text()
    with bob.expect_navigation():
        bob.get_by_role("link", name="Ask for access on the repo page").click()
    assert bob.url.endswith(f"/{rid}")
    snap(bob, "gate-form")
    gate = bob.locator("#gate")
    assert "Please tell us where you work." in gate.inner_text()
    assert bob.locator("a[href*='/resolve/']").count() == 0  # no download links before access
    gate.get_by_label("Company").fill("Bob's Lab")
    gate.get_by_label("I agree to the terms").check()
    with bob.expect_navigation():
        gate.get_by_role("button", name="Agree and access repository").click()
    snap(bob, "pending")
    assert bob.locator("#gate").get_attribute("data-gate") == "pending"
    assert "pending" in bob.locator("#gate").inner_text()

    alice = new_page("alice")
    login(alice, "alice")
    alice.goto(f"/{rid}/settings")
    snap(alice, "gated-users")
    row = alice.locator("#gated-users table.access-pending tr[data-user='bob']")
    assert "Bob's Lab" in row.inner_text()
    with alice.expect_navigation():
        row.get_by_role("button", name="Accept").click()
    snap(alice, "accepted")
    assert alice.url.endswith(f"/{rid}/gated-users")  # the writers' page of the same section
    assert alice.locator("#gated-users table.access-accepted tr[data-user='bob']").count() == 1

    bob.goto(f"/{rid}")
    snap(bob, "granted")
    assert bob.locator("#gate").get_attribute("data-gate") == "accepted"
    bob.goto(f"/{rid}/tree/main")
    snap(bob, "files-open")
    link = bob.locator("tr[data-path='config.json'] a.download")
    href = link.get_attribute("href")
    assert href is not None and href.endswith("/resolve/main/config.json?download=true")
    # The link downloads with bob's browser session (its cookie).
    cookies = {c["name"]: c["value"] for c in bob.context.cookies()}
    r = httpx.get(f"{server.url}{href}", cookies=cookies)  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.content == b'{"a": 1}\n'
