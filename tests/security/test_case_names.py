"""Issue 12, item 9: names that differ only by case are one name, as on the Hub.

`alice` / `Alice` / `ALICE` must not become three users (impersonation), nor `alice/pm` / `alice/PM` two
repos (client caches collide on case-insensitive filesystems). Every surface finds a name in any case and
answers with the stored spelling; a database that already holds twins migrates, is reported by
`agora fsck`, and is repaired by an admin rename.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from ..conftest import BIN, ENDPOINT, STACK, Server


def run_agora(
    *args: str, data: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "agora"), *args, "--data", str(data)], input=stdin, capture_output=True, text=True, env=env
    )


def swap_case(name: str) -> str:
    return "".join(c.lower() if c.isupper() else c.upper() for c in name)


# ---- accounts ---------------------------------------------------------------------------------------------
def test_cli_refuses_user_and_org_names_that_differ_only_by_case(server: Server) -> None:
    for name in ("Alice", "ALICE"):
        p = run_agora("user", "add", name, "--password-stdin", data=server.data, stdin="evil-password\n")
        assert p.returncode != 0 and "already taken" in p.stderr, p.stderr
    p = run_agora("org", "create", "ACME", "--owner", "bob", data=server.data)
    assert p.returncode != 0 and "already taken" in p.stderr, p.stderr
    p = run_agora("org", "create", "Bob", "--owner", "bob", data=server.data)  # an org named like a user
    assert p.returncode != 0 and "already taken" in p.stderr, p.stderr
    p = run_agora("token", "create", "ALICE", "--role", "read", data=server.data)  # finds alice
    assert p.returncode == 0 and p.stdout.startswith("hf_"), p.stderr
    who = httpx.get(
        f"{ENDPOINT}/api/whoami-v2", headers={"authorization": f"Bearer {p.stdout.strip()}"}
    ).json()
    assert who["name"] == "alice"


def _csrf(client: httpx.Client, path: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert m, path
    return m.group(1)


def test_web_sign_up_refuses_a_case_twin(server: Server) -> None:
    site = server.data / "site.json"
    before = site.read_text() if site.exists() else None
    site.write_text(json.dumps({**(json.loads(before) if before else {}), "signup": True}))
    try:
        with httpx.Client(base_url=ENDPOINT, follow_redirects=False, headers={"origin": ENDPOINT}) as anon:
            for name in ("Alice", "BOB"):
                r = anon.post(
                    "/join",
                    data={"csrf": _csrf(anon, "/join"), "username": name, "password": "impostor-password"},
                )
                assert r.status_code in (400, 409), (name, r.status_code)
                assert "agora_session" not in r.cookies
                r = anon.post(
                    "/login",
                    data={
                        "csrf": _csrf(anon, "/login"),
                        "username": name,
                        "password": "impostor-password",
                        "next": "/",
                    },
                )
                assert "agora_session" not in r.cookies  # no account answers to the impostor's password
    finally:
        if before is None:
            site.unlink(missing_ok=True)
        else:
            site.write_text(before)


# ---- repos ------------------------------------------------------------------------------------------------
def test_create_repo_in_another_case_is_the_existing_repo(api: HfApi, repo_name: str) -> None:
    low = f"alice/{repo_name.lower()}-pm"
    url = api.create_repo(low)
    twin = f"alice/{repo_name.upper()}-PM"
    with pytest.raises(HfHubHTTPError) as e:
        api.create_repo(twin)
    assert e.value.response.status_code == 409
    again = api.create_repo(twin, exist_ok=True)  # what the Hub does: the URL of the repo that exists
    assert str(again) == str(url) and again.repo_id == low
    with pytest.raises(HfHubHTTPError) as e:  # the other types are separate, but each has one id
        api.create_repo(f"ALICE/{repo_name.lower()}-pm", repo_type="model")
    assert e.value.response.status_code == 409
    api.create_repo(twin, repo_type="dataset")  # another type: allowed, as on the Hub
    assert [m.id for m in api.list_models(author="alice", search=repo_name.lower())] == [low]
    assert [m.id for m in api.list_models(author="ALICE", search=repo_name.lower())] == [low]


def test_every_surface_finds_a_repo_in_any_case(
    server: Server, api: HfApi, alice: str, repo_name: str, tmp_path: Path
) -> None:
    rid = f"alice/{repo_name}-pm"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"weights v1\n", path_in_repo="weights.txt", repo_id=rid)
    other = swap_case(rid)
    assert other != rid

    info = httpx.get(f"{ENDPOINT}/api/models/{other}").json()
    assert info["id"] == rid and info["modelId"] == rid and info["author"] == "alice"
    assert api.model_info(other).id == rid

    path = hf_hub_download(other, "weights.txt", cache_dir=tmp_path / "cache")
    assert Path(path).read_bytes() == b"weights v1\n"
    r = httpx.get(f"{ENDPOINT}/{other.upper()}/resolve/main/weights.txt")
    assert r.status_code == 200 and r.content == b"weights v1\n"
    lfs = os.urandom(
        4096
    )  # *.bin is LFS: the batch API, the upload and the commit through the other spelling
    api.upload_file(path_or_fileobj=lfs, path_in_repo="model.bin", repo_id=other)
    assert Path(hf_hub_download(rid.upper(), "model.bin", cache_dir=tmp_path / "cache2")).read_bytes() == lfs
    assert [f.lfs is not None for f in api.get_paths_info(rid, ["model.bin"])] == [True]
    r = httpx.get(
        f"{ENDPOINT}/api/models/{other}/xet-read-token/main", headers={"authorization": f"Bearer {alice}"}
    )
    assert r.status_code == 200, r.text  # Xet

    env = {**os.environ, "HOME": str(tmp_path), "GIT_TERMINAL_PROMPT": "0"}
    host = ENDPOINT.split("://", 1)[1]
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", f"http://{host}/{other.upper()}", str(clone)],
        check=True,
        env=env,
        capture_output=True,
    )
    assert (clone / "weights.txt").read_bytes() == b"weights v1\n"
    (clone / "pushed.txt").write_text("through another case\n")
    subprocess.run(["git", "add", "pushed.txt"], cwd=clone, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "push"], cwd=clone, check=True, env=env)
    p = subprocess.run(
        ["git", "push", f"http://alice:{alice}@{host}/{other.upper()}", "main"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert "pushed.txt" in api.list_repo_files(rid)  # the same repo, not a new one
    assert (
        httpx.get(f"{ENDPOINT}/api/models/{rid}").json()["sha"]
        == subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=clone, env=env, capture_output=True, text=True
        ).stdout.strip()
    )


def test_ui_redirects_to_the_canonical_spelling(server: Server, api: HfApi, bob: str, repo_name: str) -> None:
    rid = f"alice/{repo_name}-pm"
    api.create_repo(rid)
    api.create_repo(f"alice/{repo_name}-ds", repo_type="dataset")
    up = rid.upper()
    with httpx.Client(base_url=ENDPOINT, follow_redirects=False) as web:
        r = web.get(f"/{up}", headers={"accept": "text/html"})
        assert r.status_code in (301, 302) and r.headers["location"] == f"/{rid}"
        r = web.get(f"/{up}/tree/main?x=1")
        assert r.status_code in (301, 302) and r.headers["location"] == f"/{rid}/tree/main?x=1"
        r = web.get(f"/datasets/ALICE/{repo_name.upper()}-DS")
        assert r.status_code in (301, 302) and r.headers["location"] == f"/datasets/alice/{repo_name}-ds"
        r = web.get("/ALICE")
        assert r.status_code in (301, 302) and r.headers["location"] == "/alice"
        assert web.get(f"/{rid}").status_code == 200
    r = httpx.get(
        f"{ENDPOINT}/api/datasets-server/is-valid", params={"dataset": f"ALICE/{repo_name.upper()}-DS"}
    )
    assert r.status_code == 200, r.text  # the viewer API finds it too
    # A private repo: no redirect (an existence oracle) for those who may not see it.
    priv = f"alice/{repo_name}-private"
    api.create_repo(priv, private=True)
    with httpx.Client(
        base_url=ENDPOINT, follow_redirects=False, headers={"authorization": f"Bearer {bob}"}
    ) as web:
        assert web.get(f"/{priv.upper()}").status_code == 404
    with httpx.Client(base_url=ENDPOINT, follow_redirects=False) as web:
        assert web.get(f"/{priv.upper()}").status_code == 404
    r = httpx.get(f"{ENDPOINT}/api/models/{priv.upper()}", headers={"authorization": f"Bearer {bob}"})
    assert r.status_code in (401, 404)


# ---- a database that already holds twins ------------------------------------------------------------------
def test_existing_twins_migrate_are_reported_and_fixed_by_rename(tmp_path: Path) -> None:
    data = tmp_path / "twins"
    data.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k != "AGORA_DATABASE_URL"
    }  # SQLite, even on the scale stack
    twins_scenario(data, f"sqlite:///{data / 'agora.db'}", env)


@pytest.mark.skipif(STACK != "scale", reason="PostgreSQL runs with the scale stack (AGORA_TEST_STACK=scale)")
def test_existing_twins_on_postgresql(tmp_path: Path) -> None:
    from ..stack import Postgres

    pg = Postgres().start()
    try:
        data = tmp_path / "twins"
        data.mkdir()
        twins_scenario(data, pg.url, {**os.environ, "AGORA_DATABASE_URL": pg.url})
    finally:
        pg.stop()


def twins_scenario(data: Path, url: str, env: dict[str, str]) -> None:
    """Twins made by hand at revision 0007 (before name keys), then the upgrade, fsck and the renames."""
    from datetime import datetime

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import MetaData, create_engine, insert, inspect

    import agora.db.session as dbs

    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(dbs.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")  # the schema before name keys: twins could be made then
    meta = MetaData()
    meta.reflect(engine)
    acc, repos = meta.tables["accounts"], meta.tables["repos"]
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        for name in ("alice", "Alice"):
            conn.execute(
                insert(acc).values(name=name, kind="user", fullname=name, is_admin=False, created_at=now)
            )
        for i, name in enumerate(("pm", "PM")):
            conn.execute(
                insert(repos).values(
                    type="model",
                    namespace="alice",
                    name=name,
                    storage_key=f"k{i}",
                    private=False,
                    created_at=now,
                    updated_at=now,
                    downloads=0,
                    likes=0,
                    downloads_all_time=0,
                    trending_score=0.0,
                    search_text="",
                    tag_list="",
                )
            )
    engine.dispose()

    def unique() -> dict[str, bool]:
        e = create_engine(url)
        try:
            return {
                ix["name"]: bool(ix["unique"])
                for t in ("accounts", "repos")
                for ix in inspect(e).get_indexes(t)
            }
        finally:
            e.dispose()

    p = run_agora("migrate", data=data, env=env)
    assert p.returncode == 0, p.stderr
    assert "Alice" in p.stderr and "alice/PM" in p.stderr  # the migration names the twins it found
    assert not unique()["ix_accounts_name_key"] and not unique()["ix_repos_name_key"]  # the Hub keeps working
    from agora.db.session import Database
    from agora.hub import names
    from agora.ids import RepoId

    db = Database(url)
    with db.session() as s:  # each twin is still found by its own spelling; other spellings find one of them
        assert names.account(s, "Alice").name == "Alice" and names.account(s, "alice").name == "alice"
        assert names.repo(s, RepoId("model", "alice", "PM")).name == "PM"
        assert names.repo(s, RepoId("model", "alice", "pm")).name == "pm"
        assert names.repo(s, RepoId("model", "ALICE", "Pm")) is not None
    db.engine.dispose()

    p = run_agora("fsck", data=data, env=env)
    assert p.returncode != 0
    lines = p.stdout.splitlines()
    assert any("accounts" in x and set(x.split()[-2:]) == {"alice", "Alice"} for x in lines), p.stdout
    assert any("model" in x and set(x.split()[-2:]) == {"alice/pm", "alice/PM"} for x in lines), p.stdout

    p = run_agora("fsck", "--fix-indexes", data=data, env=env)  # refused: nothing is merged silently
    assert p.returncode != 0 and "twins" in p.stderr

    p = run_agora("user", "rename", "Alice", "alice2", data=data, env=env)
    assert p.returncode == 0, p.stderr
    p = run_agora("repo", "rename", "model", "alice/PM", "alice/pm-2", data=data, env=env)
    assert p.returncode == 0, p.stderr
    p = run_agora(
        "repo", "rename", "model", "alice/pm-2", "ALICE/PM", data=data, env=env
    )  # back: a twin again
    assert p.returncode != 0 and "already exists" in p.stderr

    p = run_agora("fsck", data=data, env=env)
    assert p.returncode != 0 and "twins" not in p.stdout and "--fix-indexes" in p.stdout, p.stdout
    p = run_agora("fsck", "--fix-indexes", data=data, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    p = run_agora("fsck", data=data, env=env)
    assert p.returncode == 0 and p.stdout == "", p.stdout

    assert unique()["ix_accounts_name_key"] and unique()["ix_repos_name_key"]
    p = run_agora("user", "add", "ALICE2", "--password-stdin", data=data, stdin="x-password\n", env=env)
    assert p.returncode != 0 and "already taken" in p.stderr
