"""Server-side request forgery guard for user-supplied server addresses (CalDAV servers, Exchange
Servers' EWS), per OWASP's SSRF prevention:
only http(s), and no loopback, private, link-local, multicast, reserved or unspecified address —
checked on every address the name resolves to — unless allow-listed in configuration (the local
stack allow-lists its own servers; a deployment serving an Exchange Server on its own network
allow-lists that network)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from calsync_platform.allow_list import allow_listed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenAddress(ValueError):
    """The URL may not be used; the message says why in words a user understands."""


async def check_url(url: str, allow: Sequence[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ForbiddenAddress("the address must start with http:// or https:// and name a host")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if allow_listed(host, port, allow):
        return
    for address in await _resolve(host, port):
        if _forbidden(address) and not allow_listed(str(address), port, allow):
            raise ForbiddenAddress(
                f"{host} points to an internal address ({address}), which is not allowed"
            )


def _forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise ForbiddenAddress(f"{host} cannot be resolved") from error
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _literal(host: str) -> IPAddress | None:
    """The host written as an address (no lookup needed), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
