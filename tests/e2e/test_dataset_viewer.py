"""The dataset viewer in the browser: the subset and split selectors switch the table (htmx), search
filters it, the pager moves through it."""

from __future__ import annotations

from collections.abc import Callable

from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Page, expect

from ..compat.datasets_helpers import wait_converted
from ..compat.test_datasets_viewer import GLUE_README, SIZES, cola, parquet_bytes, qnli
from .conftest import snap


def test_selectors_search_and_pages(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    ops = [CommitOperationAdd("README.md", GLUE_README.encode())]
    for cfg, make in (("cola", cola), ("qnli", qnli)):
        for split, n in SIZES.items():
            ops.append(
                CommitOperationAdd(f"{cfg}/{split}-00000-of-00001.parquet", parquet_bytes(make(split, n)))
            )
    sha = api.create_commit(rid, ops, commit_message="data", repo_type="dataset").oid
    wait_converted(rid, sha)

    page = new_page()
    page.goto(f"/datasets/{rid}")
    snap(page, "dataset-page")
    viewer = page.locator("#viewer")
    expect(viewer.locator("table.viewer-table")).to_contain_text("cola train sentence number 0")
    expect(viewer.locator(".row-count")).to_contain_text("250 rows in train")

    page.locator("#viewer select[name=config]").select_option("qnli")
    expect(page.locator("#viewer table.viewer-table")).to_contain_text("What is qnli train question 0?")
    snap(page, "subset-qnli")
    page.locator("#viewer select[name=split]").select_option("validation")
    expect(page.locator("#viewer table.viewer-table")).to_contain_text("What is qnli validation question 0?")
    expect(page.locator("#viewer .row-count")).to_contain_text("120 rows in validation")
    snap(page, "split-validation")

    page.locator("#viewer").get_by_role("link", name="Next →").click()
    expect(page.locator("#viewer table.viewer-table")).to_contain_text("What is qnli validation question 25?")
    expect(page.locator("#viewer .row-count")).to_contain_text("page 2 of 5")
    snap(page, "page-2")

    search = page.locator("#viewer input[name=q]")
    search.fill("needle")
    search.press("Enter")
    expect(page.locator("#viewer .row-count")).to_contain_text("1 row match")
    expect(page.locator("#viewer table.viewer-table tbody tr")).to_have_count(1)
    snap(page, "search")
