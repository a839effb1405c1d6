"""Repo settings (visibility, rename, delete), the like button and the Community tab, in the browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import RepositoryNotFoundError
from playwright.sync_api import Page, expect

from .conftest import login, snap


def test_settings_private_rename_delete(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(
        repo_id=rid, path_in_repo="README.md", path_or_fileobj=b"---\nlicense: mit\n---\n# Settings\n"
    )
    alice, bob = new_page("alice"), new_page("bob")
    login(alice, "alice")
    login(bob, "bob")
    resp = bob.goto(f"/{rid}")
    snap(bob, "public-repo")
    assert resp is not None and resp.status == 200
    assert bob.locator("nav.tabs").get_by_role("link", name="Settings").count() == 0  # bob may not change it

    # Make it private: bob now gets the 404 page.
    alice.goto(f"/{rid}")
    snap(alice, "repo")
    with alice.expect_navigation():
        alice.locator("nav.tabs").get_by_role("link", name="Settings").click()
    snap(alice, "settings")
    alice.get_by_role("radio", name=re.compile("Private")).check()
    with alice.expect_navigation():
        alice.get_by_role("button", name="Save visibility").click()
    snap(alice, "settings-private")
    expect(alice.locator(".repo-head .badge", has_text="private")).to_be_visible()
    assert api.model_info(rid).private is True
    resp = bob.goto(f"/{rid}")
    snap(bob, "private-repo-404")
    assert resp is not None and resp.status == 404

    # Rename it.
    new_rid = f"{rid}-renamed"
    alice.get_by_label("New id").fill(new_rid)
    with alice.expect_navigation():
        alice.get_by_role("button", name="Rename").click()
    snap(alice, "renamed")
    assert alice.url.endswith(f"/{new_rid}/settings")
    alice.goto(f"/{new_rid}")
    snap(alice, "renamed-repo")
    assert alice.locator(".repo-head h1 [data-copy]").get_attribute("data-copy") == new_rid
    assert api.model_info(new_rid).id == new_rid
    resp = bob.goto(f"/{new_rid}")
    snap(bob, "renamed-private-404")
    assert resp is not None and resp.status == 404

    # Delete it, with the typed confirmation.
    alice.goto(f"/{new_rid}/settings")
    snap(alice, "settings-before-delete")
    alice.get_by_label(re.compile("to confirm")).fill("alice/not-this-one")
    with alice.expect_navigation():
        alice.get_by_role("button", name=re.compile("delete this model")).click()
    snap(alice, "delete-wrong-confirmation")
    assert "to confirm" in alice.locator("main").inner_text()
    api.model_info(new_rid)  # still there
    alice.goto(f"/{new_rid}/settings")
    snap(alice, "settings-delete-again")
    alice.get_by_label(re.compile("to confirm")).fill(new_rid)
    with alice.expect_navigation():
        alice.get_by_role("button", name=re.compile("delete this model")).click()
    snap(alice, "deleted")
    assert alice.url.endswith("/alice")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(new_rid)
    resp = alice.goto(f"/{new_rid}")
    snap(alice, "deleted-404")
    assert resp is not None and resp.status == 404


def test_like_button(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    anon = new_page("anon")
    anon.goto(f"/{rid}")
    snap(anon, "repo-anon")
    expect(anon.locator(".like-btn")).to_be_disabled()

    page = new_page("bob")
    login(page, "bob")
    page.goto(f"/{rid}")
    snap(page, "repo")
    button = page.locator(".like-btn")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".n")).to_have_text("0")
    button.click()  # htmx swaps the button in place, without a navigation
    expect(page.locator(".like-btn")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".like-btn .n")).to_have_text("1")
    snap(page, "liked")
    assert api.model_info(rid).likes == 1
    page.reload()
    snap(page, "liked-reloaded")
    expect(page.locator(".like-btn")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".like-btn .n")).to_have_text("1")
    page.locator(".like-btn").click()
    expect(page.locator(".like-btn")).to_have_attribute("aria-pressed", "false")
    expect(page.locator(".like-btn .n")).to_have_text("0")
    snap(page, "unliked")
    assert api.model_info(rid).likes == 0


def test_community_tab_lists_a_pr(page: Page, api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=b"# Community\n")
    pr = api.create_commit(
        rid,
        commit_message="Add a tokenizer config",
        create_pr=True,
        operations=[
            CommitOperationAdd("tokenizer_config.json", b'{"model_max_length": 512}\n'),
            CommitOperationAdd("notes/review #1.md", b"# Review notes\n\nLooks good.\n"),
        ],
    )
    assert pr.pr_num is not None
    page.goto(f"/{rid}")
    snap(page, "repo")
    with page.expect_navigation():
        page.locator("nav.tabs").get_by_role("link", name="Community").click()
    snap(page, "community")
    row = page.locator("ul.commits li", has_text="Add a tokenizer config")
    expect(row).to_have_count(1)
    assert "PR" in row.locator(".badge").inner_text() and f"#{pr.pr_num}" in row.inner_text()
    assert "open" in row.inner_text()
    with page.expect_navigation():
        row.get_by_role("link", name="Browse files").click()
    snap(page, "pr-files")
    assert "tokenizer_config.json" in page.locator("table.files").inner_text()
    # Every link inside the PR's tree keeps the revision refs/pr/N whole (and odd file names intact).
    with page.expect_navigation():
        page.get_by_role("link", name="tokenizer_config.json").click()
    snap(page, "pr-file")
    assert "model_max_length" in page.locator("div.code").inner_text()
    expect(page.get_by_label("Branch or tag")).to_have_value(f"refs/pr/{pr.pr_num}")
    with page.expect_navigation():
        page.locator("nav.crumbs").get_by_role("link", name=rid.split("/")[1]).click()
    snap(page, "pr-files-again")
    with page.expect_navigation():
        page.get_by_role("link", name="notes", exact=True).click()
    snap(page, "pr-folder")
    with page.expect_navigation():
        page.get_by_role("link", name="review #1.md").click()
    snap(page, "pr-odd-name")
    assert page.locator("article.markdown h1").inner_text() == "Review notes"
    with page.expect_navigation():
        page.get_by_role("link", name="history", exact=True).click()
    snap(page, "pr-file-history")
    assert page.locator("ol.commits li a.title").first.inner_text() == "Add a tokenizer config"
    # The PR is not merged: main does not have the file.
    page.goto(f"/{rid}/tree/main")
    snap(page, "main-files")
    assert "tokenizer_config.json" not in page.locator("table.files").inner_text()
