"""create_app(settings): builds the stores and the domain, mounts the HTTP faces."""

from __future__ import annotations

import logging
from datetime import timedelta

from .config import Settings
from .db.session import Database, migrate
from .http.auth import Signer
from .http.context import Ctx
from .http.metrics import Counters, Metered
from .http.routing import LOG_FORMAT, RequestIds, install_request_id_logging
from .hub import cards, catalog, reconcile, startup
from .hub.repos import Hub
from .hub.xet import XetStore


def build_hub(settings: Settings) -> Hub:
    settings.data.mkdir(parents=True, exist_ok=True)
    cards.set_limits(settings.card)
    db = Database(settings.database_url, settings.db_lock_timeout)
    migrate(db.engine)
    hub = Hub(db, settings.repos_dir, settings.blobs("lfs"))
    hub.xet = XetStore(db, settings.blobs("xorbs"), settings.blobs("shards"))
    startup.own_uploads(hub)  # this process's temp uploads carry its name: removed at once once it is dead
    return hub


def create_app(settings: Settings | None = None) -> Metered:
    from .http import routes
    from .http.api import common
    from .http.bodies import Drain
    from .http.headers import Guard

    settings = settings or Settings.from_env()
    install_request_id_logging()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the Spaces proxy: not a line per proxied request
    counters = Counters(settings.data / "metrics")
    ctx = Ctx(build_hub(settings), settings, Signer(settings.secret_key()), counters)
    catalog.of(ctx.hub.db.engine).start()  # a server's listing catalog loads in the background from now on
    common.MAX_JSON = settings.max_json_bytes
    common.MAX_MODEL_BYTES = settings.infer.max_model_mb * 1024 * 1024
    router = routes.build(ctx)
    start_workers(ctx.hub, settings)
    reconcile.start(ctx.hub)  # repos whose refs moved without the database knowing (a crash): repaired
    return Metered(RequestIds(Drain(Guard(router, settings))), counters)


def start_workers(hub: Hub, settings: Settings) -> None:
    """The background job worker: it runs the jobs of the derived artefacts declared in hub/artefacts.py
    (the parquet conversion, ...); AGORA_JOBS=0 leaves the queue to other processes. First the leftovers
    of dead processes are recovered (hub/startup.py): their jobs offered again, their temp files removed."""
    from .deliveries import Sender
    from .jobs import Worker

    # jobs and temp files of dead processes (once per server process)
    startup.recover(hub, timedelta(seconds=settings.temp_max_age))
    if settings.jobs:
        Worker(hub, settings=settings).start()
        Sender(hub, settings).start()  # webhook deliveries (deliveries.py)


def factory() -> Metered:
    """Entry point for granian (`agora.app:factory`); settings come from AGORA_* variables."""
    return create_app()
