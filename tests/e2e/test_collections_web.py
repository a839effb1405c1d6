"""Collections in the browser: create one, add models from their repo pages with a note, reorder and edit,
see it on the profile, keep a private one hidden from another user, and delete it (docs/wire.md §13)."""

from __future__ import annotations

import re
from collections.abc import Callable

from huggingface_hub import HfApi
from playwright.sync_api import Page, expect

from .conftest import login, snap


def order(page: Page) -> list[str]:
    return [x.get_attribute("data-item") or "" for x in page.locator(".collection-item").all()]


def submit(page: Page, button: object) -> None:
    with page.expect_navigation():
        button.click()  # type: ignore[attr-defined]


def test_collection_create_add_reorder_edit_delete(
    new_page: Callable[..., Page], api: HfApi, repo_name: str
) -> None:
    a, b = f"alice/{repo_name}-a", f"alice/{repo_name}-b"
    for rid in (a, b):
        api.create_repo(rid, exist_ok=True)
        api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=f"# {rid}\n".encode())
    title = f"Picks {repo_name}"
    alice = new_page("alice")
    login(alice, "alice")

    # New collection, from the profile's collections section: private from the start.
    alice.goto("/alice")
    snap(alice, "profile")
    submit(alice, alice.locator(".profile-collections").get_by_role("link", name="New collection"))
    snap(alice, "new-form")
    expect(alice.get_by_label("Owner")).to_have_value("alice")
    alice.get_by_label("Title").fill(title)
    alice.get_by_label("Description").fill("Two small models")
    alice.get_by_role("checkbox", name=re.compile("Private")).check()
    submit(alice, alice.get_by_role("button", name="Create collection"))
    snap(alice, "created")
    assert re.search(r"/collections/alice/picks-[a-z0-9-]*-[0-9a-f]{24}$", alice.url), alice.url
    url = alice.url
    expect(alice.locator("h1")).to_contain_text(title)
    expect(alice.locator("h1 .badge")).to_have_text("private")

    # The same title again: the domain's 409, on the form, not a 500.
    alice.goto("/collections/new")
    snap(alice, "new-again")
    alice.get_by_label("Title").fill(title)
    submit(alice, alice.get_by_role("button", name="Create collection"))
    snap(alice, "duplicate-title")
    expect(alice.get_by_role("alert")).to_contain_text("already exists")

    # Add both models from their repo pages, the first with a note.
    for rid, note in ((a, "the small one"), (b, "")):
        alice.goto(f"/{rid}")
        snap(alice, "repo-page")
        box = alice.locator("#add-to-collection")
        box.get_by_label("Collection").select_option(label=title)
        box.get_by_label("Note").fill(note)
        submit(alice, box.get_by_role("button", name="Add to collection"))
        snap(alice, "added")
        assert alice.url == url
    assert order(alice) == [a, b]
    expect(alice.locator(".collection-item").first.locator(".note")).to_have_text("the small one")

    # Adding one already there shows the domain's 409 message.
    alice.goto(f"/{a}")
    snap(alice, "repo-page-again")
    resp_holder: list[int] = []
    again = alice.locator("#add-to-collection")
    again.get_by_label("Collection").select_option(label=title)  # alice may own others (other tests)
    alice.once("response", lambda r: resp_holder.append(r.status))
    submit(alice, again.get_by_role("button", name="Add to collection"))
    snap(alice, "already-there")
    assert resp_holder == [409]
    expect(alice.get_by_role("alert")).to_contain_text(f"{a} is already in this collection")

    # Reorder, edit a note, rename and make it public.
    alice.goto(url)
    snap(alice, "collection")
    submit(alice, alice.get_by_role("button", name=f"Move {repo_name}-b up"))
    snap(alice, "moved")
    assert order(alice) == [b, a]
    alice.get_by_label(f"Note for {repo_name}-b").fill("now first")
    submit(alice, alice.locator(".collection-item").first.get_by_role("button", name="Save note"))
    snap(alice, "note-saved")
    expect(alice.locator(".collection-item").first.locator(".note")).to_have_text("now first")

    bob = new_page("bob")
    login(bob, "bob")
    resp = bob.goto(url)
    snap(bob, "private-404")
    assert resp is not None and resp.status == 404
    assert title not in bob.content()

    alice.locator("summary", has_text="Edit collection").click()
    alice.locator(".collection-settings").get_by_label("Title").fill(f"{title} v2")
    alice.locator(".collection-settings").get_by_role("checkbox", name="Private").uncheck()
    submit(alice, alice.get_by_role("button", name="Save changes"))
    snap(alice, "edited")
    assert "-v2-" in alice.url and alice.url.rsplit("-", 1)[1] == url.rsplit("-", 1)[1]
    url = alice.url
    expect(alice.locator("h1")).to_have_text(f"{title} v2")

    # Public now: bob reads it, without any edit control.
    resp = bob.goto(url)
    snap(bob, "public")
    assert resp is not None and resp.status == 200
    assert order(bob) == [b, a]
    assert bob.locator(".item-actions, .collection-settings, form[action*='/collections/']").count() == 0

    # On the profile, with its item count.
    alice.goto("/alice")
    snap(alice, "profile-listed")
    expect(alice.locator(".profile-collections .card", has_text=f"{title} v2")).to_contain_text("2 items")

    # Remove an item, then delete the collection: the box must be ticked.
    alice.goto(url)
    snap(alice, "before-remove")
    submit(alice, alice.get_by_role("button", name=f"Remove {repo_name}-a"))
    snap(alice, "removed")
    assert order(alice) == [b]
    alice.locator("summary", has_text="Edit collection").click()
    submit(alice, alice.get_by_role("link", name="Delete this collection"))
    snap(alice, "delete-confirm")
    alice.get_by_role("checkbox", name=re.compile("I understand")).check()
    submit(alice, alice.get_by_role("button", name="Delete collection"))
    snap(alice, "deleted")
    assert alice.url.endswith("/alice")
    assert f"{title} v2" not in alice.locator(".profile-collections").inner_text()
    resp = alice.goto(url)
    snap(alice, "gone")
    assert resp is not None and resp.status == 404


def test_collection_forms_reject_bad_input(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    """What the browser's `required` attributes hide: the server's own answers to bad posts."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid, exist_ok=True)
    slug = api.create_collection(f"Checks {repo_name}", namespace="alice").slug
    url = f"/collections/{slug}"
    alice, bob = new_page("alice"), new_page("bob")
    login(alice, "alice")
    login(bob, "bob")
    alice.goto(url)
    snap(alice, "collection")
    csrf = alice.locator("meta[name=csrf-token]").get_attribute("content") or ""

    r = alice.request.post(f"{url}/edit", form={"csrf": csrf, "title": "  "}, max_redirects=0)
    assert r.status == 400 and "1 to 200 characters" in r.text()
    r = alice.request.post(f"{url}/delete", form={"csrf": csrf}, max_redirects=0)
    assert r.status == 400 and "Tick the box" in r.text()
    r = alice.request.post(f"{url}/edit", form={"title": "no csrf"}, max_redirects=0)
    assert r.status == 403 and "CSRF" in r.text()
    r = alice.request.post(
        "/collections/add",
        form={"csrf": csrf, "collection": slug, "item_type": "model", "item_id": "alice/does-not-exist"},
        max_redirects=0,
    )
    assert r.status == 404
    r = alice.request.post(
        "/collections/add",
        form={"csrf": csrf, "collection": slug, "item_type": "model", "item_id": rid, "note": "x" * 501},
        max_redirects=0,
    )
    assert r.status == 400 and "at most 500 characters" in r.text()

    # bob may read the public collection, but not change or delete it.
    bob.goto(url)
    snap(bob, "public-collection")
    bob_csrf = bob.locator("meta[name=csrf-token]").get_attribute("content") or ""
    for path, form in (("/edit", {"title": "mine"}), ("/delete", {"confirm": "on"})):
        r = bob.request.post(f"{url}{path}", form={"csrf": bob_csrf, **form}, max_redirects=0)
        assert r.status == 403, (path, r.status)
    r = bob.request.post(
        "/collections/add",
        form={"csrf": bob_csrf, "collection": slug, "item_type": "model", "item_id": rid},
        max_redirects=0,
    )
    assert r.status == 403
    assert api.get_collection(slug).title == f"Checks {repo_name}" and not api.get_collection(slug).items
