"""Full-text search results for the API and the web page: the repos `index.full_text` ranks, with their tags
and a short plain-text excerpt of the card body around the first match.

The card bodies come from SQLite's FTS table in one query for the whole page of results. Elsewhere (PostgreSQL)
full_text matches only the id and tags, so there is no body match to excerpt and snippets are empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from ..db.models import Repo
from ..errors import BadRequest
from ..ids import REPO_TYPES, repo_full
from . import index
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_QUERY = 256
SNIPPET_BEFORE = 70
SNIPPET_AFTER = 130
WINDOW = 1000  # characters of the card either side of the match that the excerpt is cut from


@dataclass
class Hit:
    repo: Repo
    tags: list[str]
    snippet: str

    @property
    def id(self) -> str:
        return repo_full(self.repo.namespace, self.repo.name)

    def json(self) -> dict[str, Any]:
        r = self.repo
        return {
            "id": self.id,
            "type": r.type,
            "likes": r.likes or 0,
            "downloads": r.downloads or 0,
            "pipeline_tag": r.pipeline_tag if r.type == "model" else None,
            "tags": self.tags,
            "snippet": self.snippet,
        }


def parse_type(value: str | None) -> str | None:
    """None (every type) for an absent or empty value; else one of model, dataset, space."""
    if not value:
        return None
    if value not in REPO_TYPES:
        raise BadRequest(f"Invalid type {value!r}: use model, dataset or space (or leave it out for all)")
    return value


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT, most: int = MAX_LIMIT) -> int:
    """`default` when absent; an integer from 1 up, capped at `most` (the full-text search's bounds unless
    told others: the quicksearch's)."""
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"Invalid limit {value[:40]!r}: it must be an integer from 1 to {most}") from None
    if n < 1:
        raise BadRequest(f"Invalid limit {n}: it must be an integer from 1 to {most}")
    return min(n, most)


def parse_query(value: str | None) -> str:
    # control characters (a NUL ends an FTS5 string early) are word breaks, like spaces
    q = " ".join("".join(c if c >= " " and c != "\x7f" else " " for c in (value or "")).split())
    if len(q) > MAX_QUERY:
        raise BadRequest(f"The query is {len(q)} characters long: at most {MAX_QUERY} allowed")
    return q


def search(
    s: Session, who: Principal | None, repo_type: str | None, q: str, limit: int = DEFAULT_LIMIT
) -> list[Hit]:
    """The best `limit` repos `who` may see whose id, tags or card text contain `q`, best first."""
    q = parse_query(q)
    if not q:
        return []
    repos = index.full_text(s, who, repo_type, q, limit)
    ids = [r.id for r in repos]
    tags = index.tags_of(s, ids)
    bodies = card_bodies(s, ids)
    return [Hit(r, tags.get(r.id, []), snippet(bodies.get(r.id, ""), q)) for r in repos]


def card_bodies(s: Session, ids: list[int]) -> dict[int, str]:
    """The indexed card body (Markdown after the front matter) of each repo, in one query; {} off SQLite."""
    if not ids or s.get_bind().dialect.name != "sqlite":
        return {}
    stmt = text("SELECT rowid, body FROM repo_search WHERE rowid IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    return {rid: body or "" for rid, body in s.execute(stmt, {"ids": ids})}


# ---- the excerpt ------------------------------------------------------------------------------------------
_MARKUP = [
    (re.compile(r"<!--.*?-->", re.DOTALL), " "),  # HTML comments
    (re.compile(r"<(script|style)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE), " "),  # and what is not text
    (re.compile(r"^\s*(```|~~~).*$", re.MULTILINE), " "),  # code fences (their content stays)
    (re.compile(r"<[^>\n]{1,500}>"), " "),  # HTML tags
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # links: their text
    (
        re.compile(r"^\s{0,3}(#{1,6}|>+|[-*+]|\d{1,9}[.)])\s+", re.MULTILINE),
        "",
    ),  # headings, quotes, list markers
    (re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.MULTILINE), " "),  # table rules
    (re.compile(r"\*{1,3}|`+|~~|\|"), " "),  # emphasis, code spans, table pipes
]


def plain(markdown: str) -> str:
    """Markdown reduced to its words on one line (good enough for an excerpt; not a renderer)."""
    out = markdown
    for pattern, repl in _MARKUP:
        out = pattern.sub(repl, out)
    return " ".join(out.split())


def _find(haystack: str, q: str) -> re.Match[str] | None:
    words = q.split()
    if not words:
        return None
    return re.search(r"\s+".join(re.escape(w) for w in words), haystack, re.IGNORECASE)


def snippet(body: str, q: str, before: int = SNIPPET_BEFORE, after: int = SNIPPET_AFTER) -> str:
    """A short plain-text excerpt of `body` around the first case-insensitive occurrence of `q`, or ""."""
    if not body or not q.strip():
        return ""
    found = _find(body, q)
    if found is None:  # the repo matched on its id or tags
        return ""
    # Only a window around the match is cleaned up: the markup regexes then never see a whole large card.
    lo, hi = max(0, found.start() - WINDOW), min(len(body), found.end() + WINDOW)
    window = body[lo:hi]
    flat = plain(window)
    m = _find(flat, q)
    if m is None:  # the match sits in markup (a link's URL, an HTML attribute): excerpt the raw text instead
        flat = " ".join(window.split())
        m = _find(flat, q)
        if m is None:
            return ""
    start, end = max(0, m.start() - before), min(len(flat), m.end() + after)
    if start > 0:  # begin and end on word boundaries, when one is near
        cut = flat.find(" ", start, m.start())
        start = cut + 1 if cut != -1 and cut - start < 20 else start
    if end < len(flat):
        cut = flat.rfind(" ", m.end(), end)
        end = cut if cut != -1 and end - cut < 20 else end
    more_before, more_after = start > 0 or lo > 0, end < len(flat) or hi < len(body)
    return ("…" if more_before else "") + flat[start:end].strip() + ("…" if more_after else "")


def marked(excerpt: str, q: str) -> list[tuple[str, bool]]:
    """`excerpt` cut into (text, is_match) pieces, for a template to wrap the matches in <mark> (escaped)."""
    words = q.split()
    if not excerpt or not words:
        return [(excerpt, False)] if excerpt else []
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[tuple[str, bool]] = []
    at = 0
    for m in pattern.finditer(excerpt):
        if m.start() > at:
            out.append((excerpt[at : m.start()], False))
        out.append((m.group(0), True))
        at = m.end()
    if at < len(excerpt):
        out.append((excerpt[at:], False))
    return out


# ---- in a session of their own: for the HTTP handlers (called in a worker thread) ----------------------------
def search_in(hub: Hub, who: Principal | None, repo_type: str | None, q: str, limit: int) -> list[Hit]:
    """`search` in a session of its own (the hits' rows come back detached)."""
    with hub.db.session() as s:
        return search(s, who, repo_type, q, limit)
