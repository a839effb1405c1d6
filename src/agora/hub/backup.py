"""The backup and migration format: `agora export` writes it, `agora import` reads it back (issue 14 item 7).

An export is a folder that describes itself (format version 1):

    OUT/agora-export.json                 the manifest: format, version, scope, the list of repos (written last:
                                          a folder without it is an unfinished export)
    OUT/repos/<type>/<ns>/<name>/repo.bundle   a git bundle of every ref (branches, tags, refs/pr/*, refs/convert/*);
                                          <ns> is "-" for a canonical repo (no namespace)
    OUT/repos/<type>/<ns>/<name>/repo.json     the repo row (type, private, gated, sdk, created_at), its old names
                                          (still redirecting after a move), its refs, the
                                          LFS objects its refs point at, its discussions and PRs with every
                                          event, the names of the users who like it, the dataset viewer's
                                          records (so refs/convert/parquet is not converted again), a
                                          Space's settings (paused, sleep time) and variables; its secrets'
                                          values are left out (their keys are listed: set them again); a
                                          gated repo's access requests (user, status, answers, reason)
    OUT/objects/<o[:2]>/<o[2:4]>/<oid>    every LFS object any exported ref points at, by sha256 (git-lfs's own
                                          layout), except the files stored in Xet:
    OUT/xet/shards/<sha256>, OUT/xet/xorbs/<hash>   for a file uploaded through Xet, the shard that registered
                                          it and every xorb that shard names (repo.json "xet" lists the file's
                                          sha256, Xet hash and shard): the import uploads the xorbs (verified)
                                          and accepts the shard as a client upload is accepted, so the file
                                          stays Xet. When its shard or a xorb is gone from the store, the
                                          file's bytes go to OUT/objects instead.
    OUT/collections.json                  the collections of the exported namespaces (all of them with --all);
                                          an item is a repo, a paper (arXiv id) or a collection (its uid)
    OUT/webhooks.json                     the webhooks of the exported user (every user's with --all), their
                                          secrets included (the admin's data, as the password hashes are);
                                          not their delivery logs
    OUT/accounts.json                     --all only: users (with their password hashes), orgs (full names,
                                          avatars in base64), memberships and tokens (their sha256 digests):
                                          logins and tokens keep working
    OUT/audit.jsonl                       --all only: the audit log, one entry a line

Import checks every LFS object, shard and xorb a repo's refs need (present in the export or already stored
here; every sha256 verified) before it creates the repo; a repo that fails later is removed again: nothing
is left half-imported. Bytes are copied outside database transactions. Authors of discussions missing from
the target become disabled placeholder users (no password), as do missing user namespaces; a missing org
becomes an org with the importing user as admin. Not carried: browser sessions, throttling counters,
downloads, LFS locks, jobs, webhook deliveries. Extend this format (and tests/faults/test_export_import.py)
with every later feature; bump VERSION when the layout changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, aliased

from ..db.models import (
    Account,
    AccountAvatar,
    AuditEntry,
    Collection,
    CollectionItem,
    Discussion,
    Job,
    Like,
    Membership,
    Repo,
    RepoRedirect,
    SpaceSettings,
    SpaceVariable,
    Token,
    ViewerResult,
    Webhook,
    XetXorb,
    name_key,
)
from ..errors import BadRequest, Conflict, HubError
from ..ids import CANONICAL, RepoId, repo_full
from ..storage.blobs import CHUNK
from ..storage.gitstore import GitRepo
from ..storage.lfs_pointer import POINTER_MAX, parse_pointer
from ..storage.xet import shard as xet_shard
from ..storage.xet.hashing import to_hex
from . import accounts, audit, avatars, commits, gating, index, names
from .accounts import Principal
from .imports import Progress, _read_lfs, _store
from .repos import Hub
from .xet import XetStore

MANIFEST = "agora-export.json"
FORMAT = "agora-export"
VERSION = 1
CANONICAL_FOLDER = "-"  # repos/<type>/-/<name>: a canonical repo (no namespace; "-" is no valid name)
Say = Callable[[str], None]
IMPORTER = Principal(user_id=0, name="agora-import", is_admin=True, role="write")


@dataclass(frozen=True)
class Scope:
    """What to export: one repo, a namespace (a user or an org: all its repos), or the whole Hub."""

    kind: str  # "repo" | "namespace" | "all"
    rid: RepoId | None = None
    namespace: str | None = None


# ---- shared helpers ------------------------------------------------------------------------------------
def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def _when(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def _dump(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    tmp.replace(path)


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise BadRequest(f"git {args[2] if len(args) > 2 else args[0]} failed: {out.stderr.strip()[-500:]}")
    return out.stdout


def object_path(root: Path, oid: str) -> Path:
    return root / "objects" / oid[:2] / oid[2:4] / oid


def reachable_pointers(git_dir: Path) -> dict[str, int]:
    """The LFS objects (oid -> size) named by pointer blobs reachable from any ref of the repo."""
    import pygit2

    listed = _git("-C", str(git_dir), "rev-list", "--objects", "--all")
    ids = "\n".join(line.split(" ", 1)[0] for line in listed.splitlines() if line) + "\n"
    checked = subprocess.run(
        ["git", "-C", str(git_dir), "cat-file", "--batch-check"],
        input=ids,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    repo = pygit2.Repository(str(git_dir))
    out: dict[str, int] = {}
    for line in checked.splitlines():
        sha, kind, size = line.split(" ")
        if kind == "blob" and int(size) <= POINTER_MAX:
            ptr = parse_pointer(repo.odb.read(sha)[1])
            if ptr is not None:
                out[ptr.oid] = ptr.size
    return out


def is_export(path: Path) -> bool:
    return (path / MANIFEST).is_file()


# ---- export ------------------------------------------------------------------------------------------------
def _scope_repos(s: Session, hub: Hub, scope: Scope) -> list[RepoId]:
    if scope.kind == "repo":
        assert scope.rid is not None
        repo = hub.get(s, scope.rid)
        if repo is None:
            raise BadRequest(f"No {scope.rid.type} repository {scope.rid.full}")
        return [RepoId(repo.type, repo.namespace, repo.name)]  # type: ignore[arg-type]
    q = select(Repo).order_by(Repo.id)
    if scope.kind == "namespace":
        assert scope.namespace is not None
        if accounts.get_account(s, scope.namespace) is None:
            raise BadRequest(f"No user or organization {scope.namespace!r}")
        q = q.where(Repo.namespace_key == name_key(scope.namespace))
    return [RepoId(r.type, r.namespace, r.name) for r in s.scalars(q)]  # type: ignore[arg-type]


def _discussion(s: Session, d: Discussion) -> dict[str, Any]:
    author = accounts.account_by_id(s, d.author_id) if d.author_id is not None else None
    return {
        "num": d.num,
        "title": d.title,
        "is_pr": d.is_pr,
        "status": d.status,
        "author": author.name if author is not None else None,
        "created_at": _iso(d.created_at),
        "data": d.data,
    }


def _repo_meta(s: Session, repo: Repo) -> dict[str, Any]:
    owner = accounts.get_account(s, repo.namespace)
    ds = s.scalars(select(Discussion).where(Discussion.repo_id == repo.id).order_by(Discussion.num))
    likers = s.scalars(
        select(Account.name).join(Like, Like.user_id == Account.id).where(Like.repo_id == repo.id)
    )
    return {
        "type": repo.type,
        "namespace": repo.namespace,
        "namespace_kind": owner.kind if owner is not None else "user",
        "name": repo.name,
        "private": repo.private,
        "gated": repo.gated,
        "sdk": repo.sdk,
        "created_at": _iso(repo.created_at),
        "discussions": [_discussion(s, d) for d in ds],
        "access_requests": gating.export_rows(s, repo),
        "likes": sorted(likers),
        "old_names": sorted(s.scalars(select(RepoRedirect.old_id).where(RepoRedirect.repo_id == repo.id))),
        "viewer_results": [
            {
                "revision": v.revision,
                "parquet_commit": v.parquet_commit,
                "data": v.data,
                "created_at": _iso(v.created_at),
            }
            for v in s.scalars(select(ViewerResult).where(ViewerResult.repo_id == repo.id))
        ],
        **({"space": _space(s, repo)} if repo.type == "space" else {}),
    }


def _space(s: Session, repo: Repo) -> dict[str, Any]:
    """A Space's runtime settings and variables. Secrets are left out: an export is a folder of plain files;
    their keys are listed so the owner knows what to set again."""
    st = s.get(SpaceSettings, repo.id)
    rows = s.scalars(
        select(SpaceVariable).where(SpaceVariable.repo_id == repo.id).order_by(SpaceVariable.key)
    )
    out: dict[str, Any] = {"paused": bool(st and st.paused), "sleep_time": st.sleep_time if st else None,
                           "variables": [], "secret_keys": []}  # fmt: skip
    for v in rows:
        if v.secret:
            out["secret_keys"].append(v.key)
        else:
            out["variables"].append({"key": v.key, "value": v.value, "description": v.description})
    return out


def _copy_out(fh_in: BinaryIO, dest: Path, progress: Progress) -> None:
    tmp = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with fh_in, open(tmp, "wb") as fh:
        while chunk := fh_in.read(CHUNK):
            fh.write(chunk)
            progress(len(chunk))
    tmp.replace(dest)


def _export_xet(hub: Hub, root: Path, oid: str, progress: Progress) -> dict[str, Any] | None:
    """A file uploaded through Xet, as Xet: the shard that registered it and every xorb that shard names
    (OUT/xet/shards, OUT/xet/xorbs), so that an import registers it as a client upload does. None when it is
    not stored in Xet, or its shard or a xorb is gone (then its bytes are exported instead)."""
    if hub.xet is None or hub.blobs.size(oid) is not None:
        return None
    with hub.db.session() as s:
        xf = hub.xet.file_by_sha(s, oid)
        found = (xf.file_hash, xf.shard) if xf is not None and xf.shard else None
    if found is None or not hub.xet.shards.exists(found[1]):
        return None
    with hub.xet.shards.open(found[1]) as fh:
        data = fh.read()
    xorbs = xet_names(data)
    if not all(hub.xet.xorbs.exists(x) for x in xorbs):
        return None
    for x in sorted(xorbs):
        if not (root / "xet" / "xorbs" / x).is_file():
            _copy_out(hub.xet.xorbs.open(x), root / "xet" / "xorbs" / x, progress)
    shard_file = root / "xet" / "shards" / found[1]
    if not shard_file.is_file():
        shard_file.parent.mkdir(parents=True, exist_ok=True)
        shard_file.write_bytes(data)
    return {"oid": oid, "file_hash": found[0], "shard": found[1]}


def xet_names(shard_bytes: bytes) -> set[str]:
    """The xorbs a shard names (its files' terms and its xorb section)."""
    sh = xet_shard.parse(shard_bytes)
    return {to_hex(t.xorb) for f in sh.files for t in f.terms} | {to_hex(x.xorb) for x in sh.xorbs}


def _export_object(hub: Hub, root: Path, rid: RepoId, oid: str, size: int, progress: Progress) -> None:
    """One LFS object into OUT/objects, from the blob store or Xet, its sha256 checked on the way."""
    dest = object_path(root, oid)
    if dest.is_file() and dest.stat().st_size == size:
        progress(size)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    sha = hashlib.sha256()
    try:
        with open(tmp, "wb") as fh:
            for chunk in _read_lfs(hub, oid, size):
                sha.update(chunk)
                fh.write(chunk)
                progress(len(chunk))
    except HubError as e:
        tmp.unlink(missing_ok=True)
        raise BadRequest(f"{rid.type} {rid.full}: {e.message}") from None
    if sha.hexdigest() != oid or tmp.stat().st_size != size:
        tmp.unlink()
        raise BadRequest(
            f"{rid.type} {rid.full}: LFS object {oid} is corrupt in storage (sha256 or size differ)"
        )
    tmp.replace(dest)


def _export_repo(hub: Hub, rid: RepoId, root: Path, progress: Progress) -> dict[str, Any]:
    with hub.db.session() as s:
        repo = hub.get(s, rid)
        if repo is None:
            raise BadRequest(f"No {rid.type} repository {rid.full}")
        meta = _repo_meta(s, repo)
        git_dir = hub.git(repo).path
    rel = f"repos/{rid.type}/{rid.namespace or CANONICAL_FOLDER}/{rid.name}"
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "repo.bundle"
    _git("-C", str(git_dir), "bundle", "create", str(bundle), "--all")
    heads = _git("bundle", "list-heads", str(bundle)).splitlines()
    meta["refs"] = {ref: sha for sha, ref in (h.split(" ", 1) for h in heads) if ref.startswith("refs/")}
    pointers = reachable_pointers(git_dir)
    meta["xet"] = []
    for oid, size in sorted(pointers.items()):
        as_xet = _export_xet(hub, root, oid, progress)
        if as_xet is not None:
            meta["xet"].append(as_xet)
        else:
            _export_object(hub, root, rid, oid, size, progress)
    meta["lfs"] = [{"oid": oid, "size": size} for oid, size in sorted(pointers.items())]
    _dump(folder / "repo.json", meta)
    return {"type": rid.type, "id": rid.full, "path": rel}


def _accounts_doc(s: Session) -> dict[str, Any]:
    accs = list(s.scalars(select(Account).order_by(Account.id)))
    by_id = {a.id: a.name for a in accs}
    return {
        "accounts": [
            {
                "name": a.name,
                "kind": a.kind,
                "fullname": a.fullname,
                "email": a.email,
                "password_hash": a.password_hash,
                "is_admin": a.is_admin,
                "disabled": a.disabled,
                "created_at": _iso(a.created_at),
            }
            for a in accs
        ],
        "memberships": [
            {"org": by_id[m.org_id], "user": by_id[m.user_id], "role": m.role}
            for m in s.scalars(select(Membership).order_by(Membership.id))
        ],
        "tokens": [
            {
                "user": by_id[t.user_id],
                "name": t.name,
                "role": t.role,
                "digest": t.digest,
                "revoked": t.revoked,
                "created_at": _iso(t.created_at),
                "last_used_at": _iso(t.last_used_at),
            }
            for t in s.scalars(select(Token).order_by(Token.id))
        ],
        "avatars": [
            {
                "account": by_id[v.account_id],
                "content_type": v.content_type,
                "data": base64.b64encode(v.data).decode(),
            }
            for v in s.scalars(select(AccountAvatar).order_by(AccountAvatar.account_id))
        ],
    }


def _audit_lines(s: Session) -> Iterator[str]:
    for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        row = {"created_at": _iso(e.created_at), "actor": e.actor, "action": e.action}
        yield json.dumps({**row, "target": e.target, "detail": e.detail, "ip": e.ip}, sort_keys=True) + "\n"


def _item_ref(i: CollectionItem, r: Repo | None, t: Collection | None) -> dict[str, Any]:
    """What a collection item names: a repo (`type`, `id`), a paper (its arXiv id) or a collection (its uid)."""
    if r is not None:
        return {"type": r.type, "id": repo_full(r.namespace, r.name)}
    if t is not None:
        return {"type": "collection", "id": t.uid}
    return {"type": "paper", "id": i.paper_id}


def _collections_doc(s: Session, namespace: str | None) -> list[dict[str, Any]]:
    q = select(Collection).order_by(Collection.id)
    if namespace is not None:
        q = q.where(Collection.owner == namespace)
    out = []
    for c in s.scalars(q):
        target = aliased(Collection)
        items = s.execute(
            select(CollectionItem, Repo, target)
            .outerjoin(Repo, Repo.id == CollectionItem.repo_id)
            .outerjoin(target, target.id == CollectionItem.target_id)
            .where(CollectionItem.collection_id == c.id)
            .order_by(CollectionItem.position)
        ).all()
        fields = ("uid", "owner", "title", "description", "private", "theme", "position", "upvotes")
        out.append(
            {
                **{f: getattr(c, f) for f in fields},
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
                "items": [
                    {**_item_ref(i, r, t), "position": i.position, "note": i.note} for i, r, t in items
                ],
            }
        )
    return out


def _webhooks_doc(s: Session, namespace: str | None) -> list[dict[str, Any]]:
    q = select(Webhook, Account).join(Account, Account.id == Webhook.owner_id).order_by(Webhook.id)
    if namespace is not None:
        q = q.where(Account.name == namespace)
    fields = ("uid", "url", "secret", "watched", "domains", "disabled", "base_url")
    return [
        {**{f: getattr(w, f) for f in fields}, "owner": a.name, "created_at": _iso(w.created_at)}
        for w, a in s.execute(q)
    ]


def _export_hub_rows(hub: Hub, scope: Scope, root: Path) -> dict[str, str]:
    """accounts.json and audit.jsonl (--all), collections.json (--all and a namespace)."""
    files: dict[str, str] = {}
    with hub.db.session() as s:
        if scope.kind == "all":
            _dump(root / "accounts.json", _accounts_doc(s))
            with open(root / "audit.jsonl", "w") as fh:
                fh.writelines(_audit_lines(s))
            files.update(accounts="accounts.json", audit="audit.jsonl")
        if scope.kind != "repo":
            ns = scope.namespace if scope.kind == "namespace" else None
            _dump(root / "collections.json", _collections_doc(s, ns))
            _dump(root / "webhooks.json", _webhooks_doc(s, ns))
            files.update(collections="collections.json", webhooks="webhooks.json")
    return files


def export(hub: Hub, scope: Scope, out: Path, progress: Progress = lambda n: None) -> tuple[Path, int, int]:
    """Write `scope` into the folder `out` (relative to the current directory if relative); returns the
    manifest's path, the number of repos and the number of LFS objects."""
    root = out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).unlink(missing_ok=True)  # an export being rewritten is unfinished until the end
    with hub.db.session() as s:
        rids = _scope_repos(s, hub, scope)
    repos = [_export_repo(hub, rid, root, progress) for rid in rids]
    files = _export_hub_rows(hub, scope, root)
    objects = len({e["oid"] for r in repos for e in _read_json(root / r["path"] / "repo.json")["lfs"]})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": _iso(datetime.now(UTC)),
        "scope": {
            "kind": scope.kind,
            "repo": scope.rid.full if scope.rid else None,
            "namespace": scope.namespace,
        },
        "repos": repos,
        "objects": "objects",
        "xet": "xet",  # Xet-stored files as their shard and xorbs (OUT/xet); as bytes when those are gone
        **files,
    }
    _dump(root / MANIFEST, manifest)
    return root / MANIFEST, len(repos), objects


# ---- import ------------------------------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BadRequest(f"Cannot read {path}: {e}") from None


def read_manifest(root: Path) -> dict[str, Any]:
    m = _read_json(root / MANIFEST)
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise BadRequest(f"{root / MANIFEST} is not an Agora export manifest")
    if m.get("version") != VERSION:
        raise BadRequest(
            f"{root / MANIFEST}: export format version {m.get('version')} (this Agora reads {VERSION})"
        )
    return m


def export_size(root: Path, manifest: dict[str, Any]) -> int:
    """The bytes of LFS objects an import of `root` reads (for the progress bar)."""
    sizes: dict[str, int] = {}
    for r in manifest["repos"]:
        sizes.update((e["oid"], e["size"]) for e in _read_json(root / r["path"] / "repo.json")["lfs"])
    return sum(sizes.values())


def _account(s: Session, name: str, kind: str, owner: str | None) -> Account:
    """The account `name`, created if missing: a disabled user with no password (a placeholder an admin can
    enable and give a password), or an org whose admin is the importing user `owner` (if it exists)."""
    acc = accounts.get_account(s, name)
    if acc is not None:
        return acc
    acc = Account(name=name, kind=kind, fullname=name, disabled=kind == "user")
    s.add(acc)
    s.flush()
    user = accounts.get_account(s, owner) if owner else None
    if kind == "org" and user is not None and user.kind == "user":
        s.add(Membership(org_id=acc.id, user_id=user.id, role="admin"))
    audit.record(s, None, "import.placeholder", name, {"kind": kind})
    return acc


def _check_objects(
    hub: Hub, root: Path, wanted: dict[str, int], xet: set[str]
) -> list[tuple[Path, str, int]]:
    """The objects to copy (those not exported as Xet); an object neither in the export nor already stored
    here is an error naming it."""
    todo = []
    with hub.db.session() as s:
        for oid, size in sorted(wanted.items()):
            f = object_path(root, oid)
            if oid in xet:
                continue
            if f.is_file():
                todo.append((f, oid, size))
            elif hub.stored_lfs_size(s, oid) != size:
                raise BadRequest(
                    f"LFS object {oid} ({size} bytes) is missing from the export ({f}): the repo was not imported"
                )
    return todo


def _copy_objects(hub: Hub, todo: list[tuple[Path, str, int]], progress: Progress) -> None:
    """Into the blob store, each verified by size and sha256 (outside any database transaction)."""
    for f, oid, size in todo:
        try:
            _store(hub, f, oid, size, progress)
        except HubError as e:
            raise BadRequest(
                f"LFS object {oid} in the export is corrupt ({e.message}): the repo was not imported"
            ) from None


def _shard_xorbs(root: Path, entry: dict[str, Any]) -> tuple[Path, set[str]]:
    path = root / "xet" / "shards" / entry["shard"]
    if not path.is_file():
        raise BadRequest(
            f"Xet shard {entry['shard']} of LFS object {entry['oid']} is missing from the export ({path}):"
            " the repo was not imported"
        )
    try:
        return path, xet_names(path.read_bytes())
    except xet_shard.ShardError as e:
        raise BadRequest(
            f"Xet shard {path} in the export is corrupt ({e}): the repo was not imported"
        ) from None


def _check_xet(
    hub: Hub, root: Path, xet: dict[str, dict[str, Any]], wanted: dict[str, int]
) -> tuple[list[Path], list[str]]:
    """For the files exported as Xet that this Hub does not have yet: their shards, and the xorbs to upload
    (those it does not have); a missing shard or xorb is an error naming it."""
    shards: dict[Path, None] = {}
    names: set[str] = set()
    with hub.db.session() as s:
        for oid, entry in sorted(xet.items()):
            if hub.stored_lfs_size(s, oid) == wanted[oid]:
                continue
            path, xorbs = _shard_xorbs(root, entry)
            shards[path] = None
            names |= xorbs
        have = set(s.scalars(select(XetXorb.hash).where(XetXorb.hash.in_(names)))) if names else set()
    for x in sorted(names - have):
        if not (root / "xet" / "xorbs" / x).is_file():
            raise BadRequest(f"Xet xorb {x} is missing from the export: the repo was not imported")
    return list(shards), sorted(names - have)


def _xet(hub: Hub) -> XetStore:
    if hub.xet is None:
        raise BadRequest("This Hub has no Xet storage: the export holds files uploaded through Xet")
    return hub.xet


def _upload_xorbs(hub: Hub, root: Path, names: list[str]) -> None:
    """Each xorb verified (its chunks hash to its name) into the xorb store, as a client upload is."""
    for x in names:
        up = _xet(hub).new_xorb_upload(x)
        try:
            with open(root / "xet" / "xorbs" / x, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    up.write(chunk)
            up.finish()
        except HubError as e:
            up.abort()
            raise BadRequest(
                f"Xet xorb {x} in the export is corrupt ({e.message}): the repo was not imported"
            ) from None
        except BaseException:
            up.abort()
            raise


def _accept_shards(
    hub: Hub, repo_id: int, shards: list[Path], xet: dict[str, int], progress: Progress
) -> None:
    """The shards registered for the new repo (each file's sha256 verified by reading it back), then every
    file exported as Xet must be there."""
    for path in shards:
        try:
            _xet(hub).accept_shard(repo_id, path.read_bytes())
        except HubError as e:
            raise BadRequest(f"Xet shard {path.name} in the export was refused: {e.message}") from None
    with hub.db.session() as s:
        for oid, size in xet.items():
            if hub.stored_lfs_size(s, oid) != size:
                raise BadRequest(
                    f"LFS object {oid} is not in the Xet shards of the export: the repo was not imported"
                )
            progress(size)


def _create(hub: Hub, rid: RepoId, meta: dict[str, Any], user: str) -> tuple[int, GitRepo]:
    with hub.db.session() as s:
        if hub.get(s, rid) is not None:
            raise Conflict("a repo of that type and name exists here already: not imported")
        if rid.namespace != CANONICAL:
            _account(s, rid.namespace, meta.get("namespace_kind") or "user", user)
        sdk = meta.get("sdk") or ("static" if rid.type == "space" else None)
        repo = hub.create(s, IMPORTER, rid, private=bool(meta.get("private")), sdk=sdk)
        repo.gated = meta.get("gated")
        repo.created_at = _when(meta.get("created_at")) or repo.created_at
        s.flush()
        return repo.id, hub.git(repo)


def _fill(s: Session, hub: Hub, repo: Repo, meta: dict[str, Any], wanted: dict[str, int]) -> None:
    """LFS ownership, discussions (same numbers, authors, events, statuses) and likes of a new repo."""
    for oid, size in wanted.items():
        hub.record_lfs(s, repo, oid, size)
    for d in meta.get("discussions", []):
        author = _account(s, d["author"], "user", None) if d.get("author") else None
        s.add(
            Discussion(
                repo_id=repo.id,
                num=d["num"],
                title=d["title"],
                is_pr=d["is_pr"],
                status=d["status"],
                author_id=author.id if author is not None else None,
                created_at=_when(d.get("created_at")),
                data=d.get("data"),
            )
        )
    for v in meta.get("viewer_results", []):  # the conversion is not run again for a commit it has done
        s.add(ViewerResult(repo_id=repo.id, **{**v, "created_at": _when(v.get("created_at"))}))
    space = meta.get("space")
    if isinstance(space, dict):
        s.add(
            SpaceSettings(
                repo_id=repo.id, paused=bool(space.get("paused")), sleep_time=space.get("sleep_time")
            )
        )
        for v in space.get("variables", []):
            s.add(SpaceVariable(repo_id=repo.id, secret=False, key=v["key"], value=v["value"],
                                description=v.get("description")))  # fmt: skip
    for r in meta.get("access_requests", []):  # their users as discussion authors: placeholders if missing
        gating.import_row(s, repo, _account(s, r["user"], "user", None), r)
    for old in meta.get("old_names", []):  # still redirecting, unless a repo here has that name
        old_rid = RepoId.parse_any(repo.type, old)  # type: ignore[arg-type]
        if hub.get(s, old_rid) is None:
            names.remember(s, repo, old_rid)
    likers = [a for a in (accounts.get_account(s, n) for n in meta.get("likes", [])) if a is not None]
    for a in likers:
        s.add(Like(user_id=a.id, repo_id=repo.id))
    repo.likes = len(likers)


def _discard(hub: Hub, repo_id: int) -> None:
    """Remove a repo whose import failed half-way: its row (and what hangs on it) and its git dir."""
    with hub.db.session() as s:
        repo = s.get(Repo, repo_id)
        if repo is None:
            return
        path = hub.git(repo).path
        index.drop(s, repo)
        s.delete(repo)
    shutil.rmtree(path, ignore_errors=True)


def _unbundle(bundle: Path, dest: Path) -> None:
    _git("-C", str(dest), "fetch", "--quiet", "--no-tags", str(bundle), "+refs/*:refs/*")


def _finish(
    hub: Hub, repo_id: int, git: GitRepo, staging: Path, meta: dict[str, Any], wanted: dict[str, int]
) -> None:
    """Every ref of the export into the new repo (no transaction open), then its rows and the derivation."""
    initial = git.ref_target("refs/heads/main")
    _unbundle(staging, git.path)
    git = GitRepo(git.path)  # the refs as the fetch left them
    with hub.db.session() as s:
        repo = s.get(Repo, repo_id)
        assert repo is not None
        # Hub.create's placeholder commit is gone from every ref: what it queued has nothing to derive.
        s.execute(delete(Job).where(Job.repo_id == repo_id, Job.revision == initial, Job.status == "queued"))
        _fill(s, hub, repo, meta, wanted)
        moves = [
            commits.RefMove(r.ref, initial if r.ref == "refs/heads/main" else None, r.target)
            for r in git.refs("refs/")
        ]
        commits.ref_moved(hub, s, repo, moves)


def import_repo(hub: Hub, root: Path, entry: dict[str, Any], user: str, progress: Progress) -> RepoId:
    """One repo of an export: objects checked and copied first, then the repo, its refs and its rows."""
    folder = root / entry["path"]
    meta = _read_json(folder / "repo.json")
    rid = RepoId(meta["type"], meta["namespace"], meta["name"])
    with tempfile.TemporaryDirectory(prefix="agora-import-") as tmp:
        staging = Path(tmp) / "staging.git"
        _git("init", "--quiet", "--bare", str(staging))
        _unbundle(folder / "repo.bundle", staging)
        wanted = reachable_pointers(staging)
        xet = {e["oid"]: e for e in meta.get("xet", []) if e["oid"] in wanted}
        shards, xorbs = _check_xet(hub, root, xet, wanted)
        _copy_objects(hub, _check_objects(hub, root, wanted, set(xet)), progress)
        _upload_xorbs(hub, root, xorbs)
        repo_id, git = _create(hub, rid, meta, user)
        try:
            _accept_shards(hub, repo_id, shards, {oid: wanted[oid] for oid in xet}, progress)
            _finish(hub, repo_id, git, staging, meta, wanted)
        except BaseException:
            _discard(hub, repo_id)
            raise
    return rid


def _import_accounts(s: Session, doc: dict[str, Any], say: Say) -> None:
    """Users (with their password hashes) and orgs missing here, with their memberships and tokens. An account
    whose name exists here is kept as it is, and gets none of the export's memberships or tokens (it may be
    somebody else)."""
    new: dict[str, Account] = {}
    for a in doc.get("accounts", []):
        if accounts.get_account(s, a["name"]) is not None:
            say(
                f"account {a['name']} exists here: kept as it is, without the export's tokens and memberships"
            )
            continue
        new[a["name"]] = Account(**{**a, "created_at": _when(a.get("created_at"))})
        s.add(new[a["name"]])
    s.flush()
    for m in doc.get("memberships", []):
        if m["org"] in new and m["user"] in new:
            s.add(Membership(org_id=new[m["org"]].id, user_id=new[m["user"]].id, role=m["role"]))
    for v in doc.get("avatars", []):  # its type read again from its bytes, as an upload's
        data = base64.b64decode(v["data"])
        ctype = avatars.image_type(data)
        if v["account"] in new and ctype is not None and len(data) <= avatars.MAX_BYTES:
            s.add(AccountAvatar(account_id=new[v["account"]].id, content_type=ctype, data=data))
    for t in doc.get("tokens", []):
        if t["user"] in new:
            when = {k: _when(t.get(k)) for k in ("created_at", "last_used_at")}
            fields = {k: t[k] for k in ("name", "role", "digest", "revoked")}
            s.add(Token(**fields, user_id=new[t["user"]].id, **when))


def _import_audit(s: Session, lines: Iterable[str]) -> None:
    for line in lines:
        e = json.loads(line)
        actor = accounts.get_account(s, e["actor"]) if e.get("actor") else None
        s.add(
            AuditEntry(
                created_at=_when(e.get("created_at")),
                actor=e.get("actor"),
                actor_id=actor.id if actor is not None else None,
                action=e["action"],
                target=e.get("target") or "",
                detail=e.get("detail"),
                ip=e.get("ip"),
            )
        )


def _import_collections(s: Session, hub: Hub, docs: list[dict[str, Any]]) -> None:
    """The collections missing here, then their items (an item may name a collection imported after it)."""
    new: list[tuple[Collection, list[dict[str, Any]]]] = []
    for c in docs:
        if s.scalar(select(Collection.id).where(Collection.uid == c["uid"])) is not None:
            continue
        fields = {k: v for k, v in c.items() if k not in ("items", "created_at", "updated_at")}
        row = Collection(**fields, created_at=_when(c["created_at"]), updated_at=_when(c["updated_at"]))
        s.add(row)
        new.append((row, c["items"]))
    s.flush()
    for row, items in new:
        for i in items:
            key = _item_key(s, hub, i)
            if key is not None:
                s.add(CollectionItem(collection_id=row.id, position=i["position"], note=i["note"], **key))


def _item_key(s: Session, hub: Hub, i: dict[str, Any]) -> dict[str, Any] | None:
    """The column naming an exported item here; None when what it names is not here."""
    if i["type"] == "paper":
        return {"paper_id": i["id"]}
    if i["type"] == "collection":
        target = s.scalar(select(Collection.id).where(Collection.uid == i["id"]))
        return {"target_id": target} if target is not None else None
    repo = hub.get(s, RepoId.parse_any(i["type"], i["id"]))
    return {"repo_id": repo.id} if repo is not None else None


def _import_webhooks(s: Session, docs: list[dict[str, Any]], say: Say) -> None:
    """Each webhook whose owner exists here (by name) and whose id is new here."""
    for w in docs:
        owner = accounts.get_account(s, w["owner"])
        if owner is None or s.scalar(select(Webhook.id).where(Webhook.uid == w["uid"])) is not None:
            say(f"webhook {w['uid']} of {w['owner']}: skipped (no such user here, or the webhook exists)")
            continue
        fields = {k: v for k, v in w.items() if k not in ("owner", "created_at")}
        when = _when(w.get("created_at"))
        s.add(Webhook(**fields, owner_id=owner.id, created_at=when, updated_at=when))


def import_export(hub: Hub, root: Path, user: str, progress: Progress, say: Say) -> int:
    """`agora import` of an export folder into this Hub; returns the number of repos that failed (each one
    failed as a whole: the others are imported)."""
    root = root.resolve()
    m = read_manifest(root)
    if m.get("accounts"):
        with hub.db.session() as s:
            _import_accounts(s, _read_json(root / m["accounts"]), say)
    failed = 0
    for entry in m["repos"]:
        try:
            rid = import_repo(hub, root, entry, user, progress)
        except Exception as e:  # one broken repo does not stop the others
            failed += 1
            say(f"failed  {entry['type']} {entry['id']}: {getattr(e, 'message', e)}")
        else:
            say(f"imported {rid.type} {rid.full}")
    with hub.db.session() as s:
        if m.get("collections"):
            _import_collections(s, hub, _read_json(root / m["collections"]))
        if m.get("webhooks"):
            _import_webhooks(s, _read_json(root / m["webhooks"]), say)
        if m.get("audit"):
            with open(root / m["audit"]) as fh:
                _import_audit(s, fh)
    return failed


__all__ = ["MANIFEST", "Scope", "export", "export_size", "import_export", "is_export", "read_manifest"]
