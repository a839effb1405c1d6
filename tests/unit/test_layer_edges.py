"""The single homes of shared rules: repo paths, git ids, and the wire mapping of the viewer's errors."""

from __future__ import annotations

import json

from agora.http import wire
from agora.ids import HEX40, RepoId, repo_web_path
from agora.viewer.errors import NotReady, SplitFailed, SplitStopped


def test_repo_web_path() -> None:
    assert repo_web_path("model", "alice", "m") == "alice/m"
    assert repo_web_path("dataset", "alice", "d") == "datasets/alice/d"
    assert RepoId("space", "acme", "s").web_path == "spaces/acme/s"


def test_hex40_is_exactly_a_full_git_id() -> None:
    assert HEX40.match("a" * 40)
    assert not HEX40.match("a" * 40 + "\n") and not HEX40.match("A" * 40) and not HEX40.match("a" * 39)


def test_viewer_errors_map_to_the_viewer_api_answers() -> None:
    r = wire.hub_error(NotReady("converting"))
    assert r.status_code == 500 and r.headers["x-error-code"] == "ResponseNotReady"
    assert r.headers["retry-after"] == "1"
    r = wire.hub_error(SplitFailed("bad split"))
    assert r.status_code == 500 and r.headers["x-error-code"] == "SplitConversionError"
    assert "retry-after" not in r.headers
    # A split's own code and cause, as the Hub's dataset viewer answers them; a stopped job is 501.
    cause = {"cause_exception": "ParserError", "cause_message": "Expected 2 fields in line 3, saw 4"}
    r = wire.hub_error(SplitFailed("bad split", "DatasetGenerationError", body=cause))
    assert r.status_code == 500 and r.headers["x-error-code"] == "DatasetGenerationError"
    assert json.loads(r.body) == {"error": "bad split", **cause}
    r = wire.hub_error(SplitStopped("too slow", "JobManagerExceededMaximumDurationError"))
    assert r.status_code == 501 and r.headers["x-error-code"] == "JobManagerExceededMaximumDurationError"
