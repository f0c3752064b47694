"""robots.txt per RFC 9309: which group applies to us, and what it allows.

Scrapy's ``protego`` does the path half of the protocol: percent-encoding normalised on both
sides (2.2.2), the ``*`` and ``$`` special characters (2.2.3), the most specific (longest) match,
and ``allow`` winning a tie with an equal ``disallow``. Its record half deviates from the RFC in
ways that matter to a polite crawler, each shown by ``tests/test_robots.py``:

* a group applies to every user agent whose name *starts with* the group's: a group for ``mkb``
  applies to ``mkb-monitor`` (2.2.1 asks for the product token, matched exactly, case-insensitively);
* a line that is not ``user-agent``, ``allow`` or ``disallow`` (``crawl-delay``, an unknown one)
  ends the group, so a ``user-agent`` line after it starts a new group (2.2.4: other records
  MUST NOT interfere with the parsing of these three);
* a ``user-agent`` value with a version or a second word (``ExampleBot/1.0``, ``ExampleBot
  Images``) matches nothing.

Its path half deviates three times, each undone here (shown by ``tests/test_robots_google.py``):

* an ``allow`` for ``<dir>/index.html`` also allows ``<dir>/`` (a Google extension, not in the RFC:
  the site allowed one file, not the directory's default page under every other name);
* octets that are not UTF-8 (``%E9`` of a Latin-1 path, a Latin-1 byte in the file) all become
  U+FFFD, so ``Disallow: /caf%E9`` also matched ``/caf%E8`` and ``Allow: /a%E9`` allowed ``/a%E8``
  (2.2.2 compares octets). Such an octet is handed to protego as a private-use character of its
  own (``_keep_octets``), on both sides, so it matches only itself.
* a ``/`` in the query and its escape ``%2F`` differ, so ``Allow: /foo/bar?baz=https://foo.bar``
  missed ``/foo/bar?baz=https%3A%2F%2Ffoo.bar`` (as httpx encodes a parameter), which 2.2.2
  (Figure 4) names as its path to match. Each ``/`` after the first ``?`` is handed over as
  ``%2F`` (``_comparable``), on both sides; protego already treats the other reserved
  characters (``:``, ``?``, ``@``) and their escapes alike.

So the records are read here: lines, comments, groups, and the choice of groups (every group
naming our product token, merged; else every ``*`` group, merged; else none). The chosen rules
go to protego as one ``*`` group, and protego matches paths against them.

Fetching follows section 2.3.1 (``RobotsCache``): 2xx is the rules; 4xx (and too many redirects)
means no rules; 5xx or an unreachable server means no crawling for now, unless a good copy is
recent. Only the first ``max_bytes`` are parsed (2.5), up to the last whole line.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from protego import Protego

from monitor.errors import AddressRefused, Deferred, FetchError, NoRecording, RedirectLoop, RobotsDisallowed

# Field names as written in the wild, as Google's and protego's parsers accept them.
FIELDS = {
    "user-agent": "user-agent", "useragent": "user-agent", "user agent": "user-agent",
    "allow": "allow",
    "disallow": "disallow", "dissallow": "disallow", "dissalow": "disallow", "disalow": "disallow",
    "diasllow": "disallow", "disallaw": "disallow",
}
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
_BOM_PREFIXES = (b"\xef\xbb\xbf", b"\xef\xbb", b"\xef")  # a BOM, or what a cut left of one
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# A byte that is not UTF-8 (surrogateescape gives it as U+DC80..U+DCFF) stands for itself as one
# private-use character, U+F780..U+F7FF, which no real URL or robots.txt path uses.
_OCTETS = {0xDC80 + b: 0xF780 + b for b in range(0x80)}


def product_token(user_agent: str) -> str:
    """The product token of a User-Agent: its name before the ``/`` (RFC 9309 2.2.1)."""
    match = _PRODUCT_TOKEN.match(user_agent.strip())
    return match.group(0) if match else ""


def decode(body: bytes, max_bytes: int) -> str:
    """The text of a robots.txt: at most ``max_bytes``, cut at the last whole line (a rule cut in
    half could allow more than the site said), without a byte-order mark, UTF-8 (2.2)."""
    if len(body) > max_bytes:
        body = body[:max_bytes]
        last_break = max(body.rfind(b"\n"), body.rfind(b"\r"))
        body = body[: last_break + 1]
    for bom in _BOM_PREFIXES:
        if body.startswith(bom):
            body = body[len(bom):]
            break
    return body.decode("utf-8", errors="surrogateescape").translate(_OCTETS)


def _keep_octets(text: str) -> str:
    """``text`` with every escaped octet that is not part of UTF-8 turned into the escapes of its
    private-use character, every other escape left as it is (see the module docstring)."""
    if "%" not in text:
        return text

    def octets(run: re.Match[str]) -> str:
        raw = bytes.fromhex(run.group(0).replace("%", ""))
        kept = raw.decode("utf-8", errors="surrogateescape").translate(_OCTETS).encode("utf-8")
        return run.group(0) if kept == raw else "".join(f"%{byte:02X}" for byte in kept)

    return _ESCAPES.sub(octets, text)


def _comparable(text: str) -> str:
    """A rule's value or a URL, ready for protego (see the module docstring)."""
    head, question, query = text.partition("?")
    return _keep_octets(head + question + query.replace("/", "%2F"))


def _written_rules_only(matcher: Protego) -> Protego:
    """``matcher`` without the ``allow: <dir>/$`` rules protego adds for ``<dir>/index.html``.
    Those are the only patterns it builds outside its cache of the patterns written in the file.
    (Private attributes: ``test_why_protego_alone_is_not_enough`` fails when they change.)"""
    written = {id(pattern) for pattern in matcher._url_patterns.values()}
    for rule_set in matcher._user_agents.values():
        rule_set._rules = [rule for rule in rule_set._rules if id(rule.value) in written]
    return matcher


def _records(text: str) -> list[tuple[str, str]]:
    """(field, value) for every user-agent, allow and disallow line; everything else is dropped,
    so it cannot end a group."""
    records = []
    for line in _LINE_BREAK.split(text):
        line = line.split("#", 1)[0].strip()
        if ":" in line:
            name, value = line.split(":", 1)
        else:  # "disallow /": the colon forgotten, as Google accepts
            name, _, value = line.partition(" ")
        field = FIELDS.get(" ".join(name.lower().split()))
        if field is not None:
            records.append((field, value.strip()))
    return records


def _agent_matches(value: str, token: str) -> bool | None:
    """True when a user-agent value names our token, None when it is ``*``, else False."""
    if value == "*" or (value.startswith("*") and not _PRODUCT_TOKEN.match(value[1:])):
        return None
    return product_token(value).lower() == token.lower() != ""


class RobotsRules:
    """The rules of one robots.txt for one product token."""

    def __init__(self, text: str, token: str) -> None:
        mine: list[tuple[str, str]] = []
        anyone: list[tuple[str, str]] = []
        groups: list[tuple[list[bool | None], list[tuple[str, str]]]] = []
        for field, value in _records(text):
            if field == "user-agent":
                if not groups or groups[-1][1]:  # a user-agent line after rules starts a group
                    groups.append(([], []))
                groups[-1][0].append(_agent_matches(value, token))
            elif groups:  # rules before any user-agent line belong to no group
                groups[-1][1].append((field, value))
        for agents, rules in groups:
            if True in agents:
                mine += rules
            elif None in agents:
                anyone += rules
        self.group = "ours" if any(True in agents for agents, _ in groups) else "*" if anyone else None
        chosen = mine if self.group == "ours" else anyone
        # Empty values ("Disallow:") match nothing and are left out; protego gets one * group.
        lines = ["User-agent: *"] + [f"{field}: {_comparable(value)}" for field, value in chosen if value]
        self._matcher = _written_rules_only(Protego.parse("\n".join(lines)))

    def allows(self, url: str) -> bool:
        """Whether the rules allow ``url`` (absolute, percent-encoded as httpx gives it)."""
        return self._matcher.can_fetch(_comparable(url), "*")


def parse(body: bytes, user_agent: str, max_bytes: int) -> RobotsRules:
    return RobotsRules(decode(body, max_bytes), product_token(user_agent))


# --- fetching and caching (RFC 9309 2.3.1, 2.4) ---------------------------------------------------


class RobotsStore(Protocol):
    def get_robots(self, origin: str) -> tuple[bytes, float] | None: ...

    def put_robots(self, origin: str, body: bytes, fetched_at: float) -> None: ...


@dataclass(frozen=True)
class Fetched:
    status: int
    content: bytes


class RobotsCache:
    """The robots.txt of every origin a client visits, fetched once per client (one run).

    ``fetch`` gets ``origin + "/robots.txt"`` (following redirects, RFC 9309 2.3.1.2) and returns
    its final status and body, or raises a ``FetchError``. ``store`` keeps good copies for when the
    server is unreachable; ``now`` is wall-clock seconds for their age.
    """

    def __init__(self, user_agent: str, *, fetch: Callable[[str], Fetched], store: RobotsStore, ttl: float,
                 max_bytes: int, now: Callable[[], float]) -> None:
        self.user_agent = user_agent
        self._fetch, self._store, self._ttl, self._max_bytes, self._now = fetch, store, ttl, max_bytes, now
        self._rules: dict[str, RobotsRules | str] = {}  # origin -> rules, or why it is deferred
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def check(self, origin: str, url: str) -> None:
        """Raise ``RobotsDisallowed`` or ``Deferred`` unless ``url`` may be fetched now."""
        with self._lock:
            origin_lock = self._locks.setdefault(origin, threading.Lock())
        with origin_lock:  # one robots.txt fetch per origin, however many threads ask
            if origin not in self._rules:
                self._rules[origin] = self._load(origin)
            rules = self._rules[origin]
        if isinstance(rules, str):
            raise Deferred(rules, url=url, origin=origin)
        if not rules.allows(url):
            raise RobotsDisallowed(f"robots.txt of {origin} disallows {url}", url=url)

    def _load(self, origin: str) -> RobotsRules | str:
        try:
            reply = self._fetch(origin + "/robots.txt")
        except RedirectLoop:
            return self._parse(b"")  # more than five redirects: unavailable, so no rules (2.3.1.2)
        except (NoRecording, AddressRefused):
            # A replay without robots.txt is an incomplete recording, and an address the policy
            # refuses is refused for the pages as well: neither is an unreachable server.
            raise
        except FetchError as exc:
            return self._cached(origin, f"{exc.code}: {exc}")
        if 200 <= reply.status < 300:
            self._store.put_robots(origin, reply.content, self._now())
            return self._parse(reply.content)
        # 4xx: unavailable, no rules (2.3.1.3, a MAY); 429 asks us to slow down, so we wait instead.
        if 400 <= reply.status < 500 and reply.status != 429:
            return self._parse(b"")
        return self._cached(origin, f"status {reply.status}")

    def _cached(self, origin: str, why: str) -> RobotsRules | str:
        cached = self._store.get_robots(origin)
        if cached is not None and self._now() - cached[1] < self._ttl:
            return self._parse(cached[0])
        return f"robots.txt of {origin} is unavailable ({why}) and no recent copy is kept; deferred to the next run"

    def _parse(self, body: bytes) -> RobotsRules:
        return parse(body, self.user_agent, self._max_bytes)
