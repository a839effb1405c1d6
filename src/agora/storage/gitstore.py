"""Bare git repositories through pygit2: read trees and blobs, write commits, move refs by compare-and-swap.

This module knows git, not the Hub: no accounts, no HTTP. Paths have been validated by `agora.ids`.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import AttrCheck, FileMode, ObjectType, SortMode

from ..errors import BadRequest, Conflict, EntryNotFound, RevisionNotFound, branch_moved
from ..ids import SHORT_SHA
from .lfs_pointer import POINTER_MAX, Pointer, parse_pointer

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Lfs:
    oid: str
    size: int
    pointer_size: int


@dataclass(frozen=True)
class Entry:
    path: str
    type: str  # "file" | "directory"
    oid: str  # git blob or tree id
    size: int  # real content size (LFS: the object's size)
    lfs: Lfs | None = None


@dataclass(frozen=True)
class CommitInfo:
    id: str
    title: str
    message: str
    author: str
    email: str
    time: int
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Ref:
    name: str  # short name (branch, tag, "pr/1" -> "1"? no: kept as the Hub shows it)
    ref: str
    target: str


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.Repository(str(path))

    # ---- creation -------------------------------------------------------------------------------
    @classmethod
    def init(cls, path: Path, initial_files: dict[str, bytes], author: str, message: str) -> GitRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        pygit2.init_repository(str(path), bare=True, initial_head="main")
        g = cls(path)
        # Smart HTTP needs these; set here so every repo has them whatever created it.
        g.repo.config["http.receivepack"] = True
        g.repo.config["uploadpack.allowFilter"] = True
        g.repo.config["uploadpack.allowAnySHA1InWant"] = True
        g.repo.config["receive.fsckObjects"] = True
        idx = pygit2.Index()
        for p, data in initial_files.items():
            idx.add(pygit2.IndexEntry(p, g.repo.create_blob(data), FileMode.BLOB))
        tree = idx.write_tree(g.repo)
        sig = g._sig(author)
        g.repo.create_commit("refs/heads/main", sig, sig, message, tree, [])
        return g

    def _sig(self, user: str) -> pygit2.Signature:
        return pygit2.Signature(user, f"{user}@users.noreply.agora", int(time.time()), 0)

    # ---- refs and revisions ---------------------------------------------------------------------
    def resolve(self, rev: str) -> str:
        """branch, tag, full ref, commit id or a unique prefix of one (7+ hex, as the Hub and git take) ->
        commit id (tags peeled). Refs win over a prefix, as in git."""
        repo = self.repo
        candidates = [rev] if rev.startswith("refs/") else [f"refs/heads/{rev}", f"refs/tags/{rev}"]
        for name in candidates:
            try:
                ref = repo.references[name]
            except (KeyError, pygit2.InvalidSpecError, ValueError):
                continue
            obj = ref.peel(pygit2.Commit)
            return str(obj.id)
        if SHORT_SHA.match(rev):
            found = self._commit_by_prefix(rev)
            if found is not None:
                return found
        raise RevisionNotFound(f"Invalid rev id: {rev}")

    def _commit_by_prefix(self, rev: str) -> str | None:
        """The commit `rev` (an id or a prefix of one) names, peeled from a tag; None if none."""
        try:
            found = self.repo[rev]
        except pygit2.AmbiguousError:
            raise RevisionNotFound(
                f"Invalid rev id: {rev} is ambiguous (several objects start with it): give more characters"
            ) from None
        except (KeyError, ValueError):
            return None
        try:
            return str(found.peel(pygit2.Commit).id)
        except (pygit2.InvalidSpecError, ValueError):
            return None  # a blob or a tree

    def ref_target(self, ref: str) -> str | None:
        try:
            return str(self.repo.references[ref].peel(pygit2.Commit).id)
        except (KeyError, pygit2.InvalidSpecError, ValueError):
            return None

    def refs(self, prefix: str) -> list[Ref]:
        out = []
        for name in sorted(self.repo.references):
            if name.startswith(prefix):
                target = self.ref_target(name)
                if target:
                    out.append(Ref(name[len(prefix) :], name, target))
        return out

    def create_ref(self, ref: str, target: str) -> None:
        if not pygit2.reference_is_valid_name(ref):
            raise BadRequest(f"Invalid reference name {ref!r}")
        try:
            self.repo.references.create(ref, target, force=False)
        except pygit2.AlreadyExistsError:
            raise Conflict(f"Reference {ref} already exists") from None
        except ValueError as e:
            if "exists" in str(e):
                raise Conflict(f"Reference {ref} already exists") from None
            raise

    def create_annotated_tag(self, name: str, target: str, message: str, user: str) -> None:
        ref = f"refs/tags/{name}"
        if not pygit2.reference_is_valid_name(ref):
            raise BadRequest(f"Invalid tag name {name!r}")
        if ref in self.repo.references:
            raise Conflict(f"Tag {name} already exists")
        self.repo.create_tag(name, target, ObjectType.COMMIT, self._sig(user), message)

    def delete_ref(self, ref: str) -> None:
        try:
            self.repo.references.delete(ref)
        except (KeyError, pygit2.InvalidSpecError):
            raise RevisionNotFound(f"Invalid rev id: {ref} does not exist") from None

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Serialize writers of this repo, across threads and processes on this host."""
        fd = os.open(self.path / "agora.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def move_ref(self, ref: str, old: str | None, new: str, message: str) -> None:
        """Compare-and-swap: the ref moves from `old` to `new` or nothing happens."""
        refs = self.repo.references
        if old is None:
            self.create_ref(ref, new)
            return
        try:
            current = refs[ref]
        except KeyError:
            raise branch_moved(f"{ref} no longer exists") from None
        if str(current.target) != old:
            raise branch_moved(f"{ref} is now at {current.target}")
        try:
            current.set_target(new, message)  # libgit2 checks the old value again under the ref lock
        except (pygit2.GitError, ValueError) as e:
            raise branch_moved(str(e)) from None

    # ---- reading --------------------------------------------------------------------------------
    def _tree_at(self, commit: str, path: str = "") -> pygit2.Tree | None:
        tree = self.repo[commit].peel(pygit2.Tree)
        if not path:
            return tree
        try:
            obj = tree[path]
        except (KeyError, ValueError, TypeError):  # TypeError: a path with no UTF-8 form (lone surrogate)
            return None
        found = self.repo[obj.id] if obj.type == ObjectType.TREE else None
        return found if isinstance(found, pygit2.Tree) else None

    def _entry(self, path: str, obj: pygit2.Object) -> Entry:
        if obj.type == ObjectType.TREE:
            return Entry(path, "directory", str(obj.id), 0)
        blob = self.repo[obj.id].peel(pygit2.Blob)
        size = blob.size
        if size <= POINTER_MAX:
            ptr = parse_pointer(blob.data)
            if ptr:
                return Entry(path, "file", str(obj.id), ptr.size, Lfs(ptr.oid, ptr.size, size))
        return Entry(path, "file", str(obj.id), size)

    def entry(self, commit: str, path: str) -> Entry | None:
        tree = self.repo[commit].peel(pygit2.Tree)
        try:
            obj = tree[path]
        except (KeyError, ValueError, TypeError):  # TypeError: a path with no UTF-8 form (lone surrogate)
            return None
        return self._entry(path, obj)

    def list_tree(self, commit: str, path: str = "", recursive: bool = False) -> list[Entry]:
        tree = self._tree_at(commit, path)
        if tree is None:
            what = "file" if path and self.entry(commit, path) else "folder"
            raise EntryNotFound(
                f"{what.capitalize()} {path!r} does not exist at this revision"
                if what == "folder"
                else f"{path!r} is a file, not a folder",
                is_file=what == "file",
            )
        out: list[Entry] = []
        base = f"{path}/" if path else ""

        def walk(t: pygit2.Tree, prefix: str) -> None:
            for obj in t:
                p = prefix + (obj.name or "")
                out.append(self._entry(p, obj))
                if recursive and obj.type == ObjectType.TREE:
                    walk(self.repo[obj.id].peel(pygit2.Tree), p + "/")

        walk(tree, base)
        return out

    def all_files(self, commit: str) -> list[Entry]:
        return [e for e in self.list_tree(commit, "", True) if e.type == "file"]

    def pointer(self, oid: str) -> Pointer | None:
        """The LFS pointer blob `oid` holds, or None (a larger blob is not read)."""
        _, size = self.repo.odb.read_header(oid)
        return parse_pointer(self.blob(oid)) if size <= POINTER_MAX else None

    def blob(self, oid: str) -> bytes:
        data: bytes = self.repo[oid].peel(pygit2.Blob).data
        return data

    def attr(self, commit: str, path: str, name: str) -> str | bool | None:
        flags = AttrCheck.INDEX_ONLY | AttrCheck.INCLUDE_COMMIT
        return self.repo.get_attr(path, name, flags=flags, commit=commit)

    def commit_info(self, c: pygit2.Commit) -> CommitInfo:
        msg = c.message
        title, _, rest = msg.partition("\n")
        return CommitInfo(
            str(c.id),
            title.strip(),
            rest.strip("\n"),
            c.author.name,
            c.author.email,
            c.commit_time,
            tuple(str(p) for p in c.parent_ids),
        )

    def log(
        self, commit: str, skip: int = 0, limit: int | None = None, path: str | None = None
    ) -> list[CommitInfo]:
        out: list[CommitInfo] = []
        seen = 0
        for c in self.repo.walk(commit, SortMode.TOPOLOGICAL | SortMode.TIME):
            if path is not None and not self._touches(c, path):
                continue
            if seen >= skip:
                out.append(self.commit_info(c))
                if limit is not None and len(out) >= limit:
                    break
            seen += 1
        return out

    def count(self, commit: str) -> int:
        return sum(1 for _ in self.repo.walk(commit, SortMode.NONE))

    def _touches(self, c: pygit2.Commit, path: str) -> bool:
        def oid_at(commit: pygit2.Commit) -> str | None:
            try:
                return str(commit.tree[path].id)
            except KeyError:
                return None

        mine = oid_at(c)
        if not c.parents:
            return mine is not None
        return any(oid_at(p) != mine for p in c.parents)

    def last_commits(self, commit: str, paths: list[str], max_walk: int = 2000) -> dict[str, CommitInfo]:
        """For each path, the newest commit (first-parent walk) that changed it."""
        todo = set(paths)
        found: dict[str, CommitInfo] = {}
        walked = 0
        for c in self.repo.walk(commit, SortMode.TOPOLOGICAL | SortMode.TIME):
            walked += 1
            for p in list(todo):
                if self._touches(c, p):
                    found[p] = self.commit_info(c)
                    todo.discard(p)
            if not todo or walked >= max_walk:
                break
        return found

    # ---- writing --------------------------------------------------------------------------------
    def write_blob(self, data: bytes) -> str:
        return str(self.repo.create_blob(data))

    def build_tree(
        self, base_commit: str | None, puts: dict[str, str], deletes: list[str], delete_folders: list[str]
    ) -> str:
        """Apply puts (path -> blob id) and deletes to the base commit's tree; return the new tree id."""
        idx = pygit2.Index()
        if base_commit:
            idx.read_tree(self.repo[base_commit].peel(pygit2.Tree))
        existing = {e.path for e in idx}
        _remove_paths(idx, existing, deletes, delete_folders)
        for p, oid in puts.items():
            _check_addable(p, existing)
            idx.add(pygit2.IndexEntry(p, pygit2.Oid(hex=oid), FileMode.BLOB))
            existing.add(p)
        return str(idx.write_tree(self.repo))

    def write_commit(self, tree: str, parents: list[str], user: str, message: str) -> str:
        sig = self._sig(user)
        return str(
            self.repo.create_commit(
                None, sig, sig, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
            )
        )

    def tree_of(self, commit: str) -> str:
        return str(self.repo[commit].peel(pygit2.Tree).id)


def _remove_paths(
    idx: pygit2.Index, existing: set[str], deletes: list[str], delete_folders: list[str]
) -> None:
    """Remove files and whole folders from `idx` and from `existing` (its paths); EntryNotFound for a file
    or a folder that is not there. A file delete naming a folder deletes the folder, as on the Hub:
    `CommitOperationDelete("folder")` sends "folder" as a file (the client only sends a folder for "folder/")."""
    for p in deletes:
        if p in existing:
            idx.remove(p)
            existing.discard(p)
        elif not _remove_folder(idx, existing, p):
            raise EntryNotFound(f"A file with this name doesn't exist: {p}")
    for folder in delete_folders:
        if not _remove_folder(idx, existing, folder):
            raise EntryNotFound(f"A folder with this name doesn't exist: {folder}")


def _remove_folder(idx: pygit2.Index, existing: set[str], folder: str) -> bool:
    """Remove every file under `folder`; False when it holds none (no such folder)."""
    prefix = folder.rstrip("/") + "/"
    inside = [p for p in existing if p.startswith(prefix)]
    for p in inside:
        idx.remove(p)
        existing.discard(p)
    return bool(inside)


def _check_addable(p: str, existing: set[str]) -> None:
    """A file may be added at `p` unless one of its parent folders is a file, or it is a folder."""
    parts = p.split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in existing:
            raise BadRequest(f"Cannot add {p!r}: {'/'.join(parts[:i])!r} is a file")
    if any(e.startswith(p + "/") for e in existing):
        raise BadRequest(f"Cannot add {p!r}: a folder with this name exists")


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str | None
    status: str  # added | deleted | modified | renamed
    binary: bool
    additions: int
    deletions: int
    patch: str  # unified diff text ("" for binary or LFS changes)
    old_lfs: tuple[str, int] | None = None  # (sha256, size) when the old blob is an LFS pointer
    new_lfs: tuple[str, int] | None = None
    old_size: int = 0
    new_size: int = 0
    cut: bool = False  # the patch is cut short (or left out): too large a change to show whole


_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed", "T": "modified", "C": "added"}


def _lfs(blob: pygit2.Blob) -> tuple[str, int] | None:
    ptr = parse_pointer(blob.data) if blob.size <= POINTER_MAX else None
    return (ptr.oid, ptr.size) if ptr else None


def _patch_text(patch: pygit2.Patch, skip: bool, room: int) -> tuple[str, bool]:
    """A file's patch text, at most `room` characters, and whether it was cut ("" and False when `skip`:
    binary and LFS changes have no text)."""
    if skip:
        return "", False
    if room <= 0:
        return "", True  # the budget is spent: not even read
    text = patch.text or ""
    return text[:room], len(text) > room


def diff_commit(
    g: GitRepo,
    commit: str,
    max_patch: int = 512 * 1024,
    base: str | None = None,
    max_total: int = 1024 * 1024,
) -> list[FileDiff]:
    """Per-file changes of a commit against its first parent (or against `base`: a pull request's changes
    since its merge base); LFS pointer changes are reported as such. Each patch has at most `max_patch`
    characters and all together at most `max_total` (a big diff stays a page a browser shows): past them a
    file's patch is cut or left out (`cut`)."""
    left = max_total
    c = g.repo[commit].peel(pygit2.Commit)
    if base is not None:
        d = g.repo.diff(g.repo[base].peel(pygit2.Commit), c, context_lines=3)
    elif c.parents:
        d = g.repo.diff(c.parents[0], c, context_lines=3)
    else:
        d = c.tree.diff_to_tree(swap=True, context_lines=3)
    d.find_similar()
    out = []
    for patch in d:
        if patch is None:  # typed optional by pygit2; a diff of commits yields a patch per delta
            continue
        delta = patch.delta
        old_ptr = new_ptr = None
        old_size = new_size = 0
        if delta.old_file.id and not delta.old_file.id == pygit2.Oid(hex="0" * 40):
            blob = g.repo.get(delta.old_file.id)
            if isinstance(blob, pygit2.Blob):
                old_size = blob.size
                old_ptr = _lfs(blob)
        if delta.new_file.id and not delta.new_file.id == pygit2.Oid(hex="0" * 40):
            blob = g.repo.get(delta.new_file.id)
            if isinstance(blob, pygit2.Blob):
                new_size = blob.size
                new_ptr = _lfs(blob)
        lfs = bool(old_ptr or new_ptr)
        text, cut = _patch_text(patch, bool(delta.is_binary or lfs), min(max_patch, left))
        left -= len(text)
        adds, dels = (0, 0) if (delta.is_binary or lfs) else patch.line_stats[1:]
        out.append(
            FileDiff(
                delta.new_file.path,
                delta.old_file.path if delta.status_char() == "R" else None,
                _STATUS.get(delta.status_char(), "modified"),
                bool(delta.is_binary) and not lfs,
                adds,
                dels,
                text,
                old_ptr,
                new_ptr,
                old_ptr[1] if old_ptr else old_size,
                new_ptr[1] if new_ptr else new_size,
                cut,
            )
        )
    return out
