"""Hub behaviours huggingface_hub relies on, through the client: request ids, short shas, folder deletes and
.gitignore, the Hub's error texts, super-squash, copies of LFS files, LFS file listing and deletion, duplicates.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError

from ..conftest import ENDPOINT

pytestmark = pytest.mark.usefixtures("no_server_errors")


# ---- X-Request-Id ------------------------------------------------------------------------------------


def test_request_id_echoed_and_in_the_error_message(server: Any, alice: str) -> None:
    """The client's id comes back (it quotes it in its error message), so one id names the call on both
    sides; huggingface_hub sends X-Amzn-Trace-Id on every call, and X-Request-Id when the user sets one."""
    api = HfApi(endpoint=ENDPOINT, token=alice, headers={"X-Request-Id": "my-call-42"})
    with pytest.raises(RepositoryNotFoundError) as e:
        api.model_info("alice/no-such-repo-for-request-id")
    assert e.value.response.headers["x-request-id"] == "my-call-42"
    assert "(Request ID: my-call-42)" in str(e.value)

    r = httpx.get(f"{ENDPOINT}/api/models/alice/nope-x", headers={"X-Amzn-Trace-Id": "Root=1-abc-def"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "Root=1-abc-def"


@pytest.mark.parametrize("sent", ["x" * 129, "a b", "<script>", ""])
def test_unsafe_request_id_replaced(sent: str) -> None:
    r = httpx.get(f"{ENDPOINT}/api/models/alice/nope-x", headers={"X-Request-Id": sent})
    rid = r.headers["x-request-id"]
    assert rid != sent and re.fullmatch(r"[0-9a-f]{16}", rid)


def test_request_id_on_the_error_page() -> None:
    r = httpx.get(
        f"{ENDPOINT}/alice/no-such-repo-page", headers={"accept": "text/html", "X-Request-Id": "pg-1"}
    )
    assert r.status_code == 404 and "Request ID: <code>pg-1</code>" in r.text
