"""A commit prefix as a revision: unique resolves, ambiguous is a clear RevisionNotFound, a blob's is none."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from agora.errors import RevisionNotFound
from agora.storage.gitstore import GitRepo


def test_prefixes(tmp_path: Path) -> None:
    git = GitRepo.init(tmp_path / "r.git", {".gitattributes": b""}, "alice", "init")
    head = git.resolve("main")
    assert git.resolve(head[:7]) == head
    # Objects until two share a 7-hex prefix (about 2**14 of them): that prefix is ambiguous.
    seen: dict[str, str] = {}
    n = 0
    while True:
        oid = str(git.repo.create_blob(str(n).encode()))
        n += 1
        if oid[:7] in seen:
            break
        seen[oid[:7]] = oid
    with pytest.raises(RevisionNotFound, match="ambiguous"):
        git.resolve(oid[:7])
    with pytest.raises(RevisionNotFound, match="Invalid rev id"):
        git.resolve(oid[:12])  # a blob, not a commit
    assert isinstance(git.repo[head], pygit2.Commit)
