"""Inference on CPU: the widget's and InferenceClient's `POST /models/{id}` (docs/inference.md).

- `service.py`  `Inference`: what http/ calls (repo at its default branch head -> snapshot -> pool).
- `snapshots.py` read-only folders of a commit's files, LFS objects linked from the blob store.
- `front.py`    `InferencePool`: a server process's way to the host's one pool (lease + unix socket).
- `pool.py`     the supervisor: worker processes, routing, queue bounds, deadlines, respawns.
- `worker.py`   a worker process (torch + transformers); `handlers.py` one handler per task.
- `protocol.py` the JSON frames between them.

This module imports nothing: a worker imports `agora.inference.worker`, which must not pull in the
database, the Hub or HTTP (import-linter contracts in pyproject.toml).
"""
