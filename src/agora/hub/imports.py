"""Bringing repos in (`agora import`) and taking them out (`agora export`).

Import sources:
- a Hugging Face cache folder (`models--ns--name/snapshots/<sha>/...`, as `hf_hub_download` and
  `snapshot_download` leave it): the snapshot that `refs/main` names (else the newest) becomes one commit;
- a folder of git repos (bare `x.git` or working copies with `.git`): every branch and tag is fetched as is,
  so commit ids are kept, and the LFS objects found in the repo's own `lfs/objects` are imported.

Both go through the same domain calls as any upload: files large or binary by the Hub's rules become LFS
objects, verified into the blob store; commits go through `commits.create_commit` / `after_ref_update`.
The third source, an `agora export` folder (it has a manifest), and the export itself are hub/backup.py;
it reuses `_store` and `_read_lfs` from here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from ..db.models import Repo
from ..errors import BadRequest
from ..ids import RepoId, RepoType
from ..storage.blobs import CHUNK, sha256_file
from ..storage.lfs_pointer import POINTER_MAX, parse_pointer
from . import accounts, commits
from .accounts import Principal
from .repos import Hub

Progress = Callable[[int], None]  # called with a number of bytes done
TYPES: dict[str, RepoType] = {"models": "model", "datasets": "dataset", "spaces": "space"}


@dataclass(frozen=True)
class Source:
    """One repo to import: where it comes from and the id it gets here."""

    kind: str  # "hf-cache" | "git"
    path: Path
    rid: RepoId
    size: int  # bytes to read, for the progress bar


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts)


def _snapshot(repo_dir: Path) -> Path | None:
    snaps = repo_dir / "snapshots"
    ref = repo_dir / "refs" / "main"
    if ref.is_file() and (snaps / ref.read_text().strip()).is_dir():
        return snaps / ref.read_text().strip()
    found = (
        sorted((p for p in snaps.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        if snaps.is_dir()
        else []
    )
    return found[-1] if found else None


def find_sources(path: Path, namespace: str) -> list[Source]:
    """The repos under `path`: HF cache entries (a `hub/` subfolder is looked into) and git repos."""
    roots = [path / "hub", path] if (path / "hub").is_dir() else [path]
    out: list[Source] = []
    for root in roots:
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            kind, _, rest = d.name.partition("--")
            if kind in TYPES and rest and (d / "snapshots").is_dir():
                parts = rest.split("--")
                ns, name = (parts[0], "--".join(parts[1:])) if len(parts) > 1 else (namespace, parts[0])
                snap = _snapshot(d)
                if snap is not None:
                    out.append(
                        Source(
                            "hf-cache",
                            snap,
                            RepoId(TYPES[kind], ns, name),
                            sum(f.stat().st_size for f in _files(snap)),
                        )
                    )
            elif d.name.endswith(".git") or (d / ".git").exists():
                name = d.name[:-4] if d.name.endswith(".git") else d.name
                out.append(Source("git", d, RepoId("model", namespace, name), 0))
    return out


def _principal(s: Session, user: str) -> Principal:
    acc = accounts.require_user(s, user)
    return Principal(user_id=acc.id, name=acc.name, is_admin=True, role="write")


def _ensure_namespace(s: Session, namespace: str, user: str) -> None:
    if accounts.get_account(s, namespace) is None:
        accounts.create_org(s, namespace, user)


def import_source(hub: Hub, src: Source, user: str, progress: Progress = lambda n: None) -> str:
    """Create the repo (its namespace as an org owned by `user` if missing) and fill it; returns its head."""
    with hub.db.session() as s:
        who = _principal(s, user)
        _ensure_namespace(s, src.rid.namespace, user)
        repo = hub.create(s, who, src.rid, sdk="static" if src.rid.type == "space" else None)
    if src.kind == "hf-cache":
        return _import_snapshot(hub, repo, who, src.path, progress)
    return _import_git(hub, repo, src.path, progress)


def _import_snapshot(hub: Hub, repo: Repo, who: Principal, snap: Path, progress: Progress) -> str:
    files = _files(snap)
    rel = [f.relative_to(snap).as_posix() for f in files]
    samples = []
    for f, r in zip(files, rel, strict=True):
        with open(f, "rb") as fh:
            samples.append((r, f.stat().st_size, fh.read(512)))
    _, modes = hub.upload_modes(repo, "main", samples)
    git = hub.git(repo)
    ops: list[commits.Operation] = []
    lfs: list[tuple[str, int]] = []
    for f, mode in zip(files, modes, strict=True):
        size = f.stat().st_size
        if mode.mode == "lfs":
            oid = sha256_file(f)
            _store(hub, f, oid, size, progress)
            lfs.append((oid, size))
            ops.append(commits.CommitOperationLfsAdd(mode.path, oid, size))
        else:
            ops.append(commits.CommitOperationAdd(mode.path, blob=git.write_blob(f.read_bytes())))
            progress(size)
    with hub.db.session() as s:  # the repo owns its objects before the commit names them
        row = s.get(Repo, repo.id)
        assert row is not None
        for oid, size in lfs:
            hub.record_lfs(s, row, oid, size)
    # .gitattributes from the snapshot replaces the initial one, as an upload of it would.
    return commits.create_commit(
        hub, who, repo.id, ops, revision="main", summary=f"Import from {snap.parent.parent.name}"
    ).oid


def _import_git(hub: Hub, repo: Repo, src: Path, progress: Progress) -> str:
    dest = hub.git(repo).path
    gitdir = src if src.name.endswith(".git") else src / ".git"
    subprocess.run(
        [
            "git",
            "-C",
            str(dest),
            "fetch",
            "--quiet",
            "--no-tags",
            str(gitdir),
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ],
        check=True,
        capture_output=True,
    )
    lfs_root = gitdir / "lfs" / "objects"
    with hub.db.session() as s:
        repo = s.get(Repo, repo.id)  # type: ignore[assignment]
        assert repo is not None
        for oid, size in referenced_oids(dest):
            obj = lfs_root / oid[:2] / oid[2:4] / oid
            if obj.is_file() and obj.stat().st_size == size:
                _store(hub, obj, oid, size, progress)
            if hub.blobs.size(oid) == size:
                hub.record_lfs(s, repo, oid, size)
        git = hub.git(repo)
        head = git.ref_target("refs/heads/main")
        if head is None:
            raise BadRequest(f"{src} has no main branch")
        commits.ref_moved(hub, s, repo, [commits.RefMove(r.ref, None, r.target) for r in git.refs("refs/")])
        return head


def _store(hub: Hub, f: Path, oid: str, size: int, progress: Progress) -> None:
    """Into the blob store unless already there, verified like any upload."""
    if hub.blobs.size(oid) == size:
        progress(size)
        return
    up = hub.blobs.new_upload()
    try:
        with open(f, "rb") as fh:
            while chunk := fh.read(CHUNK):
                up.write(chunk)
                progress(len(chunk))
        up.finish(oid, size)
    except BaseException:
        up.abort()
        raise


def _read_lfs(hub: Hub, oid: str, size: int) -> Iterator[bytes]:
    """An LFS object's bytes from the blob store, or from Xet for content uploaded through Xet."""
    if hub.blobs.size(oid) is not None:
        with hub.blobs.open(oid) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
        return
    with hub.db.session() as s:
        xf = hub.xet.file_by_sha(s, oid) if hub.xet is not None else None
        file_hash = xf.file_hash if xf is not None else None
    if file_hash is None:
        raise BadRequest(f"LFS object {oid} is missing from storage")
    if size:
        assert hub.xet is not None  # file_hash came from it
        yield from hub.xet.open_range(file_hash, 0, size - 1)


def referenced_oids(git_dir: Path) -> Iterator[tuple[str, int]]:
    """Every LFS pointer in the repo's object database: reachable or not, a pointer keeps its object."""
    import pygit2

    repo = pygit2.Repository(str(git_dir))
    seen: set[str] = set()
    for oid in repo.odb:
        kind, data = repo.odb.read(oid)
        if kind != pygit2.enums.ObjectType.BLOB or len(data) > POINTER_MAX:
            continue
        ptr = parse_pointer(data)
        if ptr is not None and ptr.oid not in seen:
            seen.add(ptr.oid)
            yield ptr.oid, ptr.size


__all__ = ["Source", "find_sources", "import_source", "referenced_oids"]
