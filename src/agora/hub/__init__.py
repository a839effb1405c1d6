"""The domain: repos, accounts, discussions, collections, the listing index (no HTTP here)."""

# The detached rows the domain hands out (Hub.open_repo, the hub functions that return rows): the HTTP layer
# types with them from here, without importing agora.db. Read their attributes, never write them.
from ..db.models import Account as Account
from ..db.models import Repo as Repo
