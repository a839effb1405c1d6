"""Card parsing, validation and tag derivation (hub/cards.py), without a server."""

from __future__ import annotations

from agora.hub import cards


def test_parse_reports_yaml_errors_with_readme_line() -> None:
    card = cards.parse("---\nlicense: mit\ntags: [a\n---\nbody")
    assert card.data is None and card.yaml_error and "line" in card.yaml_error


def test_unclosed_front_matter() -> None:
    assert "never closed" in (cards.parse("---\nlicense: mit\n").yaml_error or "")


def test_no_front_matter_is_fine() -> None:
    card = cards.parse("# Title\n")
    assert card.data is None and card.yaml_error is None and card.body == "# Title\n"


def test_validation_names_field_and_line() -> None:
    card = cards.parse("---\nlicense: mit\nlanguage:\n- en\n- english\n---\n")
    errors, _ = cards.validate(card, "model")
    assert len(errors) == 1 and '"language"' in errors[0] and "line 5" in errors[0]


def test_a_pipeline_tag_that_is_not_a_string_is_an_error_not_a_crash() -> None:
    for value in ("[text-classification]", "{a: 1}", "[[x]]"):
        card = cards.parse(f"---\npipeline_tag: {value}\n---\n")
        errors, _ = cards.validate(card, "model")
        assert len(errors) == 1 and '"pipeline_tag" must be a task' in errors[0], errors
        assert cards.derive("model", card, ["README.md"]).pipeline_tag is None


def test_seed_tags_detect_language_and_task() -> None:
    card = cards.parse("---\ntags:\n- es\n- bert\n- text-classification\ndatasets:\n- llamas\n---\n")
    d = cards.derive("model", card, ["README.md"])
    assert d.pipeline_tag == "text-classification"
    assert d.languages == ["es"]
    assert {"es", "bert", "text-classification", "dataset:llamas"} <= set(d.tags)


def test_library_and_frameworks_from_files() -> None:
    d = cards.derive("model", cards.parse(""), ["model.joblib"])
    assert d.library_name == "sklearn"
    d = cards.derive(
        "model",
        cards.parse(""),
        ["config.json", "model.safetensors", "pytorch_model.bin"],
        {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"},
        has_tokenizer=True,
    )
    assert d.library_name == "transformers" and d.pipeline_tag == "text-generation"
    assert {"transformers", "safetensors", "pytorch", "gpt2"} <= set(d.tags)
    assert d.extra["transformersInfo"] == {
        "auto_model": "AutoModelForCausalLM",
        "pipeline_tag": "text-generation",
        "processor": "AutoTokenizer",
    }


def test_base_model_relation_inferred() -> None:
    card = cards.parse("---\nbase_model: org/base\n---\n")
    assert cards.derive("model", card, ["adapter_config.json"]).base_models == [("org/base", "adapter")]
    assert cards.derive("model", card, ["m.gguf"]).base_models == [("org/base", "quantized")]
    assert cards.derive("model", card, ["config.json"]).base_models == [("org/base", "finetune")]


def test_dataset_prefixed_tags() -> None:
    card = cards.parse(
        "---\ntask_categories:\n- translation\nlanguage:\n- fr\nsize_categories:\n- n<1K\n---\n"
    )
    d = cards.derive("dataset", card, ["data/train.parquet"])
    assert {"task_categories:translation", "language:fr", "size_categories:n<1K", "format:parquet"} <= set(
        d.tags
    )


def test_bounded_yaml_refuses_bombs_loops_and_depth() -> None:
    from agora.config import CardLimits

    lim = CardLimits(max_yaml_bytes=10_000, max_nodes=1000, max_depth=10, max_json_bytes=5000)
    bomb = "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    for text, word in [
        (bomb, "values"),
        ("a: &x [1, *x]\n", "recursive"),
        ("a: " + "[" * 11 + "]" * 11, "nested"),
        ("a: " + "x" * 10_001, "bytes long"),
        ("a: &s " + "y" * 1000 + "\nb: [*s,*s,*s,*s,*s,*s]\n", "bytes"),
    ]:
        try:
            cards.load_yaml(text, lim=lim)
        except cards.YamlRefused as e:
            assert word in e.message, (word, e.message)
        else:
            raise AssertionError(f"accepted: {text[:40]!r}")
    data, _ = cards.load_yaml("a: &a [1, 2]\nb: *a\nd: 2024-01-02\n", lim=lim)
    assert data == {"a": [1, 2], "b": [1, 2], "d": "2024-01-02"}


def test_card_errors_stay_short_and_carry_no_data() -> None:
    card = cards.parse("---\nlicense: mit\nx: &x [*x]\n---\nbody")
    assert card.data is None and card.yaml_error and "recursive" in card.yaml_error
    errors, _ = cards.validate(card, "model")
    assert errors == [card.yaml_error]
