"""The Community tab and thread pages as a huggingface.co user uses them (issue 17 audit): the list's filters,
search, paging, authors and comment counts and the tab's count; the New pull request form (a draft PR with the
commands to push to it); a refused reply keeps its text; only the author or the repo's writers hide a comment;
a PR from the upload page's drag and drop by a non-member."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from playwright.sync_api import Page, expect

from ..compat.test_git_push import Git
from ..conftest import ENDPOINT, PORT
from .conftest import login, snap


def test_community_list_filters_search_and_pages(
    new_page: Callable[..., Page], api: HfApi, bob: str, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"a\n")
    as_bob = HfApi(endpoint=ENDPOINT, token=bob)
    for i in range(27):
        as_bob.create_discussion(rid, title=f"Question {i:02d}")
    as_bob.create_pull_request(rid, title="Fix the card")
    as_bob.comment_discussion(rid, 1, "a reply")
    api.comment_discussion(rid, 1, "and another")
    api.change_discussion_status(rid, 2, "closed")
    page = new_page("anon")
    page.goto(f"/{rid}")
    snap(page, "repo")
    tab = page.locator("nav.tabs").get_by_role("link", name=re.compile("Community"))
    expect(tab).to_contain_text("27")  # 26 open discussions and the PR
    with page.expect_navigation():
        tab.click()
    snap(page, "community")
    expect(page.get_by_role("link", name="Open (27)")).to_be_visible()
    expect(page.get_by_role("link", name="Closed (1)")).to_be_visible()
    expect(page.get_by_role("link", name="Pull requests (1)")).to_be_visible()
    expect(page.get_by_role("link", name="Discussions (26)")).to_be_visible()
    assert page.locator("ul.discussions li").count() == 25  # a page of 25, newest first
    first = page.locator('li[data-num="1"]')
    expect(first).to_have_count(0)
    with page.expect_navigation():
        page.get_by_role("link", name="Next").click()
    snap(page, "page-2")
    expect(page.locator("nav.pager")).to_contain_text("Page 2 of 2")
    expect(first).to_contain_text("bob")
    expect(first.locator(".comments")).to_have_text("2 comments")
    expect(first.locator(".state")).to_have_text("open")
    with page.expect_navigation():
        page.get_by_role("link", name="Pull requests (1)").click()
    snap(page, "pull-requests")
    expect(page.locator("ul.discussions li")).to_have_count(1)
    expect(page.locator("ul.discussions li")).to_contain_text("Fix the card")
    page.get_by_label("Search titles").fill("question 1")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    snap(page, "search-in-prs")
    expect(page.locator("ul.discussions li")).to_contain_text("No open pull requests matching")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^All \(\d+\)$")).last.click()
    snap(page, "search-all-kinds")
    expect(page.locator("ul.discussions li[data-num]")).to_have_count(10)  # Question 10 to 19
    with page.expect_navigation():
        page.get_by_role("link", name="Closed (0)").click()
    snap(page, "search-closed")
    expect(page.locator("ul.discussions li[data-num]")).to_have_count(0)
    page.goto(f"/{rid}/discussions?status=closed")
    snap(page, "closed")
    expect(page.locator('li[data-num="2"] .state')).to_have_text("closed")


def test_new_pull_request_is_a_draft_with_the_push_commands(
    new_page: Callable[..., Page], api: HfApi, bob: str, repo_name: str, tmp_path: Path
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"a\n", repo_type="dataset")
    page = new_page("bob")
    login(page, "bob")
    page.goto(f"/datasets/{rid}/discussions")
    with page.expect_navigation():
        page.get_by_role("link", name="New pull request").click()
    snap(page, "new-pr-form")
    expect(page.get_by_role("heading", name="New pull request")).to_be_visible()
    page.get_by_label("Title").fill("Add b.txt")
    with page.expect_navigation():
        page.get_by_role("button", name="Create a draft pull request").click()
    snap(page, "draft")
    assert page.url.endswith(f"/datasets/{rid}/discussions/1")
    expect(page.locator("#thread-status")).to_have_text("draft")
    expect(page.locator("li.comment").first).to_contain_text("No description provided.")
    push = page.locator("details.pr-push")
    expect(push).to_contain_text(f"git clone {ENDPOINT}/datasets/{rid}")
    expect(push).to_contain_text("git push origin pr/1:refs/pr/1")
    expect(push).to_contain_text('revision="refs/pr/1"')
    expect(push).to_contain_text('repo_type="dataset"')
    details = api.get_discussion_details(rid, 1, repo_type="dataset")
    assert details.is_pull_request and details.status == "draft"

    # What the page says to do, done: a commit to refs/pr/1 through huggingface_hub.
    info = HfApi(endpoint=ENDPOINT, token=bob).upload_file(
        path_or_fileobj=b"b\n", path_in_repo="b.txt", repo_id=rid, repo_type="dataset", revision="refs/pr/1"
    )
    # ... and the page's git commands, run as shown (bob's token as the password, from a credential store).
    git = Git(tmp_path, credential_store=True)
    git.credentials.write_text(f"http://bob:{bob}@127.0.0.1:{PORT}\n")
    work = tmp_path
    for line in push.locator("pre").first.inner_text().splitlines():
        if line.startswith("cd "):
            work = tmp_path / line[3:]
        elif line.startswith("#"):  # the edit
            (work / "c.txt").write_text("pushed with git\n")
            git("add", "c.txt", cwd=work)
            git("-c", "user.name=bob", "-c", "user.email=b@x", "commit", "-m", "Add c with git", cwd=work)
        else:
            assert line.startswith("git "), line
            git(*shlex.split(line)[1:], cwd=work)
    files = api.list_repo_files(rid, repo_type="dataset", revision="refs/pr/1")
    assert sorted(files) == [".gitattributes", "a.txt", "b.txt", "c.txt"]
    page.reload()
    snap(page, "pushed")
    commit = page.locator("li.event.commit")
    expect(commit.first).to_contain_text(info.oid[:7])
    expect(commit.last).to_contain_text("Add c with git")
    alice = new_page("alice")
    login(alice, "alice")
    alice.goto(f"/datasets/{rid}/discussions/1/files")
    snap(alice, "draft-files")
    expect(alice.locator('section.diff[data-path="b.txt"]')).to_be_visible()
    expect(alice.get_by_role("button", name="Merge")).to_have_count(0)
    expect(alice.locator(".draft-note")).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("button", name="Publish pull request").click()
    snap(page, "published")
    expect(page.locator("#thread-status")).to_have_text("open")
    expect(page.locator("li.status-change")).to_contain_text("published")
    alice.reload()
    with alice.expect_navigation():
        alice.get_by_role("button", name="Merge").click()
    snap(alice, "merged")
    expect(alice.locator("#thread-status")).to_have_text("merged")
    merged = api.get_discussion_details(rid, 1, repo_type="dataset")
    assert merged.status == "merged" and merged.merge_commit_oid
    link = alice.locator(f'a[href="/datasets/{rid}/commit/{merged.merge_commit_oid}"]')
    expect(link.last).to_be_visible()  # a fast-forward: the merge commit is the PR's head
    with alice.expect_navigation():
        alice.get_by_role("link", name="Conversation").click()
    snap(alice, "merged-conversation")
    expect(alice.locator("#merge-commit")).to_have_attribute(
        "href", f"/datasets/{rid}/commit/{merged.merge_commit_oid}"
    )


def test_reply_kept_on_error_and_only_author_or_writers_hide(
    new_page: Callable[..., Page], api: HfApi, bob: str, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    HfApi(endpoint=ENDPOINT, token=bob).create_discussion(
        rid,
        title="Payloads",
        description='**bold**\n\n<script>alert(1)</script><img src=x onerror="alert(2)">',
    )
    dialogs: list[str] = []
    carol = new_page("carol")
    carol.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(carol, "carol")
    carol.goto(f"/{rid}/discussions/1")
    snap(carol, "thread")
    first = carol.locator("li.comment").first
    expect(first.locator("strong")).to_have_text("bold")
    assert first.locator("script, img[onerror]").count() == 0 and not dialogs

    # A reply the server refuses (only blanks): the page says why and the text is still there.
    carol.get_by_label("Comment (Markdown)").fill("   \n   ")
    with carol.expect_navigation():
        carol.get_by_role("button", name="Comment", exact=True).click()
    snap(carol, "refused")
    expect(carol.locator("#reply-error")).to_have_text("The comment is empty")
    assert carol.get_by_label("Comment (Markdown)").input_value() == "   \n   "

    # An edit refused (blanks): the comment's edit box opens again with the error and the typed text.
    mine = carol.locator("li.comment").nth(1)
    carol.get_by_label("Comment (Markdown)").fill("carol's reply")
    with carol.expect_navigation():
        carol.get_by_role("button", name="Comment", exact=True).click()
    snap(carol, "replied")
    mine.locator("details.edit-comment summary").click()
    mine.locator("textarea[name=content]").fill("  \n ")
    with carol.expect_navigation():
        mine.get_by_role("button", name="Save").click()
    snap(carol, "edit-refused")
    expect(mine.locator("#edit-error")).to_have_text("The comment is empty")
    expect(mine.locator("textarea[name=content]")).to_have_value("  \n ")
    expect(mine.locator(".markdown")).to_have_text("carol's reply")

    # The new discussion form refused (a title of blanks): shown again with the error and what was typed.
    carol.goto(f"/{rid}/discussions/new")
    snap(carol, "new-discussion")
    carol.get_by_label("Title").fill("   ")
    carol.get_by_label("Description (Markdown)").fill("a long description I would hate to lose")
    with carol.expect_navigation():
        carol.get_by_role("button", name="Publish").click()
    snap(carol, "new-refused")
    expect(carol.locator("#form-error")).to_contain_text("needs a title")
    expect(carol.get_by_label("Description (Markdown)")).to_have_value(
        "a long description I would hate to lose"
    )
    carol.goto(f"/{rid}/discussions/1")
    snap(carol, "thread-again")

    # carol is neither the comment's author nor a writer: no Hide button, and the server refuses the form.
    expect(first.get_by_role("button", name="Hide")).to_have_count(0)
    cid = first.get_attribute("data-id")
    csrf = carol.locator("#reply input[name=csrf]").input_value()
    resp = carol.request.post(
        f"{ENDPOINT}/{rid}/discussions/1/comment/{cid}/hide",
        form={"csrf": csrf},
        headers={"Origin": ENDPOINT},
        max_redirects=0,
    )
    assert resp.status == 403
    assert not api.get_discussion_details(rid, 1).events[0].hidden
    # ... which a writer of the repo may: alice hides bob's post through the same form.
    alice = new_page("alice")
    login(alice, "alice")
    alice.goto(f"/{rid}/discussions/1")
    snap(alice, "thread")
    alice.once("dialog", lambda d: d.accept())
    with alice.expect_navigation():
        alice.locator("li.comment").first.get_by_role("button", name="Hide").click()
    snap(alice, "hidden")
    expect(alice.locator("li.comment").first).to_contain_text("This comment has been hidden by alice")
    assert api.get_discussion_details(rid, 1).events[0].hidden

    # The discussion's author closes it with a last word, in one go.
    bob_page = new_page("bob")
    login(bob_page, "bob")
    bob_page.goto(f"/{rid}/discussions/1")
    snap(bob_page, "thread")
    bob_page.get_by_label("Comment (Markdown)").fill("Answered, *thanks*")
    with bob_page.expect_navigation():
        bob_page.get_by_role("button", name="Comment and close").click()
    snap(bob_page, "closed")
    expect(bob_page.locator("#thread-status")).to_have_text("closed")
    expect(bob_page.locator("li.comment").last.locator("em")).to_have_text("thanks")
    expect(bob_page.locator("li.status-change").last).to_contain_text("closed")
    expect(bob_page.get_by_role("button", name="Comment and reopen")).to_be_visible()

    # A private repo's thread and its forms: 404 to carol; a wrong number: the 404 page.
    api.create_repo(f"{rid}-private", private=True)
    api.create_discussion(f"{rid}-private", title="secret")
    secret_cid = api.get_discussion_details(f"{rid}-private", 1).events[0].id
    for url in ("1/comment", "1/title", "1/status", "1/merge", f"1/comment/{secret_cid}/hide", "new"):
        resp = carol.request.post(
            f"{ENDPOINT}/{rid}-private/discussions/{url}",
            form={"csrf": csrf, "comment": "x", "title": "x", "status": "closed"},
            headers={"Origin": ENDPOINT},
            max_redirects=0,
        )
        assert resp.status == 404, url
    for url in ("", "/1", "/1/files", "/new", "/new?type=pull_request"):
        seen = carol.goto(f"/{rid}-private/discussions{url}")
        snap(carol, f"private{url}")
        assert seen is not None and seen.status == 404, url
    missing = carol.goto(f"/{rid}/discussions/99")
    snap(carol, "missing")
    assert missing is not None and missing.status == 404
    expect(carol.locator("main")).to_contain_text("Discussion #99 not found")


def test_pull_request_from_a_drop_on_the_upload_page(
    new_page: Callable[..., Page], api: HfApi, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"a\n")
    page = new_page("bob")
    login(page, "bob")
    page.goto(f"/{rid}/upload/main")
    snap(page, "upload")
    expect(page.locator("#upload-form")).to_contain_text("proposed as a pull request")
    drop = page.evaluate_handle(
        """() => { const dt = new DataTransfer();
                   dt.items.add(new File(["dropped by bob\\n"], "dropped.txt", {type: "text/plain"}));
                   return dt; }"""
    )
    page.locator("#dropzone").dispatch_event("drop", {"dataTransfer": drop})
    expect(page.locator("#upload-list")).to_contain_text("dropped.txt")
    page.get_by_label("Commit message").fill("Drop a file")
    button = page.get_by_role("button", name="Open a pull request")
    expect(button).to_be_enabled()
    with page.expect_navigation():
        button.click()
    snap(page, "pr")
    assert page.url.endswith(f"/{rid}/discussions/1")
    expect(page.locator("nav.tabs").get_by_role("link", name=re.compile("Community"))).to_contain_text("1")
    with page.expect_navigation():
        page.get_by_role("link", name="Files changed").click()
    snap(page, "files")
    expect(page.locator('section.diff[data-path="dropped.txt"]')).to_contain_text("dropped by bob")
    assert api.list_repo_files(rid) == [".gitattributes", "a.txt"]  # main untouched


def test_pull_request_files_view_kinds_of_change_and_a_bounded_diff(
    new_page: Callable[..., Page], api: HfApi, bob: str, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.create_commit(
        rid,
        [
            CommitOperationAdd("a-gone.txt", b"gone\n"),
            CommitOperationAdd("a-keep.txt", b"one\ntwo\n"),
        ],
        commit_message="base",
    )
    big = b"".join(b"line %06d of a large text file, long enough to count\n" % i for i in range(3_000))
    info = HfApi(endpoint=ENDPOINT, token=bob).create_commit(
        rid,
        [
            CommitOperationDelete("a-gone.txt"),
            CommitOperationAdd("a-keep.txt", b"one\nTWO\n"),
            *(CommitOperationAdd(f"big-{k}.txt", big.replace(b"line", k.encode() * 4)) for k in "abcd"),
            CommitOperationAdd("c.txt", b"past the budget\n"),
            CommitOperationAdd("model.bin", bytes(range(256)) * 64),
        ],
        commit_message="Many kinds of change",
        create_pr=True,
    )
    assert info.pr_url and info.pr_num == 1
    page = new_page("bob")
    login(page, "bob")
    resp = page.goto(info.pr_url)  # the URL huggingface_hub returns opens the PR's page
    snap(page, "pr")
    assert resp is not None and resp.status == 200
    with page.expect_navigation():
        page.get_by_role("link", name="Files changed").click()
    snap(page, "files")
    diff = page.locator("section.diff")
    expect(diff.filter(has_text="a-gone.txt").locator(".status")).to_have_text("deleted")
    expect(diff.filter(has_text="a-keep.txt").locator(".status")).to_have_text("modified")
    expect(diff.filter(has_text="a-keep.txt")).to_contain_text("TWO")
    expect(page.locator('section.diff[data-path="big-a.txt"] .status')).to_have_text("added")
    # Each file's patch and the page's whole diff are bounded: the big ones are cut, the next left out.
    expect(page.locator('section.diff[data-path="big-a.txt"] .diff-cut')).to_contain_text("cut short")
    for k in "bcd":
        expect(page.locator(f'section.diff[data-path="big-{k}.txt"] .diff-cut')).to_contain_text("cut short")
    c = page.locator('section.diff[data-path="c.txt"]')
    expect(c.locator(".diff-cut")).to_contain_text("too large to show here")
    expect(c.get_by_role("link", name="view the file")).to_have_attribute(
        "href", re.compile(r"/blob/[0-9a-f]{40}/c\.txt$")
    )
    assert len(page.content()) < 2_000_000
    model = page.locator('section.diff[data-path="model.bin"]')
    expect(model).to_contain_text(re.compile("LFS file|Binary file"))
    expect(model.locator(".code")).to_have_count(0)


def test_gated_pull_request_files_say_why_they_are_not_shown(
    new_page: Callable[..., Page], api: HfApi, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"a\n")
    api.update_repo_settings(rid, gated="manual")
    api.create_commit(
        rid, [CommitOperationAdd("notes.txt", b"secret numbers\n")], commit_message="Notes", create_pr=True
    )
    page = new_page("carol")
    login(page, "carol")
    page.goto(f"/{rid}/discussions/1/files")
    snap(page, "gated-files")
    expect(page.locator(".gate-closed")).to_contain_text("This repository is gated")
    expect(page.get_by_text("0 changed files")).to_have_count(0)
    assert "secret numbers" not in page.content()
    alice = new_page("alice")
    login(alice, "alice")
    alice.goto(f"/{rid}/discussions/1/files")
    snap(alice, "files")
    expect(alice.locator('section.diff[data-path="notes.txt"]')).to_contain_text("secret numbers")
