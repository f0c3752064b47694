"""Outgoing connections: which addresses they may reach, and how long they may take.

Every connection mkb-monitor opens goes through here: sources, their redirects, robots.txt,
articles and attachments (``monitor.http``, as an httpcore network backend), webhooks (the same
backend) and SMTP (``monitor.notify``, as a socket).

**The address policy** (SSRF). A host name is resolved once; every address it resolves to is
checked; the socket is connected to a checked address and to nothing else. So a name cannot
resolve to a public address for the check and to an internal one for the connection (DNS
rebinding), and a redirect, being a new connection, is checked again. The name stays what the
request says: the Host header, TLS SNI and certificate verification use the name, never the
address. Loopback, private (RFC 1918, ULA), link-local, cloud metadata, unspecified, multicast,
shared (CGNAT) and reserved addresses, and IPv4 addresses hidden in IPv6 forms (IPv4-mapped,
NAT64, 6to4), are refused unless the configuration allows them. Metadata addresses are refused
even then, unless named explicitly: an intranet allowance must never hand out cloud credentials.

**The deadline.** httpx and smtplib bound each socket operation, never a whole exchange: a server
that drips its status line, its headers or its ``220-`` greeting lines a byte at a time keeps the
exchange alive for ever. A :class:`Deadline` bounds every phase instead: each blocking call
(resolving, connecting, the TLS handshake, every send and every receive) gets the smaller of its
own timeout and the time left, and none at all once the deadline has passed.

Why per-call limits and not a watchdog thread that closes the socket at the deadline: a close from
another thread races with the connection pool (a closed socket can be handed back to the pool, or
its file descriptor reused by a new connection before the blocked call returns), and the blocked
call then fails as a broken read rather than as a timeout. Limiting each call needs no thread,
reports the deadline as what it is, and leaves the pool consistent. Only name resolution, which
``getaddrinfo`` cannot time out, runs in a (daemon) thread that is abandoned at the deadline.
CPython's TLS handshake already treats the socket timeout as a total for the whole handshake, so a
dripped handshake is bounded by the time left as well.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore

from monitor.errors import AddressRefused, ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254), AWS over IPv6,
# Alibaba Cloud. Refused even when private addresses are allowed wholesale.
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))
PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), if any."""
    if address.version == 4:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def classify(address: IPAddress) -> str | None:
    """Why an address is not on the public internet (a word for messages), or None."""
    address = embedded_ipv4(address) or address
    if address in METADATA:
        return "cloud metadata"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in PRIVATE if network.version == address.version):
        return "private"
    if address.version == 4 and address in SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_reserved or not address.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which non-public addresses connections may reach: ``allow_all`` of them (but metadata),
    or those in ``networks``. ``setting`` names the configuration key that allows more."""

    allow_all: bool = False
    networks: tuple[IPNetwork, ...] = ()
    setting: str = "[http] allow_private"

    @classmethod
    def build(cls, allow_all: bool = False, networks: Iterable[str] = (), *, setting: str) -> AddressPolicy:
        parsed = []
        for entry in networks:
            try:
                parsed.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ConfigError(f"{setting}: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return cls(allow_all=bool(allow_all), networks=tuple(parsed), setting=setting)

    def refusal(self, address: IPAddress) -> str | None:
        """Why a connection to ``address`` is refused, or None when it is allowed."""
        why = classify(address)
        if why is None:
            return None
        plain = embedded_ipv4(address) or address
        if any(a in n for n in self.networks for a in {address, plain} if a.version == n.version):
            return None
        if self.allow_all and why != "cloud metadata":
            return None
        return why

    def check_host(self, host: str) -> None:
        """Refuse a host that is a literal address (or ``localhost``) the policy does not allow,
        without resolving anything: the cheap check when a URL is saved."""
        name = host.strip("[]").lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
            candidates = [ipaddress.ip_address("127.0.0.1")]
        else:
            try:
                candidates = [ipaddress.ip_address(name.split("%")[0])]
            except ValueError:
                return
        for address in candidates:
            why = self.refusal(address)
            if why is not None:
                raise AddressRefused(self._message(host, address, why), host=host, address=str(address))

    def _message(self, host: str, address: IPAddress, why: str) -> str:
        named = host if host.strip("[]") == str(address) else f"{host} resolves to {address}, which"
        return f"{named} is a non-public address ({why}): refused (allow it with {self.setting})"


# --- the deadline ---------------------------------------------------------------------------------


class Deadline:
    """A point in (real, monotonic) time after which no blocking call may go on."""

    GRACE = 0.01  # a timeout that fired this close to the deadline was the deadline's

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        return self.left() <= self.GRACE

    def limit(self, timeout: float | None) -> float:
        """``timeout`` shortened to the time left; ``socket.timeout`` once none is left."""
        left = self.left()
        if left <= 0:
            raise TimeoutError(f"the deadline of {self.seconds:g} s has passed")
        return left if timeout is None else min(timeout, left)


_current: ContextVar[Deadline | None] = ContextVar("mkb_monitor_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Bound every connection operation of this thread inside the block by ``seconds`` in all."""
    bound = Deadline(seconds)
    token = _current.set(bound)
    try:
        yield bound
    finally:
        _current.reset(token)


def current() -> Deadline | None:
    """The deadline of the innermost ``deadline()`` block of this thread, if any."""
    return _current.get()


def _limit(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    bound = _current.get()
    if bound is None:
        return timeout
    try:
        return bound.limit(timeout)
    except TimeoutError as exc:
        raise timeout_error(str(exc)) from None


# --- resolving and checking -----------------------------------------------------------------------


def resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for a TCP connection, given up after ``timeout`` seconds (the lookup itself
    cannot be interrupted: its daemon thread is left to finish on its own)."""
    try:
        literal = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    else:
        family = socket.AF_INET if literal.version == 4 else socket.AF_INET6
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    answer: list[Any] = []

    def lookup() -> None:
        try:
            answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:  # UnicodeError: a label the idna codec refuses
            answer.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:
        raise TimeoutError(f"resolving {host} took longer than {timeout:g} s")
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


def allowed_addresses(host: str, port: int, policy: AddressPolicy, timeout: float | None) -> list[tuple[Any, ...]]:
    """The resolved addresses of ``host`` that the policy allows, in resolver order; refuses the
    host (``AddressRefused``) when there is none."""
    infos = resolve(host, port, timeout)
    allowed, refused = [], []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        why = policy.refusal(address)
        if why is None:
            allowed.append(info)
        else:
            refused.append((address, why))
    if not allowed:
        address, why = refused[0]
        raise AddressRefused(policy._message(host, address, why), host=host, address=str(address))
    return allowed


# --- HTTP: an httpcore network backend -------------------------------------------------------------


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's own sync backend, connecting only to addresses the policy allows, and
    returning streams bounded by the current :func:`deadline`."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            infos = allowed_addresses(host, port, self.policy, _limit(timeout, httpcore.ConnectTimeout))
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        failure: Exception | None = None
        for info in infos:
            try:
                stream = self._inner.connect_tcp(str(info[4][0]), port, _limit(timeout, httpcore.ConnectTimeout),
                                                 local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc  # the next address, as socket.create_connection would
                continue
            return BoundedStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("connections to Unix sockets are not made by mkb-monitor")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class BoundedStream(httpcore.NetworkStream):
    """A connected stream whose every read, write and handshake ends by the current deadline."""

    WRITE_STEP = 16 * 1024

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _limit(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # httpcore gives each send() the whole timeout, so a receiver that reads a byte at a
        # time could stretch one write without end: each step gets the time left instead.
        view = memoryview(buffer)
        while view:
            step = view[: self.WRITE_STEP]
            self._inner.write(bytes(step), _limit(timeout, httpcore.WriteTimeout))
            view = view[len(step):]

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return BoundedStream(self._inner.start_tls(ssl_context, server_hostname,
                                                   _limit(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


# --- SMTP: a socket --------------------------------------------------------------------------------


class BoundedSocket(socket.socket):
    """A socket whose every blocking call ends within its own timeout and by ``deadline``.

    smtplib reads replies through ``makefile()``, which calls ``recv_into`` on this object, so the
    limit holds for every line of a reply, however many continuation lines a server sends.
    """

    deadline: Deadline
    timeout_each: float

    def _arm(self) -> None:
        self.settimeout(self.deadline.limit(self.timeout_each))

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return super().recv(*args)

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return super().recv_into(*args)

    def send(self, *args: Any) -> int:
        self._arm()
        return super().send(*args)

    def sendall(self, *args: Any) -> None:
        self._arm()  # sendall's timeout is a total for the whole buffer (Python 3.5+)
        super().sendall(*args)


def connect_socket(host: str, port: int, policy: AddressPolicy, bound: Deadline, timeout: float) -> BoundedSocket:
    """A TCP socket to an allowed address of ``host``, every call bounded by ``timeout`` and ``bound``."""
    failure: OSError | None = None
    for family, kind, proto, _, sockaddr in allowed_addresses(host, port, policy, bound.limit(timeout)):
        sock = BoundedSocket(family, kind, proto)
        sock.deadline, sock.timeout_each = bound, timeout
        try:
            sock.settimeout(bound.limit(timeout))
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    assert failure is not None
    raise failure
