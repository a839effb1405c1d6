"""The "Use this model" snippets chosen from a repo's library, tags and files (hub/snippets.py), without a server."""

from __future__ import annotations

import ast
import shlex

import pytest

from agora.hub import snippets
from agora.hub.snippets import ModelFacts

HOST = "http://127.0.0.1:8000"


def keys(m: ModelFacts) -> list[str]:
    return [s.key for s in snippets.choose(m, HOST, m.repo_id)]


def code(m: ModelFacts, key: str) -> str:
    return next(s.code for s in snippets.choose(m, HOST, m.repo_id) if s.key == key)


def test_transformers_with_a_pipeline_task_gets_the_pipeline_and_the_auto_class() -> None:
    m = ModelFacts(
        "alice/tiny", "transformers", "text-classification", ["transformers"], ["config.json", "model.safetensors"],
        auto_model="AutoModelForSequenceClassification", processor="AutoTokenizer",
    )  # fmt: skip
    assert keys(m) == ["transformers", "hf", "git"]
    c = code(m, "transformers")
    assert 'pipeline("text-classification", model="alice/tiny")' in c
    assert "from transformers import AutoTokenizer, AutoModelForSequenceClassification" in c
    assert 'tokenizer = AutoTokenizer.from_pretrained("alice/tiny")' in c


def test_transformers_without_a_pipeline_task_gets_automodel() -> None:
    m = ModelFacts("alice/t5", "transformers", "translation", [], ["config.json"])
    c = code(m, "transformers")
    assert "pipeline" not in c and 'model = AutoModel.from_pretrained("alice/t5")' in c


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (ModelFacts("a/st", "sentence-transformers", "sentence-similarity", [], ["config.json", "modules.json"]),
         ["sentence-transformers", "transformers", "hf", "git"]),
        (ModelFacts("a/sd", "diffusers", "text-to-image", [], ["model_index.json", "unet/config.json"]),
         ["diffusers", "hf", "git"]),
        (ModelFacts("a/sk", "sklearn", "tabular-classification", [], ["model.joblib", "README.md"]),
         ["sklearn", "hf", "git"]),
        (ModelFacts("a/sk2", None, None, [], ["skops/model.pkl", "clf.joblib"]), ["sklearn", "hf", "git"]),
        (ModelFacts("a/timm", "timm", "image-classification", ["timm", "image-classification"], ["config.json"]),
         ["timm", "hf", "git"]),
        (ModelFacts("a/lora", "peft", None, ["peft"], ["adapter_config.json", "adapter_model.safetensors"],
                    base_models=["a/base"]), ["peft", "hf", "git"]),
        (ModelFacts("a/lora2", "transformers", "text-generation", [], ["adapter_config.json", "config.json"]),
         ["transformers", "peft", "hf", "git"]),
        (ModelFacts("a/q", "gguf", None, ["gguf"], ["q4/model-Q4_K_M.gguf", "model-Q8_0.gguf"]), ["gguf", "hf", "git"]),
        (ModelFacts("a/empty"), ["hf", "git"]),
    ],
)  # fmt: skip
def test_snippets_follow_library_and_files(facts: ModelFacts, expected: list[str]) -> None:
    assert keys(facts) == expected


def test_each_library_snippet_names_the_repo_and_its_file() -> None:
    sk = ModelFacts("a/sk2", None, None, [], ["skops/model.pkl", "clf.joblib"])
    assert 'joblib.load(hf_hub_download("a/sk2", "clf.joblib"))' in code(sk, "sklearn")  # .joblib first
    lora = ModelFacts("a/lora", "peft", None, [], ["adapter_config.json"], base_models=["a/base"])
    assert 'AutoModelForCausalLM.from_pretrained("a/base")' in code(lora, "peft")
    assert 'PeftModel.from_pretrained(base_model, "a/lora")' in code(lora, "peft")
    assert 'AutoPeftModel.from_pretrained("a/lora")' in code(
        ModelFacts("a/lora", None, None, [], ["adapter_config.json"]), "peft"
    )
    q = ModelFacts("a/q", "gguf", None, [], ["q4/model-Q4_K_M.gguf", "model-Q8_0.gguf"])
    assert 'Llama.from_pretrained(repo_id="a/q", filename="model-Q8_0.gguf")' in code(q, "gguf")
    assert 'timm.create_model("hf-hub:a/timm", pretrained=True)' in code(ModelFacts("a/timm", "timm"), "timm")
    assert 'DiffusionPipeline.from_pretrained("a/sd")' in code(ModelFacts("a/sd", "diffusers"), "diffusers")
    assert 'SentenceTransformer("a/st")' in code(
        ModelFacts("a/st", "sentence-transformers"), "sentence-transformers"
    )


def test_cli_git_and_endpoint_lines_use_this_host() -> None:
    m = ModelFacts("gpt2")  # a canonical repo: one segment
    assert code(m, "hf").splitlines()[-1] == "hf download gpt2"
    assert code(m, "git").splitlines()[-1] == f"git clone {HOST}/gpt2"
    assert snippets.endpoint_line(HOST + "/") == f"export HF_ENDPOINT={HOST}"


ODD = ['a/x"y', "a/x'y", "a/$(touch pwned)", "a/x\\ny", 'a/"""', "a/é\u2028z", "a/<script>"]


@pytest.mark.parametrize("rid", ODD)
def test_odd_ids_stay_literals_in_python_and_shell(rid: str) -> None:
    m = ModelFacts(rid, "transformers", "fill-mask", ["timm"], ["config.json", 'we"ird.joblib', "x'y.gguf"])
    for s in snippets.choose(m, "http://h:1/a b", rid):
        if s.lang == "python":
            tree = ast.parse(s.code)  # valid Python, and the id is one string constant
            consts = [
                n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            assert rid in consts or "hf-hub:" + rid in consts, (s.key, s.code)
        else:
            words = [shlex.split(line) for line in s.code.split("\n") if line and not line.startswith("#")]
            assert [rid] in [w[2:] for w in words if w[:2] == ["hf", "download"]] or [
                f"http://h:1/a b/{rid}"
            ] in [w[2:] for w in words if w[:2] == ["git", "clone"]], (s.key, s.code)
    assert shlex.split(snippets.endpoint_line("http://h:1/$(x)"))[1] == "HF_ENDPOINT=http://h:1/$(x)"


def test_pipeline_tasks_are_transformers_own() -> None:
    pipelines = pytest.importorskip("transformers.pipelines")
    known = set(pipelines.SUPPORTED_TASKS) | set(pipelines.TASK_ALIASES)
    assert snippets.PIPELINE_TASKS <= known, snippets.PIPELINE_TASKS - known
