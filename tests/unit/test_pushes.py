"""The push rules (hub/pushes.py) on synthetic pushes: no git, no server."""

from __future__ import annotations

from agora.hub.pushes import ZERO, NewObject, Update, check_push, parse_updates, scope_errors
from agora.hub.sizes import LFS_SIZE
from agora.storage.lfs_pointer import Pointer, lfs_pointer, parse_pointer

C1, C2 = "1" * 40, "2" * 40
LFS_OID = "a" * 64
POINTER = f"version https://git-lfs.github.com/spec/v1\noid sha256:{LFS_OID}\nsize 123\n".encode()


def run(
    updates: list[Update],
    objects: list[NewObject],
    blobs: dict[str, bytes] | None = None,
    missing: set[str] | None = None,
    types: dict[str, str] | None = None,
) -> list[str]:
    asked: list[list[str]] = []

    def read(oids: list[str]):  # type: ignore[no-untyped-def]
        return [(o, (blobs or {})[o]) for o in oids if o in (blobs or {})]

    def missing_lfs(oids: list[str]) -> set[str]:
        asked.append(oids)
        return {o for o in oids if o in (missing or set())}

    return check_push(updates, objects, types or {u.new: "commit" for u in updates}, read, missing_lfs)


def test_parse_updates() -> None:
    assert parse_updates([f"{C1} {C2} refs/heads/main", "", "garbage"]) == [Update(C1, C2, "refs/heads/main")]


def test_small_files_pass() -> None:
    objs = [NewObject(C2, "commit", 200, ""), NewObject("b" * 40, "blob", LFS_SIZE - 1, "ok.bin")]
    assert run([Update(C1, C2, "refs/heads/main")], objs) == []


def test_large_plain_blob_is_refused_with_lfs_hint() -> None:
    objs = [NewObject("b" * 40, "blob", LFS_SIZE, "models/weights.dat")]
    errors = "\n".join(run([Update(C1, C2, "refs/heads/main")], objs))
    assert "models/weights.dat (10.00 MiB)" in errors
    assert 'git lfs track "*.dat"' in errors


def test_pointer_to_an_unknown_object_is_refused() -> None:
    objs = [NewObject("c" * 40, "blob", len(POINTER), "w.bin")]
    errors = run([Update(C1, C2, "refs/heads/main")], objs, {"c" * 40: POINTER}, missing={LFS_OID})
    assert any("never uploaded" in e for e in errors) and any("w.bin" in e for e in errors)
    assert run([Update(C1, C2, "refs/heads/main")], objs, {"c" * 40: POINTER}, missing=set()) == []


def test_default_branch_is_never_deleted_and_branches_hold_commits() -> None:
    assert run([Update(C1, ZERO, "refs/heads/main")], []) == [
        "error: the default branch main cannot be deleted."
    ]
    assert run([Update(C1, ZERO, "refs/heads/dev")], []) == []
    errors = run([Update(ZERO, C2, "refs/heads/dev")], [], types={C2: "tree"})
    assert errors and "must point to a commit" in errors[0]
    assert run([Update(ZERO, C2, "refs/tags/v1")], [], types={C2: "tag"}) == []


EXT = POINTER.replace(b"\noid", b"\next-0-foo sha256:" + b"d" * 64 + b"\noid")


def test_pointer_parsing() -> None:
    assert parse_pointer(POINTER) == Pointer(LFS_OID, 123) and lfs_pointer(LFS_OID, 123) == POINTER
    assert parse_pointer(EXT) == Pointer(LFS_OID, 123, ("ext-0-foo sha256:" + "d" * 64,))
    assert parse_pointer(b"version https://git-lfs.github.com/spec/v1\nnot a pointer\n") is None
    assert parse_pointer(POINTER + b"x" * 2000) is None


def test_pointer_with_extensions_is_refused() -> None:
    """git-lfs extensions store the object their clean step made: without the smudge step, which this server
    cannot run, the file cannot be served, so the push is refused (even when the object was uploaded)."""
    objs = [
        NewObject("c" * 40, "blob", len(EXT), "data/w.bin"),
        NewObject("e" * 40, "blob", len(POINTER), "ok.bin"),
    ]
    blobs = {"c" * 40: EXT, "e" * 40: POINTER}
    errors = run([Update(C1, C2, "refs/heads/main")], objs, blobs, missing=set())
    assert any("extensions" in e for e in errors) and "error:   data/w.bin" in errors, errors
    assert not any("ok.bin" in e for e in errors)


def test_refs_a_user_may_push() -> None:
    ok = [
        Update(ZERO, C2, "refs/heads/feature/x"),
        Update(C1, C2, "refs/pr/3"),
        Update(ZERO, C2, "refs/tags/v1"),
    ]
    assert run(ok, []) == []
    for ref in (
        "refs/heads/HEAD",
        "refs/meta/config",
        "refs/notes/commits",
        "refs/convert/parquet",
        "refs/heads/a..b",
        "refs/tags/HEAD",
        "refs/pr/x",
        "refs/heads/x.lock",
    ):
        assert run([Update(ZERO, C2, ref)], []), ref
    assert any("does not exist" in e for e in run([Update(ZERO, C2, "refs/pr/9")], []))
    assert run([Update(C1, ZERO, "refs/pr/3")], [])


def test_tags_name_commits() -> None:
    assert run([Update(ZERO, C2, "refs/tags/t")], [], types={C2: "blob"})
    assert check_push(
        [Update(ZERO, C2, "refs/tags/t")], [], {C2: "tag"}, lambda o: [], lambda o: set(), {C2: "tree"}
    )
    assert (
        check_push(
            [Update(ZERO, C2, "refs/tags/t")], [], {C2: "tag"}, lambda o: [], lambda o: set(), {C2: "commit"}
        )
        == []
    )


def test_a_contributors_push_updates_only_their_own_pull_requests() -> None:
    pr = Update(C1, C2, "refs/pr/3")
    assert scope_errors([pr, Update(C1, C2, "refs/heads/main")], None) == []  # a writer: every ref
    assert scope_errors([pr], ("refs/pr/3",)) == []
    (error,) = scope_errors([pr, Update(C1, C2, "refs/heads/main")], ("refs/pr/3",))
    assert error.startswith("error: refs/heads/main:") and "refs/pr/3" in error
    assert len(scope_errors([pr], ())) == 1
