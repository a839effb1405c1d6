"""Reading pages: home, model/dataset/Space lists with facets, full-text search, the repo page and its card."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ... import spacehost
from ...hub import browse as hub_browse
from ...hub import dashboard, fulltext, gating, index, model_panels, spaces, tagnames
from ...hub import taxonomy as tx
from ...hub.repos import Hub, Repo
from ...ids import FROM_PLURAL, PLURAL, REPO_TYPES, RepoId
from ...viewer import service as viewer_service
from ..api.spaces import app_url
from . import render, widget
from . import viewer as dataset_viewer
from .base import Web, rid_of

FILTER_PARAMS = (
    "pipeline_tag",
    "library",
    "language",
    "license",
    "dataset",
    "other",
    "task_categories",
    "size_categories",
    "modality",
    "format",
)
SORTS = [
    ("trendingScore", "Trending"),
    ("downloads", "Most downloads"),
    ("likes", "Most likes"),
    ("lastModified", "Recently updated"),
    ("createdAt", "Recently created"),
]
PAGE = 30


def list_query(request: Request, repo_type: str) -> tuple[index.Query, dict[str, list[str]]]:
    q = request.query_params
    chosen: dict[str, list[str]] = {k: q.getlist(k) for k in FILTER_PARAMS if q.getlist(k)}
    if "language" in chosen:  # a name or any code of a language: the code the cards use (tagnames)
        chosen["language"] = [language_value(v) for v in chosen["language"]]
    filters: list[str] = []
    pipeline = None
    for key, values in chosen.items():
        for v in values:
            if key == "pipeline_tag" and repo_type == "model":
                pipeline = v
            elif key in ("license", "dataset") and repo_type == "model" and ":" not in v:
                filters.append(f"{key}:{v}")
            elif repo_type == "dataset" and key in tx.DATASET_PREFIXES and ":" not in v:
                filters.append(f"{key}:{v}")
            elif repo_type == "dataset" and key == "pipeline_tag":
                filters.append(f"task_categories:{v}")
            else:
                filters.append(v)
    search = [q.get("search", "").strip()] if q.get("search", "").strip() else []
    return index.Query(
        repo_type, search, q.get("author") or None, tuple(filters), pipeline, q.get("sort") or "trendingScore"
    ), chosen


def language_value(v: str) -> str:
    """A language filter's value as the cards' code ("Spanish", "spa", "es" -> "es"); else as given."""
    return tagnames.language_code(v) or v


def url_with(request: Request, drop: tuple[str, ...] = ("cursor",), **changes: Any) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in drop and k not in changes]
    for k, v in changes.items():
        if v is None:
            continue
        for x in v if isinstance(v, list) else [v]:
            params.append((k, x))
    qs = urlencode(params)
    return f"{request.url.path}{'?' + qs if qs else ''}"


def toggle_url(request: Request, key: str, value: str) -> str:
    current = request.query_params.getlist(key)
    if key == "language":  # ?language=Spanish is the chip of `es`: clicking it again removes it
        current = [language_value(v) for v in current]
    values = [v for v in current if v != value] if value in current else [*current, value]
    return url_with(request, drop=("cursor", key), **{key: values})


async def home(web: Web, request: Request) -> Response:
    who = await web.who(request)
    h = await web.run(hub_browse.home, web.hub, who)
    lists: dict[str, Any] = {
        **h.trending,
        **{f"{t}_count": n for t, n in h.counts.items()},
    }  # model, model_count...
    if who is not None:  # the user's repos, orgs, likes and the feed of recent commits (hub/dashboard.py)
        lists["dash"] = await web.run(dashboard.dashboard, web.hub, who)
    return await web.page(request, "home.html", **lists)


async def listing(web: Web, request: Request, t: str) -> Response:
    who = await web.who(request)
    rtype = FROM_PLURAL[t]
    query, chosen = list_query(request, rtype)
    found = await web.run(hub_browse.listing, web.hub, who, query, PAGE, request.query_params.get("cursor"))
    stages = await web.run(spaces.list_stages, web.hub, found.rows) if rtype == "space" else {}
    sizes = await web.run(viewer_service.sizes, web.hub, found.rows) if rtype == "dataset" else {}
    return await web.page(
        request,
        "list.html",
        rtype=rtype,
        plural=t,
        chosen=chosen,
        sorts=SORTS,
        sort=query.sort,
        search=" ".join(query.search),
        url_with=url_with,
        toggle_url=toggle_url,
        domains=tx.TASKS_BY_DOMAIN,
        domain_of=tx.DOMAIN_OF,
        space_stages=stages,
        dataset_sizes=sizes,
        **vars(found),
    )


async def full_text(web: Web, request: Request) -> Response:
    """Search in repo names, tags and card text (/search/full-text?q=&type=), results labelled by type."""
    who = await web.who(request)
    q = fulltext.parse_query(request.query_params.get("q"))
    rtype = fulltext.parse_type(request.query_params.get("type"))
    hits = await web.run(hub_browse.full_text, web.hub, who, rtype, q) if q else []
    groups = [(t, [h for h in hits if h.repo.type == t]) for t in REPO_TYPES if rtype in (None, t)]
    return await web.page(
        request,
        "full_text.html",
        q=q,
        rtype=rtype,
        hits=hits,
        groups=groups,
        types=REPO_TYPES,
        plural=PLURAL,
        marked=fulltext.marked,
    )


def card_and_viewer(hub: Hub, ov: hub_browse.Overview, rid: RepoId, params: dict[str, str]) -> dict[str, Any]:
    """What the repo page shows besides the overview: the card's body as HTML (relative images point into
    the repo), the header's chips by kind, the downloads' sparkline, and for a dataset the viewer section
    (subsets, splits, a first page of rows)."""
    body = "" if ov.card_body is None else render.markdown(ov.card_body, f"/{rid.web_path}/resolve/main")
    out = {
        "rid": rid,
        "body_html": body,
        "grouped": group_tags(ov.repo.type, ov.tags),
        "spark": render.sparkline([n for _, n in ov.downloads_days]),
    }
    if ov.repo.type == "model":
        out["w"] = widget.context(ov.repo, ov.tags)
    if ov.repo.type == "dataset":  # the header's "1.5k rows · 120 kB" (a gated dataset's too, as on the Hub)
        out["ds_size"] = viewer_service.sizes(hub, [ov.repo]).get(ov.repo.id)
    if ov.repo.type == "dataset" and ov.gate_open:  # a gated dataset's rows are behind its gate
        st = viewer_service.repo_state(hub, ov.repo)
        out["v"] = dataset_viewer.context(hub, st, f"/{rid.web_path}", params)
    return out


async def repo_page(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    who = await web.who(request)
    rid = rid_of(p, ns, name)
    ov = await web.run(hub_browse.overview, web.hub, who, rid)
    more = await web.run(card_and_viewer, web.hub, ov, rid, dict(request.query_params))
    if ov.repo.type == "space" and ov.gate_open:  # a gated Space's app is behind its gate
        more.update(await space_context(web, ov.repo))
    host = web.base_url(
        request
    )  # the first steps' commands name this host (AGORA_PUBLIC_URL, or the request's)
    if ov.repo.type == "model":  # evaluation results and "Use this model" (issue 18)
        more["mp"] = await web.run(model_panels.panels, web.hub, who, ov.repo, ov.sha, ov.tags, host)
    return await web.page(request, "repo.html", tab="card", host=host, **vars(ov), **more)


FIELD_PREFIX = "field:"  # the access form's answers (the card's field names may be anything: no clash)


async def ask_access(web: Web, request: Request, p: str | None, ns: str, name: str) -> Response:
    """`POST /{repo}/ask-access`: the repo page's access form (as on the Hub): the answers to the card's
    fields; then the page again, which says whether access was granted or is pending."""
    rid = rid_of(p, ns, name)
    who = await web.require_user(request)
    form = await web.form(request)
    given = {k[len(FIELD_PREFIX) :]: v for k, v in form.items() if k.startswith(FIELD_PREFIX)}
    await web.run(gating.request_access, web.hub, who, rid, given)
    return web.redirect(f"/{rid.web_path}")


async def space_context(web: Web, repo: Repo) -> dict[str, Any]:
    """A Space page's app: its stage, and the frame's source (a private Space's carries a signed path: the
    app is never opened with the visitor's cookie). Opening the page of a sleeping gradio/streamlit Space
    wakes it, as on the Hub; while it builds and starts the page shows its log's last lines."""
    rt = await web.run(spaces.runtime, web.hub, repo, repo.head_sha)
    ns, name = repo.namespace, repo.name
    src = app_url(web.ctx, "", ns, name, repo.private or bool(repo.gated))  # callers checked the gate
    own = bool(spaces.serving_of(web.ctx.settings.spaces.domain).domain)
    out: dict[str, Any] = {"space": rt, "space_src": src, "space_own_origin": own, "space_log": []}
    if rt.config.sdk not in ("gradio", "streamlit"):
        return out
    host = spacehost.of(web.hub, web.ctx.settings)
    if rt.stage == "SLEEPING":
        await web.run(host.wake, repo)
        rt = await web.run(spaces.runtime, web.hub, repo, repo.head_sha)
    kind = "build" if rt.stage in ("BUILDING", "BUILD_ERROR") else "run"
    out.update(space=rt, space_log=await web.run(host.logs.tail, repo.id, kind, 40), space_log_kind=kind)
    return out


async def space_status(web: Web, request: Request, ns: str, name: str) -> Response:
    """The app section of a Space page, for htmx's polling while the Space builds and starts."""
    who = await web.who(request)
    rid = RepoId("space", ns, name)
    repo = await web.run(web.hub.open_repo, who, rid, False, True)  # past a gated Space's gate
    data = await space_context(web, repo)
    html = web.env.get_template("_space_app.html").render(rid=rid, request=request, **data)
    return HTMLResponse(html)


GROUP_ORDER = (
    "pipeline_tag",
    "task_categories",
    "task_ids",
    "library",
    "modality",
    "size_categories",
    "format",
    "dataset",
    "language",
    "license",
    "other",
)
# A dataset page's headings: what the data is (tasks, modalities, size, formats, languages), then license.
DATASET_GROUP_ORDER = (
    "task_categories",
    "modality",
    "size_categories",
    "format",
    "language",
    "license",
    "library",
)


def group_tags(repo_type: str, tags: list[str]) -> dict[str, list[str]]:
    """The header's chips by kind, in the Hub's order (task, libraries, datasets, languages, license, others)."""
    out: dict[str, list[str]] = {}
    for t in tags:
        g = index.facet_group(repo_type, t)
        if t.startswith("base_model:"):
            continue
        if g == "task_ids":  # a dataset's sub-tasks read under its Tasks, as on the Hub
            g = "task_categories"
        out.setdefault(g or "other", []).append(t)
    order = DATASET_GROUP_ORDER if repo_type == "dataset" else GROUP_ORDER
    rank = {g: i for i, g in enumerate(order)}
    last = (
        len(rank) + 1 if repo_type == "dataset" else len(rank)
    )  # a dataset's other prefixes before its plain tags
    return dict(sorted(out.items(), key=lambda kv: last if kv[0] == "other" else rank.get(kv[0], len(rank))))
