"""The header's search box (issue 18, "one search box for everything"): typing suggests models, datasets, Spaces,
users, orgs and collections from /api/quicksearch, grouped by type; the arrow keys and Enter open a suggestion;
Enter without one goes to the grouped results page /search?q=. Searching "voice" finds the Common-Voice-like
dataset, and a private repo is suggested to its owner only."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from playwright.sync_api import Locator, Page, expect

from ..conftest import STACK
from .conftest import login, snap

pytestmark = pytest.mark.usefixtures("no_server_errors")

GROUPS = ["Models", "Datasets", "Spaces", "Users", "Organizations", "Collections"]


@dataclass
class Seeded:
    tag: str
    dataset: str  # public, Common-Voice-like
    model: str  # public, "voice" in its name
    secret: str  # alice's private model, "voice" in its name


@pytest.fixture(scope="module")
def seeded(api: HfApi) -> Seeded:
    tag = secrets.token_hex(3)
    s = Seeded(
        tag, f"alice/common-voice-mini-{tag}", f"alice/voice-tagger-{tag}", f"alice/voice-secret-{tag}"
    )
    card = (
        "---\nlicense: cc0-1.0\nlanguage:\n- es\ntask_categories:\n- automatic-speech-recognition\n---\n"
        "# Common Voice (mini)\n\nRead speech: short audio clips with their transcripts.\n"
    )
    api.create_repo(s.dataset, repo_type="dataset")
    rows = "path,sentence\nclip0.wav,hola\nclip1.wav,adiós\n"
    api.create_commit(
        s.dataset,
        repo_type="dataset",
        commit_message="data",
        operations=[
            CommitOperationAdd("README.md", card.encode()),
            CommitOperationAdd("train.csv", rows.encode()),
        ],
    )
    for rid, private in ((s.model, False), (s.secret, True)):
        api.create_repo(rid, private=private)
        api.upload_file(
            path_or_fileobj=b"---\nlicense: mit\n---\n# m\n", path_in_repo="README.md", repo_id=rid
        )
    return s


def box(page: Page) -> Locator:
    return page.get_by_role("combobox", name=re.compile("^Search models, datasets"))


def suggestions(page: Page) -> Locator:
    return page.get_by_role("listbox", name="Search suggestions")


def type_query(page: Page, text: str) -> None:
    field = box(page)
    field.click()
    field.fill("")
    field.press_sequentially(text, delay=40)  # as a person types: the box waits for a pause (debounced)
    expect(suggestions(page)).to_be_visible()
    expect(field).to_have_attribute("aria-expanded", "true")


def choose_with_keyboard(page: Page, name: str) -> None:
    """Arrow down until the active option (aria-activedescendant, aria-selected) is `name`, then Enter."""
    field = box(page)
    for _ in range(40):
        field.press("ArrowDown")
        active = page.locator('#header-suggest [role="option"][aria-selected="true"]')
        expect(active).to_have_count(1)
        assert field.get_attribute("aria-activedescendant") == active.get_attribute("id")
        if active.inner_text().strip() == name:
            break
    else:
        raise AssertionError(f"{name} never became the active suggestion")
    snap(page, "suggestion-chosen")
    with page.expect_navigation():
        field.press("Enter")


def test_voice_in_the_header_finds_the_dataset_by_keyboard_and_enter_shows_grouped_results(
    page: Page, seeded: Seeded
) -> None:
    page.goto("/")
    snap(page, "home")
    type_query(page, "voice")
    listbox = suggestions(page)
    groups = listbox.get_by_role("group")
    names = [g.get_attribute("aria-labelledby") for g in groups.all()]
    assert names[:2] == ["header-suggest-models", "header-suggest-datasets"], names
    datasets = listbox.get_by_role("group", name="Datasets")
    expect(datasets.get_by_role("option", name=seeded.dataset)).to_be_visible()
    expect(
        listbox.get_by_role("group", name="Models").get_by_role("option", name=seeded.model)
    ).to_be_visible()
    expect(listbox.get_by_role("group", name="Spaces")).to_have_count(0)  # no Space matches: no heading
    assert all(g.get_by_role("option").count() >= 1 for g in groups.all())
    assert seeded.secret not in listbox.inner_text()  # a visitor is not told of alice's private model
    expect(listbox.get_by_role("option", name=re.compile("See all results"))).to_be_visible()
    snap(page, "suggestions-for-voice")

    choose_with_keyboard(page, seeded.dataset)
    expect(page).to_have_url(re.compile(f"/datasets/{seeded.dataset}$"))
    snap(page, "dataset-page")

    # Enter without choosing: the results page, grouped by type, with counts and links to the full lists
    type_query(page, "voice")
    box(page).press("ArrowDown")
    box(page).press("ArrowUp")  # up from the first option wraps to the last ("See all results")
    expect(suggestions(page).locator('[aria-selected="true"]')).to_have_class(re.compile("suggest-all"))
    box(page).press("Escape")  # closes the list: Enter then submits the form
    expect(suggestions(page)).to_be_hidden()
    expect(box(page)).to_have_attribute("aria-expanded", "false")
    with page.expect_navigation():
        box(page).press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=voice$"))
    snap(page, "results-page")
    expect(box(page)).to_have_value("voice")  # the header keeps the query
    heads = [h.inner_text() for h in page.locator(".search-group h2").all()]
    assert [re.sub(r"\s*\d+$", "", h) for h in heads] == GROUPS, heads
    group = page.locator("section#search-datasets")
    assert int(group.locator("[data-count]").inner_text()) >= 1
    expect(group.get_by_role("link", name=seeded.dataset)).to_be_visible()
    full = group.locator("a.see-all")
    assert full.get_attribute("href") == "/datasets?search=voice"
    with page.expect_navigation():
        full.click()
    expect(page.get_by_role("link", name=seeded.dataset)).to_be_visible()
    snap(page, "full-datasets-list")


def test_card_words_and_people_are_suggested_and_private_repos_only_to_their_owner(
    new_page: Callable[..., Page], seeded: Seeded
) -> None:
    anon = new_page("anon")
    anon.goto("/")
    snap(anon, "home")
    type_query(anon, "alic")
    users = suggestions(anon).get_by_role("group", name="Users")
    expect(users.get_by_role("option", name="alice")).to_be_visible()
    snap(anon, "user-suggestion")
    if STACK != "scale":  # card text is searched on SQLite (FTS5) only
        type_query(anon, "audio clips with their transcripts")
        found = suggestions(anon).get_by_role("group", name="Datasets")
        expect(found.get_by_role("option", name=seeded.dataset)).to_be_visible()
        snap(anon, "card-words-suggestion")
        with anon.expect_navigation():
            box(anon).press("Enter")
        group = anon.locator("section#search-datasets")
        expect(group.locator(".search-sub")).to_have_text("Mentioned in their cards")
        expect(group.get_by_role("link", name=seeded.dataset)).to_be_visible()
        snap(anon, "card-words-results")
    type_query(anon, f"secret-{seeded.tag}")
    expect(suggestions(anon).get_by_role("option")).to_have_count(1)  # only "search for ..."
    snap(anon, "nothing-private")

    owner = new_page("alice")
    login(owner, "alice")
    type_query(owner, f"secret-{seeded.tag}")
    option = suggestions(owner).get_by_role("group", name="Models").get_by_role("option")
    expect(option).to_have_count(1)
    expect(option).to_contain_text(seeded.secret)
    expect(option.locator(".badge")).to_have_text("private")
    snap(owner, "private-suggestion")
    with owner.expect_navigation():
        option.click()
    expect(owner).to_have_url(re.compile(f"/{seeded.secret}$"))
    snap(owner, "private-model")


def test_the_search_box_and_results_have_no_serious_accessibility_violations(
    page: Page, seeded: Seeded
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page.goto("/")
    snap(page, "home")
    type_query(page, "voice")
    box(page).press("ArrowDown")
    snap(page, "suggestions-open")
    axe = Axe()
    for where in ("header.top",):
        found = axe.run(page, context=where).response["violations"]
        bad = [(v["id"], v["impact"], [n["html"][:120] for n in v["nodes"]]) for v in found]
        assert not [b for b in bad if b[1] in ("serious", "critical")], bad
    page.goto("/search?q=voice")
    snap(page, "results")
    found = axe.run(page, context="main").response["violations"]
    bad = [(v["id"], v["impact"], [n["html"][:120] for n in v["nodes"]]) for v in found]
    assert not [b for b in bad if b[1] in ("serious", "critical")], bad
