"""The dataset-viewer API with the Hub's shapes: /is-valid, /splits, /first-rows, /rows, /search, /filter,
/parquet, /size, /info, /statistics.

Served at /api/datasets-server/<endpoint> on Agora's own host, and at /<endpoint> when the Host header
starts with `datasets-server.` (the host datasets derives from HF_ENDPOINT). Every answer carries
`X-Revision`, the commit its data came from: datasets ignores /info and /parquet answers whose X-Revision
is not the commit it resolved. A private dataset is a 404 to whoever may not read it, as on the Hub.

Each endpoint is an async handler that runs its answer (a plain function: the database, then parquet reads)
in a thread: errors, the viewer's (viewer/errors.py) included, map in wire.hub_error.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, NotFound, RepoNotFound
from ...hub.accounts import Principal
from ...ids import RepoId
from ...viewer import query, service
from ...viewer.features import kind
from .. import wire
from ..context import Ctx
from ..headers import user_file
from .common import int_param

PREFIX = "/api/datasets-server"
MAX_LENGTH = 100

# An endpoint's answer: (ctx, request, "namespace/name", the dataset's state) -> the response.
Answer = Callable[[Ctx, Request, str, service.State], Response]


def features_list(features: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"feature_idx": i, "name": n, "type": t} for i, (n, t) in enumerate((features or {}).items())]


def _int(request: Request, key: str, default: int, lo: int, hi: int | None = None) -> int:
    rule = f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}"
    return int_param(request.query_params.get(key), default, f"Parameter {key!r}", lo, hi, rule)


def _window(request: Request) -> tuple[int, int]:
    """(offset, length) of a page of rows."""
    return _int(request, "offset", 0, 0), _int(request, "length", MAX_LENGTH, 0, MAX_LENGTH)


def base(ctx: Ctx, request: Request) -> str:
    return ctx.base_url(request).replace("://datasets-server.", "://")


async def answer(ctx: Ctx, request: Request, fn: Answer) -> Response:
    who = await ctx.who(request)
    return await ctx.run(_answer, ctx, request, who, fn)


def _answer(ctx: Ctx, request: Request, who: Principal | None, fn: Answer) -> Response:
    ds = request.query_params.get("dataset") or ""
    if not ds or ds.count("/") > 1:
        raise BadRequest("Parameter 'dataset' is required: 'namespace/name' (or a canonical dataset's name)")
    try:
        st = service.open_state(ctx.hub, who, RepoId.parse_any("dataset", ds))
    except RepoNotFound:
        raise RepoNotFound(
            "The dataset does not exist, or is not accessible without authentication "
            "(private or gated). Please check the spelling of the dataset name or retry "
            "with authentication."
        ) from None
    return fn(ctx, request, ds, st)


def media_url(ctx: Ctx, request: Request, ds: str, config: str, split: str) -> Callable[[int, str], str]:
    b = base(ctx, request)

    def url(row: int, column: str) -> str:
        return f"{b}{PREFIX}/cell?" + urlencode(
            {"dataset": ds, "config": config, "split": split, "row": row, "column": column}
        )

    return url


def page(
    ctx: Ctx, request: Request, st: service.State
) -> tuple[dict[str, Any], dict[str, Any], list[query.Shard]]:
    """The (config, split) the query names, converted, and its shards."""
    q = request.query_params
    c, sp = st.converted_split(q.get("config"), q.get("split"))
    return c, sp, service.shards(ctx.hub, sp)


def rows_response(
    ctx: Ctx,
    request: Request,
    ds: str,
    c: dict[str, Any],
    sp: dict[str, Any],
    table: Any,
    first: int | list[int],
    total: int,
) -> dict[str, Any]:
    rows = query.to_rows(
        table, sp["features"] or {}, first, media_url(ctx, request, ds, c["name"], sp["name"])
    )
    return {
        "features": features_list(sp["features"]),
        "rows": rows,
        "num_rows_total": total,
        "num_rows_per_page": MAX_LENGTH,
        "partial": False,
    }


def respond(data: Any, st: service.State) -> Response:
    headers = {"X-Revision": st.revision} if st.revision else {}
    headers["Access-Control-Allow-Origin"] = "*"
    return wire.json_response(data, headers=headers)


def ready_configs(request: Request, st: service.State) -> list[dict[str, Any]]:
    """The configs the query names (all of them without ?config=): NotReady before the first conversion."""
    st.ready()
    config = request.query_params.get("config")
    return [st.config(config)] if config else st.configs()


def respond_listing(
    st: service.State, ds: str, configs: list[dict[str, Any]], key: str, value: Any
) -> Response:
    """/parquet, /size and /info: {key: value} with the dataset's pending and failed parts."""
    return respond(
        {
            key: value,
            "pending": [] if not st.pending else [{"dataset": ds}],
            "failed": _failed(ds, configs),
            "partial": False,
        },
        st,
    )


# ---- the endpoints ----------------------------------------------------------------------------------------
async def is_valid(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _is_valid)


def _is_valid(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    ok = any(not sp.get("error") for c in st.configs() for sp in c["splits"])
    texts = any(
        kind(f) == "string"
        for c in st.configs()
        for sp in c["splits"]
        if not sp.get("error")
        for f in (sp.get("features") or {}).values()
    )
    return respond({"preview": ok, "viewer": ok, "search": ok and texts, "filter": ok, "statistics": ok}, st)


async def splits(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _splits)


def _splits(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    configs = ready_configs(request, st)
    out = {
        "splits": [
            {"dataset": ds, "config": c["name"], "split": sp["name"]} for c in configs for sp in c["splits"]
        ],
        "pending": [{"dataset": ds, "revision": st.head}] if st.pending else [],
        "failed": [
            {"dataset": ds, "config": c["name"], "error": {"error": c["error"]}}
            for c in configs
            if c.get("error")
        ],
    }
    if not st.configs() and st.result and st.result.get("error"):
        out["failed"].append({"dataset": ds, "config": None, "error": {"error": st.result["error"]}})
    return respond(out, st)


async def first_rows(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _first_rows)


def _first_rows(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    c, sp, shards = page(ctx, request, st)
    table = query.read_rows(shards, 0, MAX_LENGTH)
    data = rows_response(ctx, request, ds, c, sp, table, 0, sp["num_rows"])
    return respond(
        {
            "dataset": ds,
            "config": c["name"],
            "split": sp["name"],
            "features": data["features"],
            "rows": data["rows"],
            "truncated": sp["num_rows"] > MAX_LENGTH,
        },
        st,
    )


async def rows(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _rows)


def _rows(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    c, sp, shards = page(ctx, request, st)
    offset, length = _window(request)
    table = query.read_rows(shards, offset, length)
    return respond(rows_response(ctx, request, ds, c, sp, table, offset, sp["num_rows"]), st)


async def search(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _search)


def _search(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    c, sp, shards = page(ctx, request, st)
    text = request.query_params.get("query") or ""
    if not text.strip():
        raise BadRequest("Parameter 'query' is required")
    offset, length = _window(request)
    table, idx, total = query.search(shards, sp["features"] or {}, text, offset, length)
    return respond(rows_response(ctx, request, ds, c, sp, table, idx, total), st)


async def filter_rows(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _filter_rows)


def _filter_rows(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    c, sp, shards = page(ctx, request, st)
    q = request.query_params
    offset, length = _window(request)
    table, idx, total = query.filter_rows(
        shards, sp["features"] or {}, q.get("where") or "", q.get("orderby") or "", offset, length
    )
    return respond(rows_response(ctx, request, ds, c, sp, table, idx, total), st)


async def statistics(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _statistics)


def _statistics(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    c, sp, shards = page(ctx, request, st)
    stats = query.statistics(shards, sp["features"] or {}, sp["num_rows"])
    return respond({"num_examples": sp["num_rows"], "statistics": stats, "partial": False}, st)


async def cell(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _cell)


def _cell(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    c, sp, shards = page(ctx, request, st)
    got = query.media_bytes(shards, _int(request, "row", 0, 0), request.query_params.get("column") or "")
    if got is None:
        raise NotFound("No media in this cell")
    content, path = got
    media, safety = user_file(mimetypes.guess_type(path)[0] or "application/octet-stream")
    return Response(content, media_type=media, headers={"Cache-Control": "private, max-age=3600", **safety})


async def parquet(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _parquet)


def _parquet(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    configs = ready_configs(request, st)
    b = base(ctx, request)
    files = [
        {
            "dataset": ds,
            "config": c["name"],
            "split": sp["name"],
            "url": f"{b}/{RepoId.parse_any('dataset', ds).web_path}/resolve/"
            f"{quote('refs/convert/parquet', safe='')}/"
            f"{quote(c['name'])}/{quote(sp['name'])}/{f['filename']}",
            "filename": f["filename"],
            "size": f["size"],
        }
        for c in configs
        for sp in c["splits"]
        for f in sp["files"]
    ]
    return respond_listing(st, ds, configs, "parquet_files", files)


async def size(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _size)


def _size(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    configs = ready_configs(request, st)
    splits = [
        {
            "dataset": ds,
            "config": c["name"],
            "split": sp["name"],
            "num_bytes_parquet_files": sp["num_bytes_parquet_files"],
            "num_bytes_memory": sp["num_bytes_memory"],
            "num_rows": sp["num_rows"],
            "num_columns": sp["num_columns"],
        }
        for c in configs
        for sp in c["splits"]
    ]
    cfgs = [_config_size(ds, c) for c in configs]
    out: dict[str, Any] = {"splits": splits}
    if request.query_params.get("config"):
        out["config"] = cfgs[0]
    else:
        keys = ("num_bytes_original_files", "num_bytes_parquet_files", "num_bytes_memory", "num_rows")
        out.update(
            {"dataset": {"dataset": ds, **{k: sum(x[k] for x in cfgs) for k in keys}}, "configs": cfgs}
        )
    return respond_listing(st, ds, configs, "size", out)


def _config_size(ds: str, c: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataset": ds,
        "config": c["name"],
        "num_bytes_original_files": sum(sp["num_bytes_original_files"] for sp in c["splits"]),
        "num_bytes_parquet_files": sum(sp["num_bytes_parquet_files"] for sp in c["splits"]),
        "num_bytes_memory": sum(sp["num_bytes_memory"] for sp in c["splits"]),
        "num_rows": sum(sp["num_rows"] for sp in c["splits"]),
        "num_columns": max([sp["num_columns"] for sp in c["splits"]] or [0]),
    }


async def info(ctx: Ctx, request: Request) -> Response:
    return await answer(ctx, request, _info_answer)


def _info_answer(ctx: Ctx, request: Request, ds: str, st: service.State) -> Response:
    configs = ready_configs(request, st)
    if request.headers.get("host", "").startswith("datasets-server.") and any(
        c.get("module") != "parquet" for c in configs
    ):
        # load_dataset (HF_ENDPOINT on localhost) adopts these infos as its own features and split
        # sizes; only parquet is read here exactly as datasets reads it, so for other formats we
        # let the client infer them itself (it ignores any non-200 answer).
        raise NotFound("No exported dataset info for this dataset's format")
    card = (st.result or {}).get("card", {})
    infos = {c["name"]: _info(ds, c, card) for c in configs}
    value = infos[configs[0]["name"]] if request.query_params.get("config") else infos
    return respond_listing(st, ds, configs, "dataset_info", value)


def _failed(ds: str, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"dataset": ds, "config": c["name"], "split": sp["name"], "error": {"error": sp["error"]}}
        for c in configs
        for sp in c["splits"]
        if sp.get("error")
    ]


def _info(ds: str, c: dict[str, Any], card: dict[str, Any]) -> dict[str, Any]:
    """A datasets `DatasetInfo` dict for one config (what `DatasetInfo.from_dict` reads)."""
    ok = [sp for sp in c["splits"] if not sp.get("error")]
    features = ok[0]["features"] if ok else {}
    name = ds.rsplit("/", 1)[-1]  # `squad` alone for a canonical dataset
    return {
        "description": str(card.get("description") or ""),
        "citation": str(card.get("citation") or ""),
        "homepage": str(card.get("homepage") or ""),
        "license": str(card.get("license") or ""),
        "features": features,
        "builder_name": c.get("module") or "",
        "dataset_name": name,
        "config_name": c["name"],
        "version": {"version_str": "0.0.0", "major": 0, "minor": 0, "patch": 0},
        "splits": {
            sp["name"]: {
                "name": sp["name"],
                "num_bytes": sp["num_bytes_memory"],
                "num_examples": sp["num_rows"],
                "dataset_name": name,
            }
            for sp in ok
        },
        "download_size": sum(sp["num_bytes_original_files"] for sp in c["splits"]),
        "dataset_size": sum(sp["num_bytes_memory"] for sp in ok),
    }
