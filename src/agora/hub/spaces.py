"""Spaces: the README configuration of a Space, validated as the Hub does, and its runtime stage.

A Space's configuration is its README front matter (sdk, sdk_version, python_version, app_file, emoji,
colors, ...; the Hub's spaces-config-reference). `config` reads and checks it: every problem is a sentence
for the owner, and any problem makes the stage CONFIG_ERROR. `runtime` answers what huggingface_hub's
`SpaceRuntime` reads (stage, hardware, sleep time, errorMessage).

What runs where:
- static: served straight from the repo's default branch by the HTTP layer (http/api/spaces.py), at
  `/spaces/{owner}/{name}/app/`, sandboxed (its own opaque origin: CSP `sandbox` without
  `allow-same-origin`). Its stage is RUNNING as soon as its app file exists.
- gradio, streamlit: built and run in a sandbox by spacehost.py, reached through the proxy
  (http/spaces_proxy.py); their stage is what their supervisor wrote (`run_stage`).
- docker: never on this host (no container runtime): CONFIG_ERROR saying so.
"""

from __future__ import annotations

import hashlib
import posixpath
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..db.models import Repo as RepoRow
from ..db.models import SpaceRun, SpaceSettings, SpaceVariable, utcnow
from ..errors import BadRequest
from ..ids import RepoId, repo_full
from . import artefacts, audit, webhook_events

if TYPE_CHECKING:
    from .accounts import Principal
    from .repos import Hub, Repo

SDKS = ("gradio", "streamlit", "docker", "static")
COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
RUNS_HERE = ("static", "gradio", "streamlit")  # the SDKs this server runs
DEFAULT_APP = {"gradio": "app.py", "streamlit": "app.py", "static": "index.html", "docker": ""}
MAX_SHORT_DESCRIPTION = 60  # characters, as on the Hub
DEFAULT_STARTUP_TIMEOUT = 30 * 60  # seconds (the Hub's `30m`)
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
    sleep_time: int | None = None  # seconds; -1: never; None: the default

    def json(self) -> dict[str, Any]:
        """huggingface_hub's SpaceRuntime: `stage`, `hardware`, `gcTimeout` (sleep time), ..."""
        hw = "cpu-basic" if self.stage == "RUNNING" else None
        out: dict[str, Any] = {
            "stage": self.stage,
            "hardware": {"current": hw, "requested": "cpu-basic"},
            "gcTimeout": self.sleep_time,
            "storage": None,
            "devMode": False,
            "replicas": {"current": 1 if hw else 0, "requested": 1},
        }
        if self.error:
            out["errorMessage"] = self.error
        return out


PAUSED = "Paused by its owner: restart it to run it again"


def runtime(hub: Hub, repo: Repo, sha: str | None) -> Runtime:
    """The Space's stage at `sha` (its default branch's head), with why when it is not running. A static
    Space runs as soon as its app file exists; a gradio or streamlit one is at the stage its supervisor wrote
    (spacehost.py), SLEEPING before its first start."""
    with hub.db.session() as s:
        st = s.get(SpaceSettings, repo.id)
        run = s.get(SpaceRun, repo.id)
        queued = artefacts.pending(s, "space-run", repo.id)
    paused, sleep = (st.paused, st.sleep_time) if st is not None else (False, None)
    cfg, errors = config(repo.card_data, repo.sdk)
    if errors:
        return Runtime("CONFIG_ERROR", cfg, "; ".join(errors), sleep)
    if paused:
        return Runtime("PAUSED", cfg, PAUSED, sleep)
    if sha is None or not has_file(hub, repo, sha, cfg.app_file):
        return Runtime("NO_APP_FILE", cfg, f"The app file {cfg.app_file} is not in the repo", sleep)
    if cfg.sdk == "static":
        return Runtime("RUNNING", cfg, None, sleep)
    stage, error = run_stage(run, sha, queued)
    return Runtime(stage, cfg, error, sleep)


def run_stage(run: SpaceRun | None, sha: str, queued: bool) -> tuple[str, str | None]:
    """A gradio/streamlit Space's stage from its supervisor's row (spacehost.py)."""
    alive = run is not None and supervised(run)
    if queued and not alive:
        return "BUILDING", None  # a push queued its (re)start
    if run is None or (run.sha != sha and not alive):
        return "SLEEPING", None  # never started, or not at this commit yet: a request wakes it
    if run.stage in ("RUNNING", "BUILDING", "APP_STARTING") and not alive:
        return "SLEEPING", None  # its supervisor is gone, and its app with it
    return run.stage, run.error


SUPERVISOR_LEASE = timedelta(seconds=30)  # spacehost.LEASE


def supervised(run: SpaceRun) -> bool:
    """Whether a process still supervises the Space (its lease renewed lately)."""
    return (
        run.owner is not None
        and run.heartbeat_at is not None
        and run.heartbeat_at > utcnow() - SUPERVISOR_LEASE
    )


def app_prefix(ns: str, name: str) -> str:
    """Where a Space's app is served on the Hub's origin: never /spaces/{ns}/{name}/ itself (git, /resolve
    and the pages are there). A canonical Space's is `/spaces/{name}/app/`, as its other addresses."""
    return f"/spaces/{repo_full(ns, name)}/app/"


def subdomain(ns: str, name: str) -> str:
    """A Space's host label under AGORA_SPACES_DOMAIN: `{owner}--{name}`, lower case, other characters as
    `-` (as the Hub's `{owner}-{name}.hf.space`); a label longer than DNS allows keeps a hash of the id."""
    label = "--".join(re.sub(r"[^a-z0-9-]", "-", part.lower()) for part in (ns, name)).strip("-")
    if len(label) > 63:
        label = label[:54].rstrip("-") + "-" + hashlib.sha256(f"{ns}/{name}".encode()).hexdigest()[:8]
    return label


@dataclass(frozen=True)
class Serving:
    """Where Spaces' apps are served: on the Hub's origin under `app_prefix` (CSP sandbox: an opaque origin),
    or, with AGORA_SPACES_DOMAIN, each on an origin of its own, `{scheme}://{subdomain}.{domain}/`. One mode
    per server: Streamlit's routes move with its baseUrlPath, so an app runs for one mode (`mount`)."""

    scheme: str = ""
    domain: str = ""  # host[:port] in lower case; "" = on the Hub's origin

    @classmethod
    def parse(cls, setting: str) -> Serving:
        """AGORA_SPACES_DOMAIN: `spaces.example.org` (https) or a URL, `http://spaces.localhost:8080`."""
        setting = setting.strip().rstrip("/")
        if not setting:
            return cls()
        scheme, sep, domain = setting.partition("://")
        if not sep:
            scheme, domain = "https", setting
        if scheme not in ("http", "https") or not re.fullmatch(r"[a-z0-9.-]+(:\d+)?", domain.lower()):
            raise ValueError(
                f"AGORA_SPACES_DOMAIN={setting!r}: a host name (and port), e.g. spaces.example.org"
            )
        return cls(scheme, domain.lower())

    def mount(self, ns: str, name: str) -> str:
        """The path the app itself serves under (Streamlit's baseUrlPath; Gradio always serves at /)."""
        return "/" if self.domain else app_prefix(ns, name)

    def app_url(self, base_url: str, ns: str, name: str) -> str:
        """The app's public address, with its trailing slash (space_info's `host`)."""
        if self.domain:
            return f"{self.scheme}://{subdomain(ns, name)}.{self.domain}/"
        return base_url + app_prefix(ns, name)

    def subdomain_of(self, host: str) -> str | None:
        """The Space label of a request's Host, when it is one of this server's Space hosts."""
        host = host.lower()
        if not self.domain or not host.endswith("." + self.domain):
            return None
        label = host[: -len(self.domain) - 1]
        return label if re.fullmatch(r"[a-z0-9-]{1,63}", label) else None

    def frame_source(self) -> str:
        """What the Hub's pages name in CSP frame-src to embed the apps."""
        return f"{self.scheme}://*.{self.domain}" if self.domain else ""


def by_subdomain(hub: Hub, label: str) -> RepoId | None:
    """The Space a host label names (the oldest, should two ids make the same label)."""
    with hub.db.session() as s:
        rows = s.execute(
            select(RepoRow.namespace, RepoRow.name).where(RepoRow.type == "space").order_by(RepoRow.id)
        ).all()
    return next((RepoId("space", ns, n) for ns, n in rows if subdomain(ns, n) == label), None)


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


@dataclass(frozen=True)
class Look:
    """What a Space's card in a list shows, from its config alone (no git read: a list has many)."""

    emoji: str
    color_from: str
    color_to: str
    title: str | None
    description: str | None
    badge: str  # the SDK, or what stops it: "Config error", "Docker: not on this host", ...


def look(card_data: dict[str, Any] | None, sdk: str | None) -> Look:
    cfg, errors = config(card_data, sdk)
    if cfg.sdk == "docker":
        badge = "Docker: not on this host"
    elif errors:
        badge = "Config error"
    elif cfg.sdk not in RUNS_HERE:
        badge = f"{cfg.sdk} (stopped)"
    else:
        badge = cfg.sdk or ""
    return Look(cfg.emoji or "🚀", cfg.color_from or "gray", cfg.color_to or "blue", cfg.title,
                cfg.short_description, badge)  # fmt: skip


STAGE_LABELS = {
    "RUNNING": "Running", "SLEEPING": "Sleeping", "BUILDING": "Building", "APP_STARTING": "Starting",
    "PAUSED": "Paused", "BUILD_ERROR": "Build error", "RUNTIME_ERROR": "Runtime error",
    "CONFIG_ERROR": "Config error", "NO_APP_FILE": "No app file", "STOPPED": "Stopped",
}  # fmt: skip


def list_stages(hub: Hub, repos: list[Repo]) -> dict[int, str]:
    """The stage of each Space of a list, as its card says it ("Running", "Sleeping", ...): three queries for
    the whole list and no git read (an app file gone shows at the Space's own page)."""
    ids = [r.id for r in repos if r.type == "space"]
    if not ids:
        return {}
    with hub.db.session() as s:
        paused = set(s.scalars(select(SpaceSettings.repo_id).where(
            SpaceSettings.repo_id.in_(ids), SpaceSettings.paused.is_(True))))  # fmt: skip
        runs = {r.repo_id: r for r in s.scalars(select(SpaceRun).where(SpaceRun.repo_id.in_(ids)))}
    out = {}
    for r in repos:
        cfg, errors = config(r.card_data, r.sdk)
        if r.type != "space" or cfg.sdk not in RUNS_HERE or errors:
            continue  # the card's badge says what stops it
        if r.id in paused:
            stage = "PAUSED"
        elif cfg.sdk == "static":
            stage = "RUNNING"
        else:
            stage = run_stage(runs.get(r.id), r.head_sha or "", False)[0]
        out[r.id] = STAGE_LABELS.get(stage, stage)
    return out


# ---- the runtime API: what the owner changes (their write access is checked by `_manage`) -------------------
HARDWARE = "cpu-basic"  # what this host offers: its CPUs, shared
STATIC_ALWAYS = (
    "Static Spaces are always running: there is nothing to {what}. Make the Space private to hide it"
)
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_VALUE = 64 * 1024  # characters of a variable's or secret's value


def _manage(hub: Hub, s: Session, who: Principal | None, rid: RepoId) -> tuple[Repo, SpaceSettings]:
    repo = hub.find(s, who, rid, write=True)
    st = s.get(SpaceSettings, repo.id)
    if st is None:
        st = SpaceSettings(repo_id=repo.id, paused=False)
        s.add(st)
    return repo, st


def _not_static(repo: Repo, what: str) -> None:
    if config(repo.card_data, repo.sdk)[0].sdk == "static":
        raise BadRequest(STATIC_ALWAYS.format(what=what))


def pause(hub: Hub, who: Principal | None, rid: RepoId) -> Runtime:
    """Stop the Space until its owner restarts it (PAUSED is never woken by traffic)."""
    return _set_paused(hub, who, rid, True)


def restart(hub: Hub, who: Principal | None, rid: RepoId) -> Runtime:
    """Unpause (the HTTP layer then asks spacehost.py for a fresh start from the default branch's head)."""
    return _set_paused(hub, who, rid, False)


def _set_paused(hub: Hub, who: Principal | None, rid: RepoId, paused: bool) -> Runtime:
    what = "pause" if paused else "restart"
    with hub.db.session() as s:
        repo, st = _manage(hub, s, who, rid)
        _not_static(repo, what)
        st.paused, st.updated_at = paused, utcnow()
        audit.record(s, who, f"space.{what}", rid.full)
    return runtime(hub, repo, repo.head_sha)


def set_sleep_time(hub: Hub, who: Principal | None, rid: RepoId, seconds: Any) -> Runtime:
    _check_sleep(seconds)
    with hub.db.session() as s:
        repo, st = _manage(hub, s, who, rid)
        _not_static(repo, "put to sleep")
        st.sleep_time, st.updated_at = seconds, utcnow()
        webhook_events.config_changed(s, repo, {})
    return runtime(hub, repo, repo.head_sha)


def _check_sleep(seconds: Any) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not (seconds == -1 or seconds >= 60):
        raise BadRequest("The sleep time must be a number of seconds, at least 60, or -1 (never sleep)")


def request_hardware(hub: Hub, who: Principal | None, rid: RepoId, flavor: Any, sleep: Any) -> Runtime:
    if flavor != HARDWARE:
        raise BadRequest(f"This host offers {HARDWARE} only (its own CPUs): {flavor!r} is not available")
    if sleep is not None:
        return set_sleep_time(hub, who, rid, sleep)
    with hub.db.session() as s:
        repo, _ = _manage(hub, s, who, rid)
    return runtime(hub, repo, repo.head_sha)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def variables(hub: Hub, who: Principal | None, rid: RepoId, secret: bool) -> dict[str, dict[str, Any]]:
    """The Space's variables `{KEY: {value, description, updatedAt}}`, or its secrets without their values
    (`{KEY: {description, updatedAt}}`): for those who may write the Space."""
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        rows = s.scalars(
            select(SpaceVariable)
            .where(SpaceVariable.repo_id == repo.id, SpaceVariable.secret.is_(secret))
            .order_by(SpaceVariable.key)
        ).all()
        out: dict[str, dict[str, Any]] = {}
        for v in rows:
            d: dict[str, Any] = {"description": v.description, "updatedAt": iso(v.updated_at)}
            if not secret:
                d["value"] = v.value
            out[v.key] = d
        return out


def put_variable(
    hub: Hub, who: Principal | None, rid: RepoId, secret: bool, key: Any, value: Any, description: Any
) -> None:
    what = "secret" if secret else "variable"
    _check_variable(what, key, value, description)
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        row = s.get(SpaceVariable, (repo.id, secret, key))
        if row is None:
            row = SpaceVariable(repo_id=repo.id, secret=secret, key=key)
            s.add(row)
        row.value, row.description, row.updated_at = value, description, utcnow()
        audit.record(s, who, f"space.{what}.set", rid.full, {"key": key})
        webhook_events.config_changed(s, repo, {})  # the Hub's repo.config event for a Space secret


def _check_variable(what: str, key: Any, value: Any, description: Any) -> None:
    if not isinstance(key, str) or not _ENV_KEY.match(key):
        raise BadRequest(
            f"A {what}'s key must be an environment variable name (letters, digits, _; 100 at most)"
        )
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise BadRequest(f"A {what}'s value must be a string of at most {MAX_VALUE} characters")
    if description is not None and (not isinstance(description, str) or len(description) > 300):
        raise BadRequest(f"A {what}'s description must be a string of at most 300 characters")


def delete_variable(hub: Hub, who: Principal | None, rid: RepoId, secret: bool, key: Any) -> None:
    if not isinstance(key, str):
        raise BadRequest('The body must be {"key": "<name>"}')
    with hub.db.session() as s:
        repo = hub.find(s, who, rid, write=True)
        s.execute(
            delete(SpaceVariable).where(
                SpaceVariable.repo_id == repo.id, SpaceVariable.secret.is_(secret), SpaceVariable.key == key
            )
        )
        audit.record(s, who, f"space.{'secret' if secret else 'variable'}.delete", rid.full, {"key": key})
        webhook_events.config_changed(s, repo, {})


@dataclass(frozen=True)
class CreateOptions:
    """What `create_repo(repo_type="space", space_secrets=..., space_variables=..., space_sleep_time=...,
    space_hardware=...)` sends with the creation: checked before the repo is created, applied after."""

    secrets: list[tuple[str, str, str | None]]
    variables: list[tuple[str, str, str | None]]
    sleep_time: int | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> CreateOptions:
        hw = body.get("hardware")
        if hw is not None and hw != HARDWARE:
            raise BadRequest(f"This host offers {HARDWARE} only (its own CPUs): {hw!r} is not available")
        sleep = body.get("sleepTimeSeconds")
        if sleep is not None:
            _check_sleep(sleep)
        return cls(_items(body.get("secrets"), "secret"), _items(body.get("variables"), "variable"), sleep)

    def apply(self, hub: Hub, who: Principal | None, rid: RepoId) -> None:
        for secret, items in ((True, self.secrets), (False, self.variables)):
            for key, value, description in items:
                put_variable(hub, who, rid, secret, key, value, description)
        if self.sleep_time is not None:
            with hub.db.session() as s:
                _, st = _manage(hub, s, who, rid)
                st.sleep_time = self.sleep_time


def _items(items: Any, what: str) -> list[tuple[str, str, str | None]]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise BadRequest(f'`{what}s` must be a list of {{"key", "value", "description"?}}')
    out = []
    for x in items:
        key, value, description = x.get("key"), x.get("value"), x.get("description")
        _check_variable(what, key, value, description)
        out.append((key, value, description))
    return out


# ---- a new Space's first commit (the web's New Space form) ------------------------------------------------
EMOJIS = ("🚀", "🤗", "🌍", "🎨", "🧪", "📊", "🔥", "🐢", "🦉", "🌱", "⚡", "🎈")
APPS = {
    "gradio": (
        "app.py",
        """import gradio as gr


def greet(name: str) -> str:
    return f"Hello, {name}!"


demo = gr.Interface(fn=greet, inputs=gr.Textbox(label="Name"), outputs=gr.Textbox(label="Greeting"))
demo.launch()
""",
    ),
    "streamlit": (
        "app.py",
        """import streamlit as st

name = st.text_input("Name", "Agora")
st.write(f"Hello, {name}!")
""",
    ),
    "static": (
        "index.html",
        """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; margin: 2em">
<h1>{title}</h1>
<p>This static Space is served from its repository: edit <code>index.html</code> to change it.</p>
</body>
</html>
""",
    ),
}


def template(name: str, sdk: str, license: str | None, short_description: str | None) -> dict[str, bytes]:
    """A new Space's README (its config, as the Hub writes it) and a minimal app for its SDK."""
    if sdk not in APPS:
        raise ValueError(f"no template for sdk {sdk!r}")
    app_file, app = APPS[sdk]
    c1, c2 = random.sample(COLORS, 2)
    meta = [f"title: {name}", f"emoji: {random.choice(EMOJIS)}", f"colorFrom: {c1}", f"colorTo: {c2}",
            f"sdk: {sdk}", f"app_file: {app_file}", "pinned: false"]  # fmt: skip
    if license:
        meta.append(f"license: {license}")
    if short_description:
        meta.append(f"short_description: {_yaml_text(short_description)}")
    readme = "---\n" + "\n".join(meta) + f"\n---\n\n# {name}\n"
    return {"README.md": readme.encode(), app_file: app.replace("{title}", _html(name)).encode()}


def _yaml_text(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def serving_of(setting: str) -> Serving:
    """The Serving of an AGORA_SPACES_DOMAIN value (parsed once)."""
    return Serving.parse(setting)
