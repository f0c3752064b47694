"""Make a large corpus in the project's real schema, for the search and Datasette benchmarks.

    python bench/generate_corpus.py --docs 1000000 --out bench/out/corpus-1m.db

The schema comes from ``monitor.store.Store`` (so every migration runs). Documents are made by
recombining the sentences of the real texts (``common.real_texts``): each sentence keeps the
organisation mentions and figures annotated in it, so mentions and figures land at true offsets.
Dates spread over 1995 to today, more of them in recent years; kinds, sources, dossiers and ids
follow the real sources (KOOP, Tweede Kamer, rijksoverheid.nl, news feeds). Two thirds of the
documents contain the word "mkb", the word most searches of this corpus contain.

Documents are written in the order a running monitor stores them (``plan``): by publication date,
a few late, and the oldest ``--backfill`` share last, as when a source's archive is imported after
its live items. Search must not depend on that order for its results, only for its speed.

Speed: the FTS triggers are dropped for the load and the index is built by one ``rebuild``, then
the triggers are put back exactly as the migration made them. The file is written under a
temporary name and renamed when complete, so an interrupted run leaves no half-indexed corpus.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.common import file_size, print_environment, real_texts  # noqa: E402
from models import gazetteer  # noqa: E402
from models.records import Extraction, Figure, Mention  # noqa: E402
from monitor.store import Store, content_hash, web_id  # noqa: E402
from monitor.store.corpus import _unknown_org_id  # noqa: E402  the store's own rule for unknown organisations
from scrapers.base import Document, Item, canonical_url  # noqa: E402

FIRST_YEAR = 1995
MKB_SHARE = 2 / 3
MEAN_CHARS = 3500
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n+")
_MKB = re.compile(r"(?<![^\W_])mkb(?![^\W_])", re.IGNORECASE)  # the FTS5 token, as unicode61 splits it

# (share, source, kind(s), family of real texts the titles come from)
PROFILES = [
    (0.30, "koop", ("kamerbrief", "motie", "verslag", "nota", "brief regering"), "kamerstuk"),
    (0.10, "tweedekamer", ("parlementair", "kamerstuk"), "kamerstuk"),
    (0.15, "rijksoverheid", ("nieuwsbericht", "publicatie"), "government"),
    (0.45, "feeds", ("news",), "news"),
]
FEEDS = {"mkb-nederland": "www.mkb.nl", "emerce": "www.emerce.nl", "computable": "www.computable.nl",
         "agconnect": "www.agconnect.nl", "sprout": "www.sprout.nl", "nieuws-nl-economie": "www.nu.nl",
         "digital-trust-center": "www.digitaltrustcenter.nl"}


@dataclass(frozen=True)
class Passage:
    """A sentence, or a paragraph of them, with the figures and mentions annotated in it."""

    text: str
    mkb: bool
    figures: tuple[Figure, ...]  # offsets relative to the passage
    mentions: tuple[Mention, ...]

    def __add__(self, other: Passage) -> Passage:
        shift = len(self.text) + 1
        return Passage(f"{self.text} {other.text}", self.mkb or other.mkb,
                       self.figures + tuple(replace(f, start=f.start + shift, end=f.end + shift) for f in other.figures),
                       self.mentions + tuple(replace(m, start=m.start + shift, end=m.end + shift) for m in other.mentions))


class Material:
    """The real texts cut into sentences that carry their annotations, recombined into a pool of
    paragraphs (drawing whole paragraphs keeps the generator fast)."""

    PARAGRAPHS = 8192
    SENTENCES_PER_PARAGRAPH = 4

    def __init__(self, texts: Sequence[dict], rng: random.Random) -> None:
        known = gazetteer.load()
        sentences: list[Passage] = []
        self.titles: dict[str, list[str]] = {}
        for record in texts:
            family = {"report": "government"}.get(record.get("kind", ""), record.get("kind", "government"))
            self.titles.setdefault(family, []).append(record["title"])
            text = record["text"]
            for start, end in _spans(text):
                piece = text[start:end]
                figures = tuple(
                    Figure(start=f["start"] - start, end=f["end"] - start, text=f["text"], value=f["value"],
                           value_max=f.get("value_max"), unit=f["unit"], subject=f.get("subject"),
                           qualifier=f.get("qualifier"), sentence=piece)
                    for f in record.get("figures", ()) if start <= f["start"] and f["end"] <= end)
                mentions = []
                for m in record.get("organisations", ()):
                    if start <= m["start"] and m["end"] <= end:
                        org = known.lookup(m["canonical"])
                        mentions.append(Mention(start=m["start"] - start, end=m["end"] - start, text=m["text"],
                                                canonical=org.name if org else m["canonical"],
                                                id=org.id if org else None, kind=org.kind if org else None,
                                                sentence=piece))
                sentences.append(Passage(piece, bool(_MKB.search(piece)), figures, tuple(mentions)))
        without_mkb = [s for s in sentences if not s.mkb]
        self.all = [sum(rng.choices(sentences, k=self.SENTENCES_PER_PARAGRAPH)[1:], rng.choice(sentences))
                    for _ in range(self.PARAGRAPHS)]
        self.plain = [sum(rng.choices(without_mkb, k=self.SENTENCES_PER_PARAGRAPH)[1:], rng.choice(without_mkb))
                      for _ in range(self.PARAGRAPHS // 2)]
        self.with_mkb = [p for p in self.all if p.mkb]
        self.mean_length = max(1, sum(len(p.text) + 2 for p in self.all) // len(self.all))
        for family in ("kamerstuk", "government", "news"):  # the fallback texts have one family only
            self.titles.setdefault(family, [t for ts in self.titles.values() for t in ts])


def _spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() - start > 20:
            yield start, match.start()
        start = match.end()
    if len(text) - start > 20:
        yield start, len(text)


def plan(docs: int, *, until: date, backfill: float, rng: random.Random) -> list[date]:
    """Publication dates in the order a running monitor stores them: by date, 1 % of them up to
    two months late, and the oldest ``backfill`` share last (an archive imported afterwards).
    More documents in recent years."""
    start = date(FIRST_YEAR, 1, 1)
    days = (until - start).days + 1
    weights = [((start + timedelta(d)).year - FIRST_YEAR + 1) ** 1.5 for d in range(days)]
    published = sorted(rng.choices(range(days), weights=weights, k=docs))
    archive = int(docs * backfill)
    live = sorted(published[archive:], key=lambda d: d + (rng.randrange(1, 60) if rng.random() < 0.01 else 0))
    return [start + timedelta(d) for d in live + published[:archive]]


class Factory:
    """Realistic documents and their extraction records, one per call."""

    def __init__(self, material: Material, *, seed: int = 1) -> None:
        self.material = material
        self.rng = random.Random(seed)
        dossier_numbers = self.rng.sample(range(21501, 37000), 6000)
        self.dossiers = dossier_numbers
        self.dossier_weights = list(itertools.accumulate(1 / (i + 1) for i in range(len(dossier_numbers))))
        self.profile_weights = list(itertools.accumulate(p[0] for p in PROFILES))

    def make(self, n: int, day: date) -> Generated:
        rng = self.rng
        _, source, kinds, family = rng.choices(PROFILES, cum_weights=self.profile_weights)[0]
        kind = rng.choice(kinds)
        title = rng.choice(self.material.titles[family])
        moment = f"{day.isoformat()}T{rng.randrange(6, 22):02d}:{rng.randrange(60):02d}:00Z"
        dossiers: list[str] = []
        if source in ("koop", "tweedekamer"):
            dossier = str(rng.choices(self.dossiers, cum_weights=self.dossier_weights)[0])
            dossiers = [dossier]
            header = (f"Tweede Kamer der Staten-Generaal. Vergaderjaar {day.year}-{day.year + 1}. "
                      f"Kamerstuk {dossier}, nr. {n % 997 + 1}.")
            doc_id = f"kst-{dossier}-{n}" if source == "koop" else None
            url = f"https://zoek.officielebekendmakingen.nl/kst-{dossier}-{n}.html"
            published = day.isoformat() if source == "koop" else moment
            source_key = f"kst-{dossier}-{n}" if source == "koop" else f"{n:08x}-tk"
        else:
            if source == "feeds":
                source = rng.choice(list(FEEDS))
            host = FEEDS.get(source, "www.rijksoverheid.nl")
            header, doc_id, published = "", None, moment
            url = f"https://{host}/nieuws/{day.year}/{day.month:02d}/{n}-{_slug(title)}"
            source_key = url
        text, placed = self._text(header, mkb=rng.random() < MKB_SHARE)
        doc = Document(source=source, source_key=source_key, url=url, title=title, text=text, kind=kind,
                       published=published, id=doc_id, dossiers=dossiers)
        return Generated(doc, placed)

    def _text(self, header: str, *, mkb: bool) -> tuple[str, list[tuple[int, Passage]]]:
        rng, material = self.rng, self.material
        target = min(max(int(rng.lognormvariate(0, 0.5) * MEAN_CHARS * 0.88), 600), 20000)
        pool = material.all if mkb else material.plain
        chosen = [rng.choice(material.with_mkb)] if mkb and material.with_mkb else []
        size = len(header) + sum(len(s.text) for s in chosen)
        while size < target:
            batch = rng.choices(pool, k=max(1, (target - size) // material.mean_length))
            chosen += batch
            size += sum(len(p.text) + 2 for p in batch)
        rng.shuffle(chosen)
        parts = [header + "\n\n"] if header else []
        offset = len(parts[0]) if header else 0
        placed = []
        for passage in chosen:
            placed.append((offset, passage))
            parts.append(passage.text + "\n\n")
            offset += len(passage.text) + 2
        return "".join(parts).rstrip(), placed


@dataclass(frozen=True)
class Generated:
    doc: Document
    placed: list[tuple[int, Passage]]  # each paragraph of the text with its offset

    def extraction(self) -> Extraction:
        """The figures and mentions of the text, as the extraction stage hands them to the store."""
        return Extraction(
            figures=[replace(f, start=f.start + o, end=f.end + o) for o, s in self.placed for f in s.figures],
            mentions=[replace(m, start=m.start + o, end=m.end + o) for o, s in self.placed for m in s.mentions],
            pipeline_version="bench")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]


# --- bulk writing ---------------------------------------------------------------------------

DOCUMENT_COLUMNS = ("id", "kind", "title", "url", "published", "published_raw", "first_seen", "updated",
                    "text", "text_quality", "content_hash", "version", "language", "dossiers", "relevance",
                    "deleted", "meta", "source", "extracted_with")


def rows(generated: Generated, *, now: str, relevance: float) -> dict[str, list[tuple]]:
    """The rows ``Store.put_document`` writes for a new document, as tuples for executemany."""
    doc = generated.doc
    doc_id = doc.id or web_id(doc.url)
    keys = [k for k in (doc.id, f"{doc.source}:{doc.source_key}", canonical_url(doc.url)) if k]
    mentions = [(o, m) for o, s in generated.placed for m in s.mentions]
    org_ids = [m.id or _unknown_org_id(m.canonical) for _, m in mentions]
    return {
        "documents": [(doc_id, doc.kind, doc.title, doc.url, doc.published, doc.published, now, now, doc.text,
                       doc.text_quality, content_hash(doc.title, doc.text), 1, doc.language,
                       json.dumps(sorted(doc.dossiers)), relevance, 0, "{}", doc.source, "bench")],
        "document_sources": [(doc_id, doc.source, doc.source_key, doc.url, now, now,
                              Item(key=doc.source_key, url=doc.url).to_json())],
        "document_aliases": [(key, doc_id) for key in dict.fromkeys([doc_id, *keys])],
        "changes": [(doc_id, 1, "new", now)],
        "organisations": [(org, m.canonical, m.kind, int(m.id is not None)) for org, (_, m) in zip(org_ids, mentions)],
        "mentions": [(doc_id, org, m.start + o, m.end + o, m.text, m.sentence) for org, (o, m) in zip(org_ids, mentions)],
        "figures": [(doc_id, f.start + o, f.end + o, f.text, f.value, f.value_max, f.unit, f.subject, f.qualifier,
                     f.sentence) for o, s in generated.placed for f in s.figures],
    }


INSERTS = {
    "documents": f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)}) VALUES ({', '.join('?' * len(DOCUMENT_COLUMNS))})",
    "document_sources": "INSERT INTO document_sources (document_id, source, source_key, url, first_seen, last_seen, item) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "document_aliases": "INSERT OR IGNORE INTO document_aliases (alias, document_id) VALUES (?, ?)",
    "changes": "INSERT INTO changes (document_id, version, reason, at) VALUES (?, ?, ?, ?)",
    "organisations": "INSERT OR IGNORE INTO organisations (id, canonical, kind, aliases, in_gazetteer) VALUES (?, ?, ?, '[]', ?)",
    "mentions": 'INSERT INTO mentions (document_id, organisation_id, start, "end", text, sentence) VALUES (?, ?, ?, ?, ?, ?)',
    "figures": 'INSERT INTO figures (document_id, start, "end", text, value, value_max, unit, subject, qualifier, sentence) '
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}


class BulkLoad:
    """Plain executemany inserts with the FTS triggers and secondary indexes off, then one FTS
    ``rebuild`` and the indexes built by sorting: the fastest way to the same database.
    ``keep_triggers`` keeps the FTS in sync row by row instead; ``keep_indexes`` keeps the indexes."""

    def __init__(self, store: Store, *, keep_triggers: bool = False, keep_indexes: bool = False) -> None:
        self.store = store
        db = store._db
        db.execute("PRAGMA cache_size = -262144")  # 256 MiB: the load touches every index
        tables = ", ".join(f"'{t}'" for t in INSERTS)
        off = [*([] if keep_indexes else ["type = 'index'"]),
               *([] if keep_triggers else ["(type = 'trigger' AND tbl_name = 'documents' AND name LIKE 'documents_a_')"])]
        self.dropped = db.execute(
            f"SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN ({tables}) "
            f"AND ({' OR '.join(off) or 0})").fetchall()
        self.rebuild = not keep_triggers
        with store.transaction():
            for kind, name, _ in self.dropped:
                db.execute(f"DROP {kind.upper()} [{name}]")

    def write(self, batch: Sequence[dict[str, list[tuple]]]) -> None:
        with self.store.transaction():
            for table, sql in INSERTS.items():
                self.store._db.conn.executemany(sql, (row for rows_ in batch for row in rows_[table]))

    def finish(self) -> dict[str, float]:
        """Build the FTS index, restore the indexes and triggers; returns the seconds each took."""
        started = time.perf_counter()
        with self.store.transaction():
            if self.rebuild:
                self.store._db.execute("INSERT INTO documents_fts(documents_fts) VALUES('rebuild')")
            rebuilt = time.perf_counter()
            for _, _, sql in self.dropped:
                self.store._db.execute(sql)
            indexed = time.perf_counter()
            # The search vocabulary (Dutch word forms), from the FTS index, as migration 4 builds it.
            self.store.search_index.build_vocabulary()
        return {"fts_rebuild_s": rebuilt - started, "indexes_s": indexed - rebuilt,
                "vocabulary_s": time.perf_counter() - indexed}


def generate(path: Path, docs: int, *, seed: int = 1, backfill: float = 0.05, batch: int = 5000,
             progress: bool = False) -> dict[str, float]:
    """Write a corpus of ``docs`` documents to ``path``; returns the timings."""
    partial = path.with_name(path.name + ".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    _, texts = real_texts()
    factory = Factory(Material(texts, random.Random(seed)), seed=seed)
    days = plan(docs, until=date.today(), backfill=backfill, rng=random.Random(seed))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with Store(partial) as store:
        load = BulkLoad(store)
        pending: list[dict[str, list[tuple]]] = []
        for n, day in enumerate(days):
            pending.append(rows(factory.make(n, day), now=now, relevance=round(factory.rng.uniform(0.3, 1.0), 3)))
            if len(pending) == batch:
                load.write(pending)
                pending = []
                if progress and (n + 1) % 100000 == 0:
                    print(f"  {n + 1} documents, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        load.write(pending)
        inserted = time.perf_counter() - started
        finished = load.finish()
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    return {"insert_s": inserted, **finished, "total_s": time.perf_counter() - started}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the corpus file to write (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backfill", type=float, default=0.05,
                        help="share of the oldest documents written last, as an imported archive (default 0.05)")
    args = parser.parse_args(argv)
    print_environment()
    timings = generate(args.out, args.docs, seed=args.seed, backfill=args.backfill, progress=True)
    size = file_size(args.out)
    # beside the corpus, for bench_growth.py to report without generating it again
    Path(f"{args.out}.json").write_text(json.dumps({"docs": args.docs, "seed": args.seed, "size": size, **timings}))
    print(f"documents: {args.docs}")
    print(f"insert: {timings['insert_s']:.1f} s ({args.docs / timings['insert_s']:.0f} docs/s), "
          f"fts rebuild: {timings['fts_rebuild_s']:.1f} s, indexes: {timings['indexes_s']:.1f} s, total: {timings['total_s']:.1f} s")
    print(f"size: {size / 2**20:.1f} MiB ({size / args.docs / 1024:.2f} KiB per document)")


if __name__ == "__main__":
    main()
