"""The dataset-viewer API with the Hub's shapes: /is-valid, /splits, /first-rows, /rows, /search, /filter,
/parquet, /size, /info, /statistics.

Served at /api/datasets-server/<endpoint> on Agora's own host, and at /<endpoint> when the Host header
starts with `datasets-server.` (the host datasets derives from HF_ENDPOINT). Every answer carries
`X-Revision`, the commit its data came from: datasets ignores /info and /parquet answers whose X-Revision
is not the commit it resolved. A private dataset is a 404 to whoever may not read it, as on the Hub.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, NotFound, RepoNotFound
from ...ids import RepoId, repo_web_path
from ...viewer import query, service
from ...viewer.features import kind
from .. import wire
from ..headers import user_file
from ..routing import Router

PREFIX = "/api/datasets-server"
ENDPOINTS = (
    "is-valid",
    "splits",
    "first-rows",
    "rows",
    "search",
    "filter",
    "parquet",
    "size",
    "info",
    "statistics",
    "cell",
)
MAX_LENGTH = 100


def features_list(features: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"feature_idx": i, "name": n, "type": t} for i, (n, t) in enumerate((features or {}).items())]


def _int(request: Request, key: str, default: int, lo: int, hi: int | None = None) -> int:
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(f"Parameter {key!r} must be an integer") from None
    if v < lo or (hi is not None and v > hi):
        raise BadRequest(
            f"Parameter {key!r} must be between {lo} and {hi}"
            if hi is not None
            else f"Parameter {key!r} must be at least {lo}"
        )
    return v


def mount(router: Router, ctx: Any) -> None:
    hub = ctx.hub

    def base(request: Request) -> str:
        b = wire.base_url(request, ctx.settings.public_url)
        return b.replace("://datasets-server.", "://")

    def load(request: Request, who: Any) -> tuple[str, service.State]:
        ds = request.query_params.get("dataset") or ""
        if ds.count("/") != 1:
            raise BadRequest("Parameter 'dataset' is required: 'namespace/name'")
        ns, name = ds.split("/")
        with hub.db.session() as s:
            try:
                repo = hub.find(s, who, RepoId("dataset", ns, name))
            except RepoNotFound:
                raise RepoNotFound(
                    "The dataset does not exist, or is not accessible without authentication "
                    "(private or gated). Please check the spelling of the dataset name or retry "
                    "with authentication."
                ) from None
            st = service.state(s, repo)
            s.expunge(repo)
        return ds, st

    def media_url(request: Request, ds: str, config: str, split: str) -> Any:
        b = base(request)

        def url(row: int, column: str) -> str:
            return f"{b}{PREFIX}/cell?" + urlencode(
                {"dataset": ds, "config": config, "split": split, "row": row, "column": column}
            )

        return url

    def page(
        request: Request, ds: str, st: service.State, need_rows: bool = True
    ) -> tuple[dict[str, Any], dict[str, Any], list[query.Shard]]:
        q = request.query_params
        c, sp = st.converted_split(q.get("config"), q.get("split"))
        return c, sp, service.shards(hub, sp) if need_rows else []

    def rows_response(
        request: Request,
        ds: str,
        c: dict[str, Any],
        sp: dict[str, Any],
        table: Any,
        first: int | list[int],
        total: int,
    ) -> dict[str, Any]:
        rows = query.to_rows(
            table, sp["features"] or {}, first, media_url(request, ds, c["name"], sp["name"])
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

    async def handle(request: Request, endpoint: str) -> Response:
        who = await ctx.who(request)

        def do() -> Response:
            ds, st = load(request, who)
            q = request.query_params
            if endpoint == "is-valid":
                ok = any(not sp.get("error") for c in st.configs() for sp in c["splits"])
                texts = any(
                    kind(f) == "string"
                    for c in st.configs()
                    for sp in c["splits"]
                    if not sp.get("error")
                    for f in (sp.get("features") or {}).values()
                )
                return respond(
                    {"preview": ok, "viewer": ok, "search": ok and texts, "filter": ok, "statistics": ok}, st
                )
            if endpoint == "splits":
                st.ready()
                configs = [st.config(q.get("config"))] if q.get("config") else st.configs()
                out = {
                    "splits": [
                        {"dataset": ds, "config": c["name"], "split": sp["name"]}
                        for c in configs
                        for sp in c["splits"]
                    ],
                    "pending": [{"dataset": ds, "revision": st.head}] if st.pending else [],
                    "failed": [
                        {"dataset": ds, "config": c["name"], "error": {"error": c["error"]}}
                        for c in configs
                        if c.get("error")
                    ],
                }
                if not st.configs() and st.result and st.result.get("error"):
                    out["failed"].append(
                        {"dataset": ds, "config": None, "error": {"error": st.result["error"]}}
                    )
                return respond(out, st)
            if endpoint == "first-rows":
                c, sp, shards = page(request, ds, st)
                table = query.read_rows(shards, 0, MAX_LENGTH)
                data = rows_response(request, ds, c, sp, table, 0, sp["num_rows"])
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
            if endpoint == "rows":
                c, sp, shards = page(request, ds, st)
                offset = _int(request, "offset", 0, 0)
                length = _int(request, "length", MAX_LENGTH, 0, MAX_LENGTH)
                table = query.read_rows(shards, offset, length)
                return respond(rows_response(request, ds, c, sp, table, offset, sp["num_rows"]), st)
            if endpoint == "search":
                c, sp, shards = page(request, ds, st)
                text = q.get("query") or ""
                if not text.strip():
                    raise BadRequest("Parameter 'query' is required")
                offset = _int(request, "offset", 0, 0)
                length = _int(request, "length", MAX_LENGTH, 0, MAX_LENGTH)
                table, idx, total = query.search(shards, sp["features"] or {}, text, offset, length)
                return respond(rows_response(request, ds, c, sp, table, idx, total), st)
            if endpoint == "filter":
                c, sp, shards = page(request, ds, st)
                offset = _int(request, "offset", 0, 0)
                length = _int(request, "length", MAX_LENGTH, 0, MAX_LENGTH)
                table, idx, total = query.filter_rows(
                    shards, sp["features"] or {}, q.get("where") or "", q.get("orderby") or "", offset, length
                )
                return respond(rows_response(request, ds, c, sp, table, idx, total), st)
            if endpoint == "statistics":
                c, sp, shards = page(request, ds, st)
                stats = query.statistics(shards, sp["features"] or {}, sp["num_rows"])
                return respond({"num_examples": sp["num_rows"], "statistics": stats, "partial": False}, st)
            if endpoint == "cell":
                c, sp, shards = page(request, ds, st)
                got = query.media_bytes(shards, _int(request, "row", 0, 0), q.get("column") or "")
                if got is None:
                    raise NotFound("No media in this cell")
                content, path = got
                import mimetypes

                media, safety = user_file(mimetypes.guess_type(path)[0] or "application/octet-stream")
                return Response(
                    content, media_type=media, headers={"Cache-Control": "private, max-age=3600", **safety}
                )
            st.ready()
            configs = [st.config(q.get("config"))] if q.get("config") else st.configs()
            if endpoint == "parquet":
                b = base(request)
                files = [
                    {
                        "dataset": ds,
                        "config": c["name"],
                        "split": sp["name"],
                        "url": f"{b}/{repo_web_path('dataset', *ds.split('/'))}/resolve/"
                        f"{quote('refs/convert/parquet', safe='')}/"
                        f"{quote(c['name'])}/{quote(sp['name'])}/{f['filename']}",
                        "filename": f["filename"],
                        "size": f["size"],
                    }
                    for c in configs
                    for sp in c["splits"]
                    for f in sp["files"]
                ]
                return respond(
                    {
                        "parquet_files": files,
                        "pending": [] if not st.pending else [{"dataset": ds}],
                        "failed": _failed(ds, configs),
                        "partial": False,
                    },
                    st,
                )
            if endpoint == "size":
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
                cfgs = [
                    {
                        "dataset": ds,
                        "config": c["name"],
                        "num_bytes_original_files": sum(sp["num_bytes_original_files"] for sp in c["splits"]),
                        "num_bytes_parquet_files": sum(sp["num_bytes_parquet_files"] for sp in c["splits"]),
                        "num_bytes_memory": sum(sp["num_bytes_memory"] for sp in c["splits"]),
                        "num_rows": sum(sp["num_rows"] for sp in c["splits"]),
                        "num_columns": max([sp["num_columns"] for sp in c["splits"]] or [0]),
                    }
                    for c in configs
                ]
                whole = {
                    "dataset": ds,
                    **{
                        k: sum(x[k] for x in cfgs)
                        for k in (
                            "num_bytes_original_files",
                            "num_bytes_parquet_files",
                            "num_bytes_memory",
                            "num_rows",
                        )
                    },
                }
                size: dict[str, Any] = {"splits": splits}
                if q.get("config"):
                    size["config"] = cfgs[0]
                else:
                    size.update({"dataset": whole, "configs": cfgs})
                return respond(
                    {
                        "size": size,
                        "pending": [] if not st.pending else [{"dataset": ds}],
                        "failed": _failed(ds, configs),
                        "partial": False,
                    },
                    st,
                )
            if endpoint == "info":
                if request.headers.get("host", "").startswith("datasets-server.") and any(
                    c.get("module") != "parquet" for c in configs
                ):
                    # load_dataset (HF_ENDPOINT on localhost) adopts these infos as its own features and split
                    # sizes; only parquet is read here exactly as datasets reads it, so for other formats we
                    # let the client infer them itself (it ignores any non-200 answer).
                    raise NotFound("No exported dataset info for this dataset's format")
                card = (st.result or {}).get("card", {})
                infos = {c["name"]: _info(ds, c, card) for c in configs}
                info = infos[configs[0]["name"]] if q.get("config") else infos
                return respond(
                    {
                        "dataset_info": info,
                        "pending": [] if not st.pending else [{"dataset": ds}],
                        "failed": _failed(ds, configs),
                        "partial": False,
                    },
                    st,
                )
            raise NotFound(f"Unknown endpoint {endpoint}")

        return await ctx.run(do)  # errors, the viewer's (viewer/errors.py) included, map in wire.hub_error

    for ep in ENDPOINTS:

        async def h(request: Request, _ep: str = ep) -> Response:
            return await handle(request, _ep)

        router.add("GET", f"{PREFIX}/{ep}", h)
        router.add("GET", f"/{ep}", h, host_prefix="datasets-server.")


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
    name = ds.split("/")[1]
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
