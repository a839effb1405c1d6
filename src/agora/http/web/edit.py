"""Writing from the browser: upload (streamed into the blob store, then one commit), edit, create, delete
files; repo settings; likes. Every write is a real git commit through the same domain calls as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ...db.models import Repo
from ...errors import BadRequest
from ...hub import index
from ...ids import RepoId, check_path
from .. import wire
from ..bodies import check_length, read_json, too_large
from .base import ID, LoginRequired, P, Web, repo_path, rid_of


def mount(router: Any, web: Web) -> None:
    hub = web.hub

    def load(who: Any, rid: RepoId, write: bool = True) -> Repo:
        with hub.db.session() as s:
            return hub.find(s, who, rid, write=write)

    async def require_writer(request: Request, rid: RepoId) -> Any:
        """Anonymous visitors get a repo's 404 if they may not see it, not a log-in page confirming it exists."""
        who = await web.who(request)
        if who is None:
            await web.run(load, None, rid, False)
            raise LoginRequired()
        return who

    async def upload_page(request: Request, p: str | None, ns: str, name: str, rev: str) -> Response:
        who = await require_writer(request, rid_of(p, ns, name))
        repo = await web.run(load, who, rid_of(p, ns, name))
        return await web.page(
            request, "upload.html", tab="files", repo=repo, rev=rev, rid=rid_of(p, ns, name), can_write=True
        )

    async def upload_blob(request: Request, p: str | None, ns: str, name: str) -> Response:
        """One file's bytes, streamed to the blob store while hashing: memory stays flat at any size."""
        who = await web.require_user(request)
        web.check_csrf_header(request)
        await web.run(load, who, rid_of(p, ns, name))
        limit = web.ctx.settings.max_object_size
        check_length(request, limit, "File")
        up = hub.blobs.new_upload()
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

    async def upload_commit(request: Request, p: str | None, ns: str, name: str, rev: str) -> Response:
        who = await web.require_user(request)
        web.check_csrf_header(request)
        await web.run(load, who, rid_of(p, ns, name))  # may write here, before the body is read
        # The files themselves were streamed to the blob store by upload_blob: this body only names them.
        body = await read_json(request, web.ctx.settings.max_json_bytes, what="Upload request")
        files = body.get("files")
        if not isinstance(files, list) or not files:
            raise BadRequest("Add at least one file")
        for f in files:
            if (
                not isinstance(f, dict)
                or not isinstance(f.get("path"), str)
                or not isinstance(f.get("oid"), str)
            ):
                raise BadRequest("Each file needs path and oid")
            check_path(f["path"])
            # Only blobs this browser staged may be committed (the signature binds the oid).
            if not web.ctx.signer.check(f.get("exp"), f.get("token"), "staged", f["oid"]):
                raise BadRequest(f"Upload of {f['path']} expired: upload it again")
        message = (
            body.get("message") or ""
        ).strip() or f"Upload {len(files)} file{'s' if len(files) > 1 else ''}"

        def do() -> str:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_of(p, ns, name), write=True)
                pc = hub.begin_commit(repo)
                for f in files:
                    size = hub.blobs.size(f["oid"])
                    if size is None:
                        raise BadRequest(f"Upload of {f['path']} is missing: upload it again")
                    hub.add_staged_file(s, pc, f["path"], f["oid"], size, rev)
                return hub.finish_commit(s, who, pc, rev, message, body.get("description") or "").oid

        oid = await web.run(do)
        prefix = f"/{p}" if p else ""
        return wire.json_response({"commit": oid, "url": f"{prefix}/{ns}/{name}/commit/{oid}"})

    async def edit(
        request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None = None
    ) -> Response:
        rid = rid_of(p, ns, name)
        who = await (require_writer(request, rid) if request.method == "GET" else web.require_user(request))
        creating = path is None
        if request.method == "GET":

            def get() -> dict[str, Any]:
                repo = load(who, rid)
                git = hub.git(repo)
                content = ""
                if not creating:
                    e = git.entry(git.resolve(rev), path or "")
                    if e is None or e.lfs is not None or e.size > 2 * 1024 * 1024:
                        raise BadRequest("Only text files up to 2 MB can be edited in the browser")
                    content = git.blob(e.oid).decode("utf-8", "replace")
                return {"repo": repo, "content": content}

            data = await web.run(get)
            return await web.page(
                request,
                "edit.html",
                tab="files",
                rid=rid,
                rev=rev,
                file_path=path or "",
                creating=creating,
                can_write=True,
                **data,
            )
        form = await web.form(request, web.ctx.settings.max_edit_form_bytes)
        new_path = (form.get("path") or path or "").strip()
        check_path(new_path)
        content = form.get("content", "").replace("\r\n", "\n")
        message = form.get("message", "").strip() or (
            f"Create {new_path}" if creating else f"Update {new_path}"
        )

        def post() -> str:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid, write=True)
                pc = hub.begin_commit(repo)
                hub.add_file(pc, new_path, content.encode())
                if not creating and path and new_path != path:
                    hub.delete_file(pc, path)
                return hub.finish_commit(s, who, pc, rev, message, form.get("description", "")).oid

        await web.run(post)
        prefix = f"/{p}" if p else ""
        return web.redirect(f"{prefix}/{ns}/{name}/blob/{quote(rev, safe='')}/{quote(new_path)}")

    async def delete_file(
        request: Request, p: str | None, ns: str, name: str, rev: str, path: str
    ) -> Response:
        who = await web.require_user(request)
        form = await web.form(request)

        def do() -> None:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_of(p, ns, name), write=True)
                pc = hub.begin_commit(repo)
                hub.delete_file(pc, path)
                hub.finish_commit(s, who, pc, rev, form.get("message") or f"Delete {path}")

        await web.run(do)
        prefix = f"/{p}" if p else ""
        return web.redirect(f"{prefix}/{ns}/{name}/tree/{quote(rev, safe='')}")

    async def settings(request: Request, p: str | None, ns: str, name: str) -> Response:
        rid = rid_of(p, ns, name)
        who = await (require_writer(request, rid) if request.method == "GET" else web.require_user(request))
        if request.method == "GET":

            def load_admin() -> Repo:
                with hub.db.session() as s:  # settings are for the namespace's admins (hub.find_admin)
                    return hub.find_admin(s, who, rid, f"change the settings of {rid.full}")

            repo = await web.run(load_admin)
            return await web.page(
                request, "settings.html", tab="settings", repo=repo, rid=rid, can_write=True
            )
        form = await web.form(request)
        action = form.get("action")

        def do() -> str:
            with hub.db.session() as s:
                if action == "visibility":
                    repo = hub.update_settings(s, who, rid, form.get("visibility") == "private", None)
                elif action == "gated":
                    repo = hub.update_settings(s, who, rid, None, form.get("gated") or False)
                elif action == "move":
                    target = RepoId.parse(rid.type, form.get("to", ""))
                    repo = hub.move(s, who, rid, target)
                elif action == "delete":
                    if form.get("confirm") != rid.full:
                        raise BadRequest(f"Type {rid.full} to confirm the deletion")
                    hub.delete(s, who, rid)
                    return f"/{who.name}"
                else:
                    raise BadRequest("Unknown settings action")
                return repo_path(repo) + "/settings"

        return web.redirect(await web.run(do))

    async def like(request: Request, p: str | None, ns: str, name: str) -> Response:
        who = await web.require_user(request)
        form = await web.form(request)

        def do() -> Repo:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid_of(p, ns, name))
                liked = index.likes(s, who.user_id, repo)
                index.set_like(
                    s, who, repo, not liked if form.get("like") is None else form.get("like") == "1"
                )
                return repo

        repo = await web.run(do)
        if request.headers.get("hx-request"):
            liked = form.get("like") != "0"
            return await web.page(request, "_like.html", repo=repo, liked=liked)
        return web.redirect(repo_path(repo))

    router.add("GET", f"/{P}{ID}/upload/(?P<rev>[^/]+)", upload_page)
    router.add("PUT", f"/{P}{ID}/upload-blob", upload_blob)
    router.add("POST", f"/{P}{ID}/upload/(?P<rev>[^/]+)", upload_commit)
    router.add("GET POST", f"/{P}{ID}/edit/(?P<rev>[^/]+)/(?P<path>.+)", edit)
    router.add("GET POST", f"/{P}{ID}/new/(?P<rev>[^/]+)", edit)
    router.add("POST", f"/{P}{ID}/delete/(?P<rev>[^/]+)/(?P<path>.+)", delete_file)
    router.add("GET POST", f"/{P}{ID}/settings", settings)
    router.add("POST", f"/{P}{ID}/like", like)
