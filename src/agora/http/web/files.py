"""Files and versions: tree, file view, history, commit diffs, revert, raw."""

from __future__ import annotations

import json
import struct
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import BadRequest, EntryNotFound
from ...hub import accounts
from ...hub import commits as hub_commits
from ...ids import RepoId
from ...storage.gitstore import diff_commit
from . import render
from .base import ID, P, Web, rid_of

TEXT_MAX = 1024 * 1024
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp")


def mount(router: Any, web: Web) -> None:
    hub = web.hub

    def common(s: Any, who: Any, rid: RepoId, rev: str) -> dict[str, Any]:
        repo = hub.find(s, who, rid)
        git = hub.git(repo)
        sha = git.resolve(rev)
        return {
            "repo": repo,
            "git": git,
            "sha": sha,
            "rev": rev,
            "rid": rid,
            "branches": [r.name for r in git.refs("refs/heads/")],
            "tags_refs": [r.name for r in git.refs("refs/tags/")],
            "can_write": accounts.can_write(s, who, repo),
        }

    async def tree(
        request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None = None
    ) -> Response:
        who = await web.who(request)
        path = (path or "").strip("/")

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                c = common(s, who, rid_of(p, ns, name), rev)
            git = c.pop("git")
            entries = git.list_tree(c["sha"], path)
            entries.sort(key=lambda e: (e.type != "directory", e.path.lower()))
            last = git.last_commits(c["sha"], [e.path for e in entries]) if len(entries) <= 300 else {}
            head = git.log(c["sha"], limit=1)[0]
            return {
                **c,
                "entries": entries,
                "last": last,
                "dir": path,
                "head": head,
                "commit_count": git.count(c["sha"]),
            }

        return await web.page(request, "tree.html", tab="files", **await web.run(do))

    async def blob(request: Request, p: str | None, ns: str, name: str, rev: str, path: str) -> Response:
        who = await web.who(request)

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                c = common(s, who, rid_of(p, ns, name), rev)
            git = c.pop("git")
            e = git.entry(c["sha"], path)
            if e is None or e.type != "file":
                raise EntryNotFound(f"{path} does not exist at {rev}")
            view: dict[str, Any] = {"kind": "binary"}
            lower = path.lower()
            if lower.endswith(IMAGE_EXT):
                view = {"kind": "image"}
            elif e.lfs is None and e.size <= TEXT_MAX:
                raw = git.blob(e.oid)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                if text is not None:
                    if lower.endswith(".json"):
                        pretty = render.pretty_json(text)
                        view = {"kind": "code", "html": render.code(pretty or text, "x.json")}
                    elif lower.endswith(".md"):
                        view = {
                            "kind": "markdown",
                            "html": render.markdown(text, f"/{c['rid'].web_path}/resolve/{quote(c['sha'])}"),
                            "source": render.code(text, "x.md"),
                        }
                    else:
                        view = {"kind": "code", "html": render.code(text, path)}
            if lower.endswith(".safetensors"):
                view["safetensors"] = safetensors_summary(hub, c["repo"], e)
            last = git.last_commits(c["sha"], [path]).get(path)
            return {**c, "entry": e, "view": view, "file_path": path, "last": last}

        return await web.page(request, "blob.html", tab="files", **await web.run(do))

    async def raw(request: Request, p: str | None, ns: str, name: str, rev: str, path: str) -> Response:
        prefix = f"/{p}" if p else ""
        return RedirectResponse(
            f"{prefix}/{ns}/{name}/resolve/{quote(rev, safe='')}/{quote(path)}", status_code=302
        )

    async def commits(
        request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None = None
    ) -> Response:
        who = await web.who(request)
        try:
            page = max(0, int(request.query_params.get("p") or 0))
        except ValueError:
            page = 0

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                c = common(s, who, rid_of(p, ns, name), rev)
            git = c.pop("git")
            log = git.log(c["sha"], skip=page * 50, limit=51, path=path or None)
            return {**c, "commits": log[:50], "more": len(log) > 50, "page": page, "file_path": path}

        return await web.page(request, "commits.html", tab="files", **await web.run(do))

    async def commit(request: Request, p: str | None, ns: str, name: str, sha: str) -> Response:
        who = await web.who(request)

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                c = common(s, who, rid_of(p, ns, name), sha)
            git = c.pop("git")
            info = git.log(c["sha"], limit=1)[0]
            diffs = diff_commit(git, c["sha"])
            rendered = [(d, render.code(d.patch, "x.diff") if d.patch else "") for d in diffs]
            return {**c, "commit": info, "diffs": rendered}

        return await web.page(request, "commit.html", tab="files", **await web.run(do))

    async def revert(request: Request, p: str | None, ns: str, name: str) -> Response:
        who = await web.require_user(request)
        form = await web.form(request)
        target = form.get("target", "")
        branch = form.get("branch") or "main"
        if not target:
            raise BadRequest("Which version? (target is missing)")

        new = (await web.run(hub_commits.revert_to, hub, who, rid_of(p, ns, name), branch, target)).oid
        prefix = f"/{p}" if p else ""
        return web.redirect(f"{prefix}/{ns}/{name}/commit/{new}")

    router.add("GET", f"/{P}{ID}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", tree)
    router.add("GET", f"/{P}{ID}/blob/(?P<rev>[^/]+)/(?P<path>.+)", blob)
    router.add("GET", f"/{P}{ID}/raw/(?P<rev>[^/]+)/(?P<path>.+)", raw)
    router.add("GET", f"/{P}{ID}/commits/(?P<rev>[^/]+)(?:/(?P<path>.+))?", commits)
    router.add("GET", f"/{P}{ID}/commit/(?P<sha>[0-9a-f]{{40}})", commit)
    router.add("POST", f"/{P}{ID}/revert", revert)


def safetensors_summary(hub: Any, repo: Any, e: Any) -> dict[str, Any] | None:
    try:
        (n,) = struct.unpack("<Q", hub.read_range(repo, e, 0, 8))
        if n > 32 * 1024 * 1024:
            return None
        header = json.loads(hub.read_range(repo, e, 8, n))
    except (ValueError, OSError, struct.error):
        return None
    tensors = [
        (k, v.get("dtype"), v.get("shape"))
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict)
    ]
    total = 0
    for _, _, shape in tensors:
        count = 1
        for x in shape or []:
            count *= x
        total += count
    return {
        "tensors": tensors[:200],
        "count": len(tensors),
        "params": total,
        "metadata": header.get("__metadata__"),
    }
