"""Files and versions: tree, file view, history, commit diffs, revert, raw."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...errors import BadRequest
from ...hub import browse as hub_browse
from ...hub import commits as hub_commits
from . import render
from .base import Web, page_param, rid_of

if TYPE_CHECKING:
    from ...storage.gitstore import FileDiff

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp")


async def tree(
    web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None = None
) -> Response:
    who = await web.who(request)
    path = (path or "").strip("/")
    t = await web.run(hub_browse.tree, web.hub, who, rid_of(p, ns, name), rev, path)
    return await web.page(request, "tree.html", tab="files", dir=path, **vars(t))


def file_view(f: hub_browse.File, path: str) -> dict[str, Any]:
    """How the file page shows a file: an image, highlighted code (JSON pretty-printed), rendered Markdown
    (with its source), or a binary file's summary; a .safetensors file's header summary too."""
    lower = path.lower()
    view: dict[str, Any] = {"kind": "binary"}
    if lower.endswith(IMAGE_EXT):
        view = {"kind": "image"}
    elif f.text is not None and lower.endswith(".json"):
        view = {"kind": "code", "html": render.code(render.pretty_json(f.text) or f.text, "x.json")}
    elif f.text is not None and lower.endswith(".md"):
        yaml = front_matter(f.text)
        view = {
            "kind": "markdown",
            "yaml": render.code(yaml, "x.yaml") if yaml is not None else None,
            "html": render.markdown(f.text, f"/{f.rid.web_path}/resolve/{quote(f.sha)}"),
            "source": render.code(f.text, "x.md"),
        }
    elif f.text is not None:
        view = {"kind": "code", "html": render.code(f.text, path)}
    if lower.endswith(".safetensors"):
        view["safetensors"] = f.safetensors
    return view


def front_matter(text: str) -> str | None:
    """A Markdown file's YAML block (between its first two `---` lines), as written: the rendered card hides
    it, so the file view shows it above the card as the Hub does (None: no closed block at the top)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    return None if end is None else "\n".join(lines[1:end])


async def blob(
    web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str
) -> Response:
    who = await web.who(request)
    want_text = not path.lower().endswith(IMAGE_EXT)
    f = await web.run(hub_browse.file, web.hub, who, rid_of(p, ns, name), rev, path, want_text)
    view = await web.run(file_view, f, path)
    return await web.page(request, "blob.html", tab="files", view=view, file_path=path, **vars(f))


async def raw(web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str) -> Response:
    # from the id's web path: a canonical repo's internal `//gpt2/...` would be a protocol-relative URL
    where = rid_of(p, ns, name).web_path
    return RedirectResponse(f"/{where}/resolve/{quote(rev, safe='')}/{quote(path)}", status_code=302)


async def commits(
    web: Web, request: Request, p: str | None, ns: str, name: str, rev: str, path: str | None = None
) -> Response:
    who = await web.who(request)
    page = page_param(request, 0)
    h = await web.run(hub_browse.history, web.hub, who, rid_of(p, ns, name), rev, page, path)
    return await web.page(request, "commits.html", tab="files", page=page, file_path=path, **vars(h))


def rendered(diffs: list[FileDiff]) -> list[tuple[FileDiff, str]]:
    """Each file's diff with its patch highlighted (no patch: a binary or too large a change)."""
    return [(d, render.code(d.patch, "x.diff") if d.patch else "") for d in diffs]


async def commit(web: Web, request: Request, p: str | None, ns: str, name: str, sha: str) -> Response:
    who = await web.who(request)
    c = await web.run(hub_browse.commit, web.hub, who, rid_of(p, ns, name), sha)
    diffs = await web.run(rendered, c.diffs)
    return await web.page(request, "commit.html", tab="files", **{**vars(c), "diffs": diffs})


async def revert(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    who = await web.require_user(request)
    form = await web.form(request)
    target = form.get("target", "")
    branch = form.get("branch") or "main"
    if not target:
        raise BadRequest("Which version? (target is missing)")
    new = (await web.run(hub_commits.revert_to, web.hub, who, rid_of(p, ns, name), branch, target)).oid
    return web.redirect(f"/{rid_of(p, ns, name).web_path}/commit/{new}")
