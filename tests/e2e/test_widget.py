"""The inference widget on the model page, in Chromium (issue 15): the seed's moment (a text-generation model
generates from "It was a bright and sunny day."), the card's `widget:` example as the default, the task widgets
(bars, entity spans, zero-shot, sentence similarity, QA, feature extraction), `inference: false` showing the
card's `output:` examples, the JSON toggle, Ctrl+Enter, a phone viewport, and audio recorded with Chromium's
fake microphone sent as a WAV file and transcribed, chat streamed into bubbles, image classification.

One server with its inference pool for the module (worker start ~4 s), the tiny offline models of
tests/tiny_models.py pushed with huggingface_hub.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from ..compat.test_inference import Hub, start
from ..conftest import ARGS, CHROMIUM, kill_group, new_site
from ..tiny_models import tiny_models  # noqa: F401  (the session fixture)
from .conftest import TIMEOUT_MS, Shots, snap

playwright_sync = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, BrowserContext, Page, expect  # noqa: E402

NS = "wendy"
SERVED = ("gpt2", "fill-mask", "text-classification", "ner", "nli", "sentence", "qa", "feature-extraction")
PROMPT = "It was a bright and sunny day."


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, Path]) -> Iterator[Hub]:  # noqa: F811
    root = tmp_path_factory.mktemp("widget")
    site = new_site(root / "data", NS, root / "server.log")
    proc = start(site.data, site.port, site.log, workers=1)
    h = Hub(site.endpoint, site.token, site.data, proc, site.log)
    api = HfApi(endpoint=h.url, token=h.token)
    for name in SERVED:
        api.create_repo(f"{NS}/{name}")
        api.upload_folder(repo_id=f"{NS}/{name}", folder_path=tiny_models[name])
    try:
        yield h
    finally:
        kill_group(h.proc)


@pytest.fixture
def open_page(browser: Browser, hub: Hub, shots: Shots) -> Iterator[Callable[..., Page]]:
    contexts: list[BrowserContext] = []

    def make(path: str, viewport: tuple[int, int] = (1280, 900), b: Browser | None = None) -> Page:
        ctx = (b or browser).new_context(
            base_url=hub.url, viewport={"width": viewport[0], "height": viewport[1]}
        )
        ctx.set_default_timeout(TIMEOUT_MS * 3)
        contexts.append(ctx)
        page = ctx.new_page()
        page.__dict__["_agora_shots"] = shots
        shots.watch(page, "anon")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.__dict__["_errors"] = errors
        page.goto(path)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def api_of(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.url, token=hub.token)


def readme(meta: str) -> bytes:
    return f"---\n{meta}---\n# tiny\n".encode()


def compute(page: Page) -> None:
    page.get_by_role("button", name="Compute").click()
    # the first call of the module starts the pool's worker (~4 s, more on a busy machine)
    expect(page.locator(".widget-time")).to_contain_text("Computation time on cpu:", timeout=60_000)


def no_js_errors(page: Page) -> None:
    errors = [e for e in page.__dict__["_errors"] if "status of 4" not in e and "status of 5" not in e]
    assert not errors, errors


def test_seed_text_generation(open_page: Callable[..., Page], hub: Hub) -> None:
    page = open_page(f"/{NS}/gpt2")
    snap(page, "gpt2")
    box = page.get_by_label("Text")
    expect(box).to_have_value(PROMPT)  # the card's widget: example, filled in
    box.fill("")
    box.type(PROMPT)
    compute(page)
    out = page.locator(".widget-output .generated")
    assert out.locator(".prompt").text_content() == PROMPT
    generated = out.locator(".new-text").text_content() or ""
    assert generated.strip(), "no text was generated"
    assert page.locator(".widget-time").inner_text().startswith("Computation time on cpu: ")
    snap(page, "generated")
    # the JSON toggle shows the raw answer, the prompt and its continuation
    page.get_by_label("JSON Output").check()
    raw = json.loads(page.locator(".widget-json").inner_text())
    assert raw == [{"generated_text": PROMPT + generated}]
    expect(page.locator(".widget-output")).to_be_hidden()
    snap(page, "json")
    page.get_by_label("JSON Output").uncheck()
    expect(page.locator(".widget-output")).to_be_visible()
    # Ctrl+Enter runs it again: greedy, the same text
    page.locator(".widget-time").evaluate("e => e.textContent = ''")
    box.press("Control+Enter")
    expect(page.locator(".widget-time")).to_contain_text("Computation time on cpu:", timeout=30_000)
    assert out.locator(".new-text").text_content() == generated
    no_js_errors(page)


def test_card_widget_example_becomes_the_default(
    open_page: Callable[..., Page],
    hub: Hub,
    tiny_models: dict[str, Path],  # noqa: F811
) -> None:
    api = api_of(hub)
    rid = f"{NS}/gpt2-examples"
    api.create_repo(rid)
    meta = (
        "pipeline_tag: text-generation\nwidget:\n- text: Once upon a time,\n  example_title: Tale\n"
        "- text: Paris is the capital of France.\n  example_title: Paris\n"
        "- src: sample.wav\n  example_title: Not for this widget\n"
    )
    api.create_commit(rid, commit_message="model", operations=[
        CommitOperationAdd(p.name, p.read_bytes()) for p in tiny_models["gpt2"].iterdir() if p.name != "README.md"
    ] + [CommitOperationAdd("README.md", readme(meta))])  # fmt: skip
    page = open_page(f"/{rid}")
    snap(page, "examples")
    expect(page.get_by_label("Text")).to_have_value("Once upon a time,")
    assert page.get_by_label("Examples").locator("option").all_inner_texts() == ["Tale", "Paris"]
    page.get_by_label("Examples").select_option(label="Paris")
    expect(page.get_by_label("Text")).to_have_value("Paris is the capital of France.")
    api.upload_file(
        path_or_fileobj=readme("pipeline_tag: text-generation\nwidget:\n- text: The new default.\n"),
        path_in_repo="README.md",
        repo_id=rid,
    )
    page.reload()
    snap(page, "new-default")
    expect(page.get_by_label("Text")).to_have_value("The new default.")
    compute(page)
    assert page.locator(".prompt").text_content() == "The new default."


def test_label_bars(open_page: Callable[..., Page], hub: Hub) -> None:
    page = open_page(f"/{NS}/fill-mask")
    snap(page, "fill-mask")
    expect(page.get_by_label("Text (mask token: [MASK])")).to_have_value("Paris is the [MASK] of France.")
    compute(page)
    bars = page.locator(".widget-output ul.bars li")
    assert bars.count() >= 2
    scores = [float(x) for x in page.locator(".widget-output .bar-score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    snap(page, "fill-mask-bars")
    page = open_page(f"/{NS}/text-classification")
    expect(page.get_by_label("Text")).to_have_value("I like you. I love you")  # the task's default
    compute(page)
    labels = sorted(page.locator(".widget-output .bar-label").all_inner_texts())
    assert labels == ["NEGATIVE", "POSITIVE"]
    snap(page, "text-classification")
    no_js_errors(page)


def test_token_classification_spans(open_page: Callable[..., Page], hub: Hub) -> None:
    page = open_page(f"/{NS}/ner")
    text = "My name is Wolfgang and I live in Berlin"
    expect(page.get_by_label("Text")).to_have_value(text)
    compute(page)
    p = page.locator(".widget-output p.entities")
    marks = p.locator("mark.ent")
    assert marks.count() >= 1
    # the text is all there, entity labels aside
    shown = p.evaluate(
        "e => Array.from(e.childNodes).map(n => n.nodeType === 3 ? n.textContent : n.firstChild.textContent).join('')"
    )
    assert shown == text
    snap(page, "ner")


def test_zero_shot_similarity_qa_features(open_page: Callable[..., Page], hub: Hub) -> None:
    page = open_page(f"/{NS}/nli")
    expect(page.get_by_label("Possible class names (comma-separated)")).to_have_value(
        "urgent, not urgent, phone, tablet, computer"
    )
    expect(page.get_by_label("Allow multiple true classes")).to_be_checked()
    page.get_by_label("Possible class names (comma-separated)").fill("urgent, phone, tablet")
    compute(page)
    assert sorted(page.locator(".widget-output .bar-label").all_inner_texts()) == [
        "phone",
        "tablet",
        "urgent",
    ]
    snap(page, "zero-shot")

    page = open_page(f"/{NS}/sentence")
    expect(page.get_by_label("Source Sentence")).to_have_value("That is a happy person")
    assert page.locator('input[name="sentence"]').count() == 3  # the example's three sentences
    page.get_by_role("button", name="Add sentence").click()
    page.get_by_label("Sentence 4").fill("A fourth sentence")
    compute(page)
    labels = page.locator(".widget-output .bar-label").all_inner_texts()
    assert sorted(labels) == sorted(["That is a happy dog", "That is a very happy person", "Today is a sunny day",
                                     "A fourth sentence"])  # fmt: skip
    snap(page, "similarity")

    page = open_page(f"/{NS}/qa")
    expect(page.get_by_label("Question")).to_have_value("Where do I live?")
    compute(page)
    answer = page.locator(".widget-output .answer strong").inner_text()
    assert answer and answer in "My name is Wolfgang and I live in Berlin"
    snap(page, "qa")

    page = open_page(f"/{NS}/feature-extraction")
    page.get_by_label("Text").fill("It was a bright and sunny day.")
    compute(page)
    assert page.locator(".widget-output table.numbers tr").count() >= 2
    snap(page, "features")
    no_js_errors(page)


def test_inference_off_shows_output_examples(open_page: Callable[..., Page], hub: Hub) -> None:
    api = api_of(hub)
    rid = f"{NS}/off"
    api.create_repo(rid)
    meta = (
        "pipeline_tag: text-classification\ninference: false\nwidget:\n"
        "- text: I like you\n  example_title: Liking\n  output:\n  - label: POSITIVE\n    score: 0.9\n"
        "  - label: NEGATIVE\n    score: 0.1\n"
        "- text: no output here\n"
    )
    cfg = json.dumps({"architectures": ["BertForSequenceClassification"], "model_type": "bert"}).encode()
    api.create_commit(rid, commit_message="off", operations=[
        CommitOperationAdd("config.json", cfg), CommitOperationAdd("README.md", readme(meta)),
    ])  # fmt: skip
    page = open_page(f"/{rid}")
    snap(page, "inference-off")
    widget = page.locator("#widget")
    expect(widget).to_contain_text("Inference API has been turned off for this model.")
    expect(widget.get_by_role("button", name="Compute")).to_have_count(0)
    figures = widget.locator("figure.widget-example-output")
    expect(figures).to_have_count(1)
    expect(figures).to_contain_text("Liking")
    assert figures.locator(".bar-label").all_inner_texts() == ["POSITIVE", "NEGATIVE"]


def test_widget_off_messages_and_url_state(
    open_page: Callable[..., Page], hub: Hub, tiny: dict[str, Path]
) -> None:
    """Models this server will not run say why (custom code; weights over AGORA_INFER_MAX_MODEL_MB, 1 MB in
    this module), with no Compute button; `?text=` fills the input (the Hub's URL state)."""
    push_tiny(hub, "custom-code", tiny)
    push_tiny(hub, "big", tiny)
    for name, message in (
        ("custom-code", "does not yet support model repos that contain custom code"),
        ("big", "too large to run on this server"),
    ):
        page = open_page(f"/{NS}/{name}")
        snap(page, name)
        expect(page.locator("#widget .widget-off")).to_contain_text(message)
        expect(page.locator("#widget").get_by_role("button", name="Compute")).to_have_count(0)
        assert api_of(hub).model_info(f"{NS}/{name}").inference is None
    assert api_of(hub).model_info(f"{NS}/gpt2").inference == "warm"
    page = open_page(f"/{NS}/text-classification?text=Hello%20from%20the%20URL")
    snap(page, "url-state")
    expect(page.get_by_label("Text")).to_have_value("Hello from the URL")


def test_phone_viewport(open_page: Callable[..., Page], hub: Hub) -> None:
    page = open_page(f"/{NS}/text-classification", viewport=(390, 844))
    snap(page, "phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    compute(page)
    box = page.locator("#widget").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    snap(page, "phone-result")


@pytest.fixture(scope="module")
def mic_browser(browser: Browser) -> Iterator[Browser]:
    """A second Chromium with a fake microphone (a beep) that needs no permission prompt."""
    if not CHROMIUM.exists():
        pytest.skip("no Chromium")
    b = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[*ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        headless=True,
    )
    yield b
    b.close()


def test_audio_record_sends_wav(open_page: Callable[..., Page], hub: Hub, mic_browser: Browser) -> None:
    api = api_of(hub)
    rid = f"{NS}/asr"
    api.create_repo(rid)
    cfg = json.dumps({"architectures": ["Wav2Vec2ForCTC"], "model_type": "wav2vec2"}).encode()
    api.create_commit(rid, commit_message="asr", operations=[
        CommitOperationAdd("config.json", cfg),
        CommitOperationAdd("README.md", readme("pipeline_tag: automatic-speech-recognition\n")),
    ])  # fmt: skip
    page = open_page(f"/{rid}", b=mic_browser)
    snap(page, "asr")
    bodies: list[Any] = []
    page.on("request", lambda r: bodies.append(r.post_data_buffer) if r.method == "POST" else None)
    rec = page.get_by_role("button", name="Record from browser")
    rec.click()
    expect(page.get_by_role("button", name="Stop recording")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(1200)
    page.get_by_role("button", name="Stop recording").click()
    expect(page.locator(".widget-file-name")).to_contain_text("recording.wav")
    expect(page.locator(".widget-output")).not_to_be_empty(timeout=60_000)  # the answer, or its error
    snap(page, "recorded")
    assert bodies, "nothing was sent"
    wav = bodies[-1]
    assert wav[:4] == b"RIFF" and wav[8:16] == b"WAVEfmt "
    assert int.from_bytes(wav[24:28], "little") == 16000  # resampled to 16 kHz mono 16-bit
    assert int.from_bytes(wav[22:24], "little") == 1 and int.from_bytes(wav[34:36], "little") == 16
    n = int.from_bytes(wav[40:44], "little")
    assert len(wav) == 44 + n and n > 16000, n  # about a second of sound


def test_loading_then_retry_and_errors(open_page: Callable[..., Page], hub: Hub) -> None:
    """A 503 with estimated_time shows "Model is loading", then the widget calls again with X-Wait-For-Model:
    true. The first answer is made up by the browser's router: this server says "currently loading" only when
    a load would take over AGORA_INFER_LOAD_WAIT (10 s; a tiny model loads in well under that). Any other
    error shows the body's `error`."""
    page = open_page(f"/{NS}/text-classification")
    snap(page, "loading")
    seen: list[str | None] = []

    def once(route: Any) -> None:
        seen.append(route.request.headers.get("x-wait-for-model"))
        if len(seen) == 1:
            body = {"error": "Model wendy/text-classification is currently loading", "estimated_time": 1.0}
            route.fulfill(status=503, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    page.route(f"**/models/{NS}/text-classification", once)
    page.get_by_role("button", name="Compute").click()
    expect(page.locator(".widget-loading")).to_contain_text("Model is loading")
    snap(page, "loading-bar")
    expect(page.locator(".widget-time")).to_contain_text("Computation time on cpu:", timeout=30_000)
    assert seen == ["false", "true"]
    assert sorted(page.locator(".widget-output .bar-label").all_inner_texts()) == ["NEGATIVE", "POSITIVE"]
    page.get_by_label("Text").fill("x" * 20_001)  # over AGORA_INFER_MAX_INPUT_CHARS: a 413 with its message
    page.get_by_role("button", name="Compute").click()
    expect(page.locator(".widget-error")).to_contain_text("longer than 20000 characters")
    snap(page, "error")
    page.get_by_label("Text").fill("")
    page.get_by_role("button", name="Compute").click()
    expect(page.locator(".widget-error")).to_have_text("Type some text first")


@pytest.fixture
def tiny(tiny_models: dict[str, Path]) -> dict[str, Path]:  # noqa: F811
    return tiny_models


def push_tiny(hub: Hub, name: str, tiny: dict[str, Path]) -> None:
    api = api_of(hub)
    api.create_repo(f"{NS}/{name}", exist_ok=True)
    api.upload_folder(repo_id=f"{NS}/{name}", folder_path=tiny[name])


def test_chat_widget_streams(open_page: Callable[..., Page], hub: Hub, tiny: dict[str, Path]) -> None:
    push_tiny(hub, "gpt2-chat", tiny)
    page = open_page(f"/{NS}/gpt2-chat")
    snap(page, "chat")
    expect(page.locator("#widget")).not_to_contain_text("No chat template found")
    box = page.get_by_label("Message")
    expect(box).to_have_value("Hi, what can you help me with?")  # the conversational defaults
    box.fill("Hello there")
    box.press("Control+Enter")
    expect(page.locator(".widget-time")).to_contain_text(
        re.compile(r"(Computation time on|Answered in) "), timeout=60_000
    )
    bubbles = page.locator("ol.chat-log li")
    expect(bubbles).to_have_count(2)
    assert bubbles.nth(0).locator(".content").inner_text() == "Hello there"
    assert (bubbles.nth(1).locator(".content").text_content() or "") != ""
    events = json.loads(page.locator(".widget-json").inner_text())
    assert len(events) >= 2 and events[0]["object"] == "chat.completion.chunk"
    snap(page, "chat-answer")


def test_asr_transcription(
    open_page: Callable[..., Page], hub: Hub, mic_browser: Browser, tiny: dict[str, Path]
) -> None:
    push_tiny(hub, "asr", tiny)
    page = open_page(f"/{NS}/asr", b=mic_browser)
    page.get_by_role("button", name="Record from browser").click()
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Stop recording").click()
    expect(page.locator(".widget-time")).to_contain_text("Computation time on cpu:", timeout=60_000)
    expect(page.locator(".widget-output p.transcription")).to_have_count(1)
    assert json.loads(page.locator(".widget-json").inner_text()).keys() >= {"text"}
    snap(page, "transcription")


def test_image_classification(
    open_page: Callable[..., Page], hub: Hub, tiny: dict[str, Path], tmp_path: Path
) -> None:
    push_tiny(hub, "image-classification", tiny)
    from PIL import Image

    img = tmp_path / "cat.png"
    Image.new("RGB", (48, 48), (200, 120, 40)).save(img)
    page = open_page(f"/{NS}/image-classification")
    page.locator("input.widget-file").set_input_files(str(img))
    expect(page.locator(".widget-preview")).to_be_visible()
    compute(page)
    labels = sorted(page.locator(".widget-output .bar-label").all_inner_texts())
    assert labels and set(labels) <= {"tiger", "teapot", "cat"}
    snap(page, "image")


def test_card_examples_are_text_not_markup(
    open_page: Callable[..., Page], hub: Hub, tiny: dict[str, Path]
) -> None:
    """Card examples reach the page as data (a JSON block, text nodes): markup in them never runs."""
    api = api_of(hub)
    rid = f"{NS}/hostile"
    api.create_repo(rid)
    evil = "</script><img src=x onerror=\"document.title='pwned'\">"
    meta = f"pipeline_tag: text-generation\nwidget:\n- text: {json.dumps(evil)}\n  example_title: {json.dumps(evil)}\n"
    api.create_commit(rid, commit_message="hostile", operations=[
        CommitOperationAdd(p.name, p.read_bytes()) for p in tiny["gpt2"].iterdir() if p.name != "README.md"
    ] + [CommitOperationAdd("README.md", readme(meta))])  # fmt: skip
    page = open_page(f"/{rid}")
    snap(page, "hostile")
    expect(page.get_by_label("Text")).to_have_value(evil)
    assert page.locator("#widget img").count() == 0 and page.title() != "pwned"
    compute(page)
    assert page.locator("#widget img").count() == 0 and page.title() != "pwned"
    api.upload_file(
        path_or_fileobj=readme(
            meta.replace("widget:", "inference: false\nwidget:")
            + f"  output:\n    text: {json.dumps(evil)}\n"
        ),
        path_in_repo="README.md",
        repo_id=rid,
    )
    page.reload()
    snap(page, "hostile-off")
    expect(page.locator("figure.widget-example-output .ex-output")).to_have_text(evil)
    assert page.locator("#widget img").count() == 0 and page.title() != "pwned"


def test_parameters_merge(open_page: Callable[..., Page], hub: Hub, tiny: dict[str, Path]) -> None:
    """The widget's default (max_new_tokens 20) < the card's `inference.parameters` < the example's own."""
    api = api_of(hub)
    rid = f"{NS}/params"
    api.create_repo(rid)
    meta = (
        "pipeline_tag: text-generation\ninference:\n  parameters:\n    max_new_tokens: 3\n    temperature: 0.5\n"
        "widget:\n- text: Once upon a time,\n- text: Paris is\n  example_title: Two tokens\n"
        "  parameters:\n    max_new_tokens: 2\n"
    )
    api.create_commit(rid, commit_message="params", operations=[
        CommitOperationAdd(p.name, p.read_bytes()) for p in tiny["gpt2"].iterdir() if p.name != "README.md"
    ] + [CommitOperationAdd("README.md", readme(meta))])  # fmt: skip
    page = open_page(f"/{rid}")
    snap(page, "params")
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if r.method == "POST" else None)
    compute(page)
    assert sent[-1] == {
        "inputs": "Once upon a time,",
        "parameters": {"max_new_tokens": 3, "temperature": 0.5},
    }
    page.get_by_label("Examples").select_option(label="Two tokens")
    compute(page)
    assert sent[-1]["parameters"] == {"max_new_tokens": 2, "temperature": 0.5}
    raw = json.loads(page.locator(".widget-json").inner_text())
    assert raw[0]["generated_text"].startswith("Paris is")
