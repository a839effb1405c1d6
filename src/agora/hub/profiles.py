"""A user's or an organization's page (/{name}): what the visitor may see of it, read in one session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..db.models import Account, Collection, Repo
from ..errors import NotFound
from . import accounts, index
from . import collections as colls
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

REPOS_SHOWN = 100  # of each type, most recently changed first


@dataclass(frozen=True)
class Profile:
    """Detached rows: the account, its repos by type ("model", "dataset", "space"), the orgs of a user, its
    collections as (collection, slug, items the visitor sees), and whether the visitor may write there."""

    account: Account
    repos: dict[str, list[Repo]]
    orgs: list[Account]
    collections: list[tuple[Collection, str, int]]
    can_write_here: bool


def profile(hub: Hub, who: Principal | None, name: str) -> Profile:
    with hub.db.session() as s:
        acc = accounts.get_account(s, name)
        if acc is None:
            raise NotFound(f"No user or organization {name}")
        repos: dict[str, list[Repo]] = {}
        for t in ("model", "dataset", "space"):
            query = index.Query(t, [], author=name, sort="lastModified")
            repos[t], _ = index.search(s, who, query, REPOS_SHOWN)
        orgs = [o for o, _ in accounts.user_orgs(s, acc.id)] if acc.kind == "user" else []
        owned = [(c, colls.slug_of(c), len(colls.items(s, who, c))) for c in colls.owned_by(s, who, name)]
        return Profile(acc, repos, orgs, owned, accounts.can_write_namespace(s, who, name))
