"""`agora serve | user | repo | token | org | fsck`: the only entry point."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings, serve_env

if TYPE_CHECKING:
    from .hub.repos import Hub


def _hub(data: str | None):
    from .app import build_hub

    return build_hub(Settings.from_env(data))


def _first_start(settings: Settings, host: str, port: int) -> None:
    """On an empty data folder: an admin user and a write token, printed once."""
    from sqlalchemy import func, select

    from .db.models import Account
    from .hub import accounts

    hub = _hub(str(settings.data))
    url = settings.public_url or f"http://{host}:{port}"
    with hub.db.session() as s:
        if s.scalar(select(func.count()).select_from(Account)):
            print(f"Agora is serving {settings.data} at {url}")
            print("Log in with your user name and password, or use a token as HF_TOKEN.")
            return
        password = secrets.token_urlsafe(12)
        accounts.create_user(s, "admin", password=password, admin=True)
        token = accounts.create_token(s, "admin", "write", "admin-first-start")
    print(
        f"""
Agora is serving a new data folder ({settings.data}) at {url}

  An admin user was created. Its credentials are shown this once:
    user:     admin
    password: {password}
    token:    {token}   (write)

  Log in at {url}/login, or point the Hugging Face clients here:
    export HF_ENDPOINT={url}
    export HF_TOKEN={token}
""",
        flush=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env(args.data)
    host = f"[{args.host}]" if ":" in args.host else args.host
    os.environ.update(serve_env(settings, f"{host}:{args.port}"))  # the workers build their Settings from it
    _first_start(settings, args.host, args.port)
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "agora.app:factory",
        factory=True,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        log_access=args.access_log,
        # SIGTERM: granian stops listening and lets the requests in flight end; past this it kills the workers
        workers_kill_timeout=settings.shutdown_timeout or None,
    ).serve()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the database (AGORA_DATABASE_URL, SQLite in the data folder by default) to the newest schema."""
    from sqlalchemy import text

    from .db.session import Database, migrate

    settings = Settings.from_env(args.data)
    settings.data.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    migrate(db.engine)
    with db.engine.connect() as conn:
        rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    print(
        f"database at revision {rev} ({db.engine.url.render_as_string(hide_password=True)})", file=sys.stderr
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Repos from an `agora export` folder, a Hugging Face cache folder or a folder of git repos."""

    from tqdm import tqdm

    from .hub.imports import find_sources, import_source

    hub = _hub(args.data)
    failed_repos = _import_export(hub, Path(args.path), args)
    if failed_repos is not None:
        return 1 if failed_repos else 0
    sources = find_sources(Path(args.path), args.namespace or args.user)
    if not sources:
        print(f"agora: no Hugging Face cache entry or git repo found in {args.path}", file=sys.stderr)
        return 1
    failed = 0
    with tqdm(
        total=sum(s.size for s in sources), unit="B", unit_scale=True, desc="import", disable=args.quiet
    ) as bar:
        for src in sources:
            bar.set_postfix_str(src.rid.full)
            try:
                head = import_source(hub, src, args.user, bar.update)
            except Exception as e:  # one broken source does not stop the others
                failed += 1
                tqdm.write(
                    f"failed  {src.rid.type} {src.rid.full}: {getattr(e, 'message', e)}", file=sys.stderr
                )
            else:
                tqdm.write(f"imported {src.rid.type} {src.rid.full} at {head[:12]}", file=sys.stderr)
    return 1 if failed else 0


def _import_export(hub: Hub, path: Path, args: argparse.Namespace) -> int | None:
    """An `agora export` folder (it has a manifest): imported as a whole; None if `path` is not one."""
    from tqdm import tqdm

    from .hub import backup

    if not backup.is_export(path):
        return None
    total = backup.export_size(path, backup.read_manifest(path))
    with tqdm(total=total, unit="B", unit_scale=True, desc="import", disable=args.quiet) as bar:
        return backup.import_export(
            hub, path, args.user, bar.update, lambda m: tqdm.write(m, file=sys.stderr)
        )


def cmd_export(args: argparse.Namespace) -> int:
    """One repo (NS/NAME), a namespace (NS: all its repos) or the whole Hub (--all) into an export folder."""

    from tqdm import tqdm

    from .hub import backup
    from .ids import RepoId

    if args.all != (len(args.what) == 1) or len(args.what) > 2:
        print(
            "agora: use `agora export NS/NAME OUT`, `agora export NS OUT` or `agora export --all OUT`",
            file=sys.stderr,
        )
        return 2
    out = Path(args.what[-1])
    if args.all:
        scope = backup.Scope("all")
    elif "/" in args.what[0]:
        scope = backup.Scope("repo", rid=RepoId.parse(args.type, args.what[0]))
    else:
        scope = backup.Scope("namespace", namespace=args.what[0])
    hub = _hub(args.data)
    with tqdm(unit="B", unit_scale=True, desc="export", disable=args.quiet) as bar:
        manifest, repos, objects = backup.export(hub, scope, out, bar.update)
    print(f"wrote {repos} repo(s) and {objects} LFS object(s); manifest {manifest}", file=sys.stderr)
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .hub.gc import collect

    settings = Settings.from_env(args.data)
    days = settings.gc_xorb_grace_days if args.xorb_grace_days is None else args.xorb_grace_days
    hub = _hub(args.data)
    r = collect(
        hub, apply=args.apply, grace=timedelta(minutes=args.grace_minutes), xorb_grace=timedelta(days=days)
    )
    verb = "removed" if args.apply else "would remove"
    for oid, size in r.lfs_removed:
        print(f"{verb} lfs  {oid} {size}")
    for name, size in r.xorbs_removed:
        print(f"{verb} xorb {name} {size}")
    print(
        f"{verb} {len(r.lfs_removed)} LFS object(s) and {len(r.xorbs_removed)} xorb(s), {r.freed} bytes; "
        f"kept {r.lfs_kept} and {r.xorbs_kept}"
        + (
            f"; purged {r.temp_purged} abandoned upload(s)" if args.apply else " (dry run: --apply to delete)"
        ),
        file=sys.stderr,
    )
    _gc_inference(hub, settings.data, args)
    _gc_spaces(hub, settings, args)
    print(
        f"unreferenced xorbs are kept for a grace of {r.xorb_grace.total_seconds() / 86400:g} day(s) after "
        "their upload or the last dedup answer naming them (AGORA_GC_XORB_GRACE_DAYS, --xorb-grace-days): a Xet "
        "client believes for 21 days that a xorb it uploaded is here, and fails uploads that reuse one gc removed",
        file=sys.stderr,
    )
    return 0


def _gc_inference(hub: Hub, data: Path, args: argparse.Namespace) -> None:
    """The inference snapshots of commits no longer a branch or tag head, and cache files no snapshot uses."""
    from .inference import snapshots

    r = snapshots.collect(data, snapshots.live_heads(hub), args.apply, args.grace_minutes * 60)
    verb = "removed" if args.apply else "would remove"
    for path, size in [*r.snapshots_removed, *r.cache_removed]:
        print(f"{verb} infer {path} {size}")
    print(
        f"{verb} {len(r.snapshots_removed)} inference snapshot(s) and {len(r.cache_removed)} cached weight "
        f"file(s), {r.freed} bytes; kept {r.snapshots_kept} and {r.cache_kept}",
        file=sys.stderr,
    )


def _gc_spaces(hub: Hub, settings: Settings, args: argparse.Namespace) -> None:
    """Space environments and app checkouts no Space's head, supervisor or running sandbox uses."""
    from .spacehost import collect_garbage
    from .spaces.envs import BuildError

    try:
        r = collect_garbage(hub, settings, args.apply, args.grace_minutes * 60)
    except BuildError as exc:
        print(f"Space environments and apps left alone: {exc}", file=sys.stderr)
        return
    verb = "removed" if args.apply else "would remove"
    for key, size in r.envs_removed:
        print(f"{verb} space-env {key} {size}")
    for name, size in r.apps_removed:
        print(f"{verb} space-app {name} {size}")
    print(
        f"{verb} {len(r.envs_removed)} Space environment(s) and {len(r.apps_removed)} app checkout(s), "
        f"{r.freed} bytes; kept {r.envs_kept} and {r.apps_kept}",
        file=sys.stderr,
    )


def cmd_user_add(args: argparse.Namespace) -> int:
    from .hub import accounts

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.name} (empty for token-only): ") or None
    hub = _hub(args.data)
    with hub.db.session() as s:
        accounts.create_user(s, args.name, password=password, admin=args.admin, email=args.email)
    print(f"created user {args.name}", file=sys.stderr)
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    from .hub import accounts

    hub = _hub(args.data)
    with hub.db.session() as s:
        accounts.set_disabled(s, args.name, disabled)
    state = "disabled: no log-in, sessions ended, tokens refused" if disabled else "enabled"
    print(f"user {args.name} {state}", file=sys.stderr)
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def cmd_user_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def cmd_user_set_password(args: argparse.Namespace) -> int:
    from .hub import accounts

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"New password for {args.name}: ")
    hub = _hub(args.data)
    with hub.db.session() as s:
        accounts.set_password(s, args.name, password)
    print(f"password of {args.name} changed; their browser sessions ended", file=sys.stderr)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from .hub import accounts

    hub = _hub(args.data)
    with hub.db.session() as s:
        token = accounts.create_token(s, args.user, args.role, args.name)
    print(token)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from .hub import accounts

    hub = _hub(args.data)
    with hub.db.session() as s:
        n = accounts.revoke_token(s, args.user, args.token)
    if not n:
        print(f"no token {args.token!r} for {args.user}", file=sys.stderr)
        return 1
    print(f"revoked {n} token(s)", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from .hub import accounts

    hub = _hub(args.data)
    with hub.db.session() as s:
        for t in accounts.list_tokens(s, args.user):
            print(f"{t.name}\t{t.role}\t{t.created_at:%Y-%m-%d %H:%M}")
    return 0


def cmd_org_create(args: argparse.Namespace) -> int:
    from .hub import accounts

    hub = _hub(args.data)
    with hub.db.session() as s:
        accounts.create_org(s, args.name, args.owner, fullname=args.fullname or "")
    print(f"created organization {args.name} (admin: {args.owner})", file=sys.stderr)
    return 0


def cmd_org_add_member(args: argparse.Namespace) -> int:
    from .hub import accounts

    hub = _hub(args.data)
    with hub.db.session() as s:
        accounts.set_member(s, args.org, args.user, args.role)
    print(f"{args.user} is now {args.role} in {args.org}", file=sys.stderr)
    return 0


def cmd_fsck(args: argparse.Namespace) -> int:
    """Report what the database holds that the Hub's rules forbid (names that differ only by case, key
    indexes that do not enforce uniqueness), repos whose database is behind their refs, Xet files whose
    xorbs are missing, dangling LFS pointers and orphaned temp files (`--repair` fixes what it can: refs,
    the rows of missing xorbs, temp files); non-zero exit when anything is left."""
    from .hub import names

    hub = _hub(args.data)
    if args.fix_indexes:
        for line in names.enforce_unique(hub.db.engine):  # refused (Conflict) while twins remain
            print(line, file=sys.stderr)
    with hub.db.session() as s:
        report = names.check(s)
    for line in report.lines():
        print(line)
    refs_ok = _fsck_refs(hub, args.repair)
    storage_ok = _fsck_storage(hub, args.repair, Settings.from_env(args.data).temp_max_age)
    if report.ok and refs_ok and storage_ok:
        print("no problems found", file=sys.stderr)
    return 0 if report.ok and refs_ok and storage_ok else 1


def _fsck_storage(hub, repair: bool, temp_max_age: int) -> bool:
    """Missing xorbs, dangling LFS pointers and orphaned temp files (hub/fsck.py; judged as a starting server
    judges them, AGORA_TEMP_MAX_AGE); with `repair`, what can be fixed is. True when nothing is left."""
    from datetime import timedelta

    from .hub import fsck

    found = fsck.missing_xorbs(hub)
    xorbs_ok = _fsck_xorbs(hub, found, repair)
    dangling = fsck.dangling_pointers(hub, {f.sha256 for f in found.files})
    for d in dangling:
        print(d.line())
    if dangling:
        print(
            f"{len(dangling)} dangling LFS pointer(s): nothing here can repair them; upload the objects again "
            "(the same oid, through git lfs push or huggingface_hub) or delete those files in a new commit",
            file=sys.stderr,
        )
    swept = fsck.temp_leftovers(hub, remove=repair, safe_age=timedelta(seconds=temp_max_age))
    temp = swept.temp_files + swept.conversions + swept.quarantines + swept.ref_locks
    if temp:
        print(
            f"{'removed' if repair else 'orphaned'} leftovers of dead processes: {swept.temp_files} temp "
            f"upload(s), {swept.conversions} conversion folder(s), {swept.quarantines} git quarantine folder(s), "
            f"{swept.ref_locks} git ref lock file(s)"
            + ("" if repair else " (`agora fsck --repair` removes them)")
        )
    return xorbs_ok and not dangling and (repair or not temp)


def _fsck_xorbs(hub, found, repair: bool) -> bool:
    """Print the Xet files whose xorbs are missing, and the xorb rows without bytes; with `repair`, drop the
    rows that offer them. True when there were none."""
    from .hub import fsck

    for f in found.files:
        print(f.line())
    for x in sorted(found.xorbs - {x for f in found.files for x in f.missing}):
        print(f"xorb {x}: the database has its row, the store does not have its bytes")
    if not (found.xorbs or found.files):
        return True
    if repair:
        fsck.drop_missing(hub, found)
        print(f"repaired: dropped the rows of {len(found.xorbs)} missing xorb(s) (uploads send them again)")
        for f in found.files:
            print(f"unreadable until uploaded again: {f.sha256} ({', '.join(f.repos) or 'no repo'})")
    else:
        print("`agora fsck --repair` drops the rows of missing xorbs, so that clients upload them again")
    return False


def _fsck_refs(hub, repair: bool) -> bool:
    """Repos whose refs/heads/main moved without the database deriving it (hub/reconcile.py); with
    `repair`, derived again. True when none is left."""
    from .hub import reconcile

    left = False
    for d in reconcile.disagreements(hub):
        fixed = None
        if repair:
            try:
                fixed = reconcile.repair(hub, d.repo_id)
            except Exception as e:  # noqa: BLE001 - reported, and the next repo is tried
                print(f"could not repair {d.line()}: {e}", file=sys.stderr)
        if fixed is not None:
            print(f"repaired: {d.line()}")
        else:
            left = True
            print(f"database behind git: {d.line()}" + ("" if repair else " (run `agora fsck --repair`)"))
    return not left


def cmd_user_rename(args: argparse.Namespace) -> int:
    from .hub import names

    hub = _hub(args.data)
    with hub.db.session() as s:
        acc = names.rename_account(s, hub, args.old, args.new)
        kind = acc.kind
    print(f"renamed {kind} {args.old} to {args.new} (its repos and collections follow)", file=sys.stderr)
    return 0


def cmd_repo_rename(args: argparse.Namespace) -> int:
    from .hub import names
    from .ids import repo_full

    hub = _hub(args.data)
    with hub.db.session() as s:
        repo = names.rename_repo(s, hub, args.type, args.old, args.new)
        new = repo_full(repo.namespace, repo.name)
    print(f"renamed {args.type} {args.old} to {new}", file=sys.stderr)
    return 0


def cmd_repo_create(args: argparse.Namespace) -> int:
    """A repo created by a site admin: `--canonical NAME` makes a canonical one (`gpt2`, no namespace)."""
    from .hub import accounts
    from .ids import CANONICAL, RepoId

    hub = _hub(args.data)
    with hub.db.session() as s:
        user = accounts.require_user(s, args.user)
        if not user.is_admin:
            print(
                f"{args.user} is not a site admin: only site admins create canonical repos", file=sys.stderr
            )
            return 1
        who = accounts.session_principal(user)
        repo = hub.create(s, who, RepoId(args.type, CANONICAL, args.canonical), args.private, args.sdk)
        print(f"created {repo.type} {repo.name}", file=sys.stderr)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from .hub import audit

    hub = _hub(args.data)
    with hub.db.session() as s:
        for e in audit.entries(s, limit=args.limit, actor=args.actor, action=args.action):
            print(audit.line(e))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agora", description="A self-hosted Hub for models, datasets and Spaces")
    sub = p.add_subparsers(dest="cmd", required=True)

    def with_data(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--data", default=None, help="data folder (default: $AGORA_DATA or ./data)")
        return sp

    sp = with_data(sub.add_parser("serve", help="run the server"))
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8080)
    sp.add_argument("--workers", type=int, default=1)
    sp.add_argument("--access-log", action="store_true")
    sp.set_defaults(fn=cmd_serve)

    sp = with_data(sub.add_parser("migrate", help="create or upgrade the database schema"))
    sp.set_defaults(fn=cmd_migrate)

    sp = with_data(
        sub.add_parser(
            "import", help="import an `agora export` folder, a Hugging Face cache folder or git repos"
        )
    )
    sp.add_argument("path")
    sp.add_argument("--user", default="admin", help="the user the repos are created as (default: admin)")
    sp.add_argument("--namespace", help="namespace for repos that name none (default: --user)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(fn=cmd_import)
    sp = with_data(
        sub.add_parser(
            "export",
            help="write a repo, a namespace or the whole Hub (--all) as a folder `agora import` reads back",
        )
    )
    sp.add_argument(
        "what", nargs="+", metavar="[NS/NAME | NS] OUT", help="what to export, and the output folder"
    )
    sp.add_argument("--all", action="store_true", help="every repo, and the accounts, tokens and audit log")
    sp.add_argument("--type", choices=("model", "dataset", "space"), default="model", help="of NS/NAME")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(fn=cmd_export)
    sp = with_data(
        sub.add_parser(
            "gc",
            help="remove unreferenced LFS objects, xorbs and stale inference snapshots (dry run by default)",
        )
    )
    sp.add_argument("--apply", action="store_true", help="really delete")
    sp.add_argument(
        "--grace-minutes",
        type=float,
        default=60,
        help="keep anything written more recently than this (uploads not committed yet)",
    )
    sp.add_argument(
        "--xorb-grace-days",
        type=float,
        default=None,
        help="keep unreferenced xorbs this long after their upload (default: AGORA_GC_XORB_GRACE_DAYS, 30); "
        "hf_xet's cache believes in them for 21 days, and fails uploads that reuse one gc removed",
    )
    sp.set_defaults(fn=cmd_gc)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="sub", required=True)
    sp = with_data(user.add_parser("add", help="add a user"))
    sp.add_argument("name")
    sp.add_argument("--admin", action="store_true")
    sp.add_argument("--email")
    sp.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sp.set_defaults(fn=cmd_user_add)
    sp = with_data(user.add_parser("disable", help="refuse a user's log-ins, sessions and tokens"))
    sp.add_argument("name")
    sp.set_defaults(fn=cmd_user_disable)
    sp = with_data(user.add_parser("enable", help="let a disabled user in again"))
    sp.add_argument("name")
    sp.set_defaults(fn=cmd_user_enable)
    sp = with_data(
        user.add_parser("set-password", help="set a user's password and end their browser sessions")
    )
    sp.add_argument("name")
    sp.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    sp.set_defaults(fn=cmd_user_set_password)
    sp = with_data(user.add_parser("rename", help="rename a user or an organization (repos follow)"))
    sp.add_argument("old", help="the exact current name")
    sp.add_argument("new")
    sp.set_defaults(fn=cmd_user_rename)

    repo = sub.add_parser("repo", help="manage repos").add_subparsers(dest="sub", required=True)
    sp = with_data(repo.add_parser("rename", help="rename or move a repo by its exact id"))
    sp.add_argument("type", choices=("model", "dataset", "space"))
    sp.add_argument("old", help="ns/name (or a canonical repo's name), exactly as stored")
    sp.add_argument("new", help="ns/name")
    sp.set_defaults(fn=cmd_repo_rename)
    sp = with_data(repo.add_parser("create", help="create a canonical repo (no namespace, like gpt2)"))
    sp.add_argument("--canonical", required=True, metavar="NAME", help="its one-segment id")
    sp.add_argument("--type", choices=("model", "dataset", "space"), default="model")
    sp.add_argument("--sdk", default=None, help="a Space's sdk (gradio, streamlit, docker, static)")
    sp.add_argument("--private", action="store_true")
    sp.add_argument("--user", default="admin", help="the site admin creating it (default: admin)")
    sp.set_defaults(fn=cmd_repo_create)

    sp = with_data(
        sub.add_parser(
            "fsck",
            help="report problems: case twins, database behind git refs, missing xorbs, dangling LFS pointers, "
            "orphaned temp files",
        )
    )
    sp.add_argument(
        "--fix-indexes",
        action="store_true",
        help="fill missing name keys and make the name indexes unique (refused while twins remain)",
    )
    sp.add_argument(
        "--repair",
        action="store_true",
        help="derive again the repos whose refs moved without the database knowing (a crash mid-write), drop "
        "the rows of missing xorbs, remove the temp files of dead processes",
    )
    sp.set_defaults(fn=cmd_fsck)

    token = sub.add_parser("token", help="manage access tokens").add_subparsers(dest="sub", required=True)
    sp = with_data(token.add_parser("create", help="create a token; prints only the token"))
    sp.add_argument("user")
    sp.add_argument("--role", choices=("read", "write"), default="write")
    sp.add_argument("--name")
    sp.set_defaults(fn=cmd_token_create)
    sp = with_data(token.add_parser("revoke", help="revoke a token by name or value"))
    sp.add_argument("user")
    sp.add_argument("token")
    sp.set_defaults(fn=cmd_token_revoke)
    sp = with_data(token.add_parser("list", help="list a user's tokens"))
    sp.add_argument("user")
    sp.set_defaults(fn=cmd_token_list)

    sp = with_data(sub.add_parser("audit", help="print the audit log, newest first, one entry a line"))
    sp.add_argument("--limit", type=int, default=100, help="at most this many entries (default: 100)")
    sp.add_argument("--actor", default=None, help="only the entries of this user")
    sp.add_argument("--action", default=None, help="only this action (e.g. token.create, repo.move)")
    sp.set_defaults(fn=cmd_audit)

    org = sub.add_parser("org", help="manage organizations").add_subparsers(dest="sub", required=True)
    sp = with_data(org.add_parser("create", help="create an organization"))
    sp.add_argument("name")
    sp.add_argument("--owner", required=True)
    sp.add_argument("--fullname", help="its full name, shown in whoami, listings and pages (default: NAME)")
    sp.set_defaults(fn=cmd_org_create)
    sp = with_data(org.add_parser("add-member", help="add a member or change their role"))
    sp.add_argument("org")
    sp.add_argument("user")
    sp.add_argument("--role", choices=("read", "write", "admin"), default="read")
    sp.set_defaults(fn=cmd_org_add_member)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .errors import HubError

    try:
        return int(args.fn(args) or 0)
    except HubError as e:
        print(f"agora: {e.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
