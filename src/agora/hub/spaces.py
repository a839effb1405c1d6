"""Spaces: the README configuration of a Space, validated as the Hub does, and its runtime stage.

A Space's configuration is its README front matter (sdk, sdk_version, python_version, app_file, emoji,
colors, ...; the Hub's spaces-config-reference). `config` reads and checks it: every problem is a sentence
for the owner, and any problem makes the stage CONFIG_ERROR. `runtime` answers what huggingface_hub's
`SpaceRuntime` reads (stage, hardware, sleep time, errorMessage).

What runs where:
- static: served straight from the repo's default branch by the HTTP layer (http/api/spaces.py), at
  `/spaces/{owner}/{name}/app/`, sandboxed (its own opaque origin: CSP `sandbox` without
  `allow-same-origin`). Its stage is RUNNING as soon as its app file exists.
- gradio, streamlit: run by the sandboxed runner (not in this server yet: their stage is STOPPED, with a
  message that says so).
- docker: never on this host (no container runtime): CONFIG_ERROR saying so.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .repos import Hub, Repo

SDKS = ("gradio", "streamlit", "docker", "static")
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
RUNS_HERE = ("static",)  # the SDKs this server runs now
DEFAULT_APP = {"gradio": "app.py", "streamlit": "app.py", "static": "index.html", "docker": ""}
MAX_SHORT_DESCRIPTION = 60  # characters, as on the Hub
DEFAULT_STARTUP_TIMEOUT = 30 * 60  # seconds (the Hub's `30m`)
NOT_YET = (
    "This server runs static Spaces only for now: {sdk} Spaces need the sandboxed runner of a later "
    "Agora version. The repo, its files and its git history work as for any Space"
)
DOCKER = (
    "This host runs no containers, so a docker Space cannot run here. Use sdk: gradio, streamlit or "
    "static in the README's front matter"
)
_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")
_PYTHON = re.compile(r"^3\.\d+(\.\d+)?$")
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class SpaceConfig:
    sdk: str | None
    sdk_version: str | None = None
    python_version: str | None = None
    app_file: str = ""
    app_port: int = 7860
    title: str | None = None
    emoji: str | None = None
    color_from: str | None = None
    color_to: str | None = None
    short_description: str | None = None
    pinned: bool = False
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    startup_timeout: int = DEFAULT_STARTUP_TIMEOUT  # seconds
    base_path: str | None = None


@dataclass
class _Reader:
    data: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    def text(self, key: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
        v = self.data.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            self.errors.append(f"`{key}` must be a string{hint}")
            return None
        s = str(v).strip()
        if pattern is not None and not pattern.match(s):
            self.errors.append(f"`{key}`: {s!r} is not valid{hint}")
            return None
        return s

    def choice(self, key: str, allowed: tuple[str, ...]) -> str | None:
        v = self.data.get(key)
        if v is None:
            return None
        if v not in allowed:
            self.errors.append(f"`{key}`: {v!r} is not one of {', '.join(allowed)}")
            return None
        return str(v)

    def names(self, key: str) -> list[str]:
        v = self.data.get(key)
        if v is None:
            return []
        items = v if isinstance(v, list) else [v]
        if not all(isinstance(x, str) and x.strip() for x in items):
            self.errors.append(f"`{key}` must be a list of repo ids")
            return []
        return [x.strip() for x in items]


def config(card_data: dict[str, Any] | None, sdk: str | None) -> tuple[SpaceConfig, list[str]]:
    """The Space's configuration from its README front matter (`sdk` of the repo row as the default), and
    the problems found in it (each a sentence; any problem means CONFIG_ERROR)."""
    r = _Reader(card_data if isinstance(card_data, dict) else {})
    chosen = r.choice("sdk", SDKS) if "sdk" in r.data else sdk
    if chosen is None and "sdk" not in r.data:
        r.errors.append("The README's front matter has no `sdk`: say gradio, streamlit or static")
    elif chosen == "docker":
        r.errors.append(DOCKER)
    app_file = _app_file(r, chosen)
    cfg = SpaceConfig(
        sdk=chosen,
        sdk_version=r.text("sdk_version", _VERSION, " (a version such as 5.9.1)"),
        python_version=r.text("python_version", _PYTHON, " (3.x or 3.x.y)"),
        app_file=app_file,
        app_port=_port(r),
        title=r.text("title"),
        emoji=r.text("emoji"),
        color_from=r.choice("colorFrom", COLORS),
        color_to=r.choice("colorTo", COLORS),
        short_description=_short_description(r),
        pinned=_flag(r, "pinned"),
        models=r.names("models"),
        datasets=r.names("datasets"),
        startup_timeout=_duration(r, "startup_duration_timeout", DEFAULT_STARTUP_TIMEOUT),
        base_path=_base_path(r),
    )
    return cfg, r.errors


def _app_file(r: _Reader, sdk: str | None) -> str:
    given = r.text("app_file")
    if given is None:
        return DEFAULT_APP.get(sdk or "", "")
    norm = posixpath.normpath(given)
    if given.startswith("/") or norm.startswith("..") or norm in (".", ""):
        r.errors.append(f"`app_file`: {given!r} must be a path inside the repo")
        return DEFAULT_APP.get(sdk or "", "")
    return norm


def _port(r: _Reader) -> int:
    v = r.data.get("app_port", 7860)
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        r.errors.append("`app_port` must be a port number (1-65535)")
        return 7860
    return v


def _short_description(r: _Reader) -> str | None:
    s = r.text("short_description")
    if s is not None and len(s) > MAX_SHORT_DESCRIPTION:
        r.errors.append(f"`short_description` is longer than {MAX_SHORT_DESCRIPTION} characters")
    return s


def _flag(r: _Reader, key: str) -> bool:
    v = r.data.get(key, False)
    if not isinstance(v, bool):
        r.errors.append(f"`{key}` must be true or false")
        return False
    return v


def _duration(r: _Reader, key: str, default: int) -> int:
    s = r.text(key)
    if s is None:
        return default
    m = _DURATION.match(s)
    if m is None or int(m.group(1)) == 0:
        r.errors.append(f"`{key}`: {s!r} is not a duration such as 30m, 1h or 90s")
        return default
    return int(m.group(1)) * _SECONDS[m.group(2)]


def _base_path(r: _Reader) -> str | None:
    s = r.text("base_path")
    if s is not None and not s.startswith("/"):
        r.errors.append("`base_path` must start with /")
        return None
    return s


@dataclass(frozen=True)
class Runtime:
    stage: str
    config: SpaceConfig
    error: str | None = None

    def json(self, sleep_time: int | None = None) -> dict[str, Any]:
        """huggingface_hub's SpaceRuntime: `stage`, `hardware`, `gcTimeout` (sleep time), ..."""
        hw = "cpu-basic" if self.stage == "RUNNING" else None
        out: dict[str, Any] = {
            "stage": self.stage,
            "hardware": {"current": hw, "requested": "cpu-basic"},
            "gcTimeout": sleep_time,
            "storage": None,
            "devMode": False,
            "replicas": {"current": 1 if hw else 0, "requested": 1},
        }
        if self.error:
            out["errorMessage"] = self.error
        return out


def runtime(hub: Hub, repo: Repo, sha: str | None) -> Runtime:
    """The Space's stage at `sha` (its default branch's head), with why when it is not running."""
    cfg, errors = config(repo.card_data, repo.sdk)
    if errors:
        return Runtime("CONFIG_ERROR", cfg, "; ".join(errors))
    if cfg.sdk not in RUNS_HERE:
        return Runtime("STOPPED", cfg, NOT_YET.format(sdk=cfg.sdk))
    if sha is None or not has_file(hub, repo, sha, cfg.app_file):
        return Runtime("NO_APP_FILE", cfg, f"The app file {cfg.app_file} is not in the repo")
    return Runtime("RUNNING", cfg)


def has_file(hub: Hub, repo: Repo, sha: str, path: str) -> bool:
    e = hub.git(repo).entry(sha, path)
    return e is not None and e.type == "file"


def static_path(cfg: SpaceConfig, path: str) -> str | None:
    """The repo path a static Space's URL path names: relative to its app file's folder, a folder's
    index.html, the app file itself for the root; None for a path that leaves the repo."""
    root = posixpath.dirname(cfg.app_file)
    if path in ("", "/"):
        return cfg.app_file
    if path.endswith("/"):
        path += "index.html"
    full = posixpath.normpath(posixpath.join(root, path))
    if full.startswith("..") or full.startswith("/") or "\x00" in full:
        return None
    return full
