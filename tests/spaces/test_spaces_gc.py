"""`agora gc` and Spaces (issue 16): the environments and app checkouts no Space uses go; those of a Space's
head, and those a running sandbox has bound, stay. Real: a Hub on SQLite, git commits, a sandbox (bwrap)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agora import cli
from agora.app import build_hub
from agora.config import Settings
from agora.hub import accounts, spaces
from agora.hub.commits import CommitOperationAdd, create_commit
from agora.hub.repos import Hub
from agora.ids import RepoId
from agora.spacehost import env_spec
from agora.spaces import missing
from agora.spaces.envs import EnvSpec, EnvStore, env_key
from agora.spaces.sandbox import Runner, SandboxSpec

pytestmark = [pytest.mark.spaces, pytest.mark.skipif(bool(missing()), reason="; ".join(missing()) or "ok")]

RID = RepoId("space", "alice", "demo")
CARD = "---\ntitle: Demo\nsdk: gradio\nsdk_version: 6.31.0\n---\n"


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The Spaces root `agora gc` reads (AGORA_SPACES_ROOT): world-traversable, as sandboxes need."""
    d = Path(tempfile.mkdtemp(prefix="agora-spaces-gc-"))
    d.chmod(0o755)
    monkeypatch.setenv("AGORA_SPACES_ROOT", str(d))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def folder(p: Path, size: int = 4096) -> Path:
    p.mkdir(parents=True)
    (p / "file").write_bytes(os.urandom(size))
    return p


def gc(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert cli.main(["gc", "--data", str(data), *extra]) == 0
    return capsys.readouterr().out


def test_gc_keeps_the_envs_and_apps_spaces_use(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path.resolve()
    hub: Hub = build_hub(Settings(data=data, database_url=f"sqlite:///{data / 'agora.db'}"))
    with hub.db.session() as s:
        who = accounts.session_principal(accounts.create_user(s, "alice", "alice-password"))
        hub.create(s, who, RID, sdk="gradio")
    ops = [CommitOperationAdd("README.md", CARD.encode()), CommitOperationAdd("app.py", b"print(1)\n")]
    old = create_commit(hub, who, RID, ops, summary="app").oid
    reqs = CommitOperationAdd("requirements.txt", b"six\n")
    head = create_commit(hub, who, RID, [reqs], summary="requirements").oid
    repo = hub.open_repo(None, RID)
    cfg = spaces.config(repo.card_data, repo.sdk)[0]
    python = Settings.from_env(data).spaces.python
    used = env_key(env_spec(hub, python, repo, cfg, head))  # what spacehost would build for the head
    stale = env_key(env_spec(hub, python, repo, cfg, old))  # the env of the commit before
    assert used != stale

    store = EnvStore(root)
    folder(store.path(used))
    folder(store.path(stale), size=1 << 20)
    running_env = store.build(EnvSpec(requirements=b"# a sandbox runs on it\n"), lambda line: None)
    head_app = folder(root / "apps" / f"{repo.id}-{head}")
    old_app = folder(root / "apps" / f"{repo.id}-{old}")
    gone_app = folder(root / "apps" / f"999-{old}")  # a Space deleted since
    running_app = folder(root / "apps" / f"998-{old}")
    (running_app / "app.py").write_text("import time\ntime.sleep(60)\n")
    for d in (root / "apps", running_app, running_app / "app.py"):
        d.chmod(0o755)
    sb = Runner(root / "sandbox").start(
        SandboxSpec(name="gc-running", uid=900_000_150, env=running_env, app=running_app,
                    data=root / "data" / "998", run=root / "run" / "998", command=["python", "app.py"]),
        lambda line: None,
    )  # fmt: skip
    try:
        assert "would remove space-" not in gc(data, capsys)  # all written within the grace (an hour)
        out = gc(data, capsys, "--grace-minutes", "0")  # a dry run says what it would remove, removes nothing
        assert f"would remove space-env {stale} " in out, out
        assert f"would remove space-app {old_app.name} " in out and f"space-app {gone_app.name} " in out
        assert used not in out and running_env.name not in out and head_app.name not in out
        assert running_app.name not in out
        assert store.path(stale).is_dir() and old_app.is_dir()

        out = gc(data, capsys, "--apply", "--grace-minutes", "0")
        assert f"removed space-env {stale} " in out, out
        freed = int(out.split(f"removed space-env {stale} ")[1].split()[0])
        assert freed >= 1 << 20  # its own file: the bytes it frees
        assert not store.path(stale).exists() and not old_app.exists() and not gone_app.exists()
        assert store.path(used).is_dir() and head_app.is_dir()
        assert running_env.is_dir() and running_app.is_dir() and sb.running()
    finally:
        sb.stop(grace=1)
    out = gc(data, capsys, "--apply", "--grace-minutes", "0")  # stopped: nothing keeps its env and app now
    assert f"removed space-env {running_env.name} " in out and f"removed space-app {running_app.name} " in out
    assert store.path(used).is_dir() and head_app.is_dir()
