"""The seed's walk, as a newcomer does it in a browser (issue 6, first must-show).

Models are seeded through huggingface_hub first; then Chromium browses /models, filters by task and language,
reads a model's tags and its config.json, and a logged-in alice creates a repo, uploads three files by drag &
drop (one of 60 MB), reads the commit and its diff, edits the README metadata and reverts to the first version.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi, hf_hub_download
from playwright.sync_api import Page, expect

from .conftest import login, snap

NS = "acme"  # alice owns the org; the seeded ids are distinctive so that searches find only them
GPT = f"{NS}/e2ewalk-gpt2-tiny"
NER_EN = [f"{NS}/e2ewalk-ner-en-{i}" for i in range(1, 4)]
OTHERS = {
    f"{NS}/e2ewalk-ner-fr": ("token-classification", "fr"),
    f"{NS}/e2ewalk-sum-en": ("summarization", "en"),
}
GPT2_CONFIG = {
    "architectures": ["GPT2LMHeadModel"],
    "model_type": "gpt2",
    "activation_function": "gelu_new",
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "bos_token_id": 50256,
    "eos_token_id": 50256,
}
BIG = 60 * 2**20
PERIOD = 65521  # the 60 MB file repeats a block of this (prime) length, generated the same way in the page


def card(meta: str, body: str) -> bytes:
    return f"---\n{meta.strip()}\n---\n{body}".encode()


def big_bytes() -> bytes:
    block = bytes(((i * i * 31 + i * 7 + 13) >> 3) & 255 for i in range(PERIOD))
    return (block * (BIG // PERIOD + 1))[:BIG]


@pytest.fixture(scope="module")
def seeded(api: HfApi) -> dict[str, Any]:
    """A GPT-2-like text-generation model, three English token-classification models and two decoys."""
    api.create_repo(GPT, exist_ok=True)
    api.upload_file(repo_id=GPT, path_in_repo="config.json", path_or_fileobj=json.dumps(GPT2_CONFIG).encode())
    api.upload_file(
        repo_id=GPT,
        path_in_repo="README.md",
        path_or_fileobj=card(
            "license: mit\nlanguage:\n- en\nlibrary_name: transformers\npipeline_tag: text-generation\n"
            "tags:\n- gpt2\n- e2e-seed\ndatasets:\n- openwebtext",
            "# e2ewalk GPT-2 tiny\n\nA small causal language model.\n\n| layers | heads |\n|---|---|\n| 12 | 12 |\n",
        ),
    )
    for rid in NER_EN:
        api.create_repo(rid, exist_ok=True)
        api.upload_file(
            repo_id=rid,
            path_in_repo="README.md",
            path_or_fileobj=card(
                "language: en\npipeline_tag: token-classification\nlicense: apache-2.0\nlibrary_name: transformers",
                f"# {rid}\n\nNamed entities in English.\n",
            ),
        )
    for rid, (task, lang) in OTHERS.items():
        api.create_repo(rid, exist_ok=True)
        api.upload_file(
            repo_id=rid,
            path_in_repo="README.md",
            path_or_fileobj=card(f"language: {lang}\npipeline_tag: {task}\nlicense: mit", f"# {rid}\n"),
        )
    return {"gpt": GPT, "ner_en": NER_EN}


def click_facet(page: Page, facet: str, tag: str) -> None:
    """Click a chip of the filter sidebar, opening its "+N more" fold first if the chip is folded away."""
    chip = page.locator(f'section.facet[data-facet="{facet}"] a.chip[data-tag="{tag}"]')
    expect(chip).to_have_count(1)
    if not chip.is_visible():
        chip.locator("xpath=ancestor::details[1]/summary").click()
    with page.expect_navigation():
        chip.click()


def result_count(page: Page) -> int:
    return int(page.locator("#result-count").inner_text().strip())


def test_browse_filter_and_read_a_model(page: Page, seeded: dict[str, Any], api: HfApi) -> None:
    page.goto("/models")
    snap(page, "models")
    tasks_facet = page.locator('section.facet[data-facet="pipeline_tag"]')
    expect(tasks_facet.locator("h4", has_text="Natural Language Processing")).to_be_visible()
    expect(tasks_facet.locator('a.chip[data-tag="text-generation"]')).to_have_text(
        re.compile(r"^Text Generation \d+$")
    )
    click_facet(page, "pipeline_tag", "text-generation")  # opens "+N more" first if the chip is folded there
    assert "pipeline_tag=text-generation" in page.url
    expect(page.locator(".active-filters")).to_have_text(re.compile("Text Generation"))
    snap(page, "models-text-generation")
    # Every card on the page is a text-generation model; the seeded one is found with the name filter.
    tasks = page.locator(".grid .card .task").all_inner_texts()
    assert tasks and set(tasks) == {"Text Generation"}
    page.get_by_label("Filter by name").fill("e2ewalk")
    with page.expect_navigation():
        page.get_by_label("Filter by name").press("Enter")
    assert "pipeline_tag=text-generation" in page.url and "search=e2ewalk" in page.url
    snap(page, "models-text-generation-search")
    assert result_count(page) == 1
    with page.expect_navigation():
        page.get_by_role("link", name=GPT).click()
    snap(page, "model-page")
    assert page.url.endswith(f"/{GPT}")

    # Its tags, as chips grouped by kind.
    chips = page.locator(".repo-head .tags a.chip")
    by_group: dict[str, set[str]] = {}
    for i in range(chips.count()):
        c = chips.nth(i)
        by_group.setdefault(c.get_attribute("data-group") or "", set()).add(c.inner_text().strip())
    assert by_group["task"] == {"Text Generation"}
    order = [c.get_attribute("data-group") for c in chips.all()]
    rank = ["task", "library", "dataset", "language", "license", "other"]
    assert order == sorted(order, key=rank.index), f"chips are not grouped: {order}"
    assert "transformers" in by_group["library"]
    assert "English" in by_group["language"]  # language codes read as names
    assert "License: mit" in by_group["license"]
    assert "Dataset: openwebtext" in by_group["dataset"]
    assert {"gpt2", "e2e-seed"} <= by_group["other"]
    assert page.locator("article.card-body table").count() == 1  # the card's markdown table is rendered

    # Files and versions, then config.json.
    with page.expect_navigation():
        page.get_by_role("link", name="Files and versions").click()
    snap(page, "files-and-versions")
    names = page.locator("table.files td.name a").all_inner_texts()
    assert {"config.json", "README.md", ".gitattributes"} <= set(names)
    with page.expect_navigation():
        page.get_by_role("link", name="config.json", exact=True).click()
    snap(page, "config-json")
    text = page.locator("div.code").inner_text()
    m_act = re.search(r'"activation_function":\s*"([^"]+)"', text)
    m_voc = re.search(r'"vocab_size":\s*(\d+)', text)
    assert m_act and m_act.group(1) == "gelu_new"
    assert m_voc and int(m_voc.group(1)) == 50257

    # Back to /models: English token-classification models.
    with page.expect_navigation():
        page.locator("header.top").get_by_role("link", name="Models").click()
    snap(page, "models-again")
    click_facet(page, "pipeline_tag", "token-classification")
    snap(page, "models-token-classification")
    click_facet(page, "language", "en")
    snap(page, "models-token-classification-en")
    assert "pipeline_tag=token-classification" in page.url and "language=en" in page.url
    shown = result_count(page)
    # Other tests of the session may add such models too: the page agrees with the API, and counts ours.
    expected = {m.id for m in api.list_models(pipeline_tag="token-classification", filter="en")}
    assert set(NER_EN) <= expected
    assert shown == len(expected)
    page.get_by_label("Filter by name").fill("e2ewalk")
    with page.expect_navigation():
        page.get_by_label("Filter by name").press("Enter")
    snap(page, "models-token-classification-en-e2ewalk")
    assert result_count(page) == len(NER_EN) == 3
    assert sorted(page.locator(".grid .card-title").all_inner_texts()) == sorted(NER_EN)


DROP_JS = """([files, bigName, bigSize, period]) => {
  const dt = new DataTransfer();
  for (const [name, text, type] of files) dt.items.add(new File([text], name, { type }));
  const block = new Uint8Array(period);
  for (let i = 0; i < period; i++) block[i] = ((i * i * 31 + i * 7 + 13) >> 3) & 255;
  const big = new Uint8Array(bigSize);
  for (let off = 0; off < bigSize; off += period) big.set(block.subarray(0, Math.min(period, bigSize - off)), off);
  dt.items.add(new File([big], bigName, { type: "application/octet-stream" }));
  return dt;
}"""


def drop_files(page: Page, files: dict[str, str], big_name: str) -> None:
    """Drag & drop onto #dropzone with a real DataTransfer built in the page (the 60 MB file made there)."""
    dt = page.evaluate_handle(
        DROP_JS, [[[n, t, "text/plain"] for n, t in files.items()], big_name, BIG, PERIOD]
    )
    for kind in ("dragenter", "dragover", "drop"):
        page.dispatch_event("#dropzone", kind, {"dataTransfer": dt})
    dt.dispose()


def first_commit_of(page: Page) -> str:
    rows = page.locator("ol.commits li")
    return rows.nth(rows.count() - 1).get_attribute("data-sha") or ""


def test_create_upload_edit_revert(
    page: Page, api: HfApi, server: Any, repo_name: str, tmp_path: Path
) -> None:
    name = f"newcomer-{repo_name}"
    rid = f"alice/{name}"
    login(page, "alice")

    # Create a repo with the /new form.
    page.locator("details.menu summary").click()
    with page.expect_navigation():
        page.get_by_role("link", name="New model").click()
    snap(page, "new-model-form")
    expect(page.get_by_label("Owner")).to_have_value("alice")
    page.get_by_label("Model name").fill(name)
    page.get_by_label("Public").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Create model").click()
    snap(page, "new-repo-page")
    assert page.url.endswith(f"/{rid}")
    assert "git clone" in page.locator("article.card-body").inner_text()  # a new repo shows how to clone it
    initial_files = sorted(api.list_repo_files(rid))
    assert initial_files == [".gitattributes"]

    # Files and versions -> Add file: Upload files -> drag & drop three files.
    with page.expect_navigation():
        page.get_by_role("link", name="Files and versions").click()
    snap(page, "tree-initial")
    with page.expect_navigation():
        page.get_by_role("link", name="+ Add file: Upload files").click()
    snap(page, "upload-page")
    readme = "---\nlicense: mit\ntags:\n- e2e-upload\n---\n# My first model\n\nUploaded from a browser.\n"
    config = json.dumps(
        {"model_type": "gpt2", "activation_function": "gelu_new", "vocab_size": 50257}, indent=2
    )
    drop_files(page, {"README.md": readme, "config.json": config}, "model.bin")
    rows = page.locator("#upload-list li")
    expect(rows).to_have_count(3)
    for path in ("README.md", "config.json", "model.bin"):
        row = page.locator(f'#upload-list li[data-path="{path}"]')
        expect(row).to_have_class(re.compile(r"\bdone\b"), timeout=60_000)
        assert row.locator("progress").evaluate("p => p.value") == 100
    assert page.locator('#upload-list li[data-path="model.bin"] .size').inner_text() == "62.9 MB"
    assert page.locator('#upload-list li[data-path="README.md"] .size').inner_text() == f"{len(readme)} Bytes"
    expect(page.locator("#commit-btn")).to_be_enabled()
    expect(page.locator("#upload-status")).to_have_text("3 files ready to commit")
    page.get_by_label("Commit message").fill("Add weights, config and card")
    snap(page, "upload-done")
    with page.expect_navigation():
        page.locator("#commit-btn").click()
    snap(page, "upload-commit")
    upload_sha = page.url.rsplit("/", 1)[-1]
    assert re.fullmatch(r"[0-9a-f]{40}", upload_sha)

    # The commit in the history, then its diff page.
    with page.expect_navigation():
        page.get_by_role("link", name="Files and versions").click()
    snap(page, "tree-after-upload")
    big_row = page.locator('table.files tr[data-path="model.bin"]')
    assert (
        "62.9 MB" in big_row.locator("td.size").inner_text()
        and "LFS" in big_row.locator("td.size").inner_text()
    )
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^History: \d+ commits$")).click()
    snap(page, "history")
    top = page.locator("ol.commits li").first
    assert top.get_attribute("data-sha") == upload_sha
    assert top.locator("a.title").inner_text() == "Add weights, config and card"
    first_sha = first_commit_of(page)
    with page.expect_navigation():
        top.locator("a.title").click()
    snap(page, "commit-diff")
    assert page.locator("p", has_text="changed file").first.inner_text().startswith("3 changed files")
    big_diff = page.locator('section.diff[data-path="model.bin"]')
    lfs_text = big_diff.locator(".lfs-change").inner_text()
    data = big_bytes()
    assert hashlib.sha256(data).hexdigest()[:12] in lfs_text and "62.9 MB" in lfs_text
    cfg_diff = page.locator('section.diff[data-path="config.json"]').inner_text()
    assert "gelu_new" in cfg_diff and "+5" in cfg_diff

    # Byte-identical through huggingface_hub.
    got = Path(hf_hub_download(rid, "model.bin", revision=upload_sha, cache_dir=tmp_path))
    assert got.stat().st_size == BIG
    assert hashlib.sha256(got.read_bytes()).digest() == hashlib.sha256(data).digest()
    del data

    # Edit the README metadata in the browser, then see the new tags on the repo page.
    with page.expect_navigation():
        page.get_by_role("link", name="Files and versions").click()
    snap(page, "tree-before-edit")
    with page.expect_navigation():
        page.get_by_role("link", name="README.md", exact=True).click()
    snap(page, "readme-blob")
    with page.expect_navigation():
        page.get_by_role("link", name="Edit", exact=True).click()
    snap(page, "readme-edit")
    assert page.locator("#editor-content").input_value() == readme
    edited = readme.replace(
        "tags:\n- e2e-upload\n",
        "language:\n- fr\npipeline_tag: fill-mask\ntags:\n- e2e-upload\n- e2e-edited\n",
    )
    page.locator("#editor-content").fill(edited)
    page.get_by_label("Commit message").fill("Card metadata: French fill-mask")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^Commit changes")).click()
    snap(page, "readme-after-edit")
    with page.expect_navigation():
        page.locator("nav.tabs").get_by_role("link", name="Model card").click()
    snap(page, "repo-after-edit")
    chips = {
        c.get_attribute("data-group"): c.inner_text()
        for c in page.locator(".repo-head .tags a.chip").all()
        if c.inner_text() in ("Fill-Mask", "French", "e2e-edited")
    }
    assert chips == {"task": "Fill-Mask", "language": "French", "other": "e2e-edited"}
    assert api.model_info(rid).pipeline_tag == "fill-mask"

    # Revert to the first version: the commit page's button, then the files are as at the start.
    with page.expect_navigation():
        page.get_by_role("link", name="Files and versions").click()
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^History: \d+ commits$")).click()
    snap(page, "history-before-revert")
    assert page.locator("ol.commits li").count() == 3
    with page.expect_navigation():
        page.locator(f'ol.commits li[data-sha="{first_sha}"] a.title').click()
    snap(page, "first-commit")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Revert to this version").click()
    snap(page, "revert-commit")
    assert page.locator(".commit-head h2").inner_text() == f"Revert to {first_sha[:7]}"
    with page.expect_navigation():
        page.get_by_role("link", name="Files and versions").click()
    snap(page, "tree-after-revert")
    assert page.locator("table.files td.name a").all_inner_texts() == [".gitattributes"]
    assert sorted(api.list_repo_files(rid)) == initial_files
    history = [c.commit_id for c in api.list_repo_commits(rid)]
    assert len(history) == 4 and history[-1] == first_sha and upload_sha in history  # nothing is lost
    with page.expect_navigation():
        page.locator("nav.tabs").get_by_role("link", name="Model card").click()
    snap(page, "repo-after-revert")
    assert "git clone" in page.locator("article.card-body").inner_text()
    assert page.locator(".repo-head .tags a.chip", has_text="e2e-edited").count() == 0
