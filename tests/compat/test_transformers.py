"""transformers loads a config and a fast tokenizer from Agora (no torch: config and tokenizer only).

The files are built offline by the test: a tiny BERT config.json, and a WordLevel tokenizer trained
with the `tokenizers` library, wrapped in PreTrainedTokenizerFast and saved with save_pretrained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "agora serves models and datasets",
    "hello world from a tiny tokenizer",
]

CONFIG = {
    "model_type": "bert",
    "architectures": ["BertModel"],
    "vocab_size": 64,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
}


def build_tokenizer(folder: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(str(folder))
    return fast


@pytest.fixture
def model_repo(server, alice: str, tmp_path: Path, repo_name: str):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text(json.dumps(CONFIG, indent=2))
    local = build_tokenizer(src)
    assert (src / "tokenizer.json").is_file() and (src / "tokenizer_config.json").is_file()
    repo = f"alice/{repo_name}"
    api = HfApi(token=alice)
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(src), commit_message="tiny bert")
    return repo, local, src


def test_auto_config(model_repo, alice: str, tmp_path: Path) -> None:
    from transformers import AutoConfig, BertConfig

    repo, _, _ = model_repo
    cfg = AutoConfig.from_pretrained(repo, token=alice, cache_dir=str(tmp_path / "cache"))
    assert isinstance(cfg, BertConfig)
    for key, value in CONFIG.items():
        assert getattr(cfg, key) == value, key


def test_auto_tokenizer(model_repo, alice: str, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    repo, local, src = model_repo
    tok = AutoTokenizer.from_pretrained(repo, token=alice, cache_dir=str(tmp_path / "cache"))
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert tok.get_vocab() == local.get_vocab()
    assert (tok.cls_token, tok.sep_token, tok.pad_token, tok.unk_token, tok.mask_token) == (
        "[CLS]",
        "[SEP]",
        "[PAD]",
        "[UNK]",
        "[MASK]",
    )

    text = "the quick agora fox serves unknownword"
    enc = tok(text)
    assert enc["input_ids"] == local(text)["input_ids"]
    ids = enc["input_ids"]
    vocab = local.get_vocab()
    assert ids[0] == vocab["[CLS]"] and ids[-1] == vocab["[SEP]"]
    assert vocab["[UNK]"] in ids  # "unknownword" was never seen
    assert tok.convert_ids_to_tokens(ids)[1:4] == ["the", "quick", "agora"]

    pair = tok("hello world", "tiny dog", return_token_type_ids=True)
    assert dict(pair) == dict(local("hello world", "tiny dog", return_token_type_ids=True))
    assert pair["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]

    batch = tok(["hello", "the lazy dog"], padding=True)
    assert batch["input_ids"] == local(["hello", "the lazy dog"], padding=True)["input_ids"]
    assert batch["input_ids"][0][-1] == vocab["[PAD]"]

    # The files the hub served are byte-identical to what was uploaded.
    from huggingface_hub import hf_hub_download

    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        got = hf_hub_download(repo, name, token=alice, cache_dir=str(tmp_path / "cache2"))
        assert Path(got).read_bytes() == (src / name).read_bytes()


def test_pinned_revision_and_offline_reuse(model_repo, alice: str, tmp_path: Path) -> None:
    """Loading at the commit sha works, and a second load is served from the cache."""
    from huggingface_hub import HfApi
    from transformers import AutoConfig, AutoTokenizer

    repo, local, _ = model_repo
    sha = HfApi(token=alice).model_info(repo).sha
    assert sha and len(sha) == 40
    cache = str(tmp_path / "cache")
    cfg = AutoConfig.from_pretrained(repo, revision=sha, token=alice, cache_dir=cache)
    assert cfg.hidden_size == CONFIG["hidden_size"]
    tok = AutoTokenizer.from_pretrained(repo, revision=sha, token=alice, cache_dir=cache)
    assert tok("hello world")["input_ids"] == local("hello world")["input_ids"]

    # HF_HUB_OFFLINE is read at import; local_files_only forbids any request.
    tok2 = AutoTokenizer.from_pretrained(repo, revision=sha, cache_dir=cache, local_files_only=True)
    assert tok2.get_vocab() == local.get_vocab()


def test_private_repo_needs_token(model_repo, alice: str, tmp_path: Path) -> None:
    from huggingface_hub import HfApi
    from transformers import AutoConfig

    repo, _, _ = model_repo
    HfApi(token=alice).update_repo_settings(repo, private=True)
    with pytest.raises(OSError):
        AutoConfig.from_pretrained(repo, token=False, cache_dir=str(tmp_path / "anon"))
    cfg = AutoConfig.from_pretrained(repo, token=alice, cache_dir=str(tmp_path / "ok"))
    assert cfg.vocab_size == CONFIG["vocab_size"]
