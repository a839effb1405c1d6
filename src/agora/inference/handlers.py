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

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
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
            kw["tokenizer"] = self.tok
        if not kw["do_sample"]:
            kw.pop("temperature", None), kw.pop("top_p", None), kw.pop("top_k", None)
        return kw

    def __call__(self, inputs: Any, params: dict[str, Any], emit: Emit | None) -> Any:
        prompt = text_input(inputs)
        kw = self.generate_kwargs(params)
        seed = int_param(params, "seed", None, 0, 2**63 - 1)
        if seed is not None:
            torch.manual_seed(seed)
        ids = self.tok(prompt, return_tensors="pt")
        keep = max(1, self.max_positions - kw["max_new_tokens"])  # left truncation: keep the prompt's end
        ids = {k: v[:, -keep:] for k, v in ids.items()}
        start = ids["input_ids"].shape[1]
        # the token events (streamed, or kept for `details`); TGI-only parameters are otherwise ignored
        streamer = TokenStream(self.tok, emit)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.tok.eos_token_id
        with torch.inference_mode():
            out = self.model.generate(
                **ids, **kw, pad_token_id=pad, streamer=streamer, logits_processor=[streamer.recorder]
            )
        new_text = self.tok.decode(out[0][start:], skip_special_tokens=True)
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
    )
}
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}


# The pipeline tag of a model without one in its card: transformers' own auto-mappings (docs/inference.md §1.1).
_ORDER = [
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
