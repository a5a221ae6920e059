"""Which URLs may receive webhooks: http(s) to public addresses only, unless allowed otherwise.

A URL is checked when it is given (the API answers 422 `webhook_not_allowed`) and again before
each delivery, so a name that later resolves to an internal address is still refused.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from jobs.contract import ErrorCode
from jobs.errors import JobsError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_URL_LENGTH = 2048


class WebhookNotAllowed(JobsError):
    code = ErrorCode.WEBHOOK_NOT_ALLOWED


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (blocking: call it off the event loop)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(ip: Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Raise WebhookNotAllowed unless `url` is http(s) and (unless allowed) resolves publicly."""
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookNotAllowed(f"A webhook is an http(s) URL of at most {MAX_URL_LENGTH} chars.")
    if parts.username or parts.password:
        raise WebhookNotAllowed("A webhook URL carries no user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise WebhookNotAllowed(f"The webhook URL's port is not valid: {exc}") from exc
    if allow_private:
        return
    try:
        addresses = resolver(parts.hostname, port)
    except OSError as exc:
        raise WebhookNotAllowed(f"The webhook host {parts.hostname!r} does not resolve.") from exc
    refused = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
    if refused or not addresses:
        raise WebhookNotAllowed(
            f"The webhook host {parts.hostname!r} resolves to a private, loopback or link-local "
            f"address ({', '.join(refused) or 'none'}); kennel does not call those."
        )
