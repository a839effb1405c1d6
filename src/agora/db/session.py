"""Engine, sessions and migrations. SQLite (WAL) by default; any SQLAlchemy URL works."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

REPO_LOCK_SPACE = 0x41474F52  # "AGOR": the first key of the repo writer advisory locks


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # processes starting together: one migrates, the others wait
            conn.execute(text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": REPO_LOCK_SPACE + 1})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def repo_write_lock(s: Session, repo_id: int) -> None:
    """Serialize the writers of one repo across processes and hosts, until `s` commits or rolls back.

    PostgreSQL: a transaction-scoped advisory lock. SQLite lives on one host, where the repo's flock
    (GitRepo.lock) already serializes every process, so there is nothing to add.
    """
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": REPO_LOCK_SPACE, "key": repo_id})


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
