"""The collections domain on a migrated SQLite database: slugs, lookups that survive renames, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from agora.db.models import Repo
from agora.db.session import Database, migrate
from agora.errors import BadRequest, Conflict, Forbidden, NotFound
from agora.hub import accounts, collections


def test_slugify() -> None:
    assert collections.slugify("ICCV 2023: Best models!") == "iccv-2023-best-models"
    assert collections.slugify("***") == "collection"


def test_create_rename_reorder(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'agora.db'}")
    migrate(db.engine)  # 0007 must create what the models describe, or the writes below fail
    with db.session() as s:
        alice = accounts.session_principal(accounts.create_user(s, "alice"))
        bob = accounts.session_principal(accounts.create_user(s, "bob"))
        for i in range(3):
            s.add(Repo(type="model", namespace="alice", name=f"m{i}", storage_key=f"k{i}"))
        s.flush()
        c = collections.create(s, alice, "alice", "ICCV 2023")
        slug = collections.slug_of(c)
        assert slug == f"alice/iccv-2023-{c.uid}"
        with pytest.raises(Conflict):
            collections.create(s, alice, "alice", "ICCV 2023")
        with pytest.raises(Forbidden):
            collections.create(s, bob, "alice", "Not mine")
        for i in range(3):
            collections.add_item(s, alice, slug, "model", f"alice/m{i}")
        with pytest.raises(BadRequest):
            collections.add_item(s, alice, slug, "paper", "not-an-arxiv-id")  # papers: arXiv ids only
        items = collections.items(s, None, c)
        collections.update_item(s, alice, slug, f"{items[2].row.id:024x}", position=0)
        assert [it.repo.name for it in collections.items(s, None, c)] == ["m2", "m0", "m1"]
        assert [it.row.position for it in collections.items(s, None, c)] == [0, 1, 2]
        collections.update(s, alice, slug, title="Renamed")
        assert collections.get(s, None, slug).title == "Renamed"  # the old slug still resolves
        with pytest.raises(NotFound):
            collections.get(s, None, f"bob/iccv-2023-{c.uid}")  # the owner part must match
