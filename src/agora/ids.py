"""Repo types, repo ids, revisions and paths: every validation rule lives here, once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from .errors import BadRequest, InvalidPath

RepoType = Literal["model", "dataset", "space"]
REPO_TYPES: tuple[RepoType, ...] = ("model", "dataset", "space")
PLURAL: dict[RepoType, str] = {"model": "models", "dataset": "datasets", "space": "spaces"}
FROM_PLURAL: dict[str, RepoType] = {v: k for k, v in PLURAL.items()}
# Prefix of web, file and git routes: models have none.
WEB_PREFIX: dict[RepoType, str] = {"model": "", "dataset": "datasets/", "space": "spaces/"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME = 96
# Namespaces that would collide with top-level routes (the web's, the API's, the avatars', the git/LFS/Xet
# faces') or could pass for a page of the Hub itself. Compared in lower case. Not "admin": the first start
# creates that user.
RESERVED = {
    "api",
    "datasets",
    "spaces",
    "models",
    "new",
    "new-dataset",
    "new-space",
    "login",
    "logout",
    "settings",
    "static",
    "lfs",
    "xet",
    "cas",
    "organizations",
    "docs",
    "collections",
    "join",
    "healthz",
    "search",
    "avatars",
    "auth",
    "oauth",
    "metrics",
    "user-content",
    "usercontent",
    "favicon.ico",
    "robots.txt",
    # the Inference API's first segments (the viewer's /rows... answer only on the datasets-server. host)
    "hf-inference",
    "status",
    "v1",
}
# A canonical repo (`gpt2`, no namespace, as the Hub's oldest repos) is stored with the empty namespace.
CANONICAL = ""


def repo_web_path(repo_type: str, namespace: str, name: str) -> str:
    """The repo's path on the web, file and git routes, without the leading '/': `ns/name` for a model,
    `datasets/ns/name`, `spaces/ns/name`. Every repo URL is built from it."""
    return f"{WEB_PREFIX[repo_type]}{repo_full(namespace, name)}"  # type: ignore[index]


def repo_full(namespace: str, name: str) -> str:
    """The repo id as the Hub writes it: `ns/name`, or `name` alone for a canonical repo."""
    return f"{namespace}/{name}" if namespace else name


def parse_repo_type(value: str | None) -> RepoType:
    if value in (None, "", "model", "models"):
        return "model"
    if value in ("dataset", "datasets"):
        return "dataset"
    if value in ("space", "spaces"):
        return "space"
    raise BadRequest(f"Invalid repo type {value!r}: use model, dataset or space")


def check_name(name: str, what: str = "repo name") -> str:
    """Hub rules: letters, digits, '-', '_', '.'; no '--' or '..'; not ending in '.git'; <= 96 chars."""
    if not isinstance(name, str) or not name:
        raise BadRequest(f"The {what} is empty")
    if len(name) > MAX_NAME:
        raise BadRequest(
            f"The {what} {name[:20]!r}... is {len(name)} characters long: at most {MAX_NAME} allowed"
        )
    if not _NAME.match(name) or "--" in name or ".." in name or name.endswith((".git", ".", "-")):
        raise BadRequest(
            f"Invalid {what} {name!r}: use letters, digits, '-', '_' and '.', start with a letter or digit, "
            "no '--' or '..', and do not end with '.git'"
        )
    return name


def check_namespace(name: str) -> str:
    check_name(name, "namespace")
    if name.lower() in RESERVED:
        raise BadRequest(f"The name {name!r} is reserved")
    return name


@dataclass(frozen=True)
class RepoId:
    type: RepoType
    namespace: str
    name: str

    @property
    def full(self) -> str:
        return repo_full(self.namespace, self.name)

    @property
    def web_path(self) -> str:
        return repo_web_path(self.type, self.namespace, self.name)

    @classmethod
    def parse(cls, repo_type: RepoType, full: str) -> RepoId:
        parts = full.split("/") if isinstance(full, str) else []
        if len(parts) != 2:
            raise BadRequest(f"Invalid repo id {full!r}: expected 'namespace/name'")
        return cls(repo_type, check_name(parts[0], "namespace"), check_name(parts[1]))

    @classmethod
    def parse_any(cls, repo_type: RepoType, full: str) -> RepoId:
        """`namespace/name`, or a canonical repo's one-segment id (`gpt2`)."""
        if isinstance(full, str) and "/" not in full:
            return cls(repo_type, CANONICAL, check_name(full))
        return cls.parse(repo_type, full)


MAX_PATH = 1024
MAX_COMPONENT = 255  # bytes of UTF-8 in one file or folder name: what file systems (and the Hub) accept


def check_path(path: str) -> str:
    """A file path inside a repo: valid UTF-8, relative, no '..' or '.' segments, nothing under .git/,
    names of at most 255 bytes (a malformed path is InvalidPath, 422; a long one BadRequest). API commits,
    web uploads and pushes (hub/pushes.py) all check here."""
    if not isinstance(path, str) or not path:
        raise InvalidPath("Empty file path")
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidPath(f"Invalid path {path!r}: not valid Unicode text (lone surrogate)") from None
    if size > MAX_PATH:
        raise BadRequest(f"Path too long ({size} bytes, at most {MAX_PATH})")
    if "\x00" in path or "\\" in path or any(ord(c) < 32 for c in path):
        raise InvalidPath(f"Invalid path {path!r}: control characters and backslashes are not allowed")
    if path.startswith("/"):
        raise InvalidPath(f"Invalid path {path!r}: paths are relative to the repo root, no leading '/'")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidPath(f"Invalid path {path!r}: empty, '.' and '..' segments are not allowed")
        if part.lower() == ".git":
            raise InvalidPath(f"Invalid path {path!r}: nothing may be written inside '.git'")
        if len(part.encode()) > MAX_COMPONENT:
            raise BadRequest(
                f"Invalid path {path[:80]!r}...: the name {part[:40]!r}... is {len(part.encode())} "
                f"bytes long, at most {MAX_COMPONENT} allowed"
            )
    return path


def _nfc_keys(path: str) -> Iterator[tuple[str, str]]:
    """(NFC form, spelling) of the path and of each folder above it."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        spelled = "/".join(parts[:i])
        yield unicodedata.normalize("NFC", spelled), spelled


def check_unicode_twins(new: Iterable[str], existing: Iterable[str]) -> None:
    """Refuse a new path (or folder) that differs from another one of the tree only by Unicode normalisation
    (NFC 'é' vs NFD 'e' + combining accent): both would exist in git, but clients on macOS and in caches
    keyed by the name see one file. Paths are stored as given; a twin is refused, never renamed."""
    new = [p for p in new if not p.isascii()]
    if not new:
        return
    seen: dict[str, str] = {}
    for p in existing:
        if p.isascii():
            continue
        for key, spelled in _nfc_keys(p):
            seen.setdefault(key, spelled)
    for p in new:
        for key, spelled in _nfc_keys(p):
            other = seen.setdefault(key, spelled)
            if other != spelled:
                raise BadRequest(
                    f"Invalid path {p!r}: {spelled!r} and {other!r} differ only by Unicode "
                    "normalisation (NFC/NFD); use one spelling for both"
                )


# git check-ref-format, plus the Hub's own: no branch called HEAD, no ref outside heads/ and tags/ from users
_REF_BAD = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_ref_name(name: object, what: str = "branch") -> str:
    """A short branch or tag name (without refs/heads/ or refs/tags/) as git and the Hub accept it."""
    if not isinstance(name, str) or not name:
        raise BadRequest(f"The {what} name is empty")
    if len(name.encode("utf-8", "surrogatepass")) > 255:
        raise BadRequest(f"The {what} name is too long: at most 255 bytes")
    bad = (
        _REF_BAD.search(name) is not None
        or ".." in name
        or "@{" in name
        or "//" in name
        or name == "@"
        or name.startswith(("/", "-", "refs/"))
        or name.endswith(("/", "."))
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
        or not encodable(name)
    )
    if bad:
        raise BadRequest(
            f"Invalid {what} name {name!r}: git ref names have no spaces, control characters, "
            "'~^:?*[\\', '..', '@{', '//', no part starting with '.' or ending in '.lock'"
        )
    if name == "HEAD":
        raise BadRequest(f"Invalid {what} name 'HEAD': HEAD names the default branch")
    return name


def encodable(s: str) -> bool:
    """Whether `s` has a UTF-8 form. JSON may carry "\\ud800" (a lone surrogate): valid JSON, but no UTF-8
    form, which git, the database and answers need."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_folder(path: str) -> str:
    return check_path(path.rstrip("/"))


HEX40 = re.compile(r"^[0-9a-f]{40}\Z")  # a full git object id
SHORT_SHA = re.compile(r"^[0-9a-f]{7,40}\Z")  # a commit id or a prefix of one, as a revision
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


def check_oid(oid: object) -> str:
    if not isinstance(oid, str) or not SHA256.match(oid):
        raise BadRequest(f"Invalid sha256 oid {oid!r}: expected 64 lowercase hex characters")
    return oid
