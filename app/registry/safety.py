"""Where the server may send requests for a registered endpoint (server-side request forgery).

An endpoint URL makes the server send prompts, and the stored API key, to that
address. By default only public addresses are allowed: loopback, private,
link-local, shared (CGNAT), unspecified, multicast and reserved addresses are
refused, so the registry cannot be turned against the server's own network. An
operator who runs a model server nearby (a local vLLM, a GPU box on the LAN)
allows it with a setting:

- ``RANKWISE_ALLOW_PRIVATE_ENDPOINTS=true``: any address;
- ``RANKWISE_ENDPOINT_ALLOW=127.0.0.1,10.1.0.0/16,gpu-1``: these hosts and networks.

The check runs when an endpoint is registered and again before every request, on
the address the connection will use: the host name is resolved once, every
address it resolves to must be allowed, and the request goes to that checked
address (the Host header and the TLS server name keep the name), so a DNS answer
that changes between the check and the connection (rebinding) cannot move it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from app.config import Settings

__all__ = ["EndpointPolicy", "PinnedTarget", "UnsafeEndpoint", "check_url", "pin"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
HOW_TO_ALLOW = (
    "the server refuses those unless its operator allows them "
    "(RANKWISE_ALLOW_PRIVATE_ENDPOINTS, or the host in RANKWISE_ENDPOINT_ALLOW)"
)


class UnsafeEndpoint(ValueError):
    """The URL is malformed or points at an address the policy refuses."""


@dataclass(frozen=True)
class EndpointPolicy:
    allow_private: bool = False
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def of(cls, settings: Settings) -> EndpointPolicy:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in settings.endpoint_allow.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower())
        return cls(settings.allow_private_endpoints, frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        if self.allow_private or host.lower() in self.hosts:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return True
        return address.is_global and not address.is_multicast


def check_url(url: str) -> SplitResult:
    """The parts of an endpoint URL, which must be plain http(s) to a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeEndpoint(f"the URL cannot be read ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeEndpoint("the URL must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeEndpoint("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeEndpoint("put the API key in its own field, not in the URL")
    if port == 0:
        raise UnsafeEndpoint("the URL's port must be between 1 and 65535")
    return parts


def _default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _checked(host: str, addresses: Sequence[IPAddress], policy: EndpointPolicy) -> IPAddress:
    if not addresses:
        raise UnsafeEndpoint(f"the host {host} does not resolve to an address")
    for address in addresses:
        if not policy.allows(host, address):
            raise UnsafeEndpoint(
                f"the host {host} is a loopback, private, link-local or otherwise internal "
                f"address; {HOW_TO_ALLOW}"
            )
    return addresses[0]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _addresses(infos: Sequence[tuple[object, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def check_address(url: str, policy: EndpointPolicy) -> IPAddress:
    """Resolve the URL's host (blocking) and check every address; for registration."""
    parts = check_url(url)
    host = parts.hostname or ""
    literal = _literal(host)
    if literal is not None:
        return _checked(host, [literal], policy)
    try:
        infos = socket.getaddrinfo(host, _default_port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeEndpoint(f"the host {host} cannot be resolved") from None
    return _checked(host, _addresses(infos), policy)


@dataclass(frozen=True)
class PinnedTarget:
    """The URL to request (its host replaced by the checked address) and what keeps the name."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


async def pin(url: str, policy: EndpointPolicy) -> PinnedTarget:
    """Resolve and check at call time, and aim the request at the checked address."""
    parts = check_url(url)
    host = parts.hostname or ""
    address = _literal(host)
    if address is None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, _default_port(parts), type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError):
            raise UnsafeEndpoint(f"the host {host} cannot be resolved") from None
        address = _checked(host, _addresses(infos), policy)
    else:
        _checked(host, [address], policy)
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    pinned = parts._replace(netloc=netloc).geturl()
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return PinnedTarget(pinned, {"Host": parts.netloc}, extensions)
