"""check_url: only public addresses unless allow-listed, however the address is spelled."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnow.errors import BlockedSourceError, FetchError
from winnow.imageio import check_url

BLOCKED = [
    "http://10.0.0.1/a.jpg",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.20:8080/img.png",
    "http://127.0.0.1/",
    "http://127.8.9.10/",
    "http://[::1]/",
    "https://[::1]:8443/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.251/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://2130706433/",  # 127.0.0.1 in decimal
    "http://0177.0.0.1/",  # octal
    "http://0x7f.0.0.1/",  # hex
    "http://0xa9fea9fe/",  # 169.254.169.254 in hex
    "http://127.1/",  # short form
    "http://localhost:8080/",  # resolved from /etc/hosts, no DNS needed
]

PUBLIC = [
    "http://8.8.8.8/a.jpg",
    "https://1.1.1.1/",
    "http://[2606:4700:4700::1111]/img.png",
    "http://172.32.0.1/",  # just past 172.16/12
    "http://100.128.0.1/",  # just past 100.64/10
    "http://[::ffff:8.8.8.8]/",
    "HTTPS://8.8.4.4:8443/x?y=1#z",
]

MALFORMED = [
    "ftp://8.8.8.8/a.jpg",
    "file:///etc/passwd",
    "gopher://8.8.8.8/",
    "javascript:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
    "//8.8.8.8/a.jpg",
    "http:///a.jpg",
    "http://user:secret@8.8.8.8/a.jpg",
    "http://user@8.8.8.8/a.jpg",
    "http://8.8.8.8@10.0.0.1/",
    "http://8.8.8.8:99999/",
    "http://[::1/",
]


@pytest.mark.parametrize("url", BLOCKED)
def test_non_public_addresses_are_blocked(url):
    with pytest.raises(BlockedSourceError) as info:
        check_url(url)
    assert info.value.source == url
    assert "address" in info.value.reason


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_pass(url):
    check_url(url)


@pytest.mark.parametrize("url", MALFORMED)
def test_other_schemes_credentials_and_malformed_urls_are_blocked(url):
    with pytest.raises(BlockedSourceError):
        check_url(url, allowed_hosts=["0.0.0.0/0", "::/0"])  # refused regardless of address


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/", ["127.0.0.1"]),
        ("http://10.1.2.3/", ["10.0.0.0/8"]),
        ("http://192.168.7.7/", ["192.168.7.0/24", "10.0.0.0/8"]),
        ("http://[::1]/", ["::1"]),
        ("http://[::1]/", ["[::1]"]),
        ("http://[fd00::5]/", ["fd00::/8"]),
        ("http://localhost/", ["localhost"]),
        ("http://LocalHost./", ["localhost"]),
        ("http://2130706433/", ["127.0.0.0/8"]),
    ],
)
def test_allow_list_admits_hosts_addresses_and_networks(url, allowed):
    check_url(url, allowed_hosts=allowed)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.2/", ["127.0.0.1"]),
        ("http://192.168.1.1/", ["10.0.0.0/8"]),
        ("http://169.254.169.254/", ["127.0.0.1", "localhost"]),
        ("http://[::1]/", ["127.0.0.1"]),
    ],
)
def test_allow_list_admits_nothing_else(url, allowed):
    with pytest.raises(BlockedSourceError):
        check_url(url, allowed_hosts=allowed)


_BLOCKED_NETWORKS = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "224.0.0.0/4",
    "fc00::/7",
    "fe80::/10",
]


def _address_in(network: str, offset: int) -> str:
    net = ipaddress.ip_network(network)
    return str(net[offset % net.num_addresses])


def _url(address: str) -> str:
    return f"http://[{address}]/x.jpg" if ":" in address else f"http://{address}/x.jpg"


@given(st.sampled_from(_BLOCKED_NETWORKS), st.integers(min_value=0, max_value=2**128))
def test_every_address_of_a_blocked_network_is_blocked_unless_allowed(network, offset):
    url = _url(_address_in(network, offset))

    with pytest.raises(BlockedSourceError):
        check_url(url)
    check_url(url, allowed_hosts=[network])


@given(st.sampled_from(["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16"]), st.integers(0, 2**24))
def test_ipv4_mapped_ipv6_spelling_does_not_bypass_the_guard(network, offset):
    mapped = f"::ffff:{_address_in(network, offset)}"
    with pytest.raises(BlockedSourceError):
        check_url(_url(mapped))


@given(st.integers(min_value=0, max_value=2**24 - 1))
def test_addresses_in_a_public_block_pass(offset):
    check_url(_url(_address_in("8.0.0.0/8", offset)))


def _fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        if not answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_is_blocked_if_any_of_its_addresses_is_private(monkeypatch):
    _fake_dns(monkeypatch, {"mixed.example": ["8.8.8.8", "10.0.0.7"]})

    with pytest.raises(BlockedSourceError, match=r"10\.0\.0\.7"):
        check_url("https://mixed.example/cat.jpg")


def test_a_name_with_only_public_addresses_passes(monkeypatch):
    _fake_dns(monkeypatch, {"cdn.example": ["8.8.8.8", "2606:4700:4700::1111"]})

    check_url("https://cdn.example/cat.jpg")


def test_an_allow_listed_name_passes_whatever_it_resolves_to(monkeypatch):
    _fake_dns(monkeypatch, {"ls.internal": ["10.0.0.9"]})

    with pytest.raises(BlockedSourceError):
        check_url("http://ls.internal:8080/data/upload/1.jpg")
    check_url("http://ls.internal:8080/data/upload/1.jpg", allowed_hosts=["ls.internal"])


def test_unresolvable_host_is_a_fetch_error_not_a_policy_refusal(monkeypatch):
    _fake_dns(monkeypatch, {"nowhere.example": []})

    with pytest.raises(FetchError, match="cannot resolve") as info:
        check_url("https://nowhere.example/cat.jpg")
    assert not isinstance(info.value, BlockedSourceError)
