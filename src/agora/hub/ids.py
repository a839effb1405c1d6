"""Repo types, repo ids, revisions and paths: every validation rule lives here, once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import BadRequest

RepoType = Literal["model", "dataset", "space"]
REPO_TYPES: tuple[RepoType, ...] = ("model", "dataset", "space")
PLURAL: dict[RepoType, str] = {"model": "models", "dataset": "datasets", "space": "spaces"}
FROM_PLURAL: dict[str, RepoType] = {v: k for k, v in PLURAL.items()}
# Prefix of web, file and git routes: models have none.
WEB_PREFIX: dict[RepoType, str] = {"model": "", "dataset": "datasets/", "space": "spaces/"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME = 96
# Namespaces that would collide with top-level routes.
RESERVED = {"api", "datasets", "spaces", "models", "new", "login", "logout", "settings", "static",
            "lfs", "xet", "cas", "organizations", "docs", "collections", "join", "healthz", "search"}


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
        raise BadRequest(f"The {what} {name[:20]!r}... is {len(name)} characters long: at most {MAX_NAME} allowed")
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
        return f"{self.namespace}/{self.name}"

    @property
    def web_path(self) -> str:
        return f"{WEB_PREFIX[self.type]}{self.full}"

    @classmethod
    def parse(cls, repo_type: RepoType, full: str) -> "RepoId":
        parts = full.split("/") if isinstance(full, str) else []
        if len(parts) != 2:
            raise BadRequest(f"Invalid repo id {full!r}: expected 'namespace/name'")
        return cls(repo_type, check_name(parts[0], "namespace"), check_name(parts[1]))


MAX_PATH = 1024


def check_path(path: str) -> str:
    """A file path inside a repo: relative, no '..' or '.' segments, nothing under .git/."""
    if not isinstance(path, str) or not path:
        raise BadRequest("Empty file path")
    if len(path.encode()) > MAX_PATH:
        raise BadRequest(f"Path too long ({len(path.encode())} bytes, at most {MAX_PATH})")
    if "\x00" in path or "\\" in path or any(ord(c) < 32 for c in path):
        raise BadRequest(f"Invalid path {path!r}: control characters and backslashes are not allowed")
    if path.startswith("/"):
        raise BadRequest(f"Invalid path {path!r}: paths are relative to the repo root, no leading '/'")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise BadRequest(f"Invalid path {path!r}: empty, '.' and '..' segments are not allowed")
        if part.lower() == ".git":
            raise BadRequest(f"Invalid path {path!r}: nothing may be written inside '.git'")
    return path


def check_folder(path: str) -> str:
    return check_path(path.rstrip("/"))


HEX40 = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


def check_oid(oid: object) -> str:
    if not isinstance(oid, str) or not SHA256.match(oid):
        raise BadRequest(f"Invalid sha256 oid {oid!r}: expected 64 lowercase hex characters")
    return oid
