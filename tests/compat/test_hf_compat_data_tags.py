"""Dataset tags derived from the data (modality from the viewer's features, size_categories from the converted
row count) and the language filter by name or code, through huggingface_hub (issue 18)."""

from __future__ import annotations

import httpx
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT
from .datasets_helpers import wait_converted
from .test_datasets_cards_and_media import png


def commit(api: HfApi, rid: str, files: dict[str, bytes]) -> str:
    api.create_repo(rid, repo_type="dataset")
    ops = [CommitOperationAdd(path, data) for path, data in files.items()]
    info = api.create_commit(rid, ops, commit_message="data", repo_type="dataset")
    wait_converted(rid, info.oid)
    return info.oid


def numbers_csv(rows: int) -> bytes:
    return ("x,y,z\n" + "".join(f"{i},{i * 0.5},{i % 7}\n" for i in range(rows))).encode()


def tags_of(api: HfApi, rid: str) -> set[str]:
    return set(api.dataset_info(rid).tags or [])


def test_a_csv_of_numbers_is_tabular_and_sized_from_its_rows(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    commit(api, rid, {"data.csv": numbers_csv(1500)})
    tags = tags_of(api, rid)
    assert {"modality:tabular", "size_categories:1K<n<10K", "format:csv"} <= tags, tags
    assert "modality:text" not in tags
    found = api.list_datasets(filter=["size_categories:1K<n<10K", "modality:tabular"], search=repo_name)
    assert [d.id for d in found] == [rid]
    assert [d.id for d in api.list_datasets(size_categories="1K<n<10K", search=repo_name)] == [rid]

    # Once the card states a size, the card's value wins over the rows'.
    card = b"---\nsize_categories:\n- n<1K\n---\n# Stated\n"
    info = api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=rid, repo_type="dataset")
    wait_converted(rid, info.oid)
    tags = tags_of(api, rid)
    assert "size_categories:n<1K" in tags and "size_categories:1K<n<10K" not in tags, tags
    assert "modality:tabular" in tags
    assert [d.id for d in api.list_datasets(size_categories="1K<n<10K", search=repo_name)] == []


def test_a_csv_of_sentences_is_text(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    lines = "".join(f'"sentence number {i}, with words",{i % 2}\n' for i in range(30))
    commit(api, rid, {"train.csv": ("text,label\n" + lines).encode()})
    tags = tags_of(api, rid)
    assert "modality:text" in tags and "modality:tabular" not in tags, tags
    assert "size_categories:n<1K" in tags
    assert [d.id for d in api.list_datasets(filter="modality:text", search=repo_name)] == [rid]


def test_a_folder_of_images_is_image(api: HfApi, repo_name: str) -> None:
    rid = f"alice/{repo_name}"
    files = {f"train/{i}.png": png() for i in range(6)}
    # Numbers beside the images: the data is images with their sizes, not a table.
    files["train/metadata.csv"] = b"file_name,width,height\n" + b"".join(
        f"{i}.png,2,2\n".encode() for i in range(6)
    )
    commit(api, rid, files)
    tags = tags_of(api, rid)
    assert "modality:image" in tags and "modality:tabular" not in tags, tags
    assert [d.id for d in api.list_datasets(filter="modality:image", search=repo_name)] == [rid]


def test_the_language_filter_takes_names_and_codes(api: HfApi, repo_name: str) -> None:
    model, dataset = f"alice/{repo_name}-m", f"alice/{repo_name}-d"
    api.create_repo(model)
    api.upload_file(
        path_or_fileobj=b"---\nlanguage:\n- es\n---\n# M\n", path_in_repo="README.md", repo_id=model
    )
    api.create_repo(dataset, repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"---\nlanguage:\n- vi\n---\n# D\n",
        path_in_repo="README.md",
        repo_id=dataset,
        repo_type="dataset",
    )
    # The client's own filters are unchanged: the raw tags.
    assert [m.id for m in api.list_models(filter="es", search=repo_name)] == [model]
    assert [d.id for d in api.list_datasets(language="vi", search=repo_name)] == [dataset]
    assert "es" in (api.model_info(model).tags or [])
    for value in ("Spanish", "spanish", "es", "ES", "spa"):
        r = httpx.get(f"{ENDPOINT}/api/models", params={"language": value, "search": repo_name})
        assert [m["id"] for m in r.json()] == [model], value
    for value in ("Vietnamese", "vi", "vie"):
        r = httpx.get(f"{ENDPOINT}/api/datasets", params={"language": value, "search": repo_name})
        assert [d["id"] for d in r.json()] == [dataset], value
    r = httpx.get(f"{ENDPOINT}/api/models", params={"language": "French", "search": repo_name})
    assert r.json() == []
    # Names in the tag pickers.
    langs = httpx.get(f"{ENDPOINT}/api/models-tags-by-type").json()["language"]
    assert {"id": "es", "label": "Spanish", "type": "language"} in langs
