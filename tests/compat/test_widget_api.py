"""The model API's inference widget fields, read through huggingface_hub's model_info (docs/inference.md §1.5):
widgetData (the card's `widget:`, else the task's defaults with the model's mask token), mask_token, inference
("warm" when served here, absent otherwise), cardData.inference, transformersInfo and the chat template (from
tokenizer_config.json or transformers 5's chat_template.jinja). Only metadata files: nothing is run."""

from __future__ import annotations

import json

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError

from ..conftest import ENDPOINT

BERT = json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}).encode()
GPT2 = json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}).encode()
TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"


def card(meta: str) -> bytes:
    return f"---\n{meta}---\n# tiny\n".encode()


def commit(api: HfApi, rid: str, files: dict[str, bytes]) -> None:
    api.create_repo(rid, exist_ok=True)
    api.create_commit(
        rid, commit_message="files", operations=[CommitOperationAdd(p, b) for p, b in files.items()]
    )


def test_fill_mask_defaults_with_mask_token(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    commit(api, rid, {
        "config.json": BERT,
        "tokenizer_config.json": json.dumps({"mask_token": "[MASK]", "tokenizer_class": "BertTokenizer"}).encode(),
        "README.md": card("license: mit\n"),
    })  # fmt: skip
    info = api.model_info(rid)
    assert info.pipeline_tag == "fill-mask"  # from config.json's architecture: the card names none
    assert info.mask_token == "[MASK]"
    assert info.widget_data == [
        {"text": "Paris is the [MASK] of France."},
        {"text": "The goal of life is [MASK]."},
    ]
    assert info.transformers_info is not None
    assert info.transformers_info.auto_model == "AutoModelForMaskedLM"
    assert (
        info.transformers_info.pipeline_tag == "fill-mask"
        and info.transformers_info.processor == "AutoTokenizer"
    )
    assert info.inference == "warm"


def test_card_widget_wins_and_inference_off(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    meta = (
        "pipeline_tag: text-generation\nwidget:\n- text: It was a bright and sunny day.\n  example_title: Sunny\n"
        "  output:\n    text: It was a bright and sunny day. The end.\n"
    )
    commit(api, rid, {"config.json": GPT2, "README.md": card(meta)})
    info = api.model_info(rid)
    expected = {"text": "It was a bright and sunny day.", "example_title": "Sunny",
                "output": {"text": "It was a bright and sunny day. The end."}}  # fmt: skip
    assert info.widget_data == [expected]
    assert info.inference == "warm"
    api.upload_file(path_or_fileobj=card(meta + "inference: false\n"), path_in_repo="README.md", repo_id=rid)
    info = api.model_info(rid)
    assert info.card_data is not None and info.card_data.inference is False
    assert info.inference is None  # not served: absent, as on the Hub
    assert info.widget_data == [expected]
    meta2 = "pipeline_tag: text-generation\ninference:\n  parameters:\n    temperature: 0.7\n"
    api.upload_file(path_or_fileobj=card(meta2), path_in_repo="README.md", repo_id=rid)
    info = api.model_info(rid)
    assert info.card_data.inference == {"parameters": {"temperature": 0.7}} and info.inference == "warm"
    assert info.widget_data[0] == {"text": "My name is Julien and I like to"}  # the task's defaults


@pytest.mark.parametrize("where", ["chat_template.jinja", "tokenizer_config.json"])
def test_chat_template(api: HfApi, repo_name: str, where: str) -> None:
    rid = f"alice/{repo_name}"
    files = {
        "config.json": GPT2,
        "README.md": card("pipeline_tag: text-generation\ntags: [conversational]\n"),
    }
    if where == "chat_template.jinja":
        files["chat_template.jinja"] = TEMPLATE.encode()
        files["tokenizer_config.json"] = json.dumps({"eos_token": "<|endoftext|>"}).encode()
    else:
        files["tokenizer_config.json"] = json.dumps({"chat_template": TEMPLATE}).encode()
    commit(api, rid, files)
    info = api.model_info(rid)
    assert info.config is not None and info.config["tokenizer_config"]["chat_template"] == TEMPLATE
    assert info.config["architectures"] == ["GPT2LMHeadModel"]
    assert info.widget_data[0] == {"text": "Hi, what can you help me with?"}  # the conversational defaults


def test_not_served(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}-custom"
    cfg = {"architectures": ["EvilModel"], "model_type": "evil", "auto_map": {"AutoModel": "evil.EvilModel"}}
    commit(
        api,
        rid,
        {"config.json": json.dumps(cfg).encode(), "README.md": card("pipeline_tag: feature-extraction\n")},
    )
    assert api.model_info(rid).inference is None
    rid = f"alice/{repo_name}-none"
    commit(api, rid, {"README.md": card("license: mit\n")})
    info = api.model_info(rid)
    assert info.inference is None and info.pipeline_tag is None and info.widget_data is None


@pytest.mark.parametrize(
    "meta,message",
    [
        ("widget: hello\n", '"widget" must be an array'),
        ("widget:\n- hello\n", '"widget[0]" must be of type object'),
    ],
)
def test_widget_errors_in_the_hubs_words(
    api: HfApi, alice: str, repo_name: str, meta: str, message: str
) -> None:
    r = httpx.post(
        f"{ENDPOINT}/api/validate-yaml",
        json={"content": card(meta).decode(), "repoType": "model"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert r.status_code == 400 and any(e["message"].startswith(message) for e in r.json()["errors"]), r.text
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    with pytest.raises((ValueError, HfHubHTTPError)) as e:  # the client checks with /api/validate-yaml first
        api.upload_file(path_or_fileobj=card(meta), path_in_repo="README.md", repo_id=rid)
    assert message in str(e.value)


def test_nli_classifier_is_zero_shot(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    labels = {"0": "contradiction", "1": "neutral", "2": "entailment"}
    cfg = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "id2label": labels}
    commit(api, rid, {"config.json": json.dumps(cfg).encode()})
    info = api.model_info(rid)
    assert info.pipeline_tag == "zero-shot-classification"
    assert info.widget_data[0]["candidate_labels"] == "urgent, not urgent, phone, tablet, computer"
