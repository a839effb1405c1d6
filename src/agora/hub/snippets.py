"""The model page's "Use this model" snippets: code per library, chosen from the repo's library, tags and files.

Each snippet is plain text (the page escapes it); repo ids and file names enter the code only as quoted
literals (`json.dumps` gives a valid Python string literal, `shlex.quote` a shell word), so an odd name can
neither break the code nor the page. The clients reach this host through `HF_ENDPOINT`, so the menu also
gives that line (`endpoint_line`); the Python snippets themselves are the Hub's, unchanged.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

# transformers' pipeline tasks (transformers 5: `transformers.pipelines.SUPPORTED_TASKS` and its aliases; a
# unit test checks this list against the installed library). Another pipeline_tag gets the AutoModel code.
PIPELINE_TASKS = frozenset(
    {
        "any-to-any",
        "audio-classification",
        "automatic-speech-recognition",
        "depth-estimation",
        "document-question-answering",
        "feature-extraction",
        "fill-mask",
        "image-classification",
        "image-feature-extraction",
        "image-segmentation",
        "image-text-to-text",
        "keypoint-matching",
        "mask-generation",
        "object-detection",
        "table-question-answering",
        "text-classification",
        "text-generation",
        "text-to-audio",
        "token-classification",
        "video-classification",
        "zero-shot-audio-classification",
        "zero-shot-classification",
        "zero-shot-image-classification",
        "zero-shot-object-detection",
    }
)
SKLEARN_LIBRARIES = ("sklearn", "scikit-learn", "joblib")
SKLEARN_SUFFIXES = (".joblib", ".pkl", ".pickle")
MAX_FILES = 5  # GGUF files offered by name (a repo of quantisations has many)


@dataclass(frozen=True)
class Snippet:
    key: str  # the library's name, a stable id for the page and tests
    label: str
    lang: str  # "python" or "bash"
    code: str


@dataclass(frozen=True)
class ModelFacts:
    """What the choice reads: the repo's id, its library and task, tags, file paths, and derived facts."""

    repo_id: str
    library_name: str | None = None
    pipeline_tag: str | None = None
    tags: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    auto_model: str | None = None  # transformersInfo.auto_model, e.g. AutoModelForSequenceClassification
    processor: str | None = None  # transformersInfo.processor, e.g. AutoTokenizer
    base_models: list[str] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        """File names at the repo's root."""
        return {f for f in self.files if "/" not in f}

    def uses(self, library: str, *aliases: str) -> bool:
        return self.library_name in (library, *aliases) or library in self.tags


def py(s: str) -> str:
    """A Python string literal holding `s`."""
    return json.dumps(s, ensure_ascii=True)


def endpoint_line(endpoint: str) -> str:
    """The shell line that points huggingface_hub (and transformers, datasets, the `hf` CLI) at this host."""
    return f"export HF_ENDPOINT={shlex.quote(endpoint.rstrip('/'))}"


def choose(m: ModelFacts, endpoint: str, web_path: str) -> list[Snippet]:
    """The snippets for a model: its own library's first, then the others its files support, then the `hf`
    CLI and git clone (always)."""
    found = [s for s in (rule(m) for rule in RULES) if s is not None]
    found.sort(key=lambda s: s.key != _primary(m))
    return [*found, hf_cli(m), git_clone(endpoint, web_path)]


def _primary(m: ModelFacts) -> str | None:
    return "sklearn" if m.library_name in SKLEARN_LIBRARIES else m.library_name


def transformers(m: ModelFacts) -> Snippet | None:
    wanted = m.uses("transformers") or (
        "config.json" in m.names and m.library_name in (None, "sentence-transformers")
    )
    if not wanted:
        return None
    rid = py(m.repo_id)
    if m.pipeline_tag in PIPELINE_TASKS:
        code = (
            "# Use a pipeline as a high-level helper\nfrom transformers import pipeline\n\n"
            f"pipe = pipeline({py(m.pipeline_tag or '')}, model={rid})\n"
        )
    else:
        code = ""
    auto = m.auto_model if m.auto_model and m.auto_model.isidentifier() else "AutoModel"
    proc = m.processor if m.processor and m.processor.isidentifier() else None
    imports = ", ".join(x for x in (proc, auto) if x)
    code += f"{chr(10) if code else ''}# Load model directly\nfrom transformers import {imports}\n\n"
    if proc:
        code += f"{'processor' if proc != 'AutoTokenizer' else 'tokenizer'} = {proc}.from_pretrained({rid})\n"
    code += f"model = {auto}.from_pretrained({rid})\n"
    return Snippet("transformers", "Transformers", "python", code)


def sentence_transformers(m: ModelFacts) -> Snippet | None:
    if not (m.uses("sentence-transformers") or "modules.json" in m.names):
        return None
    code = (
        "from sentence_transformers import SentenceTransformer\n\n"
        f"model = SentenceTransformer({py(m.repo_id)})\n"
        'embeddings = model.encode(["The weather is lovely today.", "It is sunny outside."])\n'
        "print(model.similarity(embeddings, embeddings))\n"
    )
    return Snippet("sentence-transformers", "sentence-transformers", "python", code)


def diffusers(m: ModelFacts) -> Snippet | None:
    if not (m.uses("diffusers") or "model_index.json" in m.names):
        return None
    code = (
        "from diffusers import DiffusionPipeline\n\n"
        f"pipe = DiffusionPipeline.from_pretrained({py(m.repo_id)})\n"
    )
    return Snippet("diffusers", "Diffusers", "python", code)


def sklearn(m: ModelFacts) -> Snippet | None:
    files = [f for f in m.files if f.lower().endswith(SKLEARN_SUFFIXES)]
    if not files or not (
        m.library_name in SKLEARN_LIBRARIES or m.library_name is None or "sklearn" in m.tags
    ):
        return None
    joblib_first = sorted(files, key=lambda f: (not f.lower().endswith(".joblib"), f.count("/"), f))
    code = (
        "import joblib\nfrom huggingface_hub import hf_hub_download\n\n"
        f"model = joblib.load(hf_hub_download({py(m.repo_id)}, {py(joblib_first[0])}))\n"
    )
    return Snippet("sklearn", "Scikit-learn (joblib)", "python", code)


def timm(m: ModelFacts) -> Snippet | None:
    if not m.uses("timm"):
        return None
    code = f"import timm\n\nmodel = timm.create_model({py('hf-hub:' + m.repo_id)}, pretrained=True)\n"
    return Snippet("timm", "timm", "python", code)


def peft(m: ModelFacts) -> Snippet | None:
    if not ("adapter_config.json" in m.names or m.library_name == "peft"):
        return None
    rid = py(m.repo_id)
    if m.base_models:
        code = (
            "from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n\n"
            f"base_model = AutoModelForCausalLM.from_pretrained({py(m.base_models[0])})\n"
            f"model = PeftModel.from_pretrained(base_model, {rid})\n"
        )
    else:  # the adapter's own config names its base model
        code = f"from peft import AutoPeftModel\n\nmodel = AutoPeftModel.from_pretrained({rid})\n"
    return Snippet("peft", "PEFT", "python", code)


def gguf(m: ModelFacts) -> Snippet | None:
    files = sorted(f for f in m.files if f.lower().endswith(".gguf"))[:MAX_FILES]
    if not files:
        return None
    first = files[0]
    code = (
        "# pip install llama-cpp-python\nfrom llama_cpp import Llama\n\n"
        f"llm = Llama.from_pretrained(repo_id={py(m.repo_id)}, filename={py(first)})\n"
        'print(llm("Once upon a time,", max_tokens=32)["choices"][0]["text"])\n'
        "\n# or with llama.cpp itself: download the file, then run it\n"
        f"# hf download {shlex.quote(m.repo_id)} {shlex.quote(first)} --local-dir .\n"
        f"# llama-cli -m {shlex.quote(first)}\n"
    )
    return Snippet("gguf", "llama.cpp (GGUF)", "python", code)


def hf_cli(m: ModelFacts) -> Snippet:
    rid = shlex.quote(m.repo_id)
    code = f"# the whole repo, into the local cache\nhf download {rid}\n"
    return Snippet("hf", "hf CLI", "bash", code)


def git_clone(endpoint: str, web_path: str) -> Snippet:
    url = shlex.quote(f"{endpoint.rstrip('/')}/{web_path}")
    code = f"# large files come with Git LFS: make sure it is installed\ngit lfs install\ngit clone {url}\n"
    return Snippet("git", "git clone", "bash", code)


RULES = (transformers, sentence_transformers, diffusers, sklearn, timm, peft, gguf)
