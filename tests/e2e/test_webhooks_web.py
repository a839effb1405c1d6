"""Chromium: the Webhooks section of the settings pages, on a server of its own that allow-lists 127.0.0.1
(the receiver's address): create a webhook, see its delivery in the log, replay it, disable and delete it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import Site, kill_group, new_site, start_killable
from ..webhook_receiver import Receiver
from .conftest import Shots, login, snap


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("webhooks-web")
    s = new_site(root / "data", "wanda", root / "server.log")
    proc = start_killable(s.data, s.port, s.log, {"AGORA_WEBHOOK_ALLOW": "127.0.0.1"})
    yield s
    kill_group(proc)


def wait_for(pred: Any, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)


@contextmanager
def wanda_page(site: Site, browser: Any, shots: Shots) -> Iterator[Any]:
    """A page of its own browser context on this module's server, logged in as wanda (screenshots kept)."""
    ctx = browser.new_context(base_url=site.endpoint, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        page.__dict__["_agora_shots"] = shots
        shots.watch(page, "wanda")
        login(page, "wanda")
        yield page
    finally:
        ctx.close()


def reloaded(page: Any, read: Any) -> Any:
    page.reload()
    return read()


def test_create_a_webhook_see_its_delivery_and_replay_it(site: Site, browser: Any, shots: Shots) -> None:
    api = HfApi(endpoint=site.endpoint, token=site.token)
    repo = api.create_repo("wanda/web-watched").repo_id
    receiver = Receiver()
    with closing(receiver), wanda_page(site, browser, shots) as page:
        page.locator("details.menu summary").click()
        with page.expect_navigation():
            page.get_by_role("link", name="Webhooks").click()
        snap(page, "webhooks-empty")
        assert page.get_by_text("No webhooks yet.").is_visible()

        # a refused target: the form says why
        page.get_by_label("Target URL").fill("http://10.1.2.3/hook")
        page.get_by_label("Watch").select_option("model")
        page.get_by_label("Name").fill(repo)
        with page.expect_navigation():
            page.get_by_role("button", name="Create webhook").click()
        snap(page, "refused")
        assert "AGORA_WEBHOOK_ALLOW" in page.get_by_role("alert").inner_text()

        page.get_by_label("Target URL").fill(receiver.url)
        page.get_by_label("Name").fill(repo)
        page.get_by_label("discussion").uncheck()
        page.get_by_label("Secret").fill("from-the-form")
        with page.expect_navigation():
            page.get_by_role("button", name="Create webhook").click()
        snap(page, "created")
        row = page.locator("tr.webhook")
        assert row.count() == 1 and f"model:{repo}" in row.inner_text() and "enabled" in row.inner_text()
        (w,) = api.list_webhooks()
        assert (w.url, w.domains, w.secret) == (receiver.url, ["repo"], "from-the-form")

        info = api.create_commit(repo, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
        got = receiver.wait(lambda j: j["repo"]["headSha"] == info.oid)
        assert got["headers"]["X-Webhook-Secret"] == "from-the-form"

        with page.expect_navigation():
            page.get_by_role("link", name=receiver.url).click()
        snap(page, "log")
        delivery = page.locator("details.delivery")
        wait_for(lambda: "· ok ·" in reloaded(page, lambda: delivery.first.locator("summary").inner_text()))
        snap(page, "log-ok")
        assert delivery.count() == 1 and "repo.content.update" in delivery.first.inner_text()
        delivery.first.locator("summary").click()
        assert delivery.first.locator("tr.attempt").first.locator("td").nth(1).inner_text() == "200"
        with page.expect_navigation():
            delivery.first.get_by_role("button", name="Replay").click()
        snap(page, "replayed")
        wait_for(lambda: len(receiver.posts) == 2)
        assert receiver.posts[1]["json"] == got["json"]
        wait_for(lambda: reloaded(page, lambda: page.locator("details.delivery").count()) == 2)
        snap(page, "two-deliveries")

        page.goto("/settings/webhooks")
        with page.expect_navigation():
            page.get_by_role("button", name="Disable").click()
        snap(page, "disabled")
        assert "disabled" in page.locator("tr.webhook").inner_text()
        assert api.get_webhook(w.id).disabled is True
        with page.expect_navigation():
            page.get_by_role("button", name="Delete").click()
        snap(page, "deleted")
        assert api.list_webhooks() == []


def test_edit_a_webhook_on_its_page(site: Site, browser: Any, shots: Shots) -> None:
    """The webhook's page edits it (url, watched items, domains, secret), with the keyboard; a bad line is said
    on the form and changes nothing; a user watched means all their repos, also one made later."""
    api = HfApi(endpoint=site.endpoint, token=site.token)
    repo = api.create_repo("wanda/web-edited").repo_id
    receiver = Receiver()
    stack = ExitStack()
    w = api.create_webhook(
        url=receiver.url + "?old", watched=[{"type": "model", "name": repo}], domains=["repo"]
    )
    try:
        page = stack.enter_context(wanda_page(site, browser, shots))
        # each row's buttons say which webhook they act on (a screen reader reads them out of the table)
        page.goto("/settings/webhooks")
        snap(page, "listing")
        assert page.get_by_role("button", name=f"Disable webhook {receiver.url}?old", exact=True).count() == 1
        assert page.get_by_role("button", name=f"Delete webhook {receiver.url}?old", exact=True).count() == 1
        page.goto(f"/settings/webhooks/{w.id}")
        assert page.get_by_label("Watched").input_value().strip() == f"model:{repo}"
        assert page.get_by_label("Secret").input_value() == ""
        page.get_by_label("Watched").fill("bucket wanda")
        with page.expect_navigation():
            page.get_by_role("button", name="Save changes").click()
        snap(page, "edit-refused")
        assert "type:name" in page.get_by_role("alert").inner_text()
        assert api.get_webhook(w.id) == w

        page.get_by_label("Target URL").fill(receiver.url)
        page.get_by_label("Watched").fill("user:wanda\n")
        page.get_by_label("discussion").check()
        page.get_by_label("repo", exact=True).uncheck()
        page.get_by_label("Secret").fill("edited-secret")
        page.get_by_label("Secret").focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        snap(page, "edited")
        got = api.get_webhook(w.id)
        assert (got.url, got.domains, got.secret) == (receiver.url, ["discussion"], "edited-secret")
        assert [(i.type, i.name) for i in got.watched] == [("user", "wanda")]
        assert page.get_by_label("Watched").input_value().strip() == "user:wanda"

        later = api.create_repo("wanda/made-later").repo_id
        api.create_discussion(later, title="hello")
        p = receiver.wait(lambda j: j["repo"]["name"] == later)
        assert p["json"]["event"] == {"scope": "discussion", "action": "create"}
        assert p["headers"]["X-Webhook-Secret"] == "edited-secret"
    finally:
        stack.close()
        receiver.close()
        api.delete_webhook(w.id)
