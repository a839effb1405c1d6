"""A Xet upload made in-process, as hf_xet makes it: one xorb of a file's chunks, and the shard registering
the file (for the in-process tests of hub/xet.py, hub/gc.py and hub/fsck.py)."""

from __future__ import annotations

import hashlib
import os

from agora.hub.repos import Hub
from agora.storage.xet import hashing, shard, xorb
from agora.storage.xet.hashing import to_hex

from .conftest import RID


class XetUpload:
    """A file in one xorb, and the shard that registers it (what hf_xet sends)."""

    def __init__(self, size: int = 200_000) -> None:
        self.data = os.urandom(size)
        chunks = [self.data[i : i + 50_000] for i in range(0, size, 50_000)]
        self.xorb = xorb.serialize(chunks)
        self.meta = xorb.parse(self.xorb)
        self.name = to_hex(self.meta.hash)
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        m = self.meta
        fi = shard.FileInfo(
            hashing.file_hash((hashing.chunk_hash(c), len(c)) for c in chunks),
            [shard.Term(m.hash, m.unpacked_total, 0, m.num_chunks)],
            [hashing.verification_hash(m.hashes)],
            hashing.from_hex(self.sha256),
        )
        ci = shard.CasInfo(
            m.hash,
            [shard.CasChunk(h, m.unpacked_start(i), m.unpacked_len(i)) for i, h in enumerate(m.hashes)],
            m.unpacked_total,
            len(self.xorb),
        )
        self.shard = shard.serialize([fi], [ci])

    def send(self, hub: Hub) -> None:
        assert hub.xet is not None
        up = hub.xet.new_xorb_upload(self.name)
        up.write(self.xorb)
        up.finish()
        hub.xet.accept_shard(hub.open_repo(None, RID).id, self.shard)
