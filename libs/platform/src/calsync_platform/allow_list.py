"""The deployment's allow-list of internal servers (``SSRF_ALLOW``), read one way everywhere:
an entry is a host name, ``host:port``, an address, ``address:port`` or a network (CIDR). The
sync services' SSRF guard lets such servers be reached; crm-api takes plain http for an
Exchange Server only on them (a development stand-in)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


def allow_listed(host: str, port: int, allow: Sequence[str]) -> bool:
    """``host`` (a name or an address) at ``port`` is on the list."""
    if host in allow or f"{host}:{port}" in allow:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for entry in allow:
        if entry in (str(address), f"{address}:{port}"):
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
