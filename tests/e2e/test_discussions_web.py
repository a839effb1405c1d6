"""Discussion and pull request pages in the browser: a PR from the web editor by a non-member, reviewed
and merged by the owner; a discussion opened, commented, edited, hidden and closed; the URL the client
returns opens the thread; a conflicting PR lists its files in conflict."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from playwright.sync_api import Page, expect

from ..conftest import ENDPOINT
from .conftest import login, snap


def test_pull_request_from_the_web_editor(
    new_page: Callable[..., Page], api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=b"# Model\n\nFirst line.\n")
    bob = new_page("bob")
    login(bob, "bob")
    bob.goto(f"/{rid}/blob/main/README.md")
    snap(bob, "readme")
    with bob.expect_navigation():
        bob.get_by_role("link", name="Edit", exact=True).click()
    snap(bob, "editor")
    bob.locator("#editor-content").fill("# Model\n\nFirst line.\n\nA line from bob.\n")
    bob.get_by_label("Commit message").fill("Say more in the README")
    with bob.expect_navigation():
        bob.get_by_role("button", name="Open a pull request").click()
    snap(bob, "pr-opened")
    assert bob.url.endswith(f"/{rid}/discussions/1")
    expect(bob.locator("#thread-title")).to_contain_text("Say more in the README")
    assert api.get_discussion_details(rid, 1).is_pull_request

    alice = new_page("alice")
    login(alice, "alice")
    alice.goto(f"/{rid}")
    snap(alice, "repo")
    with alice.expect_navigation():
        alice.locator("nav.tabs").get_by_role("link", name="Community").click()
    snap(alice, "community")
    with alice.expect_navigation():
        alice.get_by_role("link", name="#1 Say more in the README").click()
    snap(alice, "pr")
    alice.get_by_label("Comment (Markdown)").fill("Thanks **bob**!")
    with alice.expect_navigation():
        alice.get_by_role("button", name="Comment", exact=True).click()
    snap(alice, "commented")
    expect(alice.locator("li.comment strong", has_text="bob")).to_be_visible()  # markdown rendered
    with alice.expect_navigation():
        alice.get_by_role("link", name="Files changed").click()
    snap(alice, "files")
    diff = alice.locator('section.diff[data-path="README.md"]')
    expect(diff).to_contain_text("A line from bob.")
    with alice.expect_navigation():
        alice.get_by_role("button", name="Merge").click()
    snap(alice, "merged")
    expect(alice.locator("#thread-status")).to_have_text("merged")
    expect(diff).to_contain_text("A line from bob.")  # a merged PR still shows what it changed
    path = hf_hub_download(rid, "README.md", endpoint=ENDPOINT, local_dir=tmp_path)
    assert "A line from bob." in Path(path).read_text()


def test_discussion_in_the_browser(
    new_page: Callable[..., Page], api: HfApi, bob: str, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    page = new_page("bob")
    login(page, "bob")
    page.goto(f"/datasets/{rid}/discussions")
    snap(page, "community")
    with page.expect_navigation():
        page.get_by_role("link", name="New discussion").click()
    snap(page, "new-discussion")
    page.get_by_label("Title").fill("Where is the test split?")
    page.get_by_label("Description (Markdown)").fill("I only see *train*.")
    with page.expect_navigation():
        page.get_by_role("button", name="Publish").click()
    snap(page, "opened")
    assert page.url.endswith(f"/datasets/{rid}/discussions/1")
    expect(page.locator("li.comment em", has_text="train")).to_be_visible()
    page.get_by_label("Comment (Markdown)").fill("first take")
    with page.expect_navigation():
        page.get_by_role("button", name="Comment", exact=True).click()
    snap(page, "commented")
    mine = page.locator("li.comment", has_text="first take")
    mine.locator("details.edit-comment summary").click()
    mine.locator("textarea[name=content]").fill("second take")
    with page.expect_navigation():
        mine.get_by_role("button", name="Save").click()
    snap(page, "edited")
    edited = page.locator("li.comment").nth(1)
    expect(edited.locator(".markdown")).to_have_text("second take")
    expect(edited.locator(".edited")).to_be_visible()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        edited.get_by_role("button", name="Hide").click()
    snap(page, "hidden")
    expect(page.locator("li.comment").nth(1)).to_contain_text("This comment has been hidden")
    assert "second take" not in page.content()
    page.locator("details.rename summary").click()
    page.locator("details.rename input[name=title]").fill("Where is the test split? (found)")
    with page.expect_navigation():
        page.locator("details.rename button").click()
    snap(page, "renamed")
    expect(page.locator("#thread-title")).to_contain_text("(found)")
    expect(page.locator("li.title-change")).to_contain_text("changed the title")
    with page.expect_navigation():
        page.get_by_role("button", name="Close discussion").click()
    snap(page, "closed")
    expect(page.locator("#thread-status")).to_have_text("closed")
    details = api.get_discussion_details(rid, 1, repo_type="dataset")
    assert details.status == "closed" and details.title == "Where is the test split? (found)"
    assert [(e.hidden, e.edited) for e in details.events if e.type == "comment"] == [
        (False, False),
        (True, True),
    ]

    # The URL the client returns for a discussion opens that discussion's page.
    d = HfApi(endpoint=ENDPOINT, token=bob).create_discussion(rid, title="Another one", repo_type="dataset")
    resp = page.goto(d.url)
    snap(page, "client-url")
    assert resp is not None and resp.status == 200
    expect(page.locator("#thread-title")).to_contain_text("Another one")


def test_conflicting_pull_request_lists_its_files(
    new_page: Callable[..., Page], api: HfApi, bob: str, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"base\n")
    HfApi(endpoint=ENDPOINT, token=bob).create_commit(
        rid, operations=[CommitOperationAdd("a.txt", b"bob\n")], commit_message="Bob's a", create_pr=True
    )
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"alice\n")
    page = new_page("alice")
    login(page, "alice")
    page.goto(f"/{rid}/discussions/1/files")
    snap(page, "conflicts")
    expect(page.locator("section.conflicts")).to_contain_text("a.txt")
    expect(page.get_by_role("button", name="Merge")).to_be_disabled()
    api.create_repo(f"{rid}-private", private=True)
    api.create_discussion(f"{rid}-private", title="secret")
    other = new_page("bob")
    login(other, "bob")
    resp = other.goto(f"/{rid}-private/discussions/1")
    snap(other, "private-404")
    assert resp is not None and resp.status == 404
