"""The Inference API on the scale-out stack: PostgreSQL, weights in S3 (SeaweedFS), two `agora serve`
processes behind a round-robin proxy. The two processes share one worker pool (one per host), and weights
stored in S3 are downloaded once into the shared cache the snapshot links to."""

from __future__ import annotations

import hashlib
from pathlib import Path

from huggingface_hub import InferenceClient

from ..tiny_models import tiny_models  # noqa: F401  (the session fixture)
from .conftest import Scale


def test_s3_weights_one_pool_for_two_processes(scale: Scale, tiny_models: dict[str, Path]) -> None:  # noqa: F811
    api = scale.api()
    api.create_repo("alice/infer-cls")
    folder = tiny_models["text-classification"]
    api.upload_folder(repo_id="alice/infer-cls", folder_path=folder)
    oid = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    data = scale.stack.data
    assert not (data / "lfs").exists() or not list((data / "lfs").rglob(oid))  # the object is in S3 only
    for i in range(2):  # each backend directly, then through the proxy
        c = InferenceClient(model=f"{scale.backend(i)}/models/alice/infer-cls", token=scale.token)
        out = c.text_classification("I like you. I love you")
        assert sorted(x.label for x in out) == ["NEGATIVE", "POSITIVE"]
    proxied = InferenceClient(model=f"{scale.url}/models/alice/infer-cls", token=scale.token)
    assert all(len(proxied.text_classification("I like you")) == 2 for _ in range(4))
    cached = data / "infer-cache" / oid[:2] / oid
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == oid
    sha = api.model_info("alice/infer-cls").sha
    (snap,) = (data / "infer-snapshots").glob(f"*/{sha}")
    assert (snap / "model.safetensors").resolve() == cached.resolve()
    owner = int((data / "infer" / "pool.lock").read_text().split()[0])
    assert _ppid(Path(f"/proc/{owner}")) in [p.pid for p in scale.stack.procs]  # a granian worker of one
    workers = [
        d for d in Path("/proc").iterdir()
        if d.name.isdigit() and b"agora.inference.worker" in _cmdline(d)
    ]  # fmt: skip
    assert len([d for d in workers if _ppid(d) == owner]) == 1  # one worker, under the lease owner


def _cmdline(d: Path) -> bytes:
    try:
        return (d / "cmdline").read_bytes()
    except OSError:
        return b""


def _ppid(d: Path) -> int:
    try:
        return int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1
