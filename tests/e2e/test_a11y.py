"""Phone width and accessibility (issue 18): at 390 px no page scrolls sideways, the header keeps its search,
the list filters fold behind a "Filters" button; axe-core finds no serious or critical violation; every
control shows where the keyboard is."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Browser, Page, expect

from ..compat.datasets_helpers import wait_converted
from .conftest import login, snap

MODEL = "alice/a11y-model"
DATA = "alice/a11y-data"
LONG_LINE = "x = " + " + ".join(f"value_number_{i}" for i in range(60)) + "\n"
MODEL_CARD = (
    """---
language: es
license: mit
library_name: transformers
pipeline_tag: text-classification
tags: [a-very-long-tag-name-that-should-wrap-instead-of-pushing-the-page-sideways]
datasets: [alice/a11y-data]
---
# A11y model

A model card with a wide table and a long code line.

| column one | column two | column three | column four | column five | column six | column seven |
|---|---|---|---|---|---|---|
| some value | another value | a third value | a fourth value | a fifth value | a sixth value | seventh |

```python
"""
    + LONG_LINE
    + """```
"""
)
DATA_CARD = """---
license: cc-by-4.0
language: [en, es]
task_categories: [text-classification]
---
# A11y data
"""

PHONE = {"width": 390, "height": 844}


def _csv() -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    cols = [f"measurement_column_{i}" for i in range(12)] + ["text"]
    w.writerow(cols)
    for r in range(30):
        w.writerow([f"{r * 0.5 + i:.2f}" for i in range(12)] + [f"row {r} " + "a long sentence " * 12])
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def repos(api: HfApi) -> dict[str, str]:
    api.create_repo(MODEL, exist_ok=True)
    # A long option in the model page's "Add to collection" select (it made the page 454 px wide at 390).
    api.create_collection("A collection whose title is long enough to push a select sideways", exists_ok=True)
    api.create_commit(
        MODEL,
        [
            CommitOperationAdd("README.md", MODEL_CARD.encode()),
            CommitOperationAdd("config.json", b'{"model_type": "bert", "architectures": ["BertModel"]}'),
            CommitOperationAdd("src/long_line.py", LONG_LINE.encode() * 3),
        ],
        commit_message="a card, a config and a file with a very long line that goes on and on and on",
    )
    api.create_repo(DATA, repo_type="dataset", exist_ok=True)
    sha = api.create_commit(
        DATA,
        [CommitOperationAdd("README.md", DATA_CARD.encode()), CommitOperationAdd("data/train.csv", _csv())],
        commit_message="data",
        repo_type="dataset",
    ).oid
    wait_converted(DATA, sha)
    # A discussion and a pull request with a diff (issue 17): the thread page and the files view.
    if not list(api.get_repo_discussions(MODEL)):
        api.create_discussion(MODEL, title="A question about the card", description="Which **language**?")
        api.create_commit(
            MODEL,
            [CommitOperationAdd("src/long_line.py", LONG_LINE.encode() * 4 + b"print('more')\n")],
            commit_message="A longer file",
            create_pr=True,
        )
    return {"model": MODEL, "data": DATA}


# The pages of the issue, by who sees them.
ANON_PAGES = {
    "home": "/",
    "models": "/models",
    "datasets": "/datasets",
    "model": f"/{MODEL}",
    "dataset": f"/datasets/{DATA}",
    "blob": f"/{MODEL}/blob/main/src/long_line.py",
    "tree": f"/{MODEL}/tree/main",
    "commits": f"/{MODEL}/commits/main",
    "community": f"/{MODEL}/discussions",
}
USER_PAGES = {
    "home-logged-in": "/",
    "model-logged-in": f"/{MODEL}",
    "settings-password": "/settings/password",
    "settings-tokens": "/settings/tokens",
    "repo-settings": f"/{MODEL}/settings",
    "discussion-thread": f"/{MODEL}/discussions/1",
    "pr-thread": f"/{MODEL}/discussions/2",
    "pr-files": f"/{MODEL}/discussions/2/files",
}


def _ready(page: Page, name: str) -> None:
    if name == "dataset":
        expect(page.locator("#viewer table.viewer-table")).to_contain_text("measurement_column_0")


def _serious(page: Page, name: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page; the lesser ones are printed (pytest -s)."""
    violations = Axe().run(page).response["violations"]
    if lesser := [v for v in violations if v["impact"] not in ("serious", "critical")]:
        print(_report({name: lesser}))
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def _report(found: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for name, violations in found.items():
        for v in violations:
            lines.append(f"[{name}] {v['id']} ({v['impact']}): {v['help']}")
            for node in v["nodes"][:8]:
                detail = node.get("failureSummary", "").replace("\n", " ")
                lines.append(
                    f"    {' '.join(map(str, node['target']))}: {node['html'][:160]}\n      {detail}"
                )
    return "\n".join(lines)


def _axe_pages(page: Page, pages: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for name, url in pages.items():
        page.goto(url)
        _ready(page, name)
        snap(page, name)
        if bad := _serious(page, name):
            found[name] = bad
    return found


def test_axe_logged_out(page: Page, repos: dict[str, str]) -> None:
    found = _axe_pages(page, ANON_PAGES)
    assert not found, "axe-core: serious or critical violations\n" + _report(found)


def test_axe_logged_in(page: Page, repos: dict[str, str]) -> None:
    login(page, "alice")
    found = _axe_pages(page, USER_PAGES)
    assert not found, "axe-core: serious or critical violations\n" + _report(found)


# The elements that stick out on the right, to say what made a page too wide.
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391).slice(0, 6)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_phone_width_no_horizontal_overflow(page: Page, repos: dict[str, str]) -> None:
    """At 390 px nothing scrolls sideways but the blocks made to (code, wide tables, the viewer's rows), which
    the keyboard reaches (axe-core at this width too)."""
    login(page, "alice")
    page.set_viewport_size(PHONE)
    wide, found = {}, {}
    for name, url in {**ANON_PAGES, **USER_PAGES}.items():
        page.goto(url)
        _ready(page, name)
        snap(page, f"{name}-390px")
        if bad := _serious(page, f"{name}-390px"):
            found[name] = bad
        if (w := _overflow(page)) > PHONE["width"]:
            wide[name] = (w, page.evaluate(WIDEST))
    assert not wide, f"pages wider than 390 px: {wide}"
    assert not found, "axe-core at 390 px: serious or critical violations\n" + _report(found)


def test_phone_header_and_model_page(page: Page, repos: dict[str, str]) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"/{MODEL}")
    snap(page, "model-page-390px")
    search = page.get_by_role("search").get_by_role("combobox")
    expect(search).to_be_visible()
    assert _overflow(page) <= PHONE["width"]
    box = search.bounding_box()  # a row of its own, across the header
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert box["width"] >= 0.8 * PHONE["width"], box
    # The keyboard reaches it: the search box comes within the first few tab stops.
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "search":
            break
    expect(search).to_be_focused()
    page.keyboard.type("a11y")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    snap(page, "search-from-phone")
    assert "a11y" in page.url
    for link in ("Models", "Datasets", "Spaces"):
        expect(page.locator("header.top").get_by_role("link", name=link, exact=True)).to_be_visible()


def test_filters_button_folds_the_facets(new_page: Callable[..., Page], repos: dict[str, str]) -> None:
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto("/models")
    snap(page, "models-390px-folded")
    button = page.get_by_role("button", name="Filters")
    facets = page.locator("#facets")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "facets")
    expect(facets).to_be_hidden()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(facets).to_be_visible()
    expect(facets.locator("[data-facet=pipeline_tag]")).to_be_visible()
    snap(page, "models-390px-open")
    button.press("Enter")  # the keyboard folds it again
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(facets).to_be_hidden()
    # On a wide screen the facets stay beside the results and no button shows.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(facets).to_be_visible()
    expect(button).to_be_hidden()
    snap(page, "models-wide")


def test_filters_open_without_javascript(
    browser: Browser, server: Any, repos: dict[str, str], shots: Any
) -> None:
    ctx = browser.new_context(base_url=server.url, viewport=PHONE, java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.__dict__["_agora_shots"] = shots
        shots.watch(page, "nojs")
        page.goto("/datasets")
        snap(page, "datasets-390px-nojs")
        expect(page.locator("#facets")).to_be_visible()
        expect(page.get_by_role("button", name="Filters")).to_be_hidden()
        assert _overflow(page) <= PHONE["width"]
    finally:
        ctx.close()


def _focus_ring(page: Page) -> dict[str, Any]:
    return page.evaluate(  # type: ignore[no-any-return]
        """() => { const e = document.activeElement, s = getComputedStyle(e);
                  return {tag: e.tagName, text: (e.textContent || e.value || e.name || '').trim().slice(0, 40),
                          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
                          shadow: s.boxShadow !== 'none'} }"""
    )


@pytest.mark.parametrize(
    "url",
    [
        "/",
        f"/{MODEL}",
        "/models",
        f"/datasets/{DATA}",
        f"/{MODEL}/blob/main/src/long_line.py",
        "/settings/tokens",
    ],
)
def test_keyboard_focus_is_visible(page: Page, repos: dict[str, str], url: str) -> None:
    login(page, "alice")
    page.goto(url)
    snap(page, "page")
    seen, unringed = 0, []
    for _ in range(40):
        page.keyboard.press("Tab")
        f = _focus_ring(page)
        if f["tag"] == "BODY":
            break
        seen += 1
        if not (f["outline"] or f["shadow"]):
            unringed.append(f)
    assert seen >= 5, "the keyboard reaches the page's controls"
    assert not unringed, f"controls without a visible focus: {unringed}"
    snap(page, "last-focus")


def test_upload_drop_zone_opens_the_file_picker_from_the_keyboard(page: Page, repos: dict[str, str]) -> None:
    login(page, "alice")
    # Playwright asks Chromium to intercept file choosers when the first listener is added, without waiting for
    # the answer: a key pressed right after could open the native chooser instead (no event, a 10 s timeout under
    # load). A listener added before the page loads has the interception on long before the key.
    page.on("filechooser", lambda _chooser: None)
    page.goto(f"/{MODEL}/upload/main")
    snap(page, "upload")
    zone = page.get_by_role("button", name="Drop files or folders here, or click to browse")
    zone.focus()
    assert _focus_ring(page)["outline"], "the focused drop zone shows it"
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files([{"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    expect(page.locator("#upload-list li[data-path='hello.txt']")).to_have_class("done")
    snap(page, "file-chosen")
