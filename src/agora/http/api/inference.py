"""The Inference API: `POST /models/{ns}/{name}[/pipeline/{task}]` and `GET /status/{ns}/{name}`.

The legacy serverless API's shapes, as huggingface_hub's InferenceClient 2.4 sends and reads them
(docs/wire.md "Inference API", docs/inference.md §2): a JSON body `{"inputs", "parameters", "stream"}`
(feature-extraction's parameters sit at the root), answers per task, errors as `{"error": …}` with
X-Error-Code. The client never retries a 503, so a request waits for its model to load. Access is that of
/resolve: a repo the caller may not read is a 404. The model runs at the default branch's head.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...errors import BadRequest, HubError, TooLarge
from ...ids import RepoId
from ...inference.service import Inference, Target
from .. import bodies, wire
from ..context import Ctx

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
    if target is not None and await svc.loaded(target):
        state = "Loaded"
    return wire.json_response(
        {"loaded": state == "Loaded", "state": state, "compute_type": "cpu", "framework": "transformers"}
    )


async def run(ctx: Ctx, request: Request, ns: str, name: str, task: str | None) -> Response:
    svc = service(ctx)
    repo = await ctx.repo(request, RepoId("model", ns, name))  # first: a private repo is a 404, body unread
    svc.check_installed()
    inputs, params, stream = await read_request(
        request, svc.limits.max_body_bytes, svc.limits.max_input_chars
    )
    target = svc.ready_target(repo, task)  # a warm model: no thread hop
    if target is None:
        target = await ctx.run(svc.target, repo, task)
    if stream:
        return await sse(svc.frames(target, inputs, params, True))
    return answer(await svc.run(target, inputs, params), target)


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

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-store",
            "x-compute-type": "cpu",
            "Access-Control-Expose-Headers": EXPOSE,
        },
    )


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
