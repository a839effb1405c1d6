"""Upload and download throughput through Agora in S3 mode vs boto3 straight to the same SeaweedFS.

Starts its own stack (tests/stack.py: PostgreSQL, SeaweedFS, N `agora serve` processes, a round-robin
proxy), then, in the same run and on the same bytes:
- agora: huggingface_hub `upload_file` (LFS multipart, parts PUT to presigned S3 URLs, completion and
  sha256 verification by Agora) and `hf_hub_download` (302 to a presigned GET);
- boto3: `upload_file` / `download_file` (managed multipart transfer) to the same bucket.
Reports MB/s and the ratio agora/boto3, and Agora's byte counters (what passed through its processes).

    .venv/bin/python bench/s3.py [--size-mb 512] [--rounds 2] [--processes 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))
MB = 2**20


def make_file(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 16 * MB)
            block = os.urandom(n)
            h.update(block)
            fh.write(block)
            left -= n
    return h.hexdigest()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(16 * MB):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2, help="best of N for each measurement")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    from tests.stack import BUCKET, Stack

    work = Path(tempfile.mkdtemp(prefix="agora-bench-s3-"))
    os.environ.update(
        {
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HOME": str(work / "hf-home"),
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
    )
    st = Stack(work / "stack", processes=args.processes)
    try:
        st.start_services()
        st.agora("migrate")
        st.agora("user", "add", "bench", "--password-stdin", stdin="bench-password\n")
        token = st.agora("token", "create", "bench")
        st.start_servers()
        os.environ["HF_ENDPOINT"] = st.url
        import httpx
        from huggingface_hub import HfApi, hf_hub_download

        assert st.s3 is not None
        s3 = st.s3.client()
        size = args.size_mb * MB
        src = work / "blob.bin"
        want = make_file(src, size)
        api = HfApi(endpoint=st.url, token=token)

        def metrics() -> dict[str, int]:
            return httpx.get(f"{st.url}/api/agora/metrics", timeout=30).json()  # type: ignore[no-any-return]

        best = {"agora_up": 1e9, "agora_down": 1e9, "boto3_up": 1e9, "boto3_down": 1e9}
        before = metrics()
        for r in range(args.rounds):
            # A fresh repo and a fresh object each round: nothing is "already uploaded".
            with open(src, "r+b") as fh:
                fh.seek(0)
                fh.write(os.urandom(32))
            want = sha256(src)
            repo = f"bench/s3-{r}"
            api.create_repo(repo)
            t = time.perf_counter()
            api.upload_file(path_or_fileobj=str(src), path_in_repo="blob.bin", repo_id=repo)
            best["agora_up"] = min(best["agora_up"], time.perf_counter() - t)
            cache = work / f"cache-{r}"
            t = time.perf_counter()
            got = hf_hub_download(repo, "blob.bin", endpoint=st.url, token=token, cache_dir=str(cache))
            best["agora_down"] = min(best["agora_down"], time.perf_counter() - t)
            assert sha256(Path(got)) == want, "agora download differs"
            shutil.rmtree(cache)

            key = f"bench/direct-{r}"
            t = time.perf_counter()
            s3.upload_file(str(src), BUCKET, key)
            best["boto3_up"] = min(best["boto3_up"], time.perf_counter() - t)
            dest = work / f"direct-{r}.bin"
            t = time.perf_counter()
            s3.download_file(BUCKET, key, str(dest))
            best["boto3_down"] = min(best["boto3_down"], time.perf_counter() - t)
            assert sha256(dest) == want, "boto3 download differs"
            dest.unlink()
        after = metrics()

        mbps = {k: args.size_mb / v for k, v in best.items()}
        result = {
            "size_mb": args.size_mb,
            "rounds": args.rounds,
            "processes": args.processes,
            "upload_mb_s": {
                "agora": round(mbps["agora_up"], 1),
                "boto3": round(mbps["boto3_up"], 1),
                "ratio": round(mbps["agora_up"] / mbps["boto3_up"], 2),
            },
            "download_mb_s": {
                "agora": round(mbps["agora_down"], 1),
                "boto3": round(mbps["boto3_down"], 1),
                "ratio": round(mbps["agora_down"] / mbps["boto3_down"], 2),
            },
            "agora_body_bytes": {
                "in": after["bytes_in"] - before["bytes_in"],
                "out": after["bytes_out"] - before["bytes_out"],
                "payload": 2 * args.rounds * size,
            },
        }
        print(f"{args.size_mb} MB, best of {args.rounds}, {args.processes} Agora processes behind a proxy")
        print(f"{'':10}{'agora MB/s':>12}{'boto3 MB/s':>12}{'ratio':>8}")
        for k in ("upload", "download"):
            row = result[f"{k}_mb_s"]
            print(f"{k:10}{row['agora']:>12}{row['boto3']:>12}{row['ratio']:>8}")
        b = result["agora_body_bytes"]
        print(
            f"bytes through Agora's processes: in {b['in']}, out {b['out']} (payload moved: {b['payload']})"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2))
        return 0
    finally:
        st.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
