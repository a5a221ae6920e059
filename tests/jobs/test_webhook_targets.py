"""Webhook URLs: http(s) to public addresses only, unless KENNEL_WEBHOOK_ALLOW_PRIVATE."""

from __future__ import annotations

import pytest

from jobs.contract import ErrorCode
from jobs.webhooks.targets import WebhookNotAllowed, check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",  # resolved for real: loopback
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata: link-local
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    ],
)
def test_private_loopback_and_link_local_are_refused(url: str) -> None:
    with pytest.raises(WebhookNotAllowed) as refused:
        check_url(url, allow_private=False)
    assert refused.value.code == ErrorCode.WEBHOOK_NOT_ALLOWED
    check_url(url, allow_private=True)  # tests' loopback receivers need this


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http:///nohost",
        "http://user:pw@93.184.215.14/",
        "http://93.184.215.14:99999/",
        "http://93.184.215.14/" + "a" * 2100,
    ],
)
def test_malformed_urls_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(WebhookNotAllowed):
        check_url(url, allow_private=True)


def test_public_addresses_pass() -> None:
    check_url("https://93.184.215.14/hook", allow_private=False)
    check_url("http://[2001:4860:4860::8888]:8443/x", allow_private=False)


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    answers = {"hooks.example.com": ["93.184.215.14"], "mixed.example.com": ["8.8.8.8", "10.0.0.5"]}

    def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    check_url("https://hooks.example.com/k", allow_private=False, resolver=resolver)
    with pytest.raises(WebhookNotAllowed, match=r"10\.0\.0\.5"):
        check_url("https://mixed.example.com/k", allow_private=False, resolver=resolver)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(WebhookNotAllowed, match="does not resolve"):
        check_url("http://no-such-host.invalid/hook", allow_private=False)
