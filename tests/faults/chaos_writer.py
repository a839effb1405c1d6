"""A huggingface_hub writer for test_chaos.py, run as a process of its own (so that huggingface_hub reads
HF_HUB_DISABLE_XET at import as the test sets it: Xet uploads on, or off for LFS transfers).

    python chaos_writer.py ENDPOINT TOKEN REPO_ID KIND SEED

It reads one operation number per line on stdin and answers one JSON line on stdout per operation:
`{"ok": true, "commit": "<sha>"}` once the Hub acknowledged the commit, `{"ok": false, "error": "..."}`
otherwise. The bytes of operation N are a function of (SEED, KIND, N): sending N again is the retry of the
same upload. KIND is `xet` (upload_file of one binary file, uploaded through Xet) or `lfs` (create_commit
of a text file and a binary file through the LFS transfer; every third one LFS-sized, over 10 MiB).
"""

from __future__ import annotations

import json
import random
import sys

MIB = 1024 * 1024


def payload(seed: int, kind: str, n: int, size: int) -> bytes:
    return random.Random(f"{seed}-{kind}-{n}").randbytes(size)


def main() -> None:
    endpoint, token, repo_id, kind, seed_s = sys.argv[1:6]
    seed = int(seed_s)
    answers, sys.stdout = sys.stdout, sys.stderr  # whatever a library prints stays out of the answers
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=endpoint, token=token)
    for line in sys.stdin:
        n = int(line)
        try:
            if kind == "xet":
                size = (3 * MIB) if n % 4 == 3 else (MIB + n * 4096)
                info = api.upload_file(
                    path_or_fileobj=payload(seed, kind, n, size),
                    path_in_repo=f"xet/{n}.bin",
                    repo_id=repo_id,
                    commit_message=f"xet {n}",
                )
            else:
                size = (11 * MIB) if n % 3 == 2 else (256 * 1024 + n)
                ops = [
                    CommitOperationAdd(f"docs/{n}.txt", f"operation {n} of the LFS writer\n".encode()),
                    CommitOperationAdd(f"lfs/{n}.bin", payload(seed, kind, n, size)),
                ]
                info = api.create_commit(repo_id, ops, commit_message=f"lfs {n}")
            answer = {"ok": True, "commit": info.oid}
        except Exception as e:  # noqa: BLE001 - every failure is reported to the test, which retries
            answer = {"ok": False, "error": f"{type(e).__name__}: {e}"[:500]}
        print(json.dumps(answer), file=answers, flush=True)


if __name__ == "__main__":
    main()
