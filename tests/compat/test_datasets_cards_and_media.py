"""A Common-Voice-like audio dataset answers "which tasks, how many languages, which splits" from the API
and from the dataset page; an image folder shows thumbnails; a model whose card lists a dataset appears in
that dataset's "Models trained on this dataset".
"""

from __future__ import annotations

import io
import struct
import wave

import httpx
from huggingface_hub import CommitOperationAdd, HfApi

from ..conftest import ENDPOINT, Server
from .datasets_helpers import viewer, wait_converted

LANGS = ["en", "fr", "de", "es", "it"]
CV_README = """---
license: cc0-1.0
pretty_name: Common Voice (tiny)
task_categories:
- automatic-speech-recognition
language:
{langs}
size_categories:
- n<1K
---
# Common Voice (tiny)

Short read sentences in five languages.
""".format(langs="\n".join(f"- {lang}" for lang in LANGS))


def wav(seconds: float = 0.05, freq: int = 440) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        n = int(8000 * seconds)
        w.writeframes(b"".join(struct.pack("<h", (i * freq) % 30000 - 15000) for i in range(n)))
    return buf.getvalue()


def png() -> bytes:
    import zlib

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_common_voice_like(server: Server, alice: str) -> None:
    api = HfApi(endpoint=ENDPOINT, token=alice)
    repo_id = "alice/common-voice-tiny"
    api.create_repo(repo_id, repo_type="dataset")
    ops = [CommitOperationAdd("README.md", CV_README.encode())]
    counts = {"train": 10, "validation": 5, "test": 5}
    for split, n in counts.items():
        meta = "file_name,sentence,locale\n"
        for i in range(n):
            lang = LANGS[i % len(LANGS)]
            ops.append(CommitOperationAdd(f"audio/{split}/{split}_{i}.wav", wav(freq=200 + i)))
            meta += f"{split}_{i}.wav,sentence {i} in {lang},{lang}\n"
        ops.append(CommitOperationAdd(f"audio/{split}/metadata.csv", meta.encode()))
    info = api.create_commit(repo_id, ops, commit_message="clips", repo_type="dataset")
    splits = wait_converted(repo_id, info.oid)["splits"]

    # The API answers the three questions.
    card = api.dataset_info(repo_id).card_data
    assert card.task_categories == ["automatic-speech-recognition"]
    assert len(card.language) == 5
    assert [s["split"] for s in splits] == ["train", "validation", "test"]
    size = viewer("size", dataset=repo_id).json()["size"]
    assert {s["split"]: s["num_rows"] for s in size["splits"]} == counts
    first = viewer("first-rows", dataset=repo_id, config="default", split="validation").json()
    assert [f["name"] for f in first["features"]] == ["audio", "sentence", "locale"]
    assert first["features"][0]["type"] == {"_type": "Audio"}
    cell = first["rows"][0]["row"]["audio"]
    assert cell[0]["type"] == "audio/wav"
    assert httpx.get(cell[0]["src"], timeout=30).content == wav(freq=200)
    assert first["rows"][2]["row"]["sentence"] == "sentence 2 in de"
    assert sorted(
        {
            r["row"]["locale"]
            for r in viewer("rows", dataset=repo_id, config="default", split="train").json()["rows"]
        }
    ) == sorted(LANGS)

    # And so does the dataset page.
    page = httpx.get(f"{ENDPOINT}/datasets/{repo_id}", timeout=30).text
    assert "automatic-speech-recognition" in page
    assert "5 languages" in page
    # Readable without knowing the codes (issue 18): the task's name and the languages' names.
    assert "Automatic Speech Recognition" in page
    for name in ("English", "French", "German", "Spanish", "Italian"):
        assert f">{name}</span>" in page, name
    for split in counts:
        assert f'<span class="split-name">{split}</span>' in page
    assert "<audio controls" in page
    src = page.split('<audio controls preload="none" src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert httpx.get(f"{ENDPOINT}{src}", timeout=30).content[:4] == b"RIFF"


def test_image_folder_thumbnails(server: Server, alice: str, repo_name: str) -> None:
    api = HfApi(endpoint=ENDPOINT, token=alice)
    repo_id = f"alice/{repo_name}"
    api.create_repo(repo_id, repo_type="dataset")
    ops = [CommitOperationAdd(f"train/{label}/{i}.png", png()) for label in ("cat", "dog") for i in range(3)]
    info = api.create_commit(repo_id, ops, commit_message="images", repo_type="dataset")
    wait_converted(repo_id, info.oid)
    rows = viewer("rows", dataset=repo_id, config="default", split="train").json()
    assert [f["name"] for f in rows["features"]] == ["image", "label"]
    assert rows["features"][1]["type"] == {
        "names": ["cat", "dog"],
        "_type": "ClassLabel",
    }  # as datasets names them
    assert rows["num_rows_total"] == 6
    assert httpx.get(rows["rows"][0]["row"]["image"]["src"], timeout=30).content == png()
    page = httpx.get(f"{ENDPOINT}/datasets/{repo_id}", timeout=30).text
    assert '<img src="/datasets/' in page


def test_models_trained_on_this_dataset(server: Server, alice: str, repo_name: str) -> None:
    api = HfApi(endpoint=ENDPOINT, token=alice)
    ds = f"alice/{repo_name}-data"
    model = f"alice/{repo_name}-model"
    api.create_repo(ds, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"a\n1\n", path_in_repo="train.csv", repo_id=ds, repo_type="dataset")
    api.create_repo(model)
    api.upload_file(
        path_or_fileobj=f"---\ndatasets:\n- {ds}\n---\n# A model\n".encode(),
        path_in_repo="README.md",
        repo_id=model,
    )
    page = httpx.get(f"{ENDPOINT}/datasets/{ds}", timeout=30).text
    trained = page.split('id="trained-on"', 1)[1].split("</section>", 1)[0]
    assert f'href="/{model}"' in trained
