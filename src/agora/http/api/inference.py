"""The Inference API: `POST /models/{ns}/{name}[/pipeline/{task}]`, chat completion (`POST
/models/{ns}/{name}/v1/chat/completions`, `POST /v1/chat/completions`) and `GET /status/{ns}/{name}`.

The legacy serverless API's shapes, as huggingface_hub's InferenceClient 2.4 sends and reads them
(docs/wire.md "Inference API", docs/inference.md §2): a JSON body `{"inputs", "parameters", "stream"}`
(feature-extraction's parameters sit at the root), answers per task, errors as `{"error": …}` with
X-Error-Code. The client never retries a 503, so a request waits for its model to load (the widget alone
is told "currently loading"). Access is that of /resolve (a repo the caller may not read is a 404), plus the
gate of a gated repo (403 GatedRepo) and a per user / per IP rate limit (429). Image and audio bodies are
raw files (or JSON base64), handed to the worker base64-encoded. The model runs at the default branch's head.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...errors import BadRequest, GatedRepo, HubError, TooLarge, TooManyRequests, Unavailable
from ...hub import admission
from ...hub.repos import Repo
from ...ids import RepoId, repo_full
from ...inference.service import BINARY_TASKS, Inference, Target
from .. import bodies, wire
from ..auth import credential
from ..context import Ctx
from ..web.account import request_ip
from ..web.session import same_origin

# feature-extraction's parameters arrive at the root of the body, not under "parameters" (InferenceClient)
ROOT_PARAMS = (
    "normalize",
    "truncate",
    "prompt_name",
    "truncation_direction",
    "dimensions",
    "encoding_format",
)
EXPOSE = "x-compute-type, x-compute-time"


def service(ctx: Ctx) -> Inference:
    if ctx.inference is None:
        ctx.inference = Inference(ctx.hub, ctx.settings)
    svc: Inference = ctx.inference
    return svc


async def run_model(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    return await run(ctx, request, ns, name, None)


async def run_pipeline(ctx: Ctx, request: Request, ns: str, name: str, task: str) -> Response:
    return await run(ctx, request, ns, name, task)


async def status(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    """What the widget asks on mount: `{"loaded", "state": Loadable|Loaded|TooBig|error, "compute_type"}`."""
    svc = service(ctx)
    repo = await ctx.repo(request, RepoId("model", ns, name))
    target, state = await ctx.run(svc.state, repo)
    if target is not None and await svc.loaded_any(target):
        state = "Loaded"
    return wire.json_response(
        {"loaded": state == "Loaded", "state": state, "compute_type": "cpu", "framework": "transformers"}
    )


async def run(ctx: Ctx, request: Request, ns: str, name: str, task: str | None) -> Response:
    svc = service(ctx)
    repo = await open_model(ctx, request, RepoId("model", ns, name))  # a private repo is a 404, body unread
    svc.check_installed()
    binary = (task or repo.pipeline_tag) in BINARY_TASKS
    lim = svc.limits
    if binary:
        inputs, params, stream = await read_binary(request, lim.max_binary_bytes)
    else:
        inputs, params, stream = await read_request(request, lim.max_body_bytes, lim.max_input_chars)
    target = svc.ready_target(repo, task)  # a warm model: no thread hop
    if target is None:
        target = await ctx.run(svc.target, repo, task)
    await check_loading(ctx, request, svc, repo, target)
    if stream:
        return await sse(svc.frames(target, inputs, params, True))
    return answer(await svc.run(target, inputs, params), target)


async def open_model(ctx: Ctx, request: Request, rid: RepoId) -> Repo:
    """The model if the caller may read it (else 404), within the rate limit (else 429), and past its
    gate when it is gated (else GatedRepo: 401 anonymous, 403 logged in): one thread hop, one database
    session (hub/admission.py).
    AGORA_INFER_RATE_LIMIT requests per AGORA_INFER_RATE_WINDOW seconds, per user (a token's owner, or the
    model page's widget's logged-in visitor: its session cookie) or, anonymous, per client IP; counted in the
    database, so every server process shares the counters."""
    lim = ctx.settings.infer
    rate = admission.RateLimit(lim.rate_limit, lim.rate_window)
    secret = credential(request)
    browser = None  # the widget calls with the page's cookie: its owner's private or gated model runs too,
    # from the Hub's own pages only (another origin of the same site, the user content's, sends a Lax cookie too)
    if (
        secret is None
        and ctx.browser_who is not None
        and request.cookies
        and same_origin(request, ctx.settings.public_url)
    ):
        browser = await ctx.browser_who(request)
    ip = request_ip(ctx.settings, request) if secret is None and browser is None else ""
    got = await ctx.run(admission.admit, ctx.hub, secret, ip, rid, rate, browser)
    if got.wait:
        raise TooManyRequests(
            f"Rate limit reached: at most {lim.rate_limit} inference requests per {lim.rate_window} s "
            f"(AGORA_INFER_RATE_LIMIT). Try again in {got.wait} s",
            retry_after=got.wait,
        )
    if got.gated:
        raise GatedRepo(  # 401 to the anonymous (log in), 403 to a user without access: as every download
            f"Access to model {rid.full} is restricted: you must have access to it to run it",
            anonymous=got.who is None,
        )
    return got.repo


async def check_loading(ctx: Ctx, request: Request, svc: Inference, repo: Repo, t: Target) -> None:
    """Wait for the model by default (InferenceClient never retries a 503). The widget is told instead:
    its on-mount call (`X-Load-Model: 0`) loads nothing, and its compute call (`X-Wait-For-Model: false`)
    starts the load when it would take longer than AGORA_INFER_LOAD_WAIT; both get 503 "currently loading"
    with `estimated_time`, and the widget retries with `X-Wait-For-Model: true`."""
    no_load = request.headers.get("x-load-model") == "0"
    no_wait = request.headers.get("x-wait-for-model", "").lower() == "false"
    if not (no_load or no_wait) or await svc.loaded(t):
        return
    estimate = await ctx.run(svc.load_estimate, repo, t)
    if not no_load and estimate <= svc.limits.load_wait:
        return
    if not no_load:
        svc.preload(t)
    raise Unavailable(
        f"Model {repo_full(repo.namespace, repo.name)} is currently loading", estimated_time=estimate
    )


async def chat_model(ctx: Ctx, request: Request, ns: str, name: str) -> Response:
    """`POST /models/{ns}/{name}/v1/chat/completions`: the model is the URL's (the body says "dummy")."""
    return await chat(ctx, request, RepoId("model", ns, name))


async def chat_any(ctx: Ctx, request: Request) -> Response:
    """`POST /v1/chat/completions`: the model is the body's `model` (a repo id)."""
    body = await read_chat(ctx, request)
    model = body.get("model")
    if not isinstance(model, str) or not model or model.count("/") > 1 or model == "dummy":
        raise BadRequest(
            '"model" must name a model repository ("namespace/name", or a canonical one\'s name), or use '
            "the URL /models/{namespace}/{name}/v1/chat/completions"
        )
    return await chat(ctx, request, RepoId.parse_any("model", model), body)


async def read_chat(ctx: Ctx, request: Request) -> dict[str, Any]:
    lim = service(ctx).limits
    raw = await bodies.read_bounded(request, lim.max_body_bytes, "Chat completion request body")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The body must be a JSON object (an OpenAI chat completion request)") from None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise BadRequest('The body must be a JSON object with "messages": [{"role", "content"}, ...]')
    if text_length(body["messages"]) > lim.max_input_chars:
        raise TooLarge(
            f"The messages are longer than {lim.max_input_chars} characters (AGORA_INFER_MAX_INPUT_CHARS)"
        )
    return body


async def chat(ctx: Ctx, request: Request, rid: RepoId, body: dict[str, Any] | None = None) -> Response:
    """OpenAI chat completion on the model's chat template (docs/inference.md §2.4), streamed or not."""
    svc = service(ctx)
    repo = await open_model(ctx, request, rid)
    svc.check_installed()
    if body is None:
        body = await read_chat(ctx, request)
    target = await ctx.run(svc.chat_target, repo)
    await check_loading(ctx, request, svc, repo, target)
    params = {k: v for k, v in body.items() if k not in ("messages", "model", "stream")}
    head = {"id": f"chatcmpl-{secrets.token_hex(12)}", "created": int(time.time()), "model": rid.full,
            "system_fingerprint": f"agora-{target.sha[:12]}"}  # fmt: skip
    if body.get("stream") is True:
        return await chat_sse(svc.frames(target, body["messages"], params, True), head)
    frame = await svc.run(target, body["messages"], params)
    out = frame["ok"]
    data = {**head, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": out["content"]},
                         "logprobs": None, "finish_reason": out["finish_reason"]}],
            "usage": out["usage"]}  # fmt: skip
    return answer({"ok": data, "compute_time": frame.get("compute_time", 0)}, target)


def chunk(head: dict[str, Any], delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
    data = {**head, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}  # fmt: skip
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


async def chat_sse(frames: AsyncGenerator[dict[str, Any], None], head: dict[str, Any]) -> Response:
    """OpenAI chunks: the role first, one per token, the last with `finish_reason` (and usage), then
    `data: [DONE]`. An error after the first chunk is an event `{"error", "error_type"}` (the client raises)."""
    first = await anext(frames)  # raises the request's error while a status can still say so

    async def events() -> AsyncIterator[bytes]:
        frame = first
        try:
            yield chunk(head, {"role": "assistant", "content": ""}, None)
            while "chunk" in frame:
                yield chunk(head, {"content": frame["chunk"]["delta"]}, None)
                try:
                    frame = await anext(frames)
                except HubError as exc:
                    kind = "overloaded" if isinstance(exc, Unavailable) else "generation"
                    yield (
                        b"data: " + json.dumps({"error": exc.message, "error_type": kind}).encode() + b"\n\n"
                    )
                    return
            out = frame["ok"]
            if out.get("tail"):
                yield chunk(head, {"content": out["tail"]}, None)
            yield chunk(head, {}, out["finish_reason"], usage=out["usage"])
            yield b"data: [DONE]\n\n"
        finally:
            await frames.aclose()

    return event_stream(events())


def event_stream(events: AsyncIterator[bytes]) -> Response:
    """Server-sent events, uncached, the headers the widget reads exposed."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "x-compute-type": "cpu",
            "Access-Control-Expose-Headers": EXPOSE,
        },
    )


def answer(frame: dict[str, Any], target: Target) -> Response:
    return wire.json_response(
        frame["ok"],
        headers={
            "x-compute-time": f"{float(frame.get('compute_time', 0)):.3f}",
            "x-compute-type": "cpu",
            "X-Repo-Commit": target.sha,
            "Access-Control-Expose-Headers": EXPOSE,
        },
    )


async def sse(frames: AsyncGenerator[dict[str, Any], None]) -> Response:
    """TGI's server-sent events, one per token; errors before the first event are plain error answers."""
    first = await anext(frames)  # raises the request's error (400, 503, 504) while we can still say so

    async def events() -> AsyncIterator[bytes]:
        frame = first
        try:
            while True:
                data = frame["chunk"] if "chunk" in frame else frame["ok"]
                yield b"data:" + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
                if "chunk" not in frame:
                    return
                try:
                    frame = await anext(frames)
                except HubError as exc:  # mid-stream: the client raises the matching error from this event
                    error = {"error": exc.message, "error_type": "generation"}
                    yield b"data:" + json.dumps(error).encode() + b"\n\n"
                    return
        finally:
            await frames.aclose()  # the pool connection, also when the client went away

    return event_stream(events())


async def read_binary(request: Request, limit: int) -> tuple[Any, dict[str, Any], bool]:
    """An image or audio task's (inputs as base64, parameters, False): the raw file as the body (its
    content-type is not trusted: raw audio comes without one; the worker reads the magic bytes), or JSON
    `{"inputs": base64, "parameters"}` (`"image"` also names the input)."""
    raw = await bodies.read_bounded(request, limit, "Inference request body")
    if not raw:
        raise BadRequest("The body is empty: send the file's bytes")
    if raw[:1] == b"{" or request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            inputs = body.get("inputs", body.get("image"))
            params = body.get("parameters") or {}
            if not isinstance(inputs, str) or not isinstance(params, dict):
                raise BadRequest('The body must be {"inputs": "<base64 of the file>", "parameters": {...}}')
            return inputs, params, False
    return base64.b64encode(raw).decode(), {}, False


async def read_request(request: Request, limit: int, max_chars: int) -> tuple[Any, dict[str, Any], bool]:
    """(inputs, parameters, stream) from the body: JSON `{"inputs", "parameters", "stream"}`, a bare JSON
    value, or plain text (the legacy server took a text body as the input)."""
    raw = await bodies.read_bounded(request, limit, "Inference request body")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(
                "This server runs text models only for now: binary inputs (images, audio) are not supported"
            ) from None
    params: dict[str, Any] = {}
    stream = False
    if isinstance(body, dict):
        if "inputs" not in body:
            raise BadRequest('The body must be a JSON object with "inputs" (and optional "parameters")')
        inputs = body["inputs"]
        given = body.get("parameters") or {}
        if not isinstance(given, dict):
            raise BadRequest('"parameters" must be an object')
        params = {**{k: body[k] for k in ROOT_PARAMS if k in body}, **given}
        stream = body.get("stream") is True
    else:
        inputs = body
    if text_length(inputs) > max_chars:
        raise TooLarge(f"The input is longer than {max_chars} characters (AGORA_INFER_MAX_INPUT_CHARS)")
    return inputs, params, stream


def text_length(x: Any) -> int:
    if isinstance(x, str):
        return len(x)
    if isinstance(x, list):
        return sum(text_length(v) for v in x)
    if isinstance(x, dict):
        return sum(text_length(v) for v in x.values())
    return 0
