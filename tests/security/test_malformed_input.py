"""Item 10 of issue 12: malformed input gets a 4xx in the HF error format, never a 500.

Requests go out through a raw socket so that the bytes are exactly the attacker's: undecodable
percent-escapes (`%FF`, an encoded surrogate `%ED%A0%80`, overlong `%C0%AF`), NULs, long paths, invalid
UTF-8 in queries and headers, and JSON / NDJSON bodies with lone surrogates (`"\\ud800"`: valid JSON, no
UTF-8 form) or absurd nesting. Every answer must be below 500; API answers of 400 carry X-Error-Code.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest
from huggingface_hub import HfApi

from ..conftest import Server

SEGMENTS = [
    "%FF",
    "%ED%A0%80",
    "%C0%AF",
    "a%00b",
    "%00",
    "%",
    "%zz",
    "%E2%80%AE",
    "..%2F..%2Fetc",
    "%2e%2e",
    "x" * 3000,
    "%FF" * 500,
    "refs%2Fpr%2F%FF",
    "%F0%9F%98",
]
LONG_QUERY = "q=" + "%FF" * 5000


def send(
    server: Server, method: str, target: bytes, headers: dict[bytes, bytes] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    u = urlsplit(server.url)
    h = {b"Host": f"{u.hostname}:{u.port}".encode(), b"Connection": b"close", **(headers or {})}
    if body or method in ("POST", "PUT"):
        h[b"Content-Length"] = str(len(body)).encode()
    req = (
        method.encode()
        + b" "
        + target
        + b" HTTP/1.1\r\n"
        + b"".join(k + b": " + v + b"\r\n" for k, v in h.items())
    )
    with socket.create_connection((u.hostname, u.port), timeout=60) as s:
        s.sendall(req + b"\r\n" + body)
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.decode("latin-1").strip().lower()] = v.decode("latin-1").strip()
    return status, hdrs, rest


@pytest.fixture(scope="module")
def repos(server: Server, api: HfApi) -> dict[str, str]:
    m = "alice/malformed-model"
    d = "alice/malformed-data"
    api.create_repo(m, exist_ok=True)
    api.create_repo(d, repo_type="dataset", exist_ok=True)
    api.upload_file(path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=d, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="f.txt", repo_id=m)
    return {"m": m, "d": d}


TEMPLATES = [
    # API
    "/api/models/{s}",
    "/api/models/alice/{s}",
    "/api/models/{s}/x",
    "/api/models/{m}/tree/{s}",
    "/api/models/{m}/tree/main/{s}",
    "/api/models/{m}/revision/{s}",
    "/api/models/{m}/commits/{s}",
    "/api/models/{m}/refs?include_prs={s}",
    "/api/models?search={s}&author={s}&filter={s}&sort={s}&limit={s}",
    "/api/datasets?search={s}&filter={s}",
    "/api/models/{m}/tree/main?recursive={s}&cursor={s}&limit={s}",
    "/api/datasets/{d}/revision/{s}",
    "/api/spaces/{s}/{s}",
    "/api/models/{m}/xet-read-token/{s}",
    "/api/users/{s}/likes",
    "/api/models/{m}/likers?x={s}",
    "/api/collections/{s}",
    "/api/collections?owner={s}",
    "/api/models/{m}/discussions/{s}",
    "/api/models/{m}/discussions?author={s}&type={s}&status={s}",
    "/api/search/full-text?q={s}&type={s}",
    "/api/models/facets?filter={s}",
    "/api/whoami-v2?{s}",
    # resolve
    "/{m}/resolve/{s}/f.txt",
    "/{m}/resolve/main/{s}",
    "/datasets/{d}/resolve/main/{s}",
    "/{s}/{s}/resolve/main/x",
    "/{m}/resolve/main/f.txt?download={s}",
    # tree / UI pages
    "/{s}",
    "/{s}/x",
    "/alice/{s}",
    "/datasets/{s}/x",
    "/spaces/{s}/x",
    "/{m}/tree/{s}",
    "/{m}/tree/main/{s}",
    "/{m}/blob/main/{s}",
    "/{m}/raw/main/{s}",
    "/{m}/commits/{s}",
    "/{m}/commit/{s}",
    "/{m}/discussions/{s}",
    "/{m}/discussions?status={s}&type={s}&q={s}&p={s}",
    "/{m}/commits/main?p={s}",
    "/{m}/edit/main/{s}",
    "/{m}/upload/{s}",
    "/collections/{s}",
    "/collections/alice/{s}",
    "/organizations/{s}/settings",
    "/static/{s}",
    "/avatars/{s}",
    "/search/full-text?q={s}",
    "/models?search={s}&sort={s}&p={s}",
    "/?{s}",
    "/login?next={s}",
    "/settings/tokens?{s}",
    # git
    "/{m}.git/info/refs?service={s}",
    "/{s}.git/info/refs?service=git-upload-pack",
    "/alice/{s}.git/info/refs?service=git-upload-pack",
    "/datasets/{d}.git/info/refs?service={s}",
    # viewer
    "/api/datasets-server/rows?dataset={s}&config={s}&split={s}&offset={s}&length={s}",
    "/api/datasets-server/splits?dataset={s}",
    "/api/datasets-server/is-valid?dataset={s}",
    "/api/datasets-server/search?dataset={d}&config={s}&split={s}&query={s}",
    "/api/datasets-server/filter?dataset={d}&config={s}&split={s}&where={s}",
    "/datasets/{d}/viewer?config={s}&split={s}&p={s}",
    "/datasets/{d}/viewer/cell?config={s}&row={s}&col={s}",
]


def _targets(repos: dict[str, str]) -> list[bytes]:
    out = []
    for t in TEMPLATES:
        for s in SEGMENTS:
            out.append(t.format(s=s, m=repos["m"], d=repos["d"]).encode("latin-1"))
    out.append(b"/" + b"a" * 20000)
    out.append(b"/api/models?" + LONG_QUERY.encode())
    out.append(b"/" + b"\xff\xfe/x")  # raw invalid bytes, not percent-encoded: granian answers 400 itself
    out.append(b"/api/models/\xff")
    for page in ("%C2%B2", "9" * 5000):  # a digit int() refuses ("²"), more digits than int() reads
        out += [
            f"/{repos['m']}/discussions?p={page}".encode(),
            f"/{repos['m']}/commits/main?p={page}".encode(),
        ]
    return out


def test_nasty_paths_and_queries_never_500(server: Server, repos: dict[str, str]) -> None:
    bad = []
    for target in _targets(repos):
        for method in ("GET", "HEAD"):
            status, h, body = send(
                server, method, target, {b"Accept": b"text/html"} if b"/api/" not in target else {}
            )
            if status >= 500:
                bad.append((method, target[:120], status, body[:200]))
            elif status == 400 and target.startswith(b"/api/") and method == "GET" and target.isascii():
                assert "x-error-code" in h, (target[:120], body[:200])
    assert not bad, bad[:20]


def test_percent_ff_gets_hf_error(server: Server) -> None:
    status, h, body = send(server, "GET", b"/%FF/x")
    assert status == 400 and h["x-error-code"] == "BadRequest"
    assert "UTF-8" in json.loads(body)["error"]


def test_nasty_headers_never_500(server: Server, alice: str, repos: dict[str, str]) -> None:
    m = repos["m"].encode()
    cases = [
        {b"Authorization": b"Bearer \xff\xfe\x80"},
        {b"Authorization": b"Basic \xff\xfe"},
        {b"Authorization": b"Basic " + __import__("base64").b64encode(b"alice:\xff\xfe")},
        {b"Authorization": b"Basic " + __import__("base64").b64encode(b"\xff")},
        {b"Authorization": b"Bearer"},
        {b"Cookie": b"agora_session=\xff\xfe; x=\x80"},
        {b"Range": b"bytes=\xff-"},
        {b"Range": b"bytes=99999999999999999999999999-1"},
        {b"Range": b"bytes=-0"},
        {b"If-None-Match": b"\xff"},
        {b"Accept": b"\xff"},
        {b"Accept-Encoding": b"\xff"},
        {b"X-Forwarded-For": b"\xff, 999.1.1.1"},
        {b"Origin": b"\xff"},
        {b"Referer": b"\xff"},
        {b"Git-Protocol": b"version=\xff"},
        {b"Content-Type": b"\xff"},
        {b"X-HF-Download-Counter": b"\xff"},
    ]
    targets = [
        b"/api/whoami-v2",
        b"/api/models/" + m,
        b"/" + m + b"/resolve/main/f.txt",
        b"/",
        b"/" + m,
        b"/" + m + b".git/info/refs?service=git-upload-pack",
        b"/settings/tokens",
    ]
    bad = []
    for hdr in cases:
        for t in targets:
            status, _, body = send(server, "GET", t, hdr)
            if status >= 500:
                bad.append((hdr, t, status, body[:200]))
    assert not bad, bad


SURROGATE = '"\\ud800"'


def ndjson(*lines: str) -> bytes:
    return "\n".join(lines).encode()


HEADER = '{"key":"header","value":{"summary":"x"}}'


@pytest.mark.parametrize(
    "body",
    [
        ndjson(HEADER, '{"key":"file","value":{"path":' + SURROGATE + ',"content":"eA=="}}'),
        ndjson(HEADER, '{"key":"file","value":{"path":"a/' + SURROGATE[1:-1] + '/b","content":"eA=="}}'),
        ndjson(
            '{"key":"header","value":{"summary":' + SURROGATE + "}}",
            '{"key":"file","value":{"path":"a","content":"eA=="}}',
        ),
        ndjson(
            '{"key":"header","value":{"summary":"x","description":' + SURROGATE + "}}",
            '{"key":"file","value":{"path":"a","content":"eA=="}}',
        ),
        ndjson(HEADER, '{"key":"file","value":{"path":"b","content":' + SURROGATE + ',"encoding":"utf-8"}}'),
        ndjson(HEADER, '{"key":"deletedFile","value":{"path":' + SURROGATE + "}}"),
        ndjson(HEADER, '{"key":"deletedFolder","value":{"path":' + SURROGATE + "}}"),
        ndjson(
            HEADER, '{"key":"lfsFile","value":{"path":' + SURROGATE + ',"oid":"' + "a" * 64 + '","size":1}}'
        ),
        ndjson(
            HEADER,
            '{"key":"file","value":{"path":"x","content":"eA==","z":' + "[" * 100000 + "]" * 100000 + "}}",
        ),
        ndjson(HEADER, '{"key":"lfsFile","value":{"path":"x","oid":"zz","size":1e999}}'),
        b'{"key":"header","value":{"summary":"x"}}\n{"key":"file","value":{"path":"\xff\xfe","content":"eA=="}}',
        b"\xff\xfe\n\x00",
        ndjson(HEADER, '{"key":"file","value":{"path":"' + "d" * 300 + '/x","content":"eA=="}}'),
    ],
)
def test_commit_bodies_get_400(
    server: Server, alice: str, api: HfApi, repos: dict[str, str], body: bytes
) -> None:
    head = api.model_info(repos["m"]).sha
    status, h, out = send(
        server,
        "POST",
        f"/api/models/{repos['m']}/commit/main".encode(),
        {b"Authorization": f"Bearer {alice}".encode(), b"Content-Type": b"application/x-ndjson"},
        body,
    )
    # a path that is no valid text is an invalid path: 422 as on the Hub (errors.InvalidPath); the rest 400
    bad_path = b'"path":' + SURROGATE.encode() in body or b"/\\ud800/" in body
    assert status == (422 if bad_path else 400), out[:300]
    assert h["x-error-code"] == "BadRequest" and json.loads(out)["error"]
    assert api.model_info(repos["m"]).sha == head


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/models/{m}/preupload/main", '{"files":[{"path":' + SURROGATE + ',"size":1}]}'),
        (
            "/api/models/{m}/preupload/main",
            '{"files":[{"path":"x","size":1}],"z":' + "[" * 100000 + "]" * 100000 + "}",
        ),
        ("/api/models/{m}/paths-info/main", '{"paths":[' + SURROGATE + "]}"),
        ("/api/models/{m}/branch/x", '{"startingPoint":' + SURROGATE + "}"),
        ("/api/models/{m}/tag/main", '{"tag":' + SURROGATE + "}"),
        ("/api/models/{m}/discussions", '{"title":' + SURROGATE + ',"description":"x"}'),
        ("/api/collections", '{"title":' + SURROGATE + ',"namespace":"alice"}'),
        ("/api/repos/create", '{"name":' + SURROGATE + "}"),
        ("/api/repos/move", '{"fromRepo":"alice/x","toRepo":' + SURROGATE + "}"),
        ("/api/validate-yaml", '{"content":"---\\nlicense: \\ud800\\n---\\n"}'),
        (
            "/{m}.git/info/lfs/objects/batch",
            '{"operation":"upload","objects":[{"oid":' + SURROGATE + ',"size":1}]}',
        ),
        ("/{m}.git/info/lfs/locks", '{"path":' + SURROGATE + "}"),
        ("/api/models/{m}/preupload/main", "\xff\xfe"),
    ],
)
def test_json_bodies_never_500(
    server: Server, alice: str, repos: dict[str, str], path: str, body: str
) -> None:
    status, h, out = send(
        server,
        "POST",
        path.format(m=repos["m"]).encode(),
        {b"Authorization": f"Bearer {alice}".encode(), b"Content-Type": b"application/json"},
        body.encode("latin-1") if "\xff" in body else body.encode(),
    )
    assert status < 500, out[:300]
    if status == 400 and path.startswith("/api/") and "validate-yaml" not in path:
        assert h.get("x-error-code") == "BadRequest"
