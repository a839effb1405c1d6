"""Tags as people read them in the browser (issue 18): a Spanish model's page and the models list say
"Spanish", the language filter takes a name, and a dataset page groups its tags under readable headings with
the Hub's task names (the models list with filters is one of the issue's must-show screenshots)."""

from __future__ import annotations

import re

from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Page, expect

from ..compat.datasets_helpers import wait_converted
from .conftest import snap

MODEL_CARD = b"""---
language:
- es
license: mit
pipeline_tag: text-classification
datasets:
- alice/tagsweb-resenas
tags:
- sentiment
---
# Clasificador de sentimiento
"""
DATASET_CARD = b"""---
language:
- es
- vi
license: cc-by-4.0
task_categories:
- text-classification
task_ids:
- sentiment-classification
---
# Reviews in Spanish and Vietnamese
"""


def chip_texts(page: Page, selector: str) -> dict[str, str]:
    return {c.get_attribute("data-tag") or "": c.inner_text().strip() for c in page.locator(selector).all()}


def test_a_spanish_model_reads_spanish_and_the_filter_takes_names(
    page: Page, api: HfApi, repo_name: str
) -> None:
    rid = f"alice/{repo_name}-es"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=MODEL_CARD, path_in_repo="README.md", repo_id=rid)

    page.goto(f"/{rid}")
    snap(page, "model-page")
    chips = chip_texts(page, ".repo-head .tags a.chip")
    assert chips["es"] == "Spanish"
    assert chips["text-classification"] == "Text Classification"
    assert chips["license:mit"] == "License: mit"
    assert chips["dataset:alice/tagsweb-resenas"] == "Dataset: alice/tagsweb-resenas"
    expect(page.locator(".widget-task .chip")).to_have_text("Text Classification")
    ds = page.locator('.repo-head .tags a.chip[data-group="dataset"]')
    expect(ds).to_have_attribute("href", "/datasets/alice/tagsweb-resenas")
    # The raw tags stay what the API returns.
    assert {"es", "license:mit", "dataset:alice/tagsweb-resenas"} <= set(api.model_info(rid).tags or [])

    # The list's Languages facet names the language; clicking it filters by the code.
    page.goto(f"/models?search={repo_name}-es")
    snap(page, "models-list")
    lang = page.locator('section.facet[data-facet="language"] a.chip[data-tag="es"]')
    expect(lang).to_have_text(re.compile(r"^Spanish \d+$"))
    expect(page.locator(f'.grid .card:has-text("{rid}") .task')).to_have_text("Text Classification")
    with page.expect_navigation():
        lang.click()
    assert "language=es" in page.url
    expect(page.locator(".active-filters")).to_have_text(re.compile("Spanish"))
    expect(page.locator("#result-count")).to_have_text("1")

    # By name, as a person types it; and by the three-letter code.
    for value in ("Spanish", "spa"):
        page.goto(f"/models?language={value}&pipeline_tag=text-classification&search={repo_name}-es")
        expect(page.locator("#result-count")).to_have_text("1")
        expect(page.locator(".grid .card .card-title")).to_have_text(rid)
        expect(page.locator(".active-filters a.chip", has_text="Spanish")).to_have_count(1)
        expect(page.locator(".active-filters a.chip", has_text="Text Classification")).to_have_count(1)
        expect(page.locator('section.facet[data-facet="language"] a.chip.on[data-tag="es"]')).to_have_count(1)
        snap(page, f"models-list-with-filters-{value}")
    # The "on" chip of a filter given by name takes the filter off again.
    with page.expect_navigation():
        page.locator('section.facet[data-facet="language"] a.chip.on[data-tag="es"]').click()
    assert "language" not in page.url
    snap(page, "models-list-filter-off")
    page.goto(f"/models?language=French&search={repo_name}-es")
    expect(page.locator("#result-count")).to_have_text("0")
    snap(page, "models-list-french-none")


def test_a_dataset_page_groups_its_tags_under_headings(page: Page, api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    rows = "".join(f'"reseña número {i}",{i % 2}\n' for i in range(1500))
    ops = [
        CommitOperationAdd("README.md", DATASET_CARD),
        CommitOperationAdd("train.csv", ("text,label\n" + rows).encode()),
    ]
    sha = api.create_commit(rid, ops, commit_message="data", repo_type="dataset").oid
    wait_converted(rid, sha)

    page.goto(f"/datasets/{rid}")
    snap(page, "dataset-page")
    groups = page.locator(".repo-head .tag-groups .tag-group")
    headings = [h.strip() for h in groups.locator(".tag-heading").all_inner_texts()]
    assert headings[:6] == ["Tasks", "Modalities", "Sizes", "Formats", "Languages", "Licenses"], headings

    def group(heading: str) -> list[str]:
        g = groups.filter(has=page.locator(".tag-heading", has_text=re.compile(f"^{heading}$")))
        return [t.strip() for t in g.locator("a.chip").all_inner_texts()]

    assert group("Tasks") == ["Text Classification", "Sentiment Classification"]
    assert group("Languages") == ["Spanish", "Vietnamese"]
    assert group("Licenses") == ["cc-by-4.0"]
    assert group("Sizes") == ["1K - 10K"]  # from the 1500 converted rows: the card is silent
    assert group("Modalities") == ["Text"]  # sentences with a label: text, not a table
    assert group("Formats") == ["CSV"]
    task = page.locator('.tag-group a.chip[data-tag="task_categories:text-classification"]')
    expect(task).to_have_attribute("href", "/datasets?task_categories=text-classification")

    # The datasets list: the same task names on the card and in the facets, languages by name.
    page.goto(f"/datasets?search={repo_name}")
    snap(page, "datasets-list")
    expect(page.locator(".grid .card .task")).to_have_text("Text Classification")
    facet = page.locator(
        'section.facet[data-facet="task_categories"] a.chip[data-tag="task_categories:text-classification"]'
    )
    expect(facet).to_have_text(re.compile(r"^Text Classification \d+$"))
    vi = page.locator('section.facet[data-facet="language"] a.chip[data-tag="language:vi"]')
    expect(vi).to_have_text(re.compile(r"^Vietnamese \d+$"))
    page.goto(f"/datasets?language=Vietnamese&search={repo_name}")
    expect(page.locator("#result-count")).to_have_text("1")
    snap(page, "datasets-list-vietnamese")
