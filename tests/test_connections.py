"""Every outgoing connection: the address policy (SSRF) and the total deadline in every phase
(issue 13 item 4, issue 19 items 2 and 3), through the real client over loopback sockets.

Names that must resolve to a chosen address (DNS rebinding, a public-looking name for an internal
address) go through a patched ``getaddrinfo``: nothing leaves the machine.
"""

from __future__ import annotations

import ipaddress
import socket
import time

import httpx
import pytest

from faultd import Dripper
from monitor import config
from monitor.connections import AddressPolicy, classify
from monitor.errors import AddressRefused, ConfigError, DeadlineExceeded, FetchError
from monitor.http import Client, HttpSettings, MemoryCache

CANARY = "/canary"


def settings(**overrides: object) -> HttpSettings:
    profile = {"connect_timeout": 1.0, "read_timeout": 2.0, "total_deadline": 1.5, "host_interval": 0.0,
               "robots": False, "retries": 1, **overrides}
    return config.load(overrides={"http": profile}).http


def client(*, allow: tuple[str, ...] = (), allowed_hosts: tuple[str, ...] = (), **overrides: object) -> Client:
    http = settings(**overrides)
    return Client(http, policy=http.address_policy(allow, source="test"), allowed_hosts=allowed_hosts,
                  sleep=lambda s: None)


@pytest.fixture
def names(monkeypatch):
    """``names["feeds.example.test"] = "127.0.0.1"``: a resolver that answers for made-up names
    and knows no other name, so no test sends a DNS query."""
    table: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        host.encode("idna")  # as socket.getaddrinfo does first: a label over 63 characters fails here
        if host in table:
            family = socket.AF_INET6 if ":" in table[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (table[host], port))]
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, port, *args, **kwargs)  # an address: no lookup leaves the machine

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


# --- what is public ---------------------------------------------------------------------------


@pytest.mark.parametrize("address, why", [
    ("93.184.215.14", None), ("145.97.39.155", None), ("2a00:1450:400e:80f::200e", None),
    ("127.0.0.1", "loopback"), ("127.3.4.5", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"),
    ("192.168.1.1", "private"), ("fd12:3456::1", "private"),
    ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"), ("169.254.1.1", "link-local"), ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("100.64.0.1", "shared (carrier-grade NAT)"), ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
    ("192.0.2.1", "reserved"), ("198.18.0.1", "reserved"), ("2001:db8::1", "reserved"),
    # IPv4 hidden in IPv6: mapped, NAT64, 6to4, IPv4-compatible
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "cloud metadata"), ("::ffff:10.0.0.1", "private"),
    ("::ffff:93.184.215.14", None), ("64:ff9b::a00:1", "private"), ("64:ff9b::5db8:d70e", None),
    ("2002:a00:1::1", "private"), ("2002:7f00:1::1", "loopback"), ("::7f00:1", "reserved"),
])
def test_what_is_not_public(address, why):
    assert classify(ipaddress.ip_address(address)) == why


def test_the_policy_allows_what_it_names_and_never_metadata_wholesale():
    everything = AddressPolicy.build(True, setting="[http] allow_private")
    named = AddressPolicy.build(False, ["10.1.0.0/16", "169.254.169.254", "127.0.0.1"], setting="x")
    for address, by_all, by_named in [("10.1.2.3", True, True), ("10.2.0.1", True, False),
                                      ("127.0.0.1", True, True), ("::ffff:127.0.0.1", True, True),
                                      ("169.254.169.254", False, True), ("fd00:ec2::254", False, False),
                                      ("93.184.215.14", True, True)]:
        ip = ipaddress.ip_address(address)
        assert (everything.refusal(ip) is None, named.refusal(ip) is None) == (by_all, by_named), address
    with pytest.raises(ConfigError, match=r"\[sources.x\] allow_private_addresses: '10.0.0.0/33'"):
        settings().address_policy(["10.0.0.0/33"], source="x")


# --- refused before anything is sent ---------------------------------------------------------


def test_loopback_is_refused_by_default_and_nothing_reaches_it(faultd):
    with client() as http, pytest.raises(AddressRefused) as caught:
        http.get(faultd.url(CANARY))
    assert caught.value.code == "fetch.address_refused"
    assert "127.0.0.1 is a non-public address (loopback)" in str(caught.value) and "allow_private_addresses" in str(caught.value)
    assert faultd.log == []  # not even a TCP handshake reached a request
    with client(allow=("127.0.0.1",)) as http:
        assert http.get(faultd.url(CANARY)).content == b"canary"


@pytest.mark.parametrize("host", ["localhost", "169.254.169.254", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]",
                                  # the spellings of 127.0.0.1 that inet_aton accepts: checked once resolved
                                  "2130706433", "0x7f.0.0.1", "127.1", "017700000001", "[::ffff:7f00:1]"])
def test_internal_hosts_by_name_or_literal_are_refused(host):
    with client() as http, pytest.raises(AddressRefused):
        http.get(f"http://{host}:9/latest/meta-data/")


def test_a_public_name_that_resolves_to_an_internal_address_is_refused(faultd, names):
    """DNS rebinding: the check is on the address connected to, so it cannot be raced."""
    names["feeds.example.test"] = "127.0.0.1"
    url = f"http://feeds.example.test:{faultd.port}{CANARY}"
    with client() as http, pytest.raises(AddressRefused, match="feeds.example.test resolves to 127.0.0.1"):
        http.get(url)
    assert faultd.log == []
    # Allowed, the connection goes to the checked address with the name kept in the Host header.
    with client(allow=("127.0.0.0/8",)) as http:
        assert http.get(url).content == b"canary"
    assert faultd.log[-1].headers["host"] == f"feeds.example.test:{faultd.port}"


def test_a_redirect_to_an_internal_address_is_refused(faultd, faultd_factory):
    internal = faultd_factory(host="127.0.0.3")
    # The host allow-list lets the redirect through: it is the address that is refused.
    with client(allow=("127.0.0.1",), allowed_hosts=("127.0.0.1", "127.0.0.3")) as http, \
            pytest.raises(AddressRefused):
        http.get(faultd.url(f"/redirect/offhost?to={internal.url(CANARY)}"))
    assert internal.log == [] and faultd.hits("/redirect/offhost") == 1


def test_robots_txt_redirected_to_an_internal_address_is_neither_fetched_nor_stored(faultd, faultd_factory):
    internal = faultd_factory(host="127.0.0.3")
    internal.robots = b"User-agent: *\nDisallow:\n# secret internal text\n"
    faultd.route("/robots.txt", status=302, headers={"Location": internal.url("/robots.txt")})
    cache = MemoryCache()
    http = settings(robots=True)
    with Client(http, cache=cache, policy=http.address_policy(["127.0.0.1"], source="s"), sleep=lambda s: None) as c:
        with pytest.raises(AddressRefused):
            c.get(faultd.url(CANARY))
    assert internal.log == [] and cache.robots == {} and faultd.hits(CANARY) == 0


# --- the deadline in every phase ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/drip-status?interval=1", "/drip-headers?interval=0.2", "/drip?interval=0.2&bytes=100"])
def test_a_dripping_head_or_body_ends_at_the_total_deadline(faultd, path):
    """A status line dripped one byte a second ends the fetch at the total deadline (+1 s): the
    read timeout (2 s) never fires, since a byte comes every second."""
    deadline = 1.5
    with client(allow=("127.0.0.1",), total_deadline=deadline) as http:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as caught:
            http.get(faultd.url(path))
        took = time.monotonic() - started
    assert caught.value.code == "fetch.deadline"
    assert deadline - 0.05 <= took < deadline + 1.0


@pytest.mark.slow
def test_a_dripped_tls_handshake_ends_at_the_total_deadline():
    with Dripper(b"\x02", prefix=b"\x16\x03\x03\x40\x00", interval=0.1) as tls:
        with client(allow=("127.0.0.1",), total_deadline=1.0, connect_timeout=5.0) as http:
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):
                http.get(f"https://127.0.0.1:{tls.port}/")
            assert time.monotonic() - started < 2.0


@pytest.mark.slow
def test_a_name_that_never_resolves_ends_at_the_total_deadline(monkeypatch):
    def stuck(*args, **kwargs):
        time.sleep(3)
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    with client(total_deadline=1.0, connect_timeout=5.0) as http:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            http.get("http://slow-dns.example.test/")
        assert time.monotonic() - started < 1.6


@pytest.mark.parametrize("host", ["does-not-exist.invalid", "a" * 64 + ".example.test"])
def test_an_unresolvable_name_is_a_connect_failure(names, host):
    with client() as http, pytest.raises(FetchError) as caught:
        http.get(f"http://{host}/")
    assert caught.value.code == "fetch.connect"


def test_the_network_backend_is_in_place():
    """GuardedTransport sets its backend on httpx's pool: a new httpx that moves the pool must
    fail here, not silently connect without the policy."""
    with client() as http:
        pool = http._http._transport._pool  # type: ignore[attr-defined]
        assert type(pool._network_backend).__name__ == "GuardedBackend"
    assert isinstance(http._http._transport, httpx.HTTPTransport)
