"""Canonical repos (`gpt2`: one segment, no namespace) on every URL that names a repo.

A canonical repo is stored with the empty namespace (ids.CANONICAL), so its internal address has an empty
segment where the namespace goes: `/api/models//gpt2`, `//gpt2/resolve/main/x`, `/datasets//x.git/info/refs`.
The route patterns accept that empty namespace (routing.ID, web.base.ID, api.lfs.GIT_ID); the router turns
the address a client sends (`/api/models/gpt2`) into the internal one:

- before matching, when the segment where a namespace would go names a canonical repo of that type (so
  `/api/models/gpt2/refs` is gpt2's refs, not the info of a repo `gpt2/refs`, and `/gpt2` is its page, not a
  profile). Accounts and canonical repos share one set of names (hub/names.name_taken), so this never
  hides a user's repos;
- after matching failed (no route, or not this method): the one-segment reading is tried, so that a
  missing one-segment id (`/api/models/nope`, `/nope/resolve/main/x`) is the Hub's 404 RepoNotFound on
  every route rather than a bare 404 or 405.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

from ..ids import FROM_PLURAL, RESERVED, RepoType
from .headers import USERCONTENT_PREFIX

# Where a repo id starts in a URL, and the repo type each place implies.
_AT = re.compile(
    r"^(?:/api/(?P<t>models|datasets|spaces)/"
    r"|/(?:hf-inference/)?models/|/status/"
    rf"|(?:{re.escape(USERCONTENT_PREFIX)})?/(?:(?P<p>datasets|spaces)/)?)"
    r"(?P<seg>[^/?]+)"
)


def one_segment(path: str) -> tuple[RepoType, str, str] | None:
    """(type, name, internal path) when `path` may name a canonical repo: its id segment is no reserved
    word; None otherwise."""
    m = _AT.match(path)
    if m is None:
        return None
    seg = m["seg"]
    name = seg[: -len(".git")] if seg.endswith(".git") else seg
    if not name or name.lower() in RESERVED or name.startswith("."):
        return None
    plural = m["t"] or m["p"]
    rtype: RepoType = FROM_PLURAL[plural] if plural else "model"
    return rtype, name, f"{path[: m.start('seg')]}/{path[m.start('seg') :]}"


class Names:
    """The canonical repos' (type, lower-cased name), read again at most every `ttl` seconds (another
    process, `agora repo create --canonical`, may add one) and at once after this process adds one."""

    def __init__(self, load: Callable[[], Awaitable[frozenset[tuple[str, str]]]], ttl: float = 2.0) -> None:
        self.load = load
        self.ttl = ttl
        self.names: frozenset[tuple[str, str]] = frozenset()
        self.at = float("-inf")

    def invalidate(self) -> None:
        self.at = float("-inf")

    async def contains(self, rtype: str, name: str) -> bool:
        if time.monotonic() - self.at > self.ttl:
            self.names = await self.load()
            self.at = time.monotonic()
        return (rtype, name.lower()) in self.names
