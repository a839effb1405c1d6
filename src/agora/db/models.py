"""Metadata tables. Git holds the content; these hold who owns what and who may see it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column, validates


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def name_key(name: str) -> str:
    """The case-insensitive key of a user, org or repo name (names are ASCII: lower() is the same in SQL)."""
    return name.lower() if isinstance(name, str) else name


def owned_by(table: str) -> MappedColumn[int]:
    """A key to the row of `table` this row belongs to (indexed): deleted with it."""
    return mapped_column(ForeignKey(f"{table}.id", ondelete="CASCADE"), index=True)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A user or an organization: both own repos and share one namespace."""

    __tablename__ = "accounts"
    # Names compare without case, as on the Hub (hub/names.py): one name_key per account. The index is
    # unique unless migration 0010 found case twins (`agora fsck` reports them, `--fix-indexes` re-enforces).
    __table_args__ = (Index("ix_accounts_name_key", "name_key", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(96), unique=True, index=True)
    # lower(name), set whenever name is (nullable only because 0010 added it to existing tables)
    name_key: Mapped[str] = mapped_column(String(96), nullable=True)
    kind: Mapped[str] = mapped_column(String(8))  # "user" | "org"
    fullname: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # A disabled user cannot log in; their sessions and tokens stop working (agora user disable|enable).
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @validates("name")
    def _set_name_key(self, _key: str, value: str) -> str:
        self.name_key = name_key(value)
        return value


class WebSession(Base):
    """A browser session: the cookie carries the random id, the table keeps only its sha256 so that a copy of
    the database logs nobody in. Logout and password changes revoke rows; any process checks them."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = owned_by("accounts")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginFailure(Base):
    """Failed log-ins per key ("ip:1.2.3.4", "user:alice") within a window: shared by every server process."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = owned_by("accounts")
    user_id: Mapped[int] = owned_by("accounts")
    role: Mapped[str] = mapped_column(String(8))  # read | write | admin


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = owned_by("accounts")
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(8))  # read | write
    digest: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # sha256 of the secret
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Repo(Base):
    __tablename__ = "repos"
    __table_args__ = (
        UniqueConstraint("type", "namespace", "name"),
        # One repo per (type, namespace, name) whatever the case: unique unless 0010 found twins (as accounts).
        Index("ix_repos_name_key", "type", "namespace_key", "name_key", unique=True),
        Index("ix_repos_type_downloads", "type", "downloads", "id"),
        Index("ix_repos_type_likes", "type", "likes", "id"),
        Index("ix_repos_type_updated", "type", "updated_at", "id"),
        Index("ix_repos_type_created", "type", "created_at", "id"),
        Index("ix_repos_type_trending", "type", "trending_score", "id"),
        Index("ix_repos_type_pipeline", "type", "pipeline_tag", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(8))
    namespace: Mapped[str] = mapped_column(String(96), index=True)
    name: Mapped[str] = mapped_column(String(96))
    namespace_key: Mapped[str] = mapped_column(String(96), nullable=True)  # lower(namespace), set with it
    name_key: Mapped[str] = mapped_column(String(96), nullable=True)  # lower(name), set with it
    # The git dir is keyed by a stable id so that a move is a metadata change only.
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    gated: Mapped[str | None] = mapped_column(String(8), nullable=True)  # None | auto | manual
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    head_sha: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sdk: Mapped[str | None] = mapped_column(String(16), nullable=True)
    card_data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    downloads: Mapped[int] = mapped_column(Integer, default=0)  # last 30 days, as the Hub shows it
    likes: Mapped[int] = mapped_column(Integer, default=0)
    # Derived by hub/index.py from the default branch (recomputable; keyed by indexed_sha).
    downloads_all_time: Mapped[int] = mapped_column(BigInteger, default=0)
    trending_score: Mapped[float] = mapped_column(Float, default=0.0)
    pipeline_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    library_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    derived: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    indexed_sha: Mapped[str | None] = mapped_column(String(40), nullable=True)
    search_text: Mapped[str] = mapped_column(String(4000), default="")
    tag_list: Mapped[str] = mapped_column(
        Text, default=""
    )  # the repo_tags of this repo, in order, "\n"-joined

    @validates("namespace", "name")
    def _set_name_keys(self, key: str, value: str) -> str:
        setattr(self, f"{key}_key", name_key(value))
        return value


class LfsObject(Base):
    """Which repo has uploaded (and so may reference) which LFS object."""

    __tablename__ = "lfs_objects"
    __table_args__ = (UniqueConstraint("repo_id", "oid"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = owned_by("repos")
    oid: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Discussion(Base):
    """Discussions and pull requests; a PR's branch is refs/pr/{num}."""

    __tablename__ = "discussions"
    __table_args__ = (UniqueConstraint("repo_id", "num"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = owned_by("repos")
    num: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    is_pr: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(8), default="open")
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class LfsLock(Base):
    """A Git LFS file lock (`git lfs lock`): at most one per path in a repo."""

    __tablename__ = "lfs_locks"
    __table_args__ = (UniqueConstraint("repo_id", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = owned_by("repos")
    path: Mapped[str] = mapped_column(String(1024))
    owner_id: Mapped[int] = owned_by("accounts")
    ref_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RepoTag(Base):
    """A derived tag of a repo's default branch: what `filter=` matches and the facets count."""

    __tablename__ = "repo_tags"
    __table_args__ = (UniqueConstraint("repo_id", "tag"), Index("ix_repo_tags_tag", "tag", "repo_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(200))


class RepoLink(Base):
    """A card's link to another repo: dataset (trained on), base_model (with relation), model (Space uses)."""

    __tablename__ = "repo_links"
    __table_args__ = (Index("ix_repo_links_target", "kind", "target"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = owned_by("repos")
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str | None] = mapped_column(String(16), nullable=True)


class IndexLog(Base):
    """One row per change of a repo's listing fields (written by the session hook in db/session.py): how
    every server process's in-memory catalog learns of changes made by the others."""

    __tablename__ = "index_log"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    repo_id: Mapped[int] = mapped_column(Integer)


class DownloadDay(Base):
    __tablename__ = "download_days"
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD (UTC)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Like(Base):
    __tablename__ = "likes"
    user_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(
        ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ---- Xet storage (issue 4): content-addressed, global like the blob store; repos reach it via LfsObject ----


class XetXorb(Base):
    """A verified xorb in the xorb store; `meta` packs per chunk (hash, record end, unpacked end)."""

    __tablename__ = "xet_xorbs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # Xet string form
    size: Mapped[int] = mapped_column(BigInteger)  # serialized bytes stored
    num_chunks: Mapped[int] = mapped_column(Integer)
    unpacked: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # When a global dedup answer last named it (noted at most once a day): the client that got the answer
    # believes for the shard's expiry that the xorb is here, so `agora gc` keeps it for its grace after this.
    offered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class XetFile(Base):
    """A file registered by a shard: its Xet file hash, the verified sha256 of its bytes, its terms."""

    __tablename__ = "xet_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    terms: Mapped[bytes] = mapped_column(LargeBinary)  # packed (xorb hash, start, end, unpacked) records
    shard: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of the shard it came in
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class XetChunk(Base):
    """Global dedup index over a subset of chunks (file starts, hash % 1024 == 0): chunk -> xorb, index."""

    __tablename__ = "xet_chunks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chunk_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    xorb_hash: Mapped[str] = mapped_column(String(64))
    chunk_index: Mapped[int] = mapped_column(Integer)
    file_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


# ---- background jobs and the dataset viewer (issue 7): derived data, keyed by the commit it came from ----
class Job(Base):
    """A unit of background work. A worker takes it with a compare-and-set on (status, claim)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    repo_id: Mapped[int] = owned_by("repos")
    revision: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(8), default="queued")  # queued | running | done | failed
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the worker that took it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The lease: the worker renews it while the job runs; a running job whose lease lapsed lost its worker.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ViewerResult(Base):
    """What the parquet conversion of a dataset at `revision` produced: configs, splits, files, errors."""

    __tablename__ = "viewer_results"
    __table_args__ = (UniqueConstraint("repo_id", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = owned_by("repos")
    revision: Mapped[str] = mapped_column(String(40))
    parquet_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ---- collections: curated, ordered lists of repos owned by a user or an org ----
class Collection(Base):
    """A collection. Its slug is `{owner}/{slugified title}-{uid}`, the Hub's shape: the title part follows
    renames, so a collection is found by its `uid` (24 hex) and the owner, never by the title part."""

    __tablename__ = "collections"
    __table_args__ = (Index("ix_collections_owner_updated", "owner", "updated_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(24), unique=True, index=True)
    owner: Mapped[str] = mapped_column(String(96))  # a namespace (user or org), as Repo.namespace
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    theme: Mapped[str] = mapped_column(String(16), default="default")
    position: Mapped[int] = mapped_column(Integer, default=0)  # its place among the owner's collections
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CollectionItem(Base):
    """A repo in a collection. Keyed by repo id, so a moved repo stays in; a deleted one cascades away. Or a
    paper (`paper_id`, an arXiv id) or another collection (`target_id`; cascades away with it): exactly one
    of the three is set."""

    __tablename__ = "collection_items"
    __table_args__ = (
        UniqueConstraint("collection_id", "repo_id"),
        Index("ix_collection_items_repo", "repo_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    repo_id: Mapped[int | None] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    paper_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """One admin or account action (hub/audit.py). Names, not foreign keys: an entry outlives the user,
    repo or token it names, and no later rename rewrites history."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor", "actor", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(96), nullable=True)  # user name; None = the system / CLI
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


# ---- Spaces (issue 16): what the owner set through the runtime API; the app itself is the repo's --------
class SpaceSettings(Base):
    """A Space's runtime settings: paused by its owner, its sleep time (huggingface_hub's `gcTimeout`)."""

    __tablename__ = "space_settings"
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sleep_time: Mapped[int | None] = mapped_column(Integer, nullable=True)  # seconds; -1: never sleeps
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SpaceVariable(Base):
    """A Space's variable or secret, given to its app as an environment variable. A secret's value is never
    answered by the API (write-only) nor exported."""

    __tablename__ = "space_variables"
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SpaceRun(Base):
    """A gradio/streamlit Space's life on this host: which server process supervises it (a lease renewed by
    its heartbeat), its stage, the commit it runs and where its app answers (the shim's unix socket)."""

    __tablename__ = "space_runs"
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)  # "<host>:<pid>:<start>"
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    stage: Mapped[str] = mapped_column(String(32), default="SLEEPING")
    sha: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the commit running (or being built)
    socket: Mapped[str | None] = mapped_column(String(500), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)  # bumped by a restart request: the owner obeys
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Webhook(Base):
    """A user's webhook (issue 17): what it watches (repos, users, orgs), which domains ("repo",
    "discussion"), where it posts and with which secret. `uid` is the id the API answers; `base_url` is the
    Hub's address as its owner last reached it, for the links in payloads when AGORA_PUBLIC_URL is unset."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(24), unique=True)
    owner_id: Mapped[int] = owned_by("accounts")
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    watched: Mapped[list[dict[str, str]]] = mapped_column(JSON)  # [{"type": "model", "name": "ns/name"}]
    domains: Mapped[list[str]] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook, and its delivery: a queue row (status, next attempt, claim + lease, as
    jobs) and the log the settings page shows (each attempt's status code, duration, error, answer)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = owned_by("webhooks")
    event: Mapped[str] = mapped_column(String(64))  # "<scope>.<action>", e.g. "repo.content.update"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | running | ok | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # one entry per attempt
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# ---- gated repos (issue 17): who asked for access, what they answered, what the repo's writers decided -----
class AccessRequest(Base):
    """A user's access request to a gated repo (or a grant they did not ask for): pending, accepted or
    rejected, with the answers to the card's `extra_gated_fields`. One row per (repo, user): asking again
    after a cancel or a decision updates it."""

    __tablename__ = "access_requests"
    __table_args__ = (UniqueConstraint("repo_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = owned_by("repos")
    user_id: Mapped[int] = owned_by("accounts")
    status: Mapped[str] = mapped_column(String(16))  # pending | accepted | rejected
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it was rejected
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RepoRedirect(Base):
    """An old name of a renamed or transferred repo (`move_repo`): it keeps redirecting there (hub/names.py
    `redirect`), to those who may see the repo, until a repo is created at that name (which takes it over).
    Keyed by the lower-cased old name, as repos are."""

    __tablename__ = "repo_redirects"
    __table_args__ = (UniqueConstraint("type", "namespace_key", "name_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(8))
    namespace_key: Mapped[str] = mapped_column(String(96))  # "" for a canonical repo's old name
    name_key: Mapped[str] = mapped_column(String(96))
    old_id: Mapped[str] = mapped_column(String(200))  # the old id as it was spelled (`ns/name` or `name`)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccountAvatar(Base):
    """An organization's (or user's) uploaded avatar: an image whose type was read from its bytes (PNG, JPEG,
    GIF or WebP; never SVG), at most hub/avatars.MAX_BYTES. Served at /avatars/<name>."""

    __tablename__ = "account_avatars"
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
