"""Alert matching and delivery cost: what the alert stage adds to a run.

    python bench/bench_alerts.py --docs 5000 --searches 50 --deliveries 200

1. matching: ``--docs`` documents (the real texts, recombined) are stored in one run; then
   ``monitor.alerts.evaluate`` matches ``--searches`` saved searches (words, phrases, OR, a
   source filter, filters only) against that run's change log. Printed: the time and the hits.
2. delivery: ``--deliveries`` alerts are sent to an SMTP server (aiosmtpd) and to a webhook
   receiver, both on 127.0.0.1, through ``monitor.notify.deliver``. Printed: alerts per second
   per channel.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.common import print_environment, real_texts  # noqa: E402
from monitor import alerts, config as config_module, notify  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.private import PrivateStore  # noqa: E402
from scrapers.base import Document  # noqa: E402
from sinks import SmtpSink, WebhookSink  # noqa: E402

QUERIES = ["ondernemers", "mkb digitalisering", '"Kamer van Koophandel"', "zzp OR zelfstandigen", "cyber*",
           "innovatie -subsidie", "Comité", "ransomware", "internetverbinding", "starters"]


def fill(store: Store, n: int) -> None:
    _, texts = real_texts()
    with store.transaction():
        for i in range(n):
            t = texts[i % len(texts)]
            store.put_document(Document(source="bench", source_key=str(i), url=None, title=f"{t['title']} ({i})",
                                        text=f"{t['text']}\n\nVariant {i}.", kind=t.get("kind", "news")))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--deliveries", type=int, default=200)
    args = parser.parse_args(argv)
    print_environment()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        smtp = SmtpSink().start()
        secret = notify.new_webhook_secret()
        hook = WebhookSink(secret).start()
        config = config_module.load(db=root / "monitor.db", overrides={"alerts": {
            "allow_private_webhooks": True, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
            "feed_dir": str(root / "feeds"), "max_per_run": 10 ** 9}})
        with Store.open(config) as corpus, PrivateStore.open(config) as private:
            now = alerts.utc_now()
            for i in range(args.searches):
                query = QUERIES[i % len(QUERIES)]
                search = alerts.SavedSearch(name=f"s{i}", query=query if i % 5 else "",
                                            sources=("bench",) if i % 5 == 0 else ())
                alerts.save(private, corpus, search, now=now)
            start = time.perf_counter()
            fill(corpus, args.docs)
            stored = time.perf_counter() - start
            start = time.perf_counter()
            counts = alerts.evaluate(corpus, private, max_per_run=10 ** 9, now=now)
            matched = time.perf_counter() - start
            print(f"matching: {args.docs} changed documents x {args.searches} saved searches: "
                  f"{matched:.2f} s ({counts['hits']} hits; storing the documents took {stored:.2f} s)")
            with private.transaction():
                private.db.execute("DELETE FROM deliveries")
                alert_ids = [r[0] for r in private.db.execute("SELECT id FROM alerts LIMIT ?", [args.deliveries])]
                for kind, target, key in (("email", "a@example.org", None), ("webhook", hook.url, secret)):
                    channel = private.add_channel(private.search("s1")["id"], kind, target, key)
                    private.db.conn.executemany(
                        "INSERT INTO deliveries (alert_id, channel_id, next_attempt_at) VALUES (?, ?, ?)",
                        [(a, channel, "1970-01-01T00:00:00Z") for a in alert_ids])
            start = time.perf_counter()
            sent = notify.deliver(private, config, clock=alerts.utc_now)
            took = time.perf_counter() - start
            print(f"delivery: {sent['sent']} sent, {sent['retrying'] + sent['failed']} not, in {took:.2f} s: "
                  f"{sent['sent'] / took:.0f} deliveries/s (e-mail and webhook alternating, one SMTP "
                  f"connection per message); sink saw {len(smtp.messages)} mails, {len(hook.processed)} webhooks")
        smtp.stop()
        hook.stop()


if __name__ == "__main__":
    main()
