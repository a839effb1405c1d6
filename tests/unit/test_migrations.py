"""Migrations: a database made by the previous release's schema (revision 0007, before web sessions, name keys
and the audit log) with rows in every table a deployment fills, upgraded to head by `db.session.migrate`,
keeps its rows and gets the right values in the new columns; the migrated schema is the models' schema
(what `alembic check` compares); an empty database upgrades to head; head downgrades to 0007 and back.

On SQLite always; on PostgreSQL (Debian's server, started in a temp folder by tests/stack.py) when
AGORA_TEST_STACK=scale or when the server's binaries are installed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, func, insert, inspect, select, text

import agora.db.session as dbs
from agora.db.models import Base
from agora.db.session import make_engine, migrate

PREVIOUS = "0007"  # the last revision of the previous release
NOW = datetime(2026, 1, 2, 3, 4, 5)
SHA = "a" * 40


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(dbs.__file__).parent / "migrations"))
    return cfg


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def run_alembic(engine: Engine, fn: Any, target: str) -> None:
    """`alembic upgrade|downgrade target` as `migrate` runs it: on SQLite with foreign keys off, or the
    tables that batch operations rebuild would take every referencing row with them (ON DELETE CASCADE)."""
    cfg = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            cfg.attributes["connection"] = conn
            fn(cfg, target)
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def fill_previous_release(engine: Engine) -> dict[str, int]:
    """Representative rows at revision 0007, written through the reflected tables (not today's models, whose
    columns the old schema does not have). Returns the row count of each table filled."""
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables

    def add(table: str, **values: Any) -> int:
        r = conn.execute(insert(t[table]).values(**values))
        return int(r.inserted_primary_key[0]) if r.inserted_primary_key else 0

    with engine.begin() as conn:
        acc = {"kind": "user", "fullname": "", "is_admin": False, "created_at": NOW}
        alice = add("accounts", name="Alice", email="alice@example.org", password_hash="x", **acc)
        bob = add("accounts", name="bob", **acc)
        org = add("accounts", name="ACME-Labs", **{**acc, "kind": "org", "fullname": "ACME Labs"})
        add("memberships", org_id=org, user_id=alice, role="admin")
        add("memberships", org_id=org, user_id=bob, role="read")
        for i, (user, role) in enumerate(((alice, "write"), (alice, "read"), (bob, "read"))):
            add(
                "tokens",
                user_id=user,
                name=f"t{i}",
                role=role,
                digest=f"{i:064x}",
                created_at=NOW,
                last_used_at=NOW if i else None,
                revoked=i == 2,
            )
        repo_cols = {
            "private": False,
            "created_at": NOW,
            "updated_at": NOW,
            "head_sha": SHA,
            "downloads": 3,
            "likes": 0,
            "downloads_all_time": 7,
            "trending_score": 0.5,
            "search_text": "",
            "tag_list": "license:mit\ntext-classification",
        }
        repos = {}
        for typ, ns, name, extra in (
            (
                "model",
                "Alice",
                "BERT-Base",
                {"card_data": {"license": "mit"}, "pipeline_tag": "text-classification"},
            ),
            ("dataset", "ACME-Labs", "Reviews", {"private": True}),
            ("space", "bob", "demo", {"sdk": "gradio"}),
        ):
            repos[typ] = add(
                "repos", type=typ, namespace=ns, name=name, storage_key=f"key-{typ}", **{**repo_cols, **extra}
            )
        add("repo_tags", repo_id=repos["model"], tag="license:mit")
        add("repo_tags", repo_id=repos["model"], tag="text-classification")
        add("repo_links", repo_id=repos["space"], kind="model", target="Alice/BERT-Base", relation=None)
        add("lfs_objects", repo_id=repos["model"], oid="b" * 64, size=12345, created_at=NOW)
        add("likes", user_id=bob, repo_id=repos["model"], created_at=NOW)
        add("likes", user_id=alice, repo_id=repos["space"], created_at=NOW)
        add("download_days", repo_id=repos["model"], day="2026-01-01", count=3)
        coll = add(
            "collections",
            uid="c" * 24,
            owner="Alice",
            title="Favourites",
            description="mine",
            private=False,
            theme="default",
            position=0,
            upvotes=1,
            created_at=NOW,
            updated_at=NOW,
        )
        add(
            "collection_items",
            collection_id=coll,
            repo_id=repos["model"],
            position=0,
            note="good",
            created_at=NOW,
        )
        add(
            "collection_items",
            collection_id=coll,
            repo_id=repos["dataset"],
            position=1,
            note=None,
            created_at=NOW,
        )
        add(
            "discussions",
            repo_id=repos["model"],
            num=1,
            title="Question",
            is_pr=False,
            status="open",
            author_id=bob,
            created_at=NOW,
            data={"events": [{"type": "comment", "text": "hi"}]},
        )
        add(
            "discussions",
            repo_id=repos["model"],
            num=2,
            title="Fix card",
            is_pr=True,
            status="merged",
            author_id=alice,
            created_at=NOW,
            data={"events": []},
        )
        add(
            "lfs_locks",
            repo_id=repos["model"],
            path="weights.bin",
            owner_id=alice,
            ref_name="refs/heads/main",
            created_at=NOW,
        )
        for rid in repos.values():
            add("index_log", repo_id=rid)
        add(
            "jobs",
            kind="dataset-convert",
            repo_id=repos["dataset"],
            revision=SHA,
            status="done",
            claim="w1",
            attempts=1,
            error=None,
            created_at=NOW,
            started_at=NOW,
            finished_at=NOW,
        )
        add(
            "jobs",
            kind="dataset-convert",
            repo_id=repos["dataset"],
            revision="c" * 40,
            status="queued",
            claim=None,
            attempts=0,
            error=None,
            created_at=NOW,
        )
        add(
            "viewer_results",
            repo_id=repos["dataset"],
            revision=SHA,
            parquet_commit="d" * 40,
            data={"configs": ["default"]},
            created_at=NOW,
        )
        add("xet_xorbs", hash="e" * 64, size=10, num_chunks=1, unpacked=20, meta=b"\x00\x01", created_at=NOW)
        add(
            "xet_files",
            file_hash="f" * 64,
            sha256="b" * 64,
            size=20,
            terms=b"\x02",
            shard=None,
            created_at=NOW,
        )
        add("xet_chunks", chunk_hash="1" * 64, xorb_hash="e" * 64, chunk_index=0, file_hash="f" * 64)
        return {
            name: conn.execute(select(func.count()).select_from(t[name])).scalar_one()
            for name in t
            if name != "alembic_version" and not name.startswith("repo_search")
        }


def schema_differences(engine: Engine) -> list[Any]:
    """What `alembic check` would report: the models' metadata against the database's schema."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(ctx, Base.metadata)

    def documented(d: Any) -> bool:
        # SQLite's full-text table (migration 0003) is raw SQL, not a model: FTS5 and its shadow tables.
        return isinstance(d, tuple) and d[0] == "remove_table" and d[1].name.startswith("repo_search")

    return [d for d in diff if not documented(d)]


def check_upgraded(engine: Engine, before: dict[str, int]) -> None:
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.connect() as conn:

        def count(name: str) -> int:
            return int(conn.execute(select(func.count()).select_from(t[name])).scalar_one())

        # every row is still there (index_log may only have grown)
        for name, n in before.items():
            assert count(name) >= n if name == "index_log" else count(name) == n, name
        accounts = conn.execute(
            select(t["accounts"].c.name, t["accounts"].c.name_key, t["accounts"].c.disabled).order_by(
                t["accounts"].c.id
            )
        ).all()
        assert [tuple(a) for a in accounts] == [
            ("Alice", "alice", False),
            ("bob", "bob", False),
            ("ACME-Labs", "acme-labs", False),
        ]
        repos = conn.execute(
            select(
                t["repos"].c.type,
                t["repos"].c.namespace_key,
                t["repos"].c.name_key,
                t["repos"].c.name,
                t["repos"].c.card_data,
                t["repos"].c.tag_list,
                t["repos"].c.private,
            ).order_by(t["repos"].c.id)
        ).all()
        assert [tuple(r) for r in repos] == [
            (
                "model",
                "alice",
                "bert-base",
                "BERT-Base",
                {"license": "mit"},
                "license:mit\ntext-classification",
                False,
            ),
            ("dataset", "acme-labs", "reviews", "Reviews", None, "license:mit\ntext-classification", True),
            ("space", "bob", "demo", "demo", None, "license:mit\ntext-classification", False),
        ]
        assert count("audit_log") == 0 and count("web_sessions") == 0 and count("login_failures") == 0
        tokens = conn.execute(
            select(t["tokens"].c.digest, t["tokens"].c.revoked).order_by(t["tokens"].c.id)
        ).all()
        assert [tuple(x) for x in tokens] == [(f"{i:064x}", i == 2) for i in range(3)]
        data = conn.execute(select(t["discussions"].c.data).where(t["discussions"].c.num == 1)).scalar_one()
        assert data == {"events": [{"type": "comment", "text": "hi"}]}
        d = t["discussions"]
        authors = conn.execute(select(d.c.author_id).order_by(d.c.num)).scalars().all()
        assert authors == [2, 1]  # not SET NULL by a rebuilt accounts table
        m = t["memberships"]
        assert conn.execute(select(m.c.user_id, m.c.role).order_by(m.c.id)).all() == [
            (1, "admin"),
            (2, "read"),
        ]
    uniques = {
        ix["name"]: bool(ix["unique"])
        for name in ("accounts", "repos")
        for ix in inspect(engine).get_indexes(name)
    }
    assert uniques["ix_accounts_name_key"] and uniques["ix_repos_name_key"]  # no case twins: unique
    assert version(engine) == head()
    assert schema_differences(engine) == []


def check_orm(engine: Engine) -> None:
    """Today's code reads the migrated rows: names in any case, tokens, memberships."""
    from sqlalchemy.orm import Session

    from agora.db.models import Account, Membership, Repo, Token
    from agora.hub import names
    from agora.ids import RepoId

    with Session(engine) as s:
        assert names.account(s, "alice").name == "Alice"
        repo = names.repo(s, RepoId("model", "ALICE", "bert-base"))
        assert repo is not None and repo.name == "BERT-Base" and repo.head_sha == SHA
        assert s.scalars(select(Membership).where(Membership.role == "read")).one().user_id == 2
        assert s.scalar(select(func.count()).select_from(Token)) == 3
        s.add(Account(name="Carol", kind="user"))  # a new row: name_key set by the model
        s.flush()
        assert s.scalars(select(Account.name_key).where(Account.name == "Carol")).one() == "carol"
        assert s.get(Repo, repo.id) is repo
        s.rollback()


def upgrade_from_previous_release(engine: Engine) -> None:
    run_alembic(engine, command.upgrade, PREVIOUS)
    assert version(engine) == PREVIOUS
    before = fill_previous_release(engine)
    assert before["repos"] == 3 and before["jobs"] == 2 and before["index_log"] == 3
    migrate(engine)
    check_upgraded(engine, before)
    check_orm(engine)
    migrate(engine)  # once at head, a second run (every server start) changes nothing
    check_upgraded(engine, before)


# ---- SQLite ---------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'agora.db'}")
    yield engine
    engine.dispose()


def test_sqlite_upgrade_from_previous_release(sqlite_engine: Engine) -> None:
    """Regression: 0008 rebuilds `accounts` on SQLite; with foreign keys on, that deleted every token,
    membership, like and LFS lock (ON DELETE CASCADE). `migrate` turns them off for the run, then back on."""
    upgrade_from_previous_release(sqlite_engine)
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_empty_database_to_head_matches_the_models(sqlite_engine: Engine) -> None:
    migrate(sqlite_engine)
    assert version(sqlite_engine) == head()
    assert schema_differences(sqlite_engine) == []
    tables = set(inspect(sqlite_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "repo_search" in tables  # the full-text table, SQLite only


def test_sqlite_downgrade_to_previous_release_and_back(sqlite_engine: Engine) -> None:
    run_alembic(sqlite_engine, command.upgrade, PREVIOUS)
    before = fill_previous_release(sqlite_engine)
    migrate(sqlite_engine)
    run_alembic(sqlite_engine, command.downgrade, PREVIOUS)
    assert version(sqlite_engine) == PREVIOUS
    tables = set(inspect(sqlite_engine).get_table_names())
    assert not tables & {"audit_log", "web_sessions", "login_failures"}
    columns = {c["name"] for c in inspect(sqlite_engine).get_columns("accounts")}
    assert "name_key" not in columns and "disabled" not in columns
    migrate(sqlite_engine)
    check_upgraded(sqlite_engine, before)


def test_sqlite_downgrade_to_base_and_back(sqlite_engine: Engine) -> None:
    migrate(sqlite_engine)
    run_alembic(sqlite_engine, command.downgrade, "base")
    left = set(inspect(sqlite_engine).get_table_names()) - {"alembic_version"}
    assert left == set()
    migrate(sqlite_engine)
    assert schema_differences(sqlite_engine) == []


# ---- PostgreSQL -----------------------------------------------------------------------------------------


def _postgres_available() -> bool:
    return os.environ.get("AGORA_TEST_STACK") == "scale" or bool(
        glob.glob("/usr/lib/postgresql/*/bin/initdb")
    )


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    if not _postgres_available():
        pytest.skip(
            "PostgreSQL is not installed (apt-get install postgresql) and AGORA_TEST_STACK is not scale"
        )
    from ..stack import Postgres

    pg = Postgres().start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg_engine(postgres: Any) -> Iterator[Engine]:
    engine = make_engine(postgres.url)
    with engine.begin() as conn:  # each test starts from an empty database
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    yield engine
    engine.dispose()


def test_postgresql_upgrade_from_previous_release(pg_engine: Engine) -> None:
    upgrade_from_previous_release(pg_engine)


def test_postgresql_empty_database_to_head_and_back(pg_engine: Engine) -> None:
    migrate(pg_engine)
    assert schema_differences(pg_engine) == []
    run_alembic(pg_engine, command.downgrade, PREVIOUS)
    assert version(pg_engine) == PREVIOUS
    migrate(pg_engine)
    assert version(pg_engine) == head() and schema_differences(pg_engine) == []
