"""Row writes that several hub modules share."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import HubError


def add_unique(s: Session, row: object, taken: HubError) -> None:
    """Insert `row` in a savepoint. When a unique constraint shows that a concurrent writer got there first,
    only the savepoint is rolled back and `taken` is raised (the check before the insert cannot see rows
    that are not yet committed)."""
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError:
        raise taken from None
