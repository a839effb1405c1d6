"""Bad input through huggingface_hub, and raw httpx where the client refuses to send it.

Every case gets a clear 4xx (never a 500) with an `X-Error-Code` and a human-readable message, and the repo
is left exactly as it was: same sha from repo_info, same file list.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import (
    BadRequestError,
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    RevisionNotFoundError,
)

NDJSON = {"content-type": "application/x-ndjson"}


pytestmark = pytest.mark.usefixtures("no_server_errors")


@pytest.fixture
def repo(server: Any, alice: str, repo_name: str) -> str:
    api = HfApi(endpoint=server.url, token=alice)
    repo_id = "alice/" + re.sub(r"-+", "-", repo_name)  # parametrized ids make "--", a bad name
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        commit_message="seed",
        operations=[
            CommitOperationAdd("keep.txt", b"keep me\n"),
            CommitOperationAdd("dir/inner.txt", b"inner\n"),
        ],
    )
    api.create_tag(repo_id, tag="v1")
    return repo_id


def state(api: HfApi, repo_id: str, repo_type: str | None = None) -> tuple[str, list[str], list[str]]:
    info = api.repo_info(repo_id, repo_type=repo_type)
    refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    assert info.sha
    return (
        info.sha,
        sorted(api.list_repo_files(repo_id, repo_type=repo_type)),
        sorted(
            [f"b:{b.name}:{b.target_commit}" for b in refs.branches]
            + [f"t:{t.name}:{t.target_commit}" for t in refs.tags]
        ),
    )


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def readable(message: str | None) -> str:
    """A message a person can act on: present, plain text, not a stack trace."""
    assert message, "the error has no message"
    assert "Traceback" not in message and "Internal error" not in message, message
    assert len(message) >= 10 and re.search(r"[A-Za-z]{3,}", message), message
    return message


def check_error(r: httpx.Response, status: int | tuple[int, ...], code: str | None = None) -> str:
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert 400 <= r.status_code < 500
    if code is not None:
        assert r.headers.get("X-Error-Code") == code, (dict(r.headers), r.text[:500])
    else:
        assert r.headers.get("X-Error-Code"), dict(r.headers)
    message = r.headers.get("X-Error-Message") or ""
    try:
        body = r.json()
    except ValueError:
        body = {}
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    return readable(message)


def ndjson(*lines: Any) -> bytes:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()


def header(summary: str = "bad", **extra: Any) -> dict[str, Any]:
    return {"key": "header", "value": {"summary": summary, "description": "", **extra}}


def file_line(path: str, content: bytes = b"x") -> dict[str, Any]:
    return {
        "key": "file",
        "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"},
    }


# ---- repo names ----------------------------------------------------------------------------------------

BAD_NAMES = {
    "dotdot": "a..b",
    "dotdot-alone": "..",
    "space": "my repo",
    "leading-space": " x",
    "too-long": "x" * 97,
    "way-too-long": "y" * 5000,
    "dot-git": "thing.git",
    "leading-dash": "-x",
    "double-dash": "a--b",
    "unicode": "caf\u00e9",
    "newline": "a\nb",
    "backslash": "a\\b",
    "percent": "a%2Fb",
}


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_create_repo_bad_name(server: Any, alice: str, case: str) -> None:
    name = BAD_NAMES[case]
    api = HfApi(endpoint=server.url, token=alice)
    before = sorted(m.id for m in api.list_models(author="alice"))
    try:
        api.create_repo(f"alice/{name}")
    except HFValidationError:
        pass  # refused client-side: the raw request below still has to be refused by the server
    except HfHubHTTPError as e:
        assert e.response.status_code == 400, e
        assert isinstance(e, BadRequestError)
        readable(e.response.headers.get("X-Error-Message"))
    else:
        pytest.fail(f"create_repo accepted {name!r}")
    for body in (
        {"name": name, "organization": "alice"},
        {"name": f"alice/{name}"},
        {"name": name},
        {"name": name, "organization": "alice", "type": "dataset"},
    ):
        r = httpx.post(f"{server.url}/api/repos/create", json=body, headers=auth(alice))
        check_error(r, 400, "BadRequest")
    assert sorted(m.id for m in api.list_models(author="alice")) == before
    assert not any(name in d.id for d in api.list_datasets(author="alice"))


SLASHED = {
    # repo_id given to create_repo -> raw bodies that must be refused
    "alice/a/b": [{"name": "alice/a/b"}, {"name": "a/b", "organization": "alice"}],
    "alice/x/y/z": [{"name": "alice/x/y/z"}, {"name": "x/y/z", "organization": "alice"}],
    "a/../b": [{"name": "a/../b"}, {"name": "../b", "organization": "alice"}],
    "alice/": [{"name": "alice/"}, {"name": "", "organization": "alice"}],
    "/alice": [{"name": "/alice"}, {"name": "/alice", "organization": "alice"}],
}


@pytest.mark.parametrize("repo_id", sorted(SLASHED))
def test_create_repo_name_with_slashes(server: Any, alice: str, repo_id: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = sorted(m.id for m in api.list_models(author="alice"))
    if repo_id != "/alice":  # the client turns "/alice" into {"name": "alice", "organization": ""}: valid
        with pytest.raises((ValueError, HfHubHTTPError)) as info:
            api.create_repo(repo_id)
        if isinstance(info.value, HfHubHTTPError):
            assert info.value.response.status_code == 400, info.value
    for body in SLASHED[repo_id]:
        r = httpx.post(f"{server.url}/api/repos/create", json=body, headers=auth(alice))
        check_error(r, 400, "BadRequest")
    assert sorted(m.id for m in api.list_models(author="alice")) == before


def test_create_repo_existing_name_variants_do_not_clobber(server: Any, alice: str, repo: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    r = httpx.post(f"{server.url}/api/repos/create", json={"name": repo}, headers=auth(alice))
    check_error(r, 409, "Conflict")
    assert r.json()["url"].endswith(repo)
    assert state(api, repo) == before


# ---- paths ---------------------------------------------------------------------------------------------

# Paths huggingface_hub itself refuses (ValueError before any request) and paths it lets through.
CLIENT_REFUSES = [
    "../escape.txt",
    "a/../../etc/passwd",
    "a/../b.txt",
    ".git/config",
    "sub/.git/hooks/x",
    "..",
]
SERVER_REFUSES = [
    ".GIT/config",
    "Sub/.Git/HEAD",
    "x/./y.txt",
    "a//b.txt",
    "dir\\..\\x.txt",
    "tab\there.txt",
    "p" * 1100,
]


@pytest.mark.parametrize("path", CLIENT_REFUSES + SERVER_REFUSES)
def test_upload_file_bad_path(server: Any, alice: str, repo: str, path: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    with pytest.raises((ValueError, HfHubHTTPError)) as info:
        api.upload_file(path_or_fileobj=b"payload", path_in_repo=path, repo_id=repo)
    if path in SERVER_REFUSES:
        assert isinstance(info.value, HfHubHTTPError), info.value
        # a malformed path is the Hub's 422; one over the length limit a 400
        assert info.value.response.status_code == (400 if len(path) > 1000 else 422)
        readable(info.value.response.headers.get("X-Error-Message"))
    assert state(api, repo) == before


RAW_BAD_PATHS = [
    "../escape.txt",
    "a/../../etc/passwd",
    "/abs.txt",
    "/",
    ".git/config",
    ".git/refs/heads/main",
    "sub/.git/HEAD",
    ".GIT/config",
    "./x.txt",
    "x/./y",
    "a//b",
    "",
    "dir/",
    "nul\x00.txt",
    "back\\slash",
    "p" * 1100,
]


@pytest.mark.parametrize("path", RAW_BAD_PATHS)
@pytest.mark.parametrize("kind", ["file", "lfsFile", "deletedFile", "deletedFolder", "preupload"])
def test_raw_commit_bad_path(server: Any, alice: str, repo: str, path: str, kind: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    base = f"{server.url}/api/models/{repo}"
    if kind == "preupload":
        r = httpx.post(
            f"{base}/preupload/main",
            headers=auth(alice),
            json={"files": [{"path": path, "sample": "eA==", "size": 1}]},
        )
    else:
        if kind == "file":
            line = file_line(path)
        elif kind == "lfsFile":
            line = {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": "0" * 64, "size": 1}}
        else:
            line = {"key": kind, "value": {"path": path}}
        # a good line before the bad one: the whole commit must be refused, not applied in part
        r = httpx.post(
            f"{base}/commit/main",
            headers={**auth(alice), **NDJSON},
            content=ndjson(header(), file_line("good.txt", b"good"), line),
        )
    if kind in ("deletedFolder",) and path == "dir/":
        # "dir/" is a perfectly good folder to delete: this one must succeed. Check the others only.
        assert r.status_code == 200, r.text
        return
    check_error(r, (400, 422), "BadRequest")  # 422 for a malformed path (the Hub's), 400 for the rest
    assert state(api, repo) == before


# ---- malformed NDJSON ------------------------------------------------------------------------------------

MALFORMED = {
    "not-json": ndjson(header(), "this is not json"),
    "not-json-header": b"{not json at all\n",
    "truncated-json": ndjson(header(), '{"key": "file", "value": {"path": "a.txt", "cont'),
    "unknown-key": ndjson(header(), {"key": "copyFile", "value": {"path": "a.txt"}}),
    "no-key": ndjson(header(), {"value": {"path": "a.txt"}}),
    "value-not-object": ndjson(header(), {"key": "file", "value": "a.txt"}),
    "line-is-array": ndjson(header(), ["file", {"path": "a.txt"}]),
    "line-is-string": ndjson(header(), '"just a string"'),
    "missing-header": ndjson(file_line("a.txt")),
    "header-not-first": ndjson(file_line("a.txt"), header()),
    "two-headers": ndjson(header(), file_line("a.txt"), header("again")),
    "empty-body": b"",
    "blank-lines": b"\n\n  \n",
    "header-only-not-object": ndjson({"key": "header", "value": []}),
    "bad-base64": ndjson(
        header(),
        {"key": "file", "value": {"path": "a.txt", "content": "%%%not base64%%%", "encoding": "base64"}},
    ),
    "content-not-string": ndjson(header(), {"key": "file", "value": {"path": "a.txt", "content": 12}}),
    "path-not-string": ndjson(header(), {"key": "file", "value": {"path": ["a.txt"], "content": ""}}),
    "path-missing": ndjson(header(), {"key": "file", "value": {"content": "eA=="}}),
    "summary-not-string": ndjson({"key": "header", "value": {"summary": {"a": 1}}}, file_line("a.txt")),
    "parent-not-hex": ndjson(header(parentCommit="main"), file_line("a.txt")),
    "parent-not-string": ndjson(header(parentCommit=12), file_line("a.txt")),
    "lfs-size-not-int": ndjson(
        header(),
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "0" * 64, "size": "12"}},
    ),
    "lfs-bad-algo": ndjson(
        header(), {"key": "lfsFile", "value": {"path": "w.bin", "algo": "md5", "oid": "0" * 32, "size": 12}}
    ),
    "lfs-bad-oid": ndjson(
        header(),
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "not-an-oid", "size": 12}},
    ),
    "lfs-oid-not-string": ndjson(
        header(), {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": 5, "size": 12}}
    ),
    "invalid-utf8": b'{"key": "header", "value": {"summary": "\xff\xfe"}}\n',
    "file-onto-folder": ndjson(header(), file_line("dir", b"x")),
    "file-under-file": ndjson(header(), file_line("keep.txt/inner", b"x")),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_ndjson(server: Any, alice: str, repo: str, case: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    r = httpx.post(
        f"{server.url}/api/models/{repo}/commit/main",
        headers={**auth(alice), **NDJSON},
        content=MALFORMED[case],
    )
    check_error(r, 400, "BadRequest")
    assert state(api, repo) == before


def test_lfs_file_with_unknown_oid(server: Any, alice: str, repo: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    never = hashlib.sha256(b"never uploaded anywhere").hexdigest()
    for value in (
        {"path": "w.bin", "algo": "sha256", "oid": never, "size": 23},
        {"path": "w.bin", "algo": "sha256", "oid": never},
    ):  # the copy form, without size
        r = httpx.post(
            f"{server.url}/api/models/{repo}/commit/main",
            headers={**auth(alice), **NDJSON},
            content=ndjson(header(), {"key": "lfsFile", "value": value}),
        )
        msg = check_error(r, (400, 404, 422))
        assert never in msg, msg
    assert state(api, repo) == before


def test_lfs_oid_uploaded_to_another_repo_is_unknown_here(
    server: Any, alice: str, repo: str, repo_name: str
) -> None:
    """An LFS object is only committable in the repo it was uploaded to (no borrowing by oid)."""
    api = HfApi(endpoint=server.url, token=alice)
    other = repo + "-other"
    api.create_repo(other)
    data = b"\x00secret weights" * 64
    api.upload_file(path_or_fileobj=data, path_in_repo="w.bin", repo_id=other)
    oid = hashlib.sha256(data).hexdigest()
    before = state(api, repo)
    r = httpx.post(
        f"{server.url}/api/models/{repo}/commit/main",
        headers={**auth(alice), **NDJSON},
        content=ndjson(
            header(),
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ),
    )
    check_error(r, (400, 404, 422))
    assert state(api, repo) == before


def test_huge_ndjson_line_is_refused(server: Any, alice: str, repo: str) -> None:
    """One NDJSON line larger than the server's limit (64 MB by default), streamed: 413 (or 400), no 500."""
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    chunk = b"A" * (1024 * 1024)  # valid base64, 1 MiB at a time

    def body() -> Iterator[bytes]:
        yield ndjson(header()) + b"\n"
        yield b'{"key": "file", "value": {"path": "huge.bin", "encoding": "base64", "content": "'
        for _ in range(70):
            yield chunk
        yield b'"}}\n'

    try:
        r = httpx.post(
            f"{server.url}/api/models/{repo}/commit/main",
            headers={**auth(alice), **NDJSON},
            content=body(),
            timeout=120,
        )
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError) as e:  # pragma: no cover
        pytest.fail(f"the server dropped the connection instead of answering: {e!r}")
    msg = check_error(r, (413, 400))
    assert "line" in msg.lower() or "large" in msg.lower(), msg
    assert state(api, repo) == before
    # The server is still healthy afterwards.
    api.upload_file(path_or_fileobj=b"after", path_in_repo="after.txt", repo_id=repo)
    assert "after.txt" in api.list_repo_files(repo)


# ---- missing files and revisions -------------------------------------------------------------------------


def test_delete_missing_file(server: Any, alice: str, repo: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    with pytest.raises(EntryNotFoundError) as info:
        api.delete_file("no-such-file.txt", repo)
    assert info.value.response.status_code == 404
    assert info.value.response.headers.get("X-Error-Code") == "EntryNotFound"
    assert "A file with this name doesn't exist" in str(info.value)
    with pytest.raises(EntryNotFoundError):
        api.delete_folder("no-such-folder", repo)
    # A missing file among real ones: nothing at all is deleted.
    with pytest.raises(EntryNotFoundError):
        api.create_commit(
            repo,
            commit_message="partial",
            operations=[CommitOperationDelete("keep.txt"), CommitOperationDelete("ghost.txt")],
        )
    r = httpx.post(
        f"{server.url}/api/models/{repo}/commit/main",
        headers={**auth(alice), **NDJSON},
        content=ndjson(header(), {"key": "deletedFile", "value": {"path": "ghost.txt"}}),
    )
    check_error(r, 404, "EntryNotFound")
    assert state(api, repo) == before


@pytest.mark.parametrize(
    "revision",
    [
        "v1",
        "refs/tags/v1",
        "no-such-branch",
        "refs/heads/nope",
        "refs/pr/99",
        "0123456789abcdef0123456789abcdef01234567",
        "sha",
    ],
)
def test_commit_to_tag_or_unknown_branch(server: Any, alice: str, repo: str, revision: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    if revision == "sha":
        revision = before[0]  # an existing commit id is not a branch either
    for ops in ([CommitOperationAdd("new.txt", b"new")], [CommitOperationDelete("keep.txt")]):
        with pytest.raises(RevisionNotFoundError) as info:
            api.create_commit(repo, operations=ops, commit_message="to nowhere", revision=revision)
        assert info.value.response.status_code == 404
        readable(info.value.response.headers.get("X-Error-Message"))
    r = httpx.post(
        f"{server.url}/api/models/{repo}/commit/{revision.replace('/', '%2F')}",
        headers={**auth(alice), **NDJSON},
        content=ndjson(header(), file_line("new.txt")),
    )
    check_error(r, 404, "RevisionNotFound")
    assert state(api, repo) == before


# ---- bad JSON to create / move / settings -----------------------------------------------------------------

BAD_JSON_BODIES: dict[str, bytes] = {
    "not-json": b"name=foo",
    "truncated": b'{"name": "x"',
    "array": b'["name", "x"]',
    "string": b'"x"',
    "null": b"null",
    "empty": b"",
    "invalid-utf8": b'{"name": "\xff"}',
}


@pytest.mark.parametrize("case", sorted(BAD_JSON_BODIES))
@pytest.mark.parametrize("endpoint", ["create", "move", "settings", "delete"])
def test_malformed_json_bodies(server: Any, alice: str, repo: str, endpoint: str, case: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    method, url = {
        "create": ("POST", "/api/repos/create"),
        "move": ("POST", "/api/repos/move"),
        "settings": ("PUT", f"/api/models/{repo}/settings"),
        "delete": ("DELETE", "/api/repos/delete"),
    }[endpoint]
    r = httpx.request(
        method,
        server.url + url,
        content=BAD_JSON_BODIES[case],
        headers={**auth(alice), "content-type": "application/json"},
    )
    check_error(r, 400, "BadRequest")
    assert state(api, repo) == before
    assert api.repo_info(repo).private is False


def _typed_cases(repo: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("create", "POST", {}),
        ("create", "POST", {"name": 12}),
        ("create", "POST", {"name": None}),
        ("create", "POST", {"name": ["x"]}),
        ("create", "POST", {"name": "ok-name", "type": "bogus"}),
        ("create", "POST", {"name": "ok-name", "type": 5}),
        ("create", "POST", {"name": "ok-name", "type": ["model"]}),
        ("create", "POST", {"name": "ok-name", "visibility": "secret"}),
        ("create", "POST", {"name": "ok-name", "visibility": 1}),
        ("create", "POST", {"name": "ok-name", "organization": ["alice"]}),
        ("create", "POST", {"name": "ok-name", "organization": "no-such-org"}),
        ("create", "POST", {"name": "ok-name", "type": "space", "sdk": "cobol"}),
        ("move", "POST", {}),
        ("move", "POST", {"fromRepo": repo}),
        ("move", "POST", {"toRepo": repo + "-moved"}),
        ("move", "POST", {"fromRepo": 5, "toRepo": repo + "-moved"}),
        ("move", "POST", {"fromRepo": repo, "toRepo": ["alice/x"]}),
        ("move", "POST", {"fromRepo": repo, "toRepo": "no-slash"}),
        ("move", "POST", {"fromRepo": repo, "toRepo": "alice/a..b"}),
        ("move", "POST", {"fromRepo": repo, "toRepo": "alice/x/y"}),
        ("move", "POST", {"fromRepo": repo, "toRepo": "alice/" + "z" * 200}),
        ("move", "POST", {"fromRepo": repo, "toRepo": "alice/with space"}),
        ("move", "POST", {"fromRepo": repo, "toRepo": repo + "-moved", "type": "bogus"}),
        ("settings", "PUT", {"visibility": "secret"}),
        ("settings", "PUT", {"visibility": 1}),
        ("settings", "PUT", {"visibility": ["private"]}),
        ("settings", "PUT", {"gated": "sometimes"}),
        ("settings", "PUT", {"gated": True}),
        ("settings", "PUT", {"gated": ["auto"]}),
        ("settings", "PUT", {"gated": {"auto": 1}}),
        ("delete", "DELETE", {}),
        ("delete", "DELETE", {"name": 5}),
        ("delete", "DELETE", {"name": "x", "type": "bogus"}),
        ("delete", "DELETE", {"name": "/" + repo.split("/")[1]}),  # must not mean "<caller>/name"
        ("create", "POST", {"name": "/" + repo.split("/")[1] + "-new"}),
    ]


def test_wrongly_typed_json_fields(server: Any, alice: str, repo: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    models = sorted(m.id for m in api.list_models(author="alice"))
    for endpoint, method, body in _typed_cases(repo):
        url = {
            "create": "/api/repos/create",
            "move": "/api/repos/move",
            "delete": "/api/repos/delete",
            "settings": f"/api/models/{repo}/settings",
        }[endpoint]
        r = httpx.request(
            method,
            server.url + url,
            content=json.dumps(body).encode(),
            headers={**auth(alice), "content-type": "application/json"},
        )
        assert r.status_code == 400, (endpoint, body, r.status_code, r.text)
        check_error(r, 400, "BadRequest")
    assert state(api, repo) == before
    info = api.repo_info(repo)
    assert info.private is False and not info.gated
    assert sorted(m.id for m in api.list_models(author="alice")) == models
    assert not any("ok-name" in s.id for s in api.list_spaces(author="alice"))


def test_client_side_bad_settings_and_move(server: Any, alice: str, repo: str) -> None:
    """The same mistakes made through huggingface_hub: clear client errors or 400s, nothing moves."""
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    with pytest.raises((ValueError, HfHubHTTPError)):
        api.update_repo_settings(repo, gated="sometimes")  # type: ignore[arg-type]
    for target in ("alice/a..b", "alice/with space", "alice/" + "q" * 120):
        with pytest.raises(HfHubHTTPError) as info:
            api.move_repo(repo, target)
        assert info.value.response.status_code == 400, info.value
        readable(info.value.response.headers.get("X-Error-Message"))
    assert state(api, repo) == before


def test_preupload_bad_bodies(server: Any, alice: str, repo: str) -> None:
    api = HfApi(endpoint=server.url, token=alice)
    before = state(api, repo)
    url = f"{server.url}/api/models/{repo}/preupload/main"
    for body in (
        b"",
        b"nope",
        b"[]",
        b'{"files": "a.txt"}',
        b'{"files": [{"path": "a.txt"}]}',
        b'{"files": [{"path": 1, "size": 1}]}',
        b'{"files": [{"path": "a.txt", "size": "1"}]}',
        b'{"files": [{"path": "a.txt", "size": 1, "sample": "@@@"}]}',
        b'{"files": ["a.txt"]}',
    ):
        r = httpx.post(url, content=body, headers={**auth(alice), "content-type": "application/json"})
        check_error(r, 400, "BadRequest")
    assert state(api, repo) == before


def test_lfs_batch_bad_bodies(server: Any, alice: str, repo: str) -> None:
    url = f"{server.url}/{repo}.git/info/lfs/objects/batch"
    hdr = {**auth(alice), "content-type": "application/vnd.git-lfs+json"}
    for body in (
        b"",
        b"nope",
        b"[]",
        b'{"operation": "upload"}',
        b'{"operation": "delete", "objects": []}',
        b'{"operation": "upload", "objects": {}}',
    ):
        r = httpx.post(url, content=body, headers=hdr)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.headers.get("X-Error-Code") == "BadRequest"
        readable(r.json().get("message"))
    # Bad objects are per-object errors, as the LFS spec wants.
    r = httpx.post(
        url,
        headers=hdr,
        content=json.dumps(
            {
                "operation": "upload",
                "objects": [{"oid": "nope", "size": 1}, {"oid": "a" * 64, "size": -1}, "x"],
            }
        ).encode(),
    )
    assert r.status_code == 200, r.text
    assert all("error" in o for o in r.json()["objects"])
