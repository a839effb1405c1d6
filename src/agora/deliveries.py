"""The webhook sender: a daemon thread of each server process (with AGORA_JOBS on) that takes due deliveries
from the queue (hub/webhooks.py `claim`) and POSTs them.

Each attempt resolves the webhook's host and checks every address again (hub/webhook_targets.py), then
connects to the address it checked (no second lookup between check and connection), sends the JSON payload
with `X-Webhook-Secret` (the secret as-is, as the Hub does), follows no redirect (http.client never does),
gives the whole attempt at most AGORA_WEBHOOK_TIMEOUT (a watchdog shuts the socket at the deadline, so a
receiver that trickles its answer a byte at a time cannot hold the sender), and reads at most
AGORA_WEBHOOK_MAX_RESPONSE_BYTES of the answer. A 2xx is a success; anything else is retried after the next
of AGORA_WEBHOOK_RETRY_DELAYS, and fails for good once they are spent. Every attempt is logged on the
delivery (status code, duration, error, the answer's first bytes).
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import time
from typing import Any

from .config import Settings
from .db.models import utcnow
from .errors import HubError
from .hub import startup, webhooks
from .hub.repos import Hub
from .hub.webhook_targets import Allow, Target, resolve

log = logging.getLogger("agora.webhooks")
USER_AGENT = "Agora-Webhooks/1"


class _Pinned(http.client.HTTPConnection):
    """Plain HTTP to the checked address; Host stays the URL's."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is checked against the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class _Watchdog:
    """Shuts the connection's socket down once `seconds` have passed (a blocked read then returns), so an
    attempt never lasts longer than AGORA_WEBHOOK_TIMEOUT however slowly the receiver answers."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self.conn, self.fired = conn, False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def absolute(value: Any, base: str) -> Any:
    """The payload with its link paths (`url: {web, api}`) made absolute."""
    if isinstance(value, dict):
        out = {k: absolute(v, base) for k, v in value.items()}
        url = out.get("url")
        if isinstance(url, dict):
            out["url"] = {
                k: base + v if isinstance(v, str) and v.startswith("/") else v for k, v in url.items()
            }
        return out
    if isinstance(value, list):
        return [absolute(v, base) for v in value]
    return value


def post(d: webhooks.Delivery, settings: Settings) -> tuple[dict[str, Any], bool]:
    """One attempt: (the log entry, success)."""
    limits = settings.webhooks
    base = (settings.public_url or d.base_url or "").rstrip("/")
    body = json.dumps(absolute(d.payload, base)).encode()
    entry: dict[str, Any] = {"at": utcnow().strftime("%Y-%m-%dT%H:%M:%S.000Z"), "statusCode": None}
    start = time.monotonic()
    try:
        target = resolve(d.url, Allow.parse(limits.allow))
        conn = (_PinnedTLS if target.scheme == "https" else _Pinned)(target, limits.timeout)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if d.secret:
            headers["X-Webhook-Secret"] = d.secret
        watchdog = _Watchdog(conn, limits.timeout - (time.monotonic() - start))
        try:
            conn.request("POST", target.path, body=body, headers=headers)
            resp = conn.getresponse()
            answer = resp.read(limits.max_response_bytes)
            entry["statusCode"] = resp.status
            entry["response"] = answer.decode("utf-8", "replace")
        finally:
            watchdog.cancel()
            conn.close()
        if watchdog.fired:
            raise TimeoutError(f"no complete answer within {limits.timeout:g} s")
    except HubError as e:
        entry["error"] = str(e)
    except (OSError, http.client.HTTPException, ValueError) as e:  # ValueError: a header http.client refuses
        entry["statusCode"] = None  # a cut answer is no answer
        entry["error"] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    entry["durationMs"] = round((time.monotonic() - start) * 1000)
    code = entry["statusCode"]
    return entry, code is not None and 200 <= code < 300


class Sender:
    """Takes due deliveries one at a time; several processes' senders share the queue."""

    def __init__(self, hub: Hub, settings: Settings, poll: float = 0.5) -> None:
        self.hub, self.settings, self.poll = hub, settings, poll
        self.name = f"{startup.host()}:{startup.owner()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agora-webhooks", daemon=True)

    def start(self) -> Sender:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> bool:
        d = webhooks.claim(self.hub, self.name)
        if d is None:
            return False
        entry, ok = post(d, self.settings)
        log.info(
            "webhook %s delivery %d (%s) attempt %d: %s",
            d.webhook,
            d.id,
            d.event,
            d.attempts,
            entry.get("statusCode") or entry.get("error"),
        )
        limits = self.settings.webhooks
        webhooks.record(self.hub, d, entry, ok, limits.delays(), limits.keep)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("webhook delivery failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll)
