"""Webhook events: which webhooks an event reaches, and its payload in the Hub's shape (version 3).

Every event is recorded by the domain function that makes it happen, in that write's own transaction: a
ref move (`Hub.after_ref_update`, which every commit, push, web and Xet upload passes), a repo created,
deleted, moved or whose settings changed, a discussion or pull request opened, commented, closed,
reopened, merged. `emit` adds one `webhook_deliveries` row per webhook it reaches; the sender
(`agora.deliveries`) posts them after the write, so a delivery never slows the request that caused it, and
a write rolled back sends nothing.

Links in a payload are stored as paths ("/alice/model"); the sender makes them absolute with the Hub's
address (AGORA_PUBLIC_URL, else the one the webhook's owner used), so the stored event does not depend on
how the request that caused it reached the server.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Account, Discussion, Repo, Webhook, WebhookDelivery
from ..ids import repo_full, repo_web_path
from . import accounts

VERSION = 3


def repo_payload(repo: Repo, owner_id: int | None = None, head: bool = True) -> dict[str, Any]:
    """The `repo` of every payload; `headSha` (main's head) only on the repo scopes, as the Hub sends it (not
    on discussion and comment events)."""
    full = repo_full(repo.namespace, repo.name)
    out: dict[str, Any] = {
        "type": repo.type,
        "name": full,
        "id": str(repo.id),
        "private": repo.private,
        "headSha": repo.head_sha,
        "owner": {"id": str(owner_id) if owner_id is not None else repo.namespace},
        "url": {
            "web": "/" + repo_web_path(repo.type, repo.namespace, repo.name),
            "api": f"/api/{repo.type}s/{full}",
        },
    }
    if not head:
        out.pop("headSha")
    return out


def discussion_payload(repo: Repo, d: Discussion) -> dict[str, Any]:
    web = "/" + repo_web_path(repo.type, repo.namespace, repo.name) + f"/discussions/{d.num}"
    out: dict[str, Any] = {
        "id": str(d.id),
        "num": d.num,
        "title": d.title,
        "status": d.status,
        "isPullRequest": d.is_pr,
        "author": {"id": str(d.author_id) if d.author_id is not None else ""},
        "url": {
            "web": web,
            "api": f"/api/{repo.type}s/{repo_full(repo.namespace, repo.name)}/discussions/{d.num}",
        },
    }
    if d.is_pr:
        changes: dict[str, Any] = {"base": "refs/heads/main"}
        merged = (d.data or {}).get("mergeCommitId")
        if merged:
            changes["mergeCommitId"] = merged
        out["changes"] = changes
    return out


def comment_payload(
    repo: Repo, d: Discussion, event: dict[str, Any], author_id: int | None
) -> dict[str, Any]:
    """A comment as it is now: a hidden one says so and carries no text."""
    web = "/" + repo_web_path(repo.type, repo.namespace, repo.name) + f"/discussions/{d.num}#{event['id']}"
    data = event.get("data") or {}
    hidden = bool(data.get("hidden"))
    return {
        "id": event["id"],
        "author": {"id": str(author_id) if author_id is not None else ""},
        "hidden": hidden,
        "content": "" if hidden else str((data.get("latest") or {}).get("raw") or ""),
        "url": {"web": web},
    }


def _watches(w: Webhook, repo: Repo, names: tuple[str, ...]) -> bool:
    """Whether `w` watches the repo, by its name or its namespace; `names`: its former names (a move), whose
    namespaces count too (a repo moved out of a watched user's account is still that user's event)."""
    full = repo_full(repo.namespace, repo.name).lower()
    spaces = {repo.namespace.lower()} | {n.split("/")[0] for n in names if "/" in n}
    for item in w.watched:
        kind, name = item.get("type"), str(item.get("name", "")).lower()
        if kind == repo.type and name in names + (full,):
            return True
        if kind in ("user", "org") and name in spaces:
            return True
    return False


def _may_read(s: Session, owner: Account | None, repo: Repo) -> bool:
    """Whether the webhook's owner may read the repo now (a disabled account receives nothing)."""
    if owner is None or owner.disabled:
        return False
    return not repo.private or accounts.can_read(s, accounts.session_principal(owner), repo)


def reached(s: Session, repo: Repo, domain: str, also: tuple[str, ...] = ()) -> list[Webhook]:
    """The enabled webhooks watching the repo (itself, or its namespace; `also`: former names, lower case)
    in `domain` whose owner may read it. All webhooks are scanned: a self-hosted Hub has few."""
    out = []
    for w in s.scalars(select(Webhook).where(Webhook.disabled.is_(False)).order_by(Webhook.id)):
        if domain in w.domains and _watches(w, repo, also):
            if _may_read(s, s.get(Account, w.owner_id), repo):
                out.append(w)
    return out


def emit(
    s: Session,
    repo: Repo,
    scope: str,
    action: str,
    extra: dict[str, Any] | None = None,
    also: tuple[str, ...] = (),
) -> int:
    """Queue the event for every webhook it reaches; returns how many."""
    domain = scope.split(".")[0]
    hooks = reached(s, repo, domain, also)
    if not hooks:
        return 0
    owner = accounts.get_account(s, repo.namespace)
    body: dict[str, Any] = {
        "event": {"action": action, "scope": scope},
        "repo": repo_payload(repo, owner.id if owner else None, head=domain == "repo"),
        **(extra or {}),
    }
    for w in hooks:
        add_delivery(s, w, f"{scope}.{action}", {**body, "webhook": {"id": w.uid, "version": VERSION}})
    return len(hooks)


def add_delivery(s: Session, w: Webhook, event: str, payload: dict[str, Any]) -> WebhookDelivery:
    """A new delivery, due now (the sender prunes each webhook's log to its last AGORA_WEBHOOK_KEEP)."""
    d = WebhookDelivery(webhook_id=w.id, event=event, payload=payload, status="pending", log=[])
    s.add(d)
    s.flush()
    return d


# ---- the events, as the domain functions call them ---------------------------------------------------------
def ref_moved(s: Session, repo: Repo, ref: str, old: str | None, new: str | None) -> None:
    refs_moved(s, repo, [(ref, old, new)])


def refs_moved(s: Session, repo: Repo, moves: list[tuple[str, str | None, str | None]]) -> None:
    """One `repo.content` event for the refs one write moved (a git push of a branch and a tag: one event
    listing both in `updatedRefs`, as the Hub sends it)."""
    refs = [{"ref": ref, "oldSha": old, "newSha": new} for ref, old, new in moves]
    if refs:
        emit(s, repo, "repo.content", "update", {"updatedRefs": refs})


def repo_event(s: Session, repo: Repo, action: str, extra: dict[str, Any] | None = None) -> None:
    """scope "repo": create, delete, move (with movedTo; reached through the old name too, and the webhooks
    watching the old name watch the new one from then on)."""
    also: tuple[str, ...] = ()
    if extra and "movedFrom" in extra:
        also = (str(extra.pop("movedFrom")).lower(),)
    emit(s, repo, "repo", action, extra, also)
    if also:
        follow(s, (repo.type,), also[0], repo_full(repo.namespace, repo.name))


def follow(s: Session, kinds: tuple[str, ...], old: str, new: str) -> None:
    """Watched items of a type in `kinds` named `old` (any case) are named `new` from now on: a renamed or
    moved repo, a renamed user or org (Hub.move, and the command line's names.rename_repo/rename_account)."""
    for w in s.scalars(select(Webhook)):
        items = [
            {"type": i["type"], "name": new}
            if i.get("type") in kinds and str(i.get("name", "")).lower() == old.lower()
            else i
            for i in w.watched
        ]
        if items != w.watched:
            w.watched = items


def config_changed(s: Session, repo: Repo, updated: dict[str, Any]) -> None:
    """`updatedConfig`: the keys the Hub reports (`private`), else {} (a change it does not detail: gating)."""
    emit(
        s,
        repo,
        "repo.config",
        "update",
        {"updatedConfig": {k: v for k, v in updated.items() if k == "private"}},
    )


def discussion_event(s: Session, repo: Repo, d: Discussion, action: str) -> None:
    """A discussion or PR opened ("create": with its opening comment, as the Hub sends it), renamed, closed,
    reopened or merged ("update")."""
    extra: dict[str, Any] = {"discussion": discussion_payload(repo, d)}
    first = next(iter((d.data or {}).get("events") or []), None)
    if action == "create" and first is not None and first.get("type") == "comment":
        extra["comment"] = comment_payload(repo, d, first, d.author_id)
    emit(s, repo, "discussion", action, extra)


def comment_event(
    s: Session,
    repo: Repo,
    d: Discussion,
    event: dict[str, Any],
    author_id: int | None,
    action: str = "create",
) -> None:
    """A comment added ("create"), edited or hidden ("update")."""
    extra = {"discussion": discussion_payload(repo, d), "comment": comment_payload(repo, d, event, author_id)}
    emit(s, repo, "discussion.comment", action, extra)
