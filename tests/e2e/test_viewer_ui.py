"""The dataset viewer without dead ends, in the browser (issue 18): right after a commit the viewer says the
new revision is being processed (never the previous revision's "no data files") and shows the rows once the
conversion is done; each column header carries a small chart of its statistics with a text alternative; the
datasets list and the dataset page's header say how many rows and bytes a dataset holds."""

from __future__ import annotations

import re
from collections.abc import Callable

from axe_playwright_python.sync_playwright import Axe
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Locator, Page, expect

from ..compat.datasets_helpers import wait_converted
from .conftest import snap

ROWS = 150
SPECIES = ("setosa", "versicolor", "virginica")


def flowers_csv(rows: int = ROWS) -> bytes:
    """A small table with one column of each charted kind: int, float with nulls, a label, a bool, a long
    text (its lengths vary: a histogram of lengths)."""
    lines = ["n,petal,species,fresh,note"]
    for i in range(rows):
        petal = "" if i % 10 == 0 else f"{(i % 37) * 0.25:.2f}"
        note = "a note that keeps going " * (1 + i % 7) + f"number {i}"
        lines.append(f"{i % 10},{petal},{SPECIES[i % 3]},{'true' if i % 4 else 'false'},{note}")
    return ("\n".join(lines) + "\n").encode()


def _commit_csv(api: HfApi, rid: str, data: bytes, message: str = "data") -> str:
    op = CommitOperationAdd("data/flowers.csv", data)
    return api.create_commit(rid, [op], commit_message=message, repo_type="dataset").oid


def test_statistics_charts_above_columns(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    sha = _commit_csv(api, rid, flowers_csv())
    wait_converted(rid, sha)

    page = new_page()
    page.goto(f"/datasets/{rid}")
    viewer = page.locator("#viewer")
    expect(viewer.locator("table.viewer-table")).to_contain_text("setosa")

    def head(column: str) -> Locator:
        return viewer.locator(f'table.viewer-table thead th[data-column="{column}"]')

    charts = viewer.locator("thead figure.colstat")
    expect(charts).to_have_count(5)
    expect(charts.first).to_be_visible()

    def chart(column: str) -> str:
        svg = head(column).locator("figure.colstat svg[role=img]")
        expect(svg).to_have_count(1)
        label = svg.get_attribute("aria-label") or ""
        assert svg.locator("> title").text_content() == label  # the same words for every reader
        return label

    n = chart("n")
    assert n.startswith("min 0, max 9") and n.endswith("10 bins"), n
    assert head("species").locator("figure.colstat").get_attribute("data-kind") == "string_label"
    species = chart("species")
    assert species.startswith("3 values; most frequent: setosa 33%"), species
    fresh = chart("fresh")
    assert fresh.startswith("2 values; most frequent: true 75%, false 25%"), fresh
    petal = chart("petal")
    assert petal.startswith("min 0, max 9, mean ") and "10% null (15 rows)" in petal, petal
    expect(head("petal").locator(".colstat-nulls")).to_have_text("10% null")
    note = chart("note")
    assert note.startswith("length min "), note
    # one bar per bin, each with its own text (one integer per bin here: "0: 15 rows")
    expect(head("n").locator("g.colstat-bar")).to_have_count(10)
    assert head("n").locator("g.colstat-bar > title").first.text_content() == "0: 15 rows"
    expect(page.locator(".repo-size")).to_have_text(re.compile(r"^150 rows · [\d.]+ kB$"))
    snap(page, "a dataset page with the viewer and statistics")
    # the charts add no serious or critical accessibility violation to the viewer (axe-core)
    found = Axe().run(page, context="#viewer").response["violations"]
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in found]
    assert not [b for b in bad if b[1] in ("serious", "critical")], bad


def test_processing_state_after_a_commit(new_page: Callable[..., Page], api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    first = api.create_commit(
        rid,
        [CommitOperationAdd("README.md", b"---\nlicense: mit\n---\n# Flowers, soon\n")],
        commit_message="card only",
        repo_type="dataset",
    ).oid
    wait_converted(rid, first)
    page = new_page()
    page.goto(f"/datasets/{rid}")
    expect(page.locator("#viewer")).to_contain_text("not available")  # no data files: the old state
    snap(page, "no-data-files")

    # large enough that the conversion takes longer than opening the page
    sha = _commit_csv(api, rid, flowers_csv(60_000), "add the data")
    page.goto(f"/datasets/{rid}")
    status = page.locator("#viewer .viewer-status.processing")
    expect(status).to_contain_text(f"Processing the new revision {sha[:7]}…")
    expect(status).to_have_attribute("role", "status")
    expect(page.locator("#viewer")).not_to_contain_text("not available")
    expect(page.locator("#viewer")).not_to_contain_text("no data files")
    snap(page, "processing")

    # the fragment polls until the conversion is done, then shows the rows (no reload)
    expect(page.locator("#viewer table.viewer-table")).to_contain_text("setosa", timeout=120_000)
    expect(page.locator("#viewer .viewer-status")).to_have_count(0)
    expect(page.locator("#viewer .row-count")).to_contain_text("60,000 rows in train")
    snap(page, "converted")


def test_row_counts_and_sizes_on_list_cards(
    new_page: Callable[..., Page], api: HfApi, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    data = flowers_csv(1_500)
    wait_converted(rid, _commit_csv(api, rid, data))
    empty = f"alice/{repo_name}-empty"  # nothing converted: no size on its card
    api.create_repo(empty, repo_type="dataset")

    page = new_page()
    page.goto(f"/datasets?search={repo_name}")
    card = page.locator("article.card").filter(has_text=re.compile(re.escape(rid) + r"(\s|$)"))
    kb = f"{len(data) / 1000:.1f} kB".replace(".0 ", " ")
    expect(card.locator(".ds-size")).to_have_text(f"1.5k rows · {kb}")
    expect(card.locator(".ds-size")).to_have_attribute("title", f"1,500 rows, {len(data):,} bytes")
    other = page.locator("article.card").filter(has_text=empty)
    expect(other).to_have_count(1)
    expect(other.locator(".ds-size")).to_have_count(0)
    snap(page, "datasets-list")
