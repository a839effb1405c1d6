"""Spaces on one host: cold starts, wake from sleep, and the proxy's overhead per request.

    .venv/bin/python bench/spaces.py               # 3 runs of the proxy measurement, 200 requests each
    .venv/bin/python bench/spaces.py --keep

Needs what Spaces need (root, bwrap, setpriv: `make install`) and the machine's package index (the first
Gradio build downloads gradio from it). Starts `agora serve` with its defaults, except
AGORA_SPACES_SLEEP_TIME=5 (a Space idle for 5 s sleeps, so that waking one can be timed) and an empty spaces
root of its own (no environment built yet), then:

1. **first Gradio Space**: a git-free `create_commit` of README (sdk: gradio, a pinned sdk_version) + app.py;
   seconds from the commit to RUNNING (its environment built from an empty cache: downloads, install,
   bytecode);
2. **second Gradio Space** with the same python, sdk, sdk_version and requirements.txt: seconds from its
   commit to RUNNING (the environment is reused: only its files, its sandbox and the app's start);
3. **wake from sleep**: the second Space left idle until SLEEPING, then one request to its app; seconds
   until that request is answered (200);
4. **proxy overhead**: `GET /gradio_api/info` on the running app, one at a time, through Agora
   (`/spaces/{id}/app/…`, HTTP keep-alive) and straight to the app's unix socket; the difference of the
   medians is what the proxy adds. Median of `--runs` runs. Also the server's CPU time per proxied request
   (its process and granian workers, from /proc), which a loaded machine disturbs less than wall time.

Targets (2 cores): second Space RUNNING <= 5 s after its push, wake <= 3 s, proxy overhead <= 3 ms p50.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_PROXY", "127.0.0.1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._server import Server, start_server  # noqa: E402

GRADIO = "6.31.0"
APP = b"""import gradio as gr


def greet(name):
    return f"Hello, {name}!"


gr.Interface(fn=greet, inputs="text", outputs="text").launch()
"""
README = f"---\nsdk: gradio\nsdk_version: {GRADIO}\n---\n".encode()


def push_and_wait(server: Server, rid: str, timeout: float = 600) -> float:
    """Seconds from the commit of a new Gradio Space to RUNNING."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=server.url, token=server.token)
    api.create_repo(rid, repo_type="space", space_sdk="gradio")
    t = time.perf_counter()
    ops = [CommitOperationAdd("README.md", README), CommitOperationAdd("app.py", APP)]
    api.create_commit(rid, ops, commit_message="app", repo_type="space")
    while True:
        stage = api.get_space_runtime(rid).stage
        if stage == "RUNNING":
            return time.perf_counter() - t
        if stage.endswith("ERROR") or time.perf_counter() - t > timeout:
            sys.exit(f"{rid} did not run: {stage}")
        time.sleep(0.05)


def wake(server: Server, rid: str) -> float:
    """Wait until the Space sleeps, then seconds for one request to its app to be answered."""
    import httpx
    from huggingface_hub import HfApi

    api = HfApi(endpoint=server.url, token=server.token)
    end = time.monotonic() + 120
    while api.get_space_runtime(rid).stage != "SLEEPING":
        if time.monotonic() > end:
            sys.exit(f"{rid} did not go to sleep")
        time.sleep(0.5)
    t = time.perf_counter()
    r = httpx.get(f"{server.url}/spaces/{rid}/app/", timeout=120)
    took = time.perf_counter() - t
    if r.status_code != 200:
        sys.exit(f"waking {rid}: {r.status_code} {r.text[:200]}")
    return took


def proxy_overhead(server: Server, rid: str, socket: str, n: int) -> dict[str, float]:
    import httpx

    def timed(c: httpx.Client, url: str) -> float:
        for _ in range(20):
            assert c.get(url).status_code == 200
        xs = []
        for _ in range(n):
            t = time.perf_counter()
            c.get(url)
            xs.append(time.perf_counter() - t)
        return statistics.median(xs) * 1e3

    with httpx.Client(timeout=30) as c:
        cpu0 = server_cpu(server.pid)
        via = timed(c, f"{server.url}/spaces/{rid}/app/gradio_api/info")
        cpu = (server_cpu(server.pid) - cpu0) / (n + 20) * 1e3
    with httpx.Client(transport=httpx.HTTPTransport(uds=socket), timeout=30) as c:
        direct = timed(c, "http://127.0.0.1:7860/gradio_api/info")
    return {"via": via, "direct": direct, "overhead": via - direct, "cpu": cpu}


def server_cpu(pid: int) -> float:
    """CPU seconds of the server process and its granian workers (not the Spaces' sandboxes, which are the
    workers' children): what the proxy costs the server, steadier than wall time on a machine others load."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return own(pid) + sum(own(k) for k in kids)


def socket_of(data: Path, rid: str) -> str:
    import sqlite3

    ns, name = rid.split("/")
    with sqlite3.connect(data / "agora.db") as db:
        row = db.execute(
            "SELECT r.socket FROM space_runs r JOIN repos p ON p.id = r.repo_id WHERE p.namespace=? AND p.name=?",
            (ns, name),
        ).fetchone()
    if not row or not row[0]:
        sys.exit(f"{rid} has no socket")
    return str(row[0])


def run(args: argparse.Namespace, tmp: Path) -> None:
    from huggingface_hub import HfApi

    spaces_root = tmp / "spaces"
    spaces_root.mkdir()
    tmp.chmod(0o755)
    env = {**os.environ, "AGORA_SPACES_SLEEP_TIME": "5", "AGORA_SPACES_ROOT": str(spaces_root)}
    server = start_server(tmp / "data", log=tmp / "server.log", env=env, ready_path="/api/models?limit=1")
    try:
        first = push_and_wait(server, "bench/first")
        print(f"first Gradio Space (empty env cache): RUNNING {first:.1f} s after its commit", flush=True)
        second = push_and_wait(server, "bench/second")
        print(f"second Gradio Space (same env): RUNNING {second:.1f} s after its commit", flush=True)
        woke = wake(server, "bench/second")
        print(f"wake from sleep: answered {woke:.2f} s after the request", flush=True)
        # Straight to its socket the app is not seen used: on a loaded machine 5 s idle would pass mid-run.
        HfApi(endpoint=server.url, token=server.token).set_space_sleep_time("bench/second", 3600)
        sock = socket_of(tmp / "data", "bench/second")
        runs = [proxy_overhead(server, "bench/second", sock, args.requests) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("via", "direct", "overhead", "cpu")}
        print(f"GET /gradio_api/info, median of {args.runs} x {args.requests}: through Agora {med['via']:.2f} ms, "
              f"straight to the socket {med['direct']:.2f} ms, proxy overhead {med['overhead']:.2f} ms, "
              f"server CPU {med['cpu']:.2f} ms a request")  # fmt: skip
        report(first, second, woke, med)
    finally:
        server.stop()


def report(first: float, second: float, woke: float, med: dict[str, Any]) -> None:
    def mark(ok: bool) -> str:
        return "met" if ok else "**missed**"

    print("\n| measure | value | target |\n|---|---:|---|")
    print(f"| first Gradio Space, commit to RUNNING (empty env cache) | {first:.1f} s | |")
    print(
        f"| second Gradio Space, same env, commit to RUNNING | {second:.1f} s | <= 5 s: {mark(second <= 5)} |"
    )
    print(f"| wake from sleep, request to answer | {woke:.2f} s | <= 3 s: {mark(woke <= 3)} |")
    print(f"| proxy overhead per request, p50 (through Agora {med['via']:.2f} ms, direct {med['direct']:.2f} ms) "
          f"| {med['overhead']:.2f} ms | <= 3 ms: {mark(med['overhead'] <= 3)} |")  # fmt: skip
    print(f"| server CPU per proxied request (its process and workers) | {med['cpu']:.2f} ms | |")
    print(f"| load average at the end | {' '.join(f'{x:.2f}' for x in os.getloadavg())} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, data)")
    args = ap.parse_args()
    from agora.spaces import missing

    if problems := missing():
        sys.exit("Spaces cannot run here: " + "; ".join(problems))
    tmp = Path(tempfile.mkdtemp(prefix="agora-bench-spaces-"))
    try:
        run(args, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
