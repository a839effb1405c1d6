"""Webhooks through huggingface_hub 2.4 (`create_webhook`, `list_webhooks`, ...) and the `hf webhooks`
commands, and their deliveries to a receiver on 127.0.0.1: a server of its own allow-lists 127.0.0.1
(AGORA_WEBHOOK_ALLOW) and retries after 1 then 2 seconds; the shared server, without the allow-list,
refuses such a webhook."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..conftest import STACK, Site, agora, kill_group, new_site, start_killable
from ..webhook_receiver import Receiver

HF = str(Path(sys.executable).parent / "hf")


# Servers of their own (their own data folder and SQLite database): on the scale stack the command line and every
# server started by a test reach the stack's shared database and store, so these run in the first pass only.
own_server = pytest.mark.skipif(
    STACK == "scale", reason="a server of its own: first pass only (not the stack's data)"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if STACK == "scale":
        pytest.skip("a server of its own: first pass only (not the stack's data)")
    root = tmp_path_factory.mktemp("webhooks")
    s = new_site(root / "data", "wanda", root / "server.log")
    agora("user", "add", "victor", "--password-stdin", data=s.data, stdin="victor-password\n")
    env = {"AGORA_WEBHOOK_ALLOW": "127.0.0.1", "AGORA_WEBHOOK_RETRY_DELAYS": "1,2", "AGORA_WEBHOOK_KEEP": "5"}
    proc = start_killable(s.data, s.port, s.log, env)
    yield s
    kill_group(proc)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def hub(site: Site, user: str = "wanda") -> HfApi:
    token = (
        site.token if user == "wanda" else agora("token", "create", user, "--role", "write", data=site.data)
    )
    return HfApi(endpoint=site.endpoint, token=token)


def is_event(scope: str, action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda j: j["event"] == {"scope": scope, "action": action}


def test_webhook_settings_through_huggingface_hub(site: Site, receiver: Receiver) -> None:
    api = hub(site)
    repo = api.create_repo("wanda/crud-model").repo_id
    w = api.create_webhook(
        url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"], secret="s3cret"
    )
    assert (w.url, w.domains, w.secret, w.disabled) == (receiver.url, ["repo"], "s3cret", False)
    assert [(i.type, i.name) for i in w.watched] == [("model", repo)]
    assert [x.id for x in api.list_webhooks()] == [w.id]
    assert api.get_webhook(w.id) == w
    # update_webhook sends watched=[] when none is given: the watched items stay
    changed = api.update_webhook(w.id, url=receiver.url + "?v=2", domains=["repo", "discussion"])
    assert (changed.url, changed.domains, changed.watched) == (
        receiver.url + "?v=2",
        ["repo", "discussion"],
        w.watched,
    )
    assert api.disable_webhook(w.id).disabled is True
    assert api.enable_webhook(w.id).disabled is False
    # another user neither sees nor changes it
    other = hub(site, "victor")
    assert other.list_webhooks() == []
    for call in (other.get_webhook, other.disable_webhook, other.delete_webhook):
        with pytest.raises(HfHubHTTPError) as e:
            call(w.id)
        assert e.value.response.status_code == 404
    # bad input: a clear 400 (a repo not there: 404, as a private one of someone else) and nothing created
    for bad in ([{"type": "bucket", "name": "x/y"}], [{"type": "user", "name": "nobody"}], []):
        with pytest.raises(HfHubHTTPError) as e:
            api.create_webhook(url=receiver.url, watched=bad)
        assert e.value.response.status_code == 400
    hidden = api.create_repo("wanda/hidden", private=True).repo_id
    for name in (hidden, "wanda/nope"):
        with pytest.raises(HfHubHTTPError) as e:
            other.create_webhook(url=receiver.url, watched=[{"type": "model", "name": name}])
        assert e.value.response.status_code == 404
        assert e.value.response.headers["X-Error-Code"] == "RepoNotFound"
    assert api.list_webhooks() == [api.get_webhook(w.id)] and other.list_webhooks() == []
    api.delete_webhook(w.id)
    with pytest.raises(HfHubHTTPError) as e:
        api.get_webhook(w.id)
    assert e.value.response.status_code == 404
    assert api.list_webhooks() == []


def test_push_events_through_the_api_and_git_carry_the_secret(
    site: Site, receiver: Receiver, tmp_path: Path
) -> None:
    api = hub(site)
    repo = api.create_repo("wanda/pushed").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], secret="abc")
    try:
        info = api.create_commit(repo, [CommitOperationAdd("a.txt", b"one")], commit_message="one")
        p = receiver.wait(
            lambda j: j["event"]["scope"] == "repo.content" and j["repo"]["headSha"] == info.oid
        )
        assert p["headers"]["X-Webhook-Secret"] == "abc"
        body = p["json"]
        assert body["event"] == {"action": "update", "scope": "repo.content"}
        assert body["repo"]["name"] == repo and body["repo"]["type"] == "model"
        assert body["repo"]["private"] is False
        assert body["repo"]["url"] == {
            "web": f"{site.endpoint}/{repo}",
            "api": f"{site.endpoint}/api/models/{repo}",
        }
        assert body["updatedRefs"] == [
            {"ref": "refs/heads/main", "oldSha": body["updatedRefs"][0]["oldSha"], "newSha": info.oid}
        ]
        assert body["webhook"] == {"id": w.id, "version": 3}

        url = f"http://wanda:{site.token}@127.0.0.1:{site.port}/{repo}"
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        work = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", url, str(work)], check=True, env=env)
        (work / "b.txt").write_text("two")
        for args in (["add", "b.txt"], ["-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qm", "two"]):
            subprocess.run(["git", *args], cwd=work, check=True, env=env)
        subprocess.run(["git", "push", "-q", "origin", "main"], cwd=work, check=True, env=env)
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True
        ).stdout.strip()
        p = receiver.wait(lambda j: j.get("updatedRefs", [{}])[0].get("newSha") == head)
        assert p["json"]["updatedRefs"][0]["oldSha"] == info.oid
        assert p["headers"]["X-Webhook-Secret"] == "abc"
        # a branch or tag made through the API moves a ref too: the same event
        api.create_branch(repo, branch="dev")
        api.create_tag(repo, tag="v1", tag_message="first")
        api.delete_tag(repo, tag="v1")
        for ref, old, new in (
            ("refs/heads/dev", None, head),
            ("refs/tags/v1", None, head),
            ("refs/tags/v1", head, None),
        ):
            receiver.wait(
                lambda j, r=ref, o=old, n=new: (
                    j.get("updatedRefs", [{}])[0] == {"ref": r, "oldSha": o, "newSha": n}
                )
            )
    finally:
        api.delete_webhook(w.id)


def test_pull_request_comment_and_merge_events(site: Site, receiver: Receiver) -> None:
    api = hub(site)
    repo = api.create_repo("wanda/discussed").repo_id
    w = api.create_webhook(
        url=receiver.url, watched=[{"type": "user", "name": "wanda"}], domains=["discussion"]
    )
    try:
        pr = api.create_commit(
            repo, [CommitOperationAdd("c.txt", b"c")], commit_message="a PR", create_pr=True
        )
        num = pr.pr_num
        created = receiver.wait(is_event("discussion", "create"))["json"]
        assert created["discussion"]["num"] == num and created["discussion"]["isPullRequest"] is True
        assert created["discussion"]["title"] == "a PR" and created["discussion"]["status"] == "open"
        assert created["discussion"]["url"]["web"] == f"{site.endpoint}/{repo}/discussions/{num}"
        assert "X-Webhook-Secret" not in receiver.posts[0]["headers"]

        api.comment_discussion(repo, num, "looks good")
        comment = receiver.wait(is_event("discussion.comment", "create"))["json"]
        assert comment["comment"]["content"] == "looks good"
        assert comment["discussion"]["num"] == num

        api.merge_pull_request(repo, num)
        merged = receiver.wait(
            lambda j: j["event"]["action"] == "update" and j["discussion"]["status"] == "merged"
        )["json"]
        assert merged["discussion"]["changes"]["mergeCommitId"] == api.model_info(repo).sha
        d = api.create_discussion(repo, title="a question")
        receiver.wait(lambda j: j["discussion"]["num"] == d.num and j["event"]["action"] == "create")
        api.change_discussion_status(repo, d.num, "closed")
        closed = receiver.wait(lambda j: j["discussion"]["num"] == d.num and j["event"]["action"] == "update")
        assert closed["json"]["discussion"]["status"] == "closed"
        assert closed["json"]["discussion"]["isPullRequest"] is False
        # the domain "discussion" only: the merge's push to main is not sent
        time.sleep(1)
        assert all(p["json"]["event"]["scope"].startswith("discussion") for p in receiver.posts)
    finally:
        api.delete_webhook(w.id)


def test_each_webhook_keeps_its_last_deliveries(site: Site, receiver: Receiver) -> None:
    api = hub(site)
    repo = api.create_repo("wanda/busy").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
    try:
        shas = [
            api.create_commit(repo, [CommitOperationAdd("n.txt", str(i).encode())], commit_message=f"{i}").oid
            for i in range(7)
        ]
        receiver.wait(lambda j: j["repo"]["headSha"] == shas[-1])
        url = f"{site.endpoint}/api/settings/webhooks/{w.id}/deliveries"
        deadline = time.time() + 10  # the log is cut when a delivery's outcome is recorded
        while (log := httpx.get(url, headers={"Authorization": f"Bearer {site.token}"}).json())[0][
            "status"
        ] != "ok":
            assert time.time() < deadline, log
            time.sleep(0.1)
        assert [d["payload"]["updatedRefs"][0]["newSha"] for d in log] == shas[::-1][
            :5
        ]  # AGORA_WEBHOOK_KEEP=5
    finally:
        api.delete_webhook(w.id)


def test_a_failed_delivery_is_retried_with_backoff_and_logged_and_replayed(site: Site) -> None:
    receiver = Receiver(codes=(500,))
    api = hub(site)
    repo = api.create_repo("wanda/flaky").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
    try:
        api.update_repo_settings(repo, private=True)
        receiver.wait(is_event("repo.config", "update"))
        deadline = time.time() + 30
        while len(receiver.posts) < 2 and time.time() < deadline:
            time.sleep(0.1)
        first, second = receiver.posts[:2]
        assert first["json"] == second["json"] and second["json"]["repo"]["private"] is True
        assert second["at"] - first["at"] >= 0.9  # AGORA_WEBHOOK_RETRY_DELAYS=1,2
        headers = {"Authorization": f"Bearer {site.token}"}
        log_url = f"{site.endpoint}/api/settings/webhooks/{w.id}/deliveries"
        deadline = time.time() + 10
        while (log := httpx.get(log_url, headers=headers).json())[0]["status"] != "ok":
            assert time.time() < deadline, log
            time.sleep(0.2)
        (d,) = log
        assert [a["statusCode"] for a in d["log"]] == [500, 200]
        assert d["log"][0]["response"] == "broken" and d["log"][1]["response"] == "got it"
        assert d["attempts"] == 2 and d["event"] == "repo.config.update"

        r = httpx.post(f"{log_url}/{d['id']}/replay", headers=headers)
        assert r.status_code == 200, r.text
        deadline = time.time() + 30
        while len(receiver.posts) < 3 and time.time() < deadline:
            time.sleep(0.1)
        assert receiver.posts[2]["json"] == first["json"]
        # only the owner reads the log
        victor = {"Authorization": f"Bearer {agora('token', 'create', 'victor', data=site.data)}"}
        assert httpx.get(log_url, headers=victor).status_code == 404
    finally:
        api.delete_webhook(w.id)
        receiver.close()


def test_a_redirect_is_not_followed(site: Site) -> None:
    receiver = Receiver(codes=(307,))
    api = hub(site)
    repo = api.create_repo("wanda/redirecting").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
    try:
        api.update_repo_settings(repo, gated="auto")
        deadline = time.time() + 30
        while len(receiver.posts) < 2 and time.time() < deadline:  # the 307, then the retry after 1 s
            time.sleep(0.1)
        assert [p["path"] for p in receiver.posts] == ["/hook", "/hook"]
        url = f"{site.endpoint}/api/settings/webhooks/{w.id}/deliveries"
        (d,) = httpx.get(url, headers={"Authorization": f"Bearer {site.token}"}).json()
        assert d["log"][0]["statusCode"] == 307
    finally:
        api.delete_webhook(w.id)
        receiver.close()


def test_private_repo_events_reach_only_webhooks_whose_owner_may_read_it(
    site: Site, receiver: Receiver
) -> None:
    api, other = hub(site), hub(site, "victor")
    spy = Receiver()
    mine = api.create_webhook(url=receiver.url, watched=[{"type": "user", "name": "wanda"}], domains=["repo"])
    theirs = other.create_webhook(url=spy.url, watched=[{"type": "user", "name": "wanda"}], domains=["repo"])
    try:
        repo = api.create_repo("wanda/secret-one", private=True).repo_id
        got = receiver.wait(
            lambda j: j["event"] == {"scope": "repo", "action": "create"} and j["repo"]["name"] == repo
        )
        assert got["json"]["repo"]["private"] is True
        public = api.create_repo("wanda/open-one").repo_id
        spy.wait(lambda j: j["repo"]["name"] == public)
        assert all(p["json"]["repo"]["name"] != repo for p in spy.posts)
        # a disabled account's webhooks receive nothing, public or not
        agora("user", "disable", "victor", data=site.data)
        later = api.create_repo("wanda/open-two").repo_id
        receiver.wait(lambda j: j["repo"]["name"] == later)
        time.sleep(1)
        assert all(p["json"]["repo"]["name"] not in (repo, later) for p in spy.posts)
    finally:
        agora("user", "enable", "victor", data=site.data)
        api.delete_webhook(mine.id)
        other.delete_webhook(theirs.id)
        spy.close()


def test_webhooks_to_the_servers_network_are_refused_without_the_allow_list(api: HfApi, site: Site) -> None:
    repo = api.create_repo(f"alice/refused-{os.getpid()}").repo_id
    for url in (
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://10.1.2.3/",
    ):
        with pytest.raises(HfHubHTTPError) as e:
            api.create_webhook(url=url, watched=[{"type": "model", "name": repo}])
        assert e.value.response.status_code == 400
        assert "AGORA_WEBHOOK_ALLOW" in str(e.value)
    assert api.list_webhooks() == []
    # the allow-list names 127.0.0.1 only: the rest stays refused there too
    with pytest.raises(HfHubHTTPError) as e:
        hub(site).create_webhook(url="http://10.1.2.3/", watched=[{"type": "user", "name": "wanda"}])
    assert e.value.response.status_code == 400
    for bad in ("ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "not a url"):
        with pytest.raises(HfHubHTTPError) as e:
            hub(site).create_webhook(url=bad, watched=[{"type": "user", "name": "wanda"}])
        assert e.value.response.status_code == 400


def hf(site: Site, *args: str) -> str:
    env = {**os.environ, "HF_TOKEN": site.token, "HF_ENDPOINT": site.endpoint, "NO_COLOR": "1"}
    proc = subprocess.run([HF, "webhooks", *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"hf webhooks {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_hf_webhooks_commands(site: Site, receiver: Receiver) -> None:
    api = hub(site)
    repo = api.create_repo("wanda/cli-watched").repo_id
    out = hf(
        site, "create", "--url", receiver.url, "--watch", f"model:{repo}", "--domain", "repo", "--secret", "x"
    )
    (w,) = api.list_webhooks()
    assert w.id in out and w.secret == "x" and w.domains == ["repo"]
    listed = json.loads(hf(site, "ls", "--format", "json"))
    assert [(x["id"], x["watched"]) for x in listed] == [(w.id, [f"model:{repo}"])]
    assert receiver.url in hf(site, "info", w.id)
    hf(site, "update", w.id, "--watch", "user:wanda", "--domain", "discussion")
    assert [(i.type, i.name) for i in api.get_webhook(w.id).watched] == [("user", "wanda")]
    hf(site, "disable", w.id)
    assert api.get_webhook(w.id).disabled is True
    hf(site, "enable", w.id)
    assert api.get_webhook(w.id).disabled is False
    hf(site, "delete", w.id, "--yes")
    assert api.list_webhooks() == []


def test_repo_moved_and_deleted_events(site: Site, receiver: Receiver) -> None:
    api = hub(site)
    repo = api.create_repo("wanda/to-move", repo_type="dataset").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "dataset", "name": repo}], domains=["repo"])
    try:
        api.move_repo(repo, "wanda/moved", repo_type="dataset")
        moved = receiver.wait(is_event("repo", "move"))["json"]
        assert moved["movedTo"] == {"name": "wanda/moved", "owner": moved["repo"]["owner"]}
        assert moved["repo"]["url"]["web"] == f"{site.endpoint}/datasets/wanda/moved"
        # the webhook follows the repo to its new name
        assert [(i.type, i.name) for i in api.get_webhook(w.id).watched] == [("dataset", "wanda/moved")]
        api.delete_repo("wanda/moved", repo_type="dataset")
        deleted = receiver.wait(is_event("repo", "delete"))["json"]
        assert deleted["repo"]["name"] == "wanda/moved" and deleted["repo"]["type"] == "dataset"
    finally:
        api.delete_webhook(w.id)


@own_server
def test_the_target_is_checked_again_at_delivery(tmp_path: Path, receiver: Receiver) -> None:
    """Allowed when created, refused when sent: the server restarted without the allow-list refuses to post
    (as it would if the host's DNS answer had changed), logs why, retries once (a delay of 0 s) and fails."""
    s = new_site(tmp_path / "data", "wanda", tmp_path / "server.log")
    proc = start_killable(s.data, s.port, s.log, {"AGORA_WEBHOOK_ALLOW": "127.0.0.1"})
    try:
        api = hub(s)
        repo = api.create_repo("wanda/rechecked").repo_id
        w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
    finally:
        kill_group(proc)
    proc = start_killable(s.data, s.port, s.log, {"AGORA_WEBHOOK_RETRY_DELAYS": "0"})
    try:
        api.update_repo_settings(repo, private=True)
        headers = {"Authorization": f"Bearer {s.token}"}
        url = f"{s.endpoint}/api/settings/webhooks/{w.id}/deliveries"
        deadline = time.time() + 30
        while (log := httpx.get(url, headers=headers).json()) == [] or log[0]["status"] != "failed":
            assert time.time() < deadline, log
            time.sleep(0.2)
        assert len(log[0]["log"]) == 2
        for attempt in log[0]["log"]:
            assert attempt["statusCode"] is None and "AGORA_WEBHOOK_ALLOW" in attempt["error"]
        assert receiver.posts == []
    finally:
        kill_group(proc)


def test_discussion_and_comment_events_in_the_hubs_shape(site: Site, receiver: Receiver) -> None:
    """Opening carries the opening comment, a rename is a discussion update, an edit or a hide a comment
    update (hidden: no text); community events carry no headSha; each event arrives once."""
    api = hub(site)
    repo = api.create_repo("wanda/talked").repo_id
    w = api.create_webhook(
        url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["discussion"]
    )
    try:
        d = api.create_discussion(repo, title="a question", description="what is it?")
        created = receiver.wait(is_event("discussion", "create"))["json"]
        assert created["comment"]["content"] == "what is it?" and created["comment"]["hidden"] is False
        assert created["comment"]["url"]["web"].startswith(f"{site.endpoint}/{repo}/discussions/{d.num}#")
        assert "headSha" not in created["repo"]
        api.rename_discussion(repo, d.num, "a better question")
        renamed = receiver.wait(is_event("discussion", "update"))["json"]
        assert renamed["discussion"]["title"] == "a better question"
        c = api.comment_discussion(repo, d.num, "first take")
        receiver.wait(is_event("discussion.comment", "create"))
        api.edit_discussion_comment(repo, d.num, c.id, "second take")
        edited = receiver.wait(is_event("discussion.comment", "update"))["json"]
        assert edited["comment"]["id"] == c.id and edited["comment"]["content"] == "second take"
        api.hide_discussion_comment(repo, d.num, c.id)
        hidden = receiver.wait(lambda j: j.get("comment", {}).get("hidden") is True)["json"]
        assert (hidden["comment"]["id"], hidden["comment"]["content"]) == (c.id, "")
        assert hidden["comment"]["author"] == edited["comment"]["author"] == created["comment"]["author"]
        time.sleep(1.5)  # nothing more comes
        events = [(p["json"]["event"]["scope"], p["json"]["event"]["action"]) for p in receiver.posts]
        assert events == [
            ("discussion", "create"),
            ("discussion", "update"),
            ("discussion.comment", "create"),
            ("discussion.comment", "update"),
            ("discussion.comment", "update"),
        ]
    finally:
        api.delete_webhook(w.id)


def test_config_events_say_what_changed(site: Site, receiver: Receiver) -> None:
    """repo.config carries `updatedConfig` ({"private": ...}, {} for a change the Hub does not detail);
    a setting sent again unchanged sends nothing."""
    api = hub(site)
    repo = api.create_repo("wanda/configured").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
    try:
        api.update_repo_settings(repo, private=True)
        made_private = receiver.wait(is_event("repo.config", "update"))["json"]
        assert made_private["updatedConfig"] == {"private": True} and made_private["repo"]["private"] is True
        assert made_private["repo"]["headSha"] == api.model_info(repo).sha
        api.update_repo_settings(repo, private=True)  # unchanged: no event
        api.update_repo_settings(repo, gated="auto")
        receiver.wait(lambda j: j.get("updatedConfig") == {})
        api.update_repo_settings(repo, private=False)
        receiver.wait(lambda j: j.get("updatedConfig") == {"private": False})
        time.sleep(1.5)
        assert [p["json"].get("updatedConfig") for p in receiver.posts] == [
            {"private": True},
            {},
            {"private": False},
        ]
    finally:
        api.delete_webhook(w.id)


class SlowReceiver:
    """A raw receiver: reads a request, then answers either a huge body at once ("huge") or a byte every
    0.2 s ("trickle": each read is quick, the answer never ends)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.mode = "trickle"
        self.seen = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.seen += 1
            try:
                if self.mode == "huge":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n" + b"x" * 1_000_000)
                    time.sleep(1)
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                for _ in range(600):
                    conn.sendall(b"y")
                    time.sleep(0.2)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def deliveries_of(s: Site, uid: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    url, headers = (
        f"{s.endpoint}/api/settings/webhooks/{uid}/deliveries",
        {"Authorization": f"Bearer {s.token}"},
    )
    deadline = time.time() + 30
    while not done(log := httpx.get(url, headers=headers).json()):
        assert time.time() < deadline, log
        time.sleep(0.2)
    return log


@own_server
def test_a_slow_or_huge_answer_is_cut_off(tmp_path: Path) -> None:
    """AGORA_WEBHOOK_TIMEOUT bounds a whole attempt: a receiver trickling its answer a byte at a time is cut off
    then (a failed attempt, retried), and the sender goes on; a huge answer is read only up to its bound."""
    s = new_site(tmp_path / "data", "wanda", tmp_path / "server.log")
    env = {
        "AGORA_WEBHOOK_ALLOW": "127.0.0.1",
        "AGORA_WEBHOOK_TIMEOUT": "2",
        "AGORA_WEBHOOK_RETRY_DELAYS": "0",
    }
    proc = start_killable(s.data, s.port, s.log, env)
    slow = SlowReceiver()
    try:
        api = hub(s)
        repo = api.create_repo("wanda/slow").repo_id
        w = api.create_webhook(url=slow.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
        api.update_repo_settings(repo, private=True)
        (d,) = deliveries_of(s, w.id, lambda log: bool(log) and log[0]["status"] == "failed")
        assert len(d["log"]) == 2 and slow.seen == 2
        for attempt in d["log"]:
            assert attempt["statusCode"] is None and "within 2 s" in attempt["error"], attempt
            assert 1500 <= attempt["durationMs"] < 4000
        slow.mode = "huge"
        api.update_repo_settings(repo, private=False)
        log = deliveries_of(s, w.id, lambda log: len(log) == 2 and log[0]["status"] == "ok")
        (attempt,) = log[0]["log"]
        assert attempt["statusCode"] == 200 and attempt["response"] == "x" * 4096
    finally:
        slow.close()
        kill_group(proc)


def test_comments_that_come_with_a_status_change_and_moves_out_of_a_watched_account(
    site: Site, receiver: Receiver
) -> None:
    """A comment given with a close or a merge is a comment event too; a repo moved out of a watched user's
    account sends its move to that user's watchers (the repo is theirs until the move)."""
    api = hub(site)
    agora("org", "create", "wanda-lab", "--owner", "wanda", data=site.data)
    repo = api.create_repo("wanda/leaving").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "user", "name": "wanda"}])
    try:
        d = api.create_discussion(repo, title="closing soon")
        api.change_discussion_status(repo, d.num, "closed", comment="done here")
        said = receiver.wait(is_event("discussion.comment", "create"))["json"]
        assert (said["comment"]["content"], said["discussion"]["status"]) == ("done here", "closed")
        pr = api.create_commit(repo, [CommitOperationAdd("m.txt", b"m")], commit_message="m", create_pr=True)
        api.merge_pull_request(repo, pr.pr_num, comment="merging it")
        said = receiver.wait(lambda j: j.get("comment", {}).get("content") == "merging it")["json"]
        assert said["event"]["scope"] == "discussion.comment" and said["discussion"]["status"] == "merged"
        api.move_repo(repo, "wanda-lab/leaving")
        moved = receiver.wait(is_event("repo", "move"))["json"]
        assert moved["movedTo"]["name"] == "wanda-lab/leaving"
        time.sleep(1.5)
        comments = [p["json"]["comment"]["content"] for p in receiver.posts if "comment" in p["json"]]
        assert comments.count("done here") == 1 and comments.count("merging it") == 1
    finally:
        api.delete_webhook(w.id)


def test_one_push_of_several_refs_is_one_event(site: Site, receiver: Receiver, tmp_path: Path) -> None:
    """A git push moving a branch and making a tag: one repo.content event listing both refs (the Hub's
    `updatedRefs` is the push's list), with the new head."""
    api = hub(site)
    repo = api.create_repo("wanda/pushed-twice").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
    try:
        url = f"http://wanda:{site.token}@127.0.0.1:{site.port}/{repo}"
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        work = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", url, str(work)], check=True, env=env)
        (work / "c.txt").write_text("c")
        for args in (
            ["add", "c.txt"],
            ["-c", "user.name=w", "-c", "user.email=w@x", "commit", "-qm", "c"],
            ["tag", "v2"],
            ["push", "-q", "origin", "main", "v2"],
        ):
            subprocess.run(["git", *args], cwd=work, check=True, env=env)
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True
        ).stdout.strip()
        p = receiver.wait(is_event("repo.content", "update"))["json"]
        assert sorted((r["ref"], r["newSha"]) for r in p["updatedRefs"]) == [
            ("refs/heads/main", head),
            ("refs/tags/v2", head),
        ]
        assert p["repo"]["headSha"] == head
        time.sleep(1.5)
        assert len(receiver.posts) == 1
    finally:
        api.delete_webhook(w.id)


@own_server
def test_several_server_processes_deliver_each_event_once(tmp_path: Path, receiver: Receiver) -> None:
    """Three worker processes, each with its sender, share the queue: every event is posted once."""
    s = new_site(tmp_path / "data", "wanda", tmp_path / "server.log")
    proc = start_killable(s.data, s.port, s.log, {"AGORA_WEBHOOK_ALLOW": "127.0.0.1"}, workers=3)
    try:
        api = hub(s)
        repo = api.create_repo("wanda/busy").repo_id
        api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], domains=["repo"])
        shas = [
            api.create_commit(repo, [CommitOperationAdd(f"{i}.txt", b"x")], commit_message=str(i)).oid
            for i in range(12)
        ]
        deadline = time.time() + 30
        while len(receiver.posts) < len(shas):
            assert time.time() < deadline, len(receiver.posts)
            time.sleep(0.2)
        time.sleep(2)  # a second sender posting the same delivery would show now
        got = [p["json"]["updatedRefs"][0]["newSha"] for p in receiver.posts]
        assert sorted(got) == sorted(shas)
    finally:
        kill_group(proc)


def test_a_secret_is_ascii_and_a_unicode_path_is_encoded(site: Site, receiver: Receiver) -> None:
    """The secret goes in a header: a non-ASCII or multi-line one is a clear 400 (the Hub supports ASCII only);
    a URL path with non-ASCII characters is posted percent-encoded (it used to leave its delivery stuck)."""
    api = hub(site)
    repo = api.create_repo("wanda/unicode-hook").repo_id
    for bad in ("sécret", "a\nb"):
        with pytest.raises(HfHubHTTPError) as e:
            api.create_webhook(url=receiver.url, watched=[{"type": "model", "name": repo}], secret=bad)
        assert e.value.response.status_code == 400 and "ASCII" in e.value.response.text
    assert api.list_webhooks() == []
    w = api.create_webhook(
        url=receiver.url + "/café?x=a b", watched=[{"type": "model", "name": repo}], secret="ok-secret"
    )
    try:
        api.update_repo_settings(repo, private=True)
        p = receiver.wait(is_event("repo.config", "update"))
        assert p["path"] == "/hook/caf%C3%A9?x=a%20b" and p["headers"]["X-Webhook-Secret"] == "ok-secret"
    finally:
        api.delete_webhook(w.id)


def test_watched_names_follow_renames_by_the_command_line(site: Site, receiver: Receiver) -> None:
    """`agora user rename` and `agora repo rename`: the webhooks watching the user, or the repo, watch it under
    its new name and keep getting its events."""
    agora("user", "add", "rita", "--password-stdin", data=site.data, stdin="rita-password\n")
    api = hub(site, "rita")
    repo = api.create_repo("rita/first").repo_id
    w = api.create_webhook(
        url=receiver.url,
        watched=[{"type": "user", "name": "rita"}, {"type": "model", "name": repo}],
        domains=["repo"],
    )
    try:
        agora("user", "rename", "rita", "rhea", data=site.data)
        assert [(i.type, i.name) for i in api.get_webhook(w.id).watched] == [
            ("user", "rhea"),
            ("model", "rhea/first"),
        ]
        agora("repo", "rename", "model", "rhea/first", "rhea/second", data=site.data)
        assert [i.name for i in api.get_webhook(w.id).watched] == ["rhea", "rhea/second"]
        api.update_webhook(w.id, watched=[{"type": "model", "name": "rhea/second"}])
        info = api.create_commit("rhea/second", [CommitOperationAdd("r.txt", b"r")], commit_message="r")
        p = receiver.wait(lambda j: j["repo"].get("headSha") == info.oid)
        assert p["json"]["repo"]["name"] == "rhea/second"
    finally:
        api.delete_webhook(w.id)


def test_space_secrets_variables_and_sleep_time_are_config_events(site: Site, receiver: Receiver) -> None:
    """The Hub's repo.config scope covers a Space's secrets and settings: each change is one event
    (`updatedConfig: {}`: the Hub details only `private` and `xetEnabled`); a secret's value is never sent."""
    api = hub(site)
    space = api.create_repo("wanda/configured-space", repo_type="space", space_sdk="gradio").repo_id
    w = api.create_webhook(url=receiver.url, watched=[{"type": "space", "name": space}], domains=["repo"])
    try:
        api.add_space_secret(space, "TOKEN", "very-secret-value")
        api.add_space_variable(space, "MODE", "fast")
        api.delete_space_secret(space, "TOKEN")
        api.set_space_sleep_time(space, 3600)
        deadline = time.time() + 30
        while len(receiver.posts) < 4:
            assert time.time() < deadline, receiver.posts
            time.sleep(0.1)
        time.sleep(1)
        assert [p["json"]["event"] for p in receiver.posts] == [
            {"action": "update", "scope": "repo.config"}
        ] * 4
        assert all(p["json"]["updatedConfig"] == {} for p in receiver.posts)
        assert all("very-secret-value" not in json.dumps(p["json"]) for p in receiver.posts)
    finally:
        api.delete_webhook(w.id)
