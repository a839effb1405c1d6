"""Which addresses webhooks may post to (hub/webhook_targets.py): the server's own networks are refused
unless AGORA_WEBHOOK_ALLOW names the host or a network holding the address."""

from __future__ import annotations

import pytest

from agora.errors import BadRequest
from agora.hub.webhook_targets import Allow, parse_url, resolve

REFUSED = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8080/x",
    "http://localhost/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_the_servers_own_networks_are_refused(url: str) -> None:
    with pytest.raises(BadRequest, match="AGORA_WEBHOOK_ALLOW"):
        resolve(url, Allow.parse(""))


def test_a_public_address_is_taken_as_is() -> None:
    t = resolve("https://93.184.215.14:8443/hook?x=1", Allow.parse(""))
    assert (t.scheme, t.host, t.port, t.path, t.address) == (
        "https",
        "93.184.215.14",
        8443,
        "/hook?x=1",
        "93.184.215.14",
    )


def test_the_allow_list_names_hosts_or_networks() -> None:
    allow = Allow.parse(" 127.0.0.1 , hooks.lan, 10.1.0.0/16,fd00::/8")
    assert resolve("http://127.0.0.1:9/", allow).address == "127.0.0.1"
    assert resolve("http://10.1.200.3/", allow).address == "10.1.200.3"
    assert resolve("http://[fd00::5]/", allow).address == "fd00::5"
    for still_refused in ("http://10.2.0.1/", "http://127.0.0.2/", "http://169.254.169.254/"):
        with pytest.raises(BadRequest):
            resolve(still_refused, allow)
    assert Allow.parse("localhost").names("LOCALHOST.", __import__("ipaddress").ip_address("127.0.0.1"))


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.org/",
        "http:///x",
        "http://u:p@example.org/",
        "http://example.org:99999/",
        "x" * 3000,
    ],
)
def test_malformed_urls_are_a_clear_400(url: str) -> None:
    with pytest.raises(BadRequest):
        parse_url(url)
