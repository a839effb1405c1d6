"""Tiny random transformers models, built offline at test time (docs: ../shared inference.md §3.3 recipe).

`build(dest)` writes one folder per model (each 100-200 KiB: model.safetensors, tokenizer, config, a card
with its pipeline_tag) in about 0.2 s after the imports; two builds are byte-for-byte identical (the
WordPiece vocab is built by hand, `torch.manual_seed(0)` before each model). Also two hostile repos: one
whose config needs custom code (`evil.py` would write a marker file), one whose only weights are a pickle
that would run a command (it would write a marker file too). The `tiny_models` fixture builds them once per
session; import it into a test module (`from ..tiny_models import tiny_models  # noqa: F401`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

CORPUS = [
    "It was a bright and sunny day.",
    "My name is Wolfgang and I live in Berlin",
    "Paris is the capital of France.",
    "I like you. I love you",
    "That is a happy person",
    "urgent, not urgent, phone",
    "Once upon a time,",
] * 20
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]


def card(tag: str, extra: str = "") -> str:
    return f"---\npipeline_tag: {tag}\n{extra}---\n# tiny {tag}\n"


def _wordpiece():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for line in CORPUS for w in re.findall(r"\w+|[^\w\s]", line.lower())})
    chars = sorted({c for w in words for c in w})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + chars + ["##" + c for c in chars] + words))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=128,
    )  # fmt: skip


def _bpe(specials: list[str]):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def _bert(tok, **kw):  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertConfig

    torch.manual_seed(0)
    return BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, pad_token_id=tok.pad_token_id, **kw,
    )  # fmt: skip


def _save(d: Path, model, tok, readme: str) -> None:  # type: ignore[no-untyped-def]
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)
    tok.save_pretrained(d)
    (d / "README.md").write_text(readme)


def _labels(names: list[str]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def build(dest: Path, marker_dir: Path) -> dict[str, Path]:
    """Every tiny model under `dest`; the hostile ones would write into `marker_dir` if they ever ran."""
    import torch
    import transformers
    from transformers import (
        BertForMaskedLM,
        BertForQuestionAnswering,
        BertForSequenceClassification,
        BertForTokenClassification,
        BertModel,
        GPT2Config,
        GPT2LMHeadModel,
        PreTrainedTokenizerFast,
    )

    transformers.utils.logging.disable_progress_bar()
    out: dict[str, Path] = {}
    wp = _wordpiece()

    g = PreTrainedTokenizerFast(
        tokenizer_object=_bpe(["<|endoftext|>"]), bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        unk_token="<|endoftext|>", model_max_length=128,
    )  # fmt: skip
    torch.manual_seed(0)
    gpt = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(g),
            n_positions=128,
            n_embd=32,
            n_layer=2,
            n_head=2,
            bos_token_id=g.bos_token_id,
            eos_token_id=g.eos_token_id,
        )  # fmt: skip
    )
    widget = 'widget:\n- text: "It was a bright and sunny day."\n'
    _save(dest / "gpt2", gpt, g, card("text-generation", widget))
    _save(dest / "fill-mask", BertForMaskedLM(_bert(wp)), wp, card("fill-mask"))
    cls = BertForSequenceClassification(_bert(wp, **_labels(["NEGATIVE", "POSITIVE"])))
    _save(dest / "text-classification", cls, wp, card("text-classification"))
    ner = BertForTokenClassification(_bert(wp, **_labels(NER_LABELS)))
    _save(dest / "ner", ner, wp, card("token-classification"))
    _save(dest / "feature-extraction", BertModel(_bert(wp)), wp, card("feature-extraction"))
    nli = BertForSequenceClassification(_bert(wp, **_labels(NLI_LABELS)))
    _save(dest / "nli", nli, wp, card("zero-shot-classification"))
    _save(dest / "qa", BertForQuestionAnswering(_bert(wp)), wp, card("question-answering"))
    # sentence-transformers layout: modules.json + 1_Pooling (mean) + Normalize (its folder is absent, as in
    # the all-MiniLM-L6-v2 package: detected by the module's type)
    st = dest / "sentence"
    _save(st, BertModel(_bert(wp)), wp, card("sentence-similarity", "library_name: sentence-transformers\n"))
    (st / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]))  # fmt: skip
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    _bart(dest, PreTrainedTokenizerFast)
    big = _bert(wp)  # ~2 MB of weights: over a 1 MB AGORA_INFER_MAX_MODEL_MB
    big.hidden_size, big.intermediate_size, big.num_attention_heads = 128, 512, 4
    _save(dest / "big", BertModel(big), wp, card("feature-extraction"))
    out.update({p.name: p for p in dest.iterdir()})
    out["custom-code"] = _custom_code(dest / "custom-code", marker_dir / "custom-code-ran")
    out["pickle"] = _evil_pickle(dest / "pickle", marker_dir / "pickle-ran", wp)
    return out


def _bart(dest: Path, fast) -> None:  # type: ignore[no-untyped-def]
    """One tiny BART, three repos: summarization, translation, text2text-generation (transformers 5 has no
    pipeline for them: Agora's own handlers)."""
    import torch
    from tokenizers import processors
    from transformers import BartConfig, BartForConditionalGeneration

    bpe = _bpe(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bpe.token_to_id("<s>")), ("</s>", bpe.token_to_id("</s>"))],
    )
    s = fast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        mask_token="<mask>", model_max_length=128,
    )  # fmt: skip
    torch.manual_seed(0)
    b = BartForConditionalGeneration(
        BartConfig(
            vocab_size=len(s),
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=128,
            pad_token_id=s.pad_token_id,
            bos_token_id=s.bos_token_id,
            eos_token_id=s.eos_token_id,
            decoder_start_token_id=s.eos_token_id,
            forced_eos_token_id=s.eos_token_id,
        )  # fmt: skip
    )
    b.generation_config.min_new_tokens = 4  # random weights often end at once: an empty text
    for task in ("summarization", "translation", "text2text-generation"):
        _save(dest / f"bart-{task}", b, s, card(task))


def _custom_code(d: Path, marker: Path) -> Path:
    """A model type transformers does not know, whose auto_map points at code in the repo."""
    import torch
    from safetensors.torch import save_file

    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({
        "model_type": "agora-evil", "architectures": ["EvilModel"],
        "auto_map": {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"},
    }))  # fmt: skip
    (d / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    save_file({"w": torch.zeros(2)}, str(d / "model.safetensors"))
    (d / "README.md").write_text(card("feature-extraction"))
    return d


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _evil_pickle(d: Path, marker: Path, tok) -> Path:  # type: ignore[no-untyped-def]
    """A BERT config whose only weights are pytorch_model.bin: a pickle that runs a command when loaded."""
    import torch

    d.mkdir(parents=True)
    _bert(tok).save_pretrained(d)
    torch.save({"bert.embeddings.word_embeddings.weight": _Evil(marker)}, d / "pytorch_model.bin")
    tok.save_pretrained(d)
    (d / "README.md").write_text(card("feature-extraction"))
    return d


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    markers = root / "markers"
    markers.mkdir()
    models = build(root / "models", markers)
    models["markers"] = markers
    return models
