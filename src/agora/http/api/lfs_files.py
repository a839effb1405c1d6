"""The Hub's `/lfs-files` API: list a repo's LFS files, delete them for good, share them with another repo."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest
from ...hub import lfs_files
from ...ids import RepoId
from .. import wire
from ..context import Ctx
from .common import json_body, rid_api

TYPES = ("model", "dataset", "space")


def _target(body: dict[str, Any]) -> RepoId:
    target = body.get("target")
    if not isinstance(target, dict) or not isinstance(target.get("name"), str):
        raise BadRequest('\'target\' must be {"type", "name"}: the repo the files are copied to')
    rtype = target.get("type") or "model"
    if rtype not in TYPES or not target["name"] or target["name"].count("/") > 1:
        raise BadRequest(f"Invalid target {target!r}: type model, dataset or space, name namespace/repo")
    return RepoId.parse_any(rtype, target["name"])  # type: ignore[arg-type]  # `gpt2`: a canonical repo


async def duplicate(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`POST …/lfs-files/duplicate` on the source repo, before a commit with cross-repo copies
    (huggingface_hub `_duplicate_lfs_files`): body {"target": {"type", "name"}, "files": [{"sha256",
    "xetHash", "filename"}]}; the answer's `failed` ([{"sha256", "error"}]) makes the client raise."""
    who = await ctx.who(request)
    await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name))  # who may not read it sends nothing we read
    body = await json_body(request)
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise BadRequest('\'files\' must be a list of {"sha256", "xetHash", "filename"}')
    oids = [f.get("sha256") for f in files]
    failed = await ctx.run(lfs_files.share, ctx.hub, who, rid_api(t, ns, name), _target(body), oids)
    return wire.json_response({"failed": failed})


PAGE = 1000


async def listing(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`list_lfs_files`: a JSON array of {"fileOid", "oid", "filename", "pushedAt", "ref", "size"}, paged by
    a Link header the client follows (`cursor`: the last row of the page)."""
    who = await ctx.who(request)
    try:
        after = int(request.query_params.get("cursor") or 0)
    except ValueError:
        raise BadRequest("'cursor' must be the integer of a Link rel=next") from None
    files, last = await ctx.run(lfs_files.list_files, ctx.hub, who, rid_api(t, ns, name), after, PAGE)
    items = [
        {
            "fileOid": f.oid,
            "oid": f.oid,
            "filename": f.filename,
            "pushedAt": wire.iso(f.pushed_at),
            "ref": f.ref,
            "size": f.size,
        }
        for f in files
    ]
    headers = wire.next_link(request, ctx.base_url(request), "cursor", str(last)) if last else None
    return wire.json_response(items, headers=headers)


async def delete_batch(ctx: Ctx, request: Request, t: str, ns: str, name: str) -> Response:
    """`permanently_delete_lfs_files`: {"deletions": {"sha": [...], "rewriteHistory"}}, admins only; the
    answer says what it freed ({"deleted", "freedBytes"}; the client reads only the status)."""
    who = await ctx.who(request)
    await ctx.run(ctx.hub.open_repo, who, rid_api(t, ns, name), True)  # before the body
    body = await json_body(request)
    deletions = body.get("deletions")
    if not isinstance(deletions, dict) or not isinstance(deletions.get("sha"), list):
        raise BadRequest('\'deletions\' must be {"sha": [sha256, ...], "rewriteHistory": bool}')
    rewrite = deletions.get("rewriteHistory", True)
    if not isinstance(rewrite, bool):
        raise BadRequest("'rewriteHistory' must be true or false")
    assert who is not None  # open_repo(write=True) lets no anonymous caller through
    out = await ctx.run(lfs_files.delete_files, ctx.hub, who, rid_api(t, ns, name), deletions["sha"], rewrite)
    return wire.json_response(out)
