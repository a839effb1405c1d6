"""`Inference`: the interface http/api/inference.py calls. It runs in a server process: it finds the
commit a request runs on, materialises its snapshot (snapshots.py), and talks to the host's pool
(front.py). No torch here: a server without the `inference` extra answers that it is not enabled."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadRequest, Unavailable
from .front import NOT_INSTALLED, InferencePool, check, installed
from .pool import PoolConfig
from .snapshots import Snapshots, TooBig

if TYPE_CHECKING:
    from ..config import Settings
    from ..hub.repos import Hub, Repo

MIB = 1024 * 1024
BINARY_TASKS = ("automatic-speech-recognition", "image-classification")
NO_TEMPLATE = (
    "This model has no chat template (chat_template.jinja, or chat_template in tokenizer_config.json): "
    "it cannot be used for chat completion. Use text generation instead"
)
LOAD_SECONDS = 4.0  # a worker's cold start (torch + transformers imports), counted in a load estimate
LOAD_BYTES_PER_SECOND = (
    200 * MIB
)  # weights mapped and initialised per second on CPU (measured: 90 MB in 0.2 s)


def has_chat_template(folder: Path) -> bool:
    """Whether the snapshot carries a chat template: `chat_template.jinja` (transformers 5) or the key in
    tokenizer_config.json (older saves)."""
    if (folder / "chat_template.jinja").is_file():
        return True
    try:
        cfg = json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(cfg, dict) and bool(cfg.get("chat_template"))


@dataclass(frozen=True)
class Target:
    """What one request runs: a repo's commit, its snapshot folder, the task (None: the model's own)."""

    key: str  # "<repo id>@<sha>:<task>": the workers' LRU key
    path: str
    sha: str
    task: str | None


class Inference:
    def __init__(self, hub: Hub, settings: Settings) -> None:
        lim = settings.infer
        self.hub = hub
        self.limits = lim
        config = PoolConfig(
            workers=lim.workers,
            threads=lim.threads,
            timeout=lim.timeout,
            queue=lim.queue,
            max_models=lim.max_models,
            max_rss=lim.max_rss_mb * MIB,
            test_sleep=lim.test_sleep,
            max_image_pixels=lim.max_image_pixels,
            max_audio_seconds=lim.max_audio_seconds,
        )
        self.pool = InferencePool(settings.data / "infer", config)
        self.snapshots = Snapshots(hub, settings.data, lim.max_model_mb * MIB, lim.cache_mb * MIB)
        self._loads: set[asyncio.Task[Any]] = set()  # background loads (the widget's), kept referenced

    @staticmethod
    def check_installed() -> None:
        if not installed():
            raise Unavailable(NOT_INSTALLED)

    def ready_target(self, repo: Repo, task: str | None) -> Target | None:
        """The target without blocking, when this process has just checked its snapshot (a ref lookup and a
        stat: no thread hop for a warm model); None: call `target` in a thread."""
        sha = self.snapshots.head(repo)
        folder = self.snapshots.checked(repo, sha)
        if folder is None or not (folder / "config.json").is_file():
            return None
        task = task or repo.pipeline_tag
        return Target(f"{repo.id}@{sha}:{task or ''}", str(folder), sha, task)

    def target(self, repo: Repo, task: str | None) -> Target:
        """Blocking (git, stores): the default branch's head, materialised."""
        sha = self.snapshots.head(repo)
        folder = self.snapshots.folder(repo, sha)
        if not (folder / "config.json").is_file():  # said here, without waking a worker
            raise BadRequest(
                "The repository has no config.json: it is not a transformers model Agora can run"
            )
        task = task or repo.pipeline_tag
        return Target(f"{repo.id}@{sha}:{task or ''}", str(folder), sha, task)

    def chat_target(self, repo: Repo) -> Target:
        """Blocking: the chat target; a model without a chat template is a 400 without waking a worker."""
        t = self.target(repo, "chat-completion")
        if not has_chat_template(Path(t.path)):
            raise BadRequest(NO_TEMPLATE)
        return t

    def load_estimate(self, repo: Repo, t: Target) -> float:
        """Blocking: seconds a load of `t` may take (a worker start, then its weights)."""
        return round(LOAD_SECONDS + self.snapshots.check_size(repo, t.sha) / LOAD_BYTES_PER_SECOND, 1)

    def preload(self, t: Target) -> None:
        """Load `t` in its worker in the background (the widget retries once told it is loading)."""
        req: dict[str, Any] = {"op": "run", "key": t.key, "path": t.path, "task": t.task, "inputs": None,
                               "parameters": {}, "stream": False, "load_only": True}  # fmt: skip

        async def load() -> None:
            with contextlib.suppress(Exception):
                await self.pool.run(req)

        task = asyncio.get_running_loop().create_task(load())
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def frames(
        self, t: Target, inputs: Any, parameters: dict[str, Any], stream: bool
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Stream chunks (`{"chunk": event}`), then the answer `{"ok", "task", "compute_time"}`; a failure
        is raised as the domain error it is (400, 503, 504)."""
        req = {"op": "run", "key": t.key, "path": t.path, "task": t.task, "inputs": inputs,
               "parameters": parameters, "stream": stream}  # fmt: skip
        async with contextlib.aclosing(self.pool.frames(req)) as frames:
            async for frame in frames:
                yield check(frame)

    async def run(self, t: Target, inputs: Any, parameters: dict[str, Any]) -> dict[str, Any]:
        """The answer `{"ok", "task", "compute_time"}` of a request that does not stream."""
        req = {"op": "run", "key": t.key, "path": t.path, "task": t.task, "inputs": inputs,
               "parameters": parameters, "stream": False}  # fmt: skip
        return check(await self.pool.run(req))

    def state(self, repo: Repo) -> tuple[Target | None, str]:
        """Blocking: the widget's status state before asking the pool: TooBig, error, or Loadable."""
        if not installed():
            return None, "error"
        try:
            sha = self.snapshots.head(repo)
            self.snapshots.check_size(repo, sha)
        except TooBig:
            return None, "TooBig"
        except Exception:
            return None, "error"
        task = repo.pipeline_tag
        return Target(f"{repo.id}@{sha}:{task or ''}", "", sha, task), "Loadable"

    async def loaded(self, t: Target) -> bool:
        return bool((await self.pool.status(t.key)).get("loaded"))

    async def loaded_any(self, t: Target) -> bool:
        """For /status: loaded for its own task, or for chat (a conversational model the widget chats with)."""
        if await self.loaded(t):
            return True
        chat = t.key.rsplit(":", 1)[0] + ":chat-completion"
        return t.task == "text-generation" and bool((await self.pool.status(chat)).get("loaded"))
