"""Where a webhook may point: strict URLs, public addresses only, unless the operator allows."""

from __future__ import annotations

import re

import pytest
from structlog.testing import capture_logs

from consumers.alerts.webhook_targets import TargetPolicy, WebhookTargetError


def _resolving_to(*addresses: str) -> TargetPolicy:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return TargetPolicy(resolver=resolver)


@pytest.mark.parametrize(("url", "why"), [
    ("https://\x0bx", "U+000B"),
    ("https://example.org/a b", "U+0020"),
    ("https://exa\u00e9mple.org/", "U+00E9"),
    ("ftp://example.org/", "not 'ftp'"),
    ("javascript:alert(1)", "not 'javascript'"),
    ("https://user:pw@example.org/", "no user name or password"),
    ("https:///path", "names no host"),
    ("https://example.org:99999/", "malformed"),
    ("https://example.org/#frag", "no #fragment"),
    ("https://-bad-.org/", "not a valid host name"),
    ("https://" + "a" * 2000 + ".org/", "over 2000 characters"),
    ("http://127.0.0.1:9/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fd00:ec2::254]/", "private"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "not a public address"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[2002:7f00:1::1]/", "a 6to4 address carrying a loopback address"),
    ("http://[2002:a9fe:a9fe::1]/", "a 6to4 address carrying a link-local address"),
    ("http://[2002:a00:1::1]/", "a 6to4 address carrying a private address"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fefe]/",
     "a Teredo address carrying a loopback address"),  # client 127.0.1.1, obfuscated
    ("http://[2001:0:a9fe:a9fe::1]/", "a Teredo address carrying a link-local address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "a NAT64 address carrying a link-local address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata service"),
])
async def test_a_url_that_is_malformed_or_internal_is_refused_naming_why(url: str, why: str):
    with pytest.raises(WebhookTargetError, match=re.escape(why)):
        await _resolving_to("93.184.216.34").check(url)


async def test_a_name_resolving_to_an_internal_address_is_refused_without_naming_it():
    """Naming the address would let a caller look up the platform's internal names."""
    for inside in ("10.20.30.40", "127.0.0.1", "2002:a9fe:a9fe::1", "fd00:ec2::254"):
        with pytest.raises(WebhookTargetError) as refused:
            await _resolving_to("93.184.216.34", inside).check("https://evil.example/x")
        message = str(refused.value)
        assert message.startswith("evil.example resolves to a non-public address: ")
        assert inside not in message
        assert not any(word in message for word in ("loopback", "private", "link-local", "6to4"))
    with capture_logs() as logs, pytest.raises(WebhookTargetError):
        await _resolving_to("10.20.30.40").check("https://evil.example/x")
    assert [(e["event"], e["host"], e["address"]) for e in logs] == [
        ("webhook_target_refused", "evil.example", "10.20.30.40")]  # the operator's log has it
    with pytest.raises(WebhookTargetError, match="localhost resolves to a non-public address"
                       ) as by_system:
        await TargetPolicy().check("http://localhost:8080/hook")  # the system resolver
    assert "127.0.0.1" not in str(by_system.value)
    assert "::1" not in str(by_system.value)


async def test_a_public_6to4_address_passes():
    target = await _resolving_to().check("http://[2002:808:808::1]/in")  # carries 8.8.8.8
    assert (target.address, target.pinned) == ("2002:808:808::1", False)


async def test_a_public_target_is_pinned_to_the_address_that_was_checked():
    target = await _resolving_to("93.184.216.34").check("https://firm.example:8443/in?x=1")
    assert (target.host, target.port, target.address, target.pinned) == (
        "firm.example", 8443, "93.184.216.34", True)
    assert target.request_url() == "https://93.184.216.34:8443/in?x=1"
    v6 = await _resolving_to("2606:4700::1111").check("https://firm.example/in")
    assert v6.request_url() == "https://[2606:4700::1111]:443/in"


async def test_the_operator_may_allow_an_internal_host_by_name():
    allowed = TargetPolicy.allowing([" 127.0.0.1 ", "receiver.internal", ""])
    target = await allowed.check("http://127.0.0.1:9/hook")
    assert (target.pinned, target.request_url()) == (False, "http://127.0.0.1:9/hook")
    with pytest.raises(WebhookTargetError, match="loopback"):
        await allowed.check("http://127.0.0.2/hook")  # only what was named
    with pytest.raises(WebhookTargetError, match=re.escape("U+000B")):
        await allowed.check("http://127.0.0.1:9/\x0b")  # never a malformed URL
