"""Accounts in the browser: log in / log out, and access tokens (created once-shown, used, revoked)."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from playwright.sync_api import Page, expect

from .conftest import login, logout, snap


def test_login_and_logout(page: Page) -> None:
    # A page that needs an account sends to the form, then back where one was going.
    page.goto("/settings/tokens")
    snap(page, "login-required")
    assert "/login?next=" in page.url
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    snap(page, "wrong-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    assert page.locator("details.menu").count() == 0
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    snap(page, "logged-in-tokens")
    assert page.url.endswith("/settings/tokens")
    assert page.locator("details.menu summary").inner_text() == "alice"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["agora_session"]["httpOnly"] and cookies["agora_session"]["sameSite"] == "Lax"
    logout(page)
    page.goto("/settings/tokens")
    snap(page, "after-logout")
    assert "/login?next=" in page.url


def test_form_without_csrf_is_refused(page: Page) -> None:
    login(page, "alice")
    page.goto("/settings/tokens")
    snap(page, "tokens")
    page.evaluate(
        "document.querySelector('form[action=\"/settings/tokens\"] input[name=csrf]').value = 'forged'"
    )
    page.get_by_label("Name").fill("forged-token")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()
    snap(page, "csrf-refused")
    assert "CSRF" in page.locator("main").inner_text()
    page.goto("/settings/tokens")
    snap(page, "tokens-again")
    assert "forged-token" not in page.locator("table.files").inner_text()


def test_tokens_create_use_revoke(page: Page, server: object) -> None:
    login(page, "alice")
    page.goto("/settings/tokens")
    snap(page, "tokens")
    page.get_by_label("Name").fill("e2e-read")
    page.get_by_label("Role").select_option("read")
    with page.expect_navigation():
        page.get_by_role("button", name="Create token").click()
    snap(page, "token-created")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("hf_") or len(token) >= 20
    row = page.locator("table.files tr", has_text="e2e-read")
    assert "read" in row.inner_text()

    # Shown once: not on the page any more after a reload.
    page.reload()
    snap(page, "tokens-reloaded")
    assert page.locator("#new-token").count() == 0
    assert token not in page.content()
    expect(page.locator("table.files tr", has_text="e2e-read")).to_have_count(
        1
    )  # reloading made no second one

    # It works with huggingface_hub, as a read token.
    api = HfApi(endpoint=server.url, token=token)
    who = api.whoami()
    assert who["name"] == "alice"
    with pytest.raises(HfHubHTTPError):
        api.create_repo("alice/e2e-read-token-cannot-write")

    # Revoked, it stops working.
    with page.expect_navigation():
        page.locator("table.files tr", has_text="e2e-read").get_by_role("button", name="Revoke").click()
    snap(page, "token-revoked")
    assert page.locator("table.files tr", has_text="e2e-read").count() == 0
    with pytest.raises(HfHubHTTPError) as e:
        api.whoami()
    assert e.value.response.status_code == 401
