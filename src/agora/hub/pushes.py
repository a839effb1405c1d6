"""What a `git push` may do, and what runs once it has landed.

`git receive-pack` runs `main()` as its pre-receive hook (the shell wrapper in `http/githooks/`). At that
point the pushed objects sit in git's quarantine directory and no ref has moved yet, so refusing here
(exit status 1) leaves the repository exactly as it was: refs and objects. What the hook prints on stderr
reaches the user's terminal as `remote: ...` lines.

The rules, as on the Hub:
- a file of 10 MiB or more must be stored with Git LFS (the message says how: `git lfs track`);
- an LFS pointer may only name an object uploaded to this repo through the LFS batch API, and may not
  carry git-lfs extension lines (the server cannot run the extensions that restore the file);
- the default branch `main` is never deleted, and branches point at commits.

After receive-pack exits, `after_push` compares the refs with a snapshot taken before and runs the same
post-write path an API commit runs (hub/commits.ref_moved), for every ref that moved.

The hook imports as little as it can: the DB layer only when the push carries LFS pointers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ..errors import BadRequest
from ..ids import check_path, check_ref_name, check_unicode_twins
from ..storage.lfs_pointer import POINTER_MAX, parse_pointer
from . import cards
from .sizes import LFS_SIZE, MIB

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..db.models import Repo
    from .repos import Hub

ZERO = "0" * 40
MAX_LISTED = 20  # files named in one refusal message
README_MAX = MIB  # as hub/commits.py: a larger README is not validated (nor indexed)
DEFAULT_BRANCH = "refs/heads/main"


class Update(NamedTuple):
    """A line of the pre-receive hook's input: the ref moves from `old` to `new` (ZERO: none)."""

    old: str
    new: str
    ref: str


class NewObject(NamedTuple):
    """A pushed object, as `git rev-list --objects` and `cat-file --batch-check` describe it."""

    oid: str
    type: str
    size: int
    path: str


def parse_updates(lines: Iterable[str]) -> list[Update]:
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            out.append(Update(*parts))
    return out


def _mib(n: int) -> str:
    return f"{n / MIB:.2f} MiB"


# ---- looking at the pushed objects (git subprocesses: they see the quarantine through the env) ------------
def ref_types(oids: list[str]) -> dict[str, str]:
    if not oids:
        return {}
    out = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"],
        input="\n".join(oids) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    types = {}
    for oid, line in zip(oids, out.splitlines(), strict=False):
        parts = line.split()
        types[oid] = parts[1] if len(parts) == 2 else "missing"
    return types


def new_objects(tips: list[str]) -> Iterator[NewObject]:
    """Every object reachable from `tips` and from no existing ref, with a path for blobs and trees."""
    if not tips:
        return
    check = subprocess.Popen(
        ["git", "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize) %(rest)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    walk = subprocess.Popen(
        ["git", "rev-list", "--objects", "--stdin", "--not", "--all"],
        stdin=subprocess.PIPE,
        stdout=check.stdin,
    )
    assert check.stdin is not None and walk.stdin is not None and check.stdout is not None
    check.stdin.close()  # the walk owns the write end now
    walk.stdin.write(("\n".join(tips) + "\n").encode())
    walk.stdin.close()
    try:
        for raw in check.stdout:
            oid, kind, size, *rest = raw.decode("utf-8", "replace").rstrip("\n").split(" ", 3)
            yield NewObject(oid, kind, int(size), rest[0] if rest else "")
    finally:
        check.stdout.close()
        if walk.wait() != 0:
            raise RuntimeError("git rev-list failed")
        check.wait()


def read_blobs(oids: list[str]) -> Iterator[tuple[str, bytes]]:
    """(oid, content) of small blobs, through one `git cat-file --batch`."""
    if not oids:
        return
    proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # in a thread: answers are read while the questions are still being written
        try:
            stdin.write(("\n".join(oids) + "\n").encode())
        finally:
            stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    for _ in oids:
        header = proc.stdout.readline().split()
        if len(header) != 3:
            continue
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)  # the newline after the content
        yield header[0].decode(), data
    proc.stdout.close()
    writer.join()
    proc.wait()


# ---- the rules ---------------------------------------------------------------------------------------------
def check_push(
    updates: list[Update],
    objects: Iterable[NewObject],
    types: dict[str, str],
    read: Callable[[list[str]], Iterable[tuple[str, bytes]]],
    missing_lfs: Callable[[list[str]], set[str]],
    peeled: dict[str, str] | None = None,
) -> list[str]:
    """The refusal message, as lines (empty: the push may land). `peeled`: annotated tag -> type of what it
    finally names (None: not checked)."""
    errors: list[str] = []
    for u in updates:
        errors += check_ref(u, types, peeled)
    large, small = _sort_blobs(objects)
    errors += _large_blob_errors(large)
    pointers, extended = _read_pointers(small, read)
    errors += _extension_errors(extended)
    if pointers:
        errors += _missing_lfs_errors(pointers, missing_lfs(sorted(pointers)))
    return errors


def _sort_blobs(objects: Iterable[NewObject]) -> tuple[list[NewObject], dict[str, str]]:
    """The pushed blobs that need looking at: those too large for git (in push order), and those small
    enough to be LFS pointers (oid -> path, first seen)."""
    large: list[NewObject] = []
    small: dict[str, str] = {}
    for o in objects:
        if o.type != "blob":
            continue
        if o.size >= LFS_SIZE:
            large.append(o)
        elif o.size <= POINTER_MAX:
            small.setdefault(o.oid, o.path)
    return large, small


def _large_blob_errors(large: list[NewObject]) -> list[str]:
    """The refusal of files that must be stored with Git LFS, with how to do it."""
    if not large:
        return []
    errors = [
        f"error: files of {LFS_SIZE // MIB} MiB or more must be stored with Git LFS; this push adds "
        f"{len(large)} such file{'s' if len(large) > 1 else ''} as plain git blobs:"
    ]
    errors += _listed([f"{o.path or o.oid} ({_mib(o.size)})" for o in large])
    example = large[0].path or "big-file"
    ext = os.path.splitext(example)[1]
    pattern = f"*{ext}" if ext else example
    errors += [
        "hint: track them with Git LFS, then rewrite the commits that added them, for example:",
        "hint:   git lfs install",
        f'hint:   git lfs track "{pattern}"',
        f'hint:   git lfs migrate import --include="{pattern}" --include-ref=$(git branch --show-current)',
        "hint: (or, for the last commit only: git rm --cached <file>; git add .gitattributes <file>;",
        "hint:  git commit --amend), then push again.",
    ]
    return errors


def _read_pointers(
    small: dict[str, str], read: Callable[[list[str]], Iterable[tuple[str, bytes]]]
) -> tuple[dict[str, str], list[str]]:
    """The LFS pointers among the small blobs: lfs oid -> path of the plain ones, and the paths of those
    with ext- lines."""
    pointers: dict[str, str] = {}  # lfs oid -> path
    extended: list[str] = []  # paths of pointers with ext- lines
    if not small:
        return pointers, extended
    for oid, data in read(list(small)):
        ptr = parse_pointer(data)
        if ptr is None:
            continue
        if ptr.extensions:
            extended.append(small[oid] or oid)
        else:
            pointers.setdefault(ptr.oid, small[oid])
    return pointers, extended


def _extension_errors(extended: list[str]) -> list[str]:
    """The refusal of LFS pointers with extensions (`extended`: their paths)."""
    if not extended:
        return []
    errors = [
        "error: Git LFS pointers with extensions (`ext-N-name` lines) are not accepted: this server "
        "cannot run the smudge extensions that turn their objects back into the files:"
    ]
    errors += _listed(sorted(extended))
    errors.append(
        "hint: remove the lfs.extension.* settings from your git config, rewrite the commits that "
        "added these files (`git add --renormalize .`), then push again."
    )
    return errors


def _missing_lfs_errors(pointers: dict[str, str], missing: set[str]) -> list[str]:
    """The refusal of pointers (lfs oid -> path) whose objects (`missing`) were never uploaded."""
    if not missing:
        return []
    names = sorted(pointers[m] or m for m in missing)
    many = len(missing) > 1
    errors = [
        f"error: {len(missing)} Git LFS object{'s' if many else ''} named by this push "
        f"{'were' if many else 'was'} never uploaded to this repository:"
    ]
    errors += _listed(names)
    errors.append(
        "hint: push with git-lfs installed (`git lfs install`) so that it uploads them first, "
        "or run `git lfs push --all origin`."
    )
    return errors


def _listed(items: list[str]) -> list[str]:
    """The lines of a refusal that name what it refuses: the first MAX_LISTED, then how many more."""
    lines = [f"error:   {x}" for x in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"error:   ... and {len(items) - MAX_LISTED} more")
    return lines


def check_ref(u: Update, types: dict[str, str], peeled: dict[str, str] | None) -> list[str]:
    """Refs a user may push, as on the Hub: branches and tags with valid names, and existing PR refs."""
    what = types.get(u.new, "missing object")
    if u.ref.startswith("refs/heads/"):
        return _check_branch(u, what)
    if u.ref.startswith("refs/tags/"):
        return _check_tag(u, what, peeled)
    if re.fullmatch(r"refs/pr/([1-9][0-9]{0,9})", u.ref):
        return _check_pr_ref(u, what)
    return [
        f"error: {u.ref}: only branches (refs/heads/...) and tags (refs/tags/...) can be pushed, "
        "and pull request refs (refs/pr/N) that exist."
    ]


def _check_branch(u: Update, what: str) -> list[str]:
    """A branch update (`what`: the type of its new target)."""
    if u.ref == DEFAULT_BRANCH and u.new == ZERO:
        return ["error: the default branch main cannot be deleted."]
    if u.new == ZERO:
        return []  # deleting is fine, even a branch whose name predates these rules
    try:
        check_ref_name(u.ref[len("refs/heads/") :], "branch")
    except BadRequest as e:
        return [f"error: {u.ref}: {e.message}"]
    if what != "commit":
        return [f"error: {u.ref} must point to a commit, not to a {what}."]
    return []


def _check_tag(u: Update, what: str, peeled: dict[str, str] | None) -> list[str]:
    """A tag update: a lightweight tag of a commit, or an annotated tag that finally names one."""
    if u.new == ZERO:
        return []
    try:
        check_ref_name(u.ref[len("refs/tags/") :], "tag")
    except BadRequest as e:
        return [f"error: {u.ref}: {e.message}"]
    if what == "commit":
        return []
    if what == "tag":
        if peeled is None or peeled.get(u.new) == "commit":
            return []
        return [
            f"error: {u.ref} is an annotated tag of a {peeled.get(u.new, 'missing object')}: "
            "tags must name a commit."
        ]
    return [f"error: {u.ref} must point to a commit, not to a {what}."]


def _check_pr_ref(u: Update, what: str) -> list[str]:
    """A pull request ref (refs/pr/N): moved to a commit, never created nor deleted by a push."""
    if u.old == ZERO:
        return [
            f"error: {u.ref} does not exist: open a pull request first (the web page or "
            "huggingface_hub create_pull_request), then push to its ref."
        ]
    if u.new == ZERO:
        return [f"error: {u.ref} cannot be deleted by a push: close the pull request instead."]
    if what != "commit":
        return [f"error: {u.ref} must point to a commit, not to a {what}."]
    return []


# ---- the trees of the pushed tips: paths and README metadata, by the rules of API commits ----------------
@dataclass(frozen=True)
class TreeFile:
    oid: str
    size: int


def list_tree(commit: str) -> dict[str, TreeFile]:
    """path (bytes decoded with surrogateescape) -> blob of every file of `commit`."""
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "-l", "--full-tree", commit], capture_output=True, check=True
    ).stdout
    files = {}
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) != 4 or parts[1] != b"blob":
            continue
        size = int(parts[3]) if parts[3].isdigit() else 0
        files[path.decode("utf-8", "surrogateescape")] = TreeFile(parts[2].decode(), size)
    return files


def check_trees(
    updates: list[Update],
    types: dict[str, str],
    repo_type: str,
    tree: Callable[[str], dict[str, TreeFile]],
    read: Callable[[list[str]], Iterable[tuple[str, bytes]]],
    current_main: str | None,
) -> list[str]:
    """Files a pushed branch adds (against its old tip, or main for a new branch) must have paths an API
    commit could write (ids.check_path, no NFC/NFD twins) and a README.md whose metadata validates."""
    errors: list[str] = []
    for u in updates:
        if u.new == ZERO or types.get(u.new) != "commit" or not u.ref.startswith(("refs/heads/", "refs/pr/")):
            continue
        base_commit = u.old if u.old != ZERO else current_main
        new = tree(u.new)
        old = tree(base_commit) if base_commit else {}
        bad = _bad_paths([p for p in new if p not in old], new)
        if bad:
            errors.append(f"error: {u.ref} adds files with paths the Hub refuses:")
            errors += _listed(bad)
        errors += _readme_errors(u.ref, new.get("README.md"), old.get("README.md"), repo_type, read)
    return errors


def _bad_paths(added: list[str], new: dict[str, TreeFile]) -> list[str]:
    """Why the `added` paths of the tree `new` could not be written by an API commit (empty: they could)."""
    bad: list[str] = []
    for p in added:
        try:
            p.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(f"{p.encode('utf-8', 'surrogateescape')!r}: not valid UTF-8")
            continue
        try:
            check_path(p)
        except BadRequest as e:
            bad.append(e.message)
    if not bad:
        try:
            check_unicode_twins(added, [p for p in new if p not in set(added)])
        except BadRequest as e:
            bad.append(e.message)
    return bad


def _readme_errors(
    ref: str,
    readme: TreeFile | None,
    old_readme: TreeFile | None,
    repo_type: str,
    read: Callable[[list[str]], Iterable[tuple[str, bytes]]],
) -> list[str]:
    """The metadata problems of a README.md the push changes (not a pointer, not above README_MAX)."""
    if readme is None or (old_readme == readme) or readme.size > README_MAX:
        return []
    data = next((d for _, d in read([readme.oid])), b"")
    if parse_pointer(data):
        return []
    problems, _ = cards.validate(cards.parse(data.decode("utf-8", "replace")), repo_type)
    if not problems:
        return []
    return [f"error: {ref}: Invalid metadata in README.md."] + [
        f"error: - {m}" for m in problems[:MAX_LISTED]
    ]


def peel_types(oids: list[str]) -> dict[str, str]:
    """annotated tag -> type of the object it finally names."""
    found = ref_types([f"{o}^{{}}" for o in oids])
    return {o: found.get(f"{o}^{{}}", "missing") for o in oids}


def _missing_lfs_from_env(oids: list[str]) -> set[str]:
    """Objects not uploaded to this repo (Hub.uploaded_lfs, the test API commits pass too)."""
    from ..config import HookEnv, Settings
    from ..db.session import Database
    from .repos import Hub

    settings = Settings.from_env()
    # As app.build_hub, without the migration (the server that spawned this hook has run it) and without
    # importing the HTTP layer; the Xet store is attached only if an object is not in the blob store.
    hub = Hub(Database(settings.database_url), settings.repos_dir, settings.blobs("lfs"))
    repo_id = HookEnv.from_env().repo_id
    if repo_id is None:
        raise RuntimeError(f"{HookEnv.REPO_ID} is not set")
    with hub.db.session() as s:
        missing = {oid for oid in oids if hub.uploaded_lfs(s, repo_id, oid) is None}
        if missing:  # content uploaded through Xet: attach its store, look again
            from .xet import XetStore

            hub.xet = XetStore(hub.db, settings.blobs("xorbs"), settings.blobs("shards"))
            missing = {oid for oid in missing if hub.uploaded_lfs(s, repo_id, oid) is None}
    return missing


def scope_errors(updates: list[Update], allowed: tuple[str, ...] | None) -> list[str]:
    """A contributor's push (`allowed`: the refs/pr/N of their own open pull requests; None: a writer, all
    refs) may update nothing else."""
    if allowed is None:
        return []
    return [
        f"error: {u.ref}: you may push only to your own open pull requests' refs "
        f"({', '.join(allowed) or 'none'}): the repo's writers push elsewhere."
        for u in updates
        if u.ref not in allowed
    ]


def main() -> int:
    from ..config import HookEnv

    updates = parse_updates(sys.stdin.read().splitlines())
    tips = [u.new for u in updates if u.new != ZERO]
    refused = scope_errors(updates, HookEnv.from_env().push_refs)
    if refused:
        print("\n".join([*refused, "Push refused: no ref was changed."]), file=sys.stderr)
        return 1
    try:
        types = ref_types(tips)
        peeled = peel_types([t for t in tips if types.get(t) == "tag"])
        errors = check_push(updates, new_objects(tips), types, read_blobs, _missing_lfs_from_env, peeled)
        if not errors:
            main_tip = (
                subprocess.run(
                    ["git", "rev-parse", "-q", "--verify", DEFAULT_BRANCH + "^{commit}"],
                    capture_output=True,
                    text=True,
                ).stdout.strip()
                or None
            )
            errors = check_trees(
                updates, types, HookEnv.from_env().repo_type, list_tree, read_blobs, main_tip
            )
    except Exception as exc:  # a broken rule check must refuse, never wave a push through
        print(
            f"error: the server could not check this push ({type(exc).__name__}: {exc}); "
            "nothing was changed, please try again",
            file=sys.stderr,
        )
        return 1
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print("Push refused: no ref was changed.", file=sys.stderr)
        return 1
    return 0


# ---- after the push ----------------------------------------------------------------------------------------
def ref_snapshot(hub: Hub, repo: Repo) -> dict[str, str]:
    """ref name -> commit id for every ref of the repo (tags peeled)."""
    git = hub.git(repo)
    return {r.ref: r.target for r in git.refs("refs/")}


def after_push(hub: Hub, s: Session, repo_id: int, before: dict[str, str]) -> list[str]:
    """Run the post-write path of every commit (hub/commits.ref_moved) for the refs the push moved; returns
    their names.

    Rows are committed, then the refs read again: if someone moved a ref meanwhile (an API commit whose own
    update may have landed before ours), the hook runs again with the newest target, so that this push
    never leaves an older head in the DB. No git lock is held while writing rows: API commits take the
    git lock while their DB transaction may be open, and the two must not wait for each other.
    """
    from ..db.models import Repo as RepoRow
    from . import commits

    repo = s.get(RepoRow, repo_id)
    if repo is None:
        return []
    git = hub.git(repo)
    seen = before
    moved: set[str] = set()
    for _ in range(5):
        now = {r.ref: r.target for r in git.refs("refs/")}
        changed = sorted(ref for ref in set(seen) | set(now) if seen.get(ref) != now.get(ref))
        if not changed:
            break
        commits.ref_moved(
            hub, s, repo, [commits.RefMove(ref, seen.get(ref), now.get(ref)) for ref in changed]
        )
        moved.update(changed)
        seen = now
    return sorted(moved)


def record_push(hub: Hub, repo_id: int, before: dict[str, str]) -> list[str]:
    """`after_push` in a session of its own (http/git.py, once receive-pack has exited). The refs have
    moved: if the database step fails, the repair of hub/reconcile.py is tried at once in a new session (and
    else by the next reader or the next start); the error is raised either way, to be logged."""
    from . import reconcile

    try:
        with hub.db.session() as s:
            return after_push(hub, s, repo_id, before)
    except Exception:
        reconcile.repair(hub, repo_id)
        raise


if __name__ == "__main__":
    sys.exit(main())
