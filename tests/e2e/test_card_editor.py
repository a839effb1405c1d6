"""The card editor (issue 18): the metadata form writes the YAML, the preview is the server's rendering, problems
show by their field before anything is committed, and a non-member proposes the change as a pull request."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from huggingface_hub import HfApi, hf_hub_download
from playwright.sync_api import Page, expect

from .conftest import login, snap

pytestmark = pytest.mark.usefixtures("no_server_errors")

CARD = "---\nlicense: mit\ncustom_key: keep me  # a comment the form must not touch\n---\n# Hello card\n\nSome text.\n"


def readme(api: HfApi, rid: str, revision: str = "main") -> str:
    path = hf_hub_download(rid, "README.md", revision=revision, endpoint=api.endpoint, token=api.token)
    with open(path, encoding="utf-8") as f:
        return f.read()


def open_editor(page: Page, rid: str) -> None:
    page.goto(f"/{rid}")
    snap(page, "repo")
    with page.expect_navigation():
        page.get_by_role("link", name="Edit model card").click()
    snap(page, "editor")
    expect(page.get_by_role("heading", name="Edit model card")).to_be_visible()


def test_edit_card_license_and_language(page: Page, api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=CARD.encode())
    login(page, "alice")
    open_editor(page, rid)
    text, preview = page.locator("#card-content"), page.locator("#card-preview")
    commit_btn = page.get_by_role("button", name="Commit changes")
    expect(preview.locator("h1")).to_have_text("Hello card")

    # The form writes the YAML (a language by name or by code), leaving the other key's text as it was.
    expect(page.get_by_label("License")).to_have_value("mit")
    page.get_by_label("License").fill("apache-2.0")
    page.get_by_label("Languages").fill("Spanish, vi")
    expect(text).to_have_value(re.compile(r"license: apache-2\.0\n"))
    expect(text).to_have_value(re.compile(r"language:\n  - es\n  - vi\n"))
    expect(page.locator("#note-language")).to_have_text("Spanish, Vietnamese")
    assert "custom_key: keep me  # a comment the form must not touch\n" in text.input_value()
    page.get_by_label("Task (pipeline_tag)").select_option("text-classification")
    expect(text).to_have_value(re.compile(r"pipeline_tag: text-classification\n"))
    expect(commit_btn).to_be_enabled()

    # The live preview follows the text, sanitized as the repo page's card is.
    with_script = (
        text.input_value() + '\n<script>document.title = "owned"</script><img src=x onerror="alert(1)">\n'
    )
    text.fill(with_script.replace("# Hello card", "# Hello edited card"))
    expect(preview.locator("h1")).to_have_text("Hello edited card")
    expect(preview.locator("img")).to_have_count(1)
    assert preview.locator("script").count() == 0 and preview.locator("img").get_attribute("onerror") is None
    text.fill(text.input_value().split("\n<script>")[0])
    expect(preview.locator("img")).to_have_count(0)
    snap(page, "card-editor")  # the must-show screenshot: form, text and preview
    found = Axe().run(page, context="#card-editor").response["violations"]
    serious = [
        (v["id"], [n["target"] for n in v["nodes"]]) for v in found if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious
    good = text.input_value()

    # Problems show by their field and the commit button refuses: an unknown license, a base model that
    # is not a repo id, a language nobody knows.
    page.get_by_label("License").fill("not-a-license")
    expect(page.locator("#err-license")).to_contain_text("license identifier")
    expect(commit_btn).to_be_disabled()
    page.get_by_label("Base model").fill("not a repo id")
    expect(page.locator("#err-base_model")).to_contain_text("namespace/name")
    page.get_by_label("Languages").fill("Qwertyish")
    expect(page.locator("#err-language")).to_contain_text("Unknown language")
    snap(page, "field-errors")
    page.get_by_label("License").fill("apache-2.0")
    page.get_by_label("Base model").fill("")
    page.get_by_label("Languages").fill("es, vi")
    expect(page.locator("#err-license")).to_be_empty()
    expect(commit_btn).to_be_enabled()

    # Invalid YAML: shown by the text, not committed (even when the form is posted past the disabled button).
    commits_before = len(api.list_repo_commits(rid))
    text.fill(good.replace("license: apache-2.0", "license: [apache-2.0"))
    expect(page.locator("#err-content")).to_contain_text("Invalid YAML")
    expect(commit_btn).to_be_disabled()
    snap(page, "invalid-yaml")
    with page.expect_navigation():
        page.locator("#card-editor").evaluate("f => f.submit()")
    snap(page, "invalid-yaml-refused")
    expect(page.locator("#err-content")).to_contain_text("Invalid YAML")
    assert len(api.list_repo_commits(rid)) == commits_before
    assert readme(api, rid) == CARD

    # Fixed, committed with a summary: the model page shows the new tags.
    page.locator("#card-content").fill(good)
    expect(page.locator("#err-content")).to_be_empty()
    expect(page.get_by_role("button", name="Commit changes")).to_be_enabled()
    page.get_by_label("Commit message").fill("Card: license and languages")
    with page.expect_navigation():
        page.get_by_role("button", name="Commit changes").click()
    snap(page, "committed")
    assert page.url.endswith(f"/{rid}")
    head = page.locator(".repo-head .tags")
    expect(head.locator('[data-group="license"]')).to_have_attribute("href", re.compile("license=apache-2.0"))
    expect(head.locator('a[data-group="language"][href$="language=es"]')).to_have_count(1)
    expect(head.locator('a[data-group="language"][href$="language=vi"]')).to_have_count(1)
    expect(page.locator("article.card-body h1")).to_have_text("Hello edited card")
    assert api.list_repo_commits(rid)[0].title == "Card: license and languages"
    info = api.model_info(rid)
    assert info.card_data is not None and info.card_data["license"] == "apache-2.0"
    assert info.card_data["language"] == ["es", "vi"] and info.pipeline_tag == "text-classification"
    assert readme(api, rid).endswith("---\n# Hello edited card\n\nSome text.\n")


def test_non_member_proposes_a_pull_request(
    new_page: Callable[..., Page], api: HfApi, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=CARD.encode())
    private = f"alice/{repo_name}-private"
    api.create_repo(private, private=True)
    bob = new_page("bob")
    login(bob, "bob")
    open_editor(bob, rid)
    expect(bob.get_by_role("button", name="Commit changes")).to_have_count(0)
    expect(bob.locator("#card-editor")).to_contain_text("proposed as a pull request")
    bob.locator("#cf-tags").fill("demo, workshop")
    expect(bob.locator("#card-content")).to_have_value(re.compile(r"tags:\n  - demo\n  - workshop\n"))
    with bob.expect_navigation():
        bob.get_by_role("button", name="Open a pull request").click()
    snap(bob, "pr-opened")
    m = re.search(r"/discussions/(\d+)$", bob.url)
    assert m, bob.url
    pr = api.get_discussion_details(rid, int(m.group(1)))
    assert pr.is_pull_request and pr.author == "bob"
    assert "  - workshop\n" in readme(api, rid, f"refs/pr/{pr.num}")
    assert readme(api, rid) == CARD  # main is unchanged
    # The preview endpoint: a form of the editor's page (CSRF), its body bounded.
    csrf = bob.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    ok = bob.request.post(f"/{rid}/card-preview", form={"content": "# Hi\n", "csrf": csrf})
    assert ok.status == 200 and ok.json()["html"].strip() == "<h1>Hi</h1>" and ok.json()["ok"] is True
    assert bob.request.post(f"/{rid}/card-preview", form={"content": "# Hi\n"}).status == 403
    big = bob.request.post(f"/{rid}/card-preview", form={"content": "x" * (9 << 20), "csrf": csrf})
    assert big.status == 413
    # A private repo's editor and preview are not there for bob.
    for url in (f"/{private}/edit-card/main", f"/{private}"):
        resp = bob.goto(url)
        snap(bob, "private-404")
        assert resp is not None and resp.status == 404
    resp = bob.request.post(f"/{private}/card-preview", form={"content": "# x"})
    assert resp.status == 404 or resp.status == 403


def test_dataset_card_from_an_empty_repo_and_a_moved_branch(page: Page, api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    login(page, "alice")
    page.goto(f"/datasets/{rid}")
    snap(page, "empty-dataset")
    with page.expect_navigation():
        page.get_by_role("link", name="Edit dataset card").click()
    snap(page, "dataset-editor")
    expect(page.locator("#card-content")).to_have_value("")
    page.get_by_label("Task categories").fill("text-classification")
    page.get_by_label("License", exact=True).fill("cc-by-4.0")
    expect(page.locator("#card-content")).to_have_value(
        "---\nlicense: cc-by-4.0\ntask_categories:\n  - text-classification\n---\n"
    )
    page.locator("#card-content").press("End")
    page.locator("#card-content").press_sequentially("# Reviews\n")
    expect(page.locator("#card-preview h1")).to_have_text("Reviews")
    page.get_by_label("Task categories").fill("not-a-task")
    expect(page.locator("#err-task_categories")).to_contain_text("task_categories")
    page.get_by_label("Task categories").fill("text-classification")
    expect(page.locator("#err-task_categories")).to_be_empty()
    with page.expect_navigation():
        page.get_by_role("button", name="Commit changes").click()
    snap(page, "dataset-committed")
    head = page.locator(".repo-head .tags")
    expect(head.locator('[data-group="license"]')).to_have_attribute("href", re.compile("license=cc-by-4.0"))
    expect(head.locator("a", has_text="Text Classification")).not_to_have_count(0)
    info = api.dataset_info(rid)
    assert info.card_data is not None and info.card_data["task_categories"] == ["text-classification"]

    # The branch moves while the editor is open: the commit is refused, nothing is overwritten.
    page.goto(f"/datasets/{rid}/edit-card/main")
    snap(page, "dataset-editor-again")
    api.upload_file(
        repo_id=rid, repo_type="dataset", path_in_repo="README.md", path_or_fileobj=b"# Someone else's card\n"
    )
    page.get_by_label("Tags").fill("late")
    expect(page.locator("#card-content")).to_have_value(re.compile(r"tags:\n  - late\n"))
    with page.expect_navigation():
        page.get_by_role("button", name="Commit changes").click()
    snap(page, "branch-moved")
    expect(page.locator("main")).to_contain_text("The branch was updated since you opened this page")
    path = hf_hub_download(rid, "README.md", repo_type="dataset", endpoint=api.endpoint, token=api.token)
    with open(path, encoding="utf-8") as f:
        assert f.read() == "# Someone else's card\n"


def test_space_card_keeps_its_config(page: Page, api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="space", space_sdk="static")
    card = "---\ntitle: Demo\nemoji: 🚀\nsdk: static\npinned: false\n---\n# A static Space\n"
    api.upload_file(repo_id=rid, repo_type="space", path_in_repo="README.md", path_or_fileobj=card.encode())
    login(page, "alice")
    page.goto(f"/spaces/{rid}")
    snap(page, "space")
    with page.expect_navigation():
        page.get_by_role("link", name="Edit Space card").click()
    snap(page, "space-editor")
    page.get_by_label("Tags", exact=True).fill("demo")
    expect(page.locator("#card-content")).to_have_value(re.compile(r"pinned: false\ntags:\n  - demo\n---\n"))
    with page.expect_navigation():
        page.get_by_role("button", name="Commit changes").click()
    snap(page, "space-committed")
    path = hf_hub_download(rid, "README.md", repo_type="space", endpoint=api.endpoint, token=api.token)
    with open(path, encoding="utf-8") as f:
        assert f.read() == card.replace("pinned: false\n", "pinned: false\ntags:\n  - demo\n")
    assert "demo" in (api.space_info(rid).tags or [])
