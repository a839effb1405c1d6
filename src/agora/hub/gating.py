"""Gated repos: who may download, access requests and the decisions on them.

A gated repo (`repos.gated`: "auto" or "manual") keeps its metadata public (repo info, the file list, the
card, the repo page) but serves its files only to those who pass its gate (`passes_gate`):

- the members of the repo's namespace (its owner, every member of its org, `read` members included) and
  site admins: they always pass, as on the Hub, where an org's members need no access request;
- users whose access request is `accepted` (they asked and "auto" accepted at once, a writer accepted it,
  or a writer granted access without a request).

Everyone else (the anonymous included) gets `GatedRepo` from `check`, the one check every byte-serving
surface goes through (`Hub.find(..., download=True)`). README.md stays readable: the card is metadata on
the Hub (its page shows it, and `ModelCard.load` works on a gated repo without access).

An access request carries the answers to the card's `extra_gated_fields` (text, checkbox, select, date,
country). Writers of the repo (write or admin in its namespace) list requests by status and move them:
accept, reject (with a reason), cancel (back to pending), grant (an accepted request for a user who did
not ask). One row per (repo, user): asking again updates the answers of a pending request and leaves a
decided one as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import AccessRequest, Account, Repo, utcnow
from ..errors import BadRequest, Forbidden, GatedRepo, HubError, NotFound, Unauthorized
from ..ids import RepoId, repo_full, repo_web_path
from . import accounts, audit
from .accounts import Principal

if TYPE_CHECKING:
    from ..storage.gitstore import GitRepo
    from .repos import Hub

STATUSES = ("pending", "accepted", "rejected")
FIELD_KINDS = ("text", "checkbox", "select", "date_picker", "country")
MAX_ANSWER = 1000  # characters of one answer
MAX_FIELDS = 50
MAX_REASON = 2000
LIST_MAX = 10_000  # requests listed at once (the client pages through the Link header; we send one page)
FREE_PATHS = ("README.md",)  # readable through the gate: the card is public metadata


@dataclass(frozen=True)
class Field:
    """One of the card's `extra_gated_fields`: its label (the key the answer is stored under), its kind,
    and a select's options."""

    name: str
    kind: str
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Form:
    """What a visitor fills in to ask for access: the card's prompt, fields and button label."""

    prompt: str | None
    fields: list[Field]
    button: str


def _option(o: Any) -> str:
    return str(o.get("value", o.get("label", ""))) if isinstance(o, dict) else str(o)


def _field(name: Any, spec: Any) -> Field | None:
    """A field from the card: `Name: text` or `Name: {type: select, options: [...]}`; others are skipped."""
    kind = spec.get("type") if isinstance(spec, dict) else spec
    if not isinstance(name, str) or not name.strip() or kind not in FIELD_KINDS:
        return None
    options = spec.get("options") if isinstance(spec, dict) else None
    opts = [_option(o) for o in options] if isinstance(options, list) else []
    return Field(name.strip()[:200], str(kind), opts[:200])


def form(repo: Repo) -> Form:
    """The access form the repo's card describes (extra_gated_prompt, extra_gated_fields,
    extra_gated_button_content)."""
    card = repo.card_data or {}
    specs = card.get("extra_gated_fields")
    fields = [f for k, v in (specs.items() if isinstance(specs, dict) else []) if (f := _field(k, v))]
    prompt = card.get("extra_gated_prompt")
    button = card.get("extra_gated_button_content")
    return Form(
        prompt if isinstance(prompt, str) and prompt.strip() else None,
        fields[:MAX_FIELDS],
        button if isinstance(button, str) and button.strip() else "Agree and access repository",
    )


def answers(f: Form, given: dict[str, Any]) -> dict[str, Any]:
    """The answers to the form's fields, checked: every field is required and a checkbox must be ticked
    (the agreement it states), a select's answer is one of its options. Keys the form lacks are dropped."""
    out: dict[str, Any] = {}
    for fd in f.fields:
        v = given.get(fd.name)
        if fd.kind == "checkbox":
            if v in (None, False, "", "false", "off", "0"):
                raise BadRequest(f"Please tick '{fd.name}' to ask for access")
            out[fd.name] = True
            continue
        text = str(v).strip() if v is not None and not isinstance(v, (dict, list)) else ""
        if not text:
            raise BadRequest(f"Please fill in '{fd.name}' to ask for access")
        if len(text) > MAX_ANSWER:
            raise BadRequest(f"The answer to '{fd.name}' is too long (at most {MAX_ANSWER} characters)")
        if fd.kind == "select" and fd.options and text not in fd.options:
            raise BadRequest(f"'{text}' is not one of the choices for '{fd.name}'")
        out[fd.name] = text
    return out


# ---- the gate ----------------------------------------------------------------------------------------------
def _request(s: Session, repo: Repo, user_id: int) -> AccessRequest | None:
    return s.scalar(
        select(AccessRequest).where(AccessRequest.repo_id == repo.id, AccessRequest.user_id == user_id)
    )


def passes_gate(s: Session, who: Principal | None, repo: Repo) -> bool:
    """Whether `who` may download the files of `repo` (any repo that is not gated: yes)."""
    if not repo.gated:
        return True
    if who is None:
        return False
    if accounts.namespace_role(s, who, repo.namespace) is not None:
        return True
    req = _request(s, repo, who.user_id)
    return req is not None and req.status == "accepted"


def is_card(git: GitRepo, rev: str, path: str) -> bool:
    """Whether `path` at `rev` is the card, public metadata that passes the gate: README.md at a commit on a
    branch or a tag (refs only the repo's writers move). A pull request's commits are not: anyone may open
    one, and its README.md can be any of the repo's files (a same-repo copy of an LFS file names only its
    sha256, the client never reads the bytes)."""
    if path not in FREE_PATHS:
        return False
    try:
        sha = git.resolve(rev)
    except HubError:  # no such revision: the caller answers it
        return False
    heads = {r.target for r in git.refs("refs/heads/") + git.refs("refs/tags/")}
    return sha in heads or any(git.repo.descendant_of(h, sha) for h in heads)


def check(s: Session, who: Principal | None, repo: Repo, card: bool = False) -> None:
    """The gate: GatedRepo unless `who` passes it (or the caller serves the card: `is_card`). The anonymous
    are asked to log in (401 on the wire, as on the Hub); a user without access is told where to ask for it
    (403)."""
    if card or passes_gate(s, who, repo):
        return
    what = f"{repo.type} {repo_full(repo.namespace, repo.name)}"
    page = f"/{repo_web_path(repo.type, repo.namespace, repo.name)}"  # where to ask (the web error links it)
    if who is None:
        raise GatedRepo(
            f"Access to {what} is restricted. You must have access to it and be authenticated to access it. "
            "Please log in.",
            anonymous=True,
            page=page,
        )
    raise GatedRepo(
        f"Access to {what} is restricted and you are not in the authorized list. "
        f"Visit {page} to ask for access.",
        page=page,
    )


def status_of(s: Session, who: Principal | None, repo: Repo) -> str | None:
    """What the repo page tells `who` about the gate: "member" (passes as a member or admin), "accepted",
    "pending", "rejected", or None (not asked yet, anonymous, or a repo that is not gated: no query)."""
    if who is None or not repo.gated:
        return None
    if accounts.namespace_role(s, who, repo.namespace) is not None:
        return "member"
    req = _request(s, repo, who.user_id)
    return None if req is None else req.status


def rejection(s: Session, who: Principal | None, repo: Repo) -> str | None:
    """The reason a writer gave when rejecting `who`'s request, if any."""
    req = _request(s, repo, who.user_id) if who is not None and repo.gated else None
    return req.reason if req is not None and req.status == "rejected" else None


# ---- asking --------------------------------------------------------------------------------------------
def ask(s: Session, who: Principal | None, repo: Repo, given: dict[str, Any]) -> AccessRequest:
    """`who` asks for access with answers to the card's fields: accepted at once when the repo is gated
    "auto", pending when "manual". Asking again updates a pending request's answers; an accepted or rejected
    request stays as it was decided."""
    if who is None:
        raise Unauthorized("You must be logged in to ask for access to a gated repository")
    if not repo.gated:
        raise BadRequest(
            f"{repo_full(repo.namespace, repo.name)} is not gated: its files are open to everyone"
        )
    got = answers(form(repo), given)
    req = _request(s, repo, who.user_id)
    if req is not None and req.status != "pending":
        return req
    if req is None:
        req = AccessRequest(repo_id=repo.id, user_id=who.user_id, created_at=utcnow())
        s.add(req)
    req.status = "accepted" if repo.gated == "auto" else "pending"
    req.fields = got
    req.updated_at = utcnow()
    audit.record(s, who, "repo.access.request", _target(repo), {"status": req.status})
    s.flush()
    return req


# ---- the writers' side ---------------------------------------------------------------------------------
def _target(repo: Repo) -> str:
    return f"{repo.type}:{repo_full(repo.namespace, repo.name)}"


def _writer(s: Session, who: Principal | None, repo: Repo) -> Principal:
    if who is None:
        raise Unauthorized("You must be authenticated to manage the access requests of a repository")
    if not accounts.can_write(s, who, repo):
        raise Forbidden(
            f"Only the repository's writers manage the access requests of {repo_full(repo.namespace, repo.name)}"
        )
    return who


@dataclass(frozen=True)
class Listed:
    """An access request as the writers see it (the wire's item: hub-api.md "Access requests")."""

    id: int
    user: str
    fullname: str
    email: str | None
    status: str
    fields: dict[str, Any] | None
    reason: str | None
    timestamp: Any  # datetime (naive UTC)


def listing(s: Session, who: Principal | None, repo: Repo, status: str) -> list[Listed]:
    """The repo's requests in `status`, oldest first: for its writers only."""
    _writer(s, who, repo)
    if status not in STATUSES:
        raise BadRequest(f"Invalid status {status!r}: use pending, accepted or rejected")
    rows = s.execute(
        select(AccessRequest, Account)
        .join(Account, Account.id == AccessRequest.user_id)
        .where(AccessRequest.repo_id == repo.id, AccessRequest.status == status)
        .order_by(AccessRequest.updated_at, AccessRequest.id)
        .limit(LIST_MAX)
    ).all()
    return [
        Listed(r.id, a.name, a.fullname, a.email, r.status, r.fields, r.reason, r.updated_at) for r, a in rows
    ]


def _find_request(s: Session, repo: Repo, user: str | None, request_id: str | None) -> AccessRequest:
    req = None
    if user is not None:
        acc = accounts.get_account(s, user)
        req = _request(s, repo, acc.id) if acc is not None else None
    elif request_id is not None and str(request_id).isdigit():
        req = s.get(AccessRequest, int(request_id))
        req = req if req is not None and req.repo_id == repo.id else None
    if req is None:
        raise NotFound(
            f"No access request from {user or request_id} to {repo_full(repo.namespace, repo.name)}"
        )
    return req


def handle(
    s: Session,
    who: Principal | None,
    repo: Repo,
    user: str | None,
    request_id: str | None,
    status: Any,
    reason: Any = None,
) -> AccessRequest:
    """A writer moves a request (named by its user or its id) to `status`: accepted, rejected (with an
    optional reason, shown to the user) or pending (the client's `cancel_access_request`)."""
    actor = _writer(s, who, repo)
    if status not in STATUSES:
        raise BadRequest(f"Invalid status {status!r}: use pending, accepted or rejected")
    if (user is None) == (request_id is None):
        raise BadRequest("Name the request by exactly one of 'user' and 'requestId'")
    if reason is not None and (status != "rejected" or not isinstance(reason, str)):
        raise BadRequest("'rejectionReason' is a text, and only for a rejection")
    req = _find_request(s, repo, user, request_id)
    req.status = str(status)
    req.reason = reason[:MAX_REASON] if isinstance(reason, str) and status == "rejected" else None
    req.updated_at = utcnow()
    audit.record(s, actor, f"repo.access.{status}", _target(repo), {"request": req.id})
    s.flush()
    return req


def grant(s: Session, who: Principal | None, repo: Repo, user: Any) -> AccessRequest:
    """A writer gives `user` access without a request of theirs (an existing request is accepted)."""
    actor = _writer(s, who, repo)
    if not isinstance(user, str) or not user:
        raise BadRequest("'user' (a user name) is required")
    acc = accounts.get_account(s, user)
    if acc is None or acc.kind != "user":
        raise NotFound(f"User {user} not found")
    req = _request(s, repo, acc.id)
    if req is None:
        req = AccessRequest(repo_id=repo.id, user_id=acc.id, created_at=utcnow())
        s.add(req)
    req.status, req.reason, req.updated_at = "accepted", None, utcnow()
    audit.record(s, actor, "repo.access.grant", _target(repo), {"user": acc.name})
    s.flush()
    return req


# ---- in a session of their own: for the HTTP handlers (called in a worker thread) ----------------------------
def auth_check(hub: Hub, who: Principal | None, rid: RepoId, write: bool) -> None:
    """`GET /api/{type}/{id}/auth-check[/write]`: whether `who` may download (or, with `write`, push)."""
    with hub.db.session() as s:
        hub.find(s, who, rid, write=write, download=not write)


def request_access(hub: Hub, who: Principal | None, rid: RepoId, given: dict[str, Any]) -> str:
    """`ask` for a repo `who` may see; the request's status."""
    with hub.db.session() as s:
        return ask(s, who, hub.find(s, who, rid), given).status


def requests_of(hub: Hub, who: Principal | None, rid: RepoId, status: str) -> list[Listed]:
    with hub.db.session() as s:
        return listing(s, who, hub.find(s, who, rid), status)


def decide(
    hub: Hub,
    who: Principal | None,
    rid: RepoId,
    user: str | None,
    request_id: str | None,
    status: Any,
    reason: Any = None,
) -> None:
    with hub.db.session() as s:
        handle(s, who, hub.find(s, who, rid), user, request_id, status, reason)


def give(hub: Hub, who: Principal | None, rid: RepoId, user: Any) -> None:
    with hub.db.session() as s:
        grant(s, who, hub.find(s, who, rid), user)


# ---- export / import (hub/backup.py) ---------------------------------------------------------------------
def export_rows(s: Session, repo: Repo) -> list[dict[str, Any]]:
    """The repo's requests as the export carries them (users by name)."""
    rows = s.execute(
        select(AccessRequest, Account.name)
        .join(Account, Account.id == AccessRequest.user_id)
        .where(AccessRequest.repo_id == repo.id)
        .order_by(AccessRequest.id)
    ).all()
    return [
        {
            "user": name,
            "status": r.status,
            "fields": r.fields,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
        }
        for r, name in rows
    ]


def import_row(s: Session, repo: Repo, user: Account, row: dict[str, Any]) -> None:
    """One exported request into an imported repo (`row` as `export_rows` wrote it)."""
    status = row.get("status") if row.get("status") in STATUSES else "pending"
    fields = row.get("fields") if isinstance(row.get("fields"), dict) else None
    created = _when(row.get("created_at")) or utcnow()
    s.add(
        AccessRequest(
            repo_id=repo.id,
            user_id=user.id,
            status=status,
            fields=fields,
            reason=row.get("reason") if isinstance(row.get("reason"), str) else None,
            created_at=created,
            updated_at=_when(row.get("updated_at")) or created,
        )
    )


def _when(v: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        return None
