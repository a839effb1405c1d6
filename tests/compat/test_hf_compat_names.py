"""Names through huggingface_hub: canonical repos (`gpt2`, no namespace), old names after a move, collection
items of every kind, organizations' full names and avatars."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from ..conftest import BIN, ENDPOINT, STACK, Server, _free_port, agora, new_site, start_server, stop_server
from . import test_transformers
from .datasets_helpers import viewer, wait_converted
from .test_git_push import Git, url

_admin: dict[str, str] = {}
CONFIG = json.dumps(test_transformers.CONFIG).encode()  # a tiny BERT's config.json


@pytest.fixture
def root(server: Server) -> HfApi:
    """A site admin's client (`root`, made once)."""
    if not _admin:
        agora(
            "user",
            "add",
            "names-admin",
            "--admin",
            "--password-stdin",
            data=server.data,
            stdin="names-admin-password\n",
        )
        _admin["token"] = server.token("names-admin")
    return HfApi(endpoint=ENDPOINT, token=_admin["token"])


def canonical(server: Server, name: str, *args: str) -> None:
    """`agora repo create --canonical NAME`, then wait until the server's name cache sees it (2 s at most)."""
    agora("repo", "create", "--canonical", name, "--user", "names-admin", *args, data=server.data)
    time.sleep(2.1)


def push_files(server: Server, path: str, files: dict[str, bytes], tmp: Path) -> Git:
    """Clone `path` as the site admin, commit `files` (*.bin through LFS) and push: huggingface_hub 2.4 cannot
    commit to a one-segment id (its CommitInfo parses the answer's commitUrl as `<namespace>/<name>`)."""
    git = Git(tmp / "git")
    git("lfs", "install")
    git("clone", url(server, path, _admin["token"], "names-admin"), "work")
    work = tmp / "git" / "work"
    git("lfs", "track", "*.bin", cwd=work)
    for name, data in files.items():
        (work / name).write_bytes(data)
    git("add", ".", cwd=work)
    git("commit", "-m", "add files", cwd=work)
    git("push", "origin", "main", cwd=work)
    return git


def test_canonical_repo_on_every_surface(server: Server, root: HfApi, api: HfApi, tmp_path: Path) -> None:
    canonical(server, "gpt9")
    big = b"\x00weights" * 20000
    push_files(server, "gpt9", {"config.json": CONFIG, "model.bin": big}, tmp_path)
    info = api.model_info("gpt9")
    assert info.id == "gpt9" and info.author is None
    assert sorted(s.rfilename for s in info.siblings) == [".gitattributes", "config.json", "model.bin"]
    assert [b.name for b in api.list_repo_refs("gpt9").branches] == ["main"]
    assert "gpt9" in [m.id for m in api.list_models(search="gpt9")]
    xet = httpx.get(f"{ENDPOINT}/api/models/gpt9/xet-read-token/main")  # Xet: the token for a public repo
    assert xet.status_code == 200 and xet.json()["accessToken"], xet.text
    assert api.list_repo_tree("gpt9", path_in_repo="") is not None
    anon = HfApi(endpoint=ENDPOINT, token=False)
    assert anon.repo_exists("gpt9") and anon.file_exists("gpt9", "config.json")
    assert anon.get_paths_info("gpt9", ["model.bin"])[0].lfs is not None
    path = hf_hub_download("gpt9", "config.json", cache_dir=tmp_path / "c", token=False)
    assert Path(path).read_bytes() == CONFIG
    snap = snapshot_download("gpt9", cache_dir=tmp_path / "s", token=False)
    assert (Path(snap) / "model.bin").read_bytes() == big
    assert httpx.get(f"{ENDPOINT}/gpt9/resolve/main/config.json").content == CONFIG
    from transformers import AutoConfig  # from_pretrained("gpt2"), as in the seed's first challenge

    config = AutoConfig.from_pretrained("gpt9", cache_dir=tmp_path / "t")
    assert (config.model_type, config.hidden_size) == ("bert", 16)
    git = Git(tmp_path / "anon")
    git("lfs", "install")
    for name in ("gpt9.git", "gpt9"):  # git clone of both addresses (LFS through the batch API)
        git("clone", url(server, name), name + "-copy")
        assert (tmp_path / "anon" / (name + "-copy") / "model.bin").read_bytes() == big
    page = httpx.get(f"{ENDPOINT}/gpt9")
    assert page.status_code == 200 and 'data-copy="gpt9"' in page.text
    community = httpx.get(f"{ENDPOINT}/gpt9/discussions").text  # titles name it gpt9, never "/gpt9"
    assert "<title>Community – gpt9" in community and "/gpt9</title>" not in community
    assert "config.json" in httpx.get(f"{ENDPOINT}/gpt9/tree/main").text
    # only site admins write there; a user's create_repo("gpt9") is theirs, as on the Hub
    with pytest.raises(HfHubHTTPError) as e:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="gpt9")
    assert e.value.response.status_code == 403
    assert api.create_repo("gpt9").repo_id == "alice/gpt9"
    assert api.model_info("alice/gpt9").id == "alice/gpt9"
    assert api.model_info("gpt9").sha == info.sha


def test_canonical_repo_page_redirects_stay_on_the_site(server: Server, root: HfApi, tmp_path: Path) -> None:
    """The web routes' redirects of a canonical repo name `/gpt9/...`: its internal address `//gpt9/...` in
    a Location header is a protocol-relative URL, which a browser reads as the host `gpt9`."""
    canonical(server, "raw9")
    push_files(server, "raw9", {"config.json": CONFIG}, tmp_path)
    r = httpx.get(f"{ENDPOINT}/raw9/raw/main/config.json")
    assert r.status_code == 302 and r.headers["location"] == "/raw9/resolve/main/config.json"
    assert httpx.get(f"{ENDPOINT}/raw9/raw/main/config.json", follow_redirects=True).content == CONFIG
    with httpx.Client(base_url=ENDPOINT, headers={"origin": ENDPOINT}) as web:
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)
        assert csrf
        form = {"username": "names-admin", "password": "names-admin-password", "csrf": csrf[1], "next": "/"}
        assert web.post("/login", data=form).status_code in (302, 303)
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/raw9/blob/main/config.json").text)
        assert csrf  # the file page's Delete form
        r = web.post("/raw9/delete/main/config.json", data={"csrf": csrf[1]})
        assert r.status_code == 303 and r.headers["location"] == "/raw9/tree/main", r.text
        assert not root.file_exists("raw9", "config.json")
        first = root.list_repo_commits("raw9")[1].commit_id  # the push, before the delete
        r = web.post("/raw9/revert", data={"csrf": csrf[1], "target": first, "branch": "main"})
        assert r.status_code == 303 and r.headers["location"].startswith("/raw9/commit/"), r.text
        assert root.file_exists("raw9", "config.json")


def test_canonical_space_app_address(server: Server, root: HfApi) -> None:
    """A canonical Space's app is at /spaces/{name}/app/, like its page and API (not /spaces//{name}/...)."""
    canonical(server, "app9", "--type", "space", "--sdk", "static")
    r = httpx.get(f"{ENDPOINT}/spaces/app9/app")
    assert r.status_code == 308 and r.headers["location"] == "/spaces/app9/app/"
    assert root.space_info("app9").host == f"{ENDPOINT}/spaces/app9/app/"


def test_canonical_repo_through_xet(server: Server, root: HfApi, tmp_path: Path) -> None:
    """A Xet file of a canonical repo: its `Link` to the read token names `/api/models/xet9/...` (not the
    internal `/api/models//xet9/...`), and the default client downloads it. The commit itself lands, though
    huggingface_hub 2.4 raises HfUriError reading the answer's one-segment commitUrl."""
    from .test_xet_client import run_default_client

    canonical(server, "xet9")
    out = run_default_client(
        f"""
        import os
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfUriError
        data = os.urandom(2 * 2**20)
        try:
            HfApi(endpoint="{ENDPOINT}").upload_file(repo_id="xet9", path_in_repo="big.bin", path_or_fileobj=data)
        except HfUriError:
            print("HfUriError")
        path = hf_hub_download("xet9", "big.bin", cache_dir="{tmp_path / "c"}")
        print(open(path, "rb").read() == data)
        """,
        root.token or "",
    )
    assert out.split() == ["HfUriError", "True"]
    head = httpx.head(f"{ENDPOINT}/xet9/resolve/main/big.bin")
    sha = root.model_info("xet9").sha
    assert head.headers["link"] == f'<{ENDPOINT}/api/models/xet9/xet-read-token/{sha}>; rel="xet-auth"'


def test_webhook_watches_a_canonical_repo(server: Server, root: HfApi, api: HfApi) -> None:
    """A webhook may watch `hook9` (it was 400 "expected 'namespace/name'"). The target is a literal public
    address nothing is sent to: no event happens to hook9 while the webhook lives."""
    canonical(server, "hook9")
    w = api.create_webhook(url="http://8.8.8.8:9/agora-test", watched=[{"type": "model", "name": "hook9"}])
    try:
        assert [(i.type, i.name) for i in api.get_webhook(w.id).watched] == [("model", "hook9")]
    finally:
        api.delete_webhook(w.id)


def test_canonical_repo_in_collections_filter_and_chat(server: Server, root: HfApi, api: HfApi) -> None:
    """list_collections(item="models/coll9") finds the collections holding a canonical repo, and the chat
    API takes model="coll9" (both were 400, "'namespace/name'")."""
    from huggingface_hub import InferenceClient
    from huggingface_hub.errors import HfHubHTTPError as ClientError

    canonical(server, "coll9")
    c = api.create_collection("holds coll9")
    api.add_collection_item(c.slug, "coll9", "model")
    assert c.slug in {x.slug for x in api.list_collections(item="models/coll9")}
    with pytest.raises(ClientError) as e:  # found, but no transformers model to run: said so
        InferenceClient(base_url=ENDPOINT, token=api.token).chat_completion(
            [{"role": "user", "content": "hi"}], model="coll9", max_tokens=2
        )
    assert "config.json" in str(e.value)


def test_cross_repo_copy_into_a_canonical_repo(server: Server, root: HfApi, repo_name: str) -> None:
    """The cross-repo copy's first call (`lfs-files/duplicate`) takes a canonical target (`dup8`): it was
    400 "name namespace/repo"; an object the source does not own is reported, not shared."""
    canonical(server, "dup8")
    src = f"names-admin/{repo_name}"
    root.create_repo(src)
    r = httpx.post(
        f"{ENDPOINT}/api/models/{src}/lfs-files/duplicate",
        json={"target": {"type": "model", "name": "dup8"}, "files": [{"sha256": "cd" * 32}]},
        headers={"authorization": f"Bearer {root.token}"},
    )
    assert r.status_code == 200 and [f["sha256"] for f in r.json()["failed"]] == ["cd" * 32], r.text


def test_canonical_dataset(server: Server, root: HfApi, tmp_path: Path) -> None:
    canonical(server, "squad9", "--type", "dataset")
    push_files(server, "datasets/squad9", {"data.csv": b"a,b\n1,2\n"}, tmp_path)
    assert root.dataset_info("squad9").id == "squad9"
    url = f"{ENDPOINT}/datasets/squad9/resolve/main/data.csv"
    assert httpx.get(url).content == b"a,b\n1,2\n"
    assert httpx.get(f"{ENDPOINT}/datasets/squad9").status_code == 200
    # the dataset viewer API takes the one-segment id too (it answered 400 "'namespace/name'")
    sha = root.dataset_info("squad9").sha
    assert wait_converted("squad9", sha)["splits"] == [
        {"dataset": "squad9", "config": "default", "split": "train"}
    ]
    rows = viewer("rows", None, dataset="squad9", config="default", split="train").json()
    assert [r["row"] for r in rows["rows"]] == [{"a": 1, "b": 2}]
    (parquet,) = viewer("parquet", None, dataset="squad9").json()["parquet_files"]
    assert parquet["url"].startswith(f"{ENDPOINT}/datasets/squad9/resolve/refs%2Fconvert%2Fparquet/")
    assert httpx.get(parquet["url"], follow_redirects=True).content.startswith(b"PAR1")
    info = viewer("info", None, dataset="squad9").json()
    assert info["dataset_info"]["default"]["dataset_name"] == "squad9"


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "agora"), *args, "--data", str(server.data)], capture_output=True, text=True
    )


def test_canonical_names_refused(server: Server, root: HfApi) -> None:
    for taken in ("models", "settings", "api", "login", "new", "alice", "acme", "static", "status"):
        out = cli(server, "repo", "create", "--canonical", taken, "--user", "names-admin")
        assert out.returncode != 0 and ("reserved" in out.stderr or "account" in out.stderr), (
            taken,
            out.stderr,
        )
    assert cli(server, "repo", "create", "--canonical", "ok9", "--user", "alice").returncode != 0  # no admin
    # accounts and canonical repos share their names
    canonical(server, "shared9")
    out = cli(server, "user", "add", "Shared9")
    assert out.returncode != 0 and "taken" in out.stderr


@pytest.mark.parametrize(
    "method,url",
    [
        ("GET", "/api/models/nope9"),
        ("GET", "/api/models/nope9/revision/main"),
        ("GET", "/api/models/nope9/tree/main"),
        ("GET", "/api/models/nope9/refs"),
        ("PUT", "/api/models/nope9/settings"),
        ("POST", "/api/models/nope9/preupload/main"),
        ("GET", "/nope9/resolve/main/config.json"),
        ("HEAD", "/nope9/resolve/main/config.json"),
        ("GET", "/datasets/nope9/resolve/main/x.csv"),
        ("GET", "/api/datasets/nope9"),
        ("GET", "/nope9.git/info/refs?service=git-upload-pack"),
        ("POST", "/nope9.git/info/lfs/objects/batch"),
    ],
)
def test_missing_one_segment_id_is_repo_not_found(alice: str, method: str, url: str) -> None:
    body = {} if method in ("POST", "PUT") else None
    r = httpx.request(method, ENDPOINT + url, json=body, headers={"authorization": f"Bearer {alice}"})
    assert r.status_code == 404, (url, r.status_code, r.text)
    assert r.headers.get("x-error-code") == "RepoNotFound", (url, r.headers)


def test_missing_one_segment_through_the_client(api: HfApi) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nope9")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("nope9", "config.json", token=False)


# ---- old names after a move -------------------------------------------------------------------------------------
def test_moved_repo_redirects_from_its_old_name(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    old, new = f"alice/{repo_name}", f"acme/{repo_name}-moved"
    api.create_repo(old)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id=old)
    api.move_repo(old, new)
    r = httpx.get(f"{ENDPOINT}/api/models/{old}/revision/main?blobs=true")
    assert r.status_code == 307 and r.headers["location"] == f"/api/models/{new}/revision/main?blobs=true"
    assert api.model_info(old).id == new  # huggingface_hub follows the 307
    assert Path(hf_hub_download(old, "hello.txt", cache_dir=tmp_path / "c")).read_bytes() == b"hello"
    # writes follow it too (307 repeats the method and body)
    api.upload_file(path_or_fileobj=b"again", path_in_repo="again.txt", repo_id=old)
    assert api.file_exists(new, "again.txt")
    git = Git(tmp_path / "git")
    git("clone", url(server, old), "copy")
    assert (tmp_path / "git" / "copy" / "again.txt").read_bytes() == b"again"
    page = httpx.get(f"{ENDPOINT}/{old}/tree/main", follow_redirects=True)
    assert page.status_code == 200 and str(page.url).endswith(f"/{new}/tree/main")
    # a move body naming the old id is a plain 404, never a redirect loop
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(old)
    # a repo created at the old name takes it over
    api.create_repo(old)
    assert api.model_info(old).id == old and api.model_info(new).id == new
    assert httpx.get(f"{ENDPOINT}/api/models/{old}").status_code == 200


def test_moved_repo_old_name_through_git_lfs(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    """git clone and push of the old name carry LFS files: git-lfs asks the batch API at the old address
    (remote.origin.url keeps it), which must redirect like the git routes, not answer RepoNotFound."""
    old, new = f"alice/{repo_name}", f"alice/{repo_name}-lfs-moved"
    weights = b"\x01weights" * 30000
    api.create_repo(old)
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.bin", repo_id=old)
    api.move_repo(old, new)
    git = Git(tmp_path / "git")
    git("lfs", "install")
    git("clone", url(server, old, alice), "copy")  # the smudge filter downloads model.bin at the old address
    work = tmp_path / "git" / "copy"
    assert (work / "model.bin").read_bytes() == weights
    more = b"\x02more" * 30000
    (work / "more.bin").write_bytes(more)
    git("add", "more.bin", cwd=work)
    git("-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", "more", cwd=work)
    git("push", "origin", "main", cwd=work)  # the LFS upload goes through the old name too
    assert api.get_paths_info(new, ["more.bin"])[0].lfs is not None
    assert Path(hf_hub_download(new, "more.bin", cache_dir=tmp_path / "c")).read_bytes() == more
    # the locks API (git-lfs asks it before a push) follows the old name as well
    r = httpx.get(f"{ENDPOINT}/{old}.git/info/lfs/locks", headers={"authorization": f"Bearer {alice}"})
    assert r.status_code == 307 and r.headers["location"] == f"/{new}.git/info/lfs/locks"


def test_private_moved_repo_old_name_stays_hidden(
    server: Server, alice: str, bob: str, api: HfApi, repo_name: str
) -> None:
    old, new = f"alice/{repo_name}", f"alice/{repo_name}-renamed"
    api.create_repo(old, private=True)
    api.move_repo(old, new)
    assert api.model_info(old).id == new
    for token in (bob, None):
        r = httpx.get(
            f"{ENDPOINT}/api/models/{old}", headers={"authorization": f"Bearer {token}"} if token else {}
        )
        assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
        assert httpx.get(f"{ENDPOINT}/{old}/resolve/main/.gitattributes").status_code in (401, 404)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=ENDPOINT, token=bob).model_info(old)


def test_canonical_repo_moved_under_a_namespace(server: Server, root: HfApi, api: HfApi) -> None:
    canonical(server, "opt9")
    # huggingface_hub's move_repo wants a namespace in from_id: the request it would send
    r = httpx.post(
        f"{ENDPOINT}/api/repos/move",
        json={"fromRepo": "opt9", "toRepo": "acme/opt9", "type": "model"},
        headers={"authorization": f"Bearer {root.token}"},
    )
    assert r.status_code == 200, r.text
    time.sleep(2.1)  # the router's name cache forgets opt9
    assert api.model_info("opt9").id == "acme/opt9"
    assert httpx.get(f"{ENDPOINT}/opt9/resolve/main/.gitattributes", follow_redirects=True).status_code == 200


def test_cli_renames_a_canonical_repo(server: Server, root: HfApi, api: HfApi) -> None:
    """`agora repo rename model opt8 acme/opt8` moves a canonical repo under a namespace, as the API's move does
    (it was refused: "Invalid repo id 'opt8'"); the old one-segment id redirects."""
    canonical(server, "opt8")
    out = cli(server, "repo", "rename", "model", "opt8", "acme/opt8")
    assert out.returncode == 0, out.stderr
    time.sleep(2.1)  # the router's name cache forgets opt8
    assert api.model_info("opt8").id == "acme/opt8"


# ---- collections of papers and collections ----------------------------------------------------------------------
def test_collection_holds_papers_and_collections(api: HfApi, bob: str, repo_name: str) -> None:
    inner = api.create_collection(f"Inner {repo_name}")
    hidden = api.create_collection(f"Hidden {repo_name}", private=True)
    outer = api.create_collection(f"Outer {repo_name}")
    api.add_collection_item(outer.slug, item_id="2307.09288", item_type="paper", note="Llama 2")
    api.add_collection_item(outer.slug, item_id=inner.slug, item_type="collection")
    api.add_collection_item(outer.slug, item_id=hidden.slug, item_type="collection")
    got = api.get_collection(outer.slug)
    assert [(i.item_type, i.item_id, i.position) for i in got.items] == [
        ("paper", "2307.09288", 0),
        ("collection", inner.slug, 1),
        ("collection", hidden.slug, 2),
    ]
    assert got.items[0].note == "Llama 2"
    # a private collection inside is seen by those who may see it only
    seen = HfApi(endpoint=ENDPOINT, token=bob).get_collection(outer.slug)
    assert [(i.item_type, i.item_id) for i in seen.items] == [
        ("paper", "2307.09288"),
        ("collection", inner.slug),
    ]
    with pytest.raises(HfHubHTTPError) as e:
        api.add_collection_item(outer.slug, item_id="2307.09288", item_type="paper")
    assert e.value.response.status_code == 409
    for bad_type, bad_id in (("paper", "not-a-paper"), ("collection", outer.slug)):
        with pytest.raises(HfHubHTTPError) as e:
            api.add_collection_item(outer.slug, item_id=bad_id, item_type=bad_type)
        assert e.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError) as e:
        HfApi(endpoint=ENDPOINT, token=bob).add_collection_item(
            f"bob/{repo_name}-none-0123456789abcdef01234567", item_id=hidden.slug, item_type="collection"
        )
    assert e.value.response.status_code == 404
    page = httpx.get(f"{ENDPOINT}/collections/{outer.slug}").text
    assert 'href="https://arxiv.org/abs/2307.09288"' in page
    assert f'href="/collections/{inner.slug}"' in page and hidden.slug not in page
    api.delete_collection_item(outer.slug, got.items[0].item_object_id)
    api.delete_collection(inner.slug)  # its items elsewhere go with it
    assert [i.item_id for i in api.get_collection(outer.slug).items] == [hidden.slug]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def put_avatar(endpoint: str, user: str, org: str, data: bytes) -> None:
    """Log in through the form, then PUT the avatar as the org settings page's script does."""
    with httpx.Client(base_url=endpoint, headers={"origin": endpoint}) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
        assert csrf
        form = {"username": user, "password": f"{user}-password", "csrf": csrf[1], "next": "/"}
        assert c.post("/login", data=form).status_code in (302, 303)
        csrf = re.search(r'data-csrf="([^"]+)"', c.get(f"/organizations/{org}/settings").text)
        assert csrf
        r = c.put(f"/organizations/{org}/avatar", content=data, headers={"x-csrf-token": csrf[1]})
        assert r.status_code == 200, r.text


# ---- export / import --------------------------------------------------------------------------------------------
@pytest.mark.skipif(STACK == "scale", reason="servers of their own: first pass only (not the stack's data)")
def test_export_import_carries_names(tmp_path: Path) -> None:
    site = new_site(tmp_path / "a", "boss", tmp_path / "a.log")
    agora("user", "add", "root", "--admin", "--password-stdin", data=site.data, stdin="root-password\n")
    token = agora("token", "create", "root", data=site.data)
    agora("repo", "create", "--canonical", "gpt7", "--user", "root", data=site.data)
    agora("org", "create", "labx", "--owner", "root", "--fullname", "Lab X", data=site.data)
    proc = start_server(site.data, site.port, site.log)
    try:
        api = HfApi(endpoint=site.endpoint, token=token)
        api.create_repo("root/old")
        api.move_repo("root/old", "root/new")
        assert api.model_info("gpt7").id == "gpt7"
        outer = api.create_collection("Outer")
        inner = api.create_collection("Inner")  # made after the outer one: imported after it too
        api.add_collection_item(outer.slug, item_id="2106.09685", item_type="paper", note="LoRA")
        api.add_collection_item(outer.slug, item_id=inner.slug, item_type="collection")
        put_avatar(site.endpoint, "root", "labx", PNG)
    finally:
        stop_server(proc)
    out = subprocess.run(
        [
            str(BIN / "agora"),
            "export",
            "--all",
            str(tmp_path / "backup"),
            "--quiet",
            "--data",
            str(site.data),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    agora("import", str(tmp_path / "backup"), "--quiet", "--user", "root", data=tmp_path / "b")
    port = _free_port()
    proc = start_server(tmp_path / "b", port, tmp_path / "b.log")
    try:
        api = HfApi(endpoint=f"http://127.0.0.1:{port}", token=token)
        assert api.model_info("gpt7").id == "gpt7"
        assert api.model_info("root/old").id == "root/new"
        items = api.get_collection(outer.slug).items
        assert [(i.item_type, i.item_id, i.note) for i in items] == [
            ("paper", "2106.09685", "LoRA"),
            ("collection", inner.slug, None),
        ]
        assert api.get_organization_overview("labx").fullname == "Lab X"
        pic = httpx.get(f"http://127.0.0.1:{port}/avatars/labx")
        assert pic.headers["content-type"] == "image/png" and pic.content == PNG
    finally:
        stop_server(proc)


# ---- organizations' full names and avatars ----------------------------------------------------------------------
def test_org_fullname_in_whoami_and_overview(server: Server, api: HfApi) -> None:
    agora("org", "create", "lab9", "--owner", "alice", "--fullname", "Lab Nine", data=server.data)
    org = next(o for o in api.whoami()["orgs"] if o["name"] == "lab9")
    assert org["fullname"] == "Lab Nine" and org["avatarUrl"] == f"{ENDPOINT}/avatars/lab9"
    ov = api.get_organization_overview("lab9")
    assert (ov.name, ov.fullname, ov.avatar_url, ov.num_users) == (
        "lab9",
        "Lab Nine",
        f"{ENDPOINT}/avatars/lab9",
        1,
    )
    pic = httpx.get(org["avatarUrl"])  # none uploaded: a generated picture, served as an inert file
    assert pic.status_code == 200 and pic.headers["content-type"].startswith("image/svg+xml")
    assert (
        "sandbox" in pic.headers["content-security-policy"]
        and pic.headers["x-content-type-options"] == "nosniff"
    )
    assert "Lab Nine" in httpx.get(f"{ENDPOINT}/lab9").text
    with pytest.raises(HfHubHTTPError) as e:
        api.get_organization_overview("no-such-org9")
    assert e.value.response.status_code == 404


def test_org_members_and_user_overview(server: Server, api: HfApi, bob: str) -> None:
    """list_organization_members and get_user_overview: the members' and the user's full names, avatars and
    (for a user) organizations with theirs."""
    agora("org", "create", "crew9", "--owner", "alice", "--fullname", "Crew Nine", data=server.data)
    agora("org", "add-member", "crew9", "bob", "--role", "write", data=server.data)
    anon = HfApi(endpoint=ENDPOINT, token=False)
    members = list(anon.list_organization_members("crew9"))
    assert [(m.username, m.avatar_url, m.user_type) for m in members] == [
        ("alice", f"{ENDPOINT}/avatars/alice", "user"),
        ("bob", f"{ENDPOINT}/avatars/bob", "user"),
    ]
    me = api.get_user_overview("alice")
    assert (me.username, me.fullname, me.avatar_url) == ("alice", "alice", f"{ENDPOINT}/avatars/alice")
    crew = next(o for o in me.orgs if o.name == "crew9")
    assert (crew.fullname, crew.avatar_url) == ("Crew Nine", f"{ENDPOINT}/avatars/crew9")
    for missing in (
        lambda: list(anon.list_organization_members("no-such-org9")),
        lambda: anon.get_user_overview("crew9"),  # an org is no user
        lambda: anon.get_user_overview("no-such-user9"),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            missing()
        assert e.value.response.status_code == 404


def test_renamed_org_keeps_its_repos_old_ids(server: Server, api: HfApi, repo_name: str) -> None:
    """`agora user rename` of an org: its repos follow, and their old ids redirect as after a move."""
    org = f"lab{repo_name.rsplit('-', 1)[-1]}r"  # a valid, unique account name
    agora("org", "create", org, "--owner", "alice", data=server.data)
    rid = api.create_repo(f"{org}/model").repo_id
    api.upload_file(path_or_fileobj=b"hi", path_in_repo="hi.txt", repo_id=rid)
    agora("user", "rename", org, f"{org}-new", data=server.data)
    assert api.model_info(rid).id == f"{org}-new/model"  # the old id: 307 to the new one
    assert api.hf_hub_download(rid, "hi.txt") and api.file_exists(f"{org}-new/model", "hi.txt")
