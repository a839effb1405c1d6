"""The listing catalog against a brute-force reference over the database, through random changes.

Two catalogs on one SQLite database stand for two server processes: one follows the change log
(`sync`), the other loads from scratch; both must answer every query exactly as a plain Python filter
and sort over the rows does, page by page through their cursors.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, text

from agora.db.models import IndexLog, Repo, RepoTag
from agora.db.session import Database, migrate
from agora.hub import catalog

TYPES = ("model", "dataset", "space")
TAGS = [
    "en",
    "fr",
    "es",
    "fill-mask",
    "text-generation",
    "license:mit",
    "license:apache-2.0",
    "pytorch",
    "dataset:org/a",
    "dataset:org/b",
    "rare-one",
    "rare-two",
]
COMMON, RARE = TAGS[:-2], TAGS[-2:]
NAMESPACES = ["alice", "bob", "org1", "org2"]
OWNERS = ["alice", "bob", "org1"] * 10 + ["org2"]  # org2 owns few repos: its posting stays a sorted array
WORDS = ["bert", "gpt", "tiny", "large", "Mixed-Case"]
SORTS = [None, "downloads", "likes", "lastModified", "createdAt", "trendingScore"]
T0 = datetime(2026, 1, 1)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setattr(
        catalog, "SMALL", 10
    )  # keys with more than 10 repos become bitmaps: both kinds are used
    d = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(d.engine)
    return d


def put_tags(s: Any, repo: Repo, tags: list[str]) -> None:
    """What index.reindex writes: repo_tags rows and the joined list, together."""
    repo.tag_list = "\n".join(tags)
    s.execute(delete(RepoTag).where(RepoTag.repo_id == repo.id))
    if tags:
        s.execute(insert(RepoTag), [{"repo_id": repo.id, "tag": t} for t in tags])


def some_tags(rnd: random.Random) -> list[str]:
    """A few common tags, and now and then a rare one: rare keys stay sets, then grow into bitmaps."""
    return rnd.sample(COMMON, rnd.randrange(0, 5)) + [t for t in RARE if rnd.random() < 0.03]


def create(s: Any, rnd: random.Random, n: int) -> None:
    rtype = rnd.choice(TYPES)
    tags = some_tags(rnd)
    repo = Repo(
        type=rtype,
        namespace=rnd.choice(OWNERS),
        name=f"{rnd.choice(WORDS)}-{rnd.choice(WORDS)}-{n}",
        storage_key=f"k{n}-{rnd.random()}",
        private=rnd.random() < 0.2,
        created_at=T0 + timedelta(seconds=rnd.randrange(10_000)),
        updated_at=T0 + timedelta(seconds=rnd.randrange(10_000)),
        downloads=rnd.choice([0, 0, 1, 5, 5, 100, rnd.randrange(1000)]),
        likes=rnd.choice([0, 0, 1, 2]),
        trending_score=rnd.choice([0.0, 0.5, 1.5, rnd.random() * 10]),
        pipeline_tag=rnd.choice([None, "fill-mask", "text-generation"]),
        library_name=rnd.choice([None, "transformers"]),
        sdk="gradio" if rtype == "space" else None,
    )
    s.add(repo)
    s.flush()
    put_tags(s, repo, tags)


def mutate(s: Any, rnd: random.Random) -> None:
    ids = list(s.scalars(select(Repo.id)))
    if not ids:
        return
    repo = s.get(Repo, rnd.choice(ids))
    op = rnd.randrange(7)
    if op == 0:
        put_tags(s, repo, some_tags(rnd))
        repo.updated_at = T0 + timedelta(seconds=rnd.randrange(10_000))
    elif op == 1:
        repo.private = not repo.private
    elif op == 2:
        repo.downloads = rnd.randrange(50)
        repo.trending_score = rnd.random() * 5
    elif op == 3:
        repo.likes = rnd.randrange(4)
    elif op == 4:
        repo.name = f"{rnd.choice(WORDS)}-renamed-{repo.id}"
    elif op == 5:
        repo.namespace = rnd.choice(NAMESPACES)
    else:
        s.delete(repo)


def reference(
    s: Any,
    rtype: str,
    audience: frozenset[str] | None,
    author: str | None,
    keys: list[str],
    terms: list[str],
    sort: str | None,
) -> list[int]:
    def ms(dt: datetime) -> int:
        return (dt - datetime(1970, 1, 1)) // timedelta(milliseconds=1)

    value = {
        "downloads": lambda r: r.downloads,
        "likes": lambda r: r.likes,
        "lastModified": lambda r: ms(r.updated_at),
        "createdAt": lambda r: ms(r.created_at),
        "trendingScore": lambda r: r.trending_score,
    }
    out = []
    for r in s.scalars(select(Repo).where(Repo.type == rtype)):
        tags = set(r.tag_list.split("\n")) if r.tag_list else set()
        if r.pipeline_tag:
            tags.add(catalog.PIPELINE + r.pipeline_tag)
        if r.private and not (audience is catalog.ALL or (audience is not None and r.namespace in audience)):
            continue
        if author is not None and r.namespace != author:
            continue
        if not set(keys) <= tags:
            continue
        if not all(t.lower() in f"{r.namespace}/{r.name}".lower() for t in terms):
            continue
        out.append(((value[sort](r) if sort else 0), r.id))
    return [i for _, i in sorted(out, reverse=True)]


def paged(cat: catalog.Catalog, args: tuple[Any, ...], sort: str | None, size: int) -> list[int]:
    got: list[int] = []
    cursor = None
    while True:
        page = cat.page(catalog.Where(*args), sort, cursor, size)
        got += page
        if len(page) < size:
            return got
        last = page[-1]
        cursor = (cat.sort_value(last, sort), last) if sort else last


def random_query(rnd: random.Random) -> tuple[Any, ...]:
    audience = rnd.choice(
        [
            None,
            catalog.ALL,
            frozenset({"alice"}),
            frozenset({"bob", "org1"}),
            frozenset({"org2", "alice"}),
            frozenset({"org2"}),
        ]
    )
    author = rnd.choice([None, None, rnd.choice(NAMESPACES)])
    keys = rnd.sample(TAGS, rnd.choice([0, 0, 1, 1, 2]))
    if rnd.random() < 0.3:
        keys.append(catalog.PIPELINE + rnd.choice(["fill-mask", "text-generation"]))
    terms = rnd.sample(["bert", "gpt", "mixed-case", "-1", "renamed", "ALICE/"], rnd.choice([0, 0, 1, 2]))
    return rnd.choice(TYPES), audience, author, keys, terms


def check(s: Any, cats: list[catalog.Catalog], rnd: random.Random, queries: int = 40) -> None:
    for _ in range(queries):
        args = random_query(rnd)
        sort = rnd.choice(SORTS)
        want = reference(s, *args, sort)
        for cat in cats:
            assert paged(cat, args, sort, rnd.choice([1, 3, 7, 50])) == want, (args, sort)
            assert cat.count(catalog.Where(*args)) == len(want), args
            counts = cat.facets(catalog.Where(*args))
            expected: dict[str, int] = {}
            for i in want:
                tl = s.get(Repo, i).tag_list
                for t in tl.split("\n") if tl else []:
                    expected[t] = expected.get(t, 0) + 1
            assert dict(counts) == expected, args


@pytest.mark.parametrize(("tags_per_repo", "top_min"), [(10**9, 2), (0, 10**9)])
def test_catalog_follows_every_change_like_a_fresh_load(
    db: Database, tags_per_repo: int, top_min: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of counting facets of broad queries; sorted pages with and without the top-share shortcut."""
    monkeypatch.setattr(catalog, "TAGS_PER_REPO", tags_per_repo)
    monkeypatch.setattr(catalog, "TOP_SHARE", 4)
    monkeypatch.setattr(catalog, "TOP_MIN", top_min)
    rnd = random.Random(5)
    with db.session() as s:
        for n in range(120):
            create(s, rnd, n)
    follower = catalog.Catalog(db.engine)
    follower.load()
    follower.ready.set()
    assert any(follower.bits) and any(follower.sets)  # both posting kinds are exercised
    assert catalog.NAMESPACE + "alice" in follower.bits and catalog.NAMESPACE + "org2" in follower.sets
    for round_ in range(8):
        with db.session() as s:
            for _ in range(rnd.randrange(1, 15)):
                mutate(s, rnd)
            for n in range(rnd.randrange(0, 20)):
                create(s, rnd, 1000 * (round_ + 1) + n)
        follower.sync()
        fresh = catalog.Catalog(db.engine)
        fresh.load()
        fresh.ready.set()
        with db.session() as s:
            check(s, [follower, fresh], rnd)
    assert (top_min == 2) == any(t is not None for t in follower.top.values())


def test_search_text_follows_renames_and_deletes_past_compaction(db: Database) -> None:
    with db.session() as s:
        for n in range(30):
            s.add(Repo(type="model", namespace="alice", name=f"m{n}", storage_key=f"k{n}"))
    cat = catalog.Catalog(db.engine)
    cat.load()
    cat.ready.set()
    with db.session() as s:
        s.get(Repo, 3).name = "zebra-three"
        s.delete(s.get(Repo, 4))
        s.add(Repo(type="model", namespace="bob", name="zebra-new", storage_key="knew"))
    cat.sync()
    assert cat.page(catalog.Where("model", None, None, [], ["zebra"]), None, None, 10) == [31, 3]
    assert cat.page(catalog.Where("model", None, None, [], ["alice/m3"]), None, None, 10) == []  # id 4 was m3
    cat._build_text()  # compaction keeps the same answers
    assert cat.page(catalog.Where("model", None, None, [], ["zebra"]), None, None, 10) == [31, 3]
    assert cat.page(catalog.Where("model", None, None, [], ["zebra"]), None, 31, 10) == [3]


def test_a_late_commit_below_the_seen_sequence_is_still_applied(db: Database) -> None:
    """PostgreSQL hands out sequence numbers at insert and commits in any order: a row that appears
    below what a catalog has already read must not be lost."""
    with db.session() as s:
        s.add_all([Repo(type="model", namespace="alice", name=n, storage_key=n) for n in ("x", "y")])
    cat = catalog.Catalog(db.engine)
    cat.load()
    cat.ready.set()
    with db.engine.begin() as c:
        top = c.scalar(select(func.max(IndexLog.seq))) or 0
        c.execute(text("UPDATE repos SET downloads = 7 WHERE name = 'x'"))
        c.execute(insert(IndexLog).values(seq=top + 2, repo_id=1))  # committed first
    cat.sync()
    assert cat.sort_value(1, "downloads") == 7 and top + 1 in cat.gaps
    with db.engine.begin() as c:
        c.execute(text("UPDATE repos SET downloads = 9 WHERE name = 'y'"))
        c.execute(insert(IndexLog).values(seq=top + 1, repo_id=2))  # the slower transaction
    cat.sync()
    assert cat.sort_value(2, "downloads") == 9 and not cat.gaps
    assert cat.page(catalog.Where("model", None, None, [], []), "downloads", None, 5) == [2, 1]


def test_a_catalog_behind_a_pruned_log_reloads(db: Database) -> None:
    with db.session() as s:
        s.add(Repo(type="model", namespace="alice", name="a", storage_key="a"))
    cat = catalog.Catalog(db.engine)
    cat.load()
    cat.ready.set()
    with db.session() as s:
        s.add(Repo(type="dataset", namespace="alice", name="b", storage_key="b"))
        s.get(Repo, 1).likes = 3
    with db.engine.begin() as c:  # the rows this catalog has not read are gone
        c.execute(delete(IndexLog))
        c.execute(insert(IndexLog).values(seq=10_000, repo_id=1))
    cat.sync()
    assert cat.page(catalog.Where("dataset", None, None, [], []), None, None, 5) == [2]
    assert cat.sort_value(1, "likes") == 3


def test_growing_past_capacity_keeps_bitmaps_and_columns(db: Database) -> None:
    with db.session() as s:
        for n in range(20):
            repo = Repo(type="model", namespace="alice", name=f"g{n}", storage_key=f"g{n}", downloads=n)
            s.add(repo)
            s.flush()
            put_tags(s, repo, ["en"])
    cat = catalog.Catalog(db.engine)
    cat.load()
    cat.ready.set()
    assert "en" in cat.bits and cat.cap == 1024
    with db.session() as s:
        far = Repo(id=5000, type="model", namespace="bob", name="far", storage_key="far", downloads=100)
        s.add(far)
        s.flush()
        put_tags(s, far, ["en"])
    cat.sync()
    assert cat.cap > 5000
    assert cat.page(catalog.Where("model", None, None, ["en"], []), "downloads", None, 3) == [5000, 20, 19]
    assert cat.count(catalog.Where("model", None, None, ["en"], [])) == 21
    assert cat.page(catalog.Where("model", None, "bob", [], ["far"]), None, None, 3) == [5000]


def test_sort_keys_with_mostly_equal_values_still_page_exactly(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Most repos have no likes: the top-share threshold must not be 0 (a 'top' of everything, rebuilt at each
    query) and pages stay exact whether the top share holds them or not."""
    monkeypatch.setattr(catalog, "TOP_MIN", 2)
    with db.session() as s:
        for n in range(200):
            s.add(
                Repo(
                    type="model",
                    namespace="alice",
                    name=f"z{n}",
                    storage_key=f"z{n}",
                    likes=0 if n % 50 else 1,
                    downloads=0,
                )
            )
    cat = catalog.Catalog(db.engine)
    cat.load()
    cat.ready.set()
    likes, downloads = cat.top["likes"], cat.top["downloads"]
    assert likes is not None and likes.threshold == 1 and likes.count == 4
    assert downloads is not None and downloads.count == 0  # all equal: nothing above, pages fall back
    with db.session() as s:
        for sort, size in (("likes", 3), ("downloads", 7)):
            assert paged(cat, ("model", None, None, [], []), sort, size) == reference(
                s, "model", None, None, [], [], sort
            )
    assert cat._top("likes") is likes  # stable: not chosen again at every query
