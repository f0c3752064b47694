"""Delivery sinks on 127.0.0.1 (RELIABILITY §4.3): an SMTP server and a webhook receiver that
fail on a script, log every attempt, and count what they processed by idempotency key.

    with SmtpSink() as smtp, WebhookSink(secret) as hook:
        smtp.script = ["451", "accept"]      # greylist once, then take the message
        hook.script = [500, (503, {"Retry-After": "2"}), 200]
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import threading
from collections import Counter
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class SmtpSink:
    """aiosmtpd on 127.0.0.1. ``script`` holds one mode per DATA: ``accept``, ``451``, ``550``,
    ``drop`` (store the message, then cut the connection before the reply: RFC 1047), or
    ``stall`` (store it, then wait ``stall_seconds`` before the reply: past the client's timeout).
    Addresses in ``refuse`` get 550 at RCPT."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.script: list[str] = []
        self.refuse: set[str] = set()
        self.stall_seconds = 2.0
        self.messages: list[EmailMessage] = []
        self.controller: Controller | None = None

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mode = self.script.pop(0) if self.script else "accept"
        if mode == "451":
            return "451 4.7.1 greylisted, try again later"
        if mode == "550":
            return "550 5.7.1 rejected"
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Sink-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        if mode == "drop":
            server.transport.abort()
        elif mode == "stall":
            await asyncio.sleep(self.stall_seconds)
        return "250 OK"

    def start(self) -> SmtpSink:
        self.controller = Controller(self, hostname=HOST, port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def by_message_id(self) -> Counter[str]:
        return Counter(m["Message-ID"] for m in self.messages)


class WebhookSink:
    """A webhook receiver that answers from ``script`` (a status, or (status, headers)), then
    200. It verifies the Standard Webhooks signature (constant time) and the timestamp against
    ``now`` (injectable, like the sender's clock), and processes each webhook-id once, as a
    real receiver should."""

    TOLERANCE = 300  # seconds, as in the spec's reference libraries

    def __init__(self, secret: str, *, now: Any = None) -> None:
        self.webhook = Webhook(secret)
        self.now = now or (lambda: datetime.now(UTC))
        self.script: list[int | tuple[int, dict[str, str]]] = []
        self.attempts: list[dict[str, Any]] = []
        self.processed: dict[str, Any] = {}
        self.requests = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                sink.requests += 1
                status, headers = sink._answer()
                valid = sink.verify(body, self.headers)
                sink.attempts.append({"id": self.headers.get("webhook-id"), "path": self.path,
                                      "timestamp": self.headers.get("webhook-timestamp"),
                                      "status": status, "valid": valid})
                if 200 <= status < 300 and valid:
                    sink.processed.setdefault(self.headers["webhook-id"], json.loads(body))
                self.send_response(status if valid else 400)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/hook"

    def _answer(self) -> tuple[int, dict[str, str]]:
        step = self.script.pop(0) if self.script else 200
        return step if isinstance(step, tuple) else (step, {})

    def verify(self, body: bytes, headers: Any) -> bool:
        msg_id, stamp, signatures = (headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        if not (msg_id and stamp and signatures):
            return False
        sent = datetime.fromtimestamp(int(stamp), UTC)
        if abs((self.now() - sent).total_seconds()) > self.TOLERANCE:
            return False
        expected = self.webhook.sign(msg_id, sent, body.decode("utf-8")).encode()
        return any(hmac.compare_digest(expected, s.encode()) for s in signatures.split())

    def start(self) -> WebhookSink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def deliveries_per_id(self) -> Counter[str]:
        """Accepted (2xx, valid) requests per webhook-id: more than 1 is a duplicate delivery."""
        return Counter(a["id"] for a in self.attempts if 200 <= a["status"] < 300 and a["valid"])
