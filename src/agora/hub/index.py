"""The metadata index: derived tags, links and search text per repo, and the listing queries over them.

Everything here is derived from (repo, commit) and can be rebuilt by `reindex`. Listings, counts and facets
are answered by the in-memory catalog (hub/catalog/) that follows these tables. Full-text search over
card text uses an FTS5 table with the trigram tokenizer on SQLite (ranked by bm25); other databases fall
back to case-insensitive LIKE over the id and tags.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import struct
from dataclasses import dataclass
from datetime import date, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, desc, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from ..db.models import Account, DownloadDay, Like, Membership, Repo, RepoLink, RepoTag, ViewerResult, utcnow
from ..errors import BadRequest, NotFound
from ..ids import RepoId, repo_full
from ..storage.gitstore import Entry
from . import accounts, cards, datatags, names, reconcile, widgets
from . import taxonomy as tx
from .accounts import Principal, require_write_token

if TYPE_CHECKING:
    from ..ids import RepoId
    from ..storage.gitstore import GitRepo
    from .catalog import Catalog, Where
    from .repos import Hub

SORTS = {
    "downloads": Repo.downloads,
    "likes": Repo.likes,
    "lastModified": Repo.updated_at,
    "createdAt": Repo.created_at,
    "trendingScore": Repo.trending_score,
}
SAFETENSORS_HEADER_MAX = 32 * 1024 * 1024
DERIVED_PART_MAX = (
    64 * 1024
)  # derived tags, widgetData: each at most this as JSON (card data has its own limit)
log = logging.getLogger("agora.index")


def _is_sqlite(s: Session) -> bool:
    return s.get_bind().dialect.name == "sqlite"


# ---- building the index ---------------------------------------------------------------------------------
def reindex(s: Session, hub: Hub, repo: Repo, commit: str) -> None:
    """Re-derive card data, tags, links and search text from the repo at `commit` (its default branch)."""
    git = hub.git(repo)
    files = git.all_files(commit)
    by_path = {e.path: e for e in files}
    card = _read_card(git, by_path.get("README.md"), repo, commit)
    config = _read_config(git, by_path.get("config.json"))
    has_tok = any(
        p.rsplit("/", 1)[-1] in ("tokenizer.json", "tokenizer_config.json", "vocab.txt") for p in by_path
    )
    data = _data_facts(s, repo, commit) if repo.type == "dataset" else None
    d = cards.derive(repo.type, card, list(by_path), config, has_tok, data)
    if repo.type == "model":
        st = safetensors_params(hub, repo, [e for e in files if e.path.endswith(".safetensors")])
        if st:
            d.extra["safetensors"] = st
    if repo.type == "space" and repo.sdk and repo.sdk not in d.tags:
        d.tags.insert(0, repo.sdk)
    if repo.type == "model":
        _widget_facts(d, git, by_path, card, config)
    repo.card_data = card.data if card.data is not None else None
    repo.pipeline_tag = d.pipeline_tag
    repo.library_name = d.library_name
    repo.derived = {
        **d.extra,
        "languages": d.languages,
        "baseModels": [{"id": b, "relation": r} for b, r in d.base_models],
    }
    repo.indexed_sha = commit
    d.tags[:] = _bounded_tags(d.tags)
    repo.tag_list = "\n".join(d.tags)
    s.execute(delete(RepoTag).where(RepoTag.repo_id == repo.id))
    if d.tags:
        s.execute(insert(RepoTag), [{"repo_id": repo.id, "tag": t} for t in d.tags])
    s.execute(delete(RepoLink).where(RepoLink.repo_id == repo.id))
    links = _links(repo, d)
    if links:
        s.execute(insert(RepoLink), links)
    write_search_text(s, repo, d.tags, card.body)
    s.flush()


def _data_facts(s: Session, repo: Repo, commit: str) -> datatags.DataFacts | None:
    """What the viewer's conversion of `commit` says of the data (None until it is done)."""
    record = s.scalar(
        select(ViewerResult.data).where(ViewerResult.repo_id == repo.id, ViewerResult.revision == commit)
    )
    return datatags.facts(record)


def data_converted(hub: Hub, repo_id: int, commit: str) -> None:
    """The viewer has recorded its conversion of `commit`: derive the dataset's tags again when `commit` is
    still its head, so that `modality:` and `size_categories:` come from the data (hub/datatags.py). Under
    the repo's writer lock, like the write that moved `main`: a commit landing meanwhile derives from its
    own head, and this one then changes nothing."""
    with hub.db.session() as s:
        repo = s.get(Repo, repo_id)
        if repo is None or repo.head_sha != commit:
            return
        with hub.writer(s, repo, hub.git(repo)):
            s.refresh(repo)
            if repo.head_sha == commit:
                reindex(s, hub, repo, commit)


def _small_blob(git: GitRepo, e: Entry | None) -> bytes | None:
    """A small git blob's bytes (None: absent, LFS, or above 1 MiB)."""
    if e is None or e.lfs is not None or e.size > 1024 * 1024:
        return None
    return git.blob(e.oid)


def _widget_facts(
    d: cards.Derived, git: GitRepo, by_path: dict[str, Entry], card: cards.Card, config: dict[str, Any] | None
) -> None:
    """The inference widget's fields (hub/widgets.py): mask token, chat template, widgetData, displayability."""
    tok = widgets.tokenizer_facts(
        _small_blob(git, by_path.get("tokenizer_config.json")),
        _small_blob(git, by_path.get("chat_template.jinja")),
    )
    if "mask_token" in tok:
        d.extra["mask_token"] = tok["mask_token"]
    if "chat_template" in tok and len(json.dumps(tok["chat_template"])) <= DERIVED_PART_MAX:
        cfg = d.extra.setdefault("config", {})
        cfg["tokenizer_config"] = {"chat_template": tok["chat_template"]}
    data = card.data if isinstance(card.data, dict) else {}
    wd = widgets.widget_data(data, d.pipeline_tag, tok.get("mask_token"), d.tags)
    if len(json.dumps(wd, separators=(",", ":"))) <= DERIVED_PART_MAX:
        d.extra["widgetData"] = wd  # a copy of the card's widget or the defaults; the card holds it, bounded
    else:
        d.extra.pop("widgetData", None)
    d.extra["inference"] = widgets.displayability(data, d.library_name, d.pipeline_tag, config)
    d.extra["weightBytes"] = sum(e.size for p, e in by_path.items() if p.endswith((".safetensors", ".bin")))


def _read_card(git: GitRepo, readme: Entry | None, repo: Repo, commit: str) -> cards.Card:
    """The parsed README.md (an empty card when there is none, or it is an LFS file, or above 1 MiB)."""
    text_ = ""
    if readme is not None and readme.lfs is None and readme.size <= 1024 * 1024:
        text_ = git.blob(readme.oid).decode("utf-8", "replace")
    card = cards.parse(text_)
    if card.yaml_error:  # a card pushed before the limits, or over them: index it as one without metadata
        log.warning(
            "%s/%s@%s: README.md metadata ignored: %s",
            repo.namespace,
            repo.name,
            commit[:12],
            card.yaml_error[:300],
        )
    return card


def _read_config(git: GitRepo, cfg: Entry | None) -> dict[str, Any] | None:
    """config.json's object (None: no such file, an LFS one, above 1 MiB, not JSON or not an object)."""
    if cfg is None or cfg.lfs is not None or cfg.size > 1024 * 1024:
        return None
    try:
        loaded = json.loads(git.blob(cfg.oid))
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _bounded_tags(derived: list[str]) -> list[str]:
    """The distinct tags, each at most 200 characters on one line, as many as fit in DERIVED_PART_MAX."""
    tags = list(dict.fromkeys(t[:200].replace("\n", " ") for t in derived))
    room = DERIVED_PART_MAX
    for i, t in enumerate(tags):  # tags come from the card too: bound what each answer repeats of them
        room -= len(t) + 4
        if room < 0:
            del tags[i:]
            break
    return tags


def _links(repo: Repo, d: cards.Derived) -> list[dict[str, Any]]:
    """The RepoLink rows of a model (its datasets and base models) or a space (the models and datasets it
    uses)."""
    if repo.type == "model":
        return [
            {"repo_id": repo.id, "kind": "dataset", "target": x[:200], "relation": None} for x in d.datasets
        ] + [
            {"repo_id": repo.id, "kind": "base_model", "target": b[:200], "relation": r}
            for b, r in d.base_models
        ]
    if repo.type == "space":
        return [
            {"repo_id": repo.id, "kind": kind, "target": x[:200], "relation": None}
            for kind, xs in (("model", d.models), ("dataset", d.datasets))
            for x in xs
        ]
    return []


def write_search_text(s: Session, repo: Repo, tags: list[str], body: str) -> None:
    rid = repo_full(repo.namespace, repo.name)
    repo.search_text = (rid + " " + " ".join(tags)).lower()[:4000]
    if _is_sqlite(s):
        s.execute(text("DELETE FROM repo_search WHERE rowid = :id"), {"id": repo.id})
        s.execute(
            text("INSERT INTO repo_search(rowid, rid, tags, body) VALUES (:id, :rid, :tags, :body)"),
            {"id": repo.id, "rid": rid, "tags": " ".join(tags), "body": body[:20000]},
        )


def drop(s: Session, repo: Repo) -> None:
    if _is_sqlite(s):
        s.execute(text("DELETE FROM repo_search WHERE rowid = :id"), {"id": repo.id})


def safetensors_params(hub: Hub, repo: Repo, entries: list[Any]) -> dict[str, Any] | None:
    """Parameter counts per dtype from safetensors headers, read with a range: never the whole file."""
    params: dict[str, int] = {}
    for e in entries[:64]:
        try:
            head = hub.read_range(repo, e, 0, 8)
            if len(head) < 8:
                continue
            (n,) = struct.unpack("<Q", head)
            if n > SAFETENSORS_HEADER_MAX or n + 8 > e.size:
                continue
            header = json.loads(hub.read_range(repo, e, 8, n))
        except (ValueError, OSError, KeyError):
            continue
        for name, t in header.items():
            if name == "__metadata__" or not isinstance(t, dict):
                continue
            shape = t.get("shape") or []
            if isinstance(t.get("dtype"), str) and all(isinstance(x, int) for x in shape):
                params[t["dtype"]] = params.get(t["dtype"], 0) + math.prod(shape)
    return {"parameters": params, "total": sum(params.values())} if params else None


# ---- querying ---------------------------------------------------------------------------------------------
@dataclass
class Query:
    repo_type: str
    search: list[str]
    author: str | None = None
    filters: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    sort: str | None = None


def _visible(q: Any, who: Principal | None) -> Any:
    if who is None:
        return q.where(Repo.private.is_(False))
    if who.is_admin:
        return q
    orgs = (
        select(Account.name)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == who.user_id)
    )
    return q.where(or_(Repo.private.is_(False), Repo.namespace == who.name, Repo.namespace.in_(orgs)))


def _catalog() -> ModuleType:
    """hub/catalog/, imported on first use: it brings pyarrow, which processes that only write (the git
    pre-receive hook, the command line) do not need."""
    from . import catalog

    return catalog


def audience(s: Session, who: Principal | None) -> frozenset[str] | None:
    """Whose private repos `who` may list: None (anonymous), catalog.ALL (an admin), or namespaces."""
    if who is None:
        return None
    if who.is_admin:
        everyone: frozenset[str] = _catalog().ALL
        return everyone
    orgs = s.scalars(
        select(Account.name)
        .join(Membership, Membership.org_id == Account.id)
        .where(Membership.user_id == who.user_id)
    )
    return frozenset([who.name, *orgs])


def _where(s: Session, who: Principal | None, query: Query) -> Where:
    keys = list(query.filters)
    if query.pipeline_tag:
        keys.append(_catalog().PIPELINE + query.pipeline_tag)
    terms = [t.strip().lower() for t in query.search if t.strip()]
    # author= compares without case, as on the Hub: the catalog's owner postings use the stored spelling.
    author = names.canonical(s, query.author) if query.author else None
    where: Where = _catalog().Where(query.repo_type, audience(s, who), author, keys, terms)
    return where


def _encode(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str | None) -> Any:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if sort is None and isinstance(value, int):
            return value
        if (
            sort is not None
            and isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], (int, float))
            and isinstance(value[1], int)
        ):
            return value[0], value[1]
    except ValueError:
        pass
    raise BadRequest("Invalid cursor: use the Link header of the previous page")


def find(
    s: Session, who: Principal | None, query: Query, page_size: int, cursor: str | None = None
) -> tuple[list[int], str | None, Catalog]:
    """Ids of one page of matching repos, the next page's cursor (keyset: each repo once) and the catalog
    that answered (its `summaries` give the default listing fields without reading the rows)."""
    if query.sort and query.sort not in SORTS:
        raise BadRequest(f"Invalid sort {query.sort!r}: use one of {', '.join(SORTS)}")
    cat = _catalog().for_session(s)
    cat.sync()
    after = _decode(cursor, query.sort) if cursor else None
    ids = cat.page(_where(s, who, query), query.sort, after, page_size + 1)
    nxt = None
    if len(ids) > page_size:
        ids = ids[:page_size]
        last = ids[-1]
        nxt = _encode([cat.sort_value(last, query.sort), last] if query.sort else last)
    return ids, nxt, cat


def search(
    s: Session, who: Principal | None, query: Query, page_size: int, cursor: str | None = None
) -> tuple[list[Repo], str | None]:
    """One page of matching repos (rows, in listing order) and the cursor of the next page."""
    ids, nxt, _ = find(s, who, query, page_size, cursor)
    return rows_of(s, ids), nxt


def rows_of(s: Session, ids: list[int]) -> list[Repo]:
    """The rows of `ids`, in that order (a repo deleted meanwhile is left out)."""
    rows = {r.id: r for r in s.scalars(select(Repo).where(Repo.id.in_(ids)))} if ids else {}
    return [rows[i] for i in ids if i in rows]


def count(s: Session, who: Principal | None, query: Query) -> int:
    cat: Catalog = _catalog().for_session(s)
    cat.sync()
    return cat.count(_where(s, who, query))


def full_text(
    s: Session, who: Principal | None, repo_type: str | None, q: str, limit: int = 20
) -> list[Repo]:
    """Repos whose id, tags or card text contain `q`, best first (bm25 on SQLite's FTS5 trigram index;
    elsewhere a substring of the id and tags, most downloaded first)."""
    q = q.strip().lower()
    if not q:
        return []
    stmt = select(Repo)
    if repo_type:
        stmt = stmt.where(Repo.type == repo_type)
    stmt = _visible(stmt, who)
    if _is_sqlite(s) and len(q) >= 3:
        phrase = '"' + q.replace('"', '""') + '"'
        hits = text(
            "SELECT rowid AS id, bm25(repo_search, 10.0, 5.0, 1.0) AS score FROM repo_search "
            "WHERE repo_search MATCH :m ORDER BY score LIMIT :n"
        ).bindparams(m=phrase, n=limit * 20)
        ranked = [(rid, score) for rid, score in s.execute(hits)]
        order = {rid: i for i, (rid, _) in enumerate(ranked)}
        rows = list(s.scalars(stmt.where(Repo.id.in_(list(order))))) if order else []
        return sorted(rows, key=lambda r: order[r.id])[:limit]
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        s.scalars(
            stmt.where(Repo.search_text.like(like, escape="\\"))
            .order_by(desc(Repo.downloads), desc(Repo.id))
            .limit(limit)
        )
    )


def tags_of(s: Session, repo_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in repo_ids}
    if repo_ids:
        for rid, joined in s.execute(select(Repo.id, Repo.tag_list).where(Repo.id.in_(repo_ids))):
            out[rid] = joined.split("\n") if joined else []
    return out


def facet_group(repo_type: str, tag: str) -> str | None:
    if repo_type == "dataset":
        prefix, sep, _ = tag.partition(":")
        return prefix if sep and prefix in tx.DATASET_PREFIXES else None
    if tag in tx.TASK_SET:
        return "pipeline_tag"
    if tag.startswith("license:"):
        return "license"
    if tag.startswith("dataset:"):
        return "dataset"
    if tag in tx.LIBRARIES or tag in ("pytorch", "safetensors", "tf", "jax", "onnx", "gguf"):
        return "library"
    if cards.is_known_language(tag):
        return "language"
    if tag.startswith(("base_model:", "arxiv:")):
        return None
    return "other"


def facets(
    s: Session, who: Principal | None, query: Query, per_group: int = 50
) -> dict[str, list[dict[str, Any]]]:
    """Counts per tag value over the repos matching `query`, grouped for the sidebar."""
    cat = _catalog().for_session(s)
    cat.sync()
    counts = cat.facets(_where(s, who, query))
    out: dict[str, list[dict[str, Any]]] = {}
    for tag, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        g = facet_group(query.repo_type, tag)
        if g is None:
            continue
        items = out.setdefault(g, [])
        if len(items) < per_group:
            items.append({"tag": tag, "count": n})
    return out


def linked_from(
    s: Session, who: Principal | None, kind: str, target: str, repo_type: str = "model", limit: int = 100
) -> list[Repo]:
    """Repos whose card links to `target`: models trained on a dataset, fine-tunes of a model, Spaces using it."""
    q = (
        select(Repo)
        .join(RepoLink, RepoLink.repo_id == Repo.id)
        .where(RepoLink.kind == kind, RepoLink.target == target, Repo.type == repo_type)
    )
    q = _visible(q, who).order_by(desc(Repo.downloads), Repo.id).limit(limit)
    return list(s.scalars(q).unique())


def children_count(s: Session, who: Principal | None, model_id: str) -> dict[str, int]:
    q = (
        select(RepoLink.relation, func.count())
        .join(Repo, Repo.id == RepoLink.repo_id)
        .where(RepoLink.kind == "base_model", RepoLink.target == model_id)
    )
    q = _visible(q, who).group_by(RepoLink.relation)
    return {r or "finetune": n for r, n in s.execute(q)}


# ---- counters ---------------------------------------------------------------------------------------------
WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".joblib",
    ".pkl",
    ".pt",
    ".pth",
    ".onnx",
    ".gguf",
    ".h5",
    ".keras",
    ".ckpt",
    ".msgpack",
    ".pb",
    ".tflite",
    ".mlmodel",
    ".npz",
)


def is_counting_file(repo_type: str, path: str, has_config: Any) -> bool:
    """The file whose flagged requests count as one download, as on the Hub: config.json for models that
    have one (else their weight files), README.md for datasets (every load_dataset asks for it)."""
    if repo_type == "dataset":
        return path == "README.md"
    if repo_type != "model":
        return False
    if path == "config.json":
        return True
    return "/" not in path and path.endswith(WEIGHT_SUFFIXES) and not has_config()


def count_download(s: Session, repo: Repo, when: date | None = None) -> None:
    day = (when or utcnow().date()).isoformat()
    updated = s.execute(
        update(DownloadDay)
        .where(DownloadDay.repo_id == repo.id, DownloadDay.day == day)
        .values(count=DownloadDay.count + 1)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        s.add(DownloadDay(repo_id=repo.id, day=day, count=1))
    repo.downloads_all_time = (repo.downloads_all_time or 0) + 1
    s.flush()
    refresh_counters(s, repo)


def refresh_counters(s: Session, repo: Repo) -> None:
    """downloads = last 30 days (as the Hub shows it); trending = recent downloads and likes, decayed by age."""
    today = utcnow().date()
    since = (today - timedelta(days=29)).isoformat()
    days = list(
        s.execute(
            select(DownloadDay.day, DownloadDay.count).where(
                DownloadDay.repo_id == repo.id, DownloadDay.day >= since
            )
        )
    )
    repo.downloads = sum(n for _, n in days)
    score = 0.0
    for d, n in days:
        age = (today - date.fromisoformat(d)).days
        score += n * (0.5 ** (age / 3))
    week = utcnow() - timedelta(days=7)
    recent_likes = (
        s.scalar(
            select(func.count()).select_from(Like).where(Like.repo_id == repo.id, Like.created_at >= week)
        )
        or 0
    )
    repo.trending_score = round(score + 5 * recent_likes, 3)


def downloads_by_day(s: Session, repo: Repo, days: int = 30) -> list[tuple[str, int]]:
    today = utcnow().date()
    since = today - timedelta(days=days - 1)
    got = dict(
        s.execute(
            select(DownloadDay.day, DownloadDay.count).where(
                DownloadDay.repo_id == repo.id, DownloadDay.day >= since.isoformat()
            )
        ).all()
    )
    return [
        ((since + timedelta(days=i)).isoformat(), got.get((since + timedelta(days=i)).isoformat(), 0))
        for i in range(days)
    ]


def likes(s: Session, user_id: int, repo: Repo) -> bool:
    """Whether the user `user_id` likes `repo`."""
    return s.get(Like, (user_id, repo.id)) is not None


def set_like(s: Session, who: Principal, repo: Repo, liked: bool) -> None:
    require_write_token(who, "like a repo")  # read tokens never change anything
    row = s.get(Like, (who.user_id, repo.id))
    if liked and row is None:
        s.add(Like(user_id=who.user_id, repo_id=repo.id))
    elif not liked and row is not None:
        s.delete(row)
    s.flush()
    repo.likes = int(s.scalar(select(func.count()).select_from(Like).where(Like.repo_id == repo.id)) or 0)
    refresh_counters(s, repo)


def likers(s: Session, repo: Repo) -> list[Account]:
    return list(
        s.scalars(
            select(Account)
            .join(Like, Like.user_id == Account.id)
            .where(Like.repo_id == repo.id)
            .order_by(Like.created_at)
        )
    )


def liked_by(s: Session, who: Principal | None, user: Account) -> list[Repo]:
    q = select(Repo).join(Like, Like.repo_id == Repo.id).where(Like.user_id == user.id)
    return list(s.scalars(_visible(q, who).order_by(desc(Like.created_at))))


# ---- in a session of their own: for the HTTP handlers (called in a worker thread) ----------------------------
@dataclass(frozen=True)
class RepoInfo:
    """What a repo's info shows: the detached row, the commit, its files, the last commit's time, the tags;
    for a model, the Spaces using it and the count of models based on it (None for other types)."""

    repo: Repo
    sha: str
    files: list[Entry]
    last_modified: int | None
    tags: list[str]
    spaces: list[str] | None
    children: int | None


def repo_info(hub: Hub, who: Principal | None, rid: RepoId, rev: str) -> RepoInfo:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        git = hub.git(repo)
        if reconcile.notice(hub, repo, git):  # git's main moved without the database knowing: repaired
            s.refresh(repo)
        sha = git.resolve(rev)
        files = git.all_files(sha)
        last = git.log(sha, limit=1)
        tags = tags_of(s, [repo.id])[repo.id]
        spaces, children = None, None
        if repo.type == "model":  # reverse links: Spaces using the model, fine-tune counts
            full = repo_full(repo.namespace, repo.name)
            spaces = [repo_full(r.namespace, r.name) for r in linked_from(s, who, "model", full, "space")]
            children = sum(children_count(s, who, full).values())
        return RepoInfo(repo, sha, files, last[0].time if last else None, tags, spaces, children)


@dataclass(frozen=True)
class Listed:
    """One page of a listing: the default fields from memory (`summaries`, when `plain` was asked) or else
    the detached rows in listing order; the next page's cursor; the total if asked; the catalog that
    answered (its `tags_of` gives a row's tags)."""

    summaries: list[dict[str, Any]] | None
    rows: list[Repo]
    next: str | None
    total: int | None
    catalog: Catalog


def listed(
    hub: Hub,
    who: Principal | None,
    query: Query,
    page_size: int,
    cursor: str | None,
    with_count: bool,
    plain: bool,
) -> Listed:
    with hub.db.session() as s:
        ids, nxt, cat = find(s, who, query, page_size, cursor)
        total = count(s, who, query) if with_count else None
        if plain:  # the default fields come from memory: no row is read
            return Listed(cat.summaries(ids), [], nxt, total, cat)
        return Listed(None, rows_of(s, ids), nxt, total, cat)


def count_and_facets(
    hub: Hub, who: Principal | None, query: Query
) -> tuple[int, dict[str, list[dict[str, Any]]]]:
    with hub.db.session() as s:
        return count(s, who, query), facets(s, who, query)


def tag_groups(hub: Hub, who: Principal | None, repo_type: str) -> dict[str, list[dict[str, Any]]]:
    """Every tag value in use on the repos of `repo_type` that `who` may see, grouped."""
    with hub.db.session() as s:
        return facets(s, who, Query(repo_type, []), per_group=10_000)


def repo_likers(hub: Hub, who: Principal | None, rid: RepoId) -> list[Account]:
    with hub.db.session() as s:
        return likers(s, hub.find(s, who, rid))


def user_likes(hub: Hub, who: Principal | None, user: str) -> list[Repo]:
    """The repos `user` likes that `who` may see; NotFound if no user has that name."""
    with hub.db.session() as s:
        acc = accounts.get_account(s, user)
        if acc is None or acc.kind != "user":
            raise NotFound(f"User {user!r} not found")
        return liked_by(s, who, acc)


def catalog_ready(hub: Hub) -> bool:
    """Whether this process's listing catalog is loaded: its answers then take a millisecond or two of CPU
    (until then, a listing may block for seconds)."""
    return bool(_catalog().of(hub.db.engine).ready.is_set())


def toggle_like(hub: Hub, who: Principal, rid: RepoId, liked: bool | None) -> Repo:
    """Like or unlike (`liked`; None: the other way round) a repo `who` may see; returns it, detached."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid)
        set_like(s, who, repo, not likes(s, who.user_id, repo) if liked is None else liked)
        return repo
