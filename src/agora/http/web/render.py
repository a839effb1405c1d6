"""Markdown to safe HTML (markdown-it-py + Pygments, sanitized by nh3), file previews and small filters."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from urllib.parse import quote

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from pygments import highlight as _highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename, guess_lexer
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=False, cssclass="hl")
PYGMENTS_CSS = _FORMATTER.get_style_defs(".hl")


def _fence(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else guess_lexer(code)
    except ClassNotFound:
        return f"<pre><code>{html.escape(code)}</code></pre>"
    return f'<pre class="hl"><code>{_highlight(code, lexer, _FENCE_FORMATTER)}</code></pre>'


_FENCE_FORMATTER = HtmlFormatter(nowrap=True)
_md = (
    MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False, "highlight": _fence})
    .enable("table")
    .enable("strikethrough")
    .use(front_matter_plugin)
    .use(dollarmath_plugin)
)

_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
    "eq",
    "eqn",
    "section",
    "figure",
    "figcaption",
    "picture",
    "source",
    "mark",
    "small",
    "center",
}
_ALLOWED_ATTRS = {
    "*": {"class", "id", "title", "align"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "source": {"srcset", "media", "type"},
    "ol": {"start"},
}


def sanitize(raw_html: str) -> str:
    """No script, no event handlers, no iframes, no javascript: URLs — whatever the card says."""
    return nh3.clean(
        raw_html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def markdown(text: str, base_raw_url: str | None = None) -> str:
    """Render a card body. Relative image links point into the repo (raw file URLs)."""
    rendered = _md.render(text)
    if base_raw_url:
        rendered = re.sub(
            r'(<img[^>]*\bsrc=")(?!https?:|data:|/)([^"]+)"',
            lambda m: f'{m.group(1)}{base_raw_url}/{m.group(2).lstrip("./")}"',
            rendered,
        )
    return sanitize(rendered)


def code(text: str, filename: str) -> str:
    try:
        lexer = get_lexer_for_filename(filename, stripnl=False)
    except ClassNotFound:
        return f'<pre class="hl"><code>{html.escape(text)}</code></pre>'
    return _highlight(text, lexer, HtmlFormatter(linenos="table", cssclass="hl"))


def pretty_json(text: str) -> str | None:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return None


def filesize(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("Bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "Bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1000
    return str(size)


def timeago_iso(text: str | None) -> str:
    """`timeago` of a wire timestamp ("2026-01-02T03:04:05.000Z", as discussion events carry them)."""
    try:
        return timeago(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except ValueError:
        return ""


def timeago(ts: datetime | float | None) -> str:
    """How long ago, in words ("3 days ago"); a naive datetime is UTC, a number a POSIX timestamp."""
    if ts is None:
        return ""
    if isinstance(ts, (int, float)):
        dt = datetime.fromtimestamp(ts, UTC)
    else:
        dt = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    secs = (datetime.now(UTC) - dt).total_seconds()
    for size, name in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {name}{'s' if n > 1 else ''} ago"
    return "just now"


def seg(value: str) -> str:
    """A revision as one URL path segment: refs/pr/1 -> refs%2Fpr%2F1 (routes match the raw path)."""
    return quote(str(value), safe="")


def compact(n: int | None) -> str:
    n = n or 0
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return str(n)


def sparkline(values: list[int], width: int = 200, height: int = 40) -> str:
    """A small inline SVG of downloads per day."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    pts = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="downloads per day"><polyline fill="none" stroke="currentColor" stroke-width="2" '
        f'points="{pts}"/></svg>'
    )


# ---- first steps and details (issue 18): count plurals, SVG icons ------------------------------------
_IRREGULAR = {"copy": "copies", "entry": "entries", "repository": "repositories", "match": "matches"}


def plural(n: int | None, word: str, many: str | None = None) -> str:
    """A count with its noun: 1 file, 2 files, 1,234 rows (`many` for an irregular plural); the one place
    pages spell counts, so "1 files" cannot come back."""
    n = n or 0
    noun = word if n == 1 else many or _IRREGULAR.get(word, word + "s")
    return f"{n:,} {noun}"


ICONS = (
    "brand",
    "copy",
    "file",
    "folder",
    "download",
    "like",
    "edit",
    "delete",
    "close",
    "upload",
    "git",
    "terminal",
)


def icon(name: str, label: str = "", size: int = 16) -> Markup:
    """An icon of the app's sprite (static/icons.svg): drawn as SVG, so it shows without any emoji font.
    Decorative (aria-hidden) unless `label` names it for screen readers."""
    if name not in ICONS:
        raise ValueError(f"no icon {name!r} in static/icons.svg")
    a11y = f'role="img" aria-label="{html.escape(label)}"' if label else 'aria-hidden="true"'
    return Markup(
        f'<svg class="icon icon-{name}" width="{size}" height="{size}" {a11y} focusable="false">'
        f'<use href="/static/icons.svg#{name}"/></svg>'
    )
