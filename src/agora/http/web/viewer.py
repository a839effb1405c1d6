"""The dataset viewer on the dataset page: subset/split selectors, a page of typed rows, search, counts.

The repo page renders the first view server-side (`context`), so the page itself says which subsets and
splits exist; switching subset, split, page or search re-renders only the `#viewer` fragment via htmx
(`GET /datasets/{id}/viewer`). Without JavaScript the same form reloads the page with the parameters.
Media cells load from `/datasets/{id}/viewer/cell`, which checks the session like any page.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ...errors import BadRequest, GatedRepo, HubError, NotFound
from ...hub.repos import Hub
from ...ids import RepoId, repo_full
from ...viewer import query, service
from ...viewer.features import kind
from ..headers import FILE_CSP
from . import colstats
from .base import Web

log = logging.getLogger("agora.web.viewer")

PAGE = 25
LONG_TEXT = 300


def _languages(card: dict[str, Any]) -> list[str]:
    lang = card.get("language") or card.get("languages") or []
    return [str(x) for x in (lang if isinstance(lang, list) else [lang])]


def _as_list(v: Any) -> list[str]:
    return [str(x) for x in (v if isinstance(v, list) else [v] if v else [])]


def cell_html(value: Any, feature: Any, url: str) -> dict[str, Any]:
    """A cell for the template: its kind and what to show (the template escapes everything)."""
    k = kind(feature)
    if value is None:
        return {"kind": "null"}
    if k == "image":
        return {"kind": "image", "src": url}
    if k == "audio":
        return {"kind": "audio", "src": url}
    if k == "class_label" and isinstance(value, int):
        names = feature.get("names") or []
        return {"kind": "label", "text": names[value] if 0 <= value < len(names) else str(value), "n": value}
    if isinstance(value, (dict, list)):
        text = json.dumps(query._jsonable(value), ensure_ascii=False, indent=1)
        return {"kind": "json", "text": text, "long": len(text) > LONG_TEXT, "short": text[:120]}
    if isinstance(value, str):
        return {"kind": "text", "text": value, "long": len(value) > LONG_TEXT, "short": value[:LONG_TEXT]}
    if isinstance(value, bool):
        return {"kind": "bool", "text": str(value).lower()}
    if isinstance(value, (int, float)):
        return {"kind": "number", "text": str(query._jsonable(value))}
    return {"kind": "text", "text": str(query._jsonable(value)), "long": False}


def context(hub: Hub, st: service.State, base: str, params: dict[str, str]) -> dict[str, Any]:
    """Everything `_viewer.html` shows, for the requested (config, split, page, q)."""
    repo = st.repo
    card = repo.card_data or {}
    v: dict[str, Any] = {
        "base": base,
        "pending": st.pending,
        "ready": st.result is not None,
        **revision_status(st),
        "configs": st.configs(),
        "error": (st.result or {}).get("error"),
        "tasks": _as_list(card.get("task_categories")),
        "languages": _languages(card),
        "q": params.get("q", "").strip()[:200],
        "rows": [],
        "columns": [],
    }
    if not st.configs():
        return v
    try:
        c = st.config(params.get("config") or None)
    except NotFound:
        c = st.config(None)
    names = [sp["name"] for sp in c["splits"]]
    sp = next(
        (x for x in c["splits"] if x["name"] == params.get("split")), c["splits"][0] if c["splits"] else None
    )
    v.update(config=c, split=sp, splits=names, total_rows=sum(x["num_rows"] for x in c["splits"]))
    if sp is None or sp.get("error"):
        return v
    try:
        page = max(0, int(params.get("page") or 0))
    except ValueError:
        page = 0
    features = sp.get("features") or {}
    try:
        shards = service.shards(hub, sp)
        if v["q"]:
            table, idx, total = query.search(shards, features, v["q"], page * PAGE, PAGE)
        else:
            table = query.read_rows(shards, page * PAGE, PAGE)
            idx, total = list(range(page * PAGE, page * PAGE + table.num_rows)), sp["num_rows"]
    except HubError as e:
        v["split"] = {**sp, "error": e.message}
        return v
    ds = repo_full(repo.namespace, repo.name)

    def cell_url(row: int, col: str) -> str:
        return f"{base}/viewer/cell?" + urlencode(
            {"config": c["name"], "split": sp["name"], "row": row, "column": col}
        )

    rows = []
    for i, row in zip(idx, table.to_pylist() if table.num_rows else [], strict=False):
        rows.append(
            {"idx": i, "cells": [cell_html(row.get(n), f, cell_url(i, n)) for n, f in features.items()]}
        )
    qs = {"config": c["name"], "split": sp["name"], **({"q": v["q"]} if v["q"] else {})}
    charts = column_charts(shards, features, sp["num_rows"])
    v.update(
        rows=rows,
        columns=[{"name": n, "type": _type_label(f), "chart": charts.get(n)} for n, f in features.items()],
        matched=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        prev_qs=urlencode({**qs, "page": page - 1}) if page > 0 else None,
        next_qs=urlencode({**qs, "page": page + 1}) if (page + 1) * PAGE < total else None,
        dataset=ds,
    )
    return v


def revision_status(st: service.State) -> dict[str, Any]:
    """Where the default branch's head stands in its conversion, for the viewer's banner and its polling.

    `processing`: the head has no conversion record yet and its job is queued or running (or about to be
    queued: a commit queues it in its own transaction, so "none" is only a moment); the fragment polls until
    the record exists, and no earlier revision's error ("no data files") is shown meanwhile. `head_failed`:
    the head's job failed; an earlier revision's record, if any, is shown below the reason, and polling stops.
    """
    stale = bool(st.head) and st.revision != st.head
    processing = stale and st.job in (None, "queued", "running")
    return {
        "head_short": st.head[:7],
        "shown_short": (st.revision or "")[:7],
        "job": st.job,
        "processing": processing,
        "head_failed": stale and st.job == "failed",
        "job_error": st.job_error,
        "poll": processing or (st.pending and st.job not in ("failed", "done")),
    }


def column_charts(shards: list[query.Shard], features: dict[str, Any], num_rows: int) -> dict[str, Any]:
    """{column: chart} from the split's statistics (computed once per split, as `GET /statistics` does).
    The table is shown without charts when they cannot be computed."""
    try:
        return colstats.charts(query.statistics(shards, features, num_rows))
    except Exception:  # any failure of the statistics query must not hide the rows
        log.exception("statistics of %d shards failed", len(shards))
        return {}


def _type_label(f: Any) -> str:
    if isinstance(f, dict):
        if f.get("_type") == "Value":
            return str(f.get("dtype"))
        if f.get("_type") == "ClassLabel":
            return f"class label ({len(f.get('names') or [])} classes)"
        if f.get("_type") in ("List", "Sequence", "LargeList"):
            return "list"
        if f.get("_type"):
            return str(f["_type"]).lower()
        return "dict"
    return "list" if isinstance(f, list) else str(f)


async def fragment(web: Web, request: Request, ns: str, name: str) -> Response:
    """The `#viewer` fragment for htmx; any other request (a reload of a pushed URL, no JavaScript) is sent
    to the whole dataset page with the same parameters."""
    rid = RepoId("dataset", ns, name)
    page = "/" + rid.web_path
    if "hx-request" not in request.headers:
        qs = request.url.query
        return web.redirect(page + (f"?{qs}" if qs else ""))
    who = await web.who(request)
    try:
        st = await web.run(service.open_state, web.hub, who, rid)
        v = await web.run(context, web.hub, st, page, dict(request.query_params))
    except (BadRequest, GatedRepo) as e:  # a gated dataset's rows are behind its gate
        v = {"base": page, "ready": True, "configs": [], "error": e.message}
    html = web.env.get_template("_viewer.html").render(v=v, request=request)
    return HTMLResponse(html, headers={"X-Content-Type-Options": "nosniff"})


def media_cell(hub: Hub, st: service.State, params: Mapping[str, str]) -> tuple[bytes, str] | None:
    """A media cell's bytes and file name (None if the cell holds no file)."""
    _, sp = st.split(params.get("config"), params.get("split"))
    try:
        row = int(params.get("row") or 0)
    except ValueError:
        raise BadRequest("row must be an integer") from None
    return query.media_bytes(service.shards(hub, sp), row, params.get("column") or "")


async def cell(web: Web, request: Request, ns: str, name: str) -> Response:
    who = await web.who(request)
    try:
        st = await web.run(service.open_state, web.hub, who, RepoId("dataset", ns, name))
        got = await web.run(media_cell, web.hub, st, request.query_params)
    except HubError:
        got = None
    if got is None:
        return Response(b"", status_code=404)
    data, path = got
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if not media.startswith(("image/", "audio/", "video/")):
        media = "application/octet-stream"
    return Response(
        data,
        media_type=media,
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": FILE_CSP,
        },
    )
