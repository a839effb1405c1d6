"""A static Space in Chromium: its page frames the app, the app's own JavaScript runs, and that script cannot
read the logged-in visitor's Hub pages, tokens or cookies (issue 16: the app is its own opaque origin)."""

from __future__ import annotations

from collections.abc import Callable

from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Page

from agora.spaces import missing

from .conftest import login, snap

APP_JS = b"""
const out = (id, v) => { const el = document.createElement('p'); el.id = id; el.textContent = v;
                         document.body.appendChild(el); };
out('ran', 'script ran');
try { out('cookie', 'cookie:' + document.cookie); } catch (e) { out('cookie', 'cookie blocked: ' + e.name); }
fetch('/settings/tokens', {credentials: 'include'}).then(r => r.text())
  .then(t => out('tokens', 'read ' + (t.includes('Log out') ? 'a logged-in page' : 'an anonymous page')))
  .catch(e => out('tokens', 'tokens blocked: ' + e.name));
fetch('/api/whoami-v2', {credentials: 'include'}).then(r => out('whoami', 'whoami ' + r.status))
  .catch(e => out('whoami', 'whoami blocked: ' + e.name));
try { out('parent', 'parent:' + window.parent.document.title); }
catch (e) { out('parent', 'parent blocked: ' + e.name); }
"""
INDEX = b"""<!doctype html><meta charset=utf-8><title>demo</title>
<h1 id=hello>Hello from a static Space</h1><script src="app.js"></script>"""


def test_static_space_runs_in_its_own_origin(api: HfApi, new_page: Callable[..., Page]) -> None:
    rid = "alice/e2e-static-space"
    api.create_repo(rid, repo_type="space", space_sdk="static", exist_ok=True)
    card = b"---\nsdk: static\nemoji: \xf0\x9f\x9a\x80\ncolorFrom: blue\ncolorTo: green\n---\n# Demo\n"
    ops = [CommitOperationAdd("README.md", card), CommitOperationAdd("index.html", INDEX),
           CommitOperationAdd("app.js", APP_JS)]  # fmt: skip
    api.create_commit(rid, ops, commit_message="static app", repo_type="space")
    page = new_page("alice")
    login(page, "alice")
    page.goto(f"/spaces/{rid}")
    app = page.frame_locator("iframe.space-frame")
    assert app.locator("#hello").inner_text() == "Hello from a static Space"
    assert app.locator("#ran").inner_text() == "script ran"
    assert app.locator("#cookie").inner_text().startswith("cookie blocked")
    assert app.locator("#parent").inner_text().startswith("parent blocked")
    # the fetches end either refused (CORS) or as an anonymous visitor: never as alice
    tokens = app.locator("#tokens").inner_text()
    assert tokens.startswith("tokens blocked") or tokens == "read an anonymous page", tokens
    whoami = app.locator("#whoami").inner_text()
    assert whoami.startswith("whoami blocked") or whoami == "whoami 401", whoami
    snap(page, "space-running")


def test_new_space_form_writes_its_config_and_app(api: HfApi, new_page: Callable[..., Page]) -> None:
    """The New Space form commits a README with the Space's config and a minimal app for the SDK; a static one
    runs at once in its page, a gradio one starts building."""
    page = new_page("alice")
    login(page, "alice")
    for sdk, name in (("static", "e2e-form-static"), ("gradio", "e2e-form-gradio")):
        page.goto("/new-space")
        snap(page, f"new-space-form-{sdk}")
        page.get_by_label("Space name").fill(name)
        page.locator(f"input[name=sdk][value={sdk}]").check()
        page.get_by_label("Short description").fill(f"A {sdk} demo")
        with page.expect_navigation():
            page.get_by_role("button", name="Create space").click()
        snap(page, f"new-space-page-{sdk}")
        assert page.url.endswith(f"/spaces/alice/{name}")
        files = sorted(api.list_repo_files(f"alice/{name}", repo_type="space"))
        card = api.space_info(f"alice/{name}").card_data
        assert (
            card is not None and card.get("sdk") == sdk and card.get("short_description") == f"A {sdk} demo"
        )
        if sdk == "static":
            assert files == [".gitattributes", "README.md", "index.html"]
            frame = page.frame_locator("iframe.space-frame")
            assert frame.locator("h1").inner_text() == name
        else:  # the push started its build: the page says so and follows it until the app runs (htmx)
            assert files == [".gitattributes", "README.md", "app.py"]
            stage = page.locator("#space-app").get_attribute("data-stage")
            assert stage in ("SLEEPING", "BUILDING", "APP_STARTING", "RUNNING"), stage
            if stage != "RUNNING" and not missing():
                assert page.locator(".space-stage h3").inner_text() in (
                    "Building",
                    "App Starting",
                    "Sleeping",
                )
                snap(page, "new-space-building")
                page.locator("iframe.space-frame").wait_for(timeout=300_000)
                page.frame_locator("iframe.space-frame").get_by_label("Name").wait_for(timeout=60_000)
                snap(page, "new-space-running")
    api.pause_space("alice/e2e-form-gradio")  # it need not keep running for the rest of the session
    page.goto("/spaces")
    snap(page, "spaces-gallery")
    card = page.locator("article.space-card", has_text="e2e-form-static")
    assert "A static demo" in card.inner_text() and "static" in card.locator(".space-badge").inner_text()
    assert card.locator(".space-stage-badge").inner_text() == "Running"  # each card says its stage
    paused = page.locator("article.space-card", has_text="e2e-form-gradio").locator(".space-stage-badge")
    assert paused.inner_text() == "Paused"


def test_space_settings_page(api: HfApi, new_page: Callable[..., Page]) -> None:
    """The Settings tab of a Space: variables (values shown), secrets (never shown again), sleep time, pause and
    restart; what it changes is what huggingface_hub reads."""
    rid = "alice/e2e-space-settings"
    api.create_repo(rid, repo_type="space", space_sdk="gradio", exist_ok=True)  # no app file: nothing runs
    page = new_page("alice")
    login(page, "alice")
    page.goto(f"/spaces/{rid}/settings")
    for kind, key, value in (("variables", "MODEL_ID", "alice/m1"), ("secrets", "API_TOKEN", "s3cr3t-value")):
        box = page.locator(f"#space-{kind}")
        box.get_by_label("Key").fill(key)
        box.get_by_label("Value").fill(value)
        box.get_by_label("Description").fill(f"the {kind[:-1]}")
        with page.expect_navigation():
            box.get_by_role("button", name=f"Add {kind[:-1]}").click()
    snap(page, "space-settings")
    assert "alice/m1" in page.locator("#space-variables").inner_text()
    assert "API_TOKEN" in page.locator("#space-secrets").inner_text()
    assert "s3cr3t-value" not in page.content()  # write-only
    assert api.get_space_variables(rid)["MODEL_ID"].value == "alice/m1"
    assert list(api.get_space_secrets(rid)) == ["API_TOKEN"]
    page.locator("#space-settings select[name=seconds]").select_option("3600")
    with page.expect_navigation():
        page.get_by_role("button", name="Save sleep time").click()
    assert api.get_space_runtime(rid).sleep_time == 3600
    with page.expect_navigation():
        page.get_by_role("button", name="Pause this Space").click()
    assert api.get_space_runtime(rid).stage == "PAUSED"
    with page.expect_navigation():
        page.get_by_role("button", name="Restart this Space").click()
    assert api.get_space_runtime(rid).stage != "PAUSED"
    with page.expect_navigation():
        page.locator("#space-secrets").get_by_role("button", name="Delete").click()
    assert api.get_space_secrets(rid) == {}
    snap(page, "space-settings-after")
