"""Delivery: the outbox loop and its channels (console, e-mail over SMTP, webhook, Atom feed).

:func:`deliver` sends what the private outbox holds and is due, after the commit that put it
there (RELIABILITY I3). Each delivery stands alone: one failing channel or recipient never
holds up another (D7b). A failure is recorded on its row with the next attempt time from the
channel's schedule, and a delivery that runs out of schedule is ``failed``, visible, and can be
replayed by hand (D1, D6). The clock is injected, so the schedule is tested without sleeping.

Every connection goes through ``monitor.connections``: to an address the policy allows (checked
when the message is sent, on the address connected to, so a webhook's name cannot be rebound to an
internal address after it was saved), within a deadline that holds in every phase (an SMTP server
dripping ``220-`` greeting lines, a receiver dripping its headers). A host that fails to answer
``delivery_breaker_failures`` times in a row is left alone for the rest of the pass, and a pass
ends after ``delivery_pass_limit`` seconds, so no receiver can hold the run (and its lock) for
long: what was not tried waits, due, for the next pass, and is counted as ``deferred``.

Nothing can be delivered strictly exactly once. What is promised (I4, I5): nothing is lost, and
a second delivery happens only when the channel accepted a message but the process died (or
the SMTP server hung up after the message's final dot) before the outbox recorded it. Then it
carries the same idempotency key as the first, and it is counted:

    webhook   ``webhook-id: alert-{id}``      (Standard Webhooks: the receiver deduplicates)
    e-mail    ``Message-ID: <alert-{id}@mkb-monitor>``
    Atom      ``<id>tag:mkb-monitor,2026:alert-{id}</id>``
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import html
import json
import logging
import os
import smtplib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from feedgen.feed import FeedGenerator
from standardwebhooks.webhooks import Webhook

from monitor import connections
from monitor.config import Config
from monitor.connections import AddressPolicy
from monitor.crashpoints import crashpoint
from monitor.errors import AddressRefused, DeliveryError, DeliveryPermanent, DeliveryTemporary, redact
from monitor.http import guarded_client, retry_after
from monitor.search import Hit
from monitor.settings import AlertsSettings
from monitor.store.private import PrivateStore, stamp
from monitor.text import xml_safe

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
TAG = "tag:mkb-monitor,2026"
MESSAGE_DOMAIN = "mkb-monitor"
_CONTROL = str.maketrans({c: " " for c in range(32) if chr(c) not in "\t\n\r"} | {0x7F: " "})


# --- the message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One document in a message, as it was when it matched."""

    hit: Hit
    reason: str  # new | edited | upgraded | backfill
    figures: list[dict[str, Any]]
    organisations: list[str]


@dataclass(frozen=True)
class Message:
    """One alert, ready for any channel: a single match or a digest of several."""

    alert_id: int
    search_id: int
    search_name: str
    kind: str  # single | flood | hourly | daily
    created: str
    matches: list[Match]

    @classmethod
    def load(cls, private: PrivateStore, alert_id: int) -> Message:
        a = private.alert(alert_id)
        matches = [Match(Hit(id=h["document_id"], title=h["title"], kind=h["kind"], url=h["url"],
                             published=h["published"], sources=h["sources"], snippet=h["snippet"], rank=None),
                         reason=h["reason"], figures=h["facts"].get("figures", []),
                         organisations=h["facts"].get("organisations", [])) for h in a["hits"]]
        return cls(alert_id=alert_id, search_id=a["search_id"], search_name=a["search_name"], kind=a["kind"],
                   created=a["created"], matches=matches)

    @property
    def key(self) -> str:
        """The idempotency key, the same on every attempt and every channel."""
        return f"alert-{self.alert_id}"

    @property
    def message_id(self) -> str:
        return f"<{self.key}@{MESSAGE_DOMAIN}>"

    @property
    def atom_id(self) -> str:
        return f"{TAG}:{self.key}"

    @property
    def title(self) -> str:
        if self.kind == "single" and self.matches:
            return f"{self.search_name}: {_line(self.matches[0].hit.title)}"
        return f"{self.search_name}: {len(self.matches)} documents"

    def text(self) -> str:
        lines = [self.title, ""]
        for m in self.matches:
            h = m.hit
            lines += [_line(h.title), f"  {', '.join(h.sources) or '-'} · {(h.published or 'no date')[:10]}"
                      f" · {h.kind} · {m.reason}"]
            if h.url:
                lines.append(f"  {h.url}")
            if h.snippet:
                lines.append("  " + _line(h.snippet_plain("»", "«")))
            if m.figures:
                lines.append("  figures: " + "; ".join(_figure(f) for f in m.figures[:10]))
            if m.organisations:
                lines.append("  organisations: " + ", ".join(m.organisations[:15]))
            lines.append("")
        return "\n".join(lines).translate(_CONTROL)

    def html(self) -> str:
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        for m in self.matches:
            h = m.hit
            title = html.escape(_line(h.title))
            link = f'<a href="{html.escape(h.url, quote=True)}">{title}</a>' if h.url else title
            parts.append(f"<h2>{link}</h2><p><small>{html.escape(', '.join(h.sources) or '-')} · "
                         f"{html.escape((h.published or 'no date')[:10])} · {html.escape(h.kind or '')} · "
                         f"{html.escape(m.reason)}</small></p>")
            if h.snippet:
                parts.append(f"<blockquote>{h.snippet_html()}</blockquote>")
            if m.figures:
                items = "".join(f"<li>{html.escape(_figure(f))}</li>" for f in m.figures[:10])
                parts.append(f"<p>Figures:</p><ul>{items}</ul>")
            if m.organisations:
                parts.append(f"<p>Organisations: {html.escape(', '.join(m.organisations[:15]))}</p>")
        return "\n".join(parts).translate(_CONTROL)

    def payload(self) -> dict[str, Any]:
        """The webhook body (Standard Webhooks: type, timestamp, data)."""
        return {"type": "alert.created", "timestamp": self.created, "data": {
            "alert_id": self.alert_id, "search": self.search_name, "kind": self.kind,
            "documents": [{**m.hit.asdict(), "reason": m.reason, "figures": m.figures,
                           "organisations": m.organisations} for m in self.matches]}}


def _line(text: str) -> str:
    return " ".join(text.split())


def _figure(f: dict[str, Any]) -> str:
    return " ".join(x for x in (f.get("text"), f"({f['subject']})" if f.get("subject") else None) if x)


# --- channels ------------------------------------------------------------------------------


class Channel(Protocol):
    def send(self, message: Message, target: str, secret: str | None, now: datetime) -> None:
        """Deliver or raise DeliveryTemporary / DeliveryPermanent."""


class Console:
    """Prints the message on stderr: stdout belongs to the command's own output (--json)."""

    def send(self, message: Message, target: str, secret: str | None, now: datetime) -> None:
        print(message.text(), file=sys.stderr, flush=True)


class _SMTP(smtplib.SMTP):
    """smtplib's client on a socket to an address the policy allows, every call bounded by its
    timeout and by the delivery's deadline: a reply of endless ``220-`` lines ends with it."""

    def __init__(self, host: str, port: int, *, policy: AddressPolicy, timeout: float) -> None:
        self._policy = policy  # before connect(), which the constructor calls
        super().__init__(host, port, local_hostname=MESSAGE_DOMAIN, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        bound = connections.current() or connections.Deadline(timeout)
        return connections.connect_socket(host, port, self._policy, bound, timeout)


class Email:
    """Plain text and HTML over SMTP. 4xx is temporary, 5xx permanent for that recipient (D2)."""

    def __init__(self, host: str, port: int, sender: str, timeout: float, *, policy: AddressPolicy) -> None:
        self.host, self.port, self.sender, self.timeout, self.policy = host, port, sender, timeout, policy

    def build(self, message: Message, to: str, now: datetime) -> EmailMessage:
        mail = EmailMessage(policy=email.policy.SMTP)
        mail["Subject"] = f"[mkb-monitor] {message.title}"
        mail["From"] = self.sender
        mail["To"] = to
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = message.message_id
        mail.set_content(message.text(), cte="quoted-printable")
        mail.add_alternative(message.html(), subtype="html", cte="quoted-printable")
        return mail

    def send(self, message: Message, target: str, secret: str | None, now: datetime) -> None:
        mail = self.build(message, target, now)
        try:
            smtp = _SMTP(self.host, self.port, policy=self.policy, timeout=self.timeout)
        except AddressRefused as exc:
            raise DeliveryPermanent(f"SMTP server {exc}") from None
        except smtplib.SMTPResponseException as exc:  # e.g. 421 on connect
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "connect") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise self._unreachable(exc) from None
        try:
            smtp.ehlo_or_helo_if_needed()
            _check("MAIL", *smtp.mail(self.sender))
            _check("RCPT", *smtp.rcpt(target))
            try:
                code, reply = smtp.data(mail.as_bytes())
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                # The server may have stored the message before the line dropped (RFC 1047):
                # retried with the same Message-ID, and counted (D3, D4).
                raise DeliveryTemporary(f"SMTP connection lost after DATA: {_why(exc)}", ambiguous=True,
                                        transport=True) from None
            _check("DATA", code, reply)
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "SMTP") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise self._unreachable(exc) from None
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _unreachable(self, exc: BaseException) -> DeliveryTemporary:
        return DeliveryTemporary(f"SMTP {self.host}:{self.port}: {_why(exc)}", transport=True)


def _why(exc: BaseException) -> str:
    """An exception's text, saying so when the delivery's deadline is what ended it."""
    bound = connections.current()
    if bound is not None and bound.expired():
        return f"no complete exchange within the delivery deadline of {bound.seconds:g} s ({exc})"
    return str(exc) or type(exc).__name__


def _check(step: str, code: int, reply: bytes) -> None:
    if code >= 400 or code < 200:
        raise _smtp_error(code, reply, step)


def _smtp_error(code: int, reply: bytes | str, step: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"{step}: {code} {text}"
    return DeliveryPermanent(message, smtp_code=code) if 500 <= code < 600 else DeliveryTemporary(message,
                                                                                                  smtp_code=code)


class WebhookChannel:
    """A signed JSON POST (Standard Webhooks). Redirects are not followed (a 3xx fails), 410
    disables the endpoint, everything else that is not 2xx is retried on the schedule."""

    def __init__(self, client: httpx.Client, *, allow_private: bool) -> None:
        self.client, self.allow_private = client, allow_private

    def send(self, message: Message, target: str, secret: str | None, now: datetime) -> None:
        check_webhook_url(target, allow_private=self.allow_private)
        body = json.dumps(message.payload(), ensure_ascii=False, separators=(",", ":"))
        headers = {"content-type": "application/json", "webhook-id": message.key,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(secret or "").sign(message.key, now, body)}
        try:
            # Only the status and headers count: the body is never read, so a receiver cannot
            # hold the loop or fill memory with an endless answer (I9).
            with self.client.stream("POST", target, content=body.encode("utf-8"), headers=headers) as response:
                status, answer = response.status_code, response.headers
        except AddressRefused as exc:  # checked at connect time: the name may resolve elsewhere now
            raise DeliveryPermanent(f"webhook {exc}") from None
        except httpx.HTTPError as exc:
            raise DeliveryTemporary(f"{type(exc).__name__}: {_why(exc)}", transport=True) from None
        if 200 <= status < 300:
            return
        if status == 410:
            raise DeliveryPermanent(f"410 Gone from {target}: endpoint disabled", disable=True)
        if 300 <= status < 400:
            raise DeliveryPermanent(f"{status} redirect to {answer.get('location', '?')} not followed")
        raise DeliveryTemporary(f"{status} from {target}", retry_after=retry_after(answer, now.timestamp()))


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s) with a host, or whose host is a literal non-public
    address (or ``localhost``) while those are not allowed (SSRF, D7). Nothing is resolved, so
    saving a webhook works offline: a name is checked each time the webhook is sent, on the
    address actually connected to (``monitor.connections``)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise DeliveryPermanent(f"not a valid webhook URL: {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise DeliveryPermanent(f"a webhook needs an http(s) URL, not {url!r}")
    try:
        webhook_policy(allow_private).check_host(parsed.host)
    except AddressRefused as exc:
        raise DeliveryPermanent(f"webhook {exc}") from None


def webhook_policy(allow_private: bool) -> AddressPolicy:
    return AddressPolicy.build(allow_private, setting="[alerts] allow_private_webhooks")


def smtp_policy(allow_private: bool) -> AddressPolicy:
    """Loopback is always allowed for SMTP: a local MTA is the usual setup (and the default
    ``smtp_host``); a relay on a private network needs ``allow_private_smtp``."""
    return AddressPolicy.build(allow_private, ["127.0.0.0/8", "::1"], setting="[alerts] allow_private_smtp")


def new_webhook_secret() -> str:
    """A ``whsec_``-prefixed base64 secret of 24 random bytes, as the Standard Webhooks spec shows."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode("ascii")


class AtomFeeds:
    """One Atom file per saved search. Entries keep their id across rewrites, so a reader never
    shows an alert twice (D8); lxml escapes every text, so stored markup stays text."""

    def __init__(self, directory: Path, entries: int) -> None:
        self.directory, self.entries = directory, entries

    def path(self, search_id: int) -> Path:
        return self.directory / f"search-{search_id}.xml"

    def write(self, search_id: int, search_name: str, messages: list[Message], now: datetime) -> Path:
        feed = FeedGenerator()
        feed.id(f"{TAG}:search-{search_id}")
        feed.title(xml_safe(f"mkb-monitor: {_line(search_name)}".translate(_CONTROL)))
        feed.author({"name": "mkb-monitor"})
        feed.updated(max((m.created for m in messages), default=now.isoformat()))
        feed.link(href=self.path(search_id).name, rel="self")
        for m in sorted(messages, key=lambda m: m.alert_id):
            entry = feed.add_entry()
            entry.id(m.atom_id)
            entry.title(xml_safe(m.title.translate(_CONTROL)))
            entry.updated(m.created)
            entry.published(m.created)
            first = m.matches[0].hit if m.matches else None
            if first is not None and first.url:
                entry.link(href=xml_safe(first.url))
            entry.content(xml_safe(m.html()), type="html")  # an older corpus may hold U+FFFE, which lxml refuses
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path(search_id)
        # Written beside the target and renamed over it: a reader never sees half a feed.
        with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as tmp:
            tmp.write(feed.atom_str(pretty=True))
        os.replace(tmp.name, target)
        return target


# --- the delivery loop ---------------------------------------------------------------------


@dataclass
class Schedule:
    """Seconds to wait after each failed attempt; then, for e-mail, a fixed step until a limit."""

    steps: list[float]
    every: float | None = None
    give_up_after: float | None = None

    def next_attempt(self, attempts: int, first: datetime, now: datetime, wait: float | None) -> datetime | None:
        """When to try again after ``attempts`` failed ones; None when the schedule is over."""
        if attempts <= len(self.steps):
            step = self.steps[attempts - 1]
        elif self.every is not None:
            step = self.every
        else:
            return None
        when = now + timedelta(seconds=max(step, wait or 0))
        if self.give_up_after is not None and when > first + timedelta(seconds=self.give_up_after):
            return None
        return when


def deliver(private: PrivateStore, config: Config, *, clock: Clock) -> dict[str, int]:
    """Send every due delivery once; return how many were sent, put back, failed, or deferred to
    the next pass (their host stopped answering in this pass, or the pass ran out of time)."""
    settings = config.alerts  # typed and range-checked at load (monitor.settings)
    counts = {"sent": 0, "retrying": 0, "failed": 0, "deferred": 0}
    now = clock()
    due = private.due(stamp(now))
    if not due:
        return counts
    started = time.monotonic()
    schedules = {
        "email": Schedule(list(settings.smtp_retry), settings.smtp_retry_every, settings.smtp_give_up_after),
        "webhook": Schedule(list(settings.webhook_retry)),
    }
    messages: dict[int, Message] = {}

    def message(alert_id: int) -> Message:
        if alert_id not in messages:
            messages[alert_id] = Message.load(private, alert_id)
        return messages[alert_id]

    feeds = AtomFeeds(Path(settings.feed_dir), settings.feed_entries)
    for channel_id in sorted({d["channel_id"] for d in due if d["channel_kind"] == "atom"}):
        batch = [d for d in due if d["channel_id"] == channel_id]
        outcome = _write_feed(private, feeds, batch, message, schedules["email"], now)
        counts[outcome] += len(batch)

    with contextlib.ExitStack() as stack:
        channels: dict[str, Channel] = {
            "console": Console(),
            "email": Email(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                           settings.smtp_timeout, policy=smtp_policy(settings.allow_private_smtp)),
        }
        if any(d["channel_kind"] == "webhook" for d in due):  # an HTTP client (TLS context) only when needed
            client = stack.enter_context(guarded_client(webhook_policy(settings.allow_private_webhooks),
                                                        timeout=settings.webhook_timeout))
            channels["webhook"] = WebhookChannel(client, allow_private=settings.allow_private_webhooks)
        disabled: set[int] = set()  # channels disabled in this loop (410): their rest waits for a replay
        unanswered: Counter[str] = Counter()  # per host: deliveries in a row that got no answer
        retry_at: dict[str, str] = {}  # per host: when its last unanswered delivery is tried again
        for d in due:
            if d["channel_kind"] == "atom" or d["channel_id"] in disabled:
                continue
            host = _host(d, settings)
            if unanswered[host] >= settings.delivery_breaker_failures:
                # Not tried, and no attempt counted: it waits with the host's failed deliveries.
                with private.transaction():
                    private.mark_retry(d["id"], retry_at[host], f"{DeliveryTemporary.code}: not tried: {host} did "
                                       f"not answer {unanswered[host]} deliveries in a row")
                counts["retrying"] += 1
                continue
            left = settings.delivery_pass_limit - (time.monotonic() - started)
            if left <= 0:
                counts["deferred"] += 1  # untouched: still due, first in line for the next pass
                continue
            with private.transaction():
                if private.begin_attempt(d["id"], stamp(now)):
                    private.bump("alerts/ambiguous_redelivery")
            try:
                with connections.deadline(min(settings.delivery_deadline, left)):
                    channels[d["channel_kind"]].send(message(d["alert_id"]), d["target"], d["secret"], now)
            except Exception as exc:  # any failure of one channel stays on its own delivery row
                error = exc if isinstance(exc, DeliveryError) else DeliveryTemporary(f"{type(exc).__name__}: {exc}")
                with private.transaction():
                    if error.details.get("ambiguous"):
                        private.bump("smtp/ambiguous_after_data")
                    outcome, when = _fail_or_retry(private, d, error,
                                                   schedules.get(d["channel_kind"], schedules["email"]), now)
                counts[outcome] += 1
                if not private.channel(d["channel_id"])["enabled"]:
                    disabled.add(d["channel_id"])
                if error.details.get("transport") and when is not None:
                    unanswered[host] += 1
                    retry_at[host] = when
                    if unanswered[host] == settings.delivery_breaker_failures:
                        log.warning("%s did not answer %d times in a row: its other deliveries wait for the "
                                    "next pass", host, unanswered[host])
                log.warning("delivery %s (%s %s) failed: %s", d["id"], d["channel_kind"], redact(d["target"]), error)
                continue
            unanswered[host] = 0
            crashpoint("after_remote_accept_before_mark")
            with private.transaction():
                private.mark_sent(d["id"], stamp(now))
            counts["sent"] += 1
    return counts


def _host(d: Mapping[str, Any], settings: AlertsSettings) -> str:
    """The host a delivery goes to, for the per-host breaker."""
    if d["channel_kind"] == "email":
        return f"{settings.smtp_host}:{settings.smtp_port}"
    if d["channel_kind"] == "webhook":
        return urlsplit(d["target"]).netloc.rpartition("@")[2].lower()
    return d["channel_kind"]


def _write_feed(private: PrivateStore, feeds: AtomFeeds, batch: list[dict[str, Any]],
                message: Callable[[int], Message], schedule: Schedule, now: datetime) -> str:
    """Rewrite one saved search's feed with the due alerts in it: one write for the whole batch."""
    channel_id = batch[0]["channel_id"]
    shown = [message(i) for i in private.feed_alerts(channel_id, [d["alert_id"] for d in batch],
                                                     limit=feeds.entries)]
    with private.transaction():
        for d in batch:
            private.begin_attempt(d["id"], stamp(now))
    try:
        feeds.write(batch[0]["search_id"], shown[0].search_name, shown, now)
    except OSError as exc:
        with private.transaction():
            outcomes = {_fail_or_retry(private, d, DeliveryTemporary(f"feed: {exc}"), schedule, now)[0] for d in batch}
        return outcomes.pop()
    with private.transaction():
        for d in batch:
            private.mark_sent(d["id"], stamp(now))
    return "sent"


def _fail_or_retry(private: PrivateStore, d: dict[str, Any], error: DeliveryError, schedule: Schedule,
                   now: datetime) -> tuple[str, str | None]:
    """Record a failed attempt: ("failed", None), or ("retrying", when it is tried again)."""
    message = f"{error.code}: {error}"
    if isinstance(error, DeliveryPermanent):
        private.mark_failed(d["id"], message)
        if error.details.get("disable"):
            private.disable_channel(d["channel_id"], message)
        return "failed", None
    first = datetime.fromisoformat((d["first_attempt_at"] or stamp(now)).replace("Z", "+00:00"))
    when = schedule.next_attempt(d["attempts"] + 1, first, now, error.details.get("retry_after"))
    if when is None:
        private.mark_failed(d["id"], f"{message} (retries exhausted)")
        if d["channel_kind"] == "webhook":
            private.disable_channel(d["channel_id"], f"retries exhausted: {message}")
        return "failed", None
    private.mark_retry(d["id"], stamp(when), message)
    return "retrying", stamp(when)
