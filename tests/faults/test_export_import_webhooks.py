"""Export/import carries webhooks (issue 17): `agora export --all`, `agora import` into an empty data folder,
and the owner lists the same webhooks there, secrets included (the admin's data, as password hashes are)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi

from ..conftest import _free_port, agora, new_site, start_server, stop_server
from .test_export_import import _cli


def test_webhooks_survive_export_and_import(tmp_path: Path) -> None:
    site = new_site(tmp_path / "a", "alice", tmp_path / "a.log")
    agora("user", "add", "bob", "--password-stdin", data=site.data, stdin="bob-password\n")
    bob_token = agora("token", "create", "bob", data=site.data)
    env = {"AGORA_WEBHOOK_ALLOW": "127.0.0.1"}
    proc = start_server(site.data, site.port, site.log, env)
    try:
        api = HfApi(endpoint=site.endpoint, token=site.token)
        repo = api.create_repo("alice/watched").repo_id
        one = api.create_webhook(
            url="http://127.0.0.1:9/a", watched=[{"type": "model", "name": repo}], secret="s1"
        )
        two = api.create_webhook(
            url="http://127.0.0.1:9/b", watched=[{"type": "user", "name": "alice"}], domains=["discussion"]
        )
        api.disable_webhook(two.id)
        bobs = HfApi(endpoint=site.endpoint, token=bob_token).create_webhook(
            url="http://127.0.0.1:9/c", watched=[{"type": "user", "name": "bob"}], secret="s2"
        )
        before = {"alice": api.list_webhooks(), "bob": [bobs]}
        out = _cli(tmp_path, "export", "--all", "backup", "--quiet", "--data", str(site.data))
        assert out.returncode == 0, out.stderr
    finally:
        stop_server(proc)
    assert [w.id for w in before["alice"]] == [one.id, two.id]
    out = _cli(tmp_path, "import", "backup", "--quiet", "--data", "b")
    assert out.returncode == 0, out.stderr
    port = _free_port()
    proc = start_server(tmp_path / "b", port, tmp_path / "b.log", env)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        after = {
            "alice": HfApi(endpoint=endpoint, token=site.token).list_webhooks(),
            "bob": HfApi(endpoint=endpoint, token=bob_token).list_webhooks(),
        }
    finally:
        stop_server(proc)
    assert after == before
    assert after["alice"][0].secret == "s1" and after["alice"][1].disabled is True
