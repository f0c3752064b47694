"""Dutch word forms: query expansion over the one FTS index, or a second, stemmed FTS5 index?

    python bench/generate_corpus.py --docs 100000 --out bench/out/corpus-100k.db
    python bench/bench_dutch_index.py --db bench/out/corpus-100k.db

On one corpus, measured in one run:

- expansion (what search does): the vocabulary table ``search_terms`` (every token of the FTS
  index with its two keys): its rows and bytes, the time to build it from the FTS index
  (migration 4), and what keeping it costs a document at ingest (``SearchIndex.add_terms``);
- a second index: a contentless FTS5 table of every document's title and text with each token
  replaced by its key (one key, so a lower bound: search matches on either of two): its bytes, the
  time to build it, and what it costs a document at ingest (keying its tokens and indexing them);
- the query itself, both ways, for a few words: expansion reads the forms from the vocabulary
  and then the FTS index; the stemmed index answers the key.

The ingest costs are for ``--sample`` documents of the corpus, written again in a transaction that
is rolled back, beside ``Store.put_document`` of the same documents for scale.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.common import OUT, file_size, percentile, print_environment  # noqa: E402
from monitor import wordforms  # noqa: E402
from monitor.search import compile  # noqa: E402
from monitor.store import Store  # noqa: E402
from monitor.store.search import FTS_TOKENIZER, SearchIndex  # noqa: E402
from scrapers.base import Document  # noqa: E402

QUERIES = ("bedrijven", "werknemer", "digitale", "ondernemers", "kleine")


class Undo(Exception):
    """Raised to roll a measured transaction back."""


def table_bytes(conn: sqlite3.Connection, schema: str, like: str) -> int:
    return conn.execute(f"SELECT coalesce(sum(pgsize), 0) FROM dbstat('{schema}') WHERE name LIKE ?",
                        [like]).fetchone()[0]


def key_text(text: str, cache: dict[str, str]) -> str:
    out = []
    for token in wordforms.words(text):
        key = cache.get(token)
        if key is None:
            key = cache[token] = wordforms.keys(token)[0].lstrip("=")
        out.append(key)
    return " ".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=OUT / "corpus-100k.db")
    parser.add_argument("--sample", type=int, default=2000, help="documents for the ingest costs")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    print_environment()
    wordforms.keys("bedrijven")  # the lemma table and stemmers load once, before anything is timed
    with Store(args.db) as store, tempfile.TemporaryDirectory() as scratch:
        conn = store._db.conn
        docs = store.document_count()
        corpus_bytes = file_size(args.db)
        fts_bytes = table_bytes(conn, "main", "documents_fts%")
        print(f"corpus: {args.db.name}, {docs:,} documents, {corpus_bytes / 2**30:.2f} GiB, "
              f"FTS index {fts_bytes / 2**20:,.0f} MiB")

        # -- expansion: the vocabulary --
        with store.transaction():
            conn.execute("DELETE FROM search_terms")
            started = time.perf_counter()
            terms = store.search_index.build_vocabulary()
            vocabulary_s = time.perf_counter() - started
        vocabulary_bytes = table_bytes(conn, "main", "%search_terms%")
        print(f"expansion: vocabulary of {terms:,} tokens, {vocabulary_bytes / 2**20:.1f} MiB "
              f"({100 * vocabulary_bytes / corpus_bytes:.2f} % of the corpus), built in {vocabulary_s:.1f} s")

        # -- a second index --
        conn.execute(f"ATTACH DATABASE '{Path(scratch) / 'stems.db'}' AS scratch")
        conn.execute("CREATE VIRTUAL TABLE scratch.documents_stems USING "
                      f"fts5(title, text, content='', tokenize='{FTS_TOKENIZER}')")
        cache: dict[str, str] = {}
        started = time.perf_counter()
        keying = 0.0
        rows = conn.execute("SELECT rowid, title, text FROM documents")
        conn.execute("BEGIN")
        while batch := rows.fetchmany(1000):
            t = time.perf_counter()
            keyed = [(rowid, key_text(title, cache), key_text(text, cache)) for rowid, title, text in batch]
            keying += time.perf_counter() - t
            conn.executemany("INSERT INTO scratch.documents_stems (rowid, title, text) VALUES (?, ?, ?)", keyed)
        conn.execute("COMMIT")
        stems_s = time.perf_counter() - started
        stems_bytes = table_bytes(conn, "scratch", "documents_stems%")
        print(f"second index: {stems_bytes / 2**20:,.0f} MiB ({100 * stems_bytes / corpus_bytes:.1f} % of the "
              f"corpus, {100 * stems_bytes / fts_bytes:.0f} % of the FTS index), built in {stems_s:.1f} s "
              f"({keying:.1f} s of it keying tokens in Python)")

        # -- ingest, per document --
        sample = conn.execute("SELECT id, title, text, kind, published FROM documents ORDER BY rowid DESC LIMIT ?",
                              [args.sample]).fetchall()
        texts = [(title, text) for _, title, text, _, _ in sample]
        fresh = SearchIndex(conn)  # no tokens remembered: as a new process would start
        conn.execute("BEGIN")
        t = time.perf_counter()
        for title, text in texts:
            fresh.add_terms([title, text])
        add_terms_ms = (time.perf_counter() - t) * 1000 / len(texts)
        cache.clear()
        t = time.perf_counter()
        for n, (title, text) in enumerate(texts):
            conn.execute("INSERT INTO scratch.documents_stems (rowid, title, text) VALUES (?, ?, ?)",
                         [10**9 + n, key_text(title, cache), key_text(text, cache)])
        stems_ms = (time.perf_counter() - t) * 1000 / len(texts)
        conn.execute("ROLLBACK")
        try:
            with store.transaction():
                t = time.perf_counter()
                for doc_id, title, text, kind, published in sample:
                    store.put_document(Document(source="bench", source_key=doc_id, url=None, title=title, text=text,
                                                kind=kind, published=published, id=f"bench-{doc_id}"))
                put_ms = (time.perf_counter() - t) * 1000 / len(sample)
                raise Undo  # keep nothing
        except Undo:
            pass
        print(f"ingest per document ({len(sample):,} documents of this corpus): put_document {put_ms:.2f} ms "
              f"(with the vocabulary); the vocabulary's share {add_terms_ms:.3f} ms; a second index instead "
              f"{stems_ms:.3f} ms")

        # -- queries --
        print(f"{'query':14} {'forms':>5} {'expansion p50':>14} {'second index p50':>17}")
        for word in QUERIES:
            match = compile(store, word).fts
            key = wordforms.keys(word)[0].lstrip("=")
            expansion, stemmed = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                fts = compile(store, word).fts
                conn.execute("SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?", [fts]).fetchone()
                expansion.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                conn.execute("SELECT count(*) FROM scratch.documents_stems WHERE documents_stems MATCH ?",
                             [f'"{key}"']).fetchone()
                stemmed.append((time.perf_counter() - t) * 1000)
            print(f"{word:14} {match.count(' OR ') + 1:5d} {percentile(expansion, 50):12.1f}ms "
                  f"{percentile(stemmed, 50):15.1f}ms")


if __name__ == "__main__":
    main()
