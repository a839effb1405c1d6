"""The dataset viewer's own errors. Like every domain error they name the code the wire layer sends as
X-Error-Code; `http/wire.py` maps them to the viewer API's statuses (500, as the Hub's dataset viewer)."""

from __future__ import annotations

from ..errors import HubError


class NotReady(HubError):
    """The dataset has no conversion record yet: the client retries (the answer carries Retry-After)."""

    code = "ResponseNotReady"


class SplitFailed(HubError):
    """The split could not be converted: its rows cannot be served."""

    code = "SplitConversionError"
