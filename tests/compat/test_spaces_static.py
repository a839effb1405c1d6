"""Spaces through huggingface_hub: the README config and its errors, the runtime API, and static Spaces
served from the repo at `/spaces/{id}/app/` in a sandbox (their own opaque origin), private ones only
through the signed path their page makes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import RepositoryNotFoundError

INDEX = b"<!doctype html><title>t</title><link rel=stylesheet href=style.css><h1 id=hi>Hello from a static Space</h1>"


def readme(**cfg: Any) -> bytes:
    lines = [f"{k}: {v}" for k, v in cfg.items()]
    return ("---\n" + "\n".join(lines) + "\n---\n# A Space\n").encode()


def make_space(
    api: HfApi, rid: str, files: dict[str, bytes], sdk: str = "static", private: bool = False
) -> None:
    api.create_repo(rid, repo_type="space", space_sdk=sdk, private=private)
    ops = [CommitOperationAdd(path, data) for path, data in files.items()]
    api.create_commit(rid, ops, commit_message="app", repo_type="space")


def test_static_space_runs_sandboxed(server: Any, api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    make_space(api, rid, {"README.md": readme(sdk="static", emoji="🚀", colorFrom="blue", colorTo="green"),
                          "index.html": INDEX, "style.css": b"h1 { color: red }",
                          "docs/index.html": b"<p>docs</p>"})  # fmt: skip
    rt = api.get_space_runtime(rid)
    assert rt.stage == "RUNNING" and rt.hardware == "cpu-basic"
    info = api.space_info(rid)
    assert info.sdk == "static" and info.host == f"{server.url}/spaces/{rid}/app/"
    r = httpx.get(info.host)
    assert r.status_code == 200 and r.content == INDEX and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox ") and "allow-scripts" in csp and "allow-same-origin" not in csp
    assert r.headers["x-frame-options"] == "SAMEORIGIN" and "set-cookie" not in r.headers
    css = httpx.get(info.host + "style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert httpx.get(info.host + "docs/").text == "<p>docs</p>"
    assert (
        httpx.get(f"{server.url}/spaces/{rid}/app", follow_redirects=False)
        .headers["location"]
        .endswith("/app/")
    )
    for bad in ("nope.html", "..%2F..%2FREADME.md", "%2e%2e/%2e%2e/x"):
        assert httpx.get(info.host + bad).status_code == 404
    # a push changes the app at once
    api.upload_file(path_or_fileobj=b"<h1>v2</h1>", path_in_repo="index.html", repo_id=rid, repo_type="space")
    assert httpx.get(info.host).text == "<h1>v2</h1>"


@pytest.mark.parametrize(
    ("card", "stage", "says"),
    [
        (readme(sdk="docker", app_port=7860), "CONFIG_ERROR", "runs no containers"),
        (readme(sdk="static", colorFrom="mauve", short_description="x" * 61), "CONFIG_ERROR", "colorFrom"),
        (readme(sdk="static", app_file="../outside.html"), "CONFIG_ERROR", "app_file"),
        (readme(sdk="static", startup_duration_timeout="soon"), "CONFIG_ERROR", "duration"),
        (readme(sdk="static", app_file="site/main.html"), "NO_APP_FILE", "site/main.html"),
        (readme(sdk="gradio", sdk_version="5.9.1"), "NO_APP_FILE", "app.py"),
    ],
    ids=["docker", "bad-fields", "app-outside", "bad-duration", "no-app-file", "gradio"],
)
def test_space_stages_say_why(
    server: Any, api: HfApi, repo_name: str, card: bytes, stage: str, says: str
) -> None:
    rid = f"alice/{repo_name}"
    make_space(api, rid, {"README.md": card, "index.html": INDEX}, sdk="static")
    rt = api.get_space_runtime(rid)
    assert rt.stage == stage
    assert says in rt.raw["errorMessage"]
    if stage == "CONFIG_ERROR" and "colorFrom" in says:
        assert "short_description" in rt.raw["errorMessage"]  # every problem, not only the first
    r = httpx.get(f"{server.url}/spaces/{rid}/app/")
    assert r.status_code == 503 and stage in r.text
    assert r.headers["content-type"].startswith("text/plain")


def test_private_space_only_through_its_signed_path(
    server: Any, api: HfApi, alice: str, repo_name: str
) -> None:
    rid = f"alice/{repo_name}"
    make_space(api, rid, {"README.md": readme(sdk="static"), "index.html": INDEX, "style.css": b"p{}"},
               private=True)  # fmt: skip
    url = f"{server.url}/spaces/{rid}/app/"
    assert httpx.get(url).status_code == 404
    # the owner's token does not open the app: the app is never fetched as the visitor
    assert httpx.get(url, headers={"authorization": f"Bearer {alice}"}).status_code == 404
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=server.url, token=False).get_space_runtime(rid)
    # the Space page (the owner's session) frames a signed path; its relative URLs keep the signature
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as web:
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)
        assert csrf is not None
        r = web.post(
            "/login", data={"username": "alice", "password": "alice-password", "csrf": csrf.group(1)}
        )
        assert r.status_code in (200, 302, 303), r.text[:300]
        page = web.get(f"/spaces/{rid}").text
    m = re.search(r'<iframe class="space-frame" src="([^"]+)"', page)
    assert m is not None, page
    src = m.group(1)
    assert re.fullmatch(rf"/spaces/{rid}/app/~\d+\.[0-9a-f]{{64}}/", src)
    assert httpx.get(server.url + src).content == INDEX
    assert httpx.get(server.url + src + "style.css").content == b"p{}"
    forged = src[:-3] + ("0" if src[-3] != "0" else "1") + src[-2:]
    assert httpx.get(server.url + forged).status_code == 403
    other = src.replace(repo_name, repo_name + "-x")  # a signature is for one Space
    assert httpx.get(server.url + other).status_code in (403, 404)


def test_runtime_api_pause_restart_sleep(server: Any, api: HfApi, bob: str, repo_name: str) -> None:
    """pause / restart / sleep time as huggingface_hub calls them; a static Space refuses them as the Hub does;
    only those who may write the Space change it."""
    from huggingface_hub.errors import BadRequestError, HfHubHTTPError

    rid = f"alice/{repo_name}"
    # no app file: nothing is built or started (tests/spaces runs real apps)
    make_space(api, rid, {"README.md": readme(sdk="gradio")}, sdk="gradio")
    assert api.get_space_runtime(rid).stage == "NO_APP_FILE"
    assert api.pause_space(rid).stage == "PAUSED"
    assert api.get_space_runtime(rid).stage == "PAUSED"
    with pytest.raises(HfHubHTTPError) as e:
        HfApi(endpoint=server.url, token=bob).restart_space(rid)
    assert e.value.response.status_code == 403
    assert api.restart_space(rid).stage == "NO_APP_FILE"
    with pytest.warns(UserWarning):  # the client warns about cpu-basic's sleep; the value is kept
        rt = api.set_space_sleep_time(rid, 3600)
    assert rt.sleep_time == 3600 and api.get_space_runtime(rid).sleep_time == 3600
    with pytest.raises(BadRequestError):
        api.set_space_sleep_time(rid, 5)
    with pytest.raises(BadRequestError):
        api.request_space_hardware(rid, "t4-small")
    static = f"alice/{repo_name}-static"
    make_space(api, static, {"README.md": readme(sdk="static"), "index.html": INDEX})
    for call in (api.pause_space, api.restart_space):
        with pytest.raises(BadRequestError, match="always running"):
            call(static)
    assert api.get_space_runtime(static).stage == "RUNNING"


def test_secrets_and_variables(server: Any, api: HfApi, bob: str, repo_name: str) -> None:
    from huggingface_hub.errors import BadRequestError, HfHubHTTPError

    rid = f"alice/{repo_name}"
    api.create_repo(
        rid,
        repo_type="space",
        space_sdk="gradio",
        space_secrets=[{"key": "API_KEY", "value": "s3cr3t", "description": "the key"}],
        space_variables=[{"key": "MODEL", "value": "alice/m1"}],
    )
    secrets = api.get_space_secrets(rid)
    assert list(secrets) == ["API_KEY"] and secrets["API_KEY"].description == "the key"
    assert (
        "s3cr3t"
        not in httpx.get(
            f"{server.url}/api/spaces/{rid}/secrets", headers={"authorization": f"Bearer {api.token}"}
        ).text
    )  # write-only
    assert api.get_space_variables(rid)["MODEL"].value == "alice/m1"
    api.add_space_variable(rid, "TEMPERATURE", "0.7", description="sampling")
    api.add_space_secret(rid, "OTHER", "x")
    api.delete_space_secret(rid, "API_KEY")
    assert list(api.get_space_secrets(rid)) == ["OTHER"]
    api.delete_space_variable(rid, "MODEL")
    got = api.get_space_variables(rid)
    assert list(got) == ["TEMPERATURE"] and got["TEMPERATURE"].description == "sampling"
    with pytest.raises(BadRequestError):
        api.add_space_variable(rid, "NOT A NAME", "v")
    with pytest.raises(HfHubHTTPError) as e:
        HfApi(endpoint=server.url, token=bob).get_space_secrets(rid)
    assert e.value.response.status_code == 403
    # a bad secret at creation creates nothing
    bad = f"alice/{repo_name}-bad"
    with pytest.raises(BadRequestError):
        api.create_repo(
            bad, repo_type="space", space_sdk="gradio", space_secrets=[{"key": "1X", "value": "v"}]
        )
    with pytest.raises(RepositoryNotFoundError):
        api.space_info(bad)


def test_spaces_using_a_model_and_a_dataset(server: Any, api: HfApi, repo_name: str) -> None:
    """A Space's card `models:` and `datasets:` link both ways: the model's info lists the Space (as the Hub's
    `spaces`), the model and dataset pages say "Spaces using this …", the Space's page links to what it uses."""
    model, data, space = f"alice/{repo_name}-m", f"alice/{repo_name}-d", f"alice/{repo_name}-s"
    api.create_repo(model)
    api.create_repo(data, repo_type="dataset")
    make_space(api, space, {"README.md": readme(sdk="static", models=f"[{model}]", datasets=f"[{data}]"),
                            "index.html": INDEX})  # fmt: skip
    assert space in (api.model_info(model).spaces or [])
    for page in (f"{server.url}/{model}", f"{server.url}/datasets/{data}"):
        html = httpx.get(page).text
        assert "Spaces using this" in html and f'href="/spaces/{space}"' in html, page
    html = httpx.get(f"{server.url}/spaces/{space}").text
    assert f'href="/{model}"' in html and f'href="/datasets/{data}"' in html
