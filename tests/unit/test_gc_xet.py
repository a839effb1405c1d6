"""`agora gc` and the Xet client's caches (issue 14, item 6), in-process: an unreferenced xorb stays while a
client may still believe it is here, because it uploaded it (hf_xet's shard cache: 21 days) or because a
global dedup answer named it (the answer's expiry: 7 days); once gone, neither the dedup answer nor the shard
check claims it any more."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import update

from agora.db.models import LfsObject, XetFile, XetXorb, utcnow
from agora.errors import BadRequest
from agora.hub import gc
from agora.hub.accounts import Principal
from agora.hub.repos import Hub
from agora.storage.xet.hashing import to_hex

from .conftest import RID
from .xet_files import XetUpload


def age(hub: Hub, f: XetUpload, days: float, offered_days: float | None = None) -> None:
    """Make the upload `days` old (rows and xorb file); the last dedup offer `offered_days` ago (None: as it is)."""
    assert hub.xet is not None
    then = utcnow() - timedelta(days=days)
    with hub.db.session() as s:
        for model in (XetXorb, XetFile, LfsObject):
            s.execute(update(model).values(created_at=then))
        if offered_days is not None:
            s.execute(update(XetXorb).values(offered_at=utcnow() - timedelta(days=offered_days)))
    path = hub.xet.xorbs.local_path(f.name)
    assert path is not None
    os.utime(path, (then.timestamp(), then.timestamp()))


def test_unreferenced_xorb_stays_while_a_client_may_believe_in_it(hub: Hub, who: Principal) -> None:
    assert hub.xet is not None
    f = XetUpload()
    f.send(hub)  # uploaded through Xet, never committed
    first_chunk = to_hex(f.meta.hashes[0])

    age(hub, f, days=2)  # the uploader's cache still names the xorb
    assert gc.collect(hub, apply=True).xorbs_removed == []
    assert hub.xet.xorbs.exists(f.name)

    age(hub, f, days=40)  # past the grace, but a dedup answer names the xorb now
    assert hub.xet.dedup_shard(first_chunk) is not None
    assert gc.collect(hub, apply=True).xorbs_removed == []
    assert hub.xet.xorbs.exists(f.name)

    age(hub, f, days=40, offered_days=31)  # nobody believes in it any more
    report = gc.collect(hub, apply=True)
    assert [name for name, _ in report.xorbs_removed] == [f.name]
    assert not hub.xet.xorbs.exists(f.name)
    # The answers agree with what gc removed: no dedup offer, and a shard naming it is refused with advice.
    assert hub.xet.dedup_shard(first_chunk) is None
    with pytest.raises(BadRequest, match="shard-cache"):
        hub.xet.accept_shard(hub.open_repo(None, RID).id, f.shard)
    f.send(hub)  # uploading the xorb again works
    assert hub.xet.read_sha_range(f.sha256, 0, len(f.data)) == f.data


def test_xorb_grace_is_a_setting(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from agora.config import Settings

    data = hub.repos_root.parent
    assert Settings.from_env(data).gc_xorb_grace_days == 30 and gc.XORB_GRACE == timedelta(days=30)
    monkeypatch.setenv("AGORA_GC_XORB_GRACE_DAYS", "45")
    assert Settings.from_env(data).gc_xorb_grace_days == 45
