"""Which uploads a repo's `.gitignore` rules out: the preupload's `shouldIgnore` (docs/wire.md §8.2).

huggingface_hub skips a file the Hub marks `shouldIgnore` (it is neither uploaded nor committed). The rules
are the `.gitignore` the client sends with the preupload (`gitIgnore`: the one it is committing, or the
caller's `gitignore_content`), else the root `.gitignore` of the revision the files go to. Only the root file
counts, as there is only one `gitIgnore` on the wire. The matcher is pathspec's, which implements git's
wildmatch rules (negations, anchored and directory patterns).
"""

from __future__ import annotations

from pathspec import GitIgnoreSpec

from ..storage.gitstore import GitRepo

GITIGNORE_MAX = 1024 * 1024  # a larger .gitignore is not read (git has no limit; nothing real comes close)


def rules(git: GitRepo, head: str, sent: str | None) -> GitIgnoreSpec | None:
    """The rules that apply: those sent, else the revision's root .gitignore; None when there are none."""
    text = sent
    if text is None:
        e = git.entry(head, ".gitignore")
        if e is None or e.type != "file" or e.lfs is not None or e.size > GITIGNORE_MAX:
            return None
        text = git.blob(e.oid).decode("utf-8", "replace")
    lines = text[:GITIGNORE_MAX].splitlines()
    return GitIgnoreSpec.from_lines(lines) if any(x.strip() for x in lines) else None


def ignored(spec: GitIgnoreSpec | None, path: str) -> bool:
    return spec is not None and spec.match_file(path)
