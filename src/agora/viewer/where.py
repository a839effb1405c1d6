"""The /filter `where` and `orderby` parameters: a small whitelisted SQL subset, parsed, never pasted.

Grammar (case-insensitive keywords):
    expr      := and_expr ("OR" and_expr)*
    and_expr  := not_expr ("AND" not_expr)*
    not_expr  := "NOT" not_expr | "(" expr ")" | predicate
    predicate := column ( cmp literal | "IS" ["NOT"] "NULL" | ["NOT"] "IN" "(" literal ("," literal)* ")"
                        | ["NOT"] ("LIKE" | "ILIKE") string | ["NOT"] "BETWEEN" literal "AND" literal )
    cmp       := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    column    := "double-quoted name" | bare_name            (must be a column of the split)
    literal   := 'single-quoted string' | number | TRUE | FALSE
    orderby   := column ["ASC" | "DESC"] ("," column ["ASC" | "DESC"])*
The output is SQL text made only of quoted known column names, keywords and `$pN` placeholders; the
literal values travel separately as parameters.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadRequest

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<qid>"(?:[^"]|"")+")
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<op><=|>=|<>|!=|==|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.X,
)
MAX_LEN = 5000
MAX_DEPTH = 20


def tokenize(text: str) -> list[tuple[str, str]]:
    if len(text) > MAX_LEN:
        raise BadRequest(f"The where parameter is longer than {MAX_LEN} characters")
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise BadRequest(
                f"Cannot parse the where/orderby parameter at character {pos + 1}: {text[pos : pos + 20]!r}"
            )
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, columns: set[str]) -> None:
        self.toks = tokenize(text)
        self.i = 0
        self.columns = columns
        self.params: list[Any] = []
        self.depth = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def kw(self, *words: str) -> bool:
        t = self.peek()
        if t and t[0] == "word" and t[1].upper() in words:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, value: str | None = None) -> str:
        t = self.peek()
        if not t or t[0] != kind or (value is not None and t[1].upper() != value):
            got = t[1] if t else "the end"
            raise BadRequest(f"Invalid where parameter: expected {value or kind}, got {got!r}")
        self.i += 1
        return t[1]

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"$p{len(self.params) - 1}"

    def expr(self) -> str:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise BadRequest("The where parameter nests too deeply")
        parts = [self.and_expr()]
        while self.kw("OR"):
            parts.append(self.and_expr())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.not_expr()]
        while self.kw("AND"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_expr(self) -> str:
        if self.kw("NOT"):
            return f"(NOT {self.not_expr()})"
        t = self.peek()
        if t and t == ("punct", "("):
            self.i += 1
            inner = self.expr()
            self.expect("punct", ")")
            return f"({inner})"
        return self.predicate()

    def column(self) -> str:
        t = self.peek()
        if not t or t[0] not in ("qid", "word"):
            raise BadRequest(
                f"Invalid where parameter: expected a column name, got {t[1] if t else 'the end'!r}"
            )
        self.i += 1
        name = t[1][1:-1].replace('""', '"') if t[0] == "qid" else t[1]
        if name not in self.columns:
            raise BadRequest(f"Invalid where parameter: unknown column {name!r}")
        return '"' + name.replace('"', '""') + '"'

    def literal(self) -> str:
        t = self.peek()
        if t is None:
            raise BadRequest("Invalid where parameter: expected a value, got the end")
        self.i += 1
        if t[0] == "str":
            return self.param(t[1][1:-1].replace("''", "'"))
        if t[0] == "num":
            return self.param(float(t[1]) if re.search(r"[.eE]", t[1]) else int(t[1]))
        if t[0] == "word" and t[1].upper() in ("TRUE", "FALSE"):
            return self.param(t[1].upper() == "TRUE")
        raise BadRequest(f"Invalid where parameter: expected a value, got {t[1]!r}")

    def predicate(self) -> str:
        col = self.column()
        t = self.peek()
        if t and t[0] == "op":
            self.i += 1
            op = {"==": "=", "!=": "<>"}.get(t[1], t[1])
            return f"{col} {op} {self.literal()}"
        if self.kw("IS"):
            neg = self.kw("NOT")
            self.expect("word", "NULL")
            return f"{col} IS {'NOT ' if neg else ''}NULL"
        neg = self.kw("NOT")
        if self.kw("IN"):
            self.expect("punct", "(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.i += 1
                values.append(self.literal())
            self.expect("punct", ")")
            return f"{col} {'NOT ' if neg else ''}IN ({', '.join(values)})"
        for op in ("LIKE", "ILIKE"):
            if self.kw(op):
                if (self.peek() or ("", ""))[0] != "str":
                    raise BadRequest(f"Invalid where parameter: {op} takes a quoted string")
                return f"{col} {'NOT ' if neg else ''}{op} {self.literal()}"
        if self.kw("BETWEEN"):
            lo = self.literal()
            self.expect("word", "AND")
            return f"{col} {'NOT ' if neg else ''}BETWEEN {lo} AND {self.literal()}"
        got = self.peek()
        raise BadRequest(
            f"Invalid where parameter: expected an operator after {col}, got {got[1] if got else 'the end'!r}"
        )


def compile_where(text: str, columns: set[str]) -> tuple[str, list[Any]]:
    p = _Parser(text, columns)
    sql = p.expr()
    if p.peek() is not None:
        raise BadRequest(f"Invalid where parameter: unexpected {p.peek()[1]!r}")  # type: ignore[index]
    return sql, p.params


def compile_orderby(text: str, columns: set[str]) -> str:
    p = _Parser(text, columns)
    parts = []
    while True:
        col = p.column()
        direction = "DESC" if p.kw("DESC") else ("ASC" if p.kw("ASC") else "ASC")
        parts.append(f"{col} {direction}")
        if p.peek() == ("punct", ","):
            p.i += 1
            continue
        break
    if p.peek() is not None:
        raise BadRequest(f"Invalid orderby parameter: unexpected {p.peek()[1]!r}")  # type: ignore[index]
    return ", ".join(parts)
