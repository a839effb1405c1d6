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


def repo_api(methods: str, suffix: str, handler: Callable[..., Any]) -> Entry:
    """An API endpoint of one repo: at /api/{models|datasets|spaces}/{ns}/{name}<suffix>."""
    from .api.common import T
    from .routing import ID  # the API modules' repo id (lazy `name`; same matches as the pages' ID)

    return api(methods, f"/api/{T}/{ID}{suffix}", handler)


def git_api(methods: str, suffix: str, handler: Callable[..., Any]) -> Entry:
    """A git or LFS endpoint of one repo: at /[datasets/|spaces/]{ns}/{name}[.git]<suffix>."""
    from .api.common import P
    from .api.lfs import GIT_ID

    return api(methods, f"/{P}{GIT_ID}{suffix}", handler)


def cas_api(methods: str, suffix: str, handler: Callable[..., Any]) -> Entry:
    """A Xet CAS endpoint: at /cas<suffix>."""
    from .api.xet import CAS

    return api(methods, f"{CAS}{suffix}", handler)


def collections_api(methods: str, suffix: str, handler: Callable[..., Any]) -> Entry:
    """A collections API endpoint: at /api/collections<suffix>."""
    return api(methods, f"/api/collections{suffix}", handler)


def viewer_api(endpoint: str, handler: Callable[..., Any]) -> list[Entry]:
    """A dataset viewer API endpoint: at /api/datasets-server/<endpoint>, and at /<endpoint> on the host datasets
    derives from HF_ENDPOINT (datasets-server.<host>)."""
    from .api.viewer import PREFIX

    return [
        api("GET", f"{PREFIX}/{endpoint}", handler),
        api("GET", f"/{endpoint}", handler, host_prefix="datasets-server."),
    ]


def repo_page(methods: str, suffix: str, handler: Callable[..., Any]) -> Entry:
    """A page of one repo: at /[datasets/|spaces/]{ns}/{name}<suffix>."""
    from .web.base import ID, P

    return page(methods, f"/{P}{ID}{suffix}", handler)


APP_METHODS = "GET POST PUT PATCH DELETE OPTIONS"  # a Space's app answers what its framework does


def table() -> list[Entry]:
    from . import git, metrics, web
    from .api import (
        avatars,
        collections,
        commits,
        discussions,
        files,
        gating,
        inference,
        lfs,
        lfs_files,
        quicksearch,
        repos,
        search,
        spaces,
        viewer,
        webhooks,
        xet,
    )
    from .api.common import T
    from .api.xet import H
    from .headers import USERCONTENT_PREFIX
    from .routing import ID as AID  # the API modules' repo id (lazy `name`; same matches as the pages' ID)
    from .web import account, browse, cardedit, community, edit
    from .web import collections as collections_pages
    from .web import files as file_pages
    from .web import search as search_page
    from .web import viewer as viewer_pages
    from .web import webhooks as webhook_pages
    from .web.base import ID, P
    from .web.collections import ITEM, SLUG

    slug = "/" + collections.SLUG
    oid = r"/(?P<repo_id>\d+)/(?P<oid>[0-9a-f]{64})"  # an LFS object of a repo

    return [
        # ---- the Hub API (api/), git and LFS over HTTP, Xet, the dataset viewer API, metrics ----------
        api("GET", "/api/whoami-v2", repos.whoami),
        api("GET", "/api/agent-harnesses", repos.agent_harnesses),
        api("POST", "/api/validate-yaml", repos.validate_yaml),
        api("POST", "/api/repos/create", repos.create),
        api("DELETE", "/api/repos/delete", repos.delete),
        api("POST", "/api/repos/move", repos.move),
        repo_api("PUT", "/settings", repos.settings),
        repo_api("GET", "/auth-check(?P<write>/write)?", gating.auth_check),
        repo_api("GET", "/user-access-request/(?P<status>pending|accepted|rejected)", gating.list_requests),
        repo_api("POST", "/user-access-request/handle", gating.handle),
        repo_api("POST", "/user-access-request/grant", gating.grant),
        repo_api("POST", "/ask-access", gating.ask_access),
        repo_api("POST", "/duplicate", repos.duplicate_repo),
        repo_api("GET", "", repos.info),
        repo_api("GET", "/revision/(?P<rev>.+)", repos.info),
        api("GET", "/api/search/full-text", search.full_text),
        api("GET", "/api/quicksearch", quicksearch.quicksearch),
        api("GET", f"/api/{T}", search.listing),
        api("GET", f"/api/{T}/facets", search.facets),
        api("GET", r"/api/(?P<t>models|datasets)-tags-by-type", search.tags_by_type),
        repo_api("POST DELETE", "/like", search.like),
        repo_api("GET", "/likers", search.likers),
        api("GET", r"/api/users/(?P<user>[^/]+)/likes", search.user_likes),
        repo_api("GET", "/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", files.tree),
        repo_api("POST", "/paths-info/(?P<rev>[^/]+)", files.paths_info),
        api("GET", f"/{P}{AID}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", files.resolve),
        api("GET", f"{USERCONTENT_PREFIX}/{P}{AID}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", files.usercontent),
        repo_api("POST", "/preupload/(?P<rev>[^/]+)", commits.preupload),
        repo_api("POST", "/commit/(?P<rev>[^/]+)", commits.commit),
        repo_api("GET", "/commits/(?P<rev>[^/]+)", commits.history),
        repo_api("POST", "/super-squash/(?P<rev>[^/]+)", commits.super_squash),
        repo_api("POST", "/lfs-files/duplicate", lfs_files.duplicate),
        repo_api("GET", "/lfs-files", lfs_files.listing),
        repo_api("POST", "/lfs-files/batch", lfs_files.delete_batch),
        repo_api("GET", "/refs", commits.refs),
        repo_api("POST DELETE", "/branch/(?P<branch>.+)", commits.branch),
        repo_api("POST DELETE", "/tag/(?P<rev>.+)", commits.tag),
        repo_api("GET", "/discussions", discussions.listing),
        repo_api("POST", "/discussions", discussions.create),
        repo_api("GET", r"/discussions/(?P<num>\d+)", discussions.details),
        repo_api(
            "POST", r"/discussions/(?P<num>\d+)/(?P<verb>comment|title|status|merge)", discussions.action
        ),
        repo_api(
            "POST",
            r"/discussions/(?P<num>\d+)/comment/(?P<cid>[0-9a-fA-F]{1,64})/(?P<verb>edit|hide)",
            discussions.comment_action,
        ),
        collections_api("GET", "", collections.listing),
        collections_api("POST", "", collections.create),
        collections_api("GET", slug, collections.get),
        collections_api("PATCH", slug, collections.update),
        collections_api("DELETE", slug, collections.delete),
        collections_api("POST", slug + "/items", collections.add_item),
        collections_api("PATCH", slug + "/items/(?P<oid>[^/]+)", collections.update_item),
        collections_api("DELETE", slug + "/items/(?P<oid>[^/]+)", collections.delete_item),
        git_api("POST", "/info/lfs/objects/batch", lfs.batch),
        api("PUT", "/lfs/objects" + oid, lfs.upload),
        api("GET", "/lfs/objects" + oid, lfs.download),
        api("POST", "/lfs/verify" + oid, lfs.verify),
        api("PUT", r"/lfs/parts/(?P<upload_id>[0-9a-f]{32})/(?P<n>\d{1,5})", lfs.part),
        api("POST", "/lfs/complete" + oid + "/(?P<upload_id>[0-9a-f]{32})", lfs.complete),
        git_api("GET", "/info/refs", git.info_refs),
        git_api("POST", "/git-upload-pack", git.upload_pack),
        git_api("POST", "/git-receive-pack", git.receive_pack),
        git_api("GET", "/info/lfs/locks", git.locks_list),
        git_api("POST", "/info/lfs/locks", git.locks_create),
        git_api("POST", "/info/lfs/locks/verify", git.locks_verify),
        git_api("POST", "/info/lfs/locks/(?P<lock_id>[^/]+)/unlock", git.locks_unlock),
        repo_api("GET", "/xet-(?P<kind>read|write)-token/(?P<rev>[^/]+)", xet.token),
        cas_api("GET", "/v1/chunks/(?P<prefix>[^/]+)/" + H, xet.chunk),
        cas_api("POST", "/v1/xorbs/(?P<prefix>[^/]+)/" + H, xet.xorb_upload),
        cas_api("POST", "/v1/xorb-grants/.*", xet.not_here),
        cas_api("POST", "/v1/shards", xet.shard_upload),
        cas_api("POST", "/v2/shards", xet.shard_upload_v2),
        cas_api("GET", "/v(?P<v>[12])/reconstructions/" + H, xet.reconstruction),
        cas_api("GET", "/fetch/(?P<h>[0-9a-f]{64})", xet.fetch),
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
        # webhooks of the calling user (api/webhooks.py)
        api("GET POST", "/api/settings/webhooks", webhooks.collection),
        api("GET POST DELETE", "/api/settings/webhooks/(?P<uid>[^/]+)", webhooks.item),
        api("POST", "/api/settings/webhooks/(?P<uid>[^/]+)/(?P<verb>enable|disable)", webhooks.switch),
        api("GET", "/api/settings/webhooks/(?P<uid>[^/]+)/deliveries", webhooks.deliveries),
        api(
            "POST",
            r"/api/settings/webhooks/(?P<uid>[^/]+)/deliveries/(?P<delivery>\d+)/replay",
            webhooks.replay,
        ),
        api("GET", r"/avatars/(?P<name>[^/]+)", avatars.avatar),
        api("GET", r"/api/organizations/(?P<org>[^/]+)/overview", avatars.overview),
        api("GET", r"/api/organizations/(?P<org>[^/]+)/members", avatars.members),
        api("GET", r"/api/users/(?P<user>[^/]+)/overview", avatars.user_overview),
        # the Inference API (api/inference.py): InferenceClient(model=f"{HUB}/models/{id}"), the widget
        api("POST", f"/models/{AID}/pipeline/(?P<task>[^/]+)", inference.run_pipeline),
        api("POST", f"/models/{AID}/v1/chat/completions", inference.chat_model),
        api("POST", "/v1/chat/completions", inference.chat_any),
        api("POST", f"/models/{AID}", inference.run_model),
        api("POST", f"/hf-inference/models/{AID}/pipeline/(?P<task>[^/]+)", inference.run_pipeline),
        api("POST", f"/hf-inference/models/{AID}", inference.run_model),
        api("GET", f"/status/{AID}", inference.status),
        # Spaces (api/spaces.py): the runtime API, a static Space's app under its reserved /app/ path
        api("GET", f"/api/spaces/{AID}/runtime", spaces.runtime),
        api("GET", f"/api/spaces/{AID}/logs/(?P<kind>build|run)", spaces.logs),
        api("POST", f"/api/spaces/{AID}/pause", spaces.pause),
        api("POST", f"/api/spaces/{AID}/restart", spaces.restart),
        api("POST", f"/api/spaces/{AID}/sleeptime", spaces.sleeptime),
        api("POST", f"/api/spaces/{AID}/hardware", spaces.hardware),
        api("GET POST DELETE", f"/api/spaces/{AID}/secrets", spaces.secrets),
        api("GET POST DELETE", f"/api/spaces/{AID}/variables", spaces.variables),
        api("GET", f"/spaces/{AID}/app", spaces.app_root),
        api(
            APP_METHODS, rf"/spaces/{AID}/app/~(?P<exp>\d+)\.(?P<sig>[0-9a-f]{{64}})/(?P<path>.*)", spaces.app
        ),
        api(APP_METHODS, f"/spaces/{AID}/app/(?P<path>.*)", spaces.app),
        # ---- the pages (web/): last, their catch-all patterns come after the API's ----------------------
        page("GET", r"/static/pygments\.css", web.pygments_css),
        page("GET", r"/static/(?P<path>.+)", web.static),
        page("GET", r"/favicon\.ico", web.favicon),  # browsers ask for it whatever the page links
        page("GET POST", "/login", account.login),
        page("POST", "/logout", account.logout),
        page("GET POST", "/join", account.join),
        page("GET POST", "/settings/site", account.admin),
        page("GET POST", "/settings/tokens", account.tokens),
        page("GET POST", "/settings/password", account.password),
        page("GET", "/settings/audit", account.audit_log),
        page("GET POST", "/settings/webhooks", webhook_pages.listing),
        page("GET POST", "/settings/webhooks/(?P<uid>[^/]+)", webhook_pages.detail),
        page("GET POST", r"/(?P<kind>new|new-dataset|new-space)", account.new_repo),
        page("GET POST", "/organizations/new", account.new_org),
        page("GET POST", r"/organizations/(?P<org>[^/]+)/members", account.members),
        page("GET POST", r"/organizations/(?P<org>[^/]+)/settings", account.org_settings),
        page("PUT", r"/organizations/(?P<org>[^/]+)/avatar", account.org_avatar),
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
        repo_page("GET", "/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", file_pages.tree),
        repo_page("GET", "/blob/(?P<rev>[^/]+)/(?P<path>.+)", file_pages.blob),
        repo_page("GET", "/raw/(?P<rev>[^/]+)/(?P<path>.+)", file_pages.raw),
        repo_page("GET", "/commits/(?P<rev>[^/]+)(?:/(?P<path>.+))?", file_pages.commits),
        repo_page("GET", "/commit/(?P<sha>[0-9a-f]{7,40})", file_pages.commit),
        repo_page("POST", "/revert", file_pages.revert),
        repo_page("GET", "/upload/(?P<rev>[^/]+)", edit.upload_page),
        repo_page("PUT", "/upload-blob", edit.upload_blob),
        repo_page("POST", "/upload/(?P<rev>[^/]+)", edit.upload_commit),
        repo_page("GET POST", "/edit/(?P<rev>[^/]+)/(?P<path>.+)", edit.edit),
        repo_page("GET POST", "/new/(?P<rev>[^/]+)", edit.edit),
        repo_page("POST", "/delete/(?P<rev>[^/]+)/(?P<path>.+)", edit.delete_file),
        repo_page("GET POST", "/edit-card/(?P<rev>[^/]+)", cardedit.editor),  # the card editor (issue 18)
        repo_page("POST", "/card-preview", cardedit.preview),
        repo_page("GET POST", "/settings", edit.settings),
        repo_page("POST", "/like", edit.like),
        repo_page("POST", "/ask-access", browse.ask_access),
        repo_page("GET POST", "/gated-users", edit.gated_users),
        repo_page("GET", "/discussions", community.discussions),
        repo_page("GET POST", "/discussions/new", community.new_discussion),
        repo_page("GET", r"/discussions/(?P<num>\d+)", community.thread),
        repo_page("GET", r"/discussions/(?P<num>\d+)/files", community.files),
        repo_page("POST", r"/discussions/(?P<num>\d+)/(?P<verb>comment|title|status|merge)", community.act),
        repo_page(
            "POST",
            r"/discussions/(?P<num>\d+)/comment/(?P<cid>[0-9a-fA-F]{1,64})/(?P<verb>edit|hide)",
            community.comment_act,
        ),
        page("GET", f"/spaces/{ID}/app-status", browse.space_status),
        # the home page, the lists, full-text search, the repo page
        page("GET", "/", browse.home),
        page("GET", r"/(?P<t>models|datasets|spaces)", browse.listing),
        page("GET", "/search/full-text", browse.full_text),  # before /{ns}/{name}, which matches it too
        page("GET", "/search", search_page.results),  # before /{name}, which matches it too
        repo_page("GET", "", browse.repo_page),
        page("GET", r"/(?P<name>[^/]+)", account.profile),  # /{name}: the last pattern
    ]


def build(ctx: Ctx) -> Router:
    """The router of `ctx`'s server: the table above, each handler bound to its context."""
    from .web import page_handler
    from .web.base import Web

    router = Router(ctx.settings.data)
    web = Web(ctx)
    ctx.browser_who = web.who
    for e in table():
        if e.kind == "api":
            router.add(e.methods, e.pattern, functools.partial(e.handler, ctx), e.host_prefix)
        else:
            router.add(e.methods, e.pattern, page_handler(web, functools.partial(e.handler, web)))
    router.fallback = web.fallback
    from ..hub import names
    from .canonical import Names

    router.canonical = ctx.canonical = Names(lambda: ctx.run(names.canonical_ids, ctx.hub))
    from .api import spaces

    # WebSocket: only to a Space's app (Streamlit's connection), through the proxy
    app = r"/spaces/(?P<ns>[^/]+)/(?P<name>[^/]+)/app/"
    ws = functools.partial(spaces.app_websocket, ctx)
    router.add_ws(app + r"~(?P<exp>\d+)\.(?P<sig>[0-9a-f]{64})/(?P<path>.*)", ws)
    router.add_ws(app + r"(?P<path>.*)", ws)
    # A Space's own host (AGORA_SPACES_DOMAIN, marked by headers.Guard): its app, nothing else
    router.space_host = functools.partial(spaces.app_on_host, ctx)
    router.space_host_ws = functools.partial(spaces.websocket_on_host, ctx)
    return router
