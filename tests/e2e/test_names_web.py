"""Names in the browser: a site admin creates a canonical repo (no namespace) from the new-repo form; an org's
admin sets its full name and avatar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
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


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the server reads the type from the first bytes


def test_org_admin_sets_fullname_and_avatar(page: Page, server: Any, tmp_path: Path) -> None:
    agora("org", "create", "lab9e", "--owner", "alice", data=server.data)
    login(page, "alice")
    page.goto("/lab9e")
    snap(page, "org-page")
    page.get_by_role("link", name="Settings").click()
    snap(page, "org-settings")
    page.get_by_label("Full name").fill("Lab Nine E")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    snap(page, "fullname-saved")
    (tmp_path / "a.png").write_bytes(PNG)
    page.get_by_label("Avatar image").set_input_files(str(tmp_path / "a.png"))
    expect(page.locator("#avatar-status")).to_have_text("Avatar saved")
    snap(page, "avatar-saved")
    r = httpx.get(f"{ENDPOINT}/avatars/lab9e")
    assert r.headers["content-type"] == "image/png" and r.content == PNG
    (tmp_path / "a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    page.get_by_label("Avatar image").set_input_files(str(tmp_path / "a.svg"))
    expect(page.locator("#avatar-status")).to_contain_text("PNG, JPEG, GIF or WebP")
    snap(page, "svg-refused")
    assert httpx.get(f"{ENDPOINT}/avatars/lab9e").content == PNG
    page.goto("/lab9e")
    snap(page, "org-page-after")
    expect(page.locator("section.profile h1")).to_contain_text("Lab Nine E")
    page.goto("/alice")  # a member's profile lists the org by its full name, with its avatar
    snap(page, "member-profile-orgs")
    chip = page.locator("a.org-chip", has_text="Lab Nine E")
    expect(chip).to_have_attribute("href", "/lab9e")
    expect(chip.locator("img.avatar")).to_have_attribute("src", "/avatars/lab9e")
    org = next(
        o
        for o in HfApi(endpoint=ENDPOINT, token=server.token("alice")).whoami()["orgs"]
        if o["name"] == "lab9e"
    )
    assert org["fullname"] == "Lab Nine E"


def test_org_settings_for_admins_only(page: Page, server: Any) -> None:
    agora("org", "create", "lab9f", "--owner", "alice", data=server.data)
    agora("org", "add-member", "lab9f", "bob", "--role", "write", data=server.data)
    login(page, "bob")
    page.goto("/organizations/lab9f/settings")
    snap(page, "bob-org-settings")
    assert page.locator("#avatar-input").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    r = page.request.put("/organizations/lab9f/avatar", data=PNG, headers={"X-CSRF-Token": csrf or ""})
    assert r.status == 403
