"""The id text index: the lower-cased ids of all repos as one text, scanned for `search=`.

`search=` matches a substring of the repo id, as on the Hub. The ids are kept as one "\n"-joined text in
slot order, with each line's start offset and slot, and a search runs `str.rfind` down that text, so that
matches come highest slot first (the order of a listing without sort) and a page stops the scan early.
Changes do not rewrite the text: a changed or removed repo's line is marked dead and its new id kept in a
small tail that searches merge in; past 20,000 such entries the text is built again from the slots.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Iterator

from .postings import Postings


class IdText(Postings):
    """The id text over the postings' slots (ids and types)."""

    def _reset(self, cap: int) -> None:
        super()._reset(cap)
        self.text = ""
        self.text_starts = array("q")
        self.text_slots = array("q")
        self.text_dead: set[int] = set()
        self.text_tail: dict[int, str] = {}

    def _build_text(self) -> None:
        parts, starts, slots = [], array("q"), array("q")
        pos = 0
        for s in range(self.cap):
            if self.kind[s]:
                r = self.rid[s].lower()  # type: ignore[union-attr]
                starts.append(pos)
                slots.append(s)
                parts.append(r)
                pos += len(r) + 1
        starts.append(pos)
        self.text = "\n".join(parts) + "\n"
        self.text_starts, self.text_slots = starts, slots
        self.text_dead, self.text_tail = set(), {}

    def _text_changed(self, s: int, old: str | None, new: str | None) -> None:
        if old is not None and new is not None and old.lower() == new.lower():
            return
        if s in self.text_tail:
            del self.text_tail[s]
        elif old is not None:
            self.text_dead.add(s)
        if new is not None:
            self.text_tail[s] = new.lower()
        if len(self.text_tail) + len(self.text_dead) > 20_000:
            self._build_text()

    def _search_desc(self, terms: list[str], below: int | None) -> Iterator[int]:
        """Slots whose lower-cased id contains every term, highest first (and below `below`)."""
        first, rest = terms[0], terms[1:]
        tail = sorted(
            (
                s
                for s, r in self.text_tail.items()
                if (below is None or s < below) and all(t in r for t in terms)
            ),
            reverse=True,
        )

        def main() -> Iterator[int]:
            text, starts, slots, dead = self.text, self.text_starts, self.text_slots, self.text_dead
            end = len(text)
            if below is not None:
                end = starts[bisect_right(slots, below - 1)]  # slots are ascending
            while True:
                i = text.rfind(first, 0, end)
                if i < 0:
                    return
                line = bisect_right(starts, i) - 1
                end = starts[line]
                s = slots[line]
                if s in dead:
                    continue
                if rest:
                    r = text[starts[line] : starts[line + 1] - 1]
                    if not all(t in r for t in rest):
                        continue
                yield s

        return heapq.merge(main(), tail, key=lambda s: -s)
