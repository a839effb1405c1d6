"""Writing from the browser: upload (streamed into the blob store, then one commit), edit, create, delete
files; repo settings; likes. Every write is a real git commit through the same domain calls as the API
(hub/commits.create_commit)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ... import spacehost
from ...errors import BadRequest
from ...hub import commits, contributions, gating, index, spaces
from ...hub.accounts import Principal
from ...hub.repos import Repo
from ...ids import RepoId, check_path
from ...storage.gitstore import GitRepo
from .. import wire
from ..bodies import check_length, read_json, too_large
from .base import LoginRequired, Web, repo_path, rid_of


async def require_writer(web: Web, request: Request, rid: RepoId) -> Principal:
    """Anonymous visitors get a repo's 404 if they may not see it, not a log-in page confirming it exists."""
    who = await web.who(request)
    if who is None:
        await web.repo(request, rid)
        raise LoginRequired()
    return who


async def upload_page(web: Web, request: Request, p: str | None, ns: str, name: str, rev: str) -> Response:
    who = await require_writer(web, request, rid_of(p, ns, name))
    # Writers commit to `rev` or open a PR; on a public repo anyone else may open a PR (hub/contributions).
    repo, can_write = await web.run(contributions.open_editor, web.hub, who, rid_of(p, ns, name))
    return await web.page(
        request, "upload.html", tab="files", repo=repo, rev=rev, rid=rid_of(p, ns, name), can_write=can_write
    )


async def upload_blob(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """One file's bytes, streamed to the blob store while hashing: memory stays flat at any size."""
    await web.require_user(request)
    web.check_csrf_header(request)
    await web.run(contributions.open_repo, web.hub, await web.who(request), rid_of(p, ns, name))
    limit = web.ctx.settings.max_object_size
    check_length(request, limit, "File")
    web.ctx.check_room(request)
    up = web.hub.blobs.new_upload()
    received = 0

    def write(data: bytes) -> None:
        nonlocal received
        received += len(data)
        if received > limit:
            raise too_large(limit, "File")
        up.write(data)

    try:
        await web.ctx.pump(request, write)
        oid, size = await web.run(up.finish_as_hashed)
    except BaseException:
        up.abort()
        raise
    exp, sig = web.ctx.signer.sign("staged", oid, ttl=6 * 3600)
    return wire.json_response({"oid": oid, "size": size, "token": sig, "exp": exp})


async def commit(
    web: Web,
    who: Principal,
    rid: RepoId,
    rev: str,
    ops: Iterable[commits.Operation],
    summary: str,
    description: str = "",
    create_pr: bool = False,
) -> commits.CommitResult:
    """One commit of the browser's user on `rev`, or on a new pull request (hub/commits.create_commit checks
    they may)."""
    call = functools.partial(
        commits.create_commit, revision=rev, summary=summary, description=description, create_pr=create_pr
    )
    return await web.run(call, web.hub, who, rid, ops)


def done_url(rid: RepoId, result: commits.CommitResult, then: str) -> str:
    """Where a web commit leads: its pull request's page when it opened one, else `then`."""
    if result.pr_num is not None:
        return f"/{rid.web_path}/discussions/{result.pr_num}"
    return then


def staged_files(web: Web, body: dict[str, Any]) -> list[commits.Operation]:
    """The files of an upload commit: blobs this browser staged (upload_blob), each named by a signed oid."""
    files = body.get("files")
    if not isinstance(files, list) or not files:
        raise BadRequest("Add at least one file")
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("path"), str) or not isinstance(f.get("oid"), str):
            raise BadRequest("Each file needs path and oid")
        check_path(f["path"])
        # Only blobs this browser staged may be committed (the signature binds the oid).
        if not web.ctx.signer.check(f.get("exp"), f.get("token"), "staged", f["oid"]):
            raise BadRequest(f"Upload of {f['path']} expired: upload it again")
    return [commits.CommitOperationStagedAdd(f["path"], f["oid"]) for f in files]


async def upload_commit(web: Web, request: Request, p: str | None, ns: str, name: str, rev: str) -> Response:
    who = await web.require_user(request)
    web.check_csrf_header(request)
    rid = rid_of(p, ns, name)
    await web.run(contributions.open_repo, web.hub, who, rid)  # may write here, before the body is read
    # The files themselves were streamed to the blob store by upload_blob: this body only names them.
    body = await read_json(request, web.ctx.settings.max_json_bytes, what="Upload request")
    ops = staged_files(web, body)
    message = (body.get("message") or "").strip() or f"Upload {len(ops)} file{'s' if len(ops) > 1 else ''}"
    as_pr = body.get("pr") is True
    result = await commit(web, who, rid, rev, ops, message, body.get("description") or "", as_pr)
    url = done_url(rid, result, f"/{rid.web_path}/commit/{result.oid}")
    return wire.json_response({"commit": result.oid, "url": url})


def editable_text(git: GitRepo, rev: str, path: str | None) -> str:
    """The text the editor opens with: the file at `rev` (None: a new file, empty)."""
    if path is None:
        return ""
    e = git.entry(git.resolve(rev), path)
    if e is None or e.lfs is not None or e.size > 2 * 1024 * 1024:
        raise BadRequest("Only text files up to 2 MB can be edited in the browser")
    return git.blob(e.oid).decode("utf-8", "replace")


async def edit(
    web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None = None
) -> Response:
    rid = rid_of(p, ns, name)
    if request.method != "GET":
        return await save_edit(web, request, p, ns, name, rev, path)
    who = await require_writer(web, request, rid)
    repo, can_write = await web.run(contributions.open_editor, web.hub, who, rid, path, rev)  # past the gate
    content = await web.run(editable_text, web.hub.git(repo), rev, path)
    return await web.page(
        request,
        "edit.html",
        tab="files",
        rid=rid,
        rev=rev,
        file_path=path or "",
        creating=path is None,
        can_write=can_write,
        repo=repo,
        content=content,
    )


async def save_edit(
    web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None
) -> Response:
    """The editor's form: one commit writing the file (and deleting the old path when it was renamed)."""
    who = await web.require_user(request)
    form = await web.form(request, web.ctx.settings.max_edit_form_bytes)
    new_path = (form.get("path") or path or "").strip()
    check_path(new_path)
    content = form.get("content", "").replace("\r\n", "\n")
    message = form.get("message", "").strip() or (
        f"Create {new_path}" if path is None else f"Update {new_path}"
    )
    ops: Iterable[commits.Operation] = [commits.CommitOperationAdd(new_path, content.encode())]
    if path and new_path != path:
        ops = itertools.chain(ops, deleted(path))
    rid = rid_of(p, ns, name)
    as_pr = form.get("target") == "pr"  # "Open as a pull request": a new refs/pr/N and its discussion
    result = await commit(web, who, rid, rev, ops, message, form.get("description", ""), as_pr)
    then = f"/{rid.web_path}/blob/{quote(rev, safe='')}/{quote(new_path)}"
    return web.redirect(done_url(rid, result, then))


def deleted(path: str) -> Iterator[commits.Operation]:
    """A file's deletion, made (and its path checked) as create_commit reads its operations: once the repo
    is known to be writable."""
    yield commits.CommitOperationDelete(check_path(path))


async def delete_file(
    web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str
) -> Response:
    who = await web.require_user(request)
    form = await web.form(request)
    await commit(web, who, rid_of(p, ns, name), rev, deleted(path), form.get("message") or f"Delete {path}")
    return web.redirect(f"/{rid_of(p, ns, name).web_path}/tree/{quote(rev, safe='')}")


async def settings(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    rid = rid_of(p, ns, name)
    if request.method == "GET":
        who = await require_writer(web, request, rid)
        # Settings are for the namespace's admins (Hub.find_admin).
        repo = await web.run(web.hub.admin_repo, who, rid)
        extra = await web.run(space_settings, web, who, repo) if rid.type == "space" else {}
        if repo.gated:  # the "Gated users" section: its requests by status
            extra["access"] = await web.run(access_lists, web, who, rid)
        return await web.page(
            request, "settings.html", tab="settings", repo=repo, rid=rid, can_write=True, **extra
        )
    who = await web.require_user(request)
    form = await web.form(request)
    return web.redirect(await web.run(apply_settings, web, who, rid, form))


def apply_settings(web: Web, who: Principal, rid: RepoId, form: dict[str, str]) -> str:
    """One action of the Settings page; where to go next."""
    action = form.get("action") or ""
    if action.startswith("space-") and rid.type == "space":
        apply_space_action(web, who, rid, action, form)
        return f"/{rid.web_path}/settings"
    if action == "visibility":
        repo = web.hub.change_settings(who, rid, form.get("visibility") == "private", None)
    elif action == "gated":
        repo = web.hub.change_settings(who, rid, None, form.get("gated") or False)
    elif action == "move":
        repo = web.hub.move_repo(who, rid, RepoId.parse(rid.type, form.get("to", "")))
    elif action == "delete":
        if form.get("confirm") != rid.full:
            raise BadRequest(f"Type {rid.full} to confirm the deletion")
        web.hub.delete_repo(who, rid)
        return f"/{who.name}"
    else:
        raise BadRequest("Unknown settings action")
    return repo_path(repo) + "/settings"


def access_lists(web: Web, who: Principal, rid: RepoId) -> dict[str, list[gating.Listed]]:
    return {st: gating.requests_of(web.hub, who, rid, st) for st in gating.STATUSES}


async def gated_users(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """`/{repo}/gated-users`: a gated repo's access requests for every writer of the repo (Settings, where
    the same section shows, is for its admins); POST: one action, then this page again."""
    rid = rid_of(p, ns, name)
    if request.method == "GET":
        who = await require_writer(web, request, rid)
        repo = await web.repo(request, rid, write=True)
        access = await web.run(access_lists, web, who, rid)
        return await web.page(
            request, "gated_users.html", tab="settings", repo=repo, rid=rid, can_write=True, access=access
        )
    who = await web.require_user(request)
    form = await web.form(request)
    await web.run(apply_access_action, web, who, rid, form.get("action") or "", form)
    return web.redirect(f"/{rid.web_path}/gated-users")


ACCESS_ACTIONS = {"access-accept": "accepted", "access-reject": "rejected", "access-cancel": "pending"}


def apply_access_action(web: Web, who: Principal, rid: RepoId, action: str, form: dict[str, str]) -> None:
    """A "Gated users" action: accept, reject (with a reason) or cancel a request, or grant a user access."""
    if action == "access-grant":
        gating.give(web.hub, who, rid, form.get("user", "").strip())
    elif action in ACCESS_ACTIONS:
        status = ACCESS_ACTIONS[action]
        reason = (form.get("reason") or "").strip() or None if status == "rejected" else None
        gating.decide(web.hub, who, rid, form.get("user") or None, None, status, reason)
    else:
        raise BadRequest("Unknown settings action")


def space_settings(web: Web, who: Principal, repo: Repo) -> dict[str, Any]:
    """A Space's part of its Settings page: its stage, sleep time, variables and secrets (keys only)."""
    rid = RepoId("space", repo.namespace, repo.name)
    return {
        "space": spaces.runtime(web.hub, repo, repo.head_sha),
        "space_vars": spaces.variables(web.hub, who, rid, False),
        "space_secrets": spaces.variables(web.hub, who, rid, True),
        "sleep_choices": SLEEP_CHOICES,
    }


SLEEP_CHOICES = ((-1, "Never"), (900, "15 minutes"), (3600, "1 hour"), (86400, "1 day"), (172800, "48 hours"))


def apply_space_action(web: Web, who: Principal, rid: RepoId, action: str, form: dict[str, str]) -> None:
    """A Space action of the Settings page: restart, pause, sleep time, a variable or a secret."""
    secret = "secret" in action
    if action == "space-restart":
        spaces.restart(web.hub, who, rid)
        repo = web.hub.open_repo(who, rid, True)
        if spacehost.repo_sdk(repo) in ("gradio", "streamlit"):
            spacehost.of(web.hub, web.ctx.settings).restart(repo.id)
    elif action == "space-pause":
        spaces.pause(web.hub, who, rid)
    elif action == "space-sleep":
        try:
            seconds = int(form.get("seconds", ""))
        except ValueError:
            raise BadRequest("Choose a sleep time") from None
        spaces.set_sleep_time(web.hub, who, rid, seconds)
    elif action in ("space-variable-add", "space-secret-add"):
        value = form.get("value", "")
        spaces.put_variable(
            web.hub, who, rid, secret, form.get("key", "").strip(), value, form.get("description") or None
        )
    elif action in ("space-variable-delete", "space-secret-delete"):
        spaces.delete_variable(web.hub, who, rid, secret, form.get("key", ""))
    else:
        raise BadRequest("Unknown settings action")


async def like(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    who = await web.require_user(request)
    form = await web.form(request)
    liked = None if form.get("like") is None else form.get("like") == "1"
    repo = await web.run(index.toggle_like, web.hub, who, rid_of(p, ns, name), liked)
    if request.headers.get("hx-request"):
        return await web.page(request, "_like.html", repo=repo, liked=form.get("like") != "0")
    return web.redirect(repo_path(repo))
