"""Helpers shared by the API route modules: repo ids from the path, JSON bodies, the repo JSON."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request

from ...errors import BadRequest
from ...hub import widgets
from ...hub.repos import Repo
from ...ids import FROM_PLURAL, PLURAL, RepoId, RepoType, repo_full, repo_web_path
from ...inference.front import installed
from ...storage.gitstore import Entry
from .. import bodies, wire

T = r"(?P<t>models|datasets|spaces)"
# Web/file/git prefix: "" for models, datasets/ or spaces/.
P = r"(?:(?P<p>datasets|spaces)/)?"
# API JSON bodies: create_app sets it from AGORA_MAX_JSON_BYTES.
MAX_JSON = 8 * 1024 * 1024
# Models whose weights are larger are not run (TooBig): create_app sets it from AGORA_INFER_MAX_MODEL_MB.
MAX_MODEL_BYTES = 1024 * 1024 * 1024


def rid_api(t: str, ns: str, name: str) -> RepoId:
    return RepoId(FROM_PLURAL[t], ns, name)


def rid_web(p: str | None, ns: str, name: str) -> RepoId:
    return RepoId(FROM_PLURAL[p] if p else "model", ns, name)


async def json_body(request: Request, required: bool = True, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object, read with a bound (413 past it; AGORA_MAX_JSON_BYTES by default)."""
    data: dict[str, Any] = await bodies.read_json(request, limit or MAX_JSON, required)
    return data


def repo_url(base: str, repo: Repo) -> str:
    return f"{base}/{repo_web_path(repo.type, repo.namespace, repo.name)}"


def entry_json(e: Entry) -> dict[str, Any]:
    d: dict[str, Any] = {"type": e.type, "oid": e.oid, "size": e.size, "path": e.path}
    if e.lfs:
        d["lfs"] = {"oid": e.lfs.oid, "size": e.lfs.size, "pointerSize": e.lfs.pointer_size}
    return d


def sibling_json(e: Entry, blobs: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"rfilename": e.path}
    if blobs:
        d["size"] = e.size
        d["blobId"] = e.oid
        if e.lfs:
            d["lfs"] = {"sha256": e.lfs.oid, "size": e.lfs.size, "pointerSize": e.lfs.pointer_size}
    return d


def repo_json(
    repo: Repo,
    sha: str,
    files: list[Entry] | None,
    blobs: bool,
    last_modified: int | None,
    used_storage: int | None = None,
    tags: list[str] | None = None,
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The info object huggingface_hub maps onto ModelInfo / DatasetInfo / SpaceInfo."""
    rtype: RepoType = repo.type  # type: ignore[assignment]
    d: dict[str, Any] = {
        "_id": f"{repo.id:024x}",
        "id": repo_full(repo.namespace, repo.name),
        "author": repo.namespace or None,  # a canonical repo has none
        "sha": sha,
        "lastModified": wire.iso(last_modified) if last_modified else wire.iso(repo.updated_at),
        "createdAt": wire.iso(repo.created_at),
        "private": repo.private,
        "gated": repo.gated or False,
        "disabled": False,
        "downloads": repo.downloads,
        "downloadsAllTime": repo.downloads_all_time or 0,
        "likes": repo.likes,
        "tags": tags if tags is not None else [],
        "trendingScore": repo.trending_score or 0,
    }
    if repo.card_data is not None:
        d["cardData"] = repo.card_data
    if files is not None:
        d["siblings"] = [sibling_json(e, blobs) for e in files]
    if used_storage is not None:
        d["usedStorage"] = used_storage
    if rtype == "model":
        model_fields(d, repo)
        d.update(links or {})
        d.setdefault("spaces", [])
    elif rtype == "dataset":
        d["description"] = ""
        d["citation"] = ""
        d.update(links or {})
    else:
        d["sdk"] = repo.sdk
        d["runtime"] = {"stage": "STOPPED", "hardware": {"current": None, "requested": None}}
        d["subdomain"] = f"{repo.namespace}-{repo.name}".lower()
        d.update(links or {})
    return d


def model_fields(d: dict[str, Any], repo: Repo) -> None:
    """A model's own fields of its info: library, task, and what was derived from its files."""
    derived = repo.derived or {}
    d["modelId"] = d["id"]
    if repo.library_name:
        d["library_name"] = repo.library_name
    if repo.pipeline_tag:
        d["pipeline_tag"] = repo.pipeline_tag
    for key in ("config", "transformersInfo", "safetensors", "widgetData", "mask_token"):
        if derived.get(key):
            d[key] = derived[key]
    if inference_display(repo) == "Yes":
        d["inference"] = "warm"  # served here (huggingface_hub's ModelInfo: "warm" or absent)
    if derived.get("baseModels"):
        d["baseModels"] = {
            "models": [{"id": b["id"]} for b in derived["baseModels"]],
            "relation": derived["baseModels"][0]["relation"],
        }


def inference_display(repo: Repo) -> str:
    """The widget's displayability: hub/widgets.py's (Yes, ExplicitOptOut, CustomCode, PipelineNotDetected,
    PipelineLibraryPairNotSupported), then TooBig past AGORA_INFER_MAX_MODEL_MB and NotInstalled without the
    `inference` extra."""
    derived = repo.derived or {}
    state = derived.get("inference")
    if state is None:  # indexed before the widget's fields: re-derived at the next push
        card = repo.card_data if isinstance(repo.card_data, dict) else {}
        state = widgets.displayability(card, repo.library_name, repo.pipeline_tag, derived.get("config"))
    if state != "Yes":
        return state
    if MAX_MODEL_BYTES and int(derived.get("weightBytes") or 0) > MAX_MODEL_BYTES:
        return "TooBig"
    if not _installed():
        return "NotInstalled"
    return state


@functools.cache
def _installed() -> bool:
    return installed()


def plural(repo: Repo) -> str:
    return PLURAL[repo.type]  # type: ignore[index]


def int_param(raw: str | None, default: int, name: str, lo: int, hi: int | None, out_of_range: str) -> int:
    """A query parameter read as an integer in [lo, hi] (no upper bound when `hi` is None): `default` when
    absent or empty; else BadRequest "<name> must be an integer" or "<name> <out_of_range>"."""
    if raw is None or raw == "":
        return default
    try:
        n = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if n < lo or (hi is not None and n > hi):
        raise BadRequest(f"{name} {out_of_range}")
    return n
