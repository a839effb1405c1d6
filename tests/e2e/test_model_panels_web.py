"""The model page's evaluation results and "Use this model" menu in Chromium (issue 18): the panel's rows with
the dataset linked, the menu opened, a library chosen, the transformers snippet copied to the clipboard."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT
from .conftest import snap

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_server_errors")

CARD = """---
license: apache-2.0
language: es
pipeline_tag: text-classification
datasets: [{ds}]
model-index:
- name: tiny-reviews-classifier
  results:
  - task: {{type: text-classification, name: Text Classification}}
    dataset: {{type: {ds}, name: Tiny Reviews, config: default, split: test}}
    metrics:
    - {{type: accuracy, value: 0.875, name: Accuracy, verified: true}}
    - {{type: f1, value: 0.81, name: F1}}
  - task: {{type: text-classification}}
    dataset: {{type: glue, name: GLUE SST-2, split: validation}}
    metrics:
    - {{type: accuracy, value: 0.9}}
---
# Tiny reviews classifier

A small classifier of Spanish reviews.
"""
CONFIG = {"architectures": ["BertForSequenceClassification"], "model_type": "bert"}


def test_model_page_shows_eval_results_and_use_this_model(page: Page, api: HfApi, repo_name: str) -> None:
    ds, rid = f"alice/{repo_name}-reviews", f"alice/{repo_name}"
    api.create_repo(ds, repo_type="dataset")
    api.create_repo(rid)
    files = {
        "README.md": CARD.format(ds=ds).encode(),
        "config.json": json.dumps(CONFIG).encode(),
        "tokenizer.json": b"{}",
        "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
    }
    api.create_commit(rid, [CommitOperationAdd(p, b) for p, b in files.items()], commit_message="tiny model")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ENDPOINT)
    page.goto(f"/{rid}")
    panel = page.locator("#eval-results")
    expect(panel.get_by_role("heading", name="Evaluation results")).to_be_visible()
    groups = panel.locator("tbody")
    expect(groups).to_have_count(2)  # one per task and dataset
    expect(groups.nth(0).locator(".ev-head")).to_have_text(
        "Text Classification on Tiny Reviews default · test"
    )
    rows = panel.locator("tbody tr:has(td)")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".ev-metric")).to_have_text("Accuracy")
    expect(rows.nth(0).locator(".ev-value")).to_have_text("0.875")
    expect(rows.nth(0).locator(".ev-source")).to_have_text("verified")
    expect(rows.nth(1).locator(".ev-source")).to_have_text("self-reported")
    expect(groups.nth(1).locator(".ev-dataset")).to_have_text("GLUE SST-2")
    expect(groups.nth(1).locator(".ev-dataset a")).to_have_count(0)  # glue is not a dataset here
    link = groups.nth(0).get_by_role("link", name="Tiny Reviews")
    expect(link).to_have_attribute("href", f"/datasets/{ds}")
    snap(page, "model-page-eval-results")

    menu = page.locator("#use-model")
    pane = menu.locator("#snippet-transformers")
    expect(pane).to_be_hidden()
    menu.get_by_text("Use this model").click()
    expect(pane).to_be_visible()  # the library of the repo comes first
    expect(menu.get_by_role("button", name="Transformers", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(menu).to_contain_text(f"export HF_ENDPOINT={ENDPOINT}")
    code = pane.locator("pre code").inner_text()
    assert f'pipe = pipeline("text-classification", model="{rid}")' in code
    assert "AutoModelForSequenceClassification" in code and "AutoTokenizer" in code
    snap(page, "model-page-eval-results-and-use-this-model")
    assert not serious_violations(page, ["#use-model", "#eval-results"])

    pane.get_by_role("button", name="Copy the Transformers code").click()
    expect(pane.get_by_role("button", name="Copy the Transformers code")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code

    menu.get_by_role("button", name="git clone", exact=True).click()
    expect(pane).to_be_hidden()
    expect(menu.locator("#snippet-git")).to_contain_text(f"git clone {ENDPOINT}/{rid}")
    expect(menu.get_by_role("button", name="hf CLI", exact=True)).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Escape")
    expect(menu.locator("#snippet-git")).to_be_hidden()
    snap(page, "menu-closed-with-escape")

    link.click()
    expect(page).to_have_url(f"{ENDPOINT}/datasets/{ds}")
    snap(page, "dataset-linked-from-eval-results")


def serious_violations(page: Page, selectors: list[str]) -> list[str]:
    """axe-core's serious and critical findings inside these elements."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    res = axe.Axe().run(page, context={"include": [[s] for s in selectors]})
    return [
        f"{v['id']}: {v['help']}"
        for v in res.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_use_this_model_fits_a_phone(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    """At 390 px the menu opens below its button, inside the screen; its code scrolls inside itself."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=CARD.format(ds="glue").encode(), path_in_repo="README.md", repo_id=rid)
    api.upload_file(path_or_fileobj=json.dumps(CONFIG).encode(), path_in_repo="config.json", repo_id=rid)
    page = new_page("phone")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/{rid}")
    page.locator("#use-model summary").click()
    menu = page.locator("#use-model .use-menu")
    expect(menu).to_be_visible()
    box = menu.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    snap(page, "model-page-390px-use-this-model")


def test_odd_snippet_text_is_shown_escaped(page: Page, api: HfApi, repo_name: str) -> None:
    """A file name with markup becomes text in the gguf snippet, never markup on the page."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    name = "<img src=x onerror=alert(1)>.gguf"
    api.upload_file(path_or_fileobj=b"GGUF", path_in_repo=name, repo_id=rid)
    page.goto(f"/{rid}")
    page.locator("#use-model summary").click()
    pane = page.locator("#snippet-gguf")
    expect(pane).to_be_visible()
    assert f'filename="{name}"' in pane.locator("pre code").inner_text()
    expect(page.locator("#use-model img")).to_have_count(0)
    snap(page, "gguf-snippet-escaped")
