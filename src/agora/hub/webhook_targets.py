"""Where a webhook may post: the URL's host resolved, and every address checked against what a server must
not be made to reach on its owner's behalf (its own loopback, the private network it sits in, link-local
metadata services such as 169.254.169.254, multicast, the unspecified address), unless the admin's
allow-list (AGORA_WEBHOOK_ALLOW: hosts or CIDRs) names the host or the address.

The check runs when a webhook is created or changed (a clear 400) and again at each delivery, which then
connects to the very address it checked (`Target.address`): DNS may answer differently a second later, so
the name is never resolved twice between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from string import ascii_letters, digits, punctuation
from urllib.parse import quote, urlsplit

from ..errors import BadRequest

_URL_SAFE = ascii_letters + digits + punctuation  # printable ASCII but the space
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Allow:
    """The admin's exceptions: host names (lower case) and networks."""

    hosts: frozenset[str]
    nets: tuple[Net, ...]

    @classmethod
    def parse(cls, text: str) -> Allow:
        hosts: set[str] = set()
        nets: list[Net] = []
        for item in (x.strip() for x in text.split(",")):
            if not item:
                continue
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(nets))

    def names(self, host: str, ip: IP) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(ip in n for n in self.nets)


@dataclass(frozen=True)
class Target:
    """A checked URL: scheme, host (for Host and TLS), port, path with query, and the address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def _refused(ip: IP) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
    )


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL, or a BadRequest saying what is wrong."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise BadRequest("A webhook needs a url (http:// or https://, at most 2000 characters)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest(f"Invalid webhook url {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"Invalid webhook url {url!r}: use an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise BadRequest("A webhook url may not carry a user name or password: use the secret instead")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Sent as is on the request line: non-ASCII characters and spaces percent-encoded (UTF-8), as a browser
    # does; what is already encoded stays.
    path = quote(path, safe=_URL_SAFE)
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str, allow: Allow) -> Target:
    """The URL checked and resolved: every address the name has must be allowed (else BadRequest)."""
    scheme, host, port, path = parse_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise BadRequest(f"The webhook's host {host!r} does not resolve: {e}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for a in addresses:
        ip = ipaddress.ip_address(a.split("%")[0])
        if _refused(ip) and not allow.names(host, ip):
            raise BadRequest(
                f"Webhooks may not post to {host} ({a}): a loopback, private, link-local, multicast or "
                "unspecified address. A server admin can allow it with AGORA_WEBHOOK_ALLOW."
            )
    return Target(scheme, host, port, path, addresses[0])
