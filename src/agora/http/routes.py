"""The one route table: every URL the server answers, in the order the router tries them.

Order matters where patterns overlap: the API and git routes come first, then the pages, whose catch-all
patterns (`/{ns}/{name}`, and last the profile `/{name}`) would otherwise swallow them. Handlers are
module-level functions: `api(...)` entries are called as `handler(ctx, request, **params)`, `page(...)`
entries as `handler(web, request, **params)` inside the page wrapper (domain errors become HTML pages,
http/web/__init__.py). Captured path segments arrive percent-decoded (http/routing.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .context import Ctx
from .routing import Router


@dataclass(frozen=True)
class Entry:
    kind: Literal["api", "page"]
    methods: str
    pattern: str
    handler: Callable[..., Any]
    host_prefix: str | None = None


def api(methods: str, pattern: str, handler: Callable[..., Any], host_prefix: str | None = None) -> Entry:
    return Entry("api", methods, pattern, handler, host_prefix)


def page(methods: str, pattern: str, handler: Callable[..., Any]) -> Entry:
    return Entry("page", methods, pattern, handler)


def viewer_api(endpoint: str, handler: Callable[..., Any]) -> list[Entry]:
    """A dataset viewer API endpoint: at /api/datasets-server/<endpoint>, and at /<endpoint> on the host datasets
    derives from HF_ENDPOINT (datasets-server.<host>)."""
    from .api.viewer import PREFIX

    return [
        api("GET", f"{PREFIX}/{endpoint}", handler),
        api("GET", f"/{endpoint}", handler, host_prefix="datasets-server."),
    ]


def table() -> list[Entry]:
    from . import git, metrics, web
    from .api import collections, commits, discussions, files, lfs, repos, search, viewer, xet
    from .api.common import T
    from .api.lfs import GIT_ID
    from .api.xet import CAS, H
    from .headers import USERCONTENT_PREFIX
    from .routing import ID as AID  # the API modules' repo id (lazy `name`; same matches as the pages' ID)
    from .web import account, browse, community, edit
    from .web import collections as collections_pages
    from .web import files as file_pages
    from .web import viewer as viewer_pages
    from .web.base import ID, P
    from .web.collections import ITEM, SLUG

    slug = collections.SLUG

    return [
        # ---- the Hub API (api/), git and LFS over HTTP, Xet, the dataset viewer API, metrics ----------
        api("GET", "/api/whoami-v2", repos.whoami),
        api("GET", "/api/agent-harnesses", repos.agent_harnesses),
        api("POST", "/api/validate-yaml", repos.validate_yaml),
        api("POST", "/api/repos/create", repos.create),
        api("DELETE", "/api/repos/delete", repos.delete),
        api("POST", "/api/repos/move", repos.move),
        api("PUT", f"/api/{T}/{AID}/settings", repos.settings),
        api("GET", f"/api/{T}/{AID}", repos.info),
        api("GET", f"/api/{T}/{AID}/revision/(?P<rev>.+)", repos.info),
        api("GET", "/api/search/full-text", search.full_text),
        api("GET", f"/api/{T}", search.listing),
        api("GET", f"/api/{T}/facets", search.facets),
        api("GET", r"/api/(?P<t>models|datasets)-tags-by-type", search.tags_by_type),
        api("POST DELETE", f"/api/{T}/{AID}/like", search.like),
        api("GET", f"/api/{T}/{AID}/likers", search.likers),
        api("GET", r"/api/users/(?P<user>[^/]+)/likes", search.user_likes),
        api("GET", f"/api/{T}/{AID}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", files.tree),
        api("POST", f"/api/{T}/{AID}/paths-info/(?P<rev>[^/]+)", files.paths_info),
        api("GET", f"/{P}{AID}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", files.resolve),
        api("GET", f"{USERCONTENT_PREFIX}/{P}{AID}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", files.usercontent),
        api("POST", f"/api/{T}/{AID}/preupload/(?P<rev>[^/]+)", commits.preupload),
        api("POST", f"/api/{T}/{AID}/commit/(?P<rev>[^/]+)", commits.commit),
        api("GET", f"/api/{T}/{AID}/commits/(?P<rev>[^/]+)", commits.history),
        api("GET", f"/api/{T}/{AID}/refs", commits.refs),
        api("POST DELETE", f"/api/{T}/{AID}/branch/(?P<branch>.+)", commits.branch),
        api("POST DELETE", f"/api/{T}/{AID}/tag/(?P<rev>.+)", commits.tag),
        api("GET", f"/api/{T}/{AID}/discussions", discussions.listing),
        api("POST", f"/api/{T}/{AID}/discussions", discussions.create),
        api("GET", rf"/api/{T}/{AID}/discussions/(?P<num>\d+)", discussions.details),
        api(
            "POST",
            rf"/api/{T}/{AID}/discussions/(?P<num>\d+)/(?P<verb>comment|title|status|merge)",
            discussions.action,
        ),
        api("GET", "/api/collections", collections.listing),
        api("POST", "/api/collections", collections.create),
        api("GET", f"/api/collections/{slug}", collections.get),
        api("PATCH", f"/api/collections/{slug}", collections.update),
        api("DELETE", f"/api/collections/{slug}", collections.delete),
        api("POST", f"/api/collections/{slug}/items", collections.add_item),
        api("PATCH", f"/api/collections/{slug}/items/(?P<oid>[^/]+)", collections.update_item),
        api("DELETE", f"/api/collections/{slug}/items/(?P<oid>[^/]+)", collections.delete_item),
        api("POST", rf"/{P}{GIT_ID}/info/lfs/objects/batch", lfs.batch),
        api("PUT", r"/lfs/objects/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})", lfs.upload),
        api("GET", r"/lfs/objects/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})", lfs.download),
        api("POST", r"/lfs/verify/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})", lfs.verify),
        api("PUT", r"/lfs/parts/(?P<upload_id>[0-9a-f]{32})/(?P<n>\d{1,5})", lfs.part),
        api(
            "POST",
            r"/lfs/complete/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})/(?P<upload_id>[0-9a-f]{32})",
            lfs.complete,
        ),
        api("GET", rf"/{P}{GIT_ID}/info/refs", git.info_refs),
        api("POST", rf"/{P}{GIT_ID}/git-upload-pack", git.upload_pack),
        api("POST", rf"/{P}{GIT_ID}/git-receive-pack", git.receive_pack),
        api("GET", rf"/{P}{GIT_ID}/info/lfs/locks", git.locks_list),
        api("POST", rf"/{P}{GIT_ID}/info/lfs/locks", git.locks_create),
        api("POST", rf"/{P}{GIT_ID}/info/lfs/locks/verify", git.locks_verify),
        api("POST", rf"/{P}{GIT_ID}/info/lfs/locks/(?P<lock_id>[^/]+)/unlock", git.locks_unlock),
        api("GET", rf"/api/{T}/{AID}/xet-(?P<kind>read|write)-token/(?P<rev>[^/]+)", xet.token),
        api("GET", rf"{CAS}/v1/chunks/(?P<prefix>[^/]+)/{H}", xet.chunk),
        api("POST", rf"{CAS}/v1/xorbs/(?P<prefix>[^/]+)/{H}", xet.xorb_upload),
        api("POST", rf"{CAS}/v1/xorb-grants/.*", xet.not_here),
        api("POST", rf"{CAS}/v1/shards", xet.shard_upload),
        api("POST", rf"{CAS}/v2/shards", xet.not_here),
        api("GET", rf"{CAS}/v(?P<v>[12])/reconstructions/{H}", xet.reconstruction),
        api("GET", rf"{CAS}/fetch/(?P<h>[0-9a-f]{{64}})", xet.fetch),
        *viewer_api("is-valid", viewer.is_valid),
        *viewer_api("splits", viewer.splits),
        *viewer_api("first-rows", viewer.first_rows),
        *viewer_api("rows", viewer.rows),
        *viewer_api("search", viewer.search),
        *viewer_api("filter", viewer.filter_rows),
        *viewer_api("parquet", viewer.parquet),
        *viewer_api("size", viewer.size),
        *viewer_api("info", viewer.info),
        *viewer_api("statistics", viewer.statistics),
        *viewer_api("cell", viewer.cell),
        api("GET", "/api/agora/metrics", metrics.metrics),
        # ---- the pages (web/): last, their catch-all patterns come after the API's ----------------------
        page("GET", r"/static/pygments\.css", web.pygments_css),
        page("GET", r"/static/(?P<path>.+)", web.static),
        page("GET POST", "/login", account.login),
        page("POST", "/logout", account.logout),
        page("GET POST", "/join", account.join),
        page("GET POST", "/settings/site", account.admin),
        page("GET POST", "/settings/tokens", account.tokens),
        page("GET POST", "/settings/password", account.password),
        page("GET", "/settings/audit", account.audit_log),
        page("GET POST", r"/(?P<kind>new|new-dataset|new-space)", account.new_repo),
        page("GET POST", "/organizations/new", account.new_org),
        page("GET POST", r"/organizations/(?P<org>[^/]+)/members", account.members),
        # /collections/{owner}/{slug}: before the /{ns}/{name} patterns
        page("GET POST", "/collections/new", collections_pages.new),
        page("POST", "/collections/add", collections_pages.add),
        page("POST", SLUG + "/edit", collections_pages.edit),
        page("GET POST", SLUG + "/delete", collections_pages.delete),
        page("POST", ITEM + "/note", collections_pages.item_note),
        page("POST", ITEM + "/move", collections_pages.item_move),
        page("POST", ITEM + "/remove", collections_pages.item_remove),
        page("GET", SLUG, collections_pages.page),
        # the dataset viewer fragment, its media cells
        page("GET", rf"/datasets/{ID}/viewer", viewer_pages.fragment),
        page("GET", rf"/datasets/{ID}/viewer/cell", viewer_pages.cell),
        # Files and versions
        page("GET", rf"/{P}{ID}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", file_pages.tree),
        page("GET", rf"/{P}{ID}/blob/(?P<rev>[^/]+)/(?P<path>.+)", file_pages.blob),
        page("GET", rf"/{P}{ID}/raw/(?P<rev>[^/]+)/(?P<path>.+)", file_pages.raw),
        page("GET", rf"/{P}{ID}/commits/(?P<rev>[^/]+)(?:/(?P<path>.+))?", file_pages.commits),
        page("GET", rf"/{P}{ID}/commit/(?P<sha>[0-9a-f]{{40}})", file_pages.commit),
        page("POST", rf"/{P}{ID}/revert", file_pages.revert),
        page("GET", f"/{P}{ID}/upload/(?P<rev>[^/]+)", edit.upload_page),
        page("PUT", f"/{P}{ID}/upload-blob", edit.upload_blob),
        page("POST", f"/{P}{ID}/upload/(?P<rev>[^/]+)", edit.upload_commit),
        page("GET POST", f"/{P}{ID}/edit/(?P<rev>[^/]+)/(?P<path>.+)", edit.edit),
        page("GET POST", f"/{P}{ID}/new/(?P<rev>[^/]+)", edit.edit),
        page("POST", f"/{P}{ID}/delete/(?P<rev>[^/]+)/(?P<path>.+)", edit.delete_file),
        page("GET POST", f"/{P}{ID}/settings", edit.settings),
        page("POST", f"/{P}{ID}/like", edit.like),
        page("GET", rf"/{P}{ID}/discussions", community.discussions),
        # the home page, the lists, full-text search, the repo page
        page("GET", "/", browse.home),
        page("GET", r"/(?P<t>models|datasets|spaces)", browse.listing),
        page("GET", "/search/full-text", browse.full_text),  # before /{ns}/{name}, which matches it too
        page("GET", rf"/{P}{ID}", browse.repo_page),
        page("GET", r"/(?P<name>[^/]+)", account.profile),  # /{name}: the last pattern
    ]


def build(ctx: Ctx) -> Router:
    """The router of `ctx`'s server: the table above, each handler bound to its context."""
    from .web import page_handler
    from .web.base import Web

    router = Router()
    web = Web(ctx)
    ctx.browser_who = web.who
    for e in table():
        if e.kind == "api":
            router.add(e.methods, e.pattern, functools.partial(e.handler, ctx), e.host_prefix)
        else:
            router.add(e.methods, e.pattern, page_handler(web, functools.partial(e.handler, web)))
    router.fallback = web.fallback
    return router
