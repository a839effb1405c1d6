"""The card editor (`/{repo}/edit-card/{rev}`): README.md as text with a live preview, and a form for the
common metadata fields that rewrites its YAML front matter (hub/cardedit.py). `POST /{repo}/card-preview`
answers one round of the editor as JSON (the text, the form's values, the problems by field, the preview's
sanitized HTML); the editor's own POST commits through the same commit service as every web write, directly
or as a pull request, and refuses, showing the same problems, what the commit would refuse."""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ...hub import cardedit, commits, contributions
from ...hub import taxonomy as tx
from ...ids import HEX40, RepoId
from ...storage.gitstore import GitRepo
from .. import wire
from . import render
from .base import Web, rid_of
from .edit import done_url, require_writer

README = "README.md"
LABELS = {
    "license": "License",
    "language": "Languages",
    "tags": "Tags",
    "datasets": "Datasets",
    "pipeline_tag": "Task (pipeline_tag)",
    "base_model": "Base model",
    "library_name": "Library",
    "widget": "Widget examples",
    "task_categories": "Task categories",
    "pretty_name": "Pretty name",
    "models": "Models",
}
HINTS = {
    "language": "Names or codes, comma-separated: Spanish, vi",
    "tags": "Comma-separated",
    "datasets": "Dataset ids, comma-separated: namespace/name",
    "base_model": "A model id: namespace/name",
    "widget": "One example text per line",
    "task_categories": "Comma-separated tasks: text-classification",
    "models": "Model ids, comma-separated",
}


def card_text(git: GitRepo, rev: str) -> tuple[str, str]:
    """(README.md at `rev`, "" when there is none yet; the commit `rev` is at)."""
    sha = git.resolve(rev)
    e = git.entry(sha, README)
    if e is None or e.lfs is not None or e.size > commits.README_MAX:
        return "", sha  # none, or not a card the editor can open: it starts a new one
    return git.blob(e.oid).decode("utf-8", "replace"), sha


def read_round(form: dict[str, str], repo_type: str) -> cardedit.Edit:
    """One round of the editor from its form: the text, the fields, and the values they started from."""
    try:
        base = json.loads(form.get("base") or "{}")
    except ValueError:
        base = {}
    if not isinstance(base, dict):
        base = {}
    base = {str(k): str(v) for k, v in base.items()}
    given = {k: form[k] for k in cardedit.FIELDS.get(repo_type, ()) if k in form}
    return cardedit.edit(form.get("content", ""), repo_type, given, base)


def notes(state: cardedit.Edit) -> dict[str, str]:
    """What the form says under a field about its value: the languages' names."""
    return {"language": cardedit.language_names(state.base.get("language", ""))}


def preview_html(rid: RepoId, rev: str, body: str) -> str:
    return render.markdown(body, f"/{rid.web_path}/resolve/{quote(rev, safe='')}")


async def editor(web: Web, request: Request, p: str | None, ns: str, name: str, rev: str) -> Response:
    rid = rid_of(p, ns, name)
    if request.method != "GET":
        return await save(web, request, rid, rev)
    who = await require_writer(web, request, rid)
    # The card at `rev`: a gated repo's PR's README.md is behind its gate (gating.is_card)
    repo, can_write = await web.run(contributions.open_editor, web.hub, who, rid, "README.md", rev)
    empty = repo.head_sha is None and rev == "main"  # a new repo: its first card
    text, sha = ("", None) if empty else await web.run(card_text, web.hub.git(repo), rev)
    state = cardedit.edit(text, rid.type, {}, {})
    return await show(web, request, rid, rev, repo, can_write, state, "", 200, parent=sha)


async def show(
    web: Web,
    request: Request,
    rid: RepoId,
    rev: str,
    repo: Any,
    can_write: bool,
    state: cardedit.Edit,
    message: str,
    status: int,
    **more: Any,
) -> Response:
    return await web.page(
        request,
        "card_edit.html",
        status=status,
        tab="card",
        rid=rid,
        rev=rev,
        repo=repo,
        can_write=can_write,
        state=state,
        base_json=json.dumps(state.base),
        notes=notes(state),
        fields=cardedit.FIELDS.get(rid.type, ()),
        labels=LABELS,
        hints=HINTS,
        tasks=tx.TASKS,
        licenses=sorted(tx.LICENSES),
        libraries=tx.LIBRARIES,
        preview=preview_html(rid, rev, state.body),
        message=message,
        **more,
    )


async def save(web: Web, request: Request, rid: RepoId, rev: str) -> Response:
    """Commit the edited card (directly or as a pull request), unless it has problems: then the editor
    again, with them shown by their fields, and nothing committed."""
    who = await web.require_user(request)
    repo, can_write = await web.run(contributions.open_editor, web.hub, who, rid)
    form = await web.form(request, web.ctx.settings.max_edit_form_bytes)
    state = await web.run(read_round, form, rid.type)
    message = form.get("message", "").strip()
    parent = form.get("parent") if HEX40.fullmatch(form.get("parent") or "") else None
    if not state.ok:
        return await show(web, request, rid, rev, repo, can_write, state, message, 400, parent=parent)
    call = functools.partial(
        commits.create_commit,
        revision=rev,
        summary=message or f"Update {README}",
        description=form.get("description", ""),
        parent_commit=parent,  # the commit the editor opened: a branch that moved since is not overwritten
        create_pr=form.get("target") == "pr" or not can_write,
    )
    result = await web.run(call, web.hub, who, rid, [commits.CommitOperationAdd(README, state.text.encode())])
    return web.redirect(done_url(rid, result, f"/{rid.web_path}"))


async def preview(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """One round of the editor, as JSON: {content, base, fields, errors, ok, html}. For those who may open
    the editor (writers, and contributors of a public repo); the body is bounded like the editor's form."""
    rid = rid_of(p, ns, name)
    who = await web.require_user(request)
    await web.run(contributions.open_repo, web.hub, who, rid)
    form = await web.form(request, web.ctx.settings.max_edit_form_bytes)
    state = await web.run(read_round, form, rid.type)
    rev = form.get("rev") or "main"
    html = await web.run(preview_html, rid, rev, state.body)
    return wire.json_response(
        {
            "content": state.text,
            "base": state.base,
            "fields": state.fields,
            "errors": state.errors,
            "ok": state.ok,
            "notes": notes(state),
            "html": html,
        }
    )
