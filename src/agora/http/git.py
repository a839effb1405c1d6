"""Git smart HTTP (clone, fetch, push; protocol v0 and v2) and the Git LFS locks API.

Served by git's own `upload-pack` / `receive-pack --stateless-rpc`, spawned per request and streamed both
ways through pipes: a pack is never held in memory. Request bodies may be gzip-compressed (git does that
for large fetch negotiations); they are inflated while streaming.

Pushes: receive-pack runs Agora's pre-receive hook (`githooks/pre-receive` -> `hub/pushes.py`) with the
pushed objects in quarantine, so a refused push changes nothing. Once receive-pack has exited, the refs are
compared with a snapshot taken before, and `Hub.after_ref_update` runs for each ref that moved, exactly as
for an API commit. The status report is held back until then, so when `git push` returns, the API, the
listings and /resolve all already show the new head.

Auth: Basic (the token as password, any user name) or Bearer, through `ctx.who`. Anonymous callers get
401 + `WWW-Authenticate: Basic` whenever they lack a right (so git asks its credential helper), and signed-in
callers 404 for repos they may not read, 403 for repos they may read but not write.
Repo rows are typed as agora.hub.Repo (the domain's re-export, for type checking only): http/ imports no agora.db.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import shutil
import zlib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

import agora

from ..config import HookEnv
from ..errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GatedRepo,
    HubError,
    InsufficientStorage,
    RepoMoved,
    RepoNotFound,
    Unauthorized,
)
from ..hub import contributions, locks, pushes, startup
from ..hub.accounts import Principal
from ..ids import RepoId, repo_full
from . import bodies, wire
from .api.common import rid_web
from .api.lfs import anonymous_401, lfs_error, lfs_json
from .context import Ctx

if TYPE_CHECKING:
    from ..hub.repos import Repo

log = logging.getLogger("agora.git")

SERVICES = ("git-upload-pack", "git-receive-pack")
CHUNK = 64 * 1024
FEED = 1024 * 1024  # at most this much inflated data per write to git's stdin
BASIC = {"WWW-Authenticate": 'Basic realm="Agora", charset="UTF-8"'}
NO_CACHE = {
    "Cache-Control": "no-cache, max-age=0, must-revalidate",
    "Pragma": "no-cache",
    "Expires": "Fri, 01 Jan 1980 00:00:00 GMT",
}
_GIT_PROTOCOL = re.compile(r"^[A-Za-z0-9=:._-]{1,128}$")
# Never let the server's own environment point git somewhere else.
_STRIP_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_NAMESPACE",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
    "GIT_PROTOCOL",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_CEILING_DIRECTORIES",
)
HOOKS = Path(__file__).parent / "githooks"
PACKAGE_ROOT = str(Path(agora.__file__).resolve().parent.parent)


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def git_error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """git prints a text/plain error body as `remote: ...` lines."""
    h = dict(NO_CACHE)
    if code:
        h["X-Error-Code"] = code
        h["X-Error-Message"] = re.sub(r"[^\x20-\x7e]", " ", message)[:500]
    if status == 401:
        h.update(BASIC)
    h.update(headers or {})
    return Response(message.rstrip("\n") + "\n", status_code=status, headers=h, media_type="text/plain")


def hooks_dir(data: Path) -> Path:
    """The directory given to receive-pack as core.hooksPath.

    The one shipped in the package, unless an install lost it or its executable bit: then a copy in
    the data folder.
    """
    hook = HOOKS / "pre-receive"
    if hook.is_file() and os.access(hook, os.X_OK):
        return HOOKS
    target = data / "githooks"
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".pre-receive.{os.getpid()}"
    tmp.write_text(f'#!/bin/sh\nexec "${{{HookEnv.PYTHON}:-python3}}" -m agora.hub.pushes\n')
    tmp.chmod(0o755)
    os.replace(tmp, target / "pre-receive")
    return target


class GitProcess:
    """An ASGI response that runs one git command and streams: request body -> stdin, stdout -> response."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        content_type: str,
        *,
        prefix: bytes = b"",
        body: bool = False,
        gzip: bool = False,
        finish: Callable[[], Awaitable[None]] | None = None,
        keep_running: bool = False,
        mark: Path | None = None,
    ) -> None:
        self.argv = argv
        self.mark = mark  # receive-pack: the git dir where it is marked running (hub/startup.mark_push)
        self.env = env
        self.content_type = content_type
        self.prefix = prefix
        self.body = body
        self.gzip = gzip
        self.finish = finish  # runs after git exits, before the last bytes go out
        self.keep_running = keep_running  # receive-pack: never killed mid-way, it cleans up after itself
        self.bad_body: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            env=self.env,
            stdin=asyncio.subprocess.PIPE if self.body else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        if self.mark is not None and (mark := _mark(self.mark, proc.pid)) is not None:
            _background(_unmark_on_exit(mark, proc))  # marked before the body reaches git (its quarantine)
        errors = _background(self._log_stderr(proc.stderr))
        feeder = asyncio.ensure_future(self._feed(proc, receive)) if self.body else None
        done = False
        try:
            await self._respond(scope, proc, send)
            done = True
            if feeder is not None and not feeder.done():
                feeder.cancel()  # git exited without reading everything
        finally:
            if not done:
                if self.keep_running:
                    # The client went away (or the server is stopping): let receive-pack finish or fail on
                    # its own, then still record whatever refs it moved.
                    _background(self._drain(proc, feeder, errors))
                else:
                    if proc.returncode is None:
                        proc.kill()
                    if feeder:
                        feeder.cancel()

    async def _respond(self, scope: Scope, proc: asyncio.subprocess.Process, send: Send) -> None:
        assert proc.stdout is not None
        first = await proc.stdout.read(CHUNK)
        if not first:
            rc = await proc.wait()
            if self.bad_body or rc != 0:
                await self._after()
                msg = self.bad_body or "git could not serve this request: the server logged the details"
                await git_error(400 if self.bad_body else 500, msg)(scope, _no_receive, send)
                return
        out = _Reply(send, self.content_type, functools.partial(self._client_gone, proc))
        held = self.prefix + first
        while True:
            chunk = await proc.stdout.read(CHUNK)
            if not chunk:
                break
            # Always hold the latest chunk back: the final flush-pkt goes out only after `finish`.
            if held:
                await out(held, True)
            held = chunk
        await proc.wait()
        await self._after()
        await out(held, False)

    def _client_gone(self, proc: asyncio.subprocess.Process) -> None:
        """The response can no longer be sent: stop git, unless it must run to its end (receive-pack)."""
        if not self.keep_running and proc.returncode is None:
            proc.kill()

    async def _after(self) -> None:
        if self.finish is not None:
            finish, self.finish = self.finish, None
            await finish()

    async def _feed(self, proc: asyncio.subprocess.Process, receive: Receive) -> None:
        stdin = proc.stdin
        assert stdin is not None
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.gzip else None
        try:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                await _write_body(stdin, inflate, msg.get("body", b""))
                if not msg.get("more_body", False):
                    if inflate is not None and not inflate.eof:
                        self.bad_body = "The gzip request body is truncated"
                    return
        except zlib.error as e:
            self.bad_body = f"The request body is not valid gzip: {e}"
        except (BrokenPipeError, ConnectionResetError):
            pass  # git stopped reading: it will say why on stdout/stderr
        finally:
            try:
                stdin.close()
            except Exception:
                pass

    async def _log_stderr(self, stream: asyncio.StreamReader) -> None:
        """Log what git says on stderr (a few lines); always read it all, or git would block on it."""
        name = " ".join(a for a in self.argv[1:] if not a.startswith("-") and "=" not in a)[:60]
        logged = 0
        buf = b""
        while True:
            data = await stream.read(CHUNK)
            lines = (buf + data).split(b"\n")
            buf = lines.pop() if data else b""
            for line in lines:
                if line.strip() and logged < 50:
                    logged += 1
                    log.warning("git %s: %s", name, line[:2000].decode("utf-8", "replace").rstrip())
            if not data:
                return
            buf = buf[-4096:]

    async def _drain(
        self, proc: asyncio.subprocess.Process, feeder: asyncio.Future | None, errors: asyncio.Future
    ) -> None:
        try:
            if feeder is not None:
                try:
                    await asyncio.wait_for(feeder, 60)
                except (Exception, asyncio.CancelledError):
                    feeder.cancel()
                    if proc.stdin is not None:
                        proc.stdin.close()
            assert proc.stdout is not None
            while await proc.stdout.read(CHUNK):
                pass
            await proc.wait()
            await errors
            await self._after()
        except Exception:
            log.exception("cleaning up after an interrupted push")


class _Reply:
    """The 200 response git's stdout streams into, a piece at a time: the headers go out with the first
    piece. Once sending fails (the client is gone) later pieces are dropped and `gone` runs; the caller keeps
    draining git so that it can finish cleanly."""

    def __init__(self, send: Send, content_type: str, gone: Callable[[], None]) -> None:
        self.send = send
        self.content_type = content_type
        self.gone = gone
        self.started = False
        self.sent_ok = True

    async def __call__(self, data: bytes, more: bool) -> None:
        if not self.sent_ok:
            return
        try:
            if not self.started:
                self.started = True
                headers = [(b"content-type", self.content_type.encode())]
                headers += [(k.lower().encode(), v.encode()) for k, v in NO_CACHE.items()]
                await self.send({"type": "http.response.start", "status": 200, "headers": headers})
            await self.send({"type": "http.response.body", "body": data, "more_body": more})
        except Exception:  # the client is gone; keep draining git so that it can finish cleanly
            self.sent_ok = False
            self.gone()


def _mark(git_dir: Path, pid: int) -> Path | None:
    """Mark receive-pack `pid` as running in `git_dir`, so that after a crash the start-up sweep knows its
    quarantine folder belongs to a dead process (hub/startup.py)."""
    try:
        return startup.mark_push(git_dir, pid)
    except OSError as e:
        log.warning("could not mark a push in %s (its leftovers will be judged by age): %s", git_dir, e)
        return None


async def _unmark_on_exit(mark: Path, proc: asyncio.subprocess.Process) -> None:
    """Unmark once receive-pack has exited. One killed by a signal (a stop that SIGTERMs the whole group) may
    leave its quarantine folder behind: its mark stays, naming a dead process, so the next sweep removes both."""
    if await proc.wait() >= 0:
        startup.unmark_push(mark)


async def _write_body(stdin: asyncio.StreamWriter, inflate: zlib._Decompress | None, data: bytes) -> None:
    """A piece of the request body to git's stdin, gunzipped FEED bytes at a time when `inflate` is set
    (a small gzip body may inflate to a huge one: never all of it in memory)."""
    if inflate is not None and data:
        while data:
            piece = inflate.decompress(data, FEED)
            data = inflate.unconsumed_tail
            if piece:
                stdin.write(piece)
                await stdin.drain()
    elif data:
        stdin.write(data)
        await stdin.drain()


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


_tasks: set[asyncio.Future] = set()


def _background(coro: Awaitable[None]) -> asyncio.Future:
    """A task that lives on after the response: keep a reference, or the loop may drop it half-way."""
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


@functools.cache
def git_bin() -> str:
    return shutil.which("git") or "git"


@functools.cache
def hooks(data: Path) -> Path:
    """hooks_dir, found once per data folder (at the first push, no longer at start-up)."""
    return hooks_dir(data)


def base_env(request: Request) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIP_ENV}
    proto = request.headers.get("git-protocol", "")
    if proto and _GIT_PROTOCOL.match(proto):
        env["GIT_PROTOCOL"] = proto
    return env


async def authorize(
    ctx: Ctx, request: Request, p: str | None, ns: str, name: str, write: bool
) -> tuple[Repo, Principal | None, list[str] | None] | Response:
    """(repo, who, the refs a push may update: None for all), or the answer git understands: 401 Basic
    for the anonymous, else 404 / 403. A push by a contributor (hub/contributions.py) may update only the
    refs/pr/N of their own open pull requests: the pre-receive hook refuses any other ref."""
    rid = rid_web(p, ns, name)
    try:
        who = await ctx.who(request)
    except Unauthorized as e:
        return git_error(401, e.message, "Unauthorized")
    try:
        refs: list[str] | None = None
        if write:
            repo, refs = await ctx.run(contributions.push_scope, ctx.hub, who, rid)
        else:
            repo = await ctx.run(ctx.hub.open_repo, who, rid, False, True)  # a fetch: past the gate
    except RepoNotFound:
        if who is None:
            return git_error(
                401,
                "Authentication required: use your user name and an access token as the password",
                "Unauthorized",
            )
        return git_error(404, f"Repository {rid.full} not found", "RepoNotFound")
    except Unauthorized as e:
        return git_error(
            401, f"{e.message}: use your user name and a write token as the password", "Unauthorized"
        )
    except GatedRepo as e:  # 401 makes git ask the anonymous for credentials; git prints the message
        return git_error(401 if who is None else 403, e.message, e.code)
    except Forbidden as e:
        return git_error(403, e.message, "Forbidden")
    return repo, who, refs


def no_room(ctx: Ctx, request: Request) -> Response | None:
    """A push below the free-space floor (AGORA_MIN_FREE_BYTES): 507, which git shows as `remote: ...`."""
    try:
        ctx.check_room(request)
    except InsufficientStorage as e:
        return git_error(507, e.message, e.code)
    return None


def command(ctx: Ctx, service: str, repo: Repo, advertise: bool) -> list[str]:
    path = str(ctx.hub.git(repo).path)
    argv = [git_bin()]
    if service == "git-receive-pack":
        argv += ["-c", f"core.hooksPath={hooks(ctx.settings.data)}"]
    argv += [service[4:], "--stateless-rpc"]
    if advertise:
        argv.append("--advertise-refs")
    argv.append(path)
    return argv


def push_env(
    ctx: Ctx, env: dict[str, str], repo: Repo, who: Principal | None, refs: list[str] | None
) -> dict[str, str]:
    """What the pre-receive hook reads (config.HookEnv: `refs` the pusher may update, None for all), and a
    PYTHONPATH that finds this package."""
    scope = None if refs is None else tuple(refs)
    env.update(HookEnv(repo.id, repo.type, who.name if who else "", scope).env(ctx.settings))
    env["PYTHONPATH"] = os.pathsep.join(x for x in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if x)
    return env


async def info_refs(ctx: Ctx, request: Request, p: str | None, ns: str, name: str) -> Response | GitProcess:
    service = request.query_params.get("service", "")
    if service not in SERVICES:
        return git_error(403, "Only the smart HTTP protocol is supported: use git 1.6.6 or newer")
    auth = await authorize(ctx, request, p, ns, name, write=service == "git-receive-pack")
    if isinstance(auth, Response):
        return auth
    repo, who, refs = auth
    env = base_env(request)
    if service == "git-receive-pack":
        if (full := no_room(ctx, request)) is not None:
            return full
        env = push_env(ctx, env, repo, who, refs)
    return GitProcess(
        command(ctx, service, repo, True),
        env,
        f"application/x-{service}-advertisement",
        prefix=pkt_line(f"# service={service}\n") + b"0000",
    )


async def rpc(
    ctx: Ctx, request: Request, p: str | None, ns: str, name: str, service: str
) -> Response | GitProcess:
    write = service == "git-receive-pack"
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip() != f"application/x-{service}-request":
        return git_error(415, f"Expected Content-Type application/x-{service}-request")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        return git_error(415, f"Unsupported Content-Encoding {encoding!r}")
    auth = await authorize(ctx, request, p, ns, name, write=write)
    if isinstance(auth, Response):
        return auth
    repo, who, refs = auth
    env = base_env(request)
    finish = None
    if write:
        if (full := no_room(ctx, request)) is not None:
            return full
        env = push_env(ctx, env, repo, who, refs)
        before = await ctx.run(pushes.ref_snapshot, ctx.hub, repo)
        finish = functools.partial(after_push, ctx, repo.id, before, who, repo_full(ns, name))
    return GitProcess(
        command(ctx, service, repo, False),
        env,
        f"application/x-{service}-result",
        body=True,
        gzip=encoding in ("gzip", "x-gzip"),
        finish=finish,
        keep_running=write,
        mark=ctx.hub.git(repo).path if write else None,
    )


async def after_push(
    ctx: Ctx, repo_id: int, before: dict[str, str], who: Principal | None, where: str
) -> None:
    """GitProcess's `finish` for a push: once receive-pack has exited, record the refs it moved."""
    try:
        changed = await ctx.run(pushes.record_push, ctx.hub, repo_id, before)
    except Exception:
        # The refs have moved: the push stands. What derives from them can be recomputed.
        log.exception("after_ref_update failed after a push to %s", where)
        return
    if changed:
        log.info("push by %s to %s moved %s", who.name if who else "?", where, ", ".join(changed))


async def upload_pack(ctx: Ctx, request: Request, p: str | None, ns: str, name: str) -> Response | GitProcess:
    return await rpc(ctx, request, p, ns, name, "git-upload-pack")


async def receive_pack(
    ctx: Ctx, request: Request, p: str | None, ns: str, name: str
) -> Response | GitProcess:
    return await rpc(ctx, request, p, ns, name, "git-receive-pack")


# ---- Git LFS locks ----------------------------------------------------------------------------------------
# A lock call: (ctx, who, repo id, its arguments: the JSON body of a write, the query of a read) -> the answer.
LockCall = Callable[[Ctx, Principal | None, RepoId, Mapping[str, Any]], Awaitable[dict[str, Any]]]


def lock_json(lk: locks.LockInfo) -> dict[str, Any]:
    return {
        "id": lk.id,
        "path": lk.path,
        "locked_at": wire.iso(lk.locked_at),
        "owner": {"name": lk.owner},
    }


async def lfs_call(
    ctx: Ctx,
    request: Request,
    p: str | None,
    ns: str,
    name: str,
    call: LockCall,
    write: bool = True,
    status: int = 200,
) -> Response:
    """Run a lock call: a write's JSON body is read (bounded) only once the caller may write to the repo;
    anonymous callers lacking a right get 401 + LFS-Authenticate."""
    rid = rid_web(p, ns, name)
    try:
        who = await ctx.who(request)
        with anonymous_401(who):
            args = await lfs_body(ctx, request, who, rid) if write else request.query_params
            return lfs_json(await call(ctx, who, rid, args), status)
    except Conflict as exc:
        body: dict[str, Any] = {"message": exc.message}
        lk = exc.extra.get("lock")
        if isinstance(lk, locks.LockInfo):
            body["lock"] = lock_json(lk)
        return lfs_json(body, 409)
    except RepoMoved:  # an old name: the router's 307 to the new one
        raise
    except HubError as exc:
        return lfs_error(exc)


async def lfs_body(ctx: Ctx, request: Request, who: Principal | None, rid: RepoId) -> dict[str, Any]:
    await ctx.run(ctx.hub.open_repo, who, rid, True)
    raw = await bodies.read_bounded(request, 1024 * 1024, "LFS locks request")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise BadRequest("Malformed JSON body") from None
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object")
    return data


def ref_name(body: Mapping[str, Any]) -> str | None:
    ref = body.get("ref")
    return ref.get("name") if isinstance(ref, dict) and isinstance(ref.get("name"), str) else None


async def locks_create(ctx: Ctx, request: Request, p: str | None, ns: str, name: str) -> Response:
    return await lfs_call(ctx, request, p, ns, name, create_lock, status=201)


async def create_lock(
    ctx: Ctx, who: Principal | None, rid: RepoId, body: Mapping[str, Any]
) -> dict[str, Any]:
    path = body.get("path")
    if not isinstance(path, str):
        raise BadRequest("'path' must be a string")
    return {"lock": lock_json(await ctx.run(locks.create_in, ctx.hub, who, rid, path, ref_name(body)))}


async def locks_list(ctx: Ctx, request: Request, p: str | None, ns: str, name: str) -> Response:
    return await lfs_call(ctx, request, p, ns, name, list_locks, write=False)


async def list_locks(ctx: Ctx, who: Principal | None, rid: RepoId, q: Mapping[str, Any]) -> dict[str, Any]:
    found, nxt = await ctx.run(
        locks.list_in,
        ctx.hub,
        who,
        rid,
        q.get("path") or None,
        q.get("id") or None,
        q.get("cursor") or None,
        q.get("limit"),
    )
    return paged({"locks": [lock_json(lk) for lk in found]}, nxt)


async def locks_verify(ctx: Ctx, request: Request, p: str | None, ns: str, name: str) -> Response:
    return await lfs_call(ctx, request, p, ns, name, verify_locks)


async def verify_locks(
    ctx: Ctx, who: Principal | None, rid: RepoId, body: Mapping[str, Any]
) -> dict[str, Any]:
    cursor = body.get("cursor")
    ours, theirs, nxt = await ctx.run(
        locks.verify_in,
        ctx.hub,
        who,
        rid,
        cursor if isinstance(cursor, str) and cursor else None,
        body.get("limit"),
    )
    return paged({"ours": [lock_json(lk) for lk in ours], "theirs": [lock_json(lk) for lk in theirs]}, nxt)


def paged(out: dict[str, Any], nxt: str | None) -> dict[str, Any]:
    if nxt:
        out["next_cursor"] = nxt
    return out


async def locks_unlock(
    ctx: Ctx, request: Request, p: str | None, ns: str, name: str, lock_id: str
) -> Response:
    return await lfs_call(ctx, request, p, ns, name, functools.partial(unlock_lock, lock_id))


async def unlock_lock(
    lock_id: str, ctx: Ctx, who: Principal | None, rid: RepoId, body: Mapping[str, Any]
) -> dict[str, Any]:
    lk = await ctx.run(locks.unlock_in, ctx.hub, who, rid, lock_id, body.get("force") is True)
    return {"lock": lock_json(lk)}
