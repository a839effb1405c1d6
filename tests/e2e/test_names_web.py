"""Names in the browser: a site admin creates a canonical repo (no namespace) from the new-repo form."""

from __future__ import annotations

from typing import Any

import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Page, expect

from ..conftest import ENDPOINT, agora
from .conftest import login, snap


@pytest.fixture(scope="module")
def site_admin(server: Any) -> str:
    """A site admin (`webroot`, password `webroot-password`)."""
    agora(
        "user", "add", "webroot", "--admin", "--password-stdin", data=server.data, stdin="webroot-password\n"
    )
    return "webroot"


def test_admin_creates_canonical_repo(page: Page, site_admin: str) -> None:
    login(page, site_admin)
    page.goto("/settings/site")
    snap(page, "site-settings")
    page.get_by_role("link", name="model", exact=True).click()
    snap(page, "new-model")
    page.get_by_label("Owner").select_option(label="(none: a canonical repo, like gpt2)")
    page.get_by_label("Model name").fill("bert9")
    with page.expect_navigation():
        page.get_by_role("button", name="Create model").click()
    snap(page, "canonical-repo")
    assert page.url == f"{ENDPOINT}/bert9"
    expect(page.locator("header.repo-head h1")).to_contain_text("bert9")
    assert page.locator("header.repo-head h1 a").first.get_attribute("href") == "/bert9"
    info = HfApi(endpoint=ENDPOINT, token=False).model_info("bert9")
    assert info.id == "bert9" and info.author is None


def test_users_cannot_pick_no_owner(page: Page) -> None:
    login(page, "bob")
    page.goto("/new")
    snap(page, "new-model-bob")
    assert page.locator("option[value='(canonical)']").count() == 0
