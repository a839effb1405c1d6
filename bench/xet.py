"""Native Xet with the default client (issue 4 benchmark).

1. Upload one large random file with huggingface_hub + hf_xet (no HF_HUB_DISABLE_XET), then download it
   through Xet and over plain HTTP; prints the times, the server's CPU seconds and its peak RSS.
2. Storage growth for fine-tune-like variants of one model file (each variant rewrites ~10 % of the
   bytes in a few places): bytes added to the xorb store (Xet) vs the LFS store (HF_HUB_DISABLE_XET=1).

    .venv/bin/python bench/xet.py [--size-mb 1024] [--model-mb 256] [--variants 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from _server import start_server  # bench/_server.py: the one way benchmarks start `agora serve`


def tree_pids(root: int) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            pass
    return out


class Sampler(threading.Thread):
    """Peak RSS (sum over the server's process tree) and CPU seconds, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0  # sum over the process tree (granian's main process and its worker)
        self.peak_one = 0  # the largest single process
        self.stop = False

    def cpu(self) -> float:
        tck = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for p in tree_pids(self.pid):
            try:
                f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) / tck
            except (OSError, IndexError):
                pass
        return total

    def run(self) -> None:
        while not self.stop:
            rss = 0
            for p in tree_pids(self.pid):
                try:
                    for line in Path(f"/proc/{p}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            one = int(line.split()[1]) * 1024
                            rss += one
                            self.peak_one = max(self.peak_one, one)
                except OSError:
                    pass
            self.peak = max(self.peak, rss)
            time.sleep(0.1)


def client(script: str, endpoint: str, token: str, home: Path, xet: bool = True) -> float:
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_TOKEN=token,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="127.0.0.1",
    )
    if not xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, check=True)
    return time.perf_counter() - t


def store_bytes(root: Path) -> int:
    files = (p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts)
    return sum(p.stat().st_size for p in files)


def sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while b := fh.read(1 << 22):
            h.update(b)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--model-mb", type=int, default=256)
    ap.add_argument("--variants", type=int, default=5)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agora-xet-bench-"))
    data = work / "data"
    server = start_server(data, log=work / "server.log")  # user bench, a write token
    token, endpoint = server.token, server.url
    try:
        sampler = Sampler(server.pid)
        sampler.start()

        big = work / "big.bin"
        with open(big, "wb") as fh:
            for _ in range(a.size_mb):
                fh.write(os.urandom(1 << 20))
        want = sha(big)
        cpu0 = sampler.cpu()
        up = client(
            f"""
            from huggingface_hub import HfApi
            api = HfApi()
            api.create_repo("bench/big")
            api.upload_file(path_or_fileobj={str(big)!r}, path_in_repo="big.bin", repo_id="bench/big")
        """,
            endpoint,
            token,
            work / "home-up",
        )
        cpu1 = sampler.cpu()
        script = f"""
            import hashlib
            from huggingface_hub import hf_hub_download
            p = hf_hub_download("bench/big", "big.bin", cache_dir={{cache!r}})
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                while b := fh.read(1 << 22):
                    h.update(b)
            assert h.hexdigest() == {want!r}, "downloaded bytes differ"
        """
        down_xet = client(script.format(cache=str(work / "c-xet")), endpoint, token, work / "home-x")
        cpu2 = sampler.cpu()
        down_http = client(
            script.format(cache=str(work / "c-http")), endpoint, token, work / "home-h", xet=False
        )
        cpu3 = sampler.cpu()
        big.unlink()
        for d in ("c-xet", "c-http"):
            subprocess.run(["rm", "-rf", str(work / d)])
        mb = a.size_mb
        print(f"{mb} MiB file, default client:")
        print(f"  upload (Xet)      {up:7.1f} s  {mb / up:7.1f} MiB/s  server CPU {cpu1 - cpu0:6.1f} s")
        for what, secs, cpu in (
            ("download (Xet) ", down_xet, cpu2 - cpu1),
            ("download (HTTP)", down_http, cpu3 - cpu2),
        ):
            print(f"  {what}   {secs:7.1f} s  {mb / secs:7.1f} MiB/s  server CPU {cpu:6.1f} s")
        print(
            f"  server peak RSS   {sampler.peak / 2**20:7.1f} MiB (all processes), "
            f"{sampler.peak_one / 2**20:.1f} MiB (largest process)"
        )

        rnd = random.Random(1)
        model = bytearray(os.urandom(a.model_mb << 20))
        results = []
        for mode in ("xet", "lfs"):
            root = data / ("xet/xorbs" if mode == "xet" else "lfs")
            start = store_bytes(root) if root.exists() else 0
            variant = bytearray(model)
            for v in range(a.variants + 1):
                if v:  # a fine-tune: rewrite ~10 % of the bytes in 4 places
                    n = len(variant) // 40
                    for _ in range(4):
                        at = rnd.randrange(0, len(variant) - n)
                        variant[at : at + n] = os.urandom(n)
                f = work / f"{mode}-v{v}.safetensors"
                f.write_bytes(variant)
                client(
                    f"""
                    from huggingface_hub import HfApi
                    api = HfApi()
                    api.create_repo("bench/model-{mode}", exist_ok=True)
                    api.upload_file(path_or_fileobj={str(f)!r}, path_in_repo="v{v}/model.safetensors",
                                    repo_id="bench/model-{mode}")
                """,
                    endpoint,
                    token,
                    work / f"home-{mode}-{v}",
                    xet=(mode == "xet"),
                )
                f.unlink()
            results.append((mode, store_bytes(root) - start))
        logical = a.model_mb * (a.variants + 1)
        print(f"\nbase model of {a.model_mb} MiB + {a.variants} variants ({logical} MiB uploaded):")
        for mode, grown in results:
            share = grown / (logical << 20)
            print(f"  {mode:4s} store grew by {grown / 2**20:8.1f} MiB ({share:.0%} of the bytes uploaded)")
        return 0
    finally:
        server.stop(20)
        subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    sys.exit(main())
