"""The inference widget's context for the model page (templates/_widget.html; static/widget.js runs it).

Which widget (hub/widgets.py `widget_kind`), whether it may run here (api/common.py `inference_display`),
the examples from `widgetData`, and the card's `inference.parameters` merged into every call."""

from __future__ import annotations

from typing import Any

from ...hub import widgets
from ...hub.repos import Repo
from ...ids import repo_full
from ..api.common import inference_display

MESSAGES = {
    "ExplicitOptOut": "Inference API has been turned off for this model.",
    "CustomCode": "Inference API does not yet support model repos that contain custom code.",
    "PipelineNotDetected": "Unable to determine this model's pipeline type.",
    "PipelineLibraryPairNotSupported": "This server cannot run this model's task ({task}) with its library.",
    "TooBig": "This model is too large to run on this server (AGORA_INFER_MAX_MODEL_MB).",
    "NotInstalled": "Inference is not enabled on this server: install it with "
    "pip install 'agora-hub[inference]' (torch, CPU build) and restart the server.",
}


def context(repo: Repo, tags: list[str]) -> dict[str, Any]:
    derived = repo.derived or {}
    card = repo.card_data if isinstance(repo.card_data, dict) else {}
    display = inference_display(repo)
    kind = widgets.widget_kind(repo.pipeline_tag, tags)
    examples = [x for x in derived.get("widgetData") or [] if isinstance(x, dict)]
    if display == "Yes":
        examples = [x for x in examples if widgets.example_fits(kind, x)]
    inference = card.get("inference")
    params = inference.get("parameters") if isinstance(inference, dict) else None
    cfg = derived.get("config") or {}
    return {
        "display": display,
        "message": MESSAGES.get(display, "").format(task=repo.pipeline_tag),
        "task": repo.pipeline_tag,
        "kind": kind,
        "model": repo_full(repo.namespace, repo.name),
        "url": f"/models/{repo_full(repo.namespace, repo.name)}",
        "examples": examples,
        "params": params if isinstance(params, dict) else {},
        "mask_token": derived.get("mask_token"),
        "chat_template": bool((cfg.get("tokenizer_config") or {}).get("chat_template")),
    }
