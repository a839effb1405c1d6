"""A user's webhooks (`/api/settings/webhooks`, the settings pages): create, list, change, enable, disable,
delete; each one's delivery log and its replay; and the delivery queue the sender (`agora.deliveries`)
works from. Only a webhook's owner sees or changes it (anyone else gets 404, as for a private repo).

The queue works as the job queue does (`jobs.py`): a delivery is a row, a sender takes it with a
compare-and-set UPDATE (pending and due -> running, its claim written in the same statement), a running
delivery whose claim is older than LEASE lost its sender and is offered again. Not the `jobs` table
itself: a job is keyed by a repo and a revision (a repo deletion's event outlives its repo) and runs
as soon as it can, where a failed delivery waits for its next attempt (`next_at`).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from ..db.models import Webhook, WebhookDelivery, utcnow
from ..errors import BadRequest, NotFound, Unauthorized
from ..ids import RepoId, parse_repo_type, repo_full
from . import names
from .accounts import Principal, require_write_token
from .webhook_events import add_delivery
from .webhook_targets import Allow, resolve

if TYPE_CHECKING:
    from .repos import Hub

WATCH_TYPES = ("model", "dataset", "space", "user", "org")
DOMAINS = ("repo", "discussion")
LEASE = timedelta(seconds=120)


@dataclass(frozen=True)
class Delivery:
    """A delivery as the log shows it and the sender needs it (detached from the session)."""

    id: int
    webhook: str  # the webhook's uid
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    log: list[dict[str, Any]]
    created_at: datetime
    url: str = ""
    secret: str | None = None
    base_url: str | None = None
    claim: str | None = None


def describe(w: Webhook) -> dict[str, Any]:
    """The webhook as huggingface_hub's WebhookInfo parses it."""
    return {
        "id": w.uid,
        "url": w.url,
        "job": None,
        "watched": [{"type": i["type"], "name": i["name"]} for i in w.watched],
        "domains": list(w.domains),
        "secret": w.secret,
        "disabled": w.disabled,
    }


def _mine(s: Session, who: Principal | None, uid: str) -> Webhook:
    if who is None:
        raise Unauthorized("You must be authenticated to manage webhooks")
    w = s.scalar(select(Webhook).where(Webhook.uid == uid))
    if w is None or w.owner_id != who.user_id:
        raise NotFound(f"Webhook {uid!r} not found")
    return w


def _watched_item(hub: Hub, s: Session, who: Principal, item: Any) -> dict[str, str]:
    """A watched item in its canonical spelling. A repo the caller may not read is RepoNotFound, exactly as
    one that does not exist (Hub.find): watching is no existence oracle."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
        raise BadRequest("Each watched item is {'type': ..., 'name': ...}")
    kind, name = item.get("type"), item["name"]
    if kind not in WATCH_TYPES:
        raise BadRequest(f"Invalid watched type {kind!r}: use one of {', '.join(WATCH_TYPES)}")
    if kind in ("user", "org"):
        acc = names.account(s, name)
        if acc is None or acc.kind != kind:
            raise BadRequest(f"No {kind} named {name!r}")
        return {"type": kind, "name": acc.name}
    repo = hub.find(s, who, RepoId.parse_any(parse_repo_type(str(kind)), name))  # `gpt2` too
    return {"type": str(kind), "name": f"{repo_full(repo.namespace, repo.name)}"}


def _watched(hub: Hub, s: Session, who: Principal, items: Any) -> list[dict[str, str]]:
    if not isinstance(items, list) or not items:
        raise BadRequest("A webhook watches at least one item: a repo, a user or an org")
    if len(items) > 100:
        raise BadRequest("A webhook watches at most 100 items")
    return [_watched_item(hub, s, who, i) for i in items]


def _domains(domains: Any) -> list[str]:
    if not isinstance(domains, list) or not domains or any(d not in DOMAINS for d in domains):
        raise BadRequest(f"domains must be a non-empty list of {' and '.join(DOMAINS)}")
    return [d for d in DOMAINS if d in domains]


def _secret(secret: Any) -> str | None:
    if secret is None or secret == "":
        return None
    if not isinstance(secret, str) or len(secret) > 200:
        raise BadRequest("The secret must be a string of at most 200 characters")
    if not all(" " <= c <= "~" for c in secret):  # an HTTP header value: the Hub supports ASCII only too
        raise BadRequest("The secret may hold printable ASCII characters only: it is sent as a header")
    return secret


def _check_fields(body: dict[str, Any]) -> None:
    if body.get("jobSourceId") is not None or body.get("secrets") is not None:
        raise BadRequest("This server runs no Jobs: a webhook posts to a url")


def mine(hub: Hub, who: Principal | None) -> list[dict[str, Any]]:
    if who is None:
        raise Unauthorized("You must be authenticated to list your webhooks")
    with hub.db.session() as s:
        rows = s.scalars(select(Webhook).where(Webhook.owner_id == who.user_id).order_by(Webhook.id))
        return [describe(w) for w in rows]


def get(hub: Hub, who: Principal | None, uid: str) -> dict[str, Any]:
    with hub.db.session() as s:
        return describe(_mine(s, who, uid))


def create(hub: Hub, who: Principal | None, body: dict[str, Any], base: str, allow: Allow) -> dict[str, Any]:
    """A new webhook; its url is checked now (a clear 400 for a refused address), and at each delivery. The
    watched repos first: one the caller may not read is a 404 whatever the token (Hub.find)."""
    if who is None:
        raise Unauthorized("You must be authenticated to create a webhook")
    _check_fields(body)
    with hub.db.session() as s:
        watched = _watched(hub, s, who, body.get("watched"))
        require_write_token(who, "create a webhook")
        url = body.get("url")
        if not isinstance(url, str):
            raise BadRequest("A webhook needs a url (http:// or https://)")
        resolve(url, allow)
        w = Webhook(
            uid=uuid.uuid4().hex[:24],
            owner_id=who.user_id,
            url=url,
            secret=_secret(body.get("secret")),
            watched=watched,
            domains=_domains(body.get("domains", list(DOMAINS))),
            disabled=False,
            base_url=base,
        )
        s.add(w)
        s.flush()
        return describe(w)


def change(
    hub: Hub, who: Principal | None, uid: str, body: dict[str, Any], base: str, allow: Allow
) -> dict[str, Any]:
    """Only what the body names changes. huggingface_hub's update_webhook always sends `watched`, an empty
    list when the caller named none: an empty list keeps the watched items."""
    require_write_token(who, "change a webhook")
    _check_fields(body)
    with hub.db.session() as s:
        w = _mine(s, who, uid)
        assert who is not None
        if body.get("url") is not None:
            resolve(str(body["url"]), allow)
            w.url = body["url"]
        if body.get("watched"):
            w.watched = _watched(hub, s, who, body["watched"])
        if body.get("domains") is not None:
            w.domains = _domains(body["domains"])
        if "secret" in body:
            w.secret = _secret(body["secret"])
        w.base_url, w.updated_at = base, utcnow()
        return describe(w)


def set_disabled(hub: Hub, who: Principal | None, uid: str, disabled: bool) -> dict[str, Any]:
    require_write_token(who, "enable or disable a webhook")
    with hub.db.session() as s:
        w = _mine(s, who, uid)
        w.disabled, w.updated_at = disabled, utcnow()
        return describe(w)


def remove(hub: Hub, who: Principal | None, uid: str) -> None:
    require_write_token(who, "delete a webhook")
    with hub.db.session() as s:
        s.delete(_mine(s, who, uid))


def _delivery(d: WebhookDelivery, w: Webhook) -> Delivery:
    return Delivery(
        d.id,
        w.uid,
        d.event,
        d.payload,
        d.status,
        d.attempts,
        list(d.log or []),
        d.created_at,
        w.url,
        w.secret,
        w.base_url,
        d.claim,
    )


def log(hub: Hub, who: Principal | None, uid: str) -> list[Delivery]:
    """The webhook's deliveries, newest first."""
    with hub.db.session() as s:
        w = _mine(s, who, uid)
        rows = s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == w.id)
            .order_by(WebhookDelivery.id.desc())
        )
        return [_delivery(d, w) for d in rows]


def replay(hub: Hub, who: Principal | None, uid: str, delivery_id: int) -> int:
    """Send a past delivery's payload again, as a new delivery; returns its id."""
    require_write_token(who, "replay a webhook delivery")
    with hub.db.session() as s:
        w = _mine(s, who, uid)
        d = s.get(WebhookDelivery, delivery_id)
        if d is None or d.webhook_id != w.id:
            raise NotFound(f"Delivery {delivery_id} of webhook {uid!r} not found")
        return add_delivery(s, w, d.event, d.payload).id


# ---- the queue (the sender, agora.deliveries) -----------------------------------------------------------------
def claim(hub: Hub, sender: str) -> Delivery | None:
    """Take the oldest due delivery of an enabled webhook, or None (a compare-and-set, as jobs.claim)."""
    now = utcnow()
    runnable = or_(
        (WebhookDelivery.status == "pending") & (WebhookDelivery.next_at <= now),
        (WebhookDelivery.status == "running") & (WebhookDelivery.claimed_at < now - LEASE),
    )
    with hub.db.session() as s:
        rows = s.execute(
            select(WebhookDelivery.id)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(runnable, Webhook.disabled.is_(False))
            .order_by(WebhookDelivery.next_at, WebhookDelivery.id)
            .limit(5)
        ).all()
        for (did,) in rows:
            token = f"{sender}:{secrets.token_hex(4)}"
            res = s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == did, runnable)
                .values(status="running", claim=token, claimed_at=now, attempts=WebhookDelivery.attempts + 1)
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                s.commit()
                d = s.get(WebhookDelivery, did)
                w = s.get(Webhook, d.webhook_id) if d is not None else None
                if d is not None and w is not None and d.claim == token:
                    return _delivery(d, w)
    return None


def record(hub: Hub, d: Delivery, attempt: dict[str, Any], ok: bool, delays: list[float], keep: int) -> None:
    """An attempt's outcome: done, or due again after the next delay, or failed when the delays are spent;
    then the webhook's log is cut to its last `keep` deliveries."""
    status, next_at = "ok", utcnow()
    if not ok:
        status = "pending" if d.attempts <= len(delays) else "failed"
        if status == "pending":
            next_at = utcnow() + timedelta(seconds=delays[d.attempts - 1])
            attempt["nextAttemptAt"] = next_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with hub.db.session() as s:
        row = s.get(WebhookDelivery, d.id)
        if row is None or row.claim != d.claim:
            return
        row.log = [*(row.log or []), attempt]
        row.status, row.next_at, row.claim = status, next_at, None
        cutoff = s.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.webhook_id == row.webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .offset(keep)
            .limit(1)
        )
        if cutoff is not None:
            s.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.webhook_id == row.webhook_id, WebhookDelivery.id <= cutoff
                )
            )
