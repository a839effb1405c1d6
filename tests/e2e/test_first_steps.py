"""First steps and details (issue 18) in Chromium: an empty repo's page shows how to add files, and the
commands it shows work (run here against the test server, as a user would paste them); the logged-in home
page (repos, orgs, likes, a feed of recent commits that respects visibility); SVG icons instead of emoji
glyphs; the favicon; count plurals; a revert that would change nothing is refused; the login form's grid;
drop-zone links; a README's YAML block in the file view."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from playwright.sync_api import Page, expect

from ..conftest import BIN
from .conftest import login, snap

pytestmark = pytest.mark.usefixtures("no_server_errors")

# The emoji and symbol glyphs the pages used to draw with fonts (empty boxes on a plain Linux Chromium).
REMOVED_GLYPHS = ("🏛", "⧉", "📁", "📄", "⬇", "♥", "✕")


def _shown_commands(page: Page, selector: str) -> list[str]:
    """The command lines of a first-steps block, without comments (what a user pastes)."""
    text = page.locator(selector).inner_text()
    return [line.split("   #", 1)[0].strip() for line in text.splitlines() if line.strip()]


def _run_lines(lines: list[str], cwd: Path, env: dict[str, str], after_cd: str = "") -> None:
    """Run `lines` in one bash (so `cd` and `export` carry), `after_cd` right after the first `cd`."""
    script = []
    for line in lines:
        script.append(line)
        if line.startswith("cd ") and after_cd:
            script.append(after_cd)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"{script}\n{out.stdout}\n{out.stderr}"


def _client_env(tmp: Path, token: str) -> dict[str, str]:
    """A user's shell: a HOME of its own, `hf` on the PATH, and git asking for its password through
    GIT_ASKPASS (the user name is anything, the password the token, as the page says)."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    askpass = tmp / "askpass.sh"
    askpass.write_text(f'#!/bin/sh\ncase "$1" in Username*) echo alice;; *) echo {token};; esac\n')
    askpass.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_TOKEN", "HF_ENDPOINT"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_ASKPASS=str(askpass),
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="alice",
        GIT_AUTHOR_EMAIL="alice@example.org",
        GIT_COMMITTER_NAME="alice",
        GIT_COMMITTER_EMAIL="alice@example.org",
        HF_HUB_DISABLE_XET="1",
        PATH=f"{BIN}:{os.environ['PATH']}",
    )
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return env


@pytest.mark.parametrize("rtype", ["model", "dataset", "space"])
def test_empty_repo_shows_first_steps_that_work(
    page: Page, api: HfApi, server: Any, repo_name: str, tmp_path: Path, rtype: str
) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type=rtype, **({"space_sdk": "static"} if rtype == "space" else {}))
    web_path = rid if rtype == "model" else f"{rtype}s/{rid}"
    login(page, "alice")
    page.goto(f"/{web_path}")
    snap(page, f"empty-{rtype}")
    steps = page.locator("#first-steps")
    expect(steps).to_be_visible()
    expect(steps.locator("#first-steps-upload")).to_have_attribute("href", f"/{web_path}/upload/main")

    hf_lines = _shown_commands(page, "#first-steps-hf")
    type_opt = "" if rtype == "model" else f" --repo-type {rtype}"
    assert hf_lines[0] == f"export HF_ENDPOINT={server.url}"
    assert hf_lines[1] == "export HF_TOKEN=hf_..."
    assert re.fullmatch(rf"hf upload {re.escape(rid)} \./my-\w+{re.escape(type_opt)}", hf_lines[2]), hf_lines
    git_lines = _shown_commands(page, "#first-steps-git")
    assert git_lines == [
        "git lfs install",
        f"git clone {server.url}/{web_path}",
        f"cd {repo_name}",
        "git add .",
        'git commit -m "Add files"',
        "git push",
    ]
    # The copy buttons carry the same commands (with the comment).
    assert steps.locator("[data-copy]").first.get_attribute("data-copy").splitlines()[0] == hf_lines[0]

    env = _client_env(tmp_path, server.token("alice"))
    if rtype == "dataset":  # the hf commands, pasted with a real token and a folder to upload
        folder = tmp_path / hf_lines[2].split()[3]
        folder.mkdir()
        (folder / "data.csv").write_text("a,b\n1,2\n3,4\n")
        lines = [line.replace("hf_...", server.token("alice")) for line in hf_lines]
        _run_lines(lines, tmp_path, env)
        assert "data.csv" in api.list_repo_files(rid, repo_type=rtype)
    else:  # the git commands, with files put in the clone after `cd`
        add = (
            "printf '<h1>hi</h1>' > index.html"
            if rtype == "space"
            else "git lfs track '*.bin' && head -c 300000 /dev/urandom > weights.bin"
        )
        _run_lines(git_lines, tmp_path, env, after_cd=add)
        files = api.list_repo_files(rid, repo_type=rtype)
        assert ("index.html" if rtype == "space" else "weights.bin") in files
        head = subprocess.run(
            ["git", "-C", str(tmp_path / repo_name), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        assert api.repo_info(rid, repo_type=rtype).sha == head
        if rtype == "model":  # pushed through Git LFS, as `git lfs install` set up
            assert api.get_paths_info(rid, ["weights.bin"])[0].lfs is not None
    page.reload()
    snap(page, f"{rtype}-after-first-files")
    expect(page.locator("#first-steps")).to_have_count(0)


def test_home_feed_repos_orgs_likes(
    new_page: Callable[..., Page], api: HfApi, server: Any, repo_name: str
) -> None:
    mine, org_repo, bobs = f"alice/{repo_name}-mine", f"acme/{repo_name}-org", f"bob/{repo_name}-secret"
    api.create_repo(mine)
    api.upload_file(
        repo_id=mine, path_in_repo="a.txt", path_or_fileobj=b"a", commit_message=f"Mine {repo_name}"
    )
    api.create_repo(org_repo, repo_type="dataset", private=True)
    api.upload_file(
        repo_id=org_repo,
        repo_type="dataset",
        path_in_repo="b.txt",
        path_or_fileobj=b"b",
        commit_message=f"Org data {repo_name}",
    )
    bob_api = HfApi(endpoint=server.url, token=server.token("bob"))
    bob_api.create_repo(bobs, private=True)
    bob_api.upload_file(
        repo_id=bobs, path_in_repo="s.txt", path_or_fileobj=b"s", commit_message=f"Secret {repo_name}"
    )
    liked = httpx.post(
        f"{server.url}/api/models/{mine}/like", headers={"Authorization": f"Bearer {server.token('alice')}"}
    )
    assert liked.status_code == 200, liked.text

    alice, carol = new_page("alice"), new_page("carol")
    login(alice, "alice")
    expect(alice.locator("#dashboard")).to_be_visible()
    feed = alice.locator("#feed")
    first = feed.locator("li").first  # newest first: the org's commit came after alice's own
    expect(first.locator(".title")).to_have_text(f"Org data {repo_name}")
    expect(first.locator(".who")).to_have_text("alice")
    expect(first.locator(".repo")).to_have_text(org_repo)
    expect(first.locator(".when")).to_have_text(re.compile(r"just now|ago"))
    mine_item = feed.locator("li", has_text=f"Mine {repo_name}")
    expect(mine_item.locator(".repo")).to_have_attribute("href", f"/{mine}")
    expect(feed).not_to_contain_text(f"Secret {repo_name}")  # bob's private repo: not alice's to see
    assert feed.locator("li").count() <= 30
    expect(alice.locator("#my-repos")).to_contain_text(mine)
    expect(alice.locator("#my-orgs a", has_text="acme")).to_have_attribute("href", "/acme")
    expect(alice.locator("#my-likes")).to_contain_text(mine)
    with alice.expect_navigation():
        first.locator(".title").click()
    snap(alice, "feed-commit")
    expect(alice.locator(".commit-head h2")).to_have_text(f"Org data {repo_name}")

    # carol reads acme: she sees its private dataset's commit, not alice's own repos.
    login(carol, "carol")
    expect(carol.locator("#feed")).to_contain_text(f"Org data {repo_name}")
    expect(carol.locator("#feed")).not_to_contain_text(f"Mine {repo_name}")
    expect(carol.locator("#feed")).not_to_contain_text(f"Secret {repo_name}")

    anon = new_page()
    anon.goto("/")
    snap(anon, "home-anon")
    expect(anon.locator("#dashboard")).to_have_count(0)


def _assert_svg_icons_only(page: Page, base: str) -> None:
    """No text on the page uses a removed glyph; every icon is an inline SVG with a size, whose <use> names
    a symbol of the sprite."""
    body = page.locator("body").inner_text()
    assert not [g for g in REMOVED_GLYPHS if g in body], body
    icons = page.locator("svg.icon")
    assert icons.count() > 0
    sprite = httpx.get(f"{base}/static/icons.svg").text
    for i in range(icons.count()):
        box = icons.nth(i).bounding_box()
        if box is not None:  # a visible one (not in a closed menu)
            assert box["width"] >= 10 and box["height"] >= 10, box
        href = icons.nth(i).locator("use").get_attribute("href")
        assert href and href.startswith("/static/icons.svg#")
        assert f'id="{href.split("#")[1]}"' in sprite


def test_svg_icons_favicon_and_plurals(page: Page, api: HfApi, server: Any, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    login(page, "alice")
    page.goto(f"/{rid}")
    snap(page, "one-file")
    expect(page.locator("#file-count")).to_contain_text("1 file ·")
    _assert_svg_icons_only(page, server.url)
    brand = page.locator("a.brand svg.icon").bounding_box()
    assert brand is not None and brand["width"] >= 20

    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=b"# Two\n")
    page.goto(f"/{rid}")
    snap(page, "two-files")
    expect(page.locator("#file-count")).to_contain_text("2 files ·")
    page.goto(f"/{rid}/tree/main")
    snap(page, "tree")
    expect(page.get_by_role("link", name=re.compile("^History: 2 commits$"))).to_be_visible()
    expect(page.locator("td.name svg.icon-file")).to_have_count(2)
    _assert_svg_icons_only(page, server.url)
    page.goto(f"/{rid}/blob/main/README.md")
    snap(page, "blob")
    _assert_svg_icons_only(page, server.url)
    page.goto("/models")
    snap(page, "list")
    _assert_svg_icons_only(page, server.url)

    # The favicon: linked as SVG, and /favicon.ico answered for those who ask the classic address.
    href = page.locator("link[rel=icon]").get_attribute("href")
    svg = httpx.get(server.url + href)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    ico = httpx.get(server.url + "/favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"


def test_second_revert_is_refused(page: Page, api: HfApi, server: Any, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    first = api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"one").oid
    api.upload_file(repo_id=rid, path_in_repo="a.txt", path_or_fileobj=b"two")
    login(page, "alice")
    page.goto(f"/{rid}/commit/{first}")
    snap(page, "first-commit")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Revert to this version").click()
    snap(page, "reverted")
    expect(page.locator(".commit-head h2")).to_have_text(f"Revert to {first[:7]}")
    # The new head is the reverted state: its page offers no revert, nor does the first commit's any more.
    expect(page.get_by_role("button", name="Revert to this version")).to_have_count(0)
    page.goto(f"/{rid}/commit/{first}")
    snap(page, "first-commit-again")
    expect(page.get_by_role("button", name="Revert to this version")).to_have_count(0)
    expect(page.locator("#no-revert")).to_contain_text("main already has the files of this version")
    commits = len(api.list_repo_commits(rid))

    # The server refuses it too (a stale tab, a second click): 409 with a clear message, nothing committed.
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    resp = page.request.post(
        f"/{rid}/revert",
        form={"csrf": csrf or "", "target": first, "branch": "main"},
        headers={"Origin": server.url},
    )
    assert resp.status == 409, resp.text()
    assert f"Nothing to revert: main already has the files of {first[:7]}" in resp.text()
    assert len(api.list_repo_commits(rid)) == commits


def test_login_grid_dropzone_links_and_readme_yaml(page: Page, api: HfApi, repo_name: str) -> None:
    page.goto("/login")
    snap(page, "login")
    user, pw = page.get_by_label("User name").bounding_box(), page.get_by_label("Password").bounding_box()
    labels = page.locator(".login-form label")
    lu, lp = labels.nth(0).bounding_box(), labels.nth(1).bounding_box()
    assert user and pw and lu and lp
    assert abs(user["x"] - pw["x"]) < 1 and abs(user["width"] - pw["width"]) < 1  # inputs in one column
    assert abs(lu["x"] - lp["x"]) < 1 and lu["x"] + lu["width"] <= user["x"]  # labels in the column before
    assert abs((lu["y"] + lu["height"] / 2) - (user["y"] + user["height"] / 2)) < 4  # on the input's line

    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    readme = "---\nlicense: mit\ntags:\n- first-steps\n---\n# Card title\n\nHello.\n"
    api.upload_file(repo_id=rid, path_in_repo="README.md", path_or_fileobj=readme.encode())
    login(page, "alice")
    page.goto(f"/{rid}/upload/main")
    snap(page, "upload")
    link = page.locator(".dropzone label.link").first
    style = link.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).textDecorationLine]")
    accent = page.locator("a.btn, nav a").first.evaluate("e => getComputedStyle(document.body).color")
    assert style[1] == "underline" and style[0] != accent
    page.set_input_files("#file-input", files=[{"name": "x.txt", "mimeType": "text/plain", "buffer": b"x"}])
    expect(page.locator("#upload-status")).to_have_text("1 file ready to commit")  # app.js's plural

    page.goto(f"/{rid}/blob/main/README.md")
    snap(page, "readme-file")
    yaml = page.locator(".card-yaml")
    expect(yaml).to_contain_text("license: mit")
    expect(yaml).to_contain_text("- first-steps")
    card = page.locator("article.markdown")
    expect(card.locator("h1")).to_have_text("Card title")
    expect(card).not_to_contain_text("license: mit")
    y_box, c_box = yaml.bounding_box(), card.bounding_box()
    assert y_box and c_box and y_box["y"] < c_box["y"]  # the YAML block above the rendered card
