"""Full-text search over repo ids, tags and card text: GET /api/search/full-text and the /search/full-text page.

`list_models(search=...)` matches a substring of the repo id only (as on huggingface.co); the words of a card
are found by full-text search alone. Private repos stay invisible to those who may not read them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from agora.errors import BadRequest
from agora.ids import check_namespace

from ..conftest import ENDPOINT, STACK, Server

WORD = "zebrafinchology"
# PostgreSQL has no FTS table: its full_text matches the id and tags only (hub/index.py), so no card text.
needs_card_text = pytest.mark.skipif(STACK == "scale", reason="card text is searched on SQLite (FTS5) only")


def card(body: str, meta: str = "license: mit") -> bytes:
    return f"---\n{meta}\n---\n{body}".encode()


def search(token: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{ENDPOINT}/api/search/full-text", params=params, headers=headers, timeout=30)


def ids(token: str | None = None, **params: Any) -> list[str]:
    r = search(token, **params)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["results"]]


@dataclass
class Seeded:
    card_only: str  # a model whose card body has WORD (with markup around it), not its id or tags
    named: str  # a model with WORD in its id, its tags and its body
    dataset: str  # a dataset whose card body and tags have WORD
    private: str  # alice's private model whose card body and tags have WORD
    org_private: str  # a private model of the org acme (tests/conftest.py: alice owns it, carol reads it)


@pytest.fixture(scope="module")
def seeded(api: HfApi) -> Seeded:
    tag = secrets.token_hex(3)
    s = Seeded(
        card_only=f"alice/ft-card-{tag}",
        named=f"alice/ft-{WORD}-{tag}",
        dataset=f"alice/ft-data-{tag}",
        private=f"alice/ft-secret-{tag}",
        org_private=f"acme/ft-org-secret-{tag}",
    )
    body = (
        "# Field notes\n\nAn introduction that goes on for a while, so that the excerpt has to start somewhere "
        "after it and not at the very beginning of the card.\n\n"
        f"The **{WORD.capitalize()}** lab [studies](https://example.org/birds) <b>songbirds</b> daily.\n\n"
        "## More\n\n" + "Unrelated closing words. " * 20
    )
    uploads = [
        (s.card_only, "model", False, card(body, "license: mit\npipeline_tag: text-classification")),
        (
            s.named,
            "model",
            False,
            card(f"# {WORD}\n\nAll about {WORD}, and {WORD} again.\n", f"tags:\n- {WORD}\n"),
        ),
        # These three have the word in their tags as well: PostgreSQL finds them too.
        (
            s.dataset,
            "dataset",
            False,
            card(f"# Data\n\nRecordings for {WORD} research.\n", f"tags:\n- {WORD}\n"),
        ),
        (s.private, "model", True, card(f"# Secret\n\nPrivate {WORD} notes.\n", f"tags:\n- {WORD}\n")),
        (
            s.org_private,
            "model",
            True,
            card(f"# Org secret\n\nThe org's {WORD} notes.\n", f"tags:\n- {WORD}\n"),
        ),
    ]
    for rid, rtype, private, readme in uploads:
        api.create_repo(rid, repo_type=rtype, private=private)
        api.upload_file(path_or_fileobj=readme, path_in_repo="README.md", repo_id=rid, repo_type=rtype)
    return s


@needs_card_text
def test_listing_search_is_id_only_full_text_reads_cards(seeded: Seeded, api: HfApi) -> None:
    by_id = [m.id for m in api.list_models(search=WORD)]
    assert seeded.named in by_id and seeded.card_only not in by_id
    found = ids(q=WORD)
    assert seeded.card_only in found and seeded.named in found and seeded.dataset in found
    assert ids(q=WORD.upper()) == found  # case-insensitive
    assert ids(q=f"{WORD}   Research") == [seeded.dataset]  # a phrase, its spaces collapsed


@needs_card_text
def test_results_shape_ranking_and_snippet(seeded: Seeded) -> None:
    r = search(q=f"  {WORD} ")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    assert data["q"] == WORD
    found = [x["id"] for x in data["results"]]
    # bm25 weighs the id (10) and tags (5) far above the body (1): the repo named after the word comes first.
    assert found.index(seeded.named) < found.index(seeded.card_only)
    assert found[0] == seeded.named
    hit = next(x for x in data["results"] if x["id"] == seeded.card_only)
    assert set(hit) == {"id", "type", "likes", "downloads", "pipeline_tag", "tags", "snippet"}
    assert hit["type"] == "model" and hit["likes"] == 0 and hit["downloads"] == 0
    assert hit["pipeline_tag"] == "text-classification" and "license:mit" in hit["tags"]
    snippet = hit["snippet"]
    assert f"The {WORD.capitalize()} lab studies songbirds daily." in snippet, snippet
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) < 260, snippet
    assert not any(c in snippet for c in "*[]<>#\n"), snippet  # plain text: no Markdown, no HTML
    ds = next(x for x in data["results"] if x["id"] == seeded.dataset)
    assert ds["type"] == "dataset" and ds["pipeline_tag"] is None and WORD in ds["snippet"]
    named = next(x for x in data["results"] if x["id"] == seeded.named)
    assert WORD in named["tags"]
    assert ids(q=WORD, limit=1) == [seeded.named]


def test_a_match_in_the_id_only_has_an_empty_snippet(seeded: Seeded) -> None:
    results = search(q=f"ft-data-{seeded.dataset.rsplit('-', 1)[1]}").json()["results"]
    assert [x["id"] for x in results] == [seeded.dataset]
    assert results[0]["snippet"] == ""


def test_private_repos_only_for_those_who_may_read_them(
    seeded: Seeded, server: Server, alice: str, bob: str
) -> None:
    carol = server.token("carol", "read")
    anonymous, for_bob = ids(q=WORD), ids(bob, q=WORD)
    for found in (anonymous, for_bob):
        assert seeded.named in found and seeded.dataset in found
        assert seeded.private not in found and seeded.org_private not in found
    for_alice = ids(alice, q=WORD)
    assert seeded.private in for_alice and seeded.org_private in for_alice
    for_carol = ids(carol, q=WORD)  # a reader of the org: its private repo, not alice's own
    assert seeded.org_private in for_carol and seeded.private not in for_carol
    if STACK != "scale":
        assert seeded.card_only in anonymous and seeded.card_only in for_bob
        assert ids(q="Private " + WORD) == [] and ids(alice, q="Private " + WORD) == [seeded.private]


def test_type_filters(seeded: Seeded, alice: str) -> None:
    models = ids(alice, q=WORD, type="model")
    assert {seeded.named, seeded.private} <= set(models) and seeded.dataset not in models
    assert seeded.card_only in models or STACK == "scale"
    assert ids(alice, q=WORD, type="dataset") == [seeded.dataset]
    assert ids(alice, q=WORD, type="space") == []
    assert all(x["type"] == "model" for x in search(alice, q=WORD, type="model").json()["results"])


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"q": WORD, "type": "models"}, "type"),
        ({"q": WORD, "type": "bogus"}, "type"),
        ({"q": WORD, "limit": "abc"}, "limit"),
        ({"q": WORD, "limit": "0"}, "limit"),
        ({"q": WORD, "limit": "-5"}, "limit"),
        ({"q": "x" * 300}, "query"),
    ],
)
def test_bad_parameters_are_400_in_the_hub_format(params: dict[str, str], needle: str) -> None:
    r = search(**params)
    assert r.status_code == 400, r.text
    assert r.headers["X-Error-Code"] == "BadRequest"
    assert needle in r.headers["X-Error-Message"] and needle in r.json()["error"]


def test_empty_query_and_large_limit(seeded: Seeded) -> None:
    for params in ({}, {"q": ""}, {"q": "   "}, {"q": "", "type": "dataset"}):
        r = search(**params)
        assert r.status_code == 200 and r.json() == {"q": "", "results": []}, params
    assert search(q=WORD, limit="1000").status_code == 200  # capped at 100, not refused


def test_full_text_page(seeded: Seeded) -> None:
    r = httpx.get(f"{ENDPOINT}/search/full-text", params={"q": WORD}, headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert f'href="/{seeded.named}"' in page
    assert seeded.private not in page and seeded.org_private not in page
    if STACK != "scale":
        assert f'href="/{seeded.card_only}"' in page and f'href="/datasets/{seeded.dataset}"' in page
        assert 'data-type="model"' in page and 'data-type="dataset"' in page
        assert f"<mark>{WORD.capitalize()}</mark> lab studies songbirds daily." in page
        assert "<b>songbirds</b>" not in page  # the card's HTML is not carried over
    only_datasets = httpx.get(f"{ENDPOINT}/search/full-text", params={"q": WORD, "type": "dataset"}).text
    assert f'href="/{seeded.named}"' not in only_datasets
    empty = httpx.get(f"{ENDPOINT}/search/full-text")
    assert empty.status_code == 200 and 'name="q"' in empty.text
    bad = httpx.get(f"{ENDPOINT}/search/full-text", params={"q": WORD, "type": "bogus"})
    assert bad.status_code == 400 and "Invalid type" in bad.text


def test_full_text_page_for_the_owner_shows_private(seeded: Seeded, alice: str) -> None:
    page = httpx.get(
        f"{ENDPOINT}/search/full-text", params={"q": WORD}, headers={"Authorization": f"Bearer {alice}"}
    ).text
    if STACK != "scale":
        assert f'href="/{seeded.private}"' in page and ">private</span>" in page


def test_list_pages_link_to_full_text_search() -> None:
    for plural, rtype, label in (
        ("models", "model", "model"),
        ("datasets", "dataset", "dataset"),
        ("spaces", "space", "Space"),
    ):
        page = httpx.get(f"{ENDPOINT}/{plural}", params={"search": "finch & co"}).text
        assert f'href="/search/full-text?q=finch%20%26%20co&amp;type={rtype}"' in page, plural
        assert f"Search in {label} cards" in page


def test_routes_are_not_shadowed(alice: str) -> None:
    """`search` is a reserved namespace: no repo search/full-text can hide the page (or be hidden by it)."""
    r = httpx.post(
        f"{ENDPOINT}/api/repos/create",
        json={"name": "full-text", "organization": "search"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert r.status_code >= 400
    with pytest.raises(BadRequest, match="reserved"):
        check_namespace("search")
    assert httpx.get(f"{ENDPOINT}/api/search/full-text", params={"q": "zz"}).json()["results"] == []
