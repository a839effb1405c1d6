"""Reading pages: home, model/dataset/Space lists with facets, full-text search, the repo page and its card."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from ...hub import accounts, cards, fulltext, index
from ...hub import taxonomy as tx
from ...ids import FROM_PLURAL, PLURAL, REPO_TYPES, RepoId
from . import collections, render
from . import viewer as dataset_viewer
from .base import ID, P, Web

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
    values = [v for v in current if v != value] if value in current else [*current, value]
    return url_with(request, drop=("cursor", key), **{key: values})


def mount(router: Any, web: Web) -> None:
    hub = web.hub

    async def home(request: Request) -> Response:
        who = await web.who(request)

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                out: dict[str, Any] = {}
                for t in ("model", "dataset", "space"):
                    rows, _ = index.search(s, who, index.Query(t, [], sort="trendingScore"), 6)
                    out[t] = rows
                    out[f"{t}_count"] = index.count(s, who, index.Query(t, []))
                return out

        return await web.page(request, "home.html", **await web.run(do))

    async def listing(request: Request, t: str) -> Response:
        who = await web.who(request)
        rtype = FROM_PLURAL[t]
        query, chosen = list_query(request, rtype)

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                rows, nxt = index.search(s, who, query, PAGE, request.query_params.get("cursor"))
                tags = index.tags_of(s, [r.id for r in rows])
                return {
                    "rows": rows,
                    "next_cursor": nxt,
                    "tags": tags,
                    "total": index.count(s, who, query),
                    "facets": index.facets(s, who, query),
                }

        data = await web.run(do)
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
            **data,
        )

    async def full_text(request: Request) -> Response:
        """Search in repo names, tags and card text (/search/full-text?q=&type=), results labelled by type."""
        who = await web.who(request)
        q = fulltext.parse_query(request.query_params.get("q"))
        rtype = fulltext.parse_type(request.query_params.get("type"))

        def do() -> list[fulltext.Hit]:
            with hub.db.session() as s:
                return fulltext.search(s, who, rtype, q, fulltext.MAX_LIMIT)

        hits = await web.run(do) if q else []
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

    async def repo_page(request: Request, p: str | None, ns: str, name: str) -> Response:
        who = await web.who(request)
        rid = RepoId(FROM_PLURAL[p] if p else "model", ns, name)

        def do() -> dict[str, Any]:
            with hub.db.session() as s:
                repo = hub.find(s, who, rid)
                git = hub.git(repo)
                sha = git.resolve("main")
                readme = git.entry(sha, "README.md")
                body_html = ""
                if readme is not None and readme.lfs is None and readme.size < 2 * 1024 * 1024:
                    card = cards.parse(git.blob(readme.oid).decode("utf-8", "replace"))
                    raw_base = f"/{rid.web_path}/resolve/main"
                    body_html = render.markdown(card.body, raw_base)
                full = f"{repo.namespace}/{repo.name}"
                tags = index.tags_of(s, [repo.id])[repo.id]
                data = {
                    "repo": repo,
                    "sha": sha,
                    "tags": tags,
                    "body_html": body_html,
                    "rid": rid,
                    "grouped": group_tags(repo.type, tags),
                    "downloads_days": index.downloads_by_day(s, repo),
                    "liked": bool(who and index.likes(s, who.user_id, repo)),
                    "can_write": accounts.can_write(s, who, repo),
                    "my_collections": collections.writable_choices(s, who) if who else [],
                    "datasets_used": [
                        x for x in (repo.card_data or {}).get("datasets", []) or [] if isinstance(x, str)
                    ]
                    if repo.type == "model"
                    else [],
                    "spaces_using": index.linked_from(s, who, "model", full, "space")
                    if repo.type == "model"
                    else [],
                    "trained_here": index.linked_from(s, who, "dataset", full)
                    if repo.type == "dataset"
                    else [],
                    "children": index.children_count(s, who, full) if repo.type == "model" else {},
                    "base_models": (repo.derived or {}).get("baseModels", []),
                    "last_commit": git.log(sha, limit=1)[0],
                    "file_count": len(git.all_files(sha)),
                }
                data["spark"] = render.sparkline([n for _, n in data["downloads_days"]])
                if repo.type == "dataset":  # the viewer section: subsets, splits, a first page of rows
                    data["v"] = dataset_viewer.context(
                        hub,
                        dataset_viewer.service.state(s, repo),
                        f"/{rid.web_path}",
                        dict(request.query_params),
                    )
                return data

        data = await web.run(do)
        return await web.page(request, "repo.html", tab="card", **data)

    router.add("GET", "/", home)
    router.add("GET", r"/(?P<t>models|datasets|spaces)", listing)
    router.add("GET", "/search/full-text", full_text)  # before /{ns}/{name}, which matches it too
    router.add("GET", f"/{P}{ID}", repo_page)


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


def group_tags(repo_type: str, tags: list[str]) -> dict[str, list[str]]:
    """The header's chips by kind, in the Hub's order (task, libraries, datasets, languages, license, others)."""
    out: dict[str, list[str]] = {}
    for t in tags:
        g = index.facet_group(repo_type, t)
        if t.startswith("base_model:"):
            continue
        out.setdefault(g or "other", []).append(t)
    rank = {g: i for i, g in enumerate(GROUP_ORDER)}
    return dict(sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank))))
