"""The dataset viewer's own errors. Like every domain error they name the code the wire layer sends as
X-Error-Code; `http/wire.py` maps them to the viewer API's statuses (500, as the Hub's dataset viewer)."""

from __future__ import annotations

from ..errors import HubError


class NotReady(HubError):
    """The dataset has no conversion record yet: the client retries (the answer carries Retry-After)."""

    code = "ResponseNotReady"


class SplitFailed(HubError):
    """The split could not be converted: its rows cannot be served. Answered as the Hub's dataset viewer
    answers a split whose conversion failed: the code its worker gave (`DatasetGenerationError`,
    `DatasetGenerationCastError`, `EmptyDatasetError`, ...) and, in the body, `cause_exception` and
    `cause_message` (`extra["body"]`)."""

    code = "SplitConversionError"

    def __init__(self, message: str, code: str | None = None, **extra: object) -> None:
        super().__init__(message, **extra)
        if code:
            self.code = code


class SplitStopped(SplitFailed):
    """The split's conversion job was stopped (time or memory) or crashed: the Hub answers those 501
    (`JobManagerExceededMaximumDurationError`, `JobManagerCrashedError`)."""
