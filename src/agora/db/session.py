"""Engine, sessions and migrations. SQLite (WAL) by default; any SQLAlchemy URL works."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from .models import IndexLog, Repo

REPO_LOCK_SPACE = 0x41474F52  # "AGOR": the first key of the repo writer advisory locks
PRUNE_EVERY, PRUNE_KEEP = 10_000, 1_000_000  # index_log keeps its last PRUNE_KEEP rows (~20 MB)


def make_engine(url: str, lock_timeout: float = 30) -> Engine:
    """`lock_timeout`: seconds a statement waits for a lock (SQLite's busy timeout, PostgreSQL's
    lock_timeout) before it fails: a stuck database is then an error, never a hang."""
    if url.startswith("sqlite"):
        connect = {"check_same_thread": False, "timeout": lock_timeout}
        engine = create_engine(url, connect_args=connect)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
            cur.close()

        return engine
    if url.startswith("postgresql"):
        options = f"-c lock_timeout={int(lock_timeout * 1000)}"
        return create_engine(url, pool_pre_ping=True, connect_args={"options": options})
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters some columns by rebuilding the table (copy, DROP, rename: render_as_batch). With
            # foreign keys on, dropping `accounts` deletes every token, membership and like by cascade. The
            # pragma is a no-op inside a transaction: set it before one starts, and restore it after.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":  # processes starting together: one migrates
                    conn.exec_driver_sql("SET LOCAL lock_timeout = 0")  # the others wait as long as it takes
                    lock = text("SELECT pg_advisory_xact_lock(:space, 0)")
                    conn.execute(lock, {"space": REPO_LOCK_SPACE + 1})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def repo_write_lock(s: Session, repo_id: int) -> None:
    """Serialize the writers of one repo across processes and hosts, until `s` commits or rolls back.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the database's write lock (one writer for the
    whole file), taken by a write that changes nothing and held until `s` commits or rolls back. The repo's
    flock (GitRepo.lock) is released before the session commits, so it alone does not order a writer's
    reads after the previous writer's commit: two writers would read the same max(num) and allocate the
    same discussion number (issue 14).
    """
    bind = s.get_bind()
    if bind.dialect.name == "postgresql":
        s.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": REPO_LOCK_SPACE, "key": repo_id}
        )
    elif bind.dialect.name == "sqlite":
        # The driver opens the transaction (BEGIN) before a DML statement, and SQLite takes its write lock
        # for any UPDATE, even one that matches no row; a session that has written already holds it.
        s.execute(text("UPDATE repos SET id = id WHERE 0"))


class Database:
    def __init__(self, url: str, lock_timeout: float = 30) -> None:
        self.engine = make_engine(url, lock_timeout)
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


@event.listens_for(Session, "after_flush")
def _log_repo_changes(session: Session, _ctx: object) -> None:
    """Every flushed change of a Repo row (new, changed, deleted) appends its id to index_log, in the same
    transaction: the change feed the listing catalogs of every server process follow (hub/catalog/)."""
    ids = {o.id for o in (*session.new, *session.deleted, *session.dirty) if isinstance(o, Repo)}
    ids.discard(None)
    if not ids:
        return
    conn = session.connection()
    seq = 0
    for rid in sorted(ids):
        key = conn.execute(insert(IndexLog).values(repo_id=rid)).inserted_primary_key
        assert key is not None  # a single-row insert has one
        seq = key[0]
    if seq and seq % PRUNE_EVERY < len(ids):
        conn.execute(delete(IndexLog).where(IndexLog.seq < seq - PRUNE_KEEP))
