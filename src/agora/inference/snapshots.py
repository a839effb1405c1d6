"""Read-only folders of a repo's files at one commit, for the workers to load models from.

`<data>/infer-snapshots/<repo id>/<commit sha>/` holds the commit's files under their repo paths:
- small git blobs (config, tokenizer, card) written out;
- LFS files stored whole on local disk: a symlink to the blob store's file, no copy (safetensors are then
  mmapped straight from the store, and two workers share the pages);
- LFS files in Xet or S3: rebuilt once per sha256 into `<data>/infer-cache/<sha256>` (a shared cache,
  bounded in bytes, least recently used first out), and symlinked from there.
A snapshot is built in a temp folder and renamed into place, so a folder that exists is complete; it is
keyed by the commit sha, so it never changes. Files the workers never load (ONNX, GGUF, pickles, `.bin`
weights beside safetensors) are left out. Runs in the server process (it reads git, the stores, the
database through the Hub); the workers only read the folders.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadRequest, EntryNotFound
from ..storage.gitstore import Entry, GitRepo

if TYPE_CHECKING:
    from ..hub.repos import Hub, Repo

SKIPPED = (".onnx", ".gguf", ".ckpt", ".pkl", ".pickle", ".joblib", ".h5", ".msgpack", ".tflite", ".ot",
           ".mlmodel", ".npz", ".zip", ".tar", ".gz")  # fmt: skip
WEIGHTS = (".safetensors", ".bin")
SMALL = 8 * 1024 * 1024  # git blobs are written out (the Hub keeps files of 10 MiB and more in LFS)
KEEP_OPEN = 64  # git repos kept open per process to read their head (opening one costs ~0.2 ms)
RECHECK = 10.0  # seconds a checked snapshot is trusted on a stat of its folder, before its links are walked


class TooBig(BadRequest):
    """The model's weights are over AGORA_INFER_MAX_MODEL_MB (400, as the Hub's "too large to be loaded")."""


def wanted(files: list[Entry]) -> list[Entry]:
    """The files a worker may load: no formats it never reads, no `.bin` weights when safetensors exist."""
    keep = [e for e in files if not e.path.lower().endswith(SKIPPED) and not e.path.startswith(".")]
    if any(e.path.endswith(".safetensors") for e in keep):
        keep = [e for e in keep if not e.path.endswith(".bin")]
    return keep


def weight_bytes(files: list[Entry]) -> int:
    return sum(e.size for e in files if e.path.endswith(WEIGHTS))


class Snapshots:
    def __init__(self, hub: Hub, data: Path, max_model_bytes: int, cache_bytes: int) -> None:
        self.hub = hub
        self.root = data / "infer-snapshots"
        self.cache = data / "infer-cache"
        self.max_model_bytes = max_model_bytes
        self.cache_bytes = cache_bytes
        self._mu = threading.Lock()
        self._gits: OrderedDict[Path, GitRepo] = OrderedDict()  # least recently used first
        self._checked: dict[tuple[int, str], float] = {}  # (repo, sha) -> when its links all resolved

    def head(self, repo: Repo) -> str:
        """The default branch's commit, read from a git repo this process keeps open (a request's cheap
        head check: a ref lookup, no open, no database)."""
        path = self.hub.git_dir(repo)
        with self._mu:  # one pygit2 Repository is not used by two threads at once
            git = self._gits.pop(path, None) or GitRepo(path)
            self._gits[path] = git
            if len(self._gits) > KEEP_OPEN:
                self._gits.popitem(last=False)
            return git.resolve("main")

    def files(self, repo: Repo, sha: str) -> list[Entry]:
        return wanted(self.hub.git(repo).all_files(sha))

    def check_size(self, repo: Repo, sha: str) -> int:
        """The weights' size in bytes; TooBig past the limit (checked before anything is written)."""
        size = weight_bytes(self.files(repo, sha))
        if self.max_model_bytes and size > self.max_model_bytes:
            raise TooBig(
                f"This model is too large to run on this server: {size / 1e6:.0f} MB of weights, the limit is "
                f"{self.max_model_bytes / 1e6:.0f} MB (AGORA_INFER_MAX_MODEL_MB)"
            )
        return size

    def checked(self, repo: Repo, sha: str) -> Path | None:
        """The snapshot if this process checked it less than RECHECK ago and it is still there (a stat: cheap
        enough for the event loop); None: ask `folder` (in a thread)."""
        at = self._checked.get((repo.id, sha))
        dest = self.root / str(repo.id) / sha
        if at is not None and time.monotonic() - at < RECHECK and dest.is_dir():
            return dest
        return None

    def folder(self, repo: Repo, sha: str) -> Path:
        """The snapshot of `repo` at `sha`, built if it is not there (or lost a cached file)."""
        dest = self.root / str(repo.id) / sha
        if self.checked(repo, sha) is not None:
            return dest  # checked a moment ago; still there (gc removes whole folders)
        if dest.is_dir() and all_links_resolve(dest):
            self._seen(repo.id, sha, dest)
            return dest
        self.check_size(repo, sha)
        files = self.files(repo, sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f"tmp-{sha[:12]}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.mkdir()
            for e in files:
                self._place(repo, tmp, e)
            seal(tmp)
            if dest.exists():  # stale (a cached file was evicted): replaced as a whole
                remove(dest)
            try:
                tmp.rename(dest)
            except OSError:  # another process renamed its copy first: the same bytes
                if not dest.is_dir():
                    raise
        finally:
            if tmp.exists():
                remove(tmp)
        self._seen(repo.id, sha, dest)
        return dest

    def _seen(self, repo: int, sha: str, dest: Path) -> None:
        """Checked now; touched, so that `agora gc` sees it in use (at most once per RECHECK)."""
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked[(repo, sha)] = time.monotonic()
        try:
            os.utime(dest)
        except OSError:
            pass

    def _place(self, repo: Repo, tmp: Path, e: Entry) -> None:
        target = tmp / e.path
        if not target.resolve().is_relative_to(tmp.resolve()):
            raise BadRequest(f"Refused path in repository: {e.path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if e.lfs is None:
            target.write_bytes(self.hub.git(repo).blob(e.oid))
            return
        local = self.hub.blobs.local_path(e.lfs.oid)
        if local is None:
            local = self._cached(e.lfs.oid, e.lfs.size)
        os.symlink(local, target)

    def _cached(self, oid: str, size: int) -> Path:
        """The object rebuilt once into the shared cache (from Xet, or downloaded from S3), verified."""
        path = self.cache / oid[:2] / oid
        if path.is_file() and path.stat().st_size == size:
            os.utime(path)  # recently used
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{oid}.{secrets.token_hex(4)}.tmp")
        h = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for chunk in self._read(oid, size):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != oid:
                raise EntryNotFound(f"The content of LFS object {oid} does not match its hash")
            os.chmod(tmp, 0o444)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        self._trim(keep=path)
        return path

    def _read(self, oid: str, size: int) -> Iterator[bytes]:
        hashes = self.hub.xet_hashes([oid])
        if oid in hashes and self.hub.xet is not None:
            if size == 0:
                return iter(())
            return self.hub.xet.open_range(hashes[oid], 0, size - 1)
        if not self.hub.blobs.exists(oid):
            raise EntryNotFound(f"The content of LFS object {oid} is missing from storage")
        f = self.hub.blobs.open(oid)
        return iter(lambda: f.read(1024 * 1024), b"")

    def _trim(self, keep: Path) -> None:
        """Least recently used cache files out until the cache fits AGORA_INFER_CACHE_MB. A snapshot that
        links to an evicted file is rebuilt when next used; a worker that has it mapped keeps its pages."""
        files = [p for p in self.cache.glob("*/*") if p.is_file() and not p.name.endswith(".tmp")]
        total = sum(p.stat().st_size for p in files)
        for p in sorted(files, key=lambda p: p.stat().st_mtime):
            if total <= self.cache_bytes:
                break
            if p != keep:
                total -= p.stat().st_size
                p.unlink(missing_ok=True)
                self._checked.clear()  # a snapshot may link to it: walk their links again


def all_links_resolve(folder: Path) -> bool:
    return all(p.exists() for p in folder.rglob("*") if p.is_symlink())


def seal(folder: Path) -> None:
    """Read-only: files 0444, folders 0555 (the workers load from it; nothing may write there)."""
    for p in sorted(folder.rglob("*"), reverse=True):
        if not p.is_symlink():
            p.chmod(0o555 if p.is_dir() else 0o444)
    folder.chmod(0o555)


def remove(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


# ---- gc (`agora gc`) ---------------------------------------------------------------------------------------
@dataclass
class SnapshotGc:
    """What `agora gc` removed (or would remove) of the inference folders: paths relative to the data
    folder, with their bytes (a snapshot's own bytes: the files written out, not the weights it links to)."""

    snapshots_removed: list[tuple[str, int]] = field(default_factory=list)
    snapshots_kept: int = 0
    cache_removed: list[tuple[str, int]] = field(default_factory=list)
    cache_kept: int = 0

    @property
    def freed(self) -> int:
        return sum(n for _, n in self.snapshots_removed) + sum(n for _, n in self.cache_removed)


def live_heads(hub: Hub) -> dict[int, set[str]]:
    """Every repo's branch and tag heads (the commits a snapshot may still be asked for), by repo id."""
    from sqlalchemy import select

    from ..db.models import Repo as RepoRow

    with hub.db.session() as s:
        repos = list(s.scalars(select(RepoRow)))
    out: dict[int, set[str]] = {}
    for repo in repos:
        try:
            git = hub.git(repo)
        except Exception:  # noqa: BLE001  (a repo whose git folder is gone has no heads)
            out[repo.id] = set()
            continue
        out[repo.id] = {r.target for prefix in ("refs/heads/", "refs/tags/") for r in git.refs(prefix)}
    return out


def collect(data: Path, heads: dict[int, set[str]], apply: bool, grace: float) -> SnapshotGc:
    """Remove the snapshots of commits that are no longer a branch or tag head (or of repos that are gone),
    then the cache files (Xet/S3 weights rebuilt for the workers) that no kept snapshot links to. Anything
    used or written less than `grace` seconds ago stays (a request may have resolved that commit just before
    a push; `Snapshots.folder` touches a snapshot it serves, `_cached` a cache file). A worker that has a
    removed file mapped keeps its pages: an unlinked file lives until its last mapping goes."""
    report = SnapshotGc()
    cutoff = time.time() - grace
    root, cache = data / "infer-snapshots", data / "infer-cache"
    used: set[Path] = set()
    for repo_dir in sorted(root.iterdir()) if root.is_dir() else []:
        live = heads.get(int(repo_dir.name), set()) if repo_dir.name.isdigit() else set()
        for snap in sorted(repo_dir.iterdir()):
            if snap.name in live or _mtime(snap) > cutoff:
                report.snapshots_kept += 1
                used.update(p.resolve() for p in snap.rglob("*") if p.is_symlink())
                continue
            report.snapshots_removed.append((str(snap.relative_to(data)), _own_bytes(snap)))
            if apply:
                remove(snap)
        if apply and not any(repo_dir.iterdir()):
            repo_dir.rmdir()
    for f in sorted(cache.glob("*/*")) if cache.is_dir() else []:
        if f.resolve() in used or _mtime(f) > cutoff:
            report.cache_kept += 1
            continue
        report.cache_removed.append((str(f.relative_to(data)), f.stat().st_size))
        if apply:
            f.unlink(missing_ok=True)
    return report


def _mtime(p: Path) -> float:
    try:
        return p.lstat().st_mtime
    except FileNotFoundError:
        return 0.0


def _own_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
