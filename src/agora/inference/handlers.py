"""The task handlers: one class per task, run inside a worker process (worker.py), never in a server.

Each handler loads a model from a read-only snapshot folder (snapshots.py) and answers in exactly the shape
huggingface_hub's InferenceClient 2.4 accepts (docs/inference.md §2.2; a wrong shape is silently mangled by
the client: text-classification must be nested `[[...]]`, zero-shot a list of `{label, score}`).

Safety (docs/inference.md §4.5): `trust_remote_code=False` on every load (an unset value makes transformers
ask on stdin), safetensors preferred (`use_safetensors=True` whenever the folder has them; else a `.bin`
goes through transformers' `torch.load(weights_only=True)`, which refuses pickled code), and a config whose
`auto_map` names code for a model type transformers does not know is refused before anything is loaded.
Parameters are bounded here (Limits): the handlers never trust a number from a request.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForCTC,
    AutoModelForImageClassification,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    pipeline,
)

transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]

Emit = Callable[[dict[str, Any]], None]

MAX_NEW_TOKENS = 256  # generation on CPU: the widget asks 20, the pipeline's own default is 256
DEFAULT_NEW_TOKENS = 20
MAX_BATCH = 64  # texts in one feature-extraction / similarity request
MAX_LABELS = 32  # zero-shot candidate labels (one forward pass each)
NEVER_LOADED = (".onnx", ".gguf", ".ckpt", ".pkl", ".pickle", ".joblib", ".h5", ".msgpack", ".tflite", ".ot")


class BadInput(Exception):
    """A request the handler cannot answer: a 400 with this message."""


class InputTooLarge(BadInput):
    """An input over a limit once decoded (image pixels, audio seconds): a 413 with this message."""


# Bounds on decoded binary inputs, set by the worker from the pool's config (AGORA_INFER_MAX_IMAGE_PIXELS,
# AGORA_INFER_MAX_AUDIO_SECONDS).
LIMITS: dict[str, float] = {"max_image_pixels": 25_000_000, "max_audio_seconds": 60}


class Refused(Exception):
    """A model Agora will not load (custom code, no safe weights): a 400 with this message."""


# ---- loading -----------------------------------------------------------------------------------------------


def check_loadable(path: Path) -> dict[str, Any]:
    """The model's config.json, after refusing what must never run: code shipped in the repo (auto_map for
    a model type transformers lacks) and folders without weights transformers loads safely."""
    try:
        config = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise Refused("The repository has no config.json: it is not a transformers model") from None
    except (ValueError, UnicodeDecodeError):
        raise Refused("The repository's config.json is not valid JSON") from None
    if not isinstance(config, dict):
        raise Refused("The repository's config.json is not a JSON object")
    known = getattr(transformers.models.auto.configuration_auto, "CONFIG_MAPPING_NAMES", {})
    if config.get("auto_map") and config.get("model_type") not in known:
        raise Refused(
            "This model needs custom code from its repository (config.json auto_map), which Agora never runs "
            "(trust_remote_code is always off)"
        )
    names = {p.name for p in path.iterdir()}
    if not any(
        n.endswith((".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json")) for n in names
    ):
        raise Refused("The repository has no model weights Agora can load (model.safetensors or a .bin)")
    return config


def load_kwargs(path: Path) -> dict[str, Any]:
    """Never custom code; safetensors whenever present (a .bin beside them is never unpickled)."""
    kw: dict[str, Any] = {"trust_remote_code": False}
    if any(p.name.endswith((".safetensors", ".safetensors.index.json")) for p in path.iterdir()):
        kw["use_safetensors"] = True
    return kw


def load_model(cls: Any, path: Path) -> Any:
    try:
        model = cls.from_pretrained(str(path), **load_kwargs(path))
    except Exception as exc:  # transformers raises many kinds; the message names the problem
        if "weights_only" in str(exc) or "Unpickl" in type(exc).__name__:
            raise Refused(
                "The model's weights are a pickle that does more than hold tensors: refused (never unpickled)"
            ) from None
        raise Refused(f"The model could not be loaded: {short(exc)}") from None
    model.eval()
    return model


def load_tokenizer(path: Path) -> Any:
    try:
        return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except Exception as exc:
        raise Refused(f"The model's tokenizer could not be loaded: {short(exc)}") from None


def short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


# ---- helpers -----------------------------------------------------------------------------------------------


def plain(x: Any) -> Any:
    """numpy / torch values as JSON values."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def text_input(inputs: Any) -> str:
    if not isinstance(inputs, str):
        raise BadInput("`inputs` must be a string")
    if not inputs.strip():
        raise BadInput("`inputs` must not be empty")
    return inputs


def texts_input(inputs: Any) -> list[str]:
    if isinstance(inputs, str):
        return [text_input(inputs)]
    if isinstance(inputs, list) and inputs and all(isinstance(t, str) for t in inputs):
        if len(inputs) > MAX_BATCH:
            raise BadInput(f"`inputs` may hold at most {MAX_BATCH} texts")
        return inputs
    raise BadInput("`inputs` must be a string or a non-empty list of strings")


def int_param(params: dict[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    v = params.get(name, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise BadInput(f"`{name}` must be an integer")
    if not lo <= v <= hi:
        raise BadInput(f"`{name}` must be between {lo} and {hi}")
    return v


def float_param(params: dict[str, Any], name: str, lo: float, hi: float) -> float | None:
    v = params.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise BadInput(f"`{name}` must be a number")
    if not lo <= v <= hi:
        raise BadInput(f"`{name}` must be between {lo} and {hi}")
    return float(v)


def bool_param(params: dict[str, Any], name: str, default: bool) -> bool:
    v = params.get(name, default)
    if not isinstance(v, bool):
        raise BadInput(f"`{name}` must be true or false")
    return v


# ---- handlers ----------------------------------------------------------------------------------------------


class Handler:
    task = ""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        raise NotImplementedError


class TextGeneration(Handler):
    """Our own loop over `generate` (the pipeline samples by default and cannot stream TGI events). The
    answer holds the prompt unless `return_full_text` is false: the widget cuts the prompt off itself."""

    task = "text-generation"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.tok = load_tokenizer(path)
        self.model = load_model(AutoModelForCausalLM, path)
        cfg = self.model.config
        n: Any = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        self.max_positions = int(n or 1024)

    def generate_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        new = int_param(params, "max_new_tokens", DEFAULT_NEW_TOKENS, 1, MAX_NEW_TOKENS) or DEFAULT_NEW_TOKENS
        temperature = float_param(params, "temperature", 0, 100)
        kw: dict[str, Any] = {"max_new_tokens": new, "do_sample": bool_param(params, "do_sample", False)}
        if temperature is not None and temperature > 0:
            kw["temperature"] = temperature
        elif temperature == 0:
            kw["do_sample"] = False
        for name, lo, hi in (
            ("top_p", 0.0, 1.0),
            ("repetition_penalty", 0.0, 100.0),
            ("max_time", 0.0, 120.0),
        ):
            v = float_param(params, name, lo, hi)
            if v is not None:
                kw[name] = v
        top_k = int_param(params, "top_k", None, 1, 100000)
        if top_k is not None:
            kw["top_k"] = top_k
        stop = params.get("stop") or params.get("stop_sequences")
        if stop:
            if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
                raise BadInput("`stop` must be a list of strings")
            kw["stop_strings"] = stop[:8]
        if not kw["do_sample"]:
            kw.pop("temperature", None), kw.pop("top_p", None), kw.pop("top_k", None)
        return kw

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        prompt = text_input(inputs)
        kw = self.generate_kwargs(params)
        seed = int_param(params, "seed", None, 0, 2**63 - 1)
        new_text, streamer, _ = self.generate(prompt, kw, seed, emit, special=True)
        details = None
        if params.get("details") is True:
            reason = "length" if len(streamer.ids) >= kw["max_new_tokens"] else "eos_token"
            if kw.get("stop_strings") and reason != "length" and streamer.ids[-1:] != [self.tok.eos_token_id]:
                reason = "stop_sequence"
            details = {"finish_reason": reason, "generated_tokens": len(streamer.ids), "seed": seed}
        if emit is not None:
            return {**streamer.finish(new_text), "details": details}
        text = prompt + new_text if bool_param(params, "return_full_text", True) else new_text
        if details is None:
            return [{"generated_text": text}]
        return [{"generated_text": text, "details": {**details, "prefill": [], "tokens": streamer.tokens}}]

    def generate(
        self, prompt: str, kw: dict[str, Any], seed: int | None, emit: Emit | None, special: bool
    ) -> tuple[str, TokenStream, int]:
        """(new text, the token events, prompt tokens) for `prompt`, left-truncated to fit the model."""
        if seed is not None:
            torch.manual_seed(seed)
        ids = self.tok(prompt, return_tensors="pt", add_special_tokens=special)
        keep = max(1, self.max_positions - kw["max_new_tokens"])  # left truncation: keep the prompt's end
        ids = {k: v[:, -keep:] for k, v in ids.items()}
        start = ids["input_ids"].shape[1]
        # the token events (streamed, or kept for `details`); TGI-only parameters are otherwise ignored
        streamer = TokenStream(self.tok, emit)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        kw = dict(kw)
        stops = kw.pop("stop_strings", None)
        if stops:  # on the new text only (transformers' stop_strings also match across the prompt's end)
            kw["stopping_criteria"] = StoppingCriteriaList([StopOnText(self.tok, start, stops)])
        with torch.inference_mode():
            out = self.model.generate(
                **ids, **kw, pad_token_id=pad, streamer=streamer, logits_processor=[streamer.recorder]
            )
        return self.tok.decode(out[0][start:], skip_special_tokens=True), streamer, start


class StopOnText(StoppingCriteria):
    """Stop once the generated text (the prompt left out) holds one of the stop sequences."""

    def __init__(self, tok: Any, start: int, stops: list[str]) -> None:
        self.tok, self.start, self.stops = tok, start, stops

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        text = self.tok.decode(input_ids[0, self.start :], skip_special_tokens=True)
        done = any(s in text for s in self.stops)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


CHAT_DEFAULT_TOKENS = 64
ROLES = ("system", "user", "assistant", "tool", "developer")
NO_TEMPLATE = (
    "This model has no chat template (chat_template.jinja, or chat_template in tokenizer_config.json): "
    "it cannot be used for chat completion. Use text generation instead"
)


class ChatCompletion(TextGeneration):
    """OpenAI-style chat (docs/inference.md §2.4): the model's chat template, rendered by transformers in its
    sandboxed Jinja environment, then the same generation as text-generation. Answers
    `{"content", "finish_reason", "usage"}`; streamed, one `{"delta": text}` event per token, the last
    piece in the answer's `tail`. http/api/inference.py wraps both in the OpenAI shapes."""

    task = "chat-completion"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.template = getattr(self.tok, "chat_template", None)

    def chat_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        n = params.get("n")
        if n not in (None, 1):
            raise BadInput("`n` must be 1: one choice per request")
        new = params.get("max_completion_tokens", params.get("max_tokens"))
        given = {
            "max_new_tokens": CHAT_DEFAULT_TOKENS if new is None else new,
            "temperature": params.get("temperature"),
            "top_p": params.get("top_p"),
            "stop": [params["stop"]] if isinstance(params.get("stop"), str) else params.get("stop"),
        }
        if isinstance(given["max_new_tokens"], int) and not isinstance(given["max_new_tokens"], bool):
            given["max_new_tokens"] = min(given["max_new_tokens"], MAX_NEW_TOKENS)  # OpenAI: a ceiling
        temperature = given["temperature"]
        # sampling only when asked for with a temperature above 0; else greedy (reproducible)
        given["do_sample"] = (
            isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0
        )
        return self.generate_kwargs({k: v for k, v in given.items() if v is not None})

    def prompt(self, messages: Any) -> str:
        if not self.template:
            raise BadInput(NO_TEMPLATE)
        try:
            return str(
                self.tok.apply_chat_template(
                    chat_messages(messages), add_generation_prompt=True, tokenize=False
                )
            )
        except BadInput:
            raise
        except Exception as exc:  # jinja2's TemplateError, SecurityError, a template's raise_exception
            raise BadInput(f"The chat template failed on these messages: {short(exc)}") from None

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        prompt = self.prompt(inputs)
        kw = self.chat_kwargs(params)
        seed = int_param(params, "seed", None, 0, 2**63 - 1)
        stops = kw.get("stop_strings") or []
        deltas = None if emit is None else ChatStream(emit, stops)
        text, streamer, prompt_tokens = self.generate(prompt, kw, seed, deltas, special=False)
        finish = "length" if len(streamer.ids) >= kw["max_new_tokens"] else "stop"
        cut = first_stop(text, stops)
        if cut is not None:  # OpenAI leaves the stop sequence out
            text, finish = text[:cut], "stop"
        return {
            "content": text,
            "tail": deltas.tail(text) if deltas is not None else "",
            "finish_reason": finish,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(streamer.ids),
                "total_tokens": prompt_tokens + len(streamer.ids),
            },
        }


def first_stop(text: str, stops: list[str]) -> int | None:
    found = [text.index(s) for s in stops if s in text]
    return min(found) if found else None


class ChatStream:
    """The token events of a streamed chat as `{"delta": text}` events. Text that may begin a stop sequence
    is held back until it cannot (a stop sequence is never sent); the rest is the answer's `tail`."""

    def __init__(self, emit: Emit, stops: list[str]) -> None:
        self.emit, self.stops = emit, stops
        self.text = ""  # everything generated so far
        self.sent = ""

    def __call__(self, event: dict[str, Any]) -> None:
        self.text += event["token"]["text"]
        cut = first_stop(self.text, self.stops)
        if cut is not None:
            ready = self.text[:cut]
        else:
            hold = max(
                (n for s in self.stops for n in range(1, len(s)) if self.text.endswith(s[:n])), default=0
            )
            ready = self.text[: len(self.text) - hold]
        if len(ready) > len(self.sent):
            self.emit({"delta": ready[len(self.sent) :]})
            self.sent = ready

    def tail(self, final: str) -> str:
        return final[len(self.sent) :] if final.startswith(self.sent) else ""


def chat_messages(messages: Any) -> list[dict[str, str]]:
    """OpenAI messages as the template sees them: `{"role", "content": str}`; text parts joined."""
    if not isinstance(messages, list) or not messages:
        raise BadInput("`messages` must be a non-empty list of {role, content}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise BadInput(f"`messages[{i}]` must be an object with a role ({', '.join(ROLES)})")
        out.append({"role": m["role"], "content": message_text(m.get("content"), i)})
    return out


def message_text(content: Any, i: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise BadInput(f"`messages[{i}].content`: only text parts are supported by this model")
            parts.append(part["text"])
        return "".join(parts)
    raise BadInput(f"`messages[{i}].content` must be a string or a list of text parts")


class _Recorder:
    """A logits processor, last in the list: keeps the log-probabilities the next token is drawn from."""

    def __init__(self) -> None:
        self.logprobs: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.logprobs = scores[0].float().log_softmax(-1)
        return scores


class TokenStream:
    """A transformers streamer that sends TGI stream events (one per token; the last carries
    generated_text): `data:{"index","token":{"id","text","logprob","special"},"generated_text",...}`."""

    def __init__(self, tok: Any, emit: Emit | None) -> None:
        self.tok, self.emit = tok, emit
        self.tokens: list[dict[str, Any]] = []  # every token, for `details`
        self.recorder = _Recorder()
        self.ids: list[int] = []
        self.text = ""
        self.prompt_seen = False
        self.pending: dict[str, Any] | None = None

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate first hands the streamer the prompt
            self.prompt_seen = True
            return
        tid = int(value.reshape(-1)[0])
        self.ids.append(tid)
        text = self.tok.decode(self.ids, skip_special_tokens=True)
        piece = ""
        if not text.endswith("\ufffd"):  # a character split over tokens waits for its last byte
            piece, self.text = text[len(self.text) :], text
        lp = self.recorder.logprobs
        logprob = float(lp[tid]) if lp is not None else 0.0
        special = tid in set(self.tok.all_special_ids)
        if self.pending is not None and self.emit is not None:
            self.emit(self.pending)
        token = {
            "id": tid,
            "text": piece,
            "logprob": logprob if math.isfinite(logprob) else -1e9,
            "special": special,
        }
        self.tokens.append(token)
        self.pending = {
            "index": len(self.ids),
            "token": token,
            "generated_text": None,
            "details": None,
            "top_tokens": None,
        }

    def end(self) -> None:
        pass

    def finish(self, text: str) -> dict[str, Any]:
        """The last event: the last token with the whole generated text."""
        last = self.pending or {
            "index": 0,
            "token": {"id": 0, "text": "", "logprob": 0.0, "special": True},
            "details": None,
            "top_tokens": None,
        }
        rest = text[len(self.text) :] if text.startswith(self.text) else ""  # bytes held back till the end
        return {
            **last,
            "token": {**last["token"], "text": last["token"]["text"] + rest},
            "generated_text": text,
        }


class FillMask(Handler):
    task = "fill-mask"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pipe = pipeline(
            "fill-mask", model=load_model(AutoModelForMaskedLM, path), tokenizer=load_tokenizer(path)
        )

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        text = text_input(inputs)
        mask = getattr(self.pipe.tokenizer, "mask_token", None)
        if mask is None or mask not in text:
            raise BadInput(f"The input must contain the mask token {mask}")
        kw: dict[str, Any] = {"top_k": int_param(params, "top_k", 5, 1, 100)}
        targets = params.get("targets")
        if targets is not None:
            if isinstance(targets, str):
                targets = [targets]
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise BadInput("`targets` must be a string or a list of strings")
            kw["targets"] = targets
        return plain(self.pipe(text, tokenizer_kwargs={"truncation": True}, **kw))


class TextClassification(Handler):
    task = "text-classification"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pipe = pipeline(
            "text-classification",
            model=load_model(AutoModelForSequenceClassification, path),
            tokenizer=load_tokenizer(path),
        )

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        texts = texts_input(inputs)
        kw: dict[str, Any] = {"top_k": int_param(params, "top_k", None, 1, 1000), "truncation": True}
        fn = params.get("function_to_apply")
        if fn is not None:
            if fn not in ("sigmoid", "softmax", "none"):
                raise BadInput("`function_to_apply` must be sigmoid, softmax or none")
            kw["function_to_apply"] = fn
        out = self.pipe(texts, **kw)
        # one list of {label, score} per text: the client reads body[0] (a flat list loses all but one label)
        return [plain(o if isinstance(o, list) else [o]) for o in out]


class TokenClassification(Handler):
    task = "token-classification"
    STRATEGIES = ("none", "simple", "first", "average", "max")

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.model = load_model(AutoModelForTokenClassification, path)
        self.tok = load_tokenizer(path)

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        text = text_input(inputs)
        strategy = params.get("aggregation_strategy", "simple")
        if strategy not in self.STRATEGIES:
            raise BadInput(f"`aggregation_strategy` must be one of {', '.join(self.STRATEGIES)}")
        ignore = params.get("ignore_labels")
        if ignore is not None and not (isinstance(ignore, list) and all(isinstance(x, str) for x in ignore)):
            raise BadInput("`ignore_labels` must be a list of strings")
        pipe = pipeline(
            "token-classification", model=self.model, tokenizer=self.tok, aggregation_strategy=strategy
        )
        stride = int_param(params, "stride", None, 0, 64)
        kw: dict[str, Any] = {}
        if ignore is not None:
            kw["ignore_labels"] = ignore
        if stride:
            kw["stride"] = stride
        return plain(pipe(text, **kw))


class FeatureExtraction(Handler):
    """A plain encoder: the pipeline's `[1][tokens][hidden]` per text."""

    task = "feature-extraction"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pipe = pipeline(
            "feature-extraction", model=load_model(AutoModel, path), tokenizer=load_tokenizer(path)
        )

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        texts = texts_input(inputs)
        out = self.pipe(texts, tokenize_kwargs={"truncation": True})
        return plain(out[0] if isinstance(inputs, str) else out)


class Sentences(Handler):
    """A sentence-transformers model (modules.json): pooled, maybe normalised embeddings; answers both
    sentence-similarity (`{source_sentence, sentences}` → cosine similarities) and feature-extraction
    (`str` → one vector, `list[str]` → vectors). The client cannot ask for `/pipeline/…` through a model URL,
    so the shape of the input picks the answer (docs/inference.md §2.3)."""

    task = "sentence-similarity"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.tok = load_tokenizer(path)
        self.model = load_model(AutoModel, path)
        self.pooling, self.normalize = sentence_layout(path)

    def embed(self, texts: list[str], normalize: bool) -> torch.Tensor:
        enc = self.tok(texts, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            hid = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hid.dtype)
        if self.pooling == "cls":
            emb = hid[:, 0]
        elif self.pooling == "max":
            emb = hid.masked_fill(mask == 0, -1e9).max(1).values
        else:
            emb = (hid * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(emb, dim=-1) if normalize else emb

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        if isinstance(inputs, dict):
            source, sentences = inputs.get("source_sentence"), inputs.get("sentences")
            if not isinstance(source, str) or not isinstance(sentences, list) or not sentences:
                raise BadInput('`inputs` must be {"source_sentence": str, "sentences": [str, ...]}')
            emb = self.embed([source, *texts_input(sentences)], normalize=True)
            return torch.nn.functional.cosine_similarity(emb[:1], emb[1:]).tolist()
        normalize = params.get("normalize", self.normalize)
        if not isinstance(normalize, bool):
            raise BadInput("`normalize` must be true or false")
        vectors = self.embed(texts_input(inputs), normalize).tolist()
        return vectors[0] if isinstance(inputs, str) else vectors


def sentence_layout(path: Path) -> tuple[str, bool]:
    """(pooling mode, normalize) from modules.json and the Pooling module's config. Normalize is found by
    the module's type: modules.json may name a `2_Normalize` folder the repo lacks."""
    modules = json.loads((path / "modules.json").read_text())
    pooling, normalize = "mean", False
    for m in modules if isinstance(modules, list) else []:
        kind = str(m.get("type", ""))
        if kind.endswith("Normalize"):
            normalize = True
        elif kind.endswith("Pooling"):
            cfg = path / str(m.get("path", "")) / "config.json"
            if cfg.is_file():
                c = json.loads(cfg.read_text())
                if c.get("pooling_mode_cls_token"):
                    pooling = "cls"
                elif c.get("pooling_mode_max_tokens"):
                    pooling = "max"
    return pooling, normalize


def is_sentence_transformer(path: Path) -> bool:
    return (path / "modules.json").is_file()


class MeanPooled(Sentences):
    """sentence-similarity on a plain encoder (no modules.json): mean pooling, normalised."""

    def __init__(self, path: Path) -> None:
        Handler.__init__(self, path)
        self.tok = load_tokenizer(path)
        self.model = load_model(AutoModel, path)
        self.pooling, self.normalize = "mean", True


class ZeroShot(Handler):
    task = "zero-shot-classification"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        model = load_model(AutoModelForSequenceClassification, path)
        labels = {str(v).lower() for v in model.config.id2label.values()}
        if not any(label.startswith("entail") for label in labels):
            raise Refused("zero-shot-classification needs an NLI model (a label named entailment)")
        self.pipe = pipeline("zero-shot-classification", model=model, tokenizer=load_tokenizer(path))

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        text = text_input(inputs)
        labels = params.get("candidate_labels")
        if isinstance(labels, str):  # the widget sends "a, b, c"
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
            raise BadInput(
                "`candidate_labels` must be a non-empty list of strings (or a comma-separated string)"
            )
        if len(labels) > MAX_LABELS:
            raise BadInput(f"At most {MAX_LABELS} candidate labels")
        multi = params.get("multi_label", params.get("multi_class", False))  # the widget says multi_class
        if not isinstance(multi, bool):
            raise BadInput("`multi_label` must be true or false")
        kw: dict[str, Any] = {"candidate_labels": labels, "multi_label": multi}
        template = params.get("hypothesis_template")
        if template is not None:
            if not isinstance(template, str) or "{}" not in template:
                raise BadInput("`hypothesis_template` must be a string with {} where the label goes")
            kw["hypothesis_template"] = template
        out = self.pipe(text, **kw)
        return [{"label": la, "score": float(s)} for la, s in zip(out["labels"], out["scores"], strict=True)]


class QuestionAnswering(Handler):
    """Extractive QA (transformers 5 has no pipeline for it): the best span inside the context."""

    task = "question-answering"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.tok = load_tokenizer(path)
        self.model = load_model(AutoModelForQuestionAnswering, path)

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        if not isinstance(inputs, dict):
            raise BadInput('`inputs` must be {"question": str, "context": str}')
        q, ctx = inputs.get("question"), inputs.get("context")
        if not isinstance(q, str) or not isinstance(ctx, str) or not q.strip() or not ctx.strip():
            raise BadInput('`inputs` must be {"question": str, "context": str}, both not empty')
        top_k = int_param(params, "top_k", 1, 1, 20) or 1
        longest = int_param(params, "max_answer_len", 15, 1, 512) or 15
        limit = min(int(self.tok.model_max_length or 512), 512)
        enc = self.tok(q, ctx, truncation="only_second", max_length=limit, return_offsets_mapping=True,
                       return_tensors="pt")  # fmt: skip
        offsets = enc.pop("offset_mapping")[0].tolist()
        seq = enc.sequence_ids(0)
        with torch.inference_mode():
            out = self.model(**enc)
        ps, pe = out.start_logits[0].softmax(-1), out.end_logits[0].softmax(-1)
        idx = [i for i, s in enumerate(seq) if s == 1]
        spans = sorted(
            ((float(ps[i] * pe[j]), i, j) for i in idx for j in idx if i <= j < i + longest), reverse=True
        )[:top_k]
        answers = [
            {
                "answer": ctx[offsets[i][0] : offsets[j][1]],
                "score": s,
                "start": offsets[i][0],
                "end": offsets[j][1],
            }
            for s, i, j in spans
        ]
        if not answers:
            raise BadInput("The context is empty once tokenized")
        return answers[0] if top_k == 1 else answers


class Seq2Seq(Handler):
    """summarization, translation, text2text-generation (no pipelines in transformers 5)."""

    key = "generated_text"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.tok = load_tokenizer(path)
        self.model = load_model(AutoModelForSeq2SeqLM, path)

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        text = text_input(inputs)
        gen = params.get("generate_parameters") or {}
        if not isinstance(gen, dict):
            raise BadInput("`generate_parameters` must be an object")
        merged = {**params, **gen}
        kw: dict[str, Any] = {
            "max_new_tokens": int_param(merged, "max_new_tokens", 64, 1, MAX_NEW_TOKENS),
            "do_sample": False,
        }
        limit = min(int(self.tok.model_max_length or 1024), 1024)
        enc = self.tok(text, truncation=True, max_length=limit, return_tensors="pt")
        with torch.inference_mode():
            ids = self.model.generate(**enc, **kw)
        return [{self.key: self.tok.decode(ids[0], skip_special_tokens=True)}]


class Summarization(Seq2Seq):
    task = "summarization"
    key = "summary_text"


class Translation(Seq2Seq):
    task = "translation"
    key = "translation_text"


class Text2Text(Seq2Seq):
    task = "text2text-generation"


# ---- binary inputs: images and audio -----------------------------------------------------------------------
# The server hands them over base64-encoded (frames are JSON); the content-type is never trusted (the client
# sends raw audio bytes without one): the magic bytes say what a file is.


def binary_input(inputs: Any) -> bytes:
    if not isinstance(inputs, str) or not inputs:
        raise BadInput("`inputs` must be the file's bytes (the raw body, or base64 in JSON)")
    try:
        return base64.b64decode(inputs, validate=True)
    except ValueError:
        raise BadInput("`inputs` is not valid base64") from None


def sniff(data: bytes) -> str | None:
    """The file's kind from its first bytes: wav, flac, ogg, mp3, png, jpeg, gif, webp, bmp (None: unknown)."""
    head = data[:16]
    kinds = (
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE", "wav"),
        (head[:4] == b"RIFF" and head[8:12] == b"WEBP", "webp"),
        (head[:4] == b"fLaC", "flac"),
        (head[:4] == b"OggS", "ogg"),
        (head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] != 0xFF
                                and head[:3] != b"\xff\xd8\xff"), "mp3"),
        (head[:8] == b"\x89PNG\r\n\x1a\n", "png"),
        (head[:3] == b"\xff\xd8\xff", "jpeg"),
        (head[:4] == b"GIF8", "gif"),
        (head[:2] == b"BM", "bmp"),
    )  # fmt: skip
    return next((kind for hit, kind in kinds if hit), None)


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sampling rate). WAV (PCM, 8-32 bit) with the stdlib; other formats only
    through soundfile when it is installed (no ffmpeg)."""
    kind = sniff(data)
    if kind == "wav":
        return _wav(data)
    if kind in ("flac", "ogg", "mp3"):
        try:
            import soundfile  # type: ignore[import-not-found]
        except ImportError:
            raise BadInput(
                f"{kind.upper()} audio cannot be decoded on this server: send a WAV file"
            ) from None
        try:
            info = soundfile.info(io.BytesIO(data))
            _check_seconds(info.frames / max(1, info.samplerate))
            samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except InputTooLarge:
            raise
        except Exception as exc:
            raise BadInput(f"The audio could not be decoded: {short(exc)}") from None
        return samples.mean(axis=1).astype(np.float32), int(rate)
    raise BadInput("The input is not an audio file this server decodes (send a WAV file)")


def _check_seconds(seconds: float) -> None:
    cap = LIMITS["max_audio_seconds"]
    if seconds > cap:
        raise InputTooLarge(
            f"The audio lasts {seconds:.1f} s, over this server's limit of {cap:g} s "
            "(AGORA_INFER_MAX_AUDIO_SECONDS)"
        )


def _wav(data: bytes) -> tuple[np.ndarray, int]:
    try:
        with wave.open(io.BytesIO(data)) as w:
            channels, width, rate, frames = (
                w.getnchannels(),
                w.getsampwidth(),
                w.getframerate(),
                w.getnframes(),
            )
            if rate <= 0 or channels <= 0:
                raise BadInput("The WAV file has no sampling rate or no channels")
            _check_seconds(frames / rate)
            raw = w.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise BadInput(f"The WAV file could not be decoded (PCM only): {short(exc)}") from None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / (1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / 2**31
    else:
        raise BadInput(f"A WAV sample width of {width} bytes is not supported")
    x = x[: len(x) // channels * channels].reshape(-1, channels).mean(axis=1)
    return x.astype(np.float32), rate


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear interpolation to the model's sampling rate (enough for speech models on CPU)."""
    if rate == target or len(x) == 0:
        return x
    n = max(1, round(len(x) * target / rate))
    out: np.ndarray = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)
    return out


class SpeechRecognition(Handler):
    """automatic-speech-recognition on a CTC model: `{"text"}` (a dict: the client refuses a list)."""

    task = "automatic-speech-recognition"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            fe = AutoFeatureExtractor.from_pretrained(str(path), trust_remote_code=False)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise Refused(f"The model's feature extractor could not be loaded: {short(exc)}") from None
        self.rate = int(getattr(fe, "sampling_rate", 16000))
        self.pipe = pipeline(
            "automatic-speech-recognition",
            model=load_model(AutoModelForCTC, path),
            tokenizer=load_tokenizer(path),
            feature_extractor=fe,
        )

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        samples, rate = decode_audio(binary_input(inputs))
        if not len(samples):
            raise BadInput("The audio is empty")
        out: Any = self.pipe({"raw": resample(samples, rate, self.rate), "sampling_rate": self.rate})
        return {"text": str(out.get("text", ""))}


IMAGE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}


def decode_image(data: bytes) -> Any:
    """A PIL image in RGB; its size is checked before any pixel is decoded (decompression bombs)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = int(LIMITS["max_image_pixels"])
    kind = sniff(data)
    if kind not in IMAGE_FORMATS:
        raise BadInput("The input is not an image this server decodes (PNG, JPEG, GIF, WEBP or BMP)")
    try:
        im = Image.open(io.BytesIO(data), formats=[IMAGE_FORMATS[kind]])
        w, h = im.size
        if w * h > LIMITS["max_image_pixels"]:
            raise InputTooLarge(
                f"The image has {w}x{h} pixels, over this server's limit of {int(LIMITS['max_image_pixels'])} "
                "(AGORA_INFER_MAX_IMAGE_PIXELS)"
            )
        return im.convert("RGB")
    except InputTooLarge:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard (twice the limit), before the size is known
        raise InputTooLarge(
            f"The image has over {int(LIMITS['max_image_pixels'])} pixels, this server's limit "
            "(AGORA_INFER_MAX_IMAGE_PIXELS)"
        ) from None
    except Exception as exc:
        raise BadInput(f"The image could not be decoded: {short(exc)}") from None


class ImageClassification(Handler):
    task = "image-classification"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            proc = AutoImageProcessor.from_pretrained(str(path), trust_remote_code=False)  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise Refused(f"The model's image processor could not be loaded: {short(exc)}") from None
        self.pipe = pipeline(
            "image-classification",
            model=load_model(AutoModelForImageClassification, path),
            image_processor=proc,
        )

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        image = decode_image(binary_input(inputs))
        kw: dict[str, Any] = {"top_k": int_param(params, "top_k", 5, 1, 1000)}
        fn = params.get("function_to_apply")
        if fn is not None:
            if fn not in ("sigmoid", "softmax", "none"):
                raise BadInput("`function_to_apply` must be sigmoid, softmax or none")
            kw["function_to_apply"] = fn
        return plain(self.pipe(image, **kw))


HANDLERS: dict[str, type[Handler]] = {
    h.task: h
    for h in (
        TextGeneration,
        FillMask,
        TextClassification,
        TokenClassification,
        FeatureExtraction,
        Sentences,
        ZeroShot,
        QuestionAnswering,
        Summarization,
        Translation,
        Text2Text,
        ChatCompletion,
        SpeechRecognition,
        ImageClassification,
    )
}
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}


# The pipeline tag of a model without one in its card: transformers' own auto-mappings (docs/inference.md §1.1).
_ORDER = [
    ("MODEL_FOR_CTC_MAPPING_NAMES", "automatic-speech-recognition"),
    ("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES", "image-classification"),
    ("MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES", "question-answering"),
    ("MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES", "token-classification"),
    ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES", "text-classification"),
    ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "text2text-generation"),
    ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "text-generation"),
    ("MODEL_FOR_MASKED_LM_MAPPING_NAMES", "fill-mask"),
    ("MODEL_MAPPING_NAMES", "feature-extraction"),
]


def infer_task(path: Path, config: dict[str, Any]) -> str:
    """The task for a model whose card names none: sentence-transformers layout, else its architecture."""
    if is_sentence_transformer(path):
        return "sentence-similarity"
    from transformers.models.auto import modeling_auto as ma

    archs = config.get("architectures") or []
    for name, tag in _ORDER:
        classes: set[str] = set()
        for v in getattr(ma, name, {}).values():
            classes.update(v if isinstance(v, (list, tuple)) else [v])
        for arch in archs:
            if arch in classes:
                if tag == "text-classification" and _is_nli(config):
                    return "zero-shot-classification"
                return tag
    raise Refused("Unable to determine this model's pipeline type: set pipeline_tag in its model card")


def _is_nli(config: dict[str, Any]) -> bool:
    labels = config.get("id2label") or {}
    return any(re.match(r"entail", str(v), re.I) for v in labels.values())


def make(path: Path, task: str | None) -> tuple[str, Handler]:
    """The handler for (snapshot, task); `task` None: the model's own."""
    config = check_loadable(path)
    try:
        AutoConfig.from_pretrained(str(path), trust_remote_code=False)  # an unknown model type: refused early
    except Exception as exc:
        raise Refused(f"The model's config cannot be used: {short(exc)}") from None
    task = ALIASES.get(task or "", task) or infer_task(path, config)
    if task == "sentence-similarity":
        return task, (Sentences(path) if is_sentence_transformer(path) else MeanPooled(path))
    if task == "feature-extraction" and is_sentence_transformer(path):
        return task, Sentences(path)
    cls = HANDLERS.get(task)
    if cls is None:
        raise BadInput(f"Task {task} is not supported by this server")
    return task, cls(path)
