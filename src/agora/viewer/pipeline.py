"""The `dataset-convert` job: a dataset commit -> parquet under refs/convert/parquet + the viewer's record.

Steps: resolve configs and splits (discovery.py) from the files and README of the commit; convert each
split in a child process (convert.py) watched for memory and time; store each shard as an LFS object in
the blob store; write one git commit on refs/convert/parquet whose tree is `{config}/{split}/NNNN.parquet`
(LFS pointers, the Hub's layout); record per split rows, features, sizes and errors in `viewer_results`,
keyed by the source commit. A bad split gets an error; the others are converted all the same.

The artefact is declared in `hub/artefacts.py` (`DATASET_PARQUET`: its name is this job's kind, its version
is written into each record as `data["version"]`); bump that version when what this job writes changes, and
the heads' records of older versions are converted again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import Settings, ViewerLimits
from ..db.models import Job, Repo, ViewerResult, utcnow
from ..hub import cards, index, startup
from ..hub.artefacts import DATASET_PARQUET
from ..storage.lfs_pointer import lfs_pointer
from .discovery import ConfigSpec, DiscoveryError, discover

if TYPE_CHECKING:
    from ..hub.repos import Hub

log = logging.getLogger("agora.viewer")
ARTEFACT = DATASET_PARQUET
KIND = ARTEFACT.name
REF = "refs/convert/parquet"
BOT = "parquet-converter"


# How much one split's conversion may use (AGORA_VIEWER_*, read in config.py); past these the child is killed.
JobLimits = ViewerLimits


def card_data(git: Any, commit: str) -> dict[str, Any]:
    """README front matter, with .huggingface.yaml merged over it as datasets does."""
    out: dict[str, Any] = {}
    readme = git.entry(commit, "README.md")
    if readme is not None and readme.lfs is None and readme.size < 4 * 1024 * 1024:
        out = cards.parse(git.blob(readme.oid).decode("utf-8", "replace")).data or {}
    extra = git.entry(commit, ".huggingface.yaml")
    if extra is not None and extra.lfs is None and extra.size < 1024 * 1024:
        try:
            loaded, _ = cards.load_yaml(git.blob(extra.oid).decode("utf-8", "replace"))
            if isinstance(loaded, dict):
                out = {**out, **loaded}
        except cards.YamlRefused as e:
            log.warning(".huggingface.yaml at %s ignored: %s", commit[:12], e.message[:300])
    return out


def _materialize(
    hub: Hub, git: Any, entries: dict[str, Any], paths: list[str], tmp: Path
) -> list[dict[str, str]]:
    """Local files for the child: blob-store paths when the store is local, else streamed copies."""
    out = []
    for i, p in enumerate(paths):
        e = entries[p]
        local = hub.blobs.local_path(e.lfs.oid) if e.lfs else None
        if local is None:
            dest = tmp / f"in-{i}"
            with open(dest, "wb") as fh:
                if e.lfs is None:
                    fh.write(git.blob(e.oid))
                else:
                    pos = 0
                    while pos < e.size:
                        chunk = _range(hub, e, pos)
                        if not chunk:
                            break
                        fh.write(chunk)
                        pos += len(chunk)
            local = dest
        out.append({"path": p, "local": str(local)})
    return out


def _range(hub: Hub, e: Any, pos: int) -> bytes:
    if hub.xet is not None and not hub.blobs.exists(e.lfs.oid):
        got = hub.xet.read_sha_range(e.lfs.oid, pos, 8 * 1024 * 1024)
        if got is not None:
            return got
    with hub.blobs.open(e.lfs.oid) as fh:
        fh.seek(pos)
        return fh.read(8 * 1024 * 1024)


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_child(spec: dict[str, Any], limits: JobLimits) -> dict[str, Any]:
    """Run convert.py on one split, killing it past the memory or time limit. The child is told this
    process's pid: it dies with it (convert.die_with_parent), so a server killed with -9 leaves no converter
    running unsupervised."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    # stderr goes to a file, not a pipe: a child that warns a lot (pandas, datasets) never blocks on it.
    err_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agora.viewer.convert", str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err_file,
        env=env,
        start_new_session=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec).encode())
    proc.stdin.close()
    deadline = time.monotonic() + limits.timeout
    peak = 0
    killed = None
    while proc.poll() is None:
        rss = _rss(proc.pid)
        peak = max(peak, rss)
        if rss > limits.max_rss:
            killed = f"used more than {limits.max_rss // 2**20} MB of memory"
        elif time.monotonic() > deadline:
            killed = f"took longer than {int(limits.timeout)} s"
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            break
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else b""
    err_file.seek(max(0, err_file.seek(0, os.SEEK_END) - 64 * 1024))
    err = err_file.read()
    err_file.close()
    if killed:
        msg = f"The conversion of this split was stopped: it {killed}"
        code = "JobManagerExceededMaximumDurationError" if "longer" in killed else "JobManagerCrashedError"
        return {"error": msg, "error_code": code, "peak_rss": peak}
    if proc.returncode != 0 or not out.strip():
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        msg = f"The conversion of this split crashed: {tail[0][:500]}"
        return {"error": msg, "error_code": "JobManagerCrashedError", "peak_rss": peak}
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss"] = max(peak, result.get("peak_rss") or 0)
    return result


def stored_version(data: dict[str, Any]) -> int:
    """The version of the job that made a `viewer_results` record; records from before versions were
    recorded are version 1."""
    return int(data.get("version") or 1)


# The same in SQL, read from the JSON without loading it (SQLite's JSON_EXTRACT, PostgreSQL's ->>).
_MADE_BY = func.coalesce(ViewerResult.__table__.c.data["version"].as_integer(), 1)


def outdated(s: Session, version: int) -> list[tuple[int, str]]:
    """(repo id, revision) of the datasets whose head's record was made by a version older than `version`
    (the registry's version check; `jobs.requeue_outdated` queues them again)."""
    rows = s.execute(
        select(ViewerResult.repo_id, ViewerResult.revision)
        .join(Repo, Repo.id == ViewerResult.repo_id)
        .where(ViewerResult.revision == Repo.head_sha, _MADE_BY < version)
        .order_by(ViewerResult.repo_id)
    ).all()
    return [(repo_id, revision) for repo_id, revision in rows]


def _made_by(s: Session, repo_id: int, revision: str) -> int | None:
    """The version of the job that made the record of (repo, revision), or None when there is none."""
    return s.scalar(
        select(_MADE_BY).where(ViewerResult.repo_id == repo_id, ViewerResult.revision == revision)
    )


def convert_dataset(hub: Hub, job: Job, settings: Settings | None = None) -> None:
    """The job function of `DATASET_PARQUET`: convert the dataset at `job.revision`, unless a record made by
    this version (or a newer one) exists; a record of an older version is replaced."""
    limits = settings.viewer if settings is not None else ViewerLimits.from_env()
    started = time.monotonic()
    with hub.db.session() as s:
        repo = s.get(Repo, job.repo_id)
        if repo is None:
            log.info("%s of repo %s@%s skipped: the repo is gone", KIND, job.repo_id, job.revision[:12])
            return
        s.expunge(repo)
        made_by = _made_by(s, repo.id, job.revision)
        if made_by is not None and made_by >= ARTEFACT.version:
            log.info(
                "%s of %s/%s@%s skipped: already converted",
                KIND,
                repo.namespace,
                repo.name,
                job.revision[:12],
            )
            return  # already derived from this commit
        if made_by is not None:
            log.info(
                "%s of %s/%s@%s: converting again, the record was made by version %d (now %d)",
                KIND,
                repo.namespace,
                repo.name,
                job.revision[:12],
                made_by,
                ARTEFACT.version,
            )
    git = hub.git(repo)
    commit = job.revision
    files = git.all_files(commit)
    entries = {e.path: e for e in files}
    card = card_data(git, commit)
    result: dict[str, Any] = {
        "revision": commit,
        "version": ARTEFACT.version,
        "error": None,
        "configs": [],
        "card": _card_summary(card),
    }
    try:
        configs = discover(sorted(entries), card)
    except DiscoveryError as e:
        configs = []
        result["error"] = str(e)
    # Named by its owner, so that a later server removes it once this process is gone (hub/startup.py).
    tmp = Path(tempfile.mkdtemp(prefix=startup.temp_prefix("convert"), dir=_tmp_root(hub)))
    puts: dict[str, tuple[str, int]] = {}
    try:
        for c in configs:
            features = card_features(card, c.name)
            result["configs"].append(_convert_config(hub, git, entries, c, tmp, limits, puts, features))
        parquet_commit = _commit_parquet(hub, repo, git, puts, commit, result["configs"]) if configs else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["parquet_commit"] = parquet_commit
    with hub.db.session() as s:
        _record(s, repo.id, commit, parquet_commit, result)
    index.data_converted(hub, repo.id, commit)  # modality and size tags from the data
    splits = [(c["name"], sp) for c in result["configs"] for sp in c["splits"]]
    failed = [f"{name}/{sp['name']}: {str(sp['error'])[:200]}" for name, sp in splits if sp.get("error")]
    rows = sum(sp.get("num_rows") or 0 for _, sp in splits)
    log.info(
        "%s of %s/%s@%s: %d configs, %d of %d splits converted, %d rows, parquet=%s, %.1fs%s",
        KIND,
        repo.namespace,
        repo.name,
        commit[:12],
        len(result["configs"]),
        len(splits) - len(failed),
        len(splits),
        rows,
        (parquet_commit or "-")[:12],
        time.monotonic() - started,
        f"; error: {result['error'][:300]}" if result["error"] else "",
    )
    for f in failed:
        log.warning("%s of %s/%s@%s: split %s", KIND, repo.namespace, repo.name, commit[:12], f)


def _record(
    s: Session, repo_id: int, commit: str, parquet_commit: str | None, result: dict[str, Any]
) -> None:
    """Store the record of (repo, commit), unless one of this version or newer is there already (a racing
    job finished first). A replaced record gets a new `created_at`: viewer/service.py caches records by
    (id, created_at)."""
    row = s.scalar(
        select(ViewerResult).where(ViewerResult.repo_id == repo_id, ViewerResult.revision == commit)
    )
    if row is None:
        s.add(ViewerResult(repo_id=repo_id, revision=commit, parquet_commit=parquet_commit, data=result))
    elif stored_version(row.data) < ARTEFACT.version:
        row.data, row.parquet_commit, row.created_at = result, parquet_commit, utcnow()


def _tmp_root(hub: Hub) -> str:
    root = startup.conversions_root(hub)
    root.mkdir(parents=True, exist_ok=True)
    return str(root)


def _card_summary(card: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "pretty_name",
        "license",
        "language",
        "task_categories",
        "task_ids",
        "size_categories",
        "tags",
        "homepage",
        "citation",
        "description",
    )
    return {k: card[k] for k in keep if k in card}


def _convert_config(
    hub: Hub,
    git: Any,
    entries: dict[str, Any],
    c: ConfigSpec,
    tmp: Path,
    limits: JobLimits,
    puts: dict[str, tuple[str, int]],
    features: Any = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "default": c.default,
        "module": c.module,
        "error": c.error,
        "splits": [],
    }
    for sp in c.splits:
        original = sum(entries[p].size for p in sp.files)
        rec: dict[str, Any] = {
            "name": sp.name,
            "files": [],
            "num_rows": 0,
            "num_columns": 0,
            "features": None,
            "num_bytes_original_files": original,
            "num_bytes_parquet_files": 0,
            "num_bytes_memory": 0,
            "error": sp.error,
            # No files to read: the Hub's EmptyDatasetError; a format this viewer does not convert yet too.
            "error_code": None
            if not sp.error
            else "EmptyDatasetError"
            if not sp.files
            else "DatasetGenerationError",
        }
        out["splits"].append(rec)
        if sp.error:
            continue
        # Named by a counter only: the builder is given paths under it, and a name may hold glob characters.
        work = Path(tempfile.mkdtemp(prefix="split-", dir=tmp))
        spec = {
            "module": c.module,
            "kwargs": _json_kwargs(c.kwargs),
            "split": sp.name,
            "out_dir": str(work),
            "limits": {"block_size": limits.block_size},
            "files": _materialize(hub, git, entries, sp.files, work),
            "card_features": features,
            "features_from": [] if features else _features_from(hub, git, entries, c, sp, work),
        }
        got = run_child(spec, limits)
        rec.update(
            {
                k: got[k]
                for k in (
                    "num_rows",
                    "num_columns",
                    "features",
                    "num_bytes_memory",
                    "error",
                    "error_code",
                    "cause_exception",
                    "cause_message",
                    "peak_rss",
                    "seconds",
                )
                if k in got
            }
        )
        if got.get("error"):
            rec["num_rows"] = 0
            continue
        for shard in got["shards"]:
            path = work / shard["filename"]
            oid, size = _store(hub, path)
            repo_path = f"{c.name}/{sp.name}/{shard['filename']}"
            puts[repo_path] = (oid, size)
            rec["files"].append(
                {"filename": shard["filename"], "size": size, "oid": oid, "num_rows": shard["num_rows"]}
            )
            rec["num_bytes_parquet_files"] += size
            path.unlink()
        shutil.rmtree(work, ignore_errors=True)
    return out


def card_features(card: dict[str, Any], config: str) -> Any:
    """The features the card's `dataset_info` declares for `config` (its YAML list form), which
    `load_dataset` casts every split to (datasets `DatasetInfosDict.from_dataset_card_data`), or None."""
    infos = card.get("dataset_info")
    for info in [infos] if isinstance(infos, dict) else infos if isinstance(infos, list) else []:
        if isinstance(info, dict) and (info.get("config_name") or "default") == config:
            found = info.get("features")
            return found if isinstance(found, (list, dict)) else None
    return None


# The builders that infer a config's features once, from its first split's first file, and cast every split
# to them (datasets 5.2 `_split_generators`): a split after the first is read with those features too.
FEATURES_FROM_FIRST_SPLIT = {"json", "parquet", "arrow"}


def _features_from(
    hub: Hub, git: Any, entries: dict[str, Any], c: ConfigSpec, sp: Any, work: Path
) -> list[dict[str, str]]:
    """The file the builder would infer `sp`'s features from, when that is another split's (else [])."""
    first = c.splits[0]
    if c.module not in FEATURES_FROM_FIRST_SPLIT or first is sp or first.error or not first.files:
        return []
    (work / "first").mkdir()
    return _materialize(hub, git, entries, first.files[:1], work / "first")


def _json_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The card config's builder kwargs that JSON carries to the child (which keeps those its builder
    takes, as datasets does)."""
    out = {}
    for k, v in kwargs.items():
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[str(k)] = v
    return out


def _store(hub: Hub, path: Path) -> tuple[str, int]:
    up = hub.blobs.new_upload()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            up.write(chunk)
    return up.finish_as_hashed()


def export_readme(configs: list[dict[str, Any]]) -> bytes:
    """A README whose `configs:` maps each config/split to its shards, so that
    `load_dataset(id, config, revision="refs/convert/parquet")` reads the export as the viewer shows it."""
    listed = [
        {
            "config_name": c["name"],
            **({"default": True} if c.get("default") else {}),
            "data_files": [
                {"split": sp["name"], "path": f"{c['name']}/{sp['name']}/*.parquet"}
                for sp in c["splits"]
                if sp["files"]
            ],
        }
        for c in configs
        if any(sp["files"] for sp in c["splits"])
    ]
    return ("---\n" + yaml.safe_dump({"configs": listed}, sort_keys=False) + "---\n").encode()


def _commit_parquet(
    hub: Hub,
    repo: Repo,
    git: Any,
    puts: dict[str, tuple[str, int]],
    source: str,
    configs: list[dict[str, Any]],
) -> str:
    """One commit on refs/convert/parquet holding exactly this conversion (a fresh tree, LFS pointers)."""
    with hub.db.session() as s:
        fresh = s.get(Repo, repo.id)
        if fresh is None:
            raise LookupError(f"{repo.namespace}/{repo.name} was deleted while it was being converted")
        for oid, size in puts.values():
            hub.record_lfs(s, fresh, oid, size)
    blobs = {p: git.write_blob(lfs_pointer(oid, size)) for p, (oid, size) in puts.items()}
    blobs[".gitattributes"] = git.write_blob(b"*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    blobs["README.md"] = git.write_blob(export_readme(configs))
    tree = git.build_tree(None, blobs, [], [])
    with git.lock():
        old = git.ref_target(REF)
        new = git.write_commit(
            tree, [old] if old else [], BOT, f"Update parquet files\n\nConverted from {source}."
        )
        git.move_ref(REF, old, new, f"parquet conversion of {source}")
    return str(new)
