"""Settings from the environment (AGORA_*) and command-line flags.

This is the only module that reads AGORA_* variables, and the one that names the variables Agora hands to
the processes it starts (granian workers, git's pre-receive hook). docs/settings.md lists every one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .storage.blobs import BlobStore


@dataclass
class CardLimits:
    """Bounds on README / dataset-config YAML (hub/cards.py load_yaml): size, nesting, alias expansion, JSON."""

    max_yaml_bytes: int = 1024 * 1024  # AGORA_CARD_MAX_YAML_BYTES: front matter / .huggingface.yaml text
    max_nodes: int = 200_000  # AGORA_CARD_MAX_NODES: values in the result, every alias counted expanded
    max_depth: int = 100  # AGORA_CARD_MAX_DEPTH: nesting of lists and mappings
    max_json_bytes: int = 768 * 1024  # AGORA_CARD_MAX_JSON_BYTES: the card data as JSON (stored, answered)

    @classmethod
    def from_env(cls) -> CardLimits:
        out = cls()
        for name in ("max_yaml_bytes", "max_nodes", "max_depth", "max_json_bytes"):
            v = os.environ.get(f"AGORA_CARD_{name.upper()}")
            if v:
                setattr(out, name, int(v))
        return out

    def env(self) -> dict[str, str]:
        """The same limits as AGORA_CARD_* variables, for the processes the server spawns (git hooks)."""
        return {f"AGORA_CARD_{k.upper()}": str(v) for k, v in self.__dict__.items()}


@dataclass
class ViewerLimits:
    """How much one split's parquet conversion may use (viewer/pipeline.py); past these the child process is
    killed and the split gets an error."""

    max_rss: int = 2 * 1024**3  # AGORA_VIEWER_MAX_RSS: bytes of resident memory
    timeout: float = 1800  # AGORA_VIEWER_TIMEOUT: seconds
    block_size: int = 16 * 1024 * 1024  # AGORA_VIEWER_BLOCK_SIZE: the largest row (line) of a text file

    @classmethod
    def from_env(cls) -> ViewerLimits:
        out = cls()
        for name, cast in (("max_rss", int), ("timeout", float), ("block_size", int)):
            v = os.environ.get(f"AGORA_VIEWER_{name.upper()}")
            if v:
                setattr(out, name, cast(v))
        return out


L = TypeVar("L")


def _fields_from_env(out: L, prefix: str) -> L:
    """Each field of the dataclass `out` from `<prefix><FIELD NAME>` when set, as the field's type says."""
    for f in dataclasses.fields(out):  # type: ignore[arg-type]
        v = os.environ.get(f"{prefix}{f.name.upper()}")
        if v:
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            setattr(out, f.name, v if kind == "str" else float(v) if kind == "float" else int(v))
    return out


@dataclass
class InferenceLimits:
    """The inference worker pool (src/agora/inference/): one per host, see docs/architecture.md."""

    workers: int = 1  # AGORA_INFER_WORKERS: worker processes (each ~370 MiB with torch imported)
    threads: int = 1  # AGORA_INFER_THREADS: torch threads per worker (workers x threads < cores)
    timeout: float = 30  # AGORA_INFER_TIMEOUT: seconds one request may run before 504 (worker killed)
    queue: int = 16  # AGORA_INFER_QUEUE: requests waiting per worker before 503 overloaded
    max_model_mb: int = 1024  # AGORA_INFER_MAX_MODEL_MB: weights above this are not loaded (TooBig)
    max_models: int = 8  # AGORA_INFER_MAX_MODELS: loaded models per worker (least recently used out)
    max_rss_mb: int = 4096  # AGORA_INFER_MAX_RSS_MB: a worker's memory cap (models dropped, then recycled)
    cache_mb: int = 10240  # AGORA_INFER_CACHE_MB: Xet/S3 weights rebuilt on local disk for the workers
    max_input_chars: int = 20000  # AGORA_INFER_MAX_INPUT_CHARS: text inputs longer than this: 413
    max_body_bytes: int = 256 * 1024  # AGORA_INFER_MAX_BODY_BYTES: request bodies larger than this: 413
    test_sleep: float = 0  # AGORA_INFER_TEST_SLEEP: test suite only (the input "agora-test-sleep" sleeps)
    max_binary_bytes: int = 10 * 1024 * 1024  # AGORA_INFER_MAX_BINARY_BYTES: image/audio bodies: 413 past it
    max_image_pixels: int = (
        25_000_000  # AGORA_INFER_MAX_IMAGE_PIXELS: larger images: 413 (decompression bombs)
    )
    max_audio_seconds: float = 60  # AGORA_INFER_MAX_AUDIO_SECONDS: longer audio: 413
    rate_limit: int = 3000  # AGORA_INFER_RATE_LIMIT: requests per window per user (anonymous: per IP); 0: off
    rate_window: int = 60  # AGORA_INFER_RATE_WINDOW: the rate limit's window, in seconds
    load_wait: float = 10  # AGORA_INFER_LOAD_WAIT: a widget call (X-Wait-For-Model: false) whose model would
    # take longer than this to load gets 503 "currently loading" + estimated_time (everyone else waits)

    @classmethod
    def from_env(cls) -> InferenceLimits:
        return _fields_from_env(cls(), "AGORA_INFER_")


@dataclass
class WebhookLimits:
    """Webhook deliveries (hub/webhooks.py, deliveries.py): where they may go, how long and how often."""

    # AGORA_WEBHOOK_ALLOW: hosts or CIDRs (comma-separated) allowed although they are loopback, private,
    # link-local, multicast or unspecified addresses (refused by default: the server's own network)
    allow: str = ""
    timeout: float = 10  # AGORA_WEBHOOK_TIMEOUT: seconds a whole delivery attempt may take (all of it)
    # AGORA_WEBHOOK_RETRY_DELAYS: seconds before each retry of a failed delivery (comma-separated)
    retry_delays: str = "60,300,1800,7200,43200"
    keep: int = 50  # AGORA_WEBHOOK_KEEP: deliveries kept in each webhook's log (older ones dropped)
    max_response_bytes: int = 4096  # AGORA_WEBHOOK_MAX_RESPONSE_BYTES: of an answer's body, read and kept

    @classmethod
    def from_env(cls) -> WebhookLimits:
        return _fields_from_env(cls(), "AGORA_WEBHOOK_")

    def delays(self) -> list[float]:
        return [float(x) for x in self.retry_delays.split(",") if x.strip()]


@dataclass
class SpacesLimits:
    """Space sandboxes (src/agora/spaces/): the uids they run as and what each may use."""

    uid_base: int = 900_000_000  # AGORA_SPACES_UID_BASE: Space n runs as uid base + n (no passwd entry)
    memory_mb: int = 2048  # AGORA_SPACES_MEMORY_MB: a Space's memory (its /tmp included); past it, OOM kill
    cpu_percent: int = 100  # AGORA_SPACES_CPU_PERCENT: a Space's CPU time, 100 = one core
    pids: int = 512  # AGORA_SPACES_PIDS: processes and threads one Space may have
    python: str = "/usr/bin/python3"  # AGORA_SPACES_PYTHON: world-readable interpreter of the Space envs
    sleep_time: int = 48 * 3600  # AGORA_SPACES_SLEEP_TIME: seconds idle before a Space sleeps (-1: never)
    wake_wait: int = 120  # AGORA_SPACES_WAKE_WAIT: seconds a request to a Space's app waits for it to start
    root: str = ""  # AGORA_SPACES_ROOT: envs, app files, sandboxes, logs (default <data>/spaces)
    max_running: int = 4  # AGORA_SPACES_MAX_RUNNING: gradio/streamlit apps running at once on this host
    # AGORA_SPACES_DOMAIN: serve each Space's app on an origin of its own, {owner}--{name}.<domain> (a site
    # apart from the Hub's: wildcard DNS and TLS pointing at this server); default: under /spaces/{id}/app/
    domain: str = ""
    build_hosts: str = ""  # AGORA_SPACES_BUILD_HOSTS: more index hosts builds may reach (host[:port],...)
    hub_connections: int = 32  # AGORA_SPACES_HUB_CONNECTIONS: connections one Space may have open to the Hub
    disk_mb: int = 10240  # AGORA_SPACES_DISK_MB: a Space's /data (MiB); past it the Space is stopped

    @classmethod
    def from_env(cls) -> SpacesLimits:
        return _fields_from_env(cls(), "AGORA_SPACES_")


@dataclass
class Settings:
    data: Path
    database_url: str
    public_url: str | None = None
    # LFS uploads above this size are offered the HF multipart transfer (parts written in place).
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunk: int = 32 * 1024 * 1024
    max_commit_line: int = 64 * 1024 * 1024
    # Bounds on what one request may make the server hold or promise (see http/bodies.py, api/lfs.py).
    max_object_size: int = 500 * 1000**3  # largest LFS object (batch, commit and preupload sizes)
    lfs_batch_max_objects: int = 1000  # objects in one LFS batch request (git-lfs sends 100)
    max_json_bytes: int = 8 * 1024 * 1024  # API JSON bodies (batch, paths-info, preupload, repo calls...)
    max_form_bytes: int = 1024 * 1024  # urlencoded web forms (login, settings, tokens...)
    max_edit_form_bytes: int = 8 * 1024 * 1024  # the in-browser editor's form (text files up to 2 MB)
    # "local" (files under the data folder) or "s3://bucket[/prefix]" (see storage/s3.py for its settings)
    blob_store: str = "local"
    # /login throttling (counters in the database, shared by every process): failures per account and per
    # client IP within the window; past them, 429 with growing delays, at most until the window ends.
    login_max_failures: int = 10
    login_ip_max_failures: int = 30
    login_window_seconds: int = 900
    # Peers (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client; empty: trust none.
    trusted_proxies: str = ""
    # The address `agora serve` listens on ("host:port", set by the CLI through AGORA_LISTEN): with the loopback
    # names on its port, the Host headers accepted when building absolute URLs (http/headers.py).
    listen: str | None = None
    # More accepted Host values, comma-separated ("hub.lan:8080", or a bare name for any port).
    allowed_hosts: tuple[str, ...] = ()
    # A second origin for browser navigations to raw user files (signed, expiring URLs); None: off.
    usercontent_url: str | None = None
    # The origins Space apps are framed from (CSP frame-src of UI pages); None: no frames.
    spaces_origin: str | None = None
    card: CardLimits = field(default_factory=CardLimits)
    # Run the background job worker (parquet conversion) in this process; False leaves the queue to others.
    jobs: bool = True
    viewer: ViewerLimits = field(default_factory=ViewerLimits)
    infer: InferenceLimits = field(default_factory=InferenceLimits)
    # S3 (blob_store = s3://...): how the servers reach it, and the endpoint presigned URLs name for clients.
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_public_endpoint: str | None = None
    # Seconds a database statement waits for a lock before failing (a 503 with Retry-After, not a hang).
    db_lock_timeout: float = 30
    # Uploads (LFS, Xet, commits, web uploads, pushes) are refused with 507 before their body is read when the
    # data folder's free space, less the declared length, is under this: room kept for the database and git.
    min_free_bytes: int = 512 * 1024**2
    # Seconds `agora serve` waits, after SIGTERM/SIGINT, for the requests in flight (uploads, pushes) to end
    # before it kills its workers; 0 waits without limit.
    shutdown_timeout: int = 25
    # Seconds an unowned temp upload (multipart parts, S3 temp keys and multipart uploads, temp files naming no
    # process) sits untouched before a server start removes it as abandoned:
    # at least the signed upload URLs' lifetime (an hour), during which a client may still resume it.
    temp_max_age: int = 3600
    # `agora gc` keeps an unreferenced xorb (and the rows of the Xet files using it) for this many days after
    # its upload: hf_xet believes for 21 days that a xorb it uploaded is on the server (hub/gc.py).
    gc_xorb_grace_days: float = 30
    spaces: SpacesLimits = field(default_factory=SpacesLimits)
    webhooks: WebhookLimits = field(default_factory=WebhookLimits)

    @classmethod
    def from_env(cls, data: str | Path | None = None) -> Settings:
        d = Path(data or os.environ.get("AGORA_DATA", "./data")).resolve()
        url = os.environ.get("AGORA_DATABASE_URL") or f"sqlite:///{d / 'agora.db'}"
        s = cls(
            data=d,
            database_url=url,
            public_url=os.environ.get("AGORA_PUBLIC_URL") or None,
            blob_store=os.environ.get("AGORA_BLOB_STORE") or "local",
            card=CardLimits.from_env(),
        )
        s.trusted_proxies = os.environ.get("AGORA_TRUSTED_PROXIES", "")
        s.listen = os.environ.get("AGORA_LISTEN") or None
        s.allowed_hosts = tuple(
            h.strip().lower() for h in os.environ.get("AGORA_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
        s.usercontent_url = (os.environ.get("AGORA_USERCONTENT_URL") or "").rstrip("/") or None
        s.spaces_origin = os.environ.get("AGORA_SPACES_ORIGIN") or None
        s.jobs = os.environ.get("AGORA_JOBS", "1") != "0"
        s.viewer = ViewerLimits.from_env()
        s.infer = InferenceLimits.from_env()
        s.s3_endpoint = os.environ.get("AGORA_S3_ENDPOINT") or None
        s.s3_access_key = os.environ.get("AGORA_S3_ACCESS_KEY") or None
        s.s3_secret_key = os.environ.get("AGORA_S3_SECRET_KEY") or None
        s.s3_region = os.environ.get("AGORA_S3_REGION") or "us-east-1"
        s.s3_public_endpoint = os.environ.get("AGORA_S3_PUBLIC_ENDPOINT") or None
        s.db_lock_timeout = float(os.environ.get("AGORA_DB_LOCK_TIMEOUT") or 30)
        s.gc_xorb_grace_days = float(os.environ.get("AGORA_GC_XORB_GRACE_DAYS") or 30)
        for name in (
            "multipart_threshold",
            "multipart_chunk",
            "max_commit_line",
            "max_object_size",
            "lfs_batch_max_objects",
            "max_json_bytes",
            "max_form_bytes",
            "max_edit_form_bytes",
            "login_max_failures",
            "login_ip_max_failures",
            "login_window_seconds",
            "min_free_bytes",
            "shutdown_timeout",
            "temp_max_age",
        ):
            v = os.environ.get(f"AGORA_{name.upper()}")
            if v:
                setattr(s, name, int(v))
        s.spaces = SpacesLimits.from_env()
        s.webhooks = WebhookLimits.from_env()
        return s

    @property
    def spaces_root(self) -> Path:
        """Where Spaces live (envs, app files, sandboxes, logs): every folder above it must be traversable
        by other users (the Spaces' uids open their mounts). By default `<data>/spaces`; when a folder above
        the data folder is closed to others (a home folder: `make serve` in /root/agora), a folder of its
        own under /var/tmp, named by the data folder."""
        if self.spaces.root:
            return Path(self.spaces.root)
        if all(os.stat(p).st_mode & 0o001 for p in self.data.parents):
            return self.data / "spaces"
        tag = hashlib.sha256(str(self.data).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"agora-spaces-{tag}"

    @property
    def repos_dir(self) -> Path:
        return self.data / "repos"

    @property
    def lfs_dir(self) -> Path:
        return self.data / "lfs"

    def blobs(self, kind: str) -> BlobStore:
        """The BlobStore for `kind` ("lfs", "xorbs" or "shards"), as AGORA_BLOB_STORE picks it."""
        from .storage.blobs import LocalBlobStore

        if self.blob_store in ("", "local"):
            return LocalBlobStore(self.lfs_dir if kind == "lfs" else self.data / "xet" / kind)
        if self.blob_store.startswith("s3://"):
            from .storage.s3 import S3BlobStore, S3Config

            cfg = dataclasses.replace(
                S3Config.parse(self.blob_store, {}),
                endpoint=self.s3_endpoint,
                access_key=self.s3_access_key,
                secret_key=self.s3_secret_key,
                region=self.s3_region,
                public_endpoint=self.s3_public_endpoint,
            )
            return S3BlobStore(cfg, kind, self.data / "tmp" / kind)
        raise ValueError(f"AGORA_BLOB_STORE={self.blob_store!r}: use 'local' or s3://bucket[/prefix]")

    def secret_key(self) -> bytes:
        """Signs URL capabilities; kept in the data folder so that every process shares it."""
        env = os.environ.get("AGORA_SECRET_KEY")
        if env:
            return env.encode()
        path = self.data / "secret.key"
        if not path.exists():
            self.data.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # first writer wins, across processes
            except FileExistsError:
                pass
            tmp.unlink()
        return path.read_text().strip().encode()


# ---- what Agora hands to the processes it starts ------------------------------------------------------------
LISTEN = "AGORA_LISTEN"  # `agora serve` -> its granian workers: the "host:port" it listens on
DATA = "AGORA_DATA"  # `agora serve` -> workers, and the server -> the pre-receive hook


def serve_env(settings: Settings, listen: str) -> dict[str, str]:
    """What `agora serve` puts in its environment before starting granian: each worker process builds its
    own Settings from AGORA_* variables (`app.factory`), so the flags given to serve must travel this way."""
    return {DATA: str(settings.data), LISTEN: listen}


@dataclass(frozen=True)
class HookEnv:
    """What git's pre-receive hook (`githooks/pre-receive` -> `hub/pushes.py`) learns from its environment.

    http/git.py puts `env(settings)` in receive-pack's environment for each push; git passes it on to the hook,
    which reads it back with `from_env()` (and its Settings with `Settings.from_env()`).
    """

    repo_id: int | None  # None: not set (the hook then refuses any push that names LFS objects)
    repo_type: str = "model"
    pusher: str = ""  # the pushing user's name (informational: no rule reads it today)
    # The refs the pusher may update: None for all (a writer); a contributor's own open PRs' refs/pr/N.
    push_refs: tuple[str, ...] | None = None

    PYTHON = "AGORA_PYTHON"  # the interpreter the shell hook runs `-m agora.hub.pushes` with
    REPO_ID = "AGORA_REPO_ID"
    REPO_TYPE = "AGORA_REPO_TYPE"
    PUSHER = "AGORA_PUSHER"
    PUSH_REFS = "AGORA_PUSH_REFS"  # "*" (all) or the refs, comma-separated

    def env(self, settings: Settings) -> dict[str, str]:
        return {
            self.PYTHON: sys.executable,
            DATA: str(settings.data),
            "AGORA_DATABASE_URL": settings.database_url,
            self.REPO_ID: str(self.repo_id),
            self.PUSHER: self.pusher,
            self.REPO_TYPE: self.repo_type,
            self.PUSH_REFS: "*" if self.push_refs is None else ",".join(self.push_refs),
            **settings.card.env(),
        }

    @classmethod
    def from_env(cls) -> HookEnv:
        """Inside the hook."""
        rid = os.environ.get(cls.REPO_ID)
        return cls(
            repo_id=int(rid) if rid else None,
            repo_type=os.environ.get(cls.REPO_TYPE) or "model",
            pusher=os.environ.get(cls.PUSHER, ""),
            push_refs=_push_refs(os.environ.get(cls.PUSH_REFS, "*")),
        )


def _push_refs(value: str) -> tuple[str, ...] | None:
    return None if value == "*" else tuple(x for x in value.split(",") if x)
