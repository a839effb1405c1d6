"""Dataset viewer benchmark (issue 7): /rows at random offsets, /search, conversion throughput and RSS.

Starts `agora serve` on a fresh data folder, then:
1. uploads a parquet of --rows rows (default 10M; id, text, score), waits for the conversion, and times
   /rows (length 100) at random offsets: p50/p95, against a direct pyarrow read of the same rows from the
   converted parquet file (open file, read the row groups, slice) — the ratio the issue asks about;
2. uploads --search-rows rows (default 1M) of text and times /search for a few words;
3. uploads a CSV of --csv-mb MB (default 1024) and reports the conversion's throughput (MB/s of CSV) and
   the conversion child's peak RSS, as the job recorded them.

    .venv/bin/python bench/viewer.py [--rows 10000000] [--search-rows 1000000] [--csv-mb 1024] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from _server import start_server  # bench/_server.py: the one way benchmarks start `agora serve`

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
]


def text_table(start_id: int, n: int, rnd: random.Random) -> pa.Table:
    words = [" ".join(rnd.choice(WORDS) for _ in range(6)) for _ in range(1000)]
    return pa.table(
        {
            "id": pa.array(range(start_id, start_id + n), pa.int64()),
            "text": pa.array([words[(start_id + i) % 1000] for i in range(n)], pa.string()),
            "score": pa.array([((start_id + i) % 997) / 997 for i in range(n)], pa.float64()),
        }
    )


def write_parquet(path: Path, rows: int) -> None:
    rnd = random.Random(1)
    schema = text_table(0, 1, rnd).schema
    with pq.ParquetWriter(str(path), schema) as w:
        for s in range(0, rows, 500_000):
            w.write_table(text_table(s, min(500_000, rows - s), rnd), row_group_size=500_000)


def write_csv(path: Path, mb: int) -> int:
    rnd = random.Random(2)
    lines = [
        f'{i},"{" ".join(rnd.choice(WORDS) for _ in range(8))}",{i % 997 / 997:.6f}\n' for i in range(10_000)
    ]
    block = "".join(lines).encode()
    with open(path, "wb") as fh:
        fh.write(b"id,text,score\n")
        while fh.tell() < mb * 1024 * 1024:
            fh.write(block)
        return fh.tell()


def wait(url: str, repo: str, sha: str, token: str, timeout: float = 3600) -> float:
    t = time.time()
    while time.time() - t < timeout:
        r = httpx.get(
            f"{url}/api/datasets-server/splits",
            params={"dataset": repo},
            headers={"authorization": f"Bearer {token}"},
            timeout=60,
        )
        if r.status_code == 200 and r.headers.get("x-revision") == sha and not r.json()["pending"]:
            return time.time() - t
        time.sleep(0.2)
    raise RuntimeError("conversion did not finish")


def upload(url: str, token: str, repo: str, path: Path, name: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=url, token=token)
    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    return api.upload_file(
        path_or_fileobj=str(path), path_in_repo=name, repo_id=repo, repo_type="dataset"
    ).oid


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def job_record(data: Path, repo_name: str) -> dict:
    con = sqlite3.connect(data / "agora.db")
    row = con.execute(
        "SELECT v.data FROM viewer_results v JOIN repos r ON r.id = v.repo_id WHERE r.name = ? "
        "ORDER BY v.id DESC LIMIT 1",
        (repo_name,),
    ).fetchone()
    con.close()
    return json.loads(row[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--search-rows", type=int, default=1_000_000)
    ap.add_argument("--csv-mb", type=int, default=1024)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    root = Path(tempfile.mkdtemp(prefix="agora-bench-viewer-"))
    data = root / "data"
    data.mkdir()
    server = start_server(data, log=root / "server.log")  # user bench, a write token
    token, url = server.token, server.url
    rnd = random.Random(3)
    out: dict = {}
    try:
        # 1. /rows at random offsets
        p = root / "big.parquet"
        t = time.time()
        write_parquet(p, args.rows)
        print(
            f"generated {args.rows:,} rows ({p.stat().st_size / 2**20:.0f} MB parquet) in {time.time() - t:.0f}s"
        )
        sha = upload(url, token, "bench/rows", p, "data/train-00000-of-00001.parquet")
        conv = wait(url, "bench/rows", sha, token)
        rec = job_record(data, "rows")["configs"][0]["splits"][0]
        print(f"converted {args.rows:,} rows in {conv:.1f}s (peak RSS {rec['peak_rss'] / 2**20:.0f} MB)")
        shards = [
            (data / "lfs" / f["oid"][:2] / f["oid"][2:4] / f["oid"], f["num_rows"]) for f in rec["files"]
        ]
        client = httpx.Client(headers={"authorization": f"Bearer {token}"}, timeout=60)
        offsets = [rnd.randrange(0, args.rows - 100) for _ in range(args.requests)]
        lat = []
        for off in offsets:
            t = time.perf_counter()
            r = client.get(
                f"{url}/api/datasets-server/rows",
                params={
                    "dataset": "bench/rows",
                    "config": "default",
                    "split": "train",
                    "offset": off,
                    "length": 100,
                },
            )
            lat.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and r.json()["rows"][0]["row"]["id"] == off, r.text[:200]
        direct = []
        for off in offsets:
            t = time.perf_counter()
            base = 0
            for path, n in shards:  # what a caller with the file does: open it, read the row groups, slice
                if off < base + n:
                    pf = pq.ParquetFile(path)
                    local, starts = off - base, [0]
                    for i in range(pf.metadata.num_row_groups):
                        starts.append(starts[-1] + pf.metadata.row_group(i).num_rows)
                    first = max(i for i in range(len(starts) - 1) if starts[i] <= local)
                    last = max(i for i in range(len(starts) - 1) if starts[i] <= local + 99)
                    pf.read_row_groups(list(range(first, last + 1))).slice(
                        local - starts[first], 100
                    ).to_pylist()
                    break
                base += n
            direct.append((time.perf_counter() - t) * 1000)
        out["rows"] = {
            "p50_ms": statistics.median(lat),
            "p95_ms": pct(lat, 95),
            "direct_p50_ms": statistics.median(direct),
            "direct_p95_ms": pct(direct, 95),
        }
        out["rows"]["ratio_p95"] = out["rows"]["p95_ms"] / out["rows"]["direct_p95_ms"]
        print(
            f"/rows x{args.requests}: p50 {out['rows']['p50_ms']:.1f} ms, p95 {out['rows']['p95_ms']:.1f} ms; "
            f"direct pyarrow p50 {out['rows']['direct_p50_ms']:.1f} ms, p95 {out['rows']['direct_p95_ms']:.1f} ms; "
            f"ratio p95 {out['rows']['ratio_p95']:.2f}x"
        )

        # 2. /search
        p = root / "search.parquet"
        write_parquet(p, args.search_rows)
        sha = upload(url, token, "bench/search", p, "train.parquet")
        wait(url, "bench/search", sha, token)
        lat = []
        for q in ["alpha", "tango golf", "november oscar papa", "zzz-no-match", "echo"] * 4:
            t = time.perf_counter()
            r = client.get(
                f"{url}/api/datasets-server/search",
                params={
                    "dataset": "bench/search",
                    "config": "default",
                    "split": "train",
                    "query": q,
                    "length": 100,
                },
            )
            lat.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:200]
        out["search"] = {"rows": args.search_rows, "p50_ms": statistics.median(lat), "p95_ms": pct(lat, 95)}
        print(
            f"/search over {args.search_rows:,} rows x{len(lat)}: p50 {out['search']['p50_ms']:.0f} ms, "
            f"p95 {out['search']['p95_ms']:.0f} ms"
        )

        # 3. CSV conversion throughput and peak RSS
        p = root / "big.csv"
        size = write_csv(p, args.csv_mb)
        sha = upload(url, token, "bench/csv", p, "train.csv")
        conv = wait(url, "bench/csv", sha, token)
        rec = job_record(data, "csv")["configs"][0]["splits"][0]
        assert rec["error"] is None, rec["error"]
        out["csv"] = {
            "mb": size / 2**20,
            "seconds_child": rec["seconds"],
            "seconds_total": conv,
            "mb_per_s": size / 2**20 / rec["seconds"],
            "peak_rss_mb": rec["peak_rss"] / 2**20,
            "rows": rec["num_rows"],
        }
        print(
            f"CSV {size / 2**20:.0f} MB ({rec['num_rows']:,} rows): converted in {rec['seconds']:.1f}s "
            f"({out['csv']['mb_per_s']:.0f} MB/s; {conv:.1f}s commit-to-ready), peak RSS "
            f"{out['csv']['peak_rss_mb']:.0f} MB"
        )
        print(json.dumps(out, indent=1))
    finally:
        server.stop(10)
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
