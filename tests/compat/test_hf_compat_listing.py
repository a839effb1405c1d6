"""Cards, the metadata index and discovery through huggingface_hub (issue 5)."""

from __future__ import annotations

import json
import struct
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download

from ..conftest import ENDPOINT, Server, agora


def card(meta: str, body: str = "# Model\n") -> bytes:
    return f"---\n{meta.strip()}\n---\n{body}".encode()


def test_seed_metadata_example(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(
        path_or_fileobj=card("tags:\n- es\n- bert\n- text-classification\ndatasets:\n- llamas\nlicense: mit"),
        path_in_repo="README.md",
        repo_id=rid,
    )
    info = api.model_info(rid)
    assert info.pipeline_tag == "text-classification"
    assert {"es", "bert", "text-classification", "dataset:llamas", "license:mit"} <= set(info.tags)
    assert info.card_data["datasets"] == ["llamas"]
    assert rid in [m.id for m in api.list_models(filter="es", author="alice")]
    assert rid in [m.id for m in api.list_models(pipeline_tag="text-classification", author="alice")]
    assert rid in [m.id for m in api.list_models(filter="dataset:llamas")]
    assert rid in [m.id for m in api.list_models(trained_dataset="llamas")]
    assert rid not in [m.id for m in api.list_models(filter=["es", "fr"], author="alice")]


def test_seed_challenges_over_generated_repos(api: HfApi, server: Server) -> None:
    """Challenge 2: how many English token-classification models; challenge 3: the Spanish ASR models."""
    agora("org", "create", "challenge", "--owner", "alice", data=server.data)
    specs = []
    for i in range(30):
        lang = ["en", "es", "fr"][i % 3]
        task = [
            "token-classification",
            "automatic-speech-recognition",
            "text-classification",
            "fill-mask",
            "translation",
        ][i % 5]
        # Half declare the language in `language:`, half only in `tags:` (the Hub detects both).
        meta = f"language: {lang}\npipeline_tag: {task}" if i % 2 else f"tags:\n- {lang}\n- {task}"
        specs.append((f"challenge/m{i:02d}", lang, task, meta))

    def make(spec: tuple[str, str, str, str]) -> None:
        rid, _, _, meta = spec
        api.create_repo(rid)
        api.upload_file(path_or_fileobj=card(meta), path_in_repo="README.md", repo_id=rid)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(make, specs))
    en_tok = {
        m.id for m in api.list_models(author="challenge", filter="en", pipeline_tag="token-classification")
    }
    assert en_tok == {r for r, lang, task, _ in specs if lang == "en" and task == "token-classification"}
    assert len(en_tok) == 2
    es_asr = sorted(
        m.id for m in api.list_models(author="challenge", filter=["es", "automatic-speech-recognition"])
    )
    assert es_asr == sorted(
        r for r, lang, task, _ in specs if lang == "es" and task == "automatic-speech-recognition"
    )
    facets = httpx.get(f"{ENDPOINT}/api/models/facets", params={"author": "challenge"}).json()
    assert facets["count"] == 30
    langs = {x["tag"]: x["count"] for x in facets["facets"]["language"]}
    assert langs == {"en": 10, "es": 10, "fr": 10}
    tasks = {x["tag"]: x["count"] for x in facets["facets"]["pipeline_tag"]}
    assert tasks["token-classification"] == 6


def test_readme_change_updates_listing_immediately(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    api.upload_file(
        path_or_fileobj=card("pipeline_tag: fill-mask\nlicense: mit"), path_in_repo="README.md", repo_id=rid
    )
    assert rid in [m.id for m in api.list_models(pipeline_tag="fill-mask", search=repo_name)]
    api.upload_file(
        path_or_fileobj=card("pipeline_tag: translation\nlicense: apache-2.0"),
        path_in_repo="README.md",
        repo_id=rid,
    )
    assert rid not in [m.id for m in api.list_models(pipeline_tag="fill-mask", search=repo_name)]
    assert rid in [m.id for m in api.list_models(filter="license:apache-2.0", search=repo_name)]
    api.delete_file("README.md", rid)
    assert api.model_info(rid).pipeline_tag is None


BROKEN = [
    ("license: not-a-license", "license"),
    ("language: english", "language"),
    ("pipeline_tag: text-clasification", "pipeline_tag"),
    ("tags: [a, [b]]", "tags"),
    ("datasets:\n- has space/x", "datasets"),
    ("base_model: 'bad id!'", "base_model"),
    ("widget: hello", "widget"),
    ("model-index:\n- name: m\n  results:\n  - task: {}\n", "model-index"),
    ("license: mit\n  bad: indent: here", "line"),
    ("base_model_relation: copy\nbase_model: a/b", "base_model_relation"),
]


@pytest.mark.parametrize("meta,field", BROKEN)
def test_validate_yaml_errors(meta: str, field: str, alice: str) -> None:
    r = httpx.post(
        f"{ENDPOINT}/api/validate-yaml",
        json={"content": card(meta).decode(), "repoType": "model"},
        headers={"Authorization": f"Bearer {alice}"},
    )
    assert r.status_code == 400, r.text
    messages = [e["message"] for e in r.json()["errors"]]
    assert messages and any(field in m for m in messages), messages
    assert any("line" in m for m in messages), messages


def test_invalid_readme_upload_is_refused(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    before = api.model_info(rid).sha
    with pytest.raises(ValueError, match="license"):
        api.upload_file(path_or_fileobj=card("license: nope"), path_in_repo="README.md", repo_id=rid)
    # The server refuses it too when the client skips validation.
    body = "\n".join(
        [
            json.dumps({"key": "header", "value": {"summary": "bad card"}}),
            json.dumps(
                {
                    "key": "file",
                    "value": {
                        "path": "README.md",
                        "encoding": "base64",
                        "content": __import__("base64").b64encode(card("license: nope")).decode(),
                    },
                }
            ),
        ]
    )
    r = httpx.post(
        f"{ENDPOINT}/api/models/{rid}/commit/main",
        content=body,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 400 and "license" in r.text
    assert api.model_info(rid).sha == before


def test_pagination_of_2500_repos_returns_each_once(server: Server, alice: str) -> None:
    agora("org", "create", "many", "--owner", "alice", data=server.data)
    names = [f"r{i:04d}" for i in range(2500)]
    with httpx.Client(headers={"Authorization": f"Bearer {alice}"}, timeout=60) as client:

        def make(n: str) -> int:
            return client.post(
                f"{ENDPOINT}/api/repos/create", json={"name": n, "organization": "many"}
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(make, names)) == {200}
    api = HfApi(endpoint=ENDPOINT, token=alice)
    for sort in (None, "createdAt", "downloads"):
        seen = [m.id for m in api.list_models(author="many", sort=sort)]
        assert len(seen) == 2500 and set(seen) == {f"many/{n}" for n in names}, sort


def test_derived_fields_from_files(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid)
    header = json.dumps(
        {
            "w": {"dtype": "F32", "shape": [10, 20], "data_offsets": [0, 800]},
            "b": {"dtype": "F16", "shape": [20], "data_offsets": [800, 840]},
            "__metadata__": {"format": "pt"},
        }
    ).encode()
    st = struct.pack("<Q", len(header)) + header + bytes(840)
    api.create_commit(
        rid,
        commit_message="model",
        operations=[
            CommitOperationAdd(
                "config.json",
                json.dumps({"architectures": ["BertForTokenClassification"], "model_type": "bert"}).encode(),
            ),
            CommitOperationAdd("tokenizer.json", b"{}"),
            CommitOperationAdd("model.safetensors", st),
            CommitOperationAdd("README.md", card("language: en\nwidget:\n- text: Hello world\n")),
        ],
    )
    info = api.model_info(rid)
    assert info.library_name == "transformers"
    assert info.pipeline_tag == "token-classification"
    assert info.config == {"architectures": ["BertForTokenClassification"], "model_type": "bert"}
    assert info.transformers_info.auto_model == "AutoModelForTokenClassification"
    assert info.safetensors.parameters == {"F32": 200, "F16": 20} and info.safetensors.total == 220
    assert info.widget_data == [{"text": "Hello world"}]
    assert {"transformers", "safetensors", "bert", "en", "token-classification"} <= set(info.tags)


def test_base_model_tree(api: HfApi, repo_name: str) -> None:
    base = f"alice/{repo_name}-base"
    api.create_repo(base)
    for kind, extra in (("ft", []), ("adapter", [CommitOperationAdd("adapter_config.json", b"{}")])):
        rid = f"alice/{repo_name}-{kind}"
        api.create_repo(rid)
        api.create_commit(
            rid,
            commit_message="card",
            operations=[CommitOperationAdd("README.md", card(f"base_model: {base}")), *extra],
        )
    assert [m.id for m in api.list_models(filter=f"base_model:finetune:{base}")] == [f"alice/{repo_name}-ft"]
    assert [m.id for m in api.list_models(filter=f"base_model:adapter:{base}")] == [
        f"alice/{repo_name}-adapter"
    ]
    assert api.model_info(base).children_model_count == 2


def test_downloads_likes_and_sorting(api: HfApi, bob: str, repo_name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = f"alice/{repo_name}-a", f"alice/{repo_name}-b"
    for rid in (a, b):
        api.create_repo(rid)
        api.upload_file(path_or_fileobj=b'{"model_type": "bert"}', path_in_repo="config.json", repo_id=rid)
    for i in range(3):
        hf_hub_download(b, "config.json", cache_dir=tmp_path / f"c{i}")
    hf_hub_download(a, "config.json", cache_dir=tmp_path / "ca")
    assert api.model_info(b).downloads == 3
    assert [m.id for m in api.list_models(search=repo_name, sort="downloads")] == [b, a]
    r = httpx.post(f"{ENDPOINT}/api/models/{a}/like", headers={"Authorization": f"Bearer {bob}"})
    assert r.status_code == 200
    assert api.model_info(a).likes == 1
    assert [m.id for m in api.list_models(search=repo_name, sort="likes")][0] == a
    assert [u.username for u in api.list_repo_likers(a)] == ["bob"]
    assert a in HfApi(endpoint=ENDPOINT, token=bob).list_liked_repos().models
    HfApi(endpoint=ENDPOINT, token=bob).unlike(a)
    assert api.model_info(a).likes == 0


def test_private_repos_are_never_listed_or_counted(api: HfApi, bob: str, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, private=True)
    api.upload_file(path_or_fileobj=card("tags:\n- secret-tag-xyz\n"), path_in_repo="README.md", repo_id=rid)
    assert [m.id for m in api.list_models(filter="secret-tag-xyz")] == [rid]
    for token in (bob, None):
        other = HfApi(endpoint=ENDPOINT, token=token or False)
        assert list(other.list_models(filter="secret-tag-xyz")) == []
        assert list(other.list_models(search=repo_name)) == []
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        f = httpx.get(f"{ENDPOINT}/api/models/facets", params={"search": repo_name}, headers=headers).json()
        assert f["count"] == 0 and f["facets"] == {}


def test_dataset_filters(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    api.create_repo(rid, repo_type="dataset")
    api.create_commit(
        rid,
        repo_type="dataset",
        commit_message="data",
        operations=[
            CommitOperationAdd(
                "README.md",
                card(
                    "task_categories:\n- automatic-speech-recognition\nlanguage:\n- es\n"
                    "- en\nsize_categories:\n- 1K<n<10K\nlicense: cc0-1.0"
                ),
            ),
            CommitOperationAdd("data/train.csv", b"a,b\n1,2\n"),
        ],
    )
    found = [
        d.id
        for d in api.list_datasets(
            language="es", task_categories="automatic-speech-recognition", search=repo_name
        )
    ]
    assert found == [rid]
    tags = set(api.dataset_info(rid).tags)
    assert {
        "language:es",
        "language:en",
        "size_categories:1K<n<10K",
        "license:cc0-1.0",
        "format:csv",
        "modality:tabular",
    } <= tags
