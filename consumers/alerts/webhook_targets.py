"""Where a webhook may point: strictly parsed URLs to public addresses, checked again at delivery.

An organisation names the URL, the platform makes the request: without these checks any
participant could make the alert worker call the platform's own network (loopback, the cloud
metadata service, private ranges) or crash it with a URL no HTTP client accepts. A hostname is
resolved and every address it resolves to must be public; the request then goes to the address
that was checked (TLS still verifies the hostname), so DNS cannot change its answer in between.
The operator may allow named hosts (``EMINING_WEBHOOK_ALLOW_HOSTS``), e.g. a receiver on its
own network. An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4 ``2002::/16``, Teredo
``2001::/32``, NAT64 ``64:ff9b::/96``) is judged by the IPv4 address it carries too. A refusal
of a name never says which address it resolved to (that would let a caller look up the
platform's internal names); the server log does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import structlog

from schemas.errors import EminingError

log = structlog.get_logger("consumers.alerts.webhook_targets")

MAX_URL_LENGTH = 2000
_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data",
                             "metadata.azure.com"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ALLOWED_HINT = ("webhooks go to public addresses only (the operator may allow a host with "
                 "EMINING_WEBHOOK_ALLOW_HOSTS)")

Resolver = Callable[[str, int], Awaitable[list[str]]]


class WebhookTargetError(EminingError):
    """A webhook URL that may not be used; the message says why."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, off the event loop)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookTargetError(f"host {host!r} does not resolve ({exc})") from None
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address a request to it must use."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    """The checked IP address (the host itself when the operator allowed it by name)."""
    pinned: bool
    """True when the request goes to ``address`` instead of resolving ``host`` again."""

    def request_url(self) -> str:
        """The URL with its host replaced by the checked address (when pinned)."""
        if not self.pinned:
            return self.url
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if ":" in self.address else self.address
        rest = parts.path or "/"
        if parts.query:
            rest += "?" + parts.query
        return f"{self.scheme}://{host}:{self.port}{rest}"


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """What the operator allows beyond public addresses, and how names are resolved."""

    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=resolve)

    @classmethod
    def allowing(cls, hosts: Iterable[str], resolver: Resolver = resolve) -> TargetPolicy:
        return cls(frozenset(h.strip().lower().strip("[]") for h in hosts if h.strip()), resolver)

    async def check(self, url: str) -> Target:
        """The target ``url`` names, or ``WebhookTargetError`` saying why it may not be used."""
        scheme, host, port = parse(url)
        if host in self.allow_hosts:
            return Target(url, scheme, host, port, host, pinned=False)
        if host in _METADATA_HOSTS:
            raise WebhookTargetError(f"{host} is a cloud metadata service, not a receiver")
        literal = _ip(host)
        addresses = [host] if literal is not None else await self.resolver(host, port)
        if not addresses:
            raise WebhookTargetError(f"host {host!r} does not resolve")
        for address in addresses:
            refusal = _internal(address)
            if refusal is None:
                continue
            if literal is not None:  # the caller wrote the address: say what it is
                raise WebhookTargetError(f"{address}, {refusal}: {_ALLOWED_HINT}")
            log.warning("webhook_target_refused", host=host, address=address, reason=refusal)
            raise WebhookTargetError(f"{host} resolves to a non-public address: {_ALLOWED_HINT}")
        return Target(url, scheme, host, port, addresses[0], pinned=literal is None)


def parse(url: str) -> tuple[str, str, int]:
    """Scheme, lower-case host and port of a well-formed http(s) URL; else why not."""
    if not isinstance(url, str) or not url:
        raise WebhookTargetError("the webhook URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookTargetError(f"the webhook URL is over {MAX_URL_LENGTH} characters")
    bad = next((c for c in url if ord(c) <= 0x20 or ord(c) == 0x7F or ord(c) > 0x7E), None)  # noqa: PLR2004 - ASCII control, space, DEL, non-ASCII
    if bad is not None:
        raise WebhookTargetError(f"the webhook URL contains {bad!r} (U+{ord(bad):04X}): give it "
                                 "percent-encoded, without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookTargetError(f"the webhook URL is malformed: {exc}") from None
    if parts.scheme not in {"https", "http"}:
        raise WebhookTargetError(f"a webhook URL is https:// (or http://), not {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise WebhookTargetError("a webhook URL carries no user name or password: the "
                                 "signature authenticates the platform to you")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookTargetError("the webhook URL names no host")
    if parts.fragment:
        raise WebhookTargetError("a webhook URL has no #fragment")
    if _ip(host) is None and not _hostname_ok(host):
        raise WebhookTargetError(f"{host!r} is not a valid host name")
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, host, port if port is not None else default


def _hostname_ok(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(  # noqa: PLR2004 - DNS limits
        0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"  # noqa: PLR2004
        and all(c.isalnum() or c == "-" for c in label) for label in labels)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _internal(address: str) -> str | None:
    """Why ``address`` is not a public address (None when it is)."""
    ip = _ip(address.split("%", 1)[0])
    if ip is None:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            for kind, inner in _carried(ip):
                why = _not_public(inner)
                if why is not None:
                    return f"a {kind} address carrying {why}"
    return _not_public(ip)


def _carried(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses a transition address carries (a router may take it there)."""
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        found += [("Teredo", ip.teredo[0]), ("Teredo", ip.teredo[1])]
    if ip in _NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    return found


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for test, why in ((ip.is_loopback, "a loopback address"),
                      (ip.is_link_local, "a link-local address (cloud metadata lives there)"),
                      (ip.is_multicast, "a multicast address"),
                      (ip.is_unspecified, "the unspecified address"),
                      (ip.is_private, "a private address"),
                      (ip.is_reserved, "a reserved address")):
        if test:
            return why
    return None if ip.is_global else "not a public address"
