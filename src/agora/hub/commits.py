"""The commit service: every commit the server writes goes through `create_commit`, and every ref move
(those commits, PR merges, and git pushes) ends in `ref_moved`.

A commit is a list of operations, named as huggingface_hub names them (CommitOperationAdd, ...Delete,
...Copy, plus the LFS and browser-staged adds this server needs). `create_commit` owns its database
session and the repo lock, and runs in phases:

1. prepare (`_prepare`): the blobs are written and the tree built, every check made (README metadata,
   NFC/NFD twins, LFS pointers) and every slow read done (blob store / S3, Xet lookups): all of it BEFORE
   the repo lock, which is never held across slow I/O;
2. write (`_write_locked`): under `hub.writer` (the database lock, then the repo's flock) the parent is
   checked, the commit written and the ref moved;
3. `ref_moved`: `Hub.after_ref_update` for each moved ref, then the database transaction commits.

If the database step fails once the ref has moved, the write landed: `_recover` does the step again, and
the repair of hub/reconcile.py catches up whatever a crash leaves (issue 14).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, TypedDict, Unpack

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..db.models import Discussion, Repo
from ..errors import BadRequest, Conflict, EntryNotFound, RepoNotFound, Unavailable, branch_moved, disk_full
from ..ids import RepoId, check_folder, check_oid, check_path, check_unicode_twins
from ..storage.gitstore import GitRepo
from ..storage.lfs_pointer import lfs_pointer, parse_pointer
from . import cards, contributions, spaces, webhook_events
from .accounts import Principal
from .repos import _goes_to_lfs

if TYPE_CHECKING:
    from .repos import Hub

log = logging.getLogger("agora.hub")
README_MAX = 1024 * 1024  # a larger README.md is not validated (nor indexed)


# ---- operations ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommitOperationAdd:
    """A file: its bytes (`content`), or a git blob already written with `hub.git(repo).write_blob`
    (`blob`): the streaming NDJSON commit writes each file as its line arrives, so that memory stays
    bounded by one line, not by the whole commit."""

    path_in_repo: str
    content: bytes | None = None
    blob: str | None = None

    def __post_init__(self) -> None:
        if (self.content is None) == (self.blob is None):
            raise ValueError("CommitOperationAdd takes content or blob (one of them)")
        check_path(self.path_in_repo)


@dataclass(frozen=True)
class CommitOperationLfsAdd:
    """A file whose content is an LFS object uploaded to this repo (Hub.uploaded_lfs): `size`, when given,
    must be the object's."""

    path_in_repo: str
    oid: str
    size: int | None = None

    def __post_init__(self) -> None:
        check_path(self.path_in_repo)
        check_oid(self.oid)


@dataclass(frozen=True)
class CommitOperationStagedAdd:
    """A file the browser streamed into the blob store (web upload): stored in LFS by the Hub's rules (and
    the .gitattributes of the branch the commit goes to), else as a plain git blob."""

    path_in_repo: str
    oid: str

    def __post_init__(self) -> None:
        check_path(self.path_in_repo)


@dataclass(frozen=True)
class CommitOperationDelete:
    """A file, or a folder and all it holds when `is_folder` or the path ends with "/"."""

    path_in_repo: str
    is_folder: bool = False

    @property
    def folder(self) -> bool:
        return self.is_folder or self.path_in_repo.endswith("/")

    def __post_init__(self) -> None:
        (check_folder if self.folder else check_path)(self.path_in_repo)


@dataclass(frozen=True)
class CommitOperationCopy:
    """A file of the repo copied to another path: from `src_revision` (default: the branch committed to).
    An LFS file's pointer is reused: the object is not copied."""

    src_path_in_repo: str
    path_in_repo: str
    src_revision: str | None = None

    def __post_init__(self) -> None:
        check_path(self.src_path_in_repo)
        check_path(self.path_in_repo)


Operation = (
    CommitOperationAdd
    | CommitOperationLfsAdd
    | CommitOperationStagedAdd
    | CommitOperationDelete
    | CommitOperationCopy
)


@dataclass(frozen=True)
class CommitResult:
    oid: str
    pr_num: int | None = None


class RefMove(NamedTuple):
    ref: str
    old: str | None  # None: the ref was created
    new: str | None  # None: the ref was deleted


# ---- the service ---------------------------------------------------------------------------------------
class CommitOptions(TypedDict, total=False):
    """`create_commit`'s keyword arguments, for `commit_in`."""

    revision: str
    summary: str
    description: str
    parent_commit: str | None
    create_pr: bool
    parents: Sequence[str] | None
    tree_from: str | None


def create_commit(
    hub: Hub,
    who: Principal,
    rid_or_repo: RepoId | int,
    operations: Iterable[Operation],
    *,
    revision: str = "main",
    summary: str,
    description: str = "",
    parent_commit: str | None = None,
    create_pr: bool = False,
    parents: Sequence[str] | None = None,
    tree_from: str | None = None,
) -> CommitResult:
    """One commit on `revision` (a branch or refs/pr/N), or on a new refs/pr/N with its Discussion when
    `create_pr`. `rid_or_repo`: a RepoId (checked: `who` must be able to write it) or the id of a repo row the
    caller has checked. `parent_commit`: the head the caller saw (ParentMismatch if the branch moved since).
    `parents`: the new commit's parents (default: the branch head; a merge gives two). `tree_from`: a commit
    (or tree) whose tree the operations apply to instead of the branch head's (a revert: its target)."""
    options: CommitOptions = {
        "revision": revision,
        "summary": summary,
        "description": description,
        "parent_commit": parent_commit,
        "create_pr": create_pr,
        "parents": parents,
        "tree_from": tree_from,
    }
    with hub.db.session() as s:
        if isinstance(rid_or_repo, RepoId):
            # Writers anywhere; others on a public repo: a new PR, or their own PR's refs/pr/N.
            repo = contributions.find(s, hub, who, rid_or_repo, revision, create_pr)
        else:
            # A fresh row, never merge() of a detached one: merging writes its stale columns (head_sha...)
            # back, and that early write would hold the database lock while we wait for the git lock.
            found = s.get(Repo, rid_or_repo)
            if found is None:
                raise RepoNotFound()
            repo = found
        return commit_in(s, hub, who, repo, operations, **options)


def commit_in(
    s: Session,
    hub: Hub,
    who: Principal,
    repo: Repo,
    operations: Iterable[Operation],
    on_written: Callable[[str], None] | None = None,
    **options: Unpack[CommitOptions],
) -> CommitResult:
    """`create_commit` in the caller's session `s` (which it commits): for a write that shares the commit's
    transaction, such as a PR merge marking its discussion merged (`on_written(new)`, under the lock)."""
    summary = (options.get("summary") or "").strip() or "Upload files"
    description = options.get("description") or ""
    message = summary + (f"\n\n{description.strip()}" if description.strip() else "")
    revision = options.get("revision", "main")
    plan = _prepare(s, hub, repo, list(operations), revision, options.get("tree_from"))
    return _write_locked(
        s,
        hub,
        who,
        repo,
        plan,
        message,
        summary,
        options.get("parent_commit"),
        options.get("create_pr", False),
        options.get("parents"),
        on_written,
    )


def revert_to(hub: Hub, who: Principal, rid: RepoId, branch: str, target: str) -> CommitResult:
    """A new commit on `branch` whose tree is `target`'s: going back to a version keeps history. A revert
    that would change nothing (the branch already has `target`'s files, e.g. the same revert clicked twice)
    is refused: it would only add an empty commit. The head it compared is the commit's parent, so a branch
    that moves meanwhile is a 412, not a second identical revert."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        git = hub.git(repo)
        head = git.ref_target(hub.branch_ref(git, branch))
        target = git.resolve(target)
        if head is not None and would_change_nothing(git, head, target):
            raise Conflict(f"Nothing to revert: {branch} already has the files of {target[:7]}.")
        return commit_in(
            s,
            hub,
            who,
            repo,
            [],
            revision=branch,
            summary=f"Revert to {target[:7]}",
            description=f"Restore the files as they were at {target}.",
            parent_commit=head,
            tree_from=target,
        )


def would_change_nothing(git: GitRepo, head: str, target: str) -> bool:
    """Whether reverting `head` to `target` keeps every file as it is (the two commits have the same tree):
    the commit page offers no revert then."""
    return git.tree_of(head) == git.tree_of(target)


def super_squash(hub: Hub, who: Principal, rid: RepoId, branch: str, message: str) -> CommitResult:
    """The Hub's super-squash: `branch` (or refs/pr/N) becomes one root commit with the same tree. Through
    the commit service like any write (the writer lock, `after_ref_update`); a commit landing meanwhile is a
    412, never lost. Other refs keep the old history (and so its objects)."""
    summary, _, description = message.strip().partition("\n")
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        git = hub.git(repo)
        head = git.ref_target(hub.branch_ref(git, branch))
        assert head is not None  # branch_ref checked it
        return commit_in(
            s,
            hub,
            who,
            repo,
            [],
            revision=branch,
            summary=summary or f"Super-squash branch '{branch}'",
            description=description,
            parent_commit=head,
            parents=(),
            tree_from=head,
        )


def move_branch(
    s: Session,
    hub: Hub,
    repo: Repo,
    ref: str,
    old: str,
    new: str,
    reflog: str,
    on_moved: Callable[[str], None],
) -> None:
    """Move `ref` from `old` to an existing commit `new` (a fast-forward merge): under the repo lock,
    ParentMismatch if it moved meanwhile; then the post-write path of every commit."""
    git = hub.git(repo)
    with hub.writer(s, repo, git):
        head = git.ref_target(ref)
        if head != old:
            raise branch_moved(f"{ref} is now at {head}" if head else f"{ref} no longer exists")
        git.move_ref(ref, old, new, reflog)
        failed = _publish(hub, s, repo, RefMove(ref, old, new), on_moved)
    if failed is not None:
        _recover(hub, s, repo, RefMove(ref, old, new), on_moved, failed)


def ref_moved(hub: Hub, s: Session, repo: Repo, moves: Sequence[RefMove]) -> None:
    """The post-write path every write takes once its refs have moved (API and web commits, merges, and
    git pushes, hub/pushes.after_push): re-derive what depends on each ref, then commit the database."""
    # Issue 14: the ref has moved (git is the journal); if what follows never commits (a crash, a database
    # error), hub/reconcile.py re-runs after_ref_update from the refs: main against repos.head_sha.
    for m in moves:
        hub.after_ref_update(s, repo, m.ref, m.old, m.new, notify=False)
    webhook_events.refs_moved(s, repo, [(m.ref, m.old, m.new) for m in moves])  # one event for them all
    s.commit()


# ---- phase 1: prepare, before the lock ---------------------------------------------------------------
@dataclass
class _Plan:
    git: GitRepo
    ref: str
    base: str | None  # the commit (or tree) the tree was built on
    tree_from: str | None
    puts: dict[str, str] = field(default_factory=dict)  # path -> blob
    deletes: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)  # pointer blobs known to name objects of this repo
    lfs_rows: list[tuple[str, int]] = field(default_factory=list)  # objects the repo comes to own
    tree: str = ""


def _prepare(
    s: Session, hub: Hub, repo: Repo, ops: list[Operation], revision: str, tree_from: str | None
) -> _Plan:
    """Blobs written, checks made, the tree built: every slow read (blob store, S3, Xet) happens here,
    before the repo lock is taken."""
    git = hub.git(repo)
    plan = _Plan(git, "", None, tree_from)
    for op in ops:
        if isinstance(op, CommitOperationAdd):
            plan.puts[op.path_in_repo] = op.blob if op.blob is not None else git.write_blob(op.content or b"")
        elif isinstance(op, CommitOperationLfsAdd):
            _add_lfs(s, hub, repo, plan, op)
        elif isinstance(op, CommitOperationStagedAdd):
            _add_staged(hub, plan, op, revision)
        elif isinstance(op, CommitOperationDelete):
            if op.folder:
                plan.folders.append(check_folder(op.path_in_repo))
            else:
                plan.deletes.append(op.path_in_repo)
        else:
            _add_copy(hub, plan, op, revision)
    plan.ref = hub.branch_ref(git, revision)
    plan.base = tree_from or git.ref_target(plan.ref)
    _check_readme(plan, repo.type)
    _check_twins(plan)
    _check_pointers(s, hub, repo.id, plan)
    plan.tree = _build_tree(plan, plan.base)
    return plan


def _add_lfs(s: Session, hub: Hub, repo: Repo, plan: _Plan, op: CommitOperationLfsAdd) -> None:
    known = hub.uploaded_lfs(s, repo.id, op.oid)
    if known is None:
        raise BadRequest(
            f"LFS object {op.oid} for {op.path_in_repo!r} was never uploaded to this repo: "
            "upload it through the LFS batch API before committing"
        )
    if op.size is not None and op.size != known:
        raise BadRequest(f"LFS object {op.oid} has size {known}, not {op.size}")
    blob = plan.git.write_blob(lfs_pointer(op.oid, known))
    plan.puts[op.path_in_repo] = blob
    plan.checked.add(blob)


def _add_staged(hub: Hub, plan: _Plan, op: CommitOperationStagedAdd, revision: str) -> None:
    """LFS by the Hub's rules (and the .gitattributes of `revision`, the branch the commit goes to), else a
    plain git blob. The repo comes to own the object under the lock (`lfs_rows`): no write before it."""
    size = hub.blobs.size(op.oid)
    if size is None:
        raise BadRequest(f"Upload of {op.path_in_repo} is missing: upload it again")
    git = plan.git
    head = git.ref_target(hub.branch_ref(git, revision))
    with hub.blobs.open(op.oid) as fh:
        sample = fh.read(512)
    if _goes_to_lfs(git, head, op.path_in_repo, size, sample):
        plan.lfs_rows.append((op.oid, size))
        plan.puts[op.path_in_repo] = blob = git.write_blob(lfs_pointer(op.oid, size))
        plan.checked.add(blob)  # its object is in the blob store: the repo owns it once the commit lands
    else:
        with hub.blobs.open(op.oid) as fh:
            plan.puts[op.path_in_repo] = git.write_blob(fh.read())


def _add_copy(hub: Hub, plan: _Plan, op: CommitOperationCopy, revision: str) -> None:
    git = plan.git
    src = git.resolve(op.src_revision) if op.src_revision else git.ref_target(hub.branch_ref(git, revision))
    e = git.entry(src, op.src_path_in_repo) if src else None
    if e is None or e.type != "file":
        raise EntryNotFound(f"A file with this name doesn't exist: {op.src_path_in_repo}")
    plan.puts[op.path_in_repo] = e.oid  # an LFS file's pointer blob: the object is the repo's already
    if e.lfs is not None:
        plan.checked.add(e.oid)


def _build_tree(plan: _Plan, base: str | None) -> str:
    if not (plan.puts or plan.deletes or plan.folders) and base is not None:
        return plan.git.tree_of(base)
    return plan.git.build_tree(base, plan.puts, plan.deletes, plan.folders)


def _check_readme(plan: _Plan, repo_type: str) -> None:
    """An upload whose README.md metadata is invalid is refused with the validation errors."""
    oid = plan.puts.get("README.md")
    if oid is None:
        return
    data = plan.git.blob(oid)
    if len(data) > README_MAX or parse_pointer(data):
        return
    check_readme_text(data.decode("utf-8", "replace"), repo_type)


def readme_errors(text: str, repo_type: str) -> list[str]:
    """The metadata problems that refuse a commit of this README.md (the web card editor shows the same)."""
    errors, _ = cards.validate(cards.parse(text), repo_type)
    return errors


def check_readme_text(text: str, repo_type: str) -> None:
    errors = readme_errors(text, repo_type)
    if errors:
        raise BadRequest("Invalid metadata in README.md.\n" + "\n".join(f"- {e}" for e in errors))


def _check_twins(plan: _Plan) -> None:
    """A new path may not be an NFC/NFD twin of another path of the tree (ids.check_unicode_twins)."""
    new = [p for p in plan.puts if not p.isascii()]
    if not new:
        return
    gone = set(plan.deletes)
    folders = tuple(f.rstrip("/") + "/" for f in [*plan.folders, *plan.deletes])
    existing = [e.path for e in plan.git.all_files(plan.base)] if plan.base else []
    existing = [p for p in existing if p not in gone and not p.startswith(folders) and p not in plan.puts]
    check_unicode_twins(new, existing + [p for p in plan.puts if p.isascii()])


def _check_pointers(s: Session, hub: Hub, repo_id: int, plan: _Plan) -> None:
    """A file whose content is an LFS pointer is served as the object it names. As in a push, it may only
    name an object uploaded to this repo, and carry no git-lfs extension lines (storage/lfs_pointer.py):
    else a pointer written as a plain file would read any stored object by its sha256."""
    for path, blob in plan.puts.items():
        if blob in plan.checked:
            continue
        ptr = plan.git.pointer(blob)
        if ptr is None:
            continue
        if ptr.extensions:
            raise BadRequest(
                f"{path!r} is a Git LFS pointer with extensions ({ptr.extensions[0]!r}...): "
                "this Hub cannot run them; upload the file itself"
            )
        if hub.uploaded_lfs(s, repo_id, ptr.oid) is None:
            raise BadRequest(
                f"{path!r} is a Git LFS pointer to object {ptr.oid}, which was never uploaded "
                "to this repo: upload the file itself, or the object through the LFS batch API"
            )


# ---- phase 2: write, under the lock ------------------------------------------------------------------
def _write_locked(
    s: Session,
    hub: Hub,
    who: Principal,
    repo: Repo,
    plan: _Plan,
    message: str,
    summary: str,
    parent_commit: str | None,
    create_pr: bool,
    parents: Sequence[str] | None,
    on_written: Callable[[str], None] | None,
) -> CommitResult:
    """Under hub.writer: check the parent, write the commit, move the ref, then `ref_moved`. Only local git
    work and database writes here: the slow reads were made by `_prepare`."""
    git = plan.git
    with hub.writer(s, repo, git):
        head = git.ref_target(plan.ref)
        assert head is not None
        if parent_commit is not None and not head.startswith(parent_commit):  # a full id or a prefix
            raise branch_moved(f"{plan.ref} is now at {head}")
        tree = plan.tree
        if plan.tree_from is None and head != plan.base:  # the branch moved since _prepare: apply to it
            tree = _build_tree(plan, head)
        for oid, size in plan.lfs_rows:
            hub.record_lfs(s, repo, oid, size)
        new = git.write_commit(tree, list(parents) if parents is not None else [head], who.name, message)
        log.info(
            "commit %s on %s/%s %s by %s: %d files written, %d deleted, %d folders deleted",
            new[:12],
            repo.namespace,
            repo.name,
            "(a new PR)" if create_pr else plan.ref,
            who.name,
            len(plan.puts),
            len(plan.deletes),
            len(plan.folders),
        )
        if create_pr:
            num = new_discussion(s, repo, Discussion(title=summary[:300], is_pr=True, author_id=who.user_id))
            _open_pr(hub, s, repo, git, num, new, on_written)
            return CommitResult(new, num)
        git.move_ref(plan.ref, head, new, f"commit: {summary}")
        move = RefMove(plan.ref, head, new)
        # Inside the lock: the database write (row/write lock held until our commit) is then ordered like the
        # ref moves, so a slower earlier commit cannot leave head_sha and the index stale.
        failed = _publish(hub, s, repo, move, on_written)
    if failed is not None:
        _recover(hub, s, repo, move, on_written, failed)
    return CommitResult(new)


def _open_pr(
    hub: Hub,
    s: Session,
    repo: Repo,
    git: GitRepo,
    num: int,
    new: str,
    on_written: Callable[[str], None] | None,
) -> None:
    """refs/pr/{num} and its row, published together: a failure deletes the ref again (the PR was not
    opened), and a database that is busy or gone says so (503), not a 500."""
    try:
        with pr_ref(git, num, new):
            if on_written is not None:
                on_written(new)
            ref_moved(hub, s, repo, [RefMove(f"refs/pr/{num}", None, new)])
    except OperationalError as e:
        if disk_full(e):
            raise  # a full disk is a 507 (http/routing.py)
        raise Unavailable("The database is busy, nothing was changed: retry later") from e


def _publish(
    hub: Hub, s: Session, repo: Repo, move: RefMove, on_written: Callable[[str], None] | None
) -> Exception | None:
    """`on_written` and `ref_moved` once the ref has moved, under hub.writer; the error if they failed."""
    try:
        if on_written is not None:
            on_written(move.new or "")
        ref_moved(hub, s, repo, [move])
    except Exception as e:  # noqa: BLE001 - the ref has moved: the write landed, whatever the database said
        return e
    return None


def _recover(
    hub: Hub,
    s: Session,
    repo: Repo,
    move: RefMove,
    on_written: Callable[[str], None] | None,
    failed: Exception,
) -> None:
    """The ref moved but the database step failed (a lock timeout, a lost connection, a kill would leave
    the same): the write landed. Do the database step again in a clean transaction, under the lock taken
    anew (hub.writer: database first, then the flock, so it is left and taken again); if that works too the
    write is acknowledged. If the database still refuses: Unavailable (503), saying the commit landed;
    hub/reconcile.py derives it at the next reader or the next start (not `on_written`'s rows: a merge's
    discussion then stays open)."""
    log.warning(
        "%s moved to %s, but the database step failed: trying again", move.ref, move.new, exc_info=failed
    )
    try:
        s.rollback()
        with hub.writer(s, repo, hub.git(repo)):
            if on_written is not None:
                on_written(move.new or "")
            ref_moved(hub, s, repo, [move])
    except Exception as e:
        try:
            s.rollback()
        except Exception:  # noqa: BLE001 - the first error is the one to report
            log.exception("rollback failed")
        raise Unavailable(
            f"Your commit {move.new} is in {move.ref}, but the database could not record it yet: the Hub "
            "will catch up by itself. Do not commit it again."
        ) from e


def new_discussion(s: Session, repo: Repo, row: Discussion) -> int:
    """Give `row` (a new discussion or PR of `repo`) the next number and flush it. Under `hub.writer`: its
    lock is held until the session commits on every database (db.session.repo_write_lock), so no other
    writer reads the same max(num) before this row is committed."""
    num = (s.scalar(select(func.max(Discussion.num)).where(Discussion.repo_id == repo.id)) or 0) + 1
    row.repo_id, row.num = repo.id, num
    s.add(row)
    s.flush()
    webhook_events.discussion_event(s, repo, row, "create")
    return num


@contextmanager
def pr_ref(git: GitRepo, num: int, target: str) -> Iterator[None]:
    """Create refs/pr/{num} at `target` for PR #num, whose row is flushed but not committed; the block
    commits the session. If it fails (the row is then rolled back) the ref is deleted again: no ref is left
    without its row, nor a row without its ref. Both happen under the repo's lock."""
    ref = f"refs/pr/{num}"
    if git.ref_target(ref) is not None:
        # No row has this number (the next one, under the lock), discussions are never deleted, and a push
        # cannot create refs/pr/N: a creation that died between its ref and its commit left this one. The
        # new PR takes the number over, else every PR of the repo would fail on it from now on.
        log.warning("%s existed without its discussion row (a creation interrupted): replaced", ref)
        git.delete_ref(ref)
    git.create_ref(ref, target)
    try:
        yield
    except BaseException:
        try:
            git.delete_ref(ref)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            log.exception("could not delete %s after the PR's creation failed", ref)
        raise


# ---- callers' helpers ----------------------------------------------------------------------------------
def create_repo_with_readme(
    hub: Hub,
    who: Principal,
    rid: RepoId,
    *,
    private: bool,
    sdk: str | None,
    license: str | None,
    short_description: str | None = None,
) -> Repo:
    """A new repo (the web's New repository form) and, when a license is chosen, a first commit of a
    README naming it; a Space always gets its README config and a minimal app for its SDK
    (hub/spaces.template). An invalid README creates nothing: it is checked before the repo is."""
    with hub.db.session() as s:
        repo = hub.create(s, who, rid, private=private, sdk=sdk)
        files: dict[str, bytes] = {}
        if repo.type == "space" and repo.sdk in spaces.APPS:
            files = spaces.template(rid.name, repo.sdk, license, short_description)
        elif license:
            meta = f"---\nlicense: {license}\n" + (f"sdk: {repo.sdk}\n" if repo.sdk else "") + "---\n"
            files = {"README.md": f"{meta}\n# {rid.name}\n".encode()}
        if "README.md" in files:
            check_readme_text(files["README.md"].decode(), repo.type)
        if repo.type == "space" and files:
            problems = spaces.config(cards.parse(files["README.md"].decode()).data, repo.sdk)[1]
            if problems:
                raise BadRequest("Invalid Space configuration: " + "; ".join(problems))
    if files:
        ops = [CommitOperationAdd(path, data) for path, data in files.items()]
        create_commit(hub, who, repo.id, ops, summary="Initial commit" if len(ops) > 1 else "Initial README")
    return repo


def delete_branch(hub: Hub, who: Principal | None, rid: RepoId, branch: str) -> None:
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        hub.delete_branch(s, repo, branch)
