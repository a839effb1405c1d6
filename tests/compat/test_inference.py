"""The Inference API through the real huggingface_hub.InferenceClient (docs/inference.md §2.2), against tiny
random models built offline (tests/tiny_models.py) and pushed with upload_folder.

One server for the module, run with two processes (`agora serve --workers 2`): they share one worker pool
(the first to take the lease runs it; the other reaches it over the unix socket), which the last test kills
to see the other process take over. Worker start costs ~4 s, so the module starts as few as it can.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, InferenceClient
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.inference._generated.types import (
    AutomaticSpeechRecognitionOutput,
    ChatCompletionOutput,
    ChatCompletionStreamOutput,
    FillMaskOutputElement,
    ImageClassificationOutputElement,
    QuestionAnsweringOutputElement,
    SummarizationOutput,
    TextClassificationOutputElement,
    TextGenerationOutput,
    TokenClassificationOutputElement,
    TranslationOutput,
    ZeroShotClassificationOutputElement,
)

from ..conftest import _free_port, agora, kill_group, new_site, start_killable
from ..tiny_models import tiny_models  # noqa: F401  (the session fixture)

NS = "ivy"


@dataclass
class Hub:
    url: str
    token: str
    data: Path
    proc: subprocess.Popen  # type: ignore[type-arg]
    log: Path

    def client(self, name: str, token: str | None = None) -> InferenceClient:
        return InferenceClient(model=f"{self.url}/models/{NS}/{name}", token=token or self.token)


def start(
    data: Path, port: int, log: Path, workers: int = 2, extra: dict[str, str] | None = None
) -> subprocess.Popen:  # type: ignore[type-arg]
    env = {
        **(extra or {}),
        "AGORA_INFER_TIMEOUT": "4",
        "AGORA_INFER_TEST_SLEEP": "60",
        "AGORA_INFER_THREADS": "1",
        "AGORA_INFER_MAX_MODEL_MB": "1",
        "AGORA_JOBS": "0",
    }
    return start_killable(data, port, log, env=env, workers=workers)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, Path]) -> Iterator[Hub]:  # noqa: F811
    root = tmp_path_factory.mktemp("inference")
    site = new_site(root / "data", NS, root / "server.log")
    proc = start(site.data, site.port, site.log)
    h = Hub(site.endpoint, site.token, site.data, proc, site.log)
    api = HfApi(endpoint=h.url, token=h.token)
    for name, folder in tiny_models.items():
        if name == "markers":
            continue
        api.create_repo(f"{NS}/{name}", private=name == "ner")
        api.upload_folder(repo_id=f"{NS}/{name}", folder_path=folder)
    try:
        yield h
    finally:
        kill_group(h.proc)


def test_text_generation(hub: Hub) -> None:
    c = hub.client("gpt2")
    prompt = "It was a bright and sunny day."
    out = c.text_generation(prompt, max_new_tokens=8)
    assert isinstance(out, str) and out.startswith(prompt) and len(out) > len(prompt)
    again = c.text_generation(prompt, max_new_tokens=8)
    assert again == out  # greedy by default: the same text twice
    new_only = c.text_generation(prompt, max_new_tokens=8, return_full_text=False)
    assert prompt + new_only == out
    # `stop` (TGI: the stop sequence is kept) matches the new text only, not across the prompt's end
    stop = new_only.strip()[1:3]
    stopped = c.text_generation(prompt, max_new_tokens=8, stop=[stop], return_full_text=False)
    assert stopped.endswith(stop) and new_only.startswith(stopped), (new_only, stop, stopped)
    detailed = c.text_generation(prompt, max_new_tokens=8, details=True)
    assert isinstance(detailed, TextGenerationOutput) and detailed.generated_text == out
    assert detailed.details is not None and detailed.details.generated_tokens == len(detailed.details.tokens)
    assert detailed.details.finish_reason in ("length", "eos_token")
    r = httpx.post(f"{hub.url}/models/{NS}/gpt2", json={"inputs": prompt}, headers=auth(hub.token))
    assert r.status_code == 200, r.text
    assert float(r.headers["x-compute-time"]) >= 0 and r.headers["x-compute-type"] == "cpu"


def test_text_generation_stream(hub: Hub) -> None:
    c = hub.client("gpt2")
    prompt = "Once upon a time,"
    tokens = list(c.text_generation(prompt, max_new_tokens=6, stream=True))
    assert len(tokens) == 6 and all(isinstance(t, str) for t in tokens)
    full = c.text_generation(prompt, max_new_tokens=6)
    assert prompt + "".join(tokens) == full
    events = list(c.text_generation(prompt, max_new_tokens=6, stream=True, details=True))
    assert events[-1].generated_text == "".join(tokens)
    assert events[-1].details is not None and events[-1].details.generated_tokens == 6
    assert all(isinstance(e.token.logprob, float) for e in events)


def test_fill_mask(hub: Hub) -> None:
    out = hub.client("fill-mask").fill_mask("Paris is the [MASK] of France.", top_k=3)
    assert len(out) == 3 and all(isinstance(x, FillMaskOutputElement) for x in out)
    assert all("[MASK]" not in x.sequence and isinstance(x.score, float) for x in out)


def test_text_classification(hub: Hub) -> None:
    out = hub.client("text-classification").text_classification("I like you. I love you")
    assert all(isinstance(x, TextClassificationOutputElement) for x in out)
    assert sorted(x.label for x in out) == ["NEGATIVE", "POSITIVE"]  # both: the answer is nested [[...]]
    assert abs(sum(x.score for x in out) - 1) < 1e-4


def test_token_classification_private_repo(hub: Hub) -> None:
    text = "My name is Wolfgang and I live in Berlin"
    out = hub.client("ner").token_classification(text)
    assert out and all(isinstance(x, TokenClassificationOutputElement) for x in out)
    assert all(text[x.start : x.end].lower() == x.word for x in out if x.start is not None)
    # private: anonymous and a stranger's token get the 404 of a repo that does not exist, body unread
    for headers in ({}, auth("hf_not_a_token")):
        r = httpx.post(f"{hub.url}/models/{NS}/ner", json={"inputs": text}, headers=headers)
        assert r.status_code in (401, 404), r.text
        assert r.json()["error"] and r.headers["x-error-code"] in ("RepoNotFound", "Unauthorized")
    r = httpx.post(f"{hub.url}/models/{NS}/ner", json={"inputs": text})
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    assert httpx.get(f"{hub.url}/status/{NS}/ner").status_code == 404


def test_feature_extraction(hub: Hub) -> None:
    out = hub.client("feature-extraction").feature_extraction("It was a bright and sunny day.")
    assert out.dtype.name == "float32" and out.ndim == 3 and out.shape[0] == 1 and out.shape[2] == 32


def test_sentence_similarity_and_embeddings(hub: Hub) -> None:
    c = hub.client("sentence")
    sims = c.sentence_similarity("That is a happy person", other_sentences=["That is a happy dog", "Today"])
    assert len(sims) == 2 and all(isinstance(s, float) and -1 <= s <= 1 for s in sims)
    emb = c.feature_extraction("That is a happy person")
    assert emb.shape == (32,) and abs(float((emb**2).sum()) - 1) < 1e-4  # pooled, normalised (modules.json)
    assert c.feature_extraction(["a", "b"]).shape == (2, 32)


def test_zero_shot_classification(hub: Hub) -> None:
    c = hub.client("nli")
    out = c.zero_shot_classification("I have a problem with my iphone", candidate_labels=["urgent", "phone"])
    assert all(isinstance(x, ZeroShotClassificationOutputElement) for x in out)
    assert sorted(x.label for x in out) == ["phone", "urgent"] and out[0].score >= out[1].score
    # the widget's own shape: a comma-separated string and multi_class
    body = {"inputs": "x", "parameters": {"candidate_labels": "a, b, c", "multi_class": True}}
    r = httpx.post(f"{hub.url}/models/{NS}/nli", json=body, headers=auth(hub.token))
    assert r.status_code == 200 and [x["label"] for x in r.json()] != [] and len(r.json()) == 3


def test_question_answering(hub: Hub) -> None:
    ctx = "My name is Wolfgang and I live in Berlin"
    out = hub.client("qa").question_answering(question="Where do I live?", context=ctx)
    assert isinstance(out, QuestionAnsweringOutputElement) and ctx[out.start : out.end] == out.answer


def test_seq2seq_tasks(hub: Hub) -> None:
    text = "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building."
    s = hub.client("bart-summarization").summarization(text, generate_parameters={"max_new_tokens": 8})
    assert isinstance(s, SummarizationOutput) and isinstance(s.summary_text, str) and s.summary_text
    t = hub.client("bart-translation").translation("My name is Wolfgang and I live in Berlin")
    assert isinstance(t, TranslationOutput) and isinstance(t.translation_text, str) and t.translation_text
    r = httpx.post(f"{hub.url}/models/{NS}/bart-text2text-generation", json={"inputs": "Paris is"})
    assert r.status_code == 200 and isinstance(r.json()[0]["generated_text"], str), r.text


def test_snapshots_link_the_stored_weights(hub: Hub, tiny_models: dict[str, Path]) -> None:  # noqa: F811
    """The workers load from `<data>/infer-snapshots/<repo>/<sha>/`: small files written out, LFS weights a
    link to the blob store's own file (no copy), the folder read-only."""
    hub.client("text-classification").text_classification("I like you")
    sha = HfApi(endpoint=hub.url, token=hub.token).model_info(f"{NS}/text-classification").sha
    (snap,) = (hub.data / "infer-snapshots").glob(f"*/{sha}")
    weights = snap / "model.safetensors"
    assert weights.is_symlink() and weights.resolve().is_relative_to((hub.data / "lfs").resolve())
    assert weights.read_bytes() == (tiny_models["text-classification"] / "model.safetensors").read_bytes()
    assert (snap / "config.json").is_file() and not (snap / "config.json").is_symlink()
    assert (
        oct(snap.stat().st_mode & 0o777) == "0o555"
        and oct((snap / "config.json").stat().st_mode & 0o777) == "0o444"
    )


def test_xet_uploaded_model_runs_from_the_cache(
    hub: Hub,
    tiny_models: dict[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Weights uploaded through Xet live in xorbs: rebuilt once into `<data>/infer-cache/`, verified."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "xet-cls"
    shutil.copytree(tiny_models["text-classification"], folder)
    weights = folder / "model.safetensors"  # other bytes than the LFS upload's (else the store has them)
    save_file(load_file(str(weights)), str(weights), metadata={"format": "pt", "variant": "xet"})
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env.update(HF_TOKEN=hub.token, HF_ENDPOINT=hub.url)
    script = (
        "from huggingface_hub import HfApi\n"
        "from huggingface_hub.utils._runtime import is_xet_available\n"
        "assert is_xet_available()\n"
        f"api = HfApi()\napi.create_repo('{NS}/xet-cls')\n"
        f"api.upload_folder(repo_id='{NS}/xet-cls', folder_path={str(folder)!r})\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    api = HfApi(endpoint=hub.url, token=hub.token)
    (st,) = api.get_paths_info(f"{NS}/xet-cls", ["model.safetensors"])
    oid = st.lfs.sha256
    assert st.xet_hash and not (hub.data / "lfs" / oid[:2] / oid[2:4] / oid).exists()  # only in xorbs
    assert len(hub.client("xet-cls").text_classification("I like you")) == 2
    cached = hub.data / "infer-cache" / oid[:2] / oid
    assert cached.is_file()
    (snap,) = (hub.data / "infer-snapshots").glob(f"*/{api.model_info(f'{NS}/xet-cls').sha}")
    assert (snap / "model.safetensors").resolve() == cached.resolve()


def test_status_and_pipeline_route(hub: Hub) -> None:
    hub.client("text-classification").text_classification("I like you")
    r = httpx.get(f"{hub.url}/status/{NS}/text-classification", headers=auth(hub.token))
    assert r.status_code == 200 and r.json()["state"] == "Loaded" and r.json()["compute_type"] == "cpu"
    r = httpx.get(f"{hub.url}/status/{NS}/fill-mask")
    assert r.json()["state"] in ("Loaded", "Loadable")
    r = httpx.post(f"{hub.url}/models/{NS}/sentence/pipeline/feature-extraction", json={"inputs": "hi"})
    assert r.status_code == 200 and len(r.json()) == 32


def test_model_too_big(hub: Hub) -> None:
    r = httpx.get(f"{hub.url}/status/{NS}/big")
    assert r.status_code == 200 and r.json()["state"] == "TooBig" and r.json()["loaded"] is False
    r = httpx.post(f"{hub.url}/models/{NS}/big", json={"inputs": "hello"})
    assert r.status_code == 400 and "AGORA_INFER_MAX_MODEL_MB" in r.json()["error"], r.text
    sha = HfApi(endpoint=hub.url, token=hub.token).model_info(f"{NS}/big").sha
    assert not list((hub.data / "infer-snapshots").glob(f"*/{sha}"))  # refused before anything was written


def test_bad_requests(hub: Hub) -> None:
    url = f"{hub.url}/models/{NS}/text-classification"
    r = httpx.post(url, json={"inputs": "x" * 20001})
    assert r.status_code == 413 and r.json()["error"]
    r = httpx.post(url, content=b"x" * (300 * 1024))
    assert r.status_code == 413 and r.headers["x-error-code"] == "PayloadTooLarge"
    r = httpx.post(url, json={"inputs": "x", "parameters": {"top_k": "many"}})
    assert r.status_code == 400 and "top_k" in r.json()["error"] and r.headers["x-error-code"] == "BadRequest"
    r = httpx.post(
        f"{hub.url}/models/{NS}/gpt2", json={"inputs": "x", "parameters": {"max_new_tokens": 10**6}}
    )
    assert r.status_code == 400 and "max_new_tokens" in r.json()["error"]
    r = httpx.post(f"{hub.url}/models/{NS}/nope", json={"inputs": "x"})
    assert r.status_code == 404


def test_custom_code_and_pickle_refused(hub: Hub, tiny_models: dict[str, Path]) -> None:  # noqa: F811
    for name, says in (("custom-code", "custom code"), ("pickle", "pickle")):
        with pytest.raises(HfHubHTTPError) as exc:
            hub.client(name).feature_extraction("hello")
        assert exc.value.response.status_code == 400 and says in exc.value.response.json()["error"]
    assert list(tiny_models["markers"].iterdir()) == []  # neither evil.py nor the pickle ran


MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi, what can you do?"},
]


def test_chat_completion_both_urls(hub: Hub) -> None:
    """chat_completion through the model URL (`/models/{id}/v1/chat/completions`, model "dummy") and through
    base_url (`/v1/chat/completions`, model = the repo id), greedy: the same text both ways."""
    by_model = InferenceClient(model=f"{hub.url}/models/{NS}/gpt2-chat", token=hub.token)
    by_base = InferenceClient(base_url=f"{hub.url}/v1", api_key=hub.token)
    a = by_model.chat_completion(MESSAGES, max_tokens=6)
    b = by_base.chat_completion(MESSAGES, model=f"{NS}/gpt2-chat", max_tokens=6)
    for out in (a, b):
        assert isinstance(out, ChatCompletionOutput) and out.object == "chat.completion"
        (choice,) = out.choices
        assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
        assert choice.finish_reason in ("length", "stop")
        assert out.usage.completion_tokens <= 6 and out.usage.prompt_tokens > 10
        assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    assert a.choices[0].message.content == b.choices[0].message.content and a.model == f"{NS}/gpt2-chat"
    status = httpx.get(f"{hub.url}/status/{NS}/gpt2-chat", headers=auth(hub.token)).json()
    assert status["loaded"] is True and status["state"] == "Loaded"  # loaded for chat counts
    # streamed: the same text in chunks, a final chunk with finish_reason, then [DONE] (the client stops)
    for client, kw in ((by_model, {}), (by_base, {"model": f"{NS}/gpt2-chat"})):
        chunks = list(client.chat_completion(MESSAGES, max_tokens=6, stream=True, **kw))
        assert chunks and all(isinstance(c, ChatCompletionStreamOutput) for c in chunks)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == a.choices[0].message.content
        assert chunks[-1].choices[0].finish_reason == a.choices[0].finish_reason
    # a stop sequence: left out of the answer, never streamed
    full = by_model.chat_completion(MESSAGES, max_tokens=12).choices[0].message.content
    stop = full.strip()[2:4]
    assert len(stop) == 2, full
    cut = full[: full.index(stop)]
    stopped = by_model.chat_completion(MESSAGES, max_tokens=12, stop=[stop])
    assert stopped.choices[0].message.content == cut and stopped.choices[0].finish_reason == "stop", (
        full,
        stop,
    )
    chunks = list(by_model.chat_completion(MESSAGES, max_tokens=12, stop=[stop], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == cut
    r = httpx.post(f"{hub.url}/v1/chat/completions", json={"model": f"{NS}/gpt2-chat", "messages": MESSAGES,
                   "max_tokens": 3, "stream": True}, headers=auth(hub.token))  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.text.endswith("data: [DONE]\n\n"), r.text


def test_chat_completion_errors(hub: Hub) -> None:
    """No chat template: a clear 400 (no worker woken); "dummy" without a model URL; bad messages."""
    c = InferenceClient(model=f"{hub.url}/models/{NS}/gpt2", token=hub.token)
    with pytest.raises(HfHubHTTPError) as exc:
        c.chat_completion(MESSAGES, max_tokens=4)
    assert exc.value.response.status_code == 400 and "no chat template" in exc.value.response.json()["error"]
    r = httpx.post(f"{hub.url}/v1/chat/completions", json={"model": "dummy", "messages": MESSAGES})
    assert r.status_code == 400 and "model" in r.json()["error"]
    url = f"{hub.url}/models/{NS}/gpt2-chat/v1/chat/completions"
    for body in ({"messages": []}, {"messages": [{"role": "robot", "content": "x"}]}, {"messages": "hi"}):
        r = httpx.post(url, json=body, headers=auth(hub.token))
        assert r.status_code == 400 and r.headers["x-error-code"] == "BadRequest", r.text
    r = httpx.post(url, json={"messages": MESSAGES, "max_tokens": "lots"}, headers=auth(hub.token))
    assert r.status_code == 400 and "max_new_tokens" in r.json()["error"]


def wav_bytes(seconds: float = 1.0, rate: int = 8000, channels: int = 1) -> bytes:
    import io
    import wave

    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    x = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(x, channels).tobytes())
    return buf.getvalue()


def test_speech_recognition(hub: Hub, tmp_path: Path) -> None:
    """Raw WAV bytes with no content-type (the client's bytes input), a .wav file, JSON base64; 8 kHz
    stereo is resampled to the model's 16 kHz mono. FLAC without a decoder, noise, too long: clear errors."""
    import base64

    c = hub.client("asr")
    data = wav_bytes(1.0, 8000, 2)
    out = c.automatic_speech_recognition(data)
    assert isinstance(out, AutomaticSpeechRecognitionOutput) and isinstance(out.text, str) and out.text
    (tmp_path / "a.wav").write_bytes(data)
    assert c.automatic_speech_recognition(tmp_path / "a.wav").text == out.text
    body = {"inputs": base64.b64encode(data).decode(), "parameters": {}}
    r = httpx.post(f"{hub.url}/models/{NS}/asr", json=body)
    assert r.status_code == 200 and r.json() == {"text": out.text}, r.text
    for blob, status, says in (
        (b"fLaC" + b"\0" * 100, 400, "FLAC"),
        (b"not audio at all", 400, "not an audio file"),
        (wav_bytes(61.0, 8000), 413, "AGORA_INFER_MAX_AUDIO_SECONDS"),
    ):
        r = httpx.post(f"{hub.url}/models/{NS}/asr", content=blob)
        assert r.status_code == status and says in r.json()["error"], r.text


def png_bytes(size: tuple[int, int] = (48, 40), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, 1 if mode == "1" else (200, 30, 60)).save(buf, fmt)
    return buf.getvalue()


def test_model_loading_for_the_widget(hub: Hub) -> None:
    """The widget's on-mount call (`X-Load-Model: 0`) on a model not loaded: 503 "currently loading" with
    estimated_time, nothing loaded; everyone else waits for the load (the client never retries a 503)."""
    url, data = f"{hub.url}/models/{NS}/image-classification", png_bytes()
    assert httpx.get(f"{hub.url}/status/{NS}/image-classification").json()["state"] == "Loadable"
    r = httpx.post(url, content=data, headers={"X-Load-Model": "0"})
    assert r.status_code == 503 and r.headers["x-error-code"] == "ServiceUnavailable", r.text
    assert r.json()["error"] == f"Model {NS}/image-classification is currently loading"
    assert r.json()["estimated_time"] > 0 and r.headers["retry-after"]
    assert httpx.get(f"{hub.url}/status/{NS}/image-classification").json()["state"] == "Loadable"
    r = httpx.post(url, content=data, headers={"X-Wait-For-Model": "false"})  # a tiny model: loads at once
    assert r.status_code == 200, r.text
    assert httpx.get(f"{hub.url}/status/{NS}/image-classification").json()["loaded"] is True
    assert httpx.post(url, content=data, headers={"X-Load-Model": "0"}).status_code == 200


def test_image_classification(hub: Hub, tmp_path: Path) -> None:
    """Raw bytes (a file: content-type from its name), the JSON base64 form (the client sends it when
    parameters are given), and a decompression bomb refused before its pixels are decoded."""
    c = hub.client("image-classification")
    (tmp_path / "x.png").write_bytes(png_bytes())
    (tmp_path / "x.jpg").write_bytes(png_bytes(fmt="JPEG"))
    out = c.image_classification(tmp_path / "x.png")
    assert all(isinstance(x, ImageClassificationOutputElement) for x in out)
    assert sorted(x.label for x in out) == ["cat", "teapot", "tiger"]
    top = c.image_classification(tmp_path / "x.jpg", top_k=2)  # JSON {"inputs": base64, "parameters"}
    assert len(top) == 2 and top[0].score >= top[1].score
    assert len(c.image_classification(png_bytes(fmt="GIF"))) == 3  # bytes, no content-type
    bomb = png_bytes((6000, 6000), mode="1")  # 36 Mpx in a few KB
    assert len(bomb) < 100_000
    r = httpx.post(f"{hub.url}/models/{NS}/image-classification", content=bomb)
    assert r.status_code == 413 and "AGORA_INFER_MAX_IMAGE_PIXELS" in r.json()["error"], r.text
    r = httpx.post(f"{hub.url}/models/{NS}/image-classification", content=b"GIF8 but not really")
    assert r.status_code == 400 and "could not be decoded" in r.json()["error"], r.text


def test_gated_model(hub: Hub, tiny_models: dict[str, Path]) -> None:  # noqa: F811
    """A gated repo runs for its owner; anyone else gets GatedRepo: 401 anonymous (log in), 403 logged in, as a
    download of its files."""
    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(f"{NS}/gated-cls")
    api.upload_folder(repo_id=f"{NS}/gated-cls", folder_path=tiny_models["text-classification"])
    api.update_repo_settings(f"{NS}/gated-cls", gated="auto")
    assert len(hub.client("gated-cls").text_classification("I like you")) == 2
    agora("user", "add", "gus", "--password-stdin", data=hub.data, stdin="gus-password\n")
    other = agora("token", "create", "gus", "--role", "read", data=hub.data)
    for headers, status in (({}, 401), (auth(other), 403)):
        r = httpx.post(f"{hub.url}/models/{NS}/gated-cls", json={"inputs": "hi"}, headers=headers)
        assert r.status_code == status and r.headers["x-error-code"] == "GatedRepo", r.text
        assert "restricted" in r.json()["error"]

    # The model page's widget calls with the page's session cookie (no token): its owner runs the gated
    # model (and the private one), a logged-in visitor without access gets GatedRepo; once given access, runs it.
    def browser(user: str) -> httpx.Client:
        c = httpx.Client(base_url=hub.url, timeout=60)
        form = c.get("/login").text
        csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        c.post("/login", data={"csrf": csrf, "username": user, "password": f"{user}-password"})
        return c

    owner, gus = browser(NS), browser("gus")
    for name in ("gated-cls", "ner"):
        r = owner.post(f"/models/{NS}/{name}", json={"inputs": "I like you"})
        assert r.status_code == 200 and isinstance(r.json(), list), (name, r.text)
    r = gus.post(f"/models/{NS}/gated-cls", json={"inputs": "hi"})
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo", r.text
    api.grant_access(f"{NS}/gated-cls", "gus")
    assert gus.post(f"/models/{NS}/gated-cls", json={"inputs": "hi"}).status_code == 200
    # Another origin (a page on the user-content origin is the same *site*, so a Lax cookie goes along) does
    # not run as the visitor: the cookie counts only from the Hub's own pages.
    foreign = {"Origin": "http://127.0.0.1:1"}
    r = owner.post(f"/models/{NS}/gated-cls", json={"inputs": "hi"}, headers=foreign)
    assert r.status_code == 401 and r.headers["x-error-code"] == "GatedRepo", r.text
    assert owner.post(f"/models/{NS}/ner", json={"inputs": "hi"}, headers=foreign).status_code == 404
    owner.close()
    gus.close()


def test_rate_limit_shared_by_server_processes(hub: Hub, tmp_path: Path) -> None:
    """AGORA_INFER_RATE_LIMIT per user, counted in the database: two server processes (`--workers 2`) add to
    one counter; past it, 429 with Retry-After in the Hub's error shape."""
    agora("user", "add", "rita", "--password-stdin", data=hub.data, stdin="rita-password\n")
    token = agora("token", "create", "rita", "--role", "read", data=hub.data)
    port = _free_port()
    extra = {"AGORA_INFER_RATE_LIMIT": "4", "AGORA_INFER_RATE_WINDOW": "300"}
    proc = start(hub.data, port, tmp_path / "rate.log", workers=2, extra=extra)
    try:
        codes = []
        for _ in range(8):  # a connection each: spread over both processes
            r = httpx.post(f"http://127.0.0.1:{port}/models/{NS}/text-classification", json={"inputs": "hi"},
                           headers=auth(token))  # fmt: skip
            codes.append(r.status_code)
            if r.status_code == 429:
                assert (
                    r.headers["x-error-code"] == "TooManyRequests"
                    and 0 < int(r.headers["retry-after"]) <= 300
                )
                assert "AGORA_INFER_RATE_LIMIT" in r.json()["error"]
        assert codes == [200] * 4 + [429] * 4, codes
    finally:
        kill_group(proc)


def test_deadline_then_next_request(hub: Hub) -> None:
    c = hub.client("text-classification")
    t = time.monotonic()
    r = httpx.post(
        f"{hub.url}/models/{NS}/text-classification", json={"inputs": "agora-test-sleep"}, timeout=60
    )
    assert r.status_code == 504 and r.headers["x-error-code"] == "GatewayTimeout", r.text
    assert time.monotonic() - t < 10  # answered at the deadline (4 s), not after the worker's restart
    assert len(c.text_classification("I like you")) == 2  # on a new worker


NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch'")
        return None
sys.meta_path.insert(0, _NoTorch())
"""


def test_without_the_inference_extra(hub: Hub, tmp_path: Path) -> None:
    """A server whose Python has no torch answers 503 saying how to enable inference; so does its widget."""
    (tmp_path / "hide").mkdir()
    (tmp_path / "hide" / "sitecustomize.py").write_text(NO_TORCH)
    port = _free_port()
    path = os.pathsep.join(p for p in (str(tmp_path / "hide"), os.environ.get("PYTHONPATH")) if p)
    proc = start(hub.data, port, tmp_path / "no-torch.log", workers=1, extra={"PYTHONPATH": path})
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}/models/{NS}/gpt2", json={"inputs": "Hi"}, headers=auth(hub.token)
        )
        assert r.status_code == 503 and r.headers["x-error-code"] == "ServiceUnavailable", r.text
        assert "pip install 'agora-hub[inference]'" in r.json()["error"]
        r = httpx.get(f"http://127.0.0.1:{port}/status/{NS}/gpt2", headers=auth(hub.token))
        assert r.status_code == 200 and r.json()["state"] == "error" and r.json()["loaded"] is False
        page = httpx.get(f"http://127.0.0.1:{port}/{NS}/gpt2", headers=auth(hub.token))  # the widget says how
        assert page.status_code == 200 and "agora-hub[inference]" in page.text, page.text[:500]
    finally:
        kill_group(proc)


def pool_owner(data: Path) -> int:
    return int((data / "infer" / "pool.lock").read_text().split()[0])


def on_site(data: Path) -> list[int]:
    """The inference workers of any server process on this data folder (cwd: <data>/infer/home)."""
    home = (data / "infer" / "home").resolve()
    out = []
    for pid in worker_pids():
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == home and alive(pid):
                out.append(pid)
        except OSError:
            continue
    return sorted(out)


def worker_pids(parent: int | None = None) -> list[int]:
    """The inference worker processes on this host (of one parent, if given)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"agora.inference.worker" in cmd and (parent is None or ppid == parent):
            out.append(int(d.name))
    return out


def test_one_pool_for_two_server_processes_and_takeover(hub: Hub, tmp_path: Path) -> None:
    """`--workers 2` shares one pool; so does a second `agora serve` on the same data folder; when the
    pool's owner is killed its workers die with it, and the other server takes the lease."""
    c = hub.client("text-classification")
    with ThreadPoolExecutor(8) as ex:  # spread over both granian workers of the first server
        results = list(ex.map(lambda _: c.text_classification("I like you"), range(16)))
    assert all(len(x) == 2 for x in results)
    owner = pool_owner(hub.data)
    workers = worker_pids(owner)
    assert len(workers) == 1  # AGORA_INFER_WORKERS=1: one pool for the host, not one per process
    assert on_site(hub.data) == workers  # none under the other granian worker
    port = _free_port()
    second = start(hub.data, port, tmp_path / "second.log", workers=1)
    try:
        other = InferenceClient(
            model=f"http://127.0.0.1:{port}/models/{NS}/text-classification", token=hub.token
        )
        assert len(other.text_classification("I like you")) == 2
        assert pool_owner(hub.data) == owner and on_site(hub.data) == workers  # the same pool served it
        os.kill(owner, signal.SIGKILL)  # the owner dies: its workers die with it (PR_SET_PDEATHSIG)
        deadline = time.time() + 10
        while time.time() < deadline and any(alive(p) for p in workers):
            time.sleep(0.05)
        assert not any(alive(p) for p in workers)
        with httpx.Client(headers=auth(hub.token), timeout=60) as fresh:  # not a connection to the dead one
            r = fresh.post(
                f"http://127.0.0.1:{port}/models/{NS}/text-classification", json={"inputs": "I like"}
            )
        assert r.status_code == 200 and len(r.json()[0]) == 2, r.text
        new_owner = pool_owner(hub.data)
        assert new_owner != owner and len(worker_pids(new_owner)) == 1
        # a plain stop (SIGTERM to `agora serve`) ends the workers too
        (worker,) = worker_pids(new_owner)
        second.terminate()
        second.wait(30)
        deadline = time.time() + 10
        while time.time() < deadline and alive(worker):
            time.sleep(0.05)
        assert not alive(worker)
    finally:
        kill_group(second)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
