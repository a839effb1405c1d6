"""The CAS API spoken directly (our own xorb and shard writer): what is accepted, what is refused.

Every refusal must leave nothing behind: no xorb in the store, no file registered for the repo.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from agora.http.auth import Signer
from agora.storage.xet import hashing, shard, xorb
from agora.storage.xet.hashing import to_hex

from ..conftest import ENDPOINT, Server


def call(
    method: str,
    url: str,
    token: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def xet_token(user_token: str, repo: str, kind: str = "write") -> dict[str, Any]:
    status, headers, body = call("GET", f"{ENDPOINT}/api/models/{repo}/xet-{kind}-token/main", user_token)
    assert status == 200, body
    data = json.loads(body)
    assert headers["x-xet-access-token"] == data["accessToken"] and headers["x-xet-cas-url"] == data["casUrl"]
    assert headers["x-xet-token-expiration"] == str(data["exp"])
    return data


class File:
    """A file made of chunks packed in one xorb, with everything a shard upload needs."""

    def __init__(self, size: int = 300_000, chunk: int = 50_000) -> None:
        self.data = os.urandom(size)
        self.chunks = [self.data[i : i + chunk] for i in range(0, size, chunk)]
        self.xorb = xorb.serialize(self.chunks)
        self.meta = xorb.parse(self.xorb)
        self.xorb_name = to_hex(self.meta.hash)
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.file_hash = hashing.file_hash((hashing.chunk_hash(c), len(c)) for c in self.chunks)

    def shard(self, **overrides: Any) -> bytes:
        m = self.meta
        n = m.num_chunks
        fi = shard.FileInfo(
            overrides.get("file_hash", self.file_hash),
            [shard.Term(overrides.get("term_xorb", m.hash), m.unpacked_total, 0, n)],
            [overrides.get("verification", hashing.verification_hash(m.hashes))],
            overrides.get("sha256", hashing.from_hex(self.sha256)),
        )
        ci = shard.CasInfo(
            m.hash,
            [shard.CasChunk(h, m.unpacked_start(i), m.unpacked_len(i)) for i, h in enumerate(m.hashes)],
            m.unpacked_total,
            len(self.xorb),
        )
        return shard.serialize([fi], [ci])


def put_xorb(cas: str, token: str, name: str, body: bytes) -> tuple[int, bytes]:
    status, _, out = call("POST", f"{cas}/v1/xorbs/default/{name}", token, body)
    return status, out


def stored(server: Server, name: str) -> bool:
    return bool(server.store("xorbs").exists(name))


@pytest.fixture
def repo(api, repo_name: str) -> str:  # type: ignore[no-untyped-def]
    api.create_repo(f"alice/{repo_name}")
    return f"alice/{repo_name}"


def test_full_upload_and_reconstruction(server: Server, alice: str, repo: str) -> None:
    t = xet_token(alice, repo)
    cas, tok = t["casUrl"], t["accessToken"]
    f = File()
    status, out = put_xorb(cas, tok, f.xorb_name, f.xorb)
    assert status == 200 and json.loads(out) == {"was_inserted": True}
    status, out = put_xorb(cas, tok, f.xorb_name, f.xorb)
    assert status == 200 and json.loads(out) == {"was_inserted": False}
    status, _, out = call("POST", f"{cas}/v1/shards", tok, f.shard())
    assert status == 200 and json.loads(out)["result"] in (0, 1), out
    read = xet_token(alice, repo, "read")["accessToken"]
    status, _, out = call(
        "GET",
        f"{cas}/v1/reconstructions/{to_hex(f.file_hash)}",
        read,
        headers={"Range": "bytes=60000-160000"},
    )
    assert status == 200, out
    rec = json.loads(out)
    got = b""
    for term in rec["terms"]:
        (fi,) = [
            x
            for x in rec["fetch_info"][term["hash"]]
            if x["range"]["start"] <= term["range"]["start"] and x["range"]["end"] >= term["range"]["end"]
        ]
        status, _, raw = call(
            "GET", fi["url"], headers={"Range": f"bytes={fi['url_range']['start']}-{fi['url_range']['end']}"}
        )
        assert status == 206
        chunks = list(xorb.read_chunks(raw, fi["range"]["end"] - fi["range"]["start"]))
        part = b"".join(
            chunks[
                term["range"]["start"] - fi["range"]["start"] : term["range"]["end"] - fi["range"]["start"]
            ]
        )
        assert len(part) == term["unpacked_length"]
        got += part
    got = got[rec["offset_into_first_range"] :][:100001]
    assert got == f.data[60000:160001]
    # A range past the end is refused; v2 describes the same fetch plan keyed under "xorbs".
    status, _, _ = call(
        "GET", f"{cas}/v1/reconstructions/{to_hex(f.file_hash)}", read, headers={"Range": "bytes=300000-"}
    )
    assert status == 416
    status, _, out = call(
        "GET",
        f"{cas}/v2/reconstructions/{to_hex(f.file_hash)}",
        read,
        headers={"Range": "bytes=60000-160000"},
    )
    v2 = json.loads(out)
    assert status == 200 and v2["terms"] == rec["terms"] and "fetch_info" not in v2
    assert [(r["chunks"], r["bytes"]) for x in v2["xorbs"][f.xorb_name] for r in x["ranges"]] == [
        (x["range"], x["url_range"]) for x in rec["fetch_info"][f.xorb_name]
    ]
    # The signed xorb link grants its range only.
    url = rec["fetch_info"][f.xorb_name][0]["url"]
    assert call("GET", url, headers={"Range": f"bytes=0-{len(f.xorb) - 1}"})[0] in (403, 206)
    # A tampered link is refused: Agora's own (sig=, 401) or a presigned S3 one (X-Amz-Signature=, 403).
    tampered = (
        url.replace("sig=", "sig=0")
        if "sig=" in url
        else url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    )
    assert tampered != url
    assert call("GET", tampered, headers={"Range": "bytes=0-10"})[0] in (401, 403)
    # Global dedup: the file's first chunk is known; the answer is a shard with keyed chunk hashes.
    status, _, out = call("GET", f"{cas}/v1/chunks/default-merkledb/{to_hex(f.meta.hashes[0])}", read)
    assert status == 200
    answer = shard.parse(out)
    key = answer.footer.hmac_key  # type: ignore[union-attr]
    assert answer.files == [] and key != bytes(32)
    assert [c.hash for c in answer.xorbs[0].chunks] == [hashing.keyed(h, key) for h in f.meta.hashes]
    assert call("GET", f"{cas}/v1/chunks/default/{to_hex(os.urandom(32))}", read)[0] == 404


def test_tampered_xorb_is_refused_and_not_stored(server: Server, alice: str, repo: str) -> None:
    t = xet_token(alice, repo)
    f = File()
    body = bytearray(xorb.serialize(f.chunks, xorb.SCHEME_NONE, footer=False))
    body[1000] ^= 0xFF
    status, out = put_xorb(t["casUrl"], t["accessToken"], f.xorb_name, bytes(body))
    assert status == 400 and b"hash mismatch" in out
    assert not stored(server, f.xorb_name)
    status, out = put_xorb(t["casUrl"], t["accessToken"], f.xorb_name, b"\0" * 100)
    assert status == 400 and not stored(server, f.xorb_name)


def test_shard_naming_a_missing_xorb_is_refused(server: Server, alice: str, repo: str, api) -> None:  # type: ignore[no-untyped-def]
    t = xet_token(alice, repo)
    f = File()
    status, _, out = call("POST", f"{t['casUrl']}/v1/shards", t["accessToken"], f.shard())
    assert status == 400 and b"never uploaded" in out
    put_xorb(t["casUrl"], t["accessToken"], f.xorb_name, f.xorb)
    # Wrong verification hash, wrong sha256, wrong file hash: refused, nothing registered.
    for bad in ({"verification": os.urandom(32)}, {"sha256": os.urandom(32)}, {"file_hash": os.urandom(32)}):
        status, _, out = call("POST", f"{t['casUrl']}/v1/shards", t["accessToken"], f.shard(**bad))
        assert status == 400, (bad, out)
    status, _, out = call("POST", f"{t['casUrl']}/v1/shards", t["accessToken"], b"not a shard")
    assert status == 400
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    op = CommitOperationAdd("x.bin", f.data)
    op._upload_mode = "lfs"  # type: ignore[attr-defined]
    op._is_uploaded = True  # type: ignore[attr-defined]
    with pytest.raises(HfHubHTTPError):  # the commit cannot reference content that was never registered
        api.create_commit(repo, operations=[op], commit_message="x")


def test_v2_shard_upload_answers_frames_and_a_refusal_says_what_to_do(
    server: Server, alice: str, repo: str
) -> None:
    """hf_xet tries POST /v2/shards first: 200 and NDJSON frames, ending in `result` or in `error`, whose
    message the client shows (a v1 error's body it drops)."""
    t = xet_token(alice, repo)
    f = File()
    status, headers, out = call("POST", f"{t['casUrl']}/v2/shards", t["accessToken"], f.shard())
    frames = [json.loads(line) for line in out.splitlines()]
    assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
    assert frames[-1]["type"] == "error" and frames[-1]["retryable"] is False
    assert f.xorb_name in frames[-1]["message"] and "shard-cache" in frames[-1]["message"]
    put_xorb(t["casUrl"], t["accessToken"], f.xorb_name, f.xorb)
    status, _, out = call("POST", f"{t['casUrl']}/v2/shards", t["accessToken"], f.shard())
    assert status == 200 and [json.loads(line) for line in out.splitlines()][-1] == {"type": "result"}
    read = xet_token(alice, repo, "read")["accessToken"]  # the file is registered, as through v1
    status, _, _ = call("GET", f"{t['casUrl']}/v1/reconstructions/{to_hex(f.file_hash)}", read)
    assert status == 200
    # Before the stream starts, errors are plain HTTP ones: a read token may not upload.
    assert call("POST", f"{t['casUrl']}/v2/shards", read, f.shard())[0] == 403


def test_token_scope_and_expiry(server: Server, alice: str, bob: str, repo: str, api, repo_name: str) -> None:  # type: ignore[no-untyped-def]
    other = f"alice/{repo_name}-b"
    api.create_repo(other, private=True)
    tb = xet_token(alice, other)
    f = File()
    assert put_xorb(tb["casUrl"], tb["accessToken"], f.xorb_name, f.xorb)[0] == 200
    assert call("POST", f"{tb['casUrl']}/v1/shards", tb["accessToken"], f.shard())[0] == 200
    fh = to_hex(f.file_hash)
    cas = tb["casUrl"]
    assert (
        call("GET", f"{cas}/v1/reconstructions/{fh}", xet_token(alice, other, "read")["accessToken"])[0]
        == 200
    )
    # A token for repo A does not read repo B's files.
    assert (
        call("GET", f"{cas}/v1/reconstructions/{fh}", xet_token(alice, repo, "read")["accessToken"])[0] == 404
    )
    # A read token cannot upload; no token, a forged or an expired one gets 401.
    read = xet_token(alice, repo, "read")["accessToken"]
    assert put_xorb(cas, read, f.xorb_name, f.xorb)[0] == 403
    assert call("POST", f"{cas}/v1/shards", read, f.shard())[0] == 403
    assert call("GET", f"{cas}/v1/reconstructions/{fh}")[0] == 401
    forged = tb["accessToken"].rsplit(".", 1)[0] + "." + "0" * 64
    assert call("GET", f"{cas}/v1/reconstructions/{fh}", forged)[0] == 401
    signer = Signer(
        os.environ.get("AGORA_SECRET_KEY", "").encode()
        or (server.data / "secret.key").read_text().strip().encode()
    )
    repo_id = tb["accessToken"].split(".")[2]
    exp, sig = signer.sign("xet-token", "read", repo_id, ttl=-10)
    assert call("GET", f"{cas}/v1/reconstructions/{fh}", f"xet1.read.{repo_id}.{exp}.{sig}")[0] == 401
    exp, sig = signer.sign("xet-token", "read", repo_id, ttl=60)
    assert call("GET", f"{cas}/v1/reconstructions/{fh}", f"xet1.read.{repo_id}.{exp}.{sig}")[0] == 200
    # Private repo: bob gets 404 RepoNotFound for either token; a read-only token gets no write token.
    for kind in ("read", "write"):
        status, headers, _ = call("GET", f"{ENDPOINT}/api/models/{other}/xet-{kind}-token/main", bob)
        assert status == 404 and headers["x-error-code"] == "RepoNotFound"
    status, _, _ = call(
        "GET", f"{ENDPOINT}/api/models/{other}/xet-write-token/main", server.token("alice", "read")
    )
    assert status == 403
    assert (
        call("GET", f"{ENDPOINT}/api/models/{other}/xet-read-token/nope", alice)[1]["x-error-code"]
        == "RevisionNotFound"
    )
    status, _, out = call("GET", f"{ENDPOINT}/api/models/{other}/xet-write-token/None?create_pr=1", alice)
    assert status == 200 and json.loads(out)["accessToken"]


def test_a_refused_upload_is_answered_not_reset(server: Server, alice: str, repo: str) -> None:
    """A read token sending an 8 MB xorb: the server refuses it before reading, and the client, still
    sending, must read that 403, not a reset connection (more than the socket buffers hold is sent)."""
    t = xet_token(alice, repo, "read")
    url = urllib.parse.urlsplit(t["casUrl"])
    body = os.urandom(8 * 2**20)
    for _ in range(3):
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=30) as s:
            head = (
                f"POST {url.path}/v1/xorbs/default/{'ab' * 32} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: Bearer {t['accessToken']}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            s.sendall(head.encode() + body)  # an unread body past the buffers: reset before the fix
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert not stored(server, "ab" * 32)
