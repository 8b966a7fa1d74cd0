"""Source policy: which URLs may be fetched and which local paths may be read.

Image sources come from data (task JSON, URL lists), so a hostile entry must not make Winnow
fetch cloud metadata (169.254.169.254), probe the internal network, or read files outside the
configured roots (:mod:`winnow.imageio.localfiles`). A URL is allowed only when every address
its host resolves to is globally routable, unless the operator allow-listed the host, address
or network.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from winnow.errors import BlockedSourceError, FetchError
from winnow.imageio.localfiles import confine

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def check_url(url: str, *, allowed_hosts: Sequence[str] = ()) -> None:
    """Raise :class:`BlockedSourceError` unless ``url`` may be fetched.

    Raises plain :class:`FetchError` when the host does not resolve at all.
    """
    resolve_checked(url, allowed_hosts=allowed_hosts)


def resolve_checked(url: str, *, allowed_hosts: Sequence[str] = ()) -> list[IPAddress]:
    """Check ``url`` like :func:`check_url` and return the vetted addresses of its host.

    Fetchers connect to these exact addresses, so a DNS answer that changes between the check
    and the connection (DNS rebinding) cannot reach an address that was never checked.
    """
    parts = _split(url)
    host = (parts.hostname or "").rstrip(".")
    names, networks = _parse_allowed(allowed_hosts)
    addresses = _resolve(url, host, parts.port or _DEFAULT_PORTS[parts.scheme.lower()])
    if host in names:
        return addresses
    for address in addresses:
        if any(address in net for net in networks):
            continue
        reason = why_not_global(address)
        if reason is not None:
            raise BlockedSourceError(url, f"host {host!r} resolves to {address}, {reason}")
    return addresses


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise BlockedSourceError(url, f"malformed URL: {exc}") from exc
    if parts.scheme.lower() not in _SCHEMES:
        raise BlockedSourceError(url, f"unsupported scheme {parts.scheme!r} (http/https only)")
    if "@" in parts.netloc:
        raise BlockedSourceError(url, "credentials (user:password@) in the URL are refused")
    if not parts.hostname:
        raise BlockedSourceError(url, "URL has no host")
    return parts


def why_not_global(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = why_not_global(embedded)
            return f"which embeds {embedded}, {inner}" if inner else None
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if address in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a globally routable address"
    return None


def _parse_allowed(allowed_hosts: Sequence[str]) -> tuple[set[str], list[IPNetwork]]:
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in allowed_hosts:
        text = entry.strip().strip("[]").lower()
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            names.add(text.rstrip("."))
    return names, networks


def _resolve(url: str, host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name, or an odd IPv4 spelling (decimal, octal, hex) that the resolver parses
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise FetchError(url, f"cannot resolve host {host!r}: {exc}") from exc
    addresses: list[IPAddress] = []
    for family, *_, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise FetchError(url, f"host {host!r} has no IPv4/IPv6 address")
    return addresses


def safe_local_path(path: str | Path, *, roots: Sequence[Path]) -> Path:
    """Resolve symlinks and ``..``; refuse anything outside ``roots`` (and, with no roots,
    everything). The same check as every reader's: :func:`winnow.imageio.localfiles.confine`."""
    return confine(Path(os.fspath(path)), roots, source=str(path))
