"""Alert matching at scale: many saved searches over one large run (issue 19: "1,000 saved
searches over a 5,000-document import take 9 minutes and 5.9 GB").

    python bench/bench_alert_scale.py --searches 1000 --docs 5000

``--docs`` documents are stored in one transaction, as one run stores them: made by
``generate_corpus.py``'s generator (the real texts recombined, each sentence with the figures and
organisations annotated in it, so every document carries the facts an alert message lists),
published today. Then ``monitor.alerts.evaluate`` matches ``--searches`` saved searches against
that run's change log, with the shipped ``[alerts] max_per_run``. The searches are distinct and of
every kind a user saves: one word, two words, a phrase, an OR, a prefix, an exclusion, and some
of filters only (each source and kind of the generated documents once); their words are drawn from the texts (seeded), so some
match a few documents and some most of them.

Printed: the matching time, the hits and alerts, the peak resident memory of the process (before
and after matching) and the size of the private file afterwards. Run it against other code with
``PYTHONPATH=that/checkout python bench/bench_alert_scale.py``: the checkout's ``monitor`` and
``bench`` packages are the ones imported.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # run as a script; PYTHONPATH, if set, comes first

from bench.common import file_size, peak_rss_mb, print_environment, real_texts  # noqa: E402
from bench.generate_corpus import PROFILES, Factory, Material  # noqa: E402
from monitor import alerts, config as config_module  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.private import PrivateStore  # noqa: E402

SEED = 13


def fill(store: Store, n: int) -> None:
    """``n`` documents with their figures and organisations, stored together as one run stores them."""
    _, texts = real_texts()
    factory = Factory(Material(texts, random.Random(SEED)), seed=SEED)
    today = date.today()
    with store.transaction():
        for i in range(n):
            made = factory.make(i, today)
            store.put_document(made.doc, extraction=made.extraction(), extracted_with="bench")


def queries(n: int) -> list[alerts.SavedSearch]:
    """``n`` distinct saved searches with words from the texts, of every kind."""
    _, texts = real_texts()
    counts = Counter(w for t in texts for w in re.findall(r"[a-zà-ÿ]{5,}", t["text"].lower()))
    words = [w for w, c in counts.most_common(3000) if c >= 2]
    rng = random.Random(SEED)
    filters = [(p[1], kind) for p in PROFILES if p[1] != "feeds" for kind in p[2]]
    made: dict[str, alerts.SavedSearch] = {}
    while len(made) < n:
        i = len(made)
        a, b = rng.sample(words, 2)
        if i % 10 == 0 and filters:  # every source and kind once, then words only
            source, kind = filters.pop(rng.randrange(len(filters)))
            search, key = alerts.SavedSearch(name=f"s{i}", sources=(source,), kinds=(kind,)), f"{source} {kind}"
        else:
            query = [a, f"{a} {b}", f'"{a} {b}"', f"{a} OR {b}", f"{a[:5]}*", f"{a} -{b}"][i % 6]
            search, key = alerts.SavedSearch(name=f"s{i}", query=query), query
        made.setdefault(key, search)
    return list(made.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=1000)
    args = parser.parse_args(argv)
    print_environment()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = config_module.load(db=root / "monitor.db", overrides={"alerts": {"feed_dir": str(root / "feeds")}})
        max_per_run = config.alerts.max_per_run
        with Store.open(config) as corpus, PrivateStore.open(config) as private:
            now = alerts.utc_now()
            for search in queries(args.searches):
                alerts.save(private, corpus, search, now=now)
            fill(corpus, args.docs)
            before = peak_rss_mb()
            start = time.perf_counter()
            counts = alerts.evaluate(corpus, private, max_per_run=max_per_run, now=now)
            took = time.perf_counter() - start
        size = file_size(config.private_db_path)
        print(f"matching: {args.docs} new documents x {args.searches} saved searches (max_per_run {max_per_run}): "
              f"{took:.1f} s; {counts['hits']} hits, {counts['alerts']} alerts; peak RSS {peak_rss_mb():.0f} MB "
              f"({before:.0f} MB before matching); private file {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
