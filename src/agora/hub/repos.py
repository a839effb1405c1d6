"""Repositories: create / delete / move / settings, refs, and the one after_ref_update.

Every write path meets here: an API commit, a web upload (both through hub/commits.py) and (through the git
face) a push all end in a ref move followed by `after_ref_update`.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..db.models import LfsObject, utcnow
from ..db.models import (
    Repo as Repo,  # re-exported: the detached row the domain hands out (http/ types with it)
)
from ..db.session import Database, repo_write_lock
from ..errors import (
    BadRequest,
    Conflict,
    Forbidden,
    RepoMoved,
    RepoNotFound,
    RevisionNotFound,
    Unauthorized,
    Unavailable,
    disk_full,
)
from ..ids import (
    CANONICAL,
    RepoId,
    check_name,
    check_namespace,
    check_path,
    check_ref_name,
    repo_full,
)
from ..storage.blobs import BlobStore
from ..storage.gitstore import Entry, GitRepo
from . import accounts, artefacts, audit, gating, gitignore, index, names, reconcile, webhook_events
from .accounts import Principal
from .gitattributes import default_gitattributes
from .sizes import BINARY_LFS_SIZE, LFS_SIZE

if TYPE_CHECKING:
    from .xet import XetStore

SDKS = ("gradio", "streamlit", "docker", "static")
log = logging.getLogger("agora.hub")


@dataclass(frozen=True)
class UploadMode:
    path: str
    mode: str  # "lfs" | "regular"
    oid: str | None
    ignored: bool = False  # the .gitignore rules it out (hub/gitignore.py)


def taken(rid: RepoId) -> str:
    """The Hub's 409 text for a repo id in use, which scripts match ("A model repository called ... already
    exists"; huggingface_hub's own tests do for move_repo)."""
    return f"A {rid.type} repository called {rid.full} already exists"


def _first_line(e: OperationalError) -> str:
    """The driver's message of a database error, without SQLAlchemy's SQL and links."""
    return str(e.orig or e).strip().splitlines()[0][:200] if str(e.orig or e).strip() else type(e).__name__


def _is_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(sample) - 3  # a multibyte char cut at the end of the sample is fine
    return False


def _goes_to_lfs(git: GitRepo, head: str | None, path: str, size: int, sample: bytes) -> bool:
    """The Hub's rule: large files, files the .gitattributes of `head` send to LFS, and binary files over
    1 MB are stored in LFS; empty files never are."""
    if size <= 0:
        return False
    return (
        size >= LFS_SIZE
        or (head is not None and git.attr(head, path, "filter") == "lfs")
        or (size > BINARY_LFS_SIZE and _is_binary(sample))
    )


class Hub:
    def __init__(self, db: Database, repos_root: Path, blobs: BlobStore) -> None:
        self.db = db
        self.repos_root = repos_root
        self.blobs = blobs
        self.xet: XetStore | None = None  # attached by app.build_hub

    # ---- lookup and permissions -------------------------------------------------------------------
    def git_dir(self, repo: Repo) -> Path:
        return self.repos_root / repo.storage_key[:2] / f"{repo.storage_key}.git"

    def git(self, repo: Repo) -> GitRepo:
        return GitRepo(self.git_dir(repo))

    def get(self, s: Session, rid: RepoId) -> Repo | None:
        """The repo `rid` names, in any case (ids compare without case, as on the Hub; hub/names.py)."""
        return names.repo(s, rid)

    def find(
        self,
        s: Session,
        who: Principal | None,
        rid: RepoId,
        write: bool = False,
        download: bool | str = False,
        rev: str | None = None,
    ) -> Repo:
        """The repo if `who` may see it (and write it, if asked); otherwise RepoNotFound, never a hint.
        `download` (True, or the path of the file to serve at `rev`): the caller serves the repo's bytes, so a
        gated repo's gate is checked too (`gating.check`: GatedRepo; the card passes, `gating.is_card`).
        Every byte-serving surface asks for it."""
        repo = self.get(s, rid)
        if repo is None:
            self._follow_old_name(s, who, rid)
        if repo is None or not accounts.can_read(s, who, repo):
            raise RepoNotFound(f"Repository {rid.full} not found")
        if download:
            gating.check(s, who, repo, self._card(repo, download, rev))
        if write and not accounts.can_write(s, who, repo):
            if who is None:
                raise Unauthorized("You must be authenticated to write to this repository")
            raise Forbidden(
                f"You don't have write access to {rid.full}"
                + (" (your token is read-only)" if who.role == "read" else "")
            )
        return repo

    def _card(self, repo: Repo, download: bool | str, rev: str | None) -> bool:
        """Whether a gated repo's file to serve is its card (public: `gating.is_card`)."""
        return (
            bool(repo.gated)
            and isinstance(download, str)
            and rev is not None
            and gating.is_card(self.git(repo), rev, download)
        )

    def _follow_old_name(self, s: Session, who: Principal | None, rid: RepoId) -> None:
        """RepoMoved when `rid` is the old name of a repo `who` may see (to others it stays RepoNotFound)."""
        hit = names.redirect(s, rid)
        repo = s.get(Repo, hit.repo_id) if hit is not None else None
        if repo is not None and accounts.can_read(s, who, repo):
            new = repo_full(repo.namespace, repo.name)
            raise RepoMoved(f"Repository {rid.full} was moved to {new}", old=rid.full, new=new)

    def open_repo(
        self,
        who: Principal | None,
        rid: RepoId,
        write: bool = False,
        download: bool | str = False,
        rev: str | None = None,
    ) -> Repo:
        """`find` in a session of its own: the row comes back detached (read its attributes; to change it,
        call a Hub method that loads it again)."""
        with self.db.session() as s:
            repo = self.find(s, who, rid, write, download, rev)
        if reconcile.notice(self, repo):  # git's main moved without the database knowing: repaired now
            with self.db.session() as s:
                repo = self.find(s, who, rid, write, download, rev)
        return repo

    # ---- repo lifecycle ---------------------------------------------------------------------------
    def create(
        self, s: Session, who: Principal | None, rid: RepoId, private: bool = False, sdk: str | None = None
    ) -> Repo:
        if who is None:
            raise Unauthorized("You must be authenticated to create a repository")
        check_name(rid.name)
        check = self._check_canonical if rid.namespace == CANONICAL else self._check_owner
        rid = check(s, who, rid)
        if rid.type == "space":
            if sdk is None:
                raise BadRequest("A Space needs an sdk: gradio, streamlit, docker or static")
            if sdk not in SDKS:
                raise BadRequest(f"Invalid Space sdk {sdk!r}: use gradio, streamlit, docker or static")
        key = uuid.uuid4().hex
        repo = Repo(
            type=rid.type,
            namespace=rid.namespace,
            name=rid.name,
            storage_key=key,
            private=private,
            sdk=sdk if rid.type == "space" else None,
        )
        git = GitRepo.init(
            self.repos_root / key[:2] / f"{key}.git",
            {".gitattributes": default_gitattributes(rid.type)},
            "system",
            "initial commit",
        )
        repo.head_sha = git.resolve("main")
        try:
            with s.begin_nested():
                s.add(repo)
                s.flush()
        except IntegrityError:
            shutil.rmtree(git.path, ignore_errors=True)
            raise Conflict(taken(rid)) from None
        names.release(s, rid)  # a repo's old name taken over: it redirects no more
        webhook_events.repo_event(s, repo, "create")
        self.after_ref_update(s, repo, "refs/heads/main", None, repo.head_sha)
        return repo

    def _check_owner(self, s: Session, who: Principal, rid: RepoId) -> RepoId:
        """`rid` (in its owner's spelling) if `who` may create it in its namespace."""
        check_namespace(rid.namespace)
        rid = RepoId(rid.type, names.canonical(s, rid.namespace), rid.name)  # the owner's own spelling
        existing = self.get(s, rid)  # `alice/PM` when `alice/pm` exists is that repo: a Conflict below
        if existing is not None and accounts.can_read(s, who, existing):
            raise Conflict(f"You already created this {rid.type} repo. {taken(rid)}", repo=existing)
        if not accounts.can_write_namespace(s, who, rid.namespace):
            if accounts.get_account(s, rid.namespace) is None:
                raise BadRequest(f"Namespace {rid.namespace!r} does not exist")
            raise Forbidden(f"You don't have the rights to create a repo under {rid.namespace!r}")
        if existing is not None:
            raise Conflict(taken(rid))
        return rid

    def _check_canonical(self, s: Session, who: Principal, rid: RepoId) -> RepoId:
        """A canonical repo (`gpt2`, ids.CANONICAL): site admins only; its name is no reserved word (it is a
        first path segment) and no account's (accounts and canonical repos share names: `/gpt2`)."""
        if not (who.is_admin and who.can_write_at_all):
            raise Forbidden("Only a site admin can create a canonical repo (one without a namespace)")
        check_namespace(rid.name)
        existing = self.get(s, rid)
        if existing is not None:
            raise Conflict(taken(rid), repo=existing)
        if accounts.get_account(s, rid.name) is not None:
            raise Conflict(
                f"{rid.name!r} is the name of an account: a canonical repo cannot take it (/{rid.name} "
                "would name both)"
            )
        return rid

    def find_admin(self, s: Session, who: Principal | None, rid: RepoId, what: str) -> Repo:
        """The repo if `who` administers it (see accounts.can_admin): RepoNotFound to those who cannot see it,
        403 to those who can (readers, writers, read tokens)."""
        repo = self.find(s, who, rid)
        if not accounts.can_admin(s, who, repo):
            if who is None:
                raise Unauthorized(f"You must be authenticated to {what}")
            if not who.can_write_at_all:
                raise Forbidden(f"Your token is read-only: you cannot {what}")
            raise Forbidden(f"Only an admin of {repo.namespace!r} can {what}")
        return repo

    def delete(self, s: Session, who: Principal | None, rid: RepoId) -> None:
        # Org members with write may push but only admins delete, as on the Hub.
        repo = self.find_admin(s, who, rid, f"delete {rid.full}")
        path = self.git(repo).path
        audit.record(s, who, "repo.delete", f"{rid.type}:{rid.full}", {"private": repo.private})
        webhook_events.repo_event(s, repo, "delete")
        index.drop(s, repo)
        s.delete(repo)
        s.flush()

        def remove_git_dir(_s: Session) -> None:
            # Only once the row is gone for good: a failed or rolled-back commit keeps the row and the repo.
            if not inspect(repo).was_deleted:
                return
            trash = path.with_name(path.name + f".deleted-{uuid.uuid4().hex[:8]}")
            try:
                path.rename(trash)
            except OSError:
                log.exception("repo %s deleted, but its git directory %s was not removed", rid.full, path)
                return
            shutil.rmtree(trash, ignore_errors=True)

        event.listen(s, "after_commit", remove_git_dir, once=True)

    def move(self, s: Session, who: Principal | None, src: RepoId, dst: RepoId) -> Repo:
        """Rename or transfer: admin of the source namespace (the repo leaves it), and the right to create
        repos in the target one (write or admin there), as on the Hub."""
        repo = self.find_admin(s, who, src, f"move or rename {src.full}")
        check_namespace(dst.namespace)
        check_name(dst.name)
        if accounts.get_account(s, dst.namespace) is None:  # not even a site admin moves a repo to nobody
            raise BadRequest(f"Namespace {dst.namespace!r} does not exist")
        dst = RepoId(dst.type, names.canonical(s, dst.namespace), dst.name)
        if not accounts.can_write_namespace(s, who, dst.namespace):
            raise Forbidden(f"You don't have the rights to move a repo to {dst.namespace!r}")
        if names.repo_taken(s, dst, other_than=repo.id):  # a case-only rename of itself is fine
            raise Conflict(taken(dst))
        old = RepoId(src.type, repo.namespace, repo.name)
        repo.namespace, repo.name = dst.namespace, dst.name
        s.flush()
        names.remember(s, repo, old)  # the old name redirects here (hub/names.py), the new one is this repo's
        names.release(s, dst)
        owner = accounts.get_account(s, dst.namespace)
        to = {"name": dst.full, "owner": {"id": str(owner.id) if owner else dst.namespace}}
        moved = {"movedTo": to, "movedFrom": src.full}
        webhook_events.repo_event(s, repo, "move", moved)
        audit.record(s, who, "repo.move", f"{src.type}:{src.full}", {"to": dst.full})
        if repo.head_sha:
            index.reindex(s, self, repo, repo.head_sha)
        return repo

    def update_settings(
        self, s: Session, who: Principal | None, rid: RepoId, private: bool | None, gated: str | bool | None
    ) -> Repo:
        """Visibility and gating are settings: namespace admins only (a writer pushes, an admin publishes)."""
        repo = self.find_admin(s, who, rid, f"change the settings of {rid.full}")
        if gated is not None and gated not in (False, "auto", "manual"):
            raise BadRequest(f"Invalid gated value {gated!r}: use false, 'auto' or 'manual'")
        target = f"{rid.type}:{rid.full}"
        changed: dict[str, Any] = {}
        if private is not None and bool(private) != repo.private:
            repo.private = changed["private"] = bool(private)
            audit.record(s, who, "repo.visibility", target, {"private": repo.private})
        if gated is not None and (gated or None) != repo.gated:
            old, repo.gated = repo.gated, (str(gated) if gated else None)
            changed["gated"] = gated
            audit.record(s, who, "repo.gated", target, {"from": old or False, "to": gated or False})
        if changed:  # a setting sent again unchanged is no event
            webhook_events.config_changed(s, repo, changed)
        return repo

    # ---- revisions --------------------------------------------------------------------------------
    def resolve(self, repo: Repo, rev: str) -> str:
        return self.git(repo).resolve(rev)

    def branch_ref(self, git: GitRepo, rev: str) -> str:
        """The ref a commit to `rev` moves: a branch or refs/pr/N; tags and shas cannot take commits."""
        if rev.startswith("refs/heads/") or rev.startswith("refs/pr/"):
            ref = rev
        else:
            ref = f"refs/heads/{rev}"
        if git.ref_target(ref) is None:
            raise RevisionNotFound(f"Invalid rev id: {rev} is not a branch you can commit to")
        return ref

    @contextmanager
    def writer(self, s: Session, repo: Repo, git: GitRepo) -> Iterator[None]:
        """One writer per repo: the DB lock first (held until `s` commits: an advisory lock across hosts on
        PostgreSQL, the database's write lock on SQLite), then the repo's flock (across processes on this
        host). Always in this order: no deadlock. A database lock not granted within its timeout (another
        transaction holds it: AGORA_DB_LOCK_TIMEOUT) is Unavailable (503): nothing was written yet."""
        try:
            repo_write_lock(s, repo.id)
        except OperationalError as e:
            if disk_full(e):
                raise  # a full disk is a 507 (http/routing.py), not a busy database
            raise Unavailable(
                f"The database is busy, nothing was changed: retry later ({_first_line(e)})"
            ) from e
        with git.lock():
            yield

    def after_ref_update(
        self, s: Session, repo: Repo, ref: str, old: str | None, new: str | None, notify: bool = True
    ) -> None:
        """The single hook every write path calls once a ref has moved: re-derive what depends on it.
        `notify=False`: the caller sends the webhook event itself, one for several refs (commits.ref_moved)."""
        log.info(
            "ref %s of %s %s/%s: %s -> %s",
            ref,
            repo.type,
            repo.namespace,
            repo.name,
            (old or "-")[:12],
            (new or "deleted")[:12],
        )
        repo.updated_at = utcnow()
        if ref == "refs/heads/main" and new:
            # Racing writers may call this out of order: derive from where the branch is now, not from `new`.
            new = self.git(repo).ref_target(ref) or new
            repo.head_sha = new
            index.reindex(s, self, repo, new)
        # Queue the derived artefacts this move makes stale (hub/artefacts.py, the registry: e.g. a dataset's
        # parquet conversion when its default branch moves).
        if ref.startswith("refs/pr/"):  # a PR's new commits: events of its thread
            from . import contributions

            contributions.note_commits(s, self, repo, ref, old, new)
        changed = artefacts.path_changed(lambda: self.git(repo), old, new)
        artefacts.REGISTRY.queue(s, repo.id, artefacts.RefUpdate(repo.type, ref, old, new, changed))
        if notify:
            webhook_events.ref_moved(s, repo, ref, old, new)  # queued deliveries, sent after the commit
        s.flush()

    def count_download(self, repo: Repo, commit: str, path: str) -> None:
        """Count a client download (a flagged HEAD) when `path` is the repo's counting file. A count that
        cannot be written (a full disk, a locked database) is skipped with a warning: the download goes on."""
        if not index.is_counting_file(
            repo.type, path, lambda: self.git(repo).entry(commit, "config.json") is not None
        ):
            return
        try:
            with self.db.session() as s:
                fresh = s.get(Repo, repo.id)  # not s.merge(repo): that writes its stale head_sha etc. back
                if fresh is not None:
                    index.count_download(s, fresh)
        except SQLAlchemyError as exc:
            log.warning("could not count a download of %s: %s", repo.id, exc)

    def read_range(self, repo: Repo, e: Entry, start: int, length: int) -> bytes:
        """Bytes [start, start+length) of a file, wherever its content lives; never the whole file."""
        if e.lfs is None:
            return self.git(repo).blob(e.oid)[start : start + length]
        if self.xet is not None and not self.blobs.exists(e.lfs.oid):
            got = self.xet.read_sha_range(e.lfs.oid, start, length)  # content uploaded through Xet
            if got is not None:
                return got
        with self.blobs.open(e.lfs.oid) as fh:
            fh.seek(start)
            return fh.read(length)

    # ---- LFS bookkeeping --------------------------------------------------------------------------
    def record_lfs(self, s: Session, repo: Repo, oid: str, size: int) -> None:
        """The repo owns this object from now on; idempotent, also when two processes verify the same upload
        at once (the loser's insert hits the unique key inside a savepoint, and the row is there)."""
        if s.scalar(select(LfsObject.id).where(LfsObject.repo_id == repo.id, LfsObject.oid == oid)) is None:
            try:
                with s.begin_nested():
                    s.add(LfsObject(repo_id=repo.id, oid=oid, size=size))
            except IntegrityError:
                pass

    def has_lfs(self, s: Session, repo: Repo, oid: str) -> bool:
        return (
            s.scalar(select(LfsObject.id).where(LfsObject.repo_id == repo.id, LfsObject.oid == oid))
            is not None
        )

    def stored_lfs_size(self, s: Session, oid: str) -> int | None:
        """The size of an LFS object's content where it is stored: the blob store, else Xet (None: nowhere)."""
        size = self.blobs.size(oid)
        if size is None and self.xet is not None:  # content uploaded through Xet is served from its xorbs
            xf = self.xet.file_by_sha(s, oid)
            size = xf.size if xf is not None else None
        return size

    def uploaded_lfs(self, s: Session, repo_id: int, oid: str) -> int | None:
        """The size of an LFS object uploaded to this repo (it has the repo's LfsObject row) whose content is
        stored; None otherwise. API commits and pushes may only name such objects."""
        known = s.scalar(select(LfsObject.size).where(LfsObject.repo_id == repo_id, LfsObject.oid == oid))
        if known is None or self.stored_lfs_size(s, oid) is None:
            return None
        return int(known)

    # ---- preupload --------------------------------------------------------------------------------
    def upload_modes(
        self, repo: Repo, rev: str, files: list[tuple[str, int, bytes]], gitignore_text: str | None = None
    ) -> tuple[str, list[UploadMode]]:
        """How each file uploads (LFS or in the commit), its current oid, and whether the .gitignore rules
        (`gitignore_text` sent with the preupload, else the revision's) leave it out."""
        git = self.git(repo)
        head = git.resolve(rev)
        spec = gitignore.rules(git, head, gitignore_text)
        out = []
        for path, size, sample in files:
            check_path(path)
            e = git.entry(head, path)
            oid = None
            if e is not None and e.type == "file":
                oid = e.lfs.oid if e.lfs else e.oid
            mode = "lfs" if _goes_to_lfs(git, head, path, size, sample) else "regular"
            out.append(UploadMode(path, mode, oid, gitignore.ignored(spec, path)))
        return head, out

    # ---- refs -------------------------------------------------------------------------------------
    def create_branch(self, repo: Repo, branch: str, start: str | None) -> None:
        if branch.startswith("refs/"):
            raise BadRequest(f"Invalid branch name {branch!r}: give the short name")
        check_ref_name(branch, "branch")
        git = self.git(repo)
        target = git.resolve(start or "main")
        with git.lock():  # ref updates hold the repo's flock: the start-up sweep's test for stale ref locks
            git.create_ref(f"refs/heads/{branch}", target)
        self._ref_moved(repo, f"refs/heads/{branch}", None, target)

    def _ref_moved(self, repo: Repo, ref: str, old: str | None, new: str | None) -> None:
        """after_ref_update for a ref moved outside a session of the caller's (a branch or tag created or a
        tag deleted through the API): in a session of its own, on a fresh row (the caller's is detached)."""
        with self.db.session() as s:
            fresh = s.get(Repo, repo.id)
            if fresh is not None:
                self.after_ref_update(s, fresh, ref, old, new)

    def delete_branch(self, s: Session, repo: Repo, branch: str) -> None:
        if branch in ("main", "refs/heads/main"):
            raise Forbidden("Cannot delete refs/heads/main: it is the default branch")
        ref = branch if branch.startswith("refs/heads/") else f"refs/heads/{branch}"
        git = self.git(repo)
        with git.lock():
            old = git.ref_target(ref)
            git.delete_ref(ref)
        self.after_ref_update(s, repo, ref, old, None)

    def create_tag(self, repo: Repo, who: Principal, rev: str, tag: str, message: str | None) -> None:
        check_ref_name(tag, "tag")
        git = self.git(repo)
        target = git.resolve(rev)
        with git.lock():
            if message:
                git.create_annotated_tag(tag, target, message, who.name)
            else:
                git.create_ref(f"refs/tags/{tag}", target)
            new = git.ref_target(f"refs/tags/{tag}")
        self._ref_moved(repo, f"refs/tags/{tag}", None, new)

    def delete_tag(self, repo: Repo, tag: str) -> None:
        git = self.git(repo)
        ref = tag if tag.startswith("refs/tags/") else f"refs/tags/{tag}"
        with git.lock():
            old = git.ref_target(ref)
            git.delete_ref(ref)
        self._ref_moved(repo, ref, old, None)

    # ---- in a session of their own: for the HTTP handlers (called in a worker thread) -------------------
    def get_repo(self, rid: RepoId) -> Repo | None:
        """`get` (no permission check: the caller holds its own authorization) in a session of its own."""
        with self.db.session() as s:
            return self.get(s, rid)

    def create_repo(self, who: Principal | None, rid: RepoId, private: bool, sdk: str | None) -> Repo:
        """`create` in a session of its own. A Conflict's `repo` (the caller's own repo of that name) comes back
        detached with its attributes loaded, so the answer can still carry its URL."""
        with self.db.session() as s:
            try:
                return self.create(s, who, rid, private=private, sdk=sdk)
            except Conflict as e:
                existing = e.extra.get("repo")
                if existing is not None:
                    s.expunge(existing)  # the rollback would expire it
                raise

    def delete_repo(self, who: Principal | None, rid: RepoId) -> None:
        with self.db.session() as s:
            self.delete(s, who, rid)

    def move_repo(self, who: Principal | None, src: RepoId, dst: RepoId) -> Repo:
        with self.db.session() as s:
            return self.move(s, who, src, dst)

    def change_settings(
        self, who: Principal | None, rid: RepoId, private: bool | None, gated: str | bool | None
    ) -> Repo:
        with self.db.session() as s:
            return self.update_settings(s, who, rid, private, gated)

    def admin_repo(self, who: Principal | None, rid: RepoId) -> Repo:
        """The repo if `who` administers it (find_admin), detached: the web's Settings page."""
        with self.db.session() as s:
            return self.find_admin(s, who, rid, f"change the settings of {rid.full}")

    def xet_hashes(self, shas: list[str]) -> dict[str, str]:
        """sha256 -> Xet file hash for the LFS oids whose content is stored in Xet."""
        if self.xet is None or not shas:
            return {}
        with self.db.session() as s:
            return self.xet.hashes_for(s, shas)


# ---- for the browser pages, each in a database session of its own -------------------------------------------
def repo_spelling(hub: Hub, who: Principal | None, rid: RepoId) -> tuple[str, str] | None:
    """The stored (namespace, name) of the repo `rid` names in another case (ALICE/PM -> alice/pm), if `who`
    may see it; None when there is no such repo, `rid` spells it so already, or `who` may not see it."""
    with hub.db.session() as s:
        repo = hub.get(s, rid)
        if (
            repo is None
            or (repo.namespace, repo.name) == (rid.namespace, rid.name)
            or not accounts.can_read(s, who, repo)
        ):
            return None
        return repo.namespace, repo.name
