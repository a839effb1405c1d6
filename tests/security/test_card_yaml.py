"""Item 3 of issue 12: README front matter is user YAML, parsed with limits (hub/cards.py load_yaml).

A 600-byte alias bomb, a recursive alias and 3,000-deep nesting are refused with a 400 in the card-validation
format by every write surface (validate-yaml, the NDJSON commit huggingface_hub sends, git push) and nothing
is committed; a legitimate README of 1 MB with big alias-free metadata stays under 1 MB once answered.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..compat.test_git_push import Git, url
from ..conftest import Server, _free_port, agora, start_server, stop_server

MB = 1024 * 1024


def alias_bomb() -> str:
    """Nine levels of nine aliases: 9^9 (387 million) strings from ~600 bytes."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "---\nlicense: mit\n" + "\n".join(lines) + "\n---\n# Bomb\n"


RECURSIVE = "---\nlicense: mit\nloop: &x [1, *x]\n---\n# Loop\n"
DEEP = "---\nlicense: mit\ndeep: " + "[" * 3000 + "]" * 3000 + "\n---\n# Deep\n"
DEEP_BLOCK = "---\nlicense: mit\n" + "".join(" " * i + "a:\n" for i in range(1000)) + " " * 1000 + "b\n---\n"
CASES = {"bomb": alias_bomb(), "recursive": RECURSIVE, "deep": DEEP, "deep-block": DEEP_BLOCK}


def test_the_bomb_is_small() -> None:
    assert len(alias_bomb()) < 700


def ndjson_commit(server: Server, token: str, repo_id: str, files: dict[str, bytes]) -> httpx.Response:
    lines = [{"key": "header", "value": {"summary": "card"}}]
    lines += [
        {"key": "file", "value": {"path": p, "content": base64.b64encode(d).decode(), "encoding": "base64"}}
        for p, d in files.items()
    ]
    body = "\n".join(json.dumps(x) for x in lines).encode()
    return httpx.post(
        f"{server.url}/api/models/{repo_id}/commit/main",
        content=body,
        timeout=60,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )


@pytest.mark.parametrize("case", list(CASES))
def test_validate_yaml_refuses(server: Server, case: str) -> None:
    r = httpx.post(
        f"{server.url}/api/validate-yaml", json={"content": CASES[case], "repoType": "model"}, timeout=60
    )
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert body["errors"] and "README.md metadata" in body["errors"][0]["message"]
    assert len(r.content) < 10_000


@pytest.mark.parametrize("case", list(CASES))
def test_commit_refuses_and_changes_nothing(
    server: Server, alice: str, api: HfApi, repo_name: str, case: str
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    head = api.model_info(repo_id).sha
    # huggingface_hub: validate-yaml first (ValueError), then nothing is sent
    with pytest.raises((ValueError, HfHubHTTPError)) as exc:
        api.upload_file(path_or_fileobj=CASES[case].encode(), path_in_repo="README.md", repo_id=repo_id)
    assert "README.md" in str(exc.value)
    # the commit endpoint itself, as a client skipping validate-yaml sends it
    r = ndjson_commit(server, alice, repo_id, {"README.md": CASES[case].encode()})
    assert r.status_code == 400, r.text[:300]
    assert r.headers["x-error-code"] == "BadRequest"
    assert "Invalid metadata in README.md" in r.json()["error"]
    info = api.model_info(repo_id)
    assert info.sha == head
    assert "README.md" not in [s.rfilename for s in info.siblings or []]
    r = httpx.get(f"{server.url}/api/models/{repo_id}", timeout=60)
    assert r.status_code == 200 and len(r.content) < 100_000


@pytest.mark.parametrize("case", ["bomb", "recursive", "deep"])
def test_git_push_is_refused_with_the_message(
    server: Server, alice: str, api: HfApi, repo_name: str, tmp_path: Path, case: str
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    head = api.model_info(repo_id).sha
    git = Git(tmp_path)
    work = tmp_path / "w"
    git("clone", url(server, repo_id, alice), str(work))
    (work / "README.md").write_text(CASES[case])
    git("add", "README.md", cwd=work)
    git("commit", "-m", "card", cwd=work)
    p = git("push", "origin", "main", cwd=work, check=False)
    assert p.returncode != 0
    assert "Invalid metadata in README.md" in p.stderr, p.stderr
    assert "could not check" not in p.stderr
    assert api.model_info(repo_id).sha == head
    r = httpx.get(f"{server.url}/api/models/{repo_id}", timeout=60)
    assert r.status_code == 200 and len(r.content) < 100_000


def big_legit_readme() -> str:
    """~1 MB: ~420 KB of alias-free model-index metadata and a long body."""
    results = "".join(
        f"  - task: {{type: text-classification, name: Text Classification}}\n"
        f"    dataset: {{type: glue, name: GLUE task {i}, config: cfg{i}, split: validation}}\n"
        f"    metrics:\n    - {{type: accuracy, value: 0.{i:04d}, name: Accuracy}}\n"
        for i in range(1900)
    )
    meta = f"license: mit\ntags: [text-classification]\nmodel-index:\n- name: big\n  results:\n{results}"
    body = "# Big model\n\n" + ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 9500)
    text = f"---\n{meta}---\n{body}"
    assert 900_000 < len(text.encode()) <= MB
    return text


def test_big_legit_readme_gives_bounded_answers(
    server: Server, alice: str, api: HfApi, repo_name: str
) -> None:
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=big_legit_readme().encode(), path_in_repo="README.md", repo_id=repo_id)
    r = httpx.get(f"{server.url}/api/models/{repo_id}", timeout=60)
    assert r.status_code == 200
    assert len(r.content) <= MB
    card = r.json()["cardData"]
    assert len(card["model-index"][0]["results"]) == 1900
    assert len(json.dumps(card)) <= MB
    r = httpx.get(
        f"{server.url}/api/models",
        params={"search": repo_name, "full": "true", "cardData": "true"},
        timeout=60,
    )
    assert r.status_code == 200 and len(r.content) <= MB


def test_many_scalar_aliases_are_bounded(server: Server, alice: str, api: HfApi, repo_name: str) -> None:
    """Aliases to one long string: few values, many bytes once expanded."""
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    text = "---\nlicense: mit\nx: &s " + "y" * 60_000 + "\nz: [" + ",".join(["*s"] * 200) + "]\n---\n"
    r = ndjson_commit(server, alice, repo_id, {"README.md": text.encode()})
    assert r.status_code == 400 and "Invalid metadata in README.md" in r.json()["error"]


def test_yaml_dates_and_odd_keys_do_not_break_the_card(
    server: Server, alice: str, api: HfApi, repo_name: str
) -> None:
    """YAML values with no JSON form (dates, non-string keys) are stored as JSON text, never a 500."""
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id)
    text = "---\nlicense: mit\nreleased: 2024-01-31\n1: one\ntrue: yes\nnan: .nan\n---\n# Dates\n"
    r = ndjson_commit(server, alice, repo_id, {"README.md": text.encode()})
    assert r.status_code == 200, r.text[:300]
    r = httpx.get(f"{server.url}/api/models/{repo_id}", timeout=60)
    assert r.status_code == 200
    assert r.json()["cardData"]["released"] == "2024-01-31"


def test_reindex_of_an_existing_oversized_card_does_not_break(tmp_path: Path) -> None:
    """A card stored before the limits (here: by a server with relaxed limits) is indexed as no metadata by
    the next re-index, and that re-index neither fails nor stores the expanded data."""
    data = tmp_path / "data"
    data.mkdir()
    agora("user", "add", "dora", "--password-stdin", data=data, stdin="dora-password\n")
    token = agora("token", "create", "dora", "--role", "write", data=data)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # 3 levels of 40 aliases of 40 strings: 64,000 values and ~2 MB of JSON from a few hundred bytes
    lines = ["a: &a [" + ",".join(["xxxxxxxxxxxxxxxxxxxxxxxxx"] * 40) + "]"]
    for prev, cur in (("a", "b"), ("b", "c")):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 40) + "]")
    card = "---\nlicense: mit\n" + "\n".join(lines) + "\n---\n# Old card\n"
    relaxed = {"AGORA_CARD_MAX_NODES": str(10**7), "AGORA_CARD_MAX_JSON_BYTES": str(10**8)}
    proc = start_server(data, port, data.parent / f"server-{port}.log", relaxed)
    try:
        api = HfApi(endpoint=base, token=token)
        api.create_repo("dora/old")
        srv = Server(base, data, proc)
        r = ndjson_commit(srv, token, "dora/old", {"README.md": card.encode()})
        assert r.status_code == 200, r.text[:300]
        assert len(httpx.get(f"{base}/api/models/dora/old", timeout=60).content) > MB  # the old behaviour
    finally:
        stop_server(proc)
    proc = start_server(data, port, data.parent / f"server-{port}.log")
    try:
        srv = Server(base, data, proc)
        r = ndjson_commit(srv, token, "dora/old", {"other.txt": b"re-index, please"})
        assert r.status_code == 200, r.text[:300]
        r = httpx.get(f"{base}/api/models/dora/old", timeout=60)
        assert r.status_code == 200 and len(r.content) < 100_000
        assert "cardData" not in r.json() or not r.json()["cardData"]
        r = httpx.get(f"{base}/dora/old", timeout=60)  # the repo page parses the README too
        assert r.status_code == 200
    finally:
        stop_server(proc)
