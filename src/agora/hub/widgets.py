"""The inference widget's facts about a model, derived from its card and files (docs/inference.md §1).

- `widget_data`: the model API's `widgetData`: the card's `widget:` examples when valid, else the default
  examples of the model's task (English, as huggingface.co's `default-widget-inputs.ts`), `<mask>` replaced by
  the model's mask token. Validation errors use the Hub's words (`"widget" must be an array`).
- `displayability`: whether the model page may run the widget here, and if not why (Yes, ExplicitOptOut,
  CustomCode, PipelineNotDetected, PipelineLibraryPairNotSupported; TooBig is said by the inference service).
- `tokenizer_facts`: mask token and chat template from tokenizer_config.json / chat_template.jinja.
"""

from __future__ import annotations

import json
from typing import Any

# The tasks this server runs (agora/inference/handlers.py HANDLERS, plus the `tasks` slice's audio/image ones).
SERVED_TASKS = frozenset(
    {
        "text-generation",
        "fill-mask",
        "text-classification",
        "token-classification",
        "feature-extraction",
        "sentence-similarity",
        "zero-shot-classification",
        "question-answering",
        "summarization",
        "translation",
        "text2text-generation",
        "automatic-speech-recognition",
        "image-classification",
    }
)
SERVED_LIBRARIES = frozenset({"transformers", "sentence-transformers"})

_NAME = "My name is Wolfgang and I live in Berlin"
DEFAULTS_EN: dict[str, list[Any]] = {
    "text-classification": ["I like you. I love you"],
    "token-classification": [
        _NAME,
        "My name is Sarah and I live in London",
        "My name is Clara and I live in Berkeley, California.",
    ],
    "question-answering": [
        {"text": "Where do I live?", "context": _NAME},
        {"text": "Where do I live?", "context": "My name is Sarah and I live in London"},
        {"text": "What's my name?", "context": "My name is Clara and I live in Berkeley."},
        {
            "text": "Which name is also used to describe the Amazon rainforest in English?",
            "context": "The Amazon rainforest, also known in English as Amazonia or the Amazon Jungle, is a "
            "moist broadleaf forest that covers most of the Amazon basin of South America.",
        },
    ],  # fmt: skip
    "zero-shot-classification": [
        {
            "text": "I have a problem with my iphone that needs to be resolved asap!",
            "candidate_labels": "urgent, not urgent, phone, tablet, computer",
            "multi_class": True,
        },
        {
            "text": "Last week I upgraded my iOS version and ever since then my phone has been overheating "
            "whenever I use your app.",
            "candidate_labels": "mobile, website, billing, account access",
            "multi_class": False,
        },
        {
            "text": "A new model offers an explanation for how the Galilean satellites formed around the solar "
            "system's largest world.",
            "candidate_labels": "space & cosmos, scientific discovery, microbiology, robots, archeology",
            "multi_class": True,
        },
    ],  # fmt: skip
    "translation": [_NAME, "My name is Sarah and I live in London"],
    "summarization": [
        "The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building, and the "
        "tallest structure in Paris. Its base is square, measuring 125 metres (410 ft) on each side. During "
        "its construction, the Eiffel Tower surpassed the Washington Monument to become the tallest man-made "
        "structure in the world, a title it held for 41 years until the Chrysler Building in New York City "
        "was finished in 1930."
    ],
    "conversational": [
        "Hi, what can you help me with?",
        "What is 84 * 3 / 2?",
        "Tell me an interesting fact about the universe!",
    ],
    "text-generation": [
        "My name is Julien and I like to",
        "I like traveling by train because",
        "Paris is an amazing place to visit,",
        "Once upon a time,",
    ],
    "text2text-generation": ["The answer to the universe is"],
    "fill-mask": ["Paris is the <mask> of France.", "The goal of life is <mask>."],
    "sentence-similarity": [
        {
            "source_sentence": "That is a happy person",
            "sentences": ["That is a happy dog", "That is a very happy person", "Today is a sunny day"],
        }
    ],
}


def widget_kind(pipeline_tag: str | None, tags: list[str] | tuple[str, ...]) -> str | None:
    """The widget a model gets: its pipeline_tag, or "conversational" for a chat model."""
    if pipeline_tag in ("text-generation", "image-text-to-text") and "conversational" in tags:
        return "conversational"
    return pipeline_tag


# The keys an example needs per widget (the legacy widget's validators); others are not offered.
_NEEDS: dict[str, tuple[str, ...]] = {
    "question-answering": ("text", "context"),
    "zero-shot-classification": ("text", "candidate_labels"),
    "sentence-similarity": ("source_sentence", "sentences"),
    "image-classification": ("src",),
    "automatic-speech-recognition": ("src",),
}


def example_fits(kind: str | None, ex: dict[str, Any]) -> bool:
    """Whether a `widget:` example has the inputs the task's widget takes (chat: text or messages)."""
    if kind == "conversational":
        return isinstance(ex.get("text"), str) or isinstance(ex.get("messages"), list)
    if kind == "sentence-similarity":
        return isinstance(ex.get("source_sentence"), str) and isinstance(ex.get("sentences"), list)
    return all(isinstance(ex.get(k), str) for k in _NEEDS.get(kind or "", ("text",)))


def widget_errors(widget: Any) -> list[str]:
    """The card's `widget:` validation errors, in the Hub's words."""
    if widget is None:
        return []
    if not isinstance(widget, list):
        return ['"widget" must be an array']
    return [f'"widget[{i}]" must be of type object' for i, x in enumerate(widget) if not isinstance(x, dict)]


def widget_data(
    card: dict[str, Any] | None,
    pipeline_tag: str | None,
    mask_token: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """`widgetData`: the card's valid `widget:`, else the task's default examples (mask token filled in)."""
    w = (card or {}).get("widget")
    if w is not None and not widget_errors(w):
        return list(w)
    kind = widget_kind(pipeline_tag, tags)
    out = [x if isinstance(x, dict) else {"text": x} for x in DEFAULTS_EN.get(kind or "", [])]
    if mask_token:
        out = [
            {k: v.replace("<mask>", mask_token) if isinstance(v, str) else v for k, v in x.items()}
            for x in out
        ]
    return out


def displayability(
    card: dict[str, Any] | None,
    library: str | None,
    pipeline_tag: str | None,
    config: dict[str, Any] | None,
) -> str:
    """Yes | ExplicitOptOut | CustomCode | PipelineNotDetected | PipelineLibraryPairNotSupported."""
    if (card or {}).get("inference") is False:
        return "ExplicitOptOut"
    if config and config.get("auto_map"):  # the Hub's rule too (tag custom_code): never run here
        return "CustomCode"
    if not pipeline_tag:
        return "PipelineNotDetected"
    if library not in SERVED_LIBRARIES or pipeline_tag not in SERVED_TASKS:
        return "PipelineLibraryPairNotSupported"
    return "Yes"


def tokenizer_facts(tokenizer_config: bytes | None, chat_template_jinja: bytes | None) -> dict[str, Any]:
    """{"mask_token"?, "chat_template"?} from tokenizer_config.json and chat_template.jinja (transformers 5
    saves the template there; the Hub answers it as config.tokenizer_config.chat_template)."""
    out: dict[str, Any] = {}
    try:
        tc = json.loads(tokenizer_config) if tokenizer_config else None
    except ValueError:
        tc = None
    if isinstance(tc, dict):
        mask = tc.get("mask_token")
        if isinstance(mask, dict):  # an AddedToken's form
            mask = mask.get("content")
        if isinstance(mask, str) and mask:
            out["mask_token"] = mask
        if isinstance(tc.get("chat_template"), (str, list)):
            out["chat_template"] = tc["chat_template"]
    if "chat_template" not in out and chat_template_jinja:
        out["chat_template"] = chat_template_jinja.decode("utf-8", "replace")
    return out
