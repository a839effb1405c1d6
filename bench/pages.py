"""Server render time of the web UI's list and repo pages over many repos (issue 6 benchmark).

Seeds N synthetic repos into a fresh data folder (bench/listing.py's seeder), creates one real repo with a
card and files through the API, then requests each page sequentially from one client and reports p50/p95.

    .venv/bin/python bench/pages.py --repos 10000 [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _server import agora, start_server  # noqa: E402
from listing import seed  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="agora-bench-pages-"))
    agora("user", "add", "bench", "--password-stdin", data=data, stdin="bench-password\n")
    token = agora("token", "create", "bench", data=data)
    seed(data / "agora.db", args.repos)
    server = start_server(data, user=None, ready_path="/api/models?limit=1", timeout=120)
    base = server.url
    try:
        h = {"Authorization": f"Bearer {token}"}
        httpx.post(base + "/api/repos/create", json={"name": "real"}, headers=h).raise_for_status()
        readme = (
            "---\nlicense: mit\nlanguage: en\npipeline_tag: text-classification\ndatasets:\n- org/ds1\n---\n"
            "# Real\n\n" + "Some *markdown* text with `code`.\n\n" * 50 + "```python\nprint('hi')\n```\n"
        )
        lines = [json.dumps({"key": "header", "value": {"summary": "files"}})]
        import base64

        files = {"README.md": readme.encode(), "config.json": json.dumps({"model_type": "bert"}).encode()}
        files.update({f"src/file{i}.py": f"x = {i}\n".encode() for i in range(50)})
        for path, content in files.items():
            lines.append(
                json.dumps(
                    {
                        "key": "file",
                        "value": {
                            "path": path,
                            "encoding": "base64",
                            "content": base64.b64encode(content).decode(),
                        },
                    }
                )
            )
        httpx.post(
            base + "/api/models/bench/real/commit/main",
            content="\n".join(lines),
            headers={**h, "Content-Type": "application/x-ndjson"},
        ).raise_for_status()
        pages = {
            "/models": "/models",
            "/models filtered": "/models?pipeline_tag=fill-mask&language=en",
            "/models search": "/models?search=bert",
            "repo page": "/bench/real",
            "files tree": "/bench/real/tree/main",
            "home": "/",
        }
        print(f"{args.repos} repos; {args.requests} sequential requests per page")
        print(f"{'page':<18}{'p50 ms':>8}{'p95 ms':>8}")
        with httpx.Client(base_url=base, timeout=30) as c:
            for name, path in pages.items():
                for _ in range(5):
                    c.get(path)
                lat = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    r = c.get(path)
                    lat.append(time.perf_counter() - t0)
                    assert r.status_code == 200, (path, r.status_code)
                lat.sort()
                print(
                    f"{name:<18}{statistics.median(lat) * 1000:>8.1f}{lat[int(len(lat) * 0.95) - 1] * 1000:>8.1f}"
                )
    finally:
        server.stop(10)


if __name__ == "__main__":
    main()
