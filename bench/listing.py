"""Listing and search latency over many synthetic repos (issue 5 benchmark).

Seeds N repos straight into a fresh data folder's database (the index tables the listing reads: repos,
repo_tags, repo_links and the FTS table), starts `agora serve` on it, then runs five typical queries from
a client pool: filter + sort, search, author, facets, dataset reverse link. Prints p50/p99, requests/s and
the server's CPU time per request.

The load comes from `wrk` (Debian's package; a Lua script draws each request's parameters) when it is on
PATH: a Python client would take most of the two cores it shares with the server. Without wrk, Python
threads do it (the figures are then the client's limit as much as the server's).

`--inprocess` also times the catalog's own work per query in this process, facets uncached.

    .venv/bin/python bench/listing.py --repos 100000 [--workers 2] [--seconds 10] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _server import BIN, start_server  # bench/_server.py: the one way benchmarks start `agora serve`

TASKS = [
    "text-classification",
    "token-classification",
    "text-generation",
    "fill-mask",
    "translation",
    "automatic-speech-recognition",
    "image-classification",
    "summarization",
    "question-answering",
]
LIBS = ["transformers", "sklearn", "diffusers", "peft", "sentence-transformers", "gguf"]
LANGS = ["en", "es", "fr", "de", "zh", "ja", "ar", "hi", "pt", "ru"]
LICENSES = ["mit", "apache-2.0", "cc-by-4.0", "openrail", "other"]
WORDS = [
    "bert",
    "gpt",
    "llama",
    "tiny",
    "base",
    "large",
    "small",
    "distil",
    "roberta",
    "t5",
    "whisper",
    "vit",
]


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
        batch_repos.append(
            (
                i,
                "model",
                ns,
                name,
                f"bench{i:024d}",
                0,
                now,
                now,
                "0" * 40,
                downloads,
                likes,
                downloads,
                downloads / 10,
                task,
                lib,
                f"{ns}/{name} {' '.join(tags)}".lower(),
                "\n".join(tags),
            )
        )
        batch_tags += [(i, t) for t in tags]
        batch_links.append((i, "dataset", ds))
        batch_fts.append((i, f"{ns}/{name}", " ".join(tags), f"A {task} model for {lang} built with {lib}."))
        if len(batch_repos) >= 20000 or i == start + n:
            con.executemany(
                "INSERT INTO repos (id, type, namespace, name, storage_key, private, created_at, updated_at,"
                " head_sha, downloads, likes, downloads_all_time, trending_score, pipeline_tag,"
                " library_name, search_text, tag_list) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch_repos,
            )
            con.executemany("INSERT INTO repo_tags (repo_id, tag) VALUES (?, ?)", batch_tags)
            con.executemany("INSERT INTO repo_links (repo_id, kind, target) VALUES (?, ?, ?)", batch_links)
            con.executemany("INSERT INTO repo_search (rowid, rid, tags, body) VALUES (?, ?, ?, ?)", batch_fts)
            con.commit()
            batch_repos, batch_tags, batch_links, batch_fts = [], [], [], []
    con.execute("ANALYZE")
    con.commit()
    con.close()


def lua_list(xs: list[str]) -> str:
    return "{" + ",".join(f'"{x}"' for x in xs) + "}"


# The same five queries for wrk: one Lua script, the query chosen by the environment variable Q.
LUA = f"""
local langs = {lua_list(LANGS)}
local tasks = {lua_list(TASKS)}
local words = {lua_list(WORDS)}
local q = os.getenv("Q")
local function pick(t) return t[math.random(#t)] end
request = function()
  local p
  if q == "filter+sort" then
    p = "/api/models?filter=" .. pick(langs) .. "&pipeline_tag=" .. pick(tasks) .. "&sort=downloads&limit=30"
  elseif q == "search" then p = "/api/models?search=" .. pick(words) .. "-" .. pick(words) .. "&limit=30"
  elseif q == "author" then p = "/api/models?author=user" .. math.random(0, 1999) .. "&sort=lastModified&limit=30"
  elseif q == "facets" then p = "/api/models/facets?filter=" .. pick(langs) .. "&pipeline_tag=" .. pick(tasks)
  else p = "/api/models?filter=dataset:org/ds" .. math.random(0, 499) .. "&sort=likes&limit=30" end
  return wrk.format("GET", p)
end
"""

QUERIES = {
    "filter+sort": lambda r: (
        f"/api/models?filter={r.choice(LANGS)}&pipeline_tag={r.choice(TASKS)}&sort=downloads&limit=30"
    ),
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


def run_wrk(
    base: str, name: str, seconds: float, concurrency: int, script: Path
) -> tuple[float, float, float, int]:
    """p50 ms, p99 ms, requests/s and non-2xx answers, by wrk."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        env={**os.environ, "Q": name},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(v: str) -> float:
        for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if v.endswith(unit):
                return float(v[: -len(unit)]) * f
        return float(v)

    got = {ln.split()[0]: ln.split()[1] for ln in out.splitlines() if ln.strip().startswith(("50%", "99%"))}
    rps = float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("Requests/sec")))
    bad = next((int(ln.split()[-1]) for ln in out.splitlines() if "Non-2xx" in ln), 0)
    return ms(got["50%"]), ms(got["99%"]), rps, bad


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (granian's workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def writer(db: Path, per_second: float) -> None:
    """Download-count changes on random repos through the ORM, each in its own transaction, as the server's
    download counting does: every change is a Repo update plus an index_log row the servers must apply."""
    from agora.db.models import Repo
    from agora.db.session import Database

    database = Database(f"sqlite:///{db}")
    with database.session() as s:
        top = s.query(Repo.id).order_by(Repo.id.desc()).first()[0]
    r = random.Random(3)
    while True:
        t = time.perf_counter()
        with database.session() as s:
            repo = s.get(Repo, r.randint(1, top))
            if repo is not None:
                repo.downloads += 1
        time.sleep(max(0.0, 1 / per_second - (time.perf_counter() - t)))


def inprocess(db: Path) -> None:
    """The catalog's work per query in this process (no HTTP), facets recomputed every time."""
    import gc

    from agora.db.session import Database
    from agora.hub import catalog

    cat = catalog.of(Database(f"sqlite:///{db}").engine)
    gc.disable()
    t0 = time.perf_counter()
    cat.load()
    gc.enable()
    gc.freeze()
    print(f"catalog loaded in {time.perf_counter() - t0:.1f}s")
    r = random.Random(7)
    W = catalog.Where
    calls = {
        "filter+sort": lambda: cat.page(
            W("model", None, None, [r.choice(LANGS), catalog.PIPELINE + r.choice(TASKS)], []),
            "downloads",
            None,
            31,
        ),
        "search": lambda: cat.page(
            W("model", None, None, [], [f"{r.choice(WORDS)}-{r.choice(WORDS)}"]), None, None, 31
        ),
        "author": lambda: cat.page(
            W("model", None, f"user{r.randrange(2000)}", [], []), "lastModified", None, 31
        ),
        "facets": lambda: (
            cat._facets.clear(),
            cat.facets(W("model", None, None, [r.choice(LANGS), catalog.PIPELINE + r.choice(TASKS)], [])),
        ),
        "reverse-link": lambda: cat.page(
            W("model", None, None, [f"dataset:org/ds{r.randrange(500)}"], []), "likes", None, 31
        ),
    }
    print(f"{'in process':<14}{'p50 ms':>8}{'p99 ms':>8}")
    for name, fn in calls.items():
        lat = []
        for _ in range(500):
            t = time.perf_counter()
            fn()
            lat.append(time.perf_counter() - t)
        lat.sort()
        print(f"{name:<14}{lat[250] * 1000:>8.2f}{lat[494] * 1000:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--data", type=Path, default=None, help="reuse a seeded data folder")
    ap.add_argument("--inprocess", action="store_true", help="also time the catalog alone, in this process")
    ap.add_argument(
        "--python-client", action="store_true", help="load from Python threads even if wrk is here"
    )
    ap.add_argument(
        "--writes",
        type=float,
        default=0,
        help="meanwhile change this many repos' download counts per second (as downloads do)",
    )
    args = ap.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="agora-bench-listing-"))
    db = data / "agora.db"
    if not db.exists():
        subprocess.run(
            [str(BIN / "agora"), "user", "add", "bench", "--data", str(data)],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        t0 = time.time()
        seed(db, args.repos)
        print(f"seeded {args.repos} repos in {time.time() - t0:.0f}s ({db.stat().st_size / 1e6:.0f} MB)")
    subprocess.run([str(BIN / "agora"), "migrate", "--data", str(data)], check=True, capture_output=True)
    if args.inprocess:
        inprocess(db)
    t0 = time.time()  # the first listing waits for the catalog to load
    server = start_server(
        data, user=None, workers=args.workers, ready_path="/api/models?limit=1", timeout=600
    )
    proc = server.proc
    base = server.url
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    script = data / "listing.lua"
    script.write_text(LUA)
    try:
        print(
            f"server answering listings {time.time() - t0:.1f}s after start ({'wrk' if use_wrk else 'Python'} client,"
            f" {args.concurrency} connections)"
        )
        print(f"{'query':<14}{'p50 ms':>8}{'p99 ms':>8}{'req/s':>8}{'errors':>8}{'CPU ms/req':>12}")
        if args.writes:
            threading.Thread(target=writer, args=(db, args.writes), daemon=True).start()
            print(f"meanwhile {args.writes:.0f} repo changes per second through the ORM (each one logged)")
        for name, fn in QUERIES.items():
            if use_wrk:
                run_wrk(base, name, 2, args.concurrency, script)  # warm up (facet caches fill here)
                c0 = cpu_seconds(proc.pid)
                p50, p99, rps, errors = run_wrk(base, name, args.seconds, args.concurrency, script)
                cpu = (cpu_seconds(proc.pid) - c0) * 1000 / max(1.0, rps * args.seconds)
            else:
                run(base, fn, 2, args.concurrency)
                c0 = cpu_seconds(proc.pid)
                lat, errors = run(base, fn, args.seconds, args.concurrency)
                cpu = (cpu_seconds(proc.pid) - c0) * 1000 / max(1, len(lat))
                lat.sort()
                p50 = statistics.median(lat) * 1000
                p99 = lat[int(len(lat) * 0.99) - 1] * 1000
                rps = len(lat) / args.seconds
            print(f"{name:<14}{p50:>8.1f}{p99:>8.1f}{rps:>8.0f}{errors:>8}{cpu:>12.2f}")
    finally:
        server.stop(10)
    print(f"data folder kept for reruns: {data} (--data)")


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
    main()
