"""Collections through huggingface_hub: create, list, items with notes, reorder, privacy, errors, web page."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..conftest import ENDPOINT, Server


def _status(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(HfHubHTTPError) as e:
        call()
    return e.value.response.status_code


@pytest.fixture
def repos(api: HfApi, repo_name: str) -> dict[str, str]:
    ids = {
        "model": f"alice/{repo_name}-m",
        "dataset": f"alice/{repo_name}-d",
        "space": f"alice/{repo_name}-s",
    }
    api.create_repo(ids["model"])
    api.create_repo(ids["dataset"], repo_type="dataset")
    api.create_repo(ids["space"], repo_type="space", space_sdk="static")
    return ids


def test_collection_lifecycle(api: HfApi, repos: dict[str, str], repo_name: str) -> None:
    title = f"My models {repo_name}"
    c = api.create_collection(title, description="The best ones")
    assert c.slug.startswith(f"alice/my-models-{repo_name.lower()}-") and len(c.slug.rsplit("-", 1)[1]) == 24
    assert (c.title, c.description, c.private, c.items) == (title, "The best ones", False, [])
    assert c.url == f"{ENDPOINT}/collections/{c.slug}"
    assert api.create_collection(title, exists_ok=True).slug == c.slug  # the 409 carries the slug
    assert _status(lambda: api.create_collection(title)) == 409

    api.add_collection_item(c.slug, repos["model"], "model", note="Fast")
    api.add_collection_item(c.slug, repos["dataset"], "dataset")
    got = api.add_collection_item(c.slug, repos["space"], "space", note="Demo")
    assert [(i.item_id, i.item_type, i.position, i.note) for i in got.items] == [
        (repos["model"], "model", 0, "Fast"),
        (repos["dataset"], "dataset", 1, None),
        (repos["space"], "space", 2, "Demo"),
    ]
    assert _status(lambda: api.add_collection_item(c.slug, repos["model"], "model")) == 409
    api.add_collection_item(c.slug, repos["model"], "model", exists_ok=True)
    assert _status(lambda: api.add_collection_item(c.slug, "alice/no-such-repo", "model")) == 404
    assert (
        _status(lambda: api.add_collection_item(c.slug, "x/y", "bucket")) == 400
    )  # papers: test_hf_compat_names

    space = got.items[2]
    api.update_collection_item(c.slug, space.item_object_id, position=0, note="Try it")
    items = api.get_collection(c.slug).items
    assert [i.item_id for i in items] == [repos["space"], repos["model"], repos["dataset"]]
    assert [i.position for i in items] == [0, 1, 2] and items[0].note == "Try it"

    api.delete_collection_item(c.slug, items[1].item_object_id)
    assert _status(lambda: api.delete_collection_item(c.slug, items[1].item_object_id)) == 404
    api.delete_collection_item(c.slug, items[1].item_object_id, missing_ok=True)
    assert [i.item_id for i in api.get_collection(c.slug).items] == [repos["space"], repos["dataset"]]

    new = api.update_collection_metadata(c.slug, title=f"Renamed {repo_name}", theme="green", description="x")
    assert new.title == f"Renamed {repo_name}" and new.theme == "green" and new.description == "x"
    assert new.slug.endswith(c.slug[-24:]) and new.slug != c.slug  # the title part follows the title
    assert api.get_collection(c.slug).slug == new.slug  # the old slug still finds it

    api.delete_repo(repos["dataset"], repo_type="dataset")  # a deleted repo leaves the collection readable
    assert [i.item_id for i in api.get_collection(new.slug).items] == [repos["space"]]

    api.delete_collection(new.slug)
    assert _status(lambda: api.get_collection(new.slug)) == 404
    assert _status(lambda: api.delete_collection(new.slug)) == 404
    api.delete_collection(new.slug, missing_ok=True)


def test_list_by_owner_and_item(api: HfApi, server: Server, repos: dict[str, str], repo_name: str) -> None:
    bob = HfApi(endpoint=ENDPOINT, token=server.token("bob"))
    a = api.create_collection(f"List A {repo_name}")
    b = api.create_collection(f"List B {repo_name}")
    theirs = bob.create_collection(f"Bob {repo_name}")
    api.add_collection_item(a.slug, repos["model"], "model")
    bob.add_collection_item(theirs.slug, repos["model"], "model", note="alice's")

    mine = [c.slug for c in api.list_collections(owner="alice", limit=100)]
    assert a.slug in mine and b.slug in mine and theirs.slug not in mine
    by_item = {c.slug for c in HfApi(endpoint=ENDPOINT).list_collections(item=f"models/{repos['model']}")}
    assert by_item == {a.slug, theirs.slug}
    assert list(api.list_collections(item=f"datasets/{repos['model']}")) == []
    listed = next(c for c in api.list_collections(owner="alice") if c.slug == a.slug)
    assert listed.items[0].item_id == repos["model"] and listed.position >= 0
    api.update_collection_metadata(b.slug, position=0)  # first among alice's collections
    assert api.get_collection(b.slug).position == 0 and api.get_collection(a.slug).position > 0

    # Link pagination: absolute, carrying every parameter, followed by the client when no limit cuts it.
    r = httpx.get(f"{ENDPOINT}/api/collections", params={"owner": "alice", "limit": 1})
    assert r.status_code == 200 and len(r.json()) == 1
    nxt = r.links["next"]["url"]
    assert nxt.startswith(ENDPOINT) and "owner=alice" in nxt and "limit=1" in nxt
    second = httpx.get(nxt).json()
    assert len(second) == 1 and second[0]["slug"] != r.json()[0]["slug"] and "position" not in second[0]


def test_privacy(api: HfApi, server: Server, repo_name: str) -> None:
    bob = HfApi(endpoint=ENDPOINT, token=server.token("bob"))
    anon = HfApi(endpoint=ENDPOINT)
    secret = api.create_collection(f"Secret {repo_name}", private=True)
    assert secret.private
    for other in (bob, anon):
        assert _status(lambda o=other: o.get_collection(secret.slug)) == 404
        assert secret.slug not in {c.slug for c in other.list_collections(owner="alice")}
    assert secret.slug in {c.slug for c in api.list_collections(owner="alice")}

    public = api.create_collection(f"Public {repo_name}")
    api.create_repo(f"alice/{repo_name}-private", private=True)
    api.create_repo(f"alice/{repo_name}-open")
    api.add_collection_item(public.slug, f"alice/{repo_name}-private", "model")
    api.add_collection_item(public.slug, f"alice/{repo_name}-open", "model")
    assert len(api.get_collection(public.slug).items) == 2
    assert [i.item_id for i in bob.get_collection(public.slug).items] == [f"alice/{repo_name}-open"]
    assert [i.item_id for i in anon.get_collection(public.slug).items] == [f"alice/{repo_name}-open"]
    # bob may not add a repo he cannot see to his own collection: 404, as if it did not exist
    mine = bob.create_collection(f"Bob's {repo_name}")
    assert _status(lambda: bob.add_collection_item(mine.slug, f"alice/{repo_name}-private", "model")) == 404

    api.update_collection_metadata(secret.slug, private=False)
    assert bob.get_collection(secret.slug).private is False


def test_write_permissions(api: HfApi, server: Server, repo_name: str) -> None:
    c = api.create_collection(f"Guarded {repo_name}")
    api.create_repo(f"alice/{repo_name}")
    reader = HfApi(endpoint=ENDPOINT, token=server.token("alice", role="read"))
    bob = HfApi(endpoint=ENDPOINT, token=server.token("bob"))
    anon = HfApi(endpoint=ENDPOINT)
    assert _status(lambda: reader.add_collection_item(c.slug, f"alice/{repo_name}", "model")) == 403
    assert _status(lambda: reader.create_collection(f"RO {repo_name}", namespace="alice")) == 403
    assert _status(lambda: bob.update_collection_metadata(c.slug, title="mine now")) == 403
    assert _status(lambda: bob.delete_collection(c.slug)) == 403
    assert _status(lambda: bob.create_collection(f"In alice {repo_name}", namespace="alice")) == 403
    assert _status(lambda: anon.create_collection(f"Anon {repo_name}", namespace="alice")) == 401
    r = httpx.delete(f"{ENDPOINT}/api/collections/{c.slug}")
    assert r.status_code == 401 and r.headers["X-Error-Code"] == "Unauthorized"
    r = httpx.get(f"{ENDPOINT}/api/collections/alice/nothing-{'0' * 24}")
    assert r.status_code == 404 and r.headers["X-Error-Code"] and r.json()["error"]
    assert api.get_collection(c.slug).title == f"Guarded {repo_name}"


def test_org_collections(api: HfApi, server: Server, repo_name: str) -> None:
    """acme: alice is admin, carol a reader. Readers see private org collections but may not change them."""
    carol = HfApi(endpoint=ENDPOINT, token=server.token("carol"))
    c = api.create_collection(f"Acme {repo_name}", namespace="acme", private=True)
    assert c.slug.startswith("acme/") and c.owner["name"] == "acme"
    assert carol.get_collection(c.slug).title == f"Acme {repo_name}"
    assert _status(lambda: carol.update_collection_metadata(c.slug, title="no")) == 403
    assert _status(lambda: carol.create_collection(f"Carol {repo_name}", namespace="acme")) == 403
    assert _status(lambda: HfApi(endpoint=ENDPOINT, token=server.token("bob")).get_collection(c.slug)) == 404


def test_web_page_and_profile(api: HfApi, server: Server, repos: dict[str, str], repo_name: str) -> None:
    c = api.create_collection(f"Web {repo_name}", description="Shown on the page")
    api.add_collection_item(c.slug, repos["dataset"], "dataset", note="A note for readers")
    api.add_collection_item(c.slug, repos["space"], "space")
    r = httpx.get(f"{ENDPOINT}/collections/{c.slug}", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert f'href="/datasets/{repos["dataset"]}"' in r.text and f'href="/spaces/{repos["space"]}"' in r.text
    assert "A note for readers" in r.text and "Shown on the page" in r.text
    secret = api.create_collection(f"Hidden {repo_name}", private=True)
    assert (
        httpx.get(f"{ENDPOINT}/collections/{secret.slug}", headers={"Accept": "text/html"}).status_code == 404
    )
    profile = httpx.get(f"{ENDPOINT}/alice", headers={"Accept": "text/html"}).text
    assert f'href="/collections/{c.slug}"' in profile and secret.slug not in profile
