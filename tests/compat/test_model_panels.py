"""The model page's evaluation results and "Use this model" snippets, checked against the real clients: the
panel shows what huggingface_hub reads from the same card (`ModelCard.load`, `model_info().card_data`), and the
page's transformers and scikit-learn snippets, copied from the HTML as a visitor would, RUN against this server
(HF_ENDPOINT set to it) on models built offline here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, ModelCard

from agora.hub import tagnames

from ..conftest import ENDPOINT
from ..tiny_models import tiny_models  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.usefixtures("no_server_errors")


def card(dataset: str, extra: str = "") -> str:
    return f"""---
pipeline_tag: text-classification
license: mit
model-index:
- name: tiny-classifier
  results:
  - task: {{type: text-classification, name: Text Classification}}
    dataset: {{type: {dataset}, name: Tiny Reviews, config: default, split: test}}
    metrics:
    - {{type: accuracy, value: 0.875, name: Test accuracy, verified: true}}
    - {{type: f1, value: 0.8}}
  - task: {{type: text-classification}}
    dataset: {{type: glue, name: GLUE SST-2, config: sst2, split: validation}}
    metrics:
    - {{type: accuracy, value: "91.2 ± 0.3"}}
{extra}---
# A tiny classifier
"""


class Page(HTMLParser):
    """The eval table's rows as text by cell class (`ev-task`, `ev-dataset`, `ev-metric`, ...; a group's header
    row, then its metric rows), its links, and the snippets' copy payloads (data-copy, unescaped) per pane."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.trs: list[dict[str, str]] = []
        self.links: dict[str, str] = {}  # dataset text -> href
        self.snippets: dict[str, str] = {}
        self.copies: list[str] = []
        self._table = False
        self._fields: list[str | None] = [None]
        self._pane: str | None = None
        self._href: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "table" and "eval-table" in classes:
            self._table = True
        elif self._table and tag == "tr":
            self.trs.append({})
        field = next((c for c in classes if c.startswith("ev-")), self._fields[-1])
        if tag not in ("br", "img", "input", "meta", "link"):
            self._fields.append(field)
        if self._table and tag == "a":
            self._href = a.get("href")
        if tag == "section" and a.get("data-snippet-pane"):
            self._pane = a["data-snippet-pane"]
        if tag == "button" and a.get("data-copy") is not None:
            self.copies.append(a["data-copy"] or "")
            if self._pane:
                self.snippets[self._pane] = a["data-copy"] or ""

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("br", "img", "input", "meta", "link") and len(self._fields) > 1:
            self._fields.pop()
        if tag == "table":
            self._table = False
        elif tag == "section":
            self._pane = None

    def handle_data(self, data: str) -> None:
        field = self._fields[-1]
        if self._table and field and self.trs:
            self.trs[-1][field] = self.trs[-1].get(field, "") + data
            if self._href:
                self.links[data.strip()] = self._href
                self._href = None


def page(path: str) -> Page:
    r = httpx.get(f"{ENDPOINT}/{path}", timeout=30)
    assert r.status_code == 200, r.text[:500]
    return Page(r.text)


@pytest.fixture
def model(api: HfApi, repo_name: str, tiny_models: dict[str, Path], tmp_path: Path) -> str:  # noqa: F811
    """A tiny random text classifier (built offline) with a model-index naming a dataset that is here."""
    ds = f"alice/{repo_name}-reviews"
    api.create_repo(ds, repo_type="dataset")
    folder = tmp_path / "model"
    shutil.copytree(tiny_models["text-classification"], folder)
    (folder / "README.md").write_text(card(ds))
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_folder(repo_id=rid, folder_path=folder)
    return rid


def cells(p: Page) -> list[tuple[str, str, str, str, bool]]:
    """(task, dataset with its config and split, metric, value, verified) per metric row, as the page reads."""
    out, head = [], {}
    for tr in p.trs:
        tr = {k: " ".join(v.split()) for k, v in tr.items()}
        if "ev-head" in tr:
            head = tr
        elif "ev-metric" in tr:
            dataset = " ".join(x for x in (head.get("ev-dataset"), head.get("ev-where")) if x)
            out.append(
                (head["ev-task"], dataset, tr["ev-metric"], tr["ev-value"], tr["ev-source"] == "verified")
            )
    return out


def hub_rows(results: Any) -> list[tuple[str, str, str, str, bool]]:
    """What the panel shows for huggingface_hub's EvalResults: the pretty names where given, else the ids."""
    return [
        (
            r.task_name
            or tagnames.task_name(r.task_type),  # the Hub's name of the task when the card gives none
            " ".join(
                [r.dataset_name, " · ".join(x for x in (r.dataset_config, r.dataset_split) if x)]
            ).strip(),
            r.metric_name or r.metric_type,
            str(r.metric_value),
            bool(r.verified),
        )
        for r in results
    ]


def test_eval_panel_agrees_with_huggingface_hub(api: HfApi, model: str) -> None:
    p = page(model)
    shown = cells(p)
    assert shown[0] == ("Text Classification", "Tiny Reviews default · test", "Test accuracy", "0.875", True)
    assert len(shown) == 3
    from_card = ModelCard.load(model).data.eval_results
    from_info = api.model_info(model).card_data.eval_results
    assert shown == hub_rows(from_card) == hub_rows(from_info)
    assert p.links == {"Tiny Reviews": f"/datasets/{model}-reviews"}  # glue is not here: text, no link


def test_a_private_dataset_is_linked_only_for_those_who_see_it(api: HfApi, repo_name: str, bob: str) -> None:
    secret = f"bob/{repo_name}-secret"
    HfApi(endpoint=ENDPOINT, token=bob).create_repo(secret, repo_type="dataset", private=True)
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=card(secret).encode(), path_in_repo="README.md", repo_id=rid)
    p = page(rid)
    assert cells(p)[0][1] == "Tiny Reviews default · test" and p.links == {}  # named, never linked
    assert secret not in str(p.links)


def test_awkward_model_index_entries_are_skipped_not_a_500(api: HfApi, repo_name: str) -> None:
    """What the commit-time validation lets through (values that are mappings, lists where strings go, a
    `verified` that is a string) and a long list: the page shows the usable rows and bounds the rest."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    awkward = """model-index:
- name: odd
  results:
  - task: {type: text-classification, name: [not, a, string]}
    dataset: {type: x/y, name: Odd, config: [a], split: {b: 1}}
    metrics:
    - {type: accuracy, value: {mean: 1}}
    - {type: recall, value: null}
    - {type: f1, value: 0.5, name: [F1], verified: "yes"}
"""
    many = "".join(
        f"  - task: {{type: fill-mask}}\n    dataset: {{type: d{i}, name: D{i}}}\n"
        f"    metrics: [{{type: m, value: {i}}}]\n"
        for i in range(300)
    )
    meta = awkward + "- name: many\n  results:\n" + many
    api.upload_file(
        path_or_fileobj=f"---\n{meta}---\n# odd\n".encode(), path_in_repo="README.md", repo_id=rid
    )
    r = httpx.get(f"{ENDPOINT}/{rid}", timeout=30)
    assert r.status_code == 200
    shown = cells(Page(r.text))
    assert shown[0] == ("Text Classification", "Odd", "f1", "0.5", False)
    assert len(shown) == 200 and shown[-1] == ("Fill-Mask", "D198", "m", "198", False)
    assert "more results than are shown" in r.text


def run_snippet(code: str, tail: str, tmp_path: Path) -> str:
    """Run a snippet as a user would after `export HF_ENDPOINT=...`: a fresh process and an empty cache."""
    env = {**os.environ, "HF_ENDPOINT": ENDPOINT, "HF_HOME": str(tmp_path / "hf-home")}
    env.pop("HF_TOKEN", None)
    script = tmp_path / "snippet.py"
    script.write_text(code + tail)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_the_transformers_snippet_runs_against_this_server(model: str, tmp_path: Path) -> None:
    p = page(model)
    assert f"export HF_ENDPOINT={ENDPOINT}" in p.copies
    code = p.snippets["transformers"]
    assert f'pipeline("text-classification", model="{model}")' in code
    out = run_snippet(code, '\nprint(pipe("I like you")[0]["label"], type(model).__name__)\n', tmp_path)
    label, cls = out.split()
    assert label in ("NEGATIVE", "POSITIVE") and cls == "BertForSequenceClassification"


def test_the_sklearn_snippet_runs_against_this_server(api: HfApi, repo_name: str, tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.linear_model import LogisticRegression

    x, y = datasets.load_iris(return_X_y=True)  # shipped with scikit-learn: no network
    clf = LogisticRegression(max_iter=500).fit(x, y)
    joblib.dump(clf, tmp_path / "model.joblib")
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=tmp_path / "model.joblib", path_in_repo="model.joblib", repo_id=rid)
    api.upload_file(
        path_or_fileobj=b"---\nlibrary_name: sklearn\n---\n", path_in_repo="README.md", repo_id=rid
    )
    p = page(rid)
    assert list(p.snippets) == ["sklearn", "hf", "git"]
    some = x[::50].tolist()  # one flower of each class
    out = run_snippet(p.snippets["sklearn"], f"\nprint(model.predict({some!r}).tolist())\n", tmp_path)
    assert out.strip() == str(clf.predict(some).tolist()) == "[0, 1, 2]"


def test_a_gated_model_says_to_log_in_first(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=rid)
    assert "hf auth login" not in " ".join(page(rid).copies) + httpx.get(f"{ENDPOINT}/{rid}").text
    api.update_repo_settings(rid, gated="auto")
    html = httpx.get(f"{ENDPOINT}/{rid}", timeout=30).text
    assert "This model is gated" in html and "hf auth login --add-to-git-credential" in html
    assert list(Page(html).snippets) == ["transformers", "hf", "git"]


def test_the_hf_cli_and_git_clone_snippets_run_against_this_server(
    api: HfApi, repo_name: str, tmp_path: Path
) -> None:
    """The page's shell snippets, after its `export HF_ENDPOINT=...` line, in bash: the files arrive."""
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b'{"model_type": "bert"}', path_in_repo="config.json", repo_id=rid)
    p = page(rid)
    (endpoint,) = [c for c in p.copies if c.startswith("export HF_ENDPOINT=")]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "HF_TOKEN")}
    env["HF_HOME"] = str(tmp_path / "hf-home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's `hf`
    for key in ("hf", "git"):
        script = f"set -e\n{endpoint}\ncd {tmp_path}\n{p.snippets[key]}"
        out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (key, out.stderr[-2000:])
    cached = list((tmp_path / "hf-home" / "hub").glob("models--alice--*/snapshots/*/config.json"))
    assert [c.read_text() for c in cached] == ['{"model_type": "bert"}']
    assert (tmp_path / repo_name / "config.json").read_text() == '{"model_type": "bert"}'
