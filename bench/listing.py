"""Listing and search latency over many synthetic repos (issue 5 benchmark).

Seeds N repos straight into a fresh data folder's database (the index tables the listing reads: repos,
repo_tags, repo_links and the FTS table), starts `agora serve` on it, then runs five typical queries from
a client pool: filter + sort, search, author, facets, dataset reverse link. Prints p50/p99 and requests/s.

    .venv/bin/python bench/listing.py --repos 100000 [--workers 2] [--seconds 10] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
TASKS = ["text-classification", "token-classification", "text-generation", "fill-mask", "translation",
         "automatic-speech-recognition", "image-classification", "summarization", "question-answering"]
LIBS = ["transformers", "sklearn", "diffusers", "peft", "sentence-transformers", "gguf"]
LANGS = ["en", "es", "fr", "de", "zh", "ja", "ar", "hi", "pt", "ru"]
LICENSES = ["mit", "apache-2.0", "cc-by-4.0", "openrail", "other"]
WORDS = ["bert", "gpt", "llama", "tiny", "base", "large", "small", "distil", "roberta", "t5", "whisper", "vit"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(db: Path, n: int, authors: int = 2000, datasets: int = 500) -> None:
    rnd = random.Random(42)
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA journal_mode=WAL")
    now = "2026-11-01 00:00:00.000000"
    batch_repos, batch_tags, batch_links, batch_fts = [], [], [], []
    start = con.execute("SELECT COALESCE(MAX(id), 0) FROM repos").fetchone()[0]
    for i in range(start + 1, start + n + 1):
        ns = f"user{rnd.randrange(authors)}"
        name = f"{rnd.choice(WORDS)}-{rnd.choice(WORDS)}-{i}"
        task, lib, lang, lic = rnd.choice(TASKS), rnd.choice(LIBS), rnd.choice(LANGS), rnd.choice(LICENSES)
        ds = f"org/ds{rnd.randrange(datasets)}"
        downloads = int(rnd.paretovariate(1.2) * 10)
        likes = int(rnd.paretovariate(1.5))
        tags = [lib, task, lang, f"license:{lic}", f"dataset:{ds}"]
        batch_repos.append((i, "model", ns, name, f"bench{i:024d}", 0, now, now, "0" * 40, downloads, likes,
                            downloads, downloads / 10, task, lib, f"{ns}/{name} {' '.join(tags)}".lower()))
        batch_tags += [(i, t) for t in tags]
        batch_links.append((i, "dataset", ds))
        batch_fts.append((i, f"{ns}/{name}", " ".join(tags), f"A {task} model for {lang} built with {lib}."))
        if len(batch_repos) >= 20000 or i == start + n:
            con.executemany("INSERT INTO repos (id, type, namespace, name, storage_key, private, created_at, updated_at,"
                            " head_sha, downloads, likes, downloads_all_time, trending_score, pipeline_tag,"
                            " library_name, search_text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch_repos)
            con.executemany("INSERT INTO repo_tags (repo_id, tag) VALUES (?, ?)", batch_tags)
            con.executemany("INSERT INTO repo_links (repo_id, kind, target) VALUES (?, ?, ?)", batch_links)
            con.executemany("INSERT INTO repo_search (rowid, rid, tags, body) VALUES (?, ?, ?, ?)", batch_fts)
            con.commit()
            batch_repos, batch_tags, batch_links, batch_fts = [], [], [], []
    con.execute("ANALYZE")
    con.commit()
    con.close()


QUERIES = {
    "filter+sort": lambda r: f"/api/models?filter={r.choice(LANGS)}&pipeline_tag={r.choice(TASKS)}&sort=downloads&limit=30",
    "search": lambda r: f"/api/models?search={r.choice(WORDS)}-{r.choice(WORDS)}&limit=30",
    "author": lambda r: f"/api/models?author=user{r.randrange(2000)}&sort=lastModified&limit=30",
    "facets": lambda r: f"/api/models/facets?filter={r.choice(LANGS)}&pipeline_tag={r.choice(TASKS)}",
    "reverse-link": lambda r: f"/api/models?filter=dataset:org/ds{r.randrange(500)}&sort=likes&limit=30",
}


def run(base: str, path_fn, seconds: float, concurrency: int) -> tuple[list[float], int]:
    lat: list[float] = []
    errors = [0]
    stop = time.time() + seconds
    lock = threading.Lock()

    def worker(seed_: int) -> None:
        r = random.Random(seed_)
        with httpx.Client(base_url=base, timeout=30) as c:
            while time.time() < stop:
                t0 = time.perf_counter()
                resp = c.get(path_fn(r))
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    if resp.status_code != 200:
                        errors[0] += 1
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, errors[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--data", type=Path, default=None, help="reuse a seeded data folder")
    args = ap.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="agora-bench-listing-"))
    db = data / "agora.db"
    if not db.exists():
        subprocess.run([str(BIN / "agora"), "user", "add", "bench", "--data", str(data)], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        t0 = time.time()
        seed(db, args.repos)
        print(f"seeded {args.repos} repos in {time.time() - t0:.0f}s ({db.stat().st_size / 1e6:.0f} MB)")
    port = free_port()
    proc = subprocess.Popen([str(BIN / "agora"), "serve", "--port", str(port), "--data", str(data), "--workers",
                             str(args.workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/api/models?limit=1", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"{'query':<14}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>8}{'errors':>8}")
        for name, fn in QUERIES.items():
            run(base, fn, 1, args.concurrency)  # warm up
            lat, errors = run(base, fn, args.seconds, args.concurrency)
            lat.sort()
            p50 = statistics.median(lat) * 1000
            p99 = lat[int(len(lat) * 0.99) - 1] * 1000
            print(f"{name:<14}{p50:>8.1f}{p99:>8.1f}{len(lat) / args.seconds:>8.0f}{errors:>8}")
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"data folder kept for reruns: {data} (--data)")


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    main()
