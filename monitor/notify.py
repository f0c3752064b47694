"""Delivery: the outbox loop and its channels (console, e-mail over SMTP, webhook, Atom feed).

:func:`deliver` sends what the private outbox holds and is due, after the commit that put it
there (RELIABILITY I3). Each delivery stands alone: one failing channel or recipient never
holds up another (D7b). A failure is recorded on its row with the next attempt time from the
channel's schedule, and a delivery that runs out of schedule is ``failed``, visible, and can be
replayed by hand (D1, D6). The clock is injected, so the schedule is tested without sleeping.

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
import email.policy
import html
import ipaddress
import json
import logging
import os
import smtplib
import socket
import sys
import tempfile
from collections.abc import Callable
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

from monitor.config import Config
from monitor.crashpoints import crashpoint
from monitor.errors import DeliveryError, DeliveryPermanent, DeliveryTemporary
from monitor.http import _retry_after as retry_after
from monitor.search import Hit
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


class Email:
    """Plain text and HTML over SMTP. 4xx is temporary, 5xx permanent for that recipient (D2)."""

    def __init__(self, host: str, port: int, sender: str, timeout: float) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

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
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout, local_hostname=MESSAGE_DOMAIN)
        except smtplib.SMTPResponseException as exc:  # e.g. 421 on connect
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "connect") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryTemporary(f"SMTP {self.host}:{self.port}: {exc}") from None
        try:
            smtp.ehlo_or_helo_if_needed()
            _check("MAIL", *smtp.mail(self.sender))
            _check("RCPT", *smtp.rcpt(target))
            try:
                code, reply = smtp.data(mail.as_bytes())
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                # The server may have stored the message before the line dropped (RFC 1047):
                # retried with the same Message-ID, and counted (D3, D4).
                raise DeliveryTemporary(f"SMTP connection lost after DATA: {exc}", ambiguous=True) from None
            _check("DATA", code, reply)
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "SMTP") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryTemporary(f"SMTP {self.host}:{self.port}: {exc}") from None
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


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
        except httpx.HTTPError as exc:
            raise DeliveryTemporary(f"{type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return
        if status == 410:
            raise DeliveryPermanent(f"410 Gone from {target}: endpoint disabled", disable=True)
        if 300 <= status < 400:
            raise DeliveryPermanent(f"{status} redirect to {answer.get('location', '?')} not followed")
        raise DeliveryTemporary(f"{status} from {target}", retry_after=retry_after(answer, now.timestamp()))


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is not http(s), or whose host resolves to a private, loopback,
    link-local or otherwise non-public address (SSRF, D7), unless private ones are allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryPermanent(f"a webhook needs an http(s) URL, not {url!r}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DeliveryTemporary(f"cannot resolve {parts.hostname}: {exc}") from None
    if allow_private:
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise DeliveryPermanent(f"webhook host {parts.hostname} resolves to the non-public address "
                                    f"{address}: refused ([alerts] allow_private_webhooks)")


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
    """Send every due delivery once; return how many were sent, put back, or failed."""
    settings = config["alerts"]
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    now = clock()
    due = private.due(stamp(now))
    if not due:
        return counts
    schedules = {
        "email": Schedule(list(settings["smtp_retry"]), settings["smtp_retry_every"], settings["smtp_give_up_after"]),
        "webhook": Schedule(list(settings["webhook_retry"])),
    }
    messages: dict[int, Message] = {}

    def message(alert_id: int) -> Message:
        if alert_id not in messages:
            messages[alert_id] = Message.load(private, alert_id)
        return messages[alert_id]

    feeds = AtomFeeds(Path(settings["feed_dir"]), settings["feed_entries"])
    for channel_id in sorted({d["channel_id"] for d in due if d["channel_kind"] == "atom"}):
        batch = [d for d in due if d["channel_id"] == channel_id]
        outcome = _write_feed(private, feeds, batch, message, schedules["email"], now)
        counts[outcome] += len(batch)

    with httpx.Client(timeout=settings["webhook_timeout"], follow_redirects=False) as client:
        channels: dict[str, Channel] = {
            "console": Console(),
            "email": Email(settings["smtp_host"], settings["smtp_port"], settings["smtp_from"],
                           settings["smtp_timeout"]),
            "webhook": WebhookChannel(client, allow_private=settings["allow_private_webhooks"]),
        }
        disabled: set[int] = set()  # channels disabled in this loop (410): their rest waits for a replay
        for d in due:
            if d["channel_kind"] == "atom" or d["channel_id"] in disabled:
                continue
            with private.transaction():
                if private.begin_attempt(d["id"], stamp(now)):
                    private.bump("alerts/ambiguous_redelivery")
            try:
                channels[d["channel_kind"]].send(message(d["alert_id"]), d["target"], d["secret"], now)
            except Exception as exc:  # any failure of one channel stays on its own delivery row
                error = exc if isinstance(exc, DeliveryError) else DeliveryTemporary(f"{type(exc).__name__}: {exc}")
                with private.transaction():
                    if error.details.get("ambiguous"):
                        private.bump("smtp/ambiguous_after_data")
                    outcome = _fail_or_retry(private, d, error, schedules.get(d["channel_kind"], schedules["email"]),
                                             now)
                counts[outcome] += 1
                if not private.channel(d["channel_id"])["enabled"]:
                    disabled.add(d["channel_id"])
                log.warning("delivery %s (%s %s) failed: %s", d["id"], d["channel_kind"], d["target"], error)
                continue
            crashpoint("after_remote_accept_before_mark")
            with private.transaction():
                private.mark_sent(d["id"], stamp(now))
            counts["sent"] += 1
    return counts


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
            outcomes = {_fail_or_retry(private, d, DeliveryTemporary(f"feed: {exc}"), schedule, now) for d in batch}
        return outcomes.pop()
    with private.transaction():
        for d in batch:
            private.mark_sent(d["id"], stamp(now))
    return "sent"


def _fail_or_retry(private: PrivateStore, d: dict[str, Any], error: DeliveryError, schedule: Schedule,
                   now: datetime) -> str:
    message = f"{error.code}: {error}"
    if isinstance(error, DeliveryPermanent):
        private.mark_failed(d["id"], message)
        if error.details.get("disable"):
            private.disable_channel(d["channel_id"], message)
        return "failed"
    first = datetime.fromisoformat((d["first_attempt_at"] or stamp(now)).replace("Z", "+00:00"))
    when = schedule.next_attempt(d["attempts"] + 1, first, now, error.details.get("retry_after"))
    if when is None:
        private.mark_failed(d["id"], f"{message} (retries exhausted)")
        if d["channel_kind"] == "webhook":
            private.disable_channel(d["channel_id"], f"retries exhausted: {message}")
        return "failed"
    private.mark_retry(d["id"], stamp(when), message)
    return "retrying"
