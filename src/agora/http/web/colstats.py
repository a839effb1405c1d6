"""Column statistics as small charts above the viewer table's column headers, drawn on the server.

The statistics are the ones `GET /statistics` answers (viewer/query.statistics, in the Hub's shapes); each
column gets one chart: a histogram of its values (numbers), of its lengths (long strings, lists), or bars of
its most frequent values (class labels, short strings, booleans), plus its share of nulls. The charts are SVG
made of rects placed by attributes and coloured by classes (no script, no inline style), and each carries a
text alternative that says what the bars say ("min 0, max 9, 10 bins").
"""

from __future__ import annotations

from typing import Any

WIDTH = 140  # the chart's box, in SVG user units (the table header's column is at least this wide)
HEIGHT = 36
GAP = 1
TOP = 3  # the most frequent values shown as bars; the rest counted in the caption
ROW = 12  # one value's bar height, labels inside
LABEL = 16  # characters of a value's label


def _fmt(v: Any) -> str:
    """A number as short as it reads: 3, 0.25, 1.2e+06."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{float(v):.4g}"


def _share(n: int, total: int) -> str:
    p = 100 * n / total if total else 0
    return f"{p:.0f}%" if p >= 1 or p == 0 else "<1%"


def histogram(stats: dict[str, Any], what: str) -> dict[str, Any] | None:
    """A histogram's bars: `hist` counts between `bin_edges`; `what` names the measured thing."""
    hist = (stats.get("histogram") or {}).get("hist") or []
    edges = (stats.get("histogram") or {}).get("bin_edges") or []
    if not hist or len(edges) != len(hist) + 1:
        return None
    top = max(hist) or 1
    w = WIDTH / len(hist)
    names = _bin_names(edges, len(hist))
    bars = []
    for i, count in enumerate(hist):
        h = 0 if count == 0 else max(1.0, (HEIGHT - 1) * count / top)
        bars.append(
            {
                "x": round(i * w + GAP / 2, 2),
                "y": round(HEIGHT - h, 2),
                "w": round(max(w - GAP, 0.5), 2),
                "h": round(h, 2),
                "title": f"{names[i]}: {count:,} row{'s' if count != 1 else ''}",
            }
        )
    lo, hi = _fmt(stats.get("min")), _fmt(stats.get("max"))
    n = len(hist)
    label = f"{what}min {lo}, max {hi}"
    if stats.get("mean") is not None:
        label += f", mean {_fmt(stats['mean'])}"
    return {
        "shape": "histogram",
        "bars": bars,
        "label": f"{label}, {n} bin{'s' if n != 1 else ''}",
        "caption": f"{what}{lo} – {hi}",
        "height": HEIGHT,
    }


def _bin_names(edges: list[Any], bins: int) -> list[str]:
    """What each bin holds: "0 – 2.5"; one integer per bin when integer edges span exactly `bins` values
    (an int column 0..9 in 10 bins: "4", not the rounded edges "4 – 4")."""
    lo, hi = edges[0], edges[-1]
    if all(isinstance(e, int) and not isinstance(e, bool) for e in edges) and hi - lo + 1 == bins:
        return [_fmt(lo + i) for i in range(bins)]
    return [f"{_fmt(edges[i])} – {_fmt(edges[i + 1])}" for i in range(bins)]


def categories(freqs: dict[str, int], noun: str) -> dict[str, Any] | None:
    """The most frequent values as horizontal bars with their labels and shares."""
    if not freqs:
        return None
    total = sum(freqs.values())
    ranked = sorted(freqs.items(), key=lambda kv: (-kv[1], str(kv[0])))
    shown = ranked[:TOP]
    bars = []
    for i, (value, count) in enumerate(shown):
        text = str(value)
        bars.append(
            {
                "x": 0,
                "y": i * (ROW + GAP),
                "w": round(max(1.0, WIDTH * count / total), 2),
                "h": ROW,
                "text": text if len(text) <= LABEL else text[: LABEL - 1] + "…",
                "share": _share(count, total),
                "title": f"{text}: {count:,} row{'s' if count != 1 else ''} ({_share(count, total)})",
            }
        )
    n = len(freqs)
    more = n - len(shown)
    top = ", ".join(f"{b['text']} {b['share']}" for b in bars)
    counted = f"{n} {noun if n == 1 else noun + ('es' if noun.endswith('s') else 's')}"
    return {
        "shape": "categories",
        "bars": bars,
        "label": f"{counted}; most frequent: {top}",
        "caption": counted + (f" ({more} more)" if more > 0 else ""),
        "height": len(bars) * (ROW + GAP),
        "width": WIDTH,
    }


_MEASURED = {"int": "", "float": "", "string_text": "length ", "list": "length "}
_NOUN = {"class_label": "class", "string_label": "value", "bool": "value"}


def chart(stat: dict[str, Any]) -> dict[str, Any] | None:
    """One column's chart from its `/statistics` entry; None for a kind without one."""
    kind = stat.get("column_type", "")
    stats = stat.get("column_statistics") or {}
    if kind in _MEASURED:
        out = histogram(stats, _MEASURED[kind])
    elif kind in _NOUN:
        freqs = {str(k): int(v) for k, v in (stats.get("frequencies") or {}).items()}
        if kind == "bool":  # as the table's cells show them (JSON's true/false)
            freqs = {k.lower(): v for k, v in freqs.items()}
        out = categories(freqs, _NOUN[kind])
    else:
        return None
    if out is None:
        out = {"shape": "empty", "bars": [], "label": "no values", "caption": "no values", "height": 0}
    nulls = int(stats.get("nan_count") or 0)
    if nulls:
        share = float(stats.get("nan_proportion") or 0)
        out["nulls"] = f"{100 * share:.0f}% null" if share >= 0.01 else "<1% null"
        out["label"] += f"; {out['nulls']} ({nulls:,} row{'s' if nulls != 1 else ''})"
    out["kind"] = kind
    return out


def charts(statistics: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{column name: chart} of a split's statistics."""
    out = {}
    for stat in statistics:
        c = chart(stat)
        if c is not None:
            out[str(stat.get("column_name"))] = c
    return out
