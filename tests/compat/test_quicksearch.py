"""`GET /api/quicksearch`: the Hub's one search over models, datasets, Spaces, users, orgs and collections, which
the header's search box suggests from. Plain HTTP (no huggingface_hub: no client calls it), against the live
server: the Hub's answer shape, name and card-text matches, private repos and collections only for those
who may see them, and the bounds (type, limit, query length)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ..conftest import ENDPOINT, STACK, Server, agora

# PostgreSQL has no FTS table: its full_text matches the id and tags only (hub/index.py), so no card text.
needs_card_text = pytest.mark.skipif(STACK == "scale", reason="card text is searched on SQLite (FTS5) only")


def call(method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kw.pop("headers", {}))
    return httpx.request(method, f"{ENDPOINT}{path}", headers=headers, timeout=60, **kw)


def make_repo(token: str, rid: str, rtype: str, private: bool, readme: str) -> None:
    """Create a repo and commit its README.md, as the Hub's HTTP API takes them (docs/wire.md §4, §8.4)."""
    ns, name = rid.split("/")
    body: dict[str, Any] = {"name": name, "organization": ns, "private": private}
    if rtype != "model":
        body["type"] = rtype
    if rtype == "space":
        body["sdk"] = "static"
    r = call("POST", "/api/repos/create", token, json=body)
    assert r.status_code == 200, r.text
    lines = [
        {"key": "header", "value": {"summary": "card"}},
        {
            "key": "file",
            "value": {
                "path": "README.md",
                "content": base64.b64encode(readme.encode()).decode(),
                "encoding": "base64",
            },
        },
    ]
    ndjson = "".join(json.dumps(x) + "\n" for x in lines)
    r = call(
        "POST",
        f"/api/{rtype}s/{rid}/commit/main",
        token,
        content=ndjson,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text


def quick(token: str | None = None, **params: Any) -> dict[str, Any]:
    r = call("GET", "/api/quicksearch", token, params=params)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def ids(answer: dict[str, Any], key: str) -> list[str]:
    return [x["id"] for x in answer[key]]


@dataclass
class Seeded:
    tag: str
    voice: str  # a public Common-Voice-like dataset: "voice" in its name, "speech"/"audio" in its card
    model: str  # a public model whose card (only) says the card word
    space: str
    secret_model: str  # alice's private model: the secret word in its name and card
    secret_dataset: str  # acme's private dataset (alice owns acme, carol reads it)
    org: str  # an org with a full name


@pytest.fixture(scope="module")
def seeded(server: Server, alice: str) -> Seeded:
    tag = secrets.token_hex(3)
    s = Seeded(
        tag=tag,
        voice=f"alice/common-voice-mini-{tag}",
        model=f"alice/qs-plain-{tag}",
        space=f"alice/qs-space-{tag}",
        secret_model=f"alice/qssecret{tag}-model",
        secret_dataset=f"acme/qssecret{tag}-data",
        org=f"qsorg{tag}",
    )
    make_repo(
        alice,
        s.voice,
        "dataset",
        False,
        "---\nlicense: cc0-1.0\nlanguage:\n- es\ntask_categories:\n- automatic-speech-recognition\n---\n"
        "# Common Voice (mini)\n\nA few read-speech audio clips with transcripts.\n",
    )
    make_repo(
        alice,
        s.model,
        "model",
        False,
        f"---\nlicense: mit\n---\n# A model\n\nTrained on cardword{tag} text.\n",
    )
    make_repo(alice, s.space, "space", False, "---\nsdk: static\ntitle: Demo\n---\n# Demo\n")
    make_repo(
        alice, s.secret_model, "model", True, f"---\nlicense: mit\n---\n# Hidden\n\ncardword{tag} too.\n"
    )
    make_repo(alice, s.secret_dataset, "dataset", True, "---\nlicense: mit\n---\n# Org data\n")
    for title, private in ((f"qssecret{tag} picks", True), (f"Voice picks {tag}", False)):
        r = call("POST", "/api/collections", alice, json={"title": title, "private": private})
        assert r.status_code == 200, r.text
    agora(
        "org", "create", s.org, "--owner", "alice", "--fullname", f"Quick Search Labs {tag}", data=server.data
    )
    return s


def test_voice_finds_the_common_voice_dataset_in_the_hubs_shape(seeded: Seeded) -> None:
    out = quick(q="voice")
    assert out["q"] == "voice"
    for key in ("models", "datasets", "spaces", "users", "orgs", "collections"):
        assert isinstance(out[key], list), key
    for key in ("modelsCount", "datasetsCount", "spacesCount", "collectionsCount"):
        assert isinstance(out[key], int), key
    hit = next(x for x in out["datasets"] if x["id"] == seeded.voice)
    assert hit["match"] == "id" and hit["private"] is False and len(hit["_id"]) == 24
    assert out["datasetsCount"] >= 1
    assert f"Voice picks {seeded.tag}" in [c["title"] for c in out["collections"]]
    one = next(c for c in out["collections"] if c["title"] == f"Voice picks {seeded.tag}")
    assert one["slug"].startswith("alice/voice-picks-") and one["owner"] == "alice"
    # case does not matter
    assert seeded.voice in ids(quick(q="COMMON-VOICE-MINI-" + seeded.tag.upper()), "datasets")


@needs_card_text
def test_card_text_tops_up_the_names(seeded: Seeded) -> None:
    out = quick(q=f"cardword{seeded.tag}")
    assert ids(out, "models") == [seeded.model]
    assert out["models"][0]["match"] == "card"
    assert out["modelsCount"] == 0  # no id contains it: the /models?search= list is empty
    # the voice dataset's card says "speech"
    assert seeded.voice in ids(quick(q="read-speech audio", type="dataset", limit=50), "datasets")


def test_private_repos_and_collections_only_for_those_who_may_see_them(
    server: Server, seeded: Seeded, alice: str, bob: str
) -> None:
    word = f"qssecret{seeded.tag}"
    carol = server.token("carol", "read")
    anon, as_bob = quick(q=word), quick(bob, q=word)
    for out in (anon, as_bob):
        assert out["models"] == [] and out["datasets"] == [] and out["collections"] == []
        assert out["modelsCount"] == out["datasetsCount"] == out["collectionsCount"] == 0
    # nor by its exact id (found first, by name, for those who may see it)
    assert quick(q=seeded.secret_model)["models"] == [] and quick(bob, q=seeded.secret_model)["models"] == []
    assert ids(quick(alice, q=seeded.secret_model), "models") == [seeded.secret_model]
    mine = quick(alice, q=word)
    assert ids(mine, "models") == [seeded.secret_model] and mine["models"][0]["private"] is True
    assert ids(mine, "datasets") == [seeded.secret_dataset]
    assert mine["modelsCount"] == mine["datasetsCount"] == mine["collectionsCount"] == 1
    assert [c["title"] for c in mine["collections"]] == [f"{word} picks"]
    as_carol = quick(carol, q=word)  # a reader of acme: its dataset, not alice's own model or collection
    assert ids(as_carol, "datasets") == [seeded.secret_dataset]
    assert as_carol["models"] == [] and as_carol["collections"] == []
    # the results page (/search?q=) tells an anonymous visitor nothing either
    page = call("GET", "/search", None, params={"q": word})
    assert page.status_code == 200 and 'id="search-models"' in page.text
    for secret in (seeded.secret_model, seeded.secret_dataset, f"{word} picks"):
        assert secret not in page.text
    assert page.text.count("data-count>0<") == 6  # every group says 0


@needs_card_text
def test_a_private_card_is_not_found_by_its_words(seeded: Seeded, alice: str, bob: str) -> None:
    word = f"cardword{seeded.tag}"
    assert ids(quick(q=word), "models") == [seeded.model]
    assert ids(quick(bob, q=word), "models") == [seeded.model]
    assert sorted(ids(quick(alice, q=word), "models")) == sorted([seeded.model, seeded.secret_model])


def test_an_exact_name_comes_first(alice: str) -> None:
    tag = secrets.token_hex(3)
    exact = f"alice/qsx{tag}"
    for rid in (exact, f"alice/qsx{tag}-bigger", f"alice/qsx{tag}-biggest"):  # the newer ones list first
        make_repo(alice, rid, "model", False, "---\nlicense: mit\n---\n# m\n")
    assert quick(q=f"qsx{tag}-b", type="model")["modelsCount"] == 2
    for q in (f"qsx{tag}", f"QSX{tag}", f"Alice/qsx{tag}"):
        out = quick(q=q, type="model", limit=1)
        assert ids(out, "models") == [exact] and out["modelsCount"] == 3, q


def test_users_and_orgs(seeded: Seeded) -> None:
    out = quick(q="alic", type="user")
    assert set(out) == {"q", "users", "usersCount"}
    assert out["users"][0]["user"] == "alice"
    assert out["users"][0]["avatarUrl"] == f"{ENDPOINT}/avatars/alice"
    by_name = quick(q=seeded.org, type="org")
    assert [o["name"] for o in by_name["orgs"]] == [seeded.org]
    assert by_name["orgs"][0]["fullname"] == f"Quick Search Labs {seeded.tag}"
    by_fullname = quick(q=f"search labs {seeded.tag}", type=["org", "user"])
    assert [o["name"] for o in by_fullname["orgs"]] == [seeded.org] and by_fullname["users"] == []


def test_types_limit_and_bounds(seeded: Seeded, alice: str) -> None:
    out = quick(alice, q=f"space-{seeded.tag}", type="model,space")
    assert set(out) == {"q", "models", "modelsCount", "spaces", "spacesCount"}
    assert ids(out, "spaces") == [seeded.space]
    two = quick(alice, q=seeded.tag, type="model", limit=1)
    assert len(two["models"]) == 1 and two["modelsCount"] >= 2
    assert quick(q="   ")["models"] == []
    papers = quick(q="x", type="paper")
    assert papers == {"q": "x", "papers": [], "papersCount": 0}
    for params, needle in (
        ({"q": "x", "type": "bucket"}, "Invalid type"),
        ({"q": "x", "limit": "0"}, "Invalid limit"),
        ({"q": "x", "limit": "many"}, "Invalid limit"),
        ({"q": "y" * 300}, "at most 256"),
    ):
        r = call("GET", "/api/quicksearch", None, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.headers.get("X-Error-Code") == "BadRequest" and needle in r.json()["error"]
    long_page = call("GET", "/search", None, params={"q": "y" * 300})
    assert long_page.status_code == 400 and "at most 256" in long_page.text
    capped = quick(q="a", limit=10_000)
    assert all(len(capped[k]) <= 50 for k in ("models", "datasets", "spaces", "users", "orgs", "collections"))
