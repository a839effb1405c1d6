"""Upload and download speed of Agora through huggingface_hub, and the server's memory while it moves bytes.

    .venv/bin/python bench/download_upload.py [--size-mb 1024] [--repeat 5] [--workdir DIR]

It starts its own `agora serve` on an ephemeral port with a temporary data folder, writes a random file of
--size-mb MiB and measures:

1. upload: `HfApi.upload_file` (HF_HUB_DISABLE_XET=1, so LFS batch then PUT or multipart, then the commit),
   against the floor `sha256sum FILE` + `cp FILE DEST` on the same disk. Target: ratio <= 1.5.
2. download: `hf_hub_download` from Agora against the same client pointed at nginx, which serves the very
   same blob file with the headers the client needs (X-Repo-Commit, X-Linked-Etag). Both go through the
   same code path (HEAD, then GET streamed into the cache). Target: Agora >= 1.0x nginx.
3. memory: VmRSS of the granian worker processes (children of `agora serve`), sampled every 100 ms during
   the transfers. Target: max < 300 MB, flat.

Each measurement is repeated --repeat times, alternating Agora and the reference; the table shows the
median (and the best). Everything lives under one temporary folder on one disk, removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from _server import (
    Server,
    free_port,
    start_server,
)  # bench/_server.py: the one way benchmarks start `agora serve`

MiB = 1024 * 1024


def wait_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- memory sampling ---------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """All descendants of pid (granian's workers), from /proc/<pid>/task/*/children."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for t in tasks:
            try:
                kids = [int(x) for x in Path(f"/proc/{p}/task/{t}/children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            out += kids
            todo += kids
    return out


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU time of the workers: unlike wall time, it ignores what else the machine runs."""
    total = 0
    for pid in children(root_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class RssSampler:
    """Samples the workers' summed VmRSS every `period` seconds; `phase` labels the samples."""

    root_pid: int
    period: float = 0.1
    phase: str = "idle"
    samples: list[tuple[float, str, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> RssSampler:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = children(self.root_pid)
            total = sum(rss_kb(p) for p in workers)
            self.samples.append((time.time(), self.phase, total))
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()

    def of(self, prefix: str) -> list[int]:
        return [kb for _, ph, kb in self.samples if ph.startswith(prefix)]


# --- the runs ----------------------------------------------------------------------------------------


def make_random_file(path: Path, size: int) -> None:
    left = size
    with open(path, "wb") as fh:
        while left:
            n = min(left, 16 * MiB)
            fh.write(os.urandom(n))
            left -= n


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    # Start every measurement with no dirty pages left by the previous one: otherwise kernel writeback
    # throttling lands on whichever run comes next, and the comparison turns into noise.
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def floor_upload(src: Path, dest: Path) -> float:
    def run() -> None:
        subprocess.run(["sha256sum", str(src)], check=True, capture_output=True)
        subprocess.run(["cp", str(src), str(dest)], check=True)
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    try:
        return timed(run)
    finally:
        dest.unlink(missing_ok=True)


def floor_upload_openssl(src: Path, dest: Path) -> float:
    """For information, a stricter floor: OpenSSL's sha256 (what huggingface_hub and Agora use) instead of
    coreutils' sha256sum, which has no SHA-NI code path and is several times slower on some machines; and
    an fsync of the copy, since Agora makes an object durable before it reports it stored."""

    def run() -> None:
        sha = hashlib.sha256()
        with open(src, "rb") as fh:
            while chunk := fh.read(8 * MiB):
                sha.update(chunk)
        subprocess.run(["cp", str(src), str(dest)], check=True)
        fd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    try:
        return timed(run)
    finally:
        dest.unlink(missing_ok=True)


NGINX_CONF = """\
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 60;
    client_body_temp_path {root}/tmp-body;
    proxy_temp_path {root}/tmp-proxy;
    fastcgi_temp_path {root}/tmp-fastcgi;
    uwsgi_temp_path {root}/tmp-uwsgi;
    scgi_temp_path {root}/tmp-scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /{repo}/resolve/main/{name} {{
            alias {file};
            default_type application/octet-stream;
            add_header X-Repo-Commit {commit} always;
            add_header X-Linked-Etag '"{oid}"' always;
        }}
    }}
}}
"""


def start_nginx(
    root: Path, port: int, repo: str, name: str, file: Path, commit: str, oid: str
) -> subprocess.Popen:
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    # As root, nginx's worker would drop to `nobody` and could not read the private temp folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        NGINX_CONF.format(
            user=user, root=root, port=port, repo=repo, name=name, file=file, commit=commit, oid=oid
        )
    )
    log = root / "nginx-stdout.log"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                nginx,
                "-p",
                str(root),
                "-e",
                str(root / "nginx-error.log"),
                "-c",
                str(conf),
                "-g",
                "daemon off;",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_port(port, proc, "nginx", log)
    return proc


def fmt_s(xs: list[float]) -> str:
    return f"{statistics.median(xs):7.2f} s (best {min(xs):.2f})"


def hf_download(ep: str, tag: str, *, root: Path, repo: str, token: str | None, size: int) -> float:
    """Seconds for hf_hub_download of model.bin from `ep` into a fresh cache (removed afterwards)."""
    from huggingface_hub import hf_hub_download

    cache = root / f"cache-{tag}"
    try:
        t = timed(lambda: hf_hub_download(repo, "model.bin", endpoint=ep, token=token, cache_dir=cache))
        got = next(cache.rglob("blobs/*"))
        if got.stat().st_size != size:
            raise RuntimeError(f"{tag}: downloaded {got.stat().st_size} bytes, expected {size}")
        return t
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def curl_download(ep: str, *, repo: str, token: str | None, size: int) -> float:
    """The servers alone: curl into /dev/null, no Python client, no disk write."""
    out = subprocess.run(
        [
            "curl",
            "-sfS",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total} %{size_download}",
            "-H",
            f"Authorization: Bearer {token}",
            f"{ep}/{repo}/resolve/main/model.bin",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if int(out[1]) != size:
        raise RuntimeError(f"curl got {out[1]} bytes from {ep}, expected {size}")
    return float(out[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="size of the random file in MiB (default 1024)")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default 5)")
    ap.add_argument("--workdir", default=None, help="parent folder for the temporary data (default: $TMPDIR)")
    ap.add_argument("--workers", type=int, default=1, help="granian workers for `agora serve` (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="agora-bench-", dir=args.workdir))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # huggingface_hub reads these once, at import.
    for k in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"):
        os.environ.pop(k, None)
    os.environ.update(
        {
            "HF_ENDPOINT": endpoint,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_UPDATE_CHECK": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",
            "HF_HOME": str(root / "hf-home"),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    from huggingface_hub import HfApi

    size = args.size_mb * MiB
    load_start = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    data = root / "data"
    server = nginx = None
    sampler = None
    try:
        server = start_server(data, port=port, workers=args.workers, log=root / "server.log")
        token = server.token
        sampler = RssSampler(server.pid).start()

        src = root / "random.bin"
        print(f"writing {args.size_mb} MiB of random bytes to {src} ...", flush=True)
        make_random_file(src, size)
        subprocess.run(["sha256sum", str(src)], check=True, capture_output=True)  # warm the page cache

        api = HfApi(endpoint=endpoint, token=token)
        floors: list[float] = []
        floors_ssl: list[float] = []
        cpu_up: list[float] = []
        cpu_down: list[float] = []
        uploads: list[float] = []
        repos: list[str] = []
        for i in range(args.repeat):
            floors.append(floor_upload(src, root / "floor-copy.bin"))
            floors_ssl.append(floor_upload_openssl(src, root / "floor-copy.bin"))
            repo = f"bench/upload-{i}"
            api.create_repo(repo)
            sampler.phase = f"upload-{i}"
            cpu = cpu_seconds(server.pid)
            upload = partial(
                api.upload_file,
                path_or_fileobj=str(src),
                path_in_repo="model.bin",
                repo_id=repo,
                commit_message="bench upload",
            )
            uploads.append(timed(upload))
            cpu_up.append(cpu_seconds(server.pid) - cpu)
            sampler.phase = "idle"
            repos.append(repo)
            print(
                f"  upload run {i + 1}: agora {uploads[-1]:.2f} s, floor {floors[-1]:.2f} s "
                f"(OpenSSL sha256 + cp + fsync: {floors_ssl[-1]:.2f} s)",
                flush=True,
            )
            if i:  # keep one repo with the file; the blob is shared anyway
                api.delete_repo(repo)

        repo = repos[0]
        info = api.model_info(repo, files_metadata=True)
        commit = info.sha
        sibling = next(s for s in info.siblings or [] if s.rfilename == "model.bin")
        assert sibling.lfs is not None, "model.bin should be stored in LFS"
        oid = sibling.lfs.sha256
        blob = data / "lfs" / oid[:2] / oid[2:4] / oid
        assert blob.is_file(), blob
        nport = free_port()
        nginx = start_nginx(root / "nginx", nport, repo, "model.bin", blob, commit, oid)

        download = partial(hf_download, root=root, repo=repo, token=token, size=size)
        curl = partial(curl_download, repo=repo, token=token, size=size)
        down_agora: list[float] = []
        down_nginx: list[float] = []
        curl_agora: list[float] = []
        curl_nginx: list[float] = []
        have_curl = shutil.which("curl") is not None
        nginx_ep = f"http://127.0.0.1:{nport}"
        for i in range(args.repeat):
            sampler.phase = f"download-{i}"
            cpu = cpu_seconds(server.pid)
            down_agora.append(download(endpoint, f"agora-{i}"))
            cpu_down.append(cpu_seconds(server.pid) - cpu)
            sampler.phase = "idle"
            down_nginx.append(download(nginx_ep, f"nginx-{i}"))
            print(
                f"  download run {i + 1}: agora {down_agora[-1]:.2f} s, nginx {down_nginx[-1]:.2f} s",
                flush=True,
            )
        for i in range(args.repeat if have_curl else 0):
            sampler.phase = f"download-curl-{i}"
            curl_agora.append(curl(endpoint))
            sampler.phase = "idle"
            curl_nginx.append(curl(nginx_ep))
            print(
                f"  curl run {i + 1}: agora {curl_agora[-1]:.2f} s, nginx {curl_nginx[-1]:.2f} s", flush=True
            )
        time.sleep(0.3)
        sampler.stop()

        # --- report ---------------------------------------------------------------------------------
        mb = size / MiB
        idle = sampler.of("idle")
        up_rss, down_rss = sampler.of("upload"), sampler.of("download")
        base_kb = idle[0] if idle else 0
        end_kb = idle[-1] if idle else 0
        up_ratio = statistics.median(uploads) / statistics.median(floors)
        dl_ratio = statistics.median(down_nginx) / statistics.median(down_agora)
        max_rss = max(up_rss + down_rss) / 1024
        growth = (end_kb - base_kb) / 1024
        last = f"download-curl-{args.repeat - 1}" if curl_agora else f"download-{args.repeat - 1}"
        rows = [
            (
                "upload: HfApi.upload_file",
                fmt_s(uploads),
                f"{mb / statistics.median(uploads):7.0f} MiB/s",
                "",
            ),
            (
                "upload floor: sha256sum + cp",
                fmt_s(floors),
                f"{mb / statistics.median(floors):7.0f} MiB/s",
                "",
            ),
            (
                "upload ratio agora / floor",
                f"{up_ratio:7.2f}x",
                "",
                "target <= 1.5x " + ("OK" if up_ratio <= 1.5 else "MISSED"),
            ),
            (
                "info: OpenSSL sha256 + cp + fsync",
                fmt_s(floors_ssl),
                f"{mb / statistics.median(floors_ssl):7.0f} MiB/s",
                f"ratio {statistics.median(uploads) / statistics.median(floors_ssl):.2f}x",
            ),
            (
                "download: hf_hub_download <- agora",
                fmt_s(down_agora),
                f"{mb / statistics.median(down_agora):7.0f} MiB/s",
                "",
            ),
            (
                "download: hf_hub_download <- nginx",
                fmt_s(down_nginx),
                f"{mb / statistics.median(down_nginx):7.0f} MiB/s",
                "",
            ),
            (
                "download throughput agora / nginx",
                f"{dl_ratio:7.2f}x",
                "",
                "target >= 1.0x " + ("OK" if dl_ratio >= 1.0 else "MISSED"),
            ),
            (
                "info: server CPU per upload / download",
                f"{statistics.median(cpu_up):7.2f} s / {statistics.median(cpu_down):.2f} s",
                "user+sys",
                "",
            ),
        ]
        if curl_agora:
            rows += [
                (
                    "info: curl -o /dev/null <- agora",
                    fmt_s(curl_agora),
                    f"{mb / statistics.median(curl_agora):7.0f} MiB/s",
                    "",
                ),
                (
                    "info: curl -o /dev/null <- nginx",
                    fmt_s(curl_nginx),
                    f"{mb / statistics.median(curl_nginx):7.0f} MiB/s",
                    "",
                ),
            ]
        rows += [
            ("worker RSS idle (start -> end)", f"{base_kb / 1024:7.0f} -> {end_kb / 1024:.0f} MB", "", ""),
            ("worker RSS max during upload", f"{max(up_rss) / 1024:7.0f} MB", f"{len(up_rss)} samples", ""),
            (
                "worker RSS max during download",
                f"{max(down_rss) / 1024:7.0f} MB",
                f"{len(down_rss)} samples",
                "",
            ),
            (
                "worker RSS max, first vs last transfer",
                f"{max(sampler.of('upload-0')) / 1024:7.0f} -> {max(sampler.of(last)) / 1024:.0f} MB",
                "",
                "",
            ),
            (
                "worker RSS max overall",
                f"{max_rss:7.0f} MB",
                f"idle growth {growth:+.0f} MB",
                "target < 300 MB " + ("OK" if max_rss < 300 else "MISSED"),
            ),
        ]
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        print()
        print(
            f"Agora transfer benchmark: {args.size_mb} MiB random file, {args.repeat} run(s), median (best); "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {platform.machine()}, "
            f"Python {platform.python_version()}, granian workers={args.workers}, "
            f"load average at start {load_start}"
        )
        print()
        print(f"| {'measure':{w[0]}} | {'time / value':{w[1]}} | {'rate':{w[2]}} | {'target':{w[3]}} |")
        print(f"|{'-' * (w[0] + 2)}|{'-' * (w[1] + 2)}|{'-' * (w[2] + 2)}|{'-' * (w[3] + 2)}|")
        for r in rows:
            print(f"| {r[0]:{w[0]}} | {r[1]:{w[1]}} | {r[2]:{w[2]}} | {r[3]:{w[3]}} |")
        return 0
    finally:
        _clean_up(sampler, nginx, server, root, args.keep)


def _clean_up(
    sampler: RssSampler | None, nginx: subprocess.Popen | None, server: Server | None, root: Path, keep: bool
) -> None:
    """Stop what main started (whatever got started), then remove its temporary folder unless `keep`."""
    if sampler:
        sampler.stop()
    if nginx:
        stop(nginx)
    if server:
        server.stop()
    if keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
