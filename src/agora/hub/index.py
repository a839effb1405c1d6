"""The metadata index: derived tags, links and search text per repo, and the listing queries over them.

Everything here is derived from (repo, commit) and can be rebuilt by `reindex`. SQLite uses an FTS5 table
with the trigram tokenizer (substring search over id, tags and card text, ranked by bm25); other databases
fall back to case-insensitive LIKE over the same text.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, column, delete, desc, exists, func, insert, or_, select, text
from sqlalchemy.orm import Session

from ..db.models import Account, DownloadDay, Like, Membership, Repo, RepoLink, RepoTag, utcnow
from . import cards
from . import taxonomy as tx
from .accounts import Principal
from .errors import BadRequest

SORTS = {"downloads": Repo.downloads, "likes": Repo.likes, "lastModified": Repo.updated_at,
         "createdAt": Repo.created_at, "trendingScore": Repo.trending_score}
SAFETENSORS_HEADER_MAX = 32 * 1024 * 1024


def _is_sqlite(s: Session) -> bool:
    return s.get_bind().dialect.name == "sqlite"


# ---- building the index ---------------------------------------------------------------------------------
def reindex(s: Session, hub: Any, repo: Repo, commit: str) -> None:
    """Re-derive card data, tags, links and search text from the repo at `commit` (its default branch)."""
    git = hub.git(repo)
    files = git.all_files(commit)
    by_path = {e.path: e for e in files}
    readme = by_path.get("README.md")
    text_ = ""
    if readme is not None and readme.lfs is None and readme.size <= 1024 * 1024:
        text_ = git.blob(readme.oid).decode("utf-8", "replace")
    card = cards.parse(text_)
    config = None
    cfg = by_path.get("config.json")
    if cfg is not None and cfg.lfs is None and cfg.size <= 1024 * 1024:
        try:
            loaded = json.loads(git.blob(cfg.oid))
            config = loaded if isinstance(loaded, dict) else None
        except ValueError:
            config = None
    has_tok = any(p.rsplit("/", 1)[-1] in ("tokenizer.json", "tokenizer_config.json", "vocab.txt")
                  for p in by_path)
    d = cards.derive(repo.type, card, list(by_path), config, has_tok)
    if repo.type == "model":
        st = safetensors_params(hub, repo, [e for e in files if e.path.endswith(".safetensors")])
        if st:
            d.extra["safetensors"] = st
    if repo.type == "space" and repo.sdk and repo.sdk not in d.tags:
        d.tags.insert(0, repo.sdk)
    repo.card_data = card.data if card.data is not None else None
    repo.pipeline_tag = d.pipeline_tag
    repo.library_name = d.library_name
    repo.derived = {**d.extra, "languages": d.languages, "baseModels": [
        {"id": b, "relation": r} for b, r in d.base_models]}
    repo.indexed_sha = commit
    s.execute(delete(RepoTag).where(RepoTag.repo_id == repo.id))
    if d.tags:
        s.execute(insert(RepoTag), [{"repo_id": repo.id, "tag": t[:200]} for t in d.tags])
    s.execute(delete(RepoLink).where(RepoLink.repo_id == repo.id))
    links = []
    if repo.type == "model":
        links += [{"repo_id": repo.id, "kind": "dataset", "target": x[:200], "relation": None} for x in d.datasets]
        links += [{"repo_id": repo.id, "kind": "base_model", "target": b[:200], "relation": r} for b, r in d.base_models]
    elif repo.type == "space":
        links += [{"repo_id": repo.id, "kind": "model", "target": x[:200], "relation": None} for x in d.datasets]
    if links:
        s.execute(insert(RepoLink), links)
    write_search_text(s, repo, d.tags, card.body)
    s.flush()
    invalidate()


def write_search_text(s: Session, repo: Repo, tags: list[str], body: str) -> None:
    rid = f"{repo.namespace}/{repo.name}"
    repo.search_text = (rid + " " + " ".join(tags)).lower()[:4000]
    if _is_sqlite(s):
        s.execute(text("DELETE FROM repo_search WHERE rowid = :id"), {"id": repo.id})
        s.execute(text("INSERT INTO repo_search(rowid, rid, tags, body) VALUES (:id, :rid, :tags, :body)"),
                  {"id": repo.id, "rid": rid, "tags": " ".join(tags), "body": body[:20000]})


def drop(s: Session, repo: Repo) -> None:
    invalidate()
    if _is_sqlite(s):
        s.execute(text("DELETE FROM repo_search WHERE rowid = :id"), {"id": repo.id})


def safetensors_params(hub: Any, repo: Repo, entries: list[Any]) -> dict[str, Any] | None:
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
    orgs = select(Account.name).join(Membership, Membership.org_id == Account.id).where(
        Membership.user_id == who.user_id)
    return q.where(or_(Repo.private.is_(False), Repo.namespace == who.name, Repo.namespace.in_(orgs)))


# Query planning for tag filters. A selective tag should drive the query (its index gives few ids, sorted
# afterwards); when every filter is broad, walking the sort index and checking the filters row by row stops
# after about page/selectivity rows. Tag sizes are cached per process for a minute: they only steer the plan.
DRIVE_LIMIT = 5000
_tag_sizes: dict[str, tuple[float, int]] = {}


def _tag_size(s: Session, tag: str) -> int:
    now = time.monotonic()
    hit = _tag_sizes.get(tag)
    if hit and now - hit[0] < 60:
        return hit[1]
    n = int(s.scalar(select(func.count()).select_from(RepoTag).where(RepoTag.tag == tag)) or 0)
    if len(_tag_sizes) > 50_000:
        _tag_sizes.clear()
    _tag_sizes[tag] = (now, n)
    return n


def _where(s: Session, q: Any, query: Query, who: Principal | None, drive: bool = True) -> Any:
    q = _visible(q.where(Repo.type == query.repo_type), who)
    if query.author:
        q = q.where(Repo.namespace == query.author)
    filters = list(dict.fromkeys(query.filters))
    if query.pipeline_tag:
        q = q.where(Repo.pipeline_tag == query.pipeline_tag)
        if query.repo_type == "model" and query.pipeline_tag not in filters:
            filters.append(query.pipeline_tag)  # the pipeline tag is among the tags too: use it for planning
    driver = None
    if filters and drive and not query.author:
        sizes = {f: _tag_size(s, f) for f in filters}
        smallest = min(filters, key=lambda f: sizes[f])
        if sizes[smallest] <= DRIVE_LIMIT:
            driver = smallest
    for f in filters:
        if f == driver:
            q = q.where(Repo.id.in_(select(RepoTag.repo_id).where(RepoTag.tag == f)))
        else:
            q = q.where(exists().where(RepoTag.repo_id == Repo.id, RepoTag.tag == f))
    for term in query.search:
        term = term.strip().lower()
        if not term:
            continue
        if _is_sqlite(s) and len(term) >= 3:
            phrase = '"' + term.replace('"', '""') + '"'
            q = q.where(Repo.id.in_(text("SELECT rowid FROM repo_search WHERE repo_search MATCH :m")
                                    .bindparams(m=phrase).columns(column("rowid", Integer))))
        else:
            like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            q = q.where(Repo.search_text.like(like, escape="\\"))
    return q


# Counts and facets of broad queries scan many rows; they are cached briefly per process and per audience
# (anonymous, or a given user, since private repos differ). Any reindex in this process clears the cache;
# other processes see a change within CACHE_TTL seconds. Listings themselves are never cached.
CACHE_TTL = 30.0
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}


def invalidate() -> None:
    _cache.clear()


def _cached(key: tuple[Any, ...], compute: Any) -> Any:
    now = time.monotonic()
    hit = _cache.get(key)
    if hit and now - hit[0] < CACHE_TTL:
        return hit[1]
    value = compute()
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[key] = (now, value)
    return value


def _key(kind: str, who: Principal | None, query: Query, *extra: Any) -> tuple[Any, ...]:
    audience = None if who is None else ("admin" if who.is_admin else who.user_id)
    return (kind, audience, query.repo_type, tuple(query.search), query.author, tuple(query.filters),
            query.pipeline_tag, *extra)


def _encode(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise BadRequest("Invalid cursor: use the Link header of the previous page") from None


def search(s: Session, who: Principal | None, query: Query, page_size: int,
           cursor: str | None = None) -> tuple[list[Repo], str | None]:
    """One page of matching repos and the cursor of the next page (keyset pagination: each repo once)."""
    if query.sort and query.sort not in SORTS:
        raise BadRequest(f"Invalid sort {query.sort!r}: use one of {', '.join(SORTS)}")
    q = _where(s, select(Repo), query, who)
    if query.sort:
        col = SORTS[query.sort]
        if cursor:
            value, last_id = _decode(cursor)
            if query.sort in ("lastModified", "createdAt"):
                value = datetime.fromisoformat(value)
            q = q.where(or_(col < value, and_(col == value, Repo.id < last_id)))
        q = q.order_by(desc(col), desc(Repo.id))
    else:
        if cursor:
            q = q.where(Repo.id < int(_decode(cursor)))
        q = q.order_by(desc(Repo.id))
    rows = list(s.scalars(q.limit(page_size + 1)))
    nxt = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        if query.sort:
            v = getattr(last, SORTS[query.sort].key)
            nxt = _encode([v.isoformat() if isinstance(v, datetime) else v, last.id])
        else:
            nxt = _encode(last.id)
    return rows, nxt


def count(s: Session, who: Principal | None, query: Query) -> int:
    return _cached(_key("count", who, query), lambda: int(
        s.scalar(_where(s, select(func.count(Repo.id)), query, who)) or 0))


def tags_of(s: Session, repo_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in repo_ids}
    if repo_ids:
        for rid, tag in s.execute(select(RepoTag.repo_id, RepoTag.tag).where(RepoTag.repo_id.in_(repo_ids))
                                  .order_by(RepoTag.repo_id, RepoTag.id)):
            out[rid].append(tag)
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


def facets(s: Session, who: Principal | None, query: Query, per_group: int = 50) -> dict[str, list[dict[str, Any]]]:
    """Counts per tag value over the repos matching `query`, grouped for the sidebar."""
    return _cached(_key("facets", who, query, per_group), lambda: _facets(s, who, query, per_group))


def _facets(s: Session, who: Principal | None, query: Query, per_group: int) -> dict[str, list[dict[str, Any]]]:
    matching = _where(s, select(Repo.id), query, who).subquery()
    rows = s.execute(select(RepoTag.tag, func.count()).where(RepoTag.repo_id.in_(select(matching.c.id)))
                     .group_by(RepoTag.tag).order_by(desc(func.count()), RepoTag.tag))
    out: dict[str, list[dict[str, Any]]] = {}
    for tag, n in rows:
        g = facet_group(query.repo_type, tag)
        if g is None:
            continue
        items = out.setdefault(g, [])
        if len(items) < per_group:
            items.append({"tag": tag, "count": n})
    return out


def linked_from(s: Session, who: Principal | None, kind: str, target: str, repo_type: str = "model",
                limit: int = 100) -> list[Repo]:
    """Repos whose card links to `target`: models trained on a dataset, fine-tunes of a model, Spaces using it."""
    q = select(Repo).join(RepoLink, RepoLink.repo_id == Repo.id).where(
        RepoLink.kind == kind, RepoLink.target == target, Repo.type == repo_type)
    q = _visible(q, who).order_by(desc(Repo.downloads), Repo.id).limit(limit)
    return list(s.scalars(q).unique())


def children_count(s: Session, who: Principal | None, model_id: str) -> dict[str, int]:
    q = select(RepoLink.relation, func.count()).join(Repo, Repo.id == RepoLink.repo_id).where(
        RepoLink.kind == "base_model", RepoLink.target == model_id)
    q = _visible(q, who).group_by(RepoLink.relation)
    return {r or "finetune": n for r, n in s.execute(q)}


# ---- counters ---------------------------------------------------------------------------------------------
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".joblib", ".pkl", ".pt", ".pth", ".onnx", ".gguf", ".h5", ".keras",
                   ".ckpt", ".msgpack", ".pb", ".tflite", ".mlmodel", ".npz")


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
    updated = s.execute(DownloadDay.__table__.update().where(
        DownloadDay.repo_id == repo.id, DownloadDay.day == day).values(count=DownloadDay.count + 1))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        s.add(DownloadDay(repo_id=repo.id, day=day, count=1))
    repo.downloads_all_time = (repo.downloads_all_time or 0) + 1
    s.flush()
    refresh_counters(s, repo)


def refresh_counters(s: Session, repo: Repo) -> None:
    """downloads = last 30 days (as the Hub shows it); trending = recent downloads and likes, decayed by age."""
    today = utcnow().date()
    since = (today - timedelta(days=29)).isoformat()
    days = list(s.execute(select(DownloadDay.day, DownloadDay.count).where(
        DownloadDay.repo_id == repo.id, DownloadDay.day >= since)))
    repo.downloads = sum(n for _, n in days)
    score = 0.0
    for d, n in days:
        age = (today - date.fromisoformat(d)).days
        score += n * (0.5 ** (age / 3))
    week = utcnow() - timedelta(days=7)
    recent_likes = s.scalar(select(func.count()).select_from(Like).where(
        Like.repo_id == repo.id, Like.created_at >= week)) or 0
    repo.trending_score = round(score + 5 * recent_likes, 3)


def downloads_by_day(s: Session, repo: Repo, days: int = 30) -> list[tuple[str, int]]:
    today = utcnow().date()
    since = today - timedelta(days=days - 1)
    got = dict(s.execute(select(DownloadDay.day, DownloadDay.count).where(
        DownloadDay.repo_id == repo.id, DownloadDay.day >= since.isoformat())).all())
    return [((since + timedelta(days=i)).isoformat(), got.get((since + timedelta(days=i)).isoformat(), 0))
            for i in range(days)]


def set_like(s: Session, who: Principal, repo: Repo, liked: bool) -> None:
    row = s.get(Like, (who.user_id, repo.id))
    if liked and row is None:
        s.add(Like(user_id=who.user_id, repo_id=repo.id))
    elif not liked and row is not None:
        s.delete(row)
    s.flush()
    repo.likes = int(s.scalar(select(func.count()).select_from(Like).where(Like.repo_id == repo.id)) or 0)
    refresh_counters(s, repo)


def likers(s: Session, repo: Repo) -> list[Account]:
    return list(s.scalars(select(Account).join(Like, Like.user_id == Account.id).where(Like.repo_id == repo.id)
                          .order_by(Like.created_at)))


def liked_by(s: Session, who: Principal | None, user: Account) -> list[Repo]:
    q = select(Repo).join(Like, Like.repo_id == Repo.id).where(Like.user_id == user.id)
    return list(s.scalars(_visible(q, who).order_by(desc(Like.created_at))))
