"""The SQL of search: the vocabulary that Dutch forms are found in, and a compiled query run fast.

:class:`SearchIndex` works on one SQLite connection, so the store, and Datasette's own
connections (``Database.execute_fn``), run the very same statements.

**The vocabulary** (``search_terms``): every token of the FTS index with its two Dutch keys
(monitor/wordforms.py). A query word is expanded to the indexed forms that share a key, so
"werknemer" becomes ``("werknemer" OR "werknemers")`` over the one FTS index the corpus already
has: FTS5 then marks the form that matched in snippets, and nothing is indexed twice. Measured
against a second, stemmed FTS5 index in bench/README.md ("Dutch forms"). The store adds the tokens
of every document it writes (:meth:`SearchIndex.add_terms`); migration 4 builds the table for an
existing corpus from the FTS index's own vocabulary (:meth:`SearchIndex.build_vocabulary`).

**Speed on a million documents** (bench/bench_search.py). FTS5 finds the documents that contain a
word quickly and in rowid order, and stops early under a LIMIT. What is slow is whatever needs
every match: bm25 for each of them, or each one's date to sort or filter by, when the word
("mkb") is in two thirds of the corpus. So a query with few matches, nearly every query, is
answered by one SQL statement over all of them; one with very many is answered from its newest
matches, found by walking an index of the documents by date.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from monitor import wordforms
from monitor.errors import QueryError

FTS_TOKENIZER = "unicode61 remove_diacritics 2"  # "Comité" and "comite" are one word
TITLE_WEIGHT = 10.0  # bm25 weight of the title against the text (1.0)
MARK_START, MARK_END = "\ue000", "\ue001"  # monitor.search's marks: private-use, never in real text

EXACT_LIMIT = 1000  # matches: up to here every match is ranked or sorted, whatever the corpus size
WALK_COST = 0.1  # walking one document of the date index, against ranking or sorting one match
RECENT_WINDOW = 200  # relevance ranks this many of the newest matches of a query with very many
SPAN_GAP = 4096  # rowids: neighbours closer than this are read from FTS5 in one range scan
KNOWN_TERMS_CACHED = 200_000  # tokens a writer remembers having in the vocabulary

Progress = Callable[..., None]  # progress("start", label=..., total=...), progress("advance", n=...)

# The first characters the vocabulary is read by, for a progress bar: FTS5 has no count of its terms.
_TERM_RANGES = ["", *"0123456789abcdefghijklmnopqrstuvwxyz", "{"]


def create_vocabulary(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE search_terms (term TEXT PRIMARY KEY, key1 TEXT NOT NULL, key2 TEXT NOT NULL) "
                 "WITHOUT ROWID")
    conn.execute("CREATE INDEX idx_search_terms_key1 ON search_terms(key1)")
    conn.execute("CREATE INDEX idx_search_terms_key2 ON search_terms(key2)")


class SearchIndex:
    """Search's statements on one connection to the corpus."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._known: set[str] = set()

    # -- the vocabulary --

    def forms(self, tokens: Iterable[str], limit: int) -> dict[str, list[str]]:
        """Each folded token's indexed forms (itself first, then shortest first, at most
        ``limit``). A corpus without the vocabulary (opened read-only before migration 4)
        gives each token only itself."""
        found: dict[str, list[str]] = {}
        for token in sorted(set(tokens)):
            try:
                row = self.conn.execute("SELECT key1, key2 FROM search_terms WHERE term = ?", [token]).fetchone()
            except sqlite3.OperationalError:
                return {t: [t] for t in tokens}
            key1, key2 = row if row else wordforms.keys(token)
            rows = self.conn.execute("SELECT term FROM search_terms WHERE key1 = ? UNION "
                                     "SELECT term FROM search_terms WHERE key2 = ?", [key1, key2]).fetchall()
            others = sorted((r[0] for r in rows if r[0] != token), key=lambda t: (len(t), t))
            found[token] = [token, *others][:limit]
        return found

    def add_terms(self, texts: Iterable[str]) -> None:
        """Add the tokens of a document's title and text that the vocabulary lacks."""
        tokens = wordforms.distinct_words(texts) - self._known
        if not tokens:
            return
        have = {r[0] for r in self.conn.execute(
            "SELECT term FROM search_terms WHERE term IN (SELECT value FROM json_each(?))", [json.dumps(list(tokens))])}
        self.conn.executemany("INSERT OR IGNORE INTO search_terms (term, key1, key2) VALUES (?, ?, ?)",
                              [(t, *wordforms.keys(t)) for t in tokens - have])
        if len(self._known) > KNOWN_TERMS_CACHED:
            self._known.clear()
        self._known |= tokens

    def build_vocabulary(self, progress: Progress | None = None) -> int:
        """Fill ``search_terms`` from the FTS index's own vocabulary (a migration, and the
        benchmark corpus generator). Reads every doclist once: ~1 minute a million documents."""
        progress = progress or (lambda event, **info: None)
        self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocabulary "
                          "USING fts5vocab(main, documents_fts, row)")
        progress("start", label="search vocabulary (Dutch word forms)", total=len(_TERM_RANGES))
        added = 0
        for low, high in zip(_TERM_RANGES, [*_TERM_RANGES[1:], None]):
            sql = "SELECT term FROM temp.search_vocabulary WHERE term >= ?" + (" AND term < ?" if high else "")
            terms = [r[0] for r in self.conn.execute(sql, [low, high] if high else [low])]
            self.conn.executemany("INSERT OR IGNORE INTO search_terms (term, key1, key2) VALUES (?, ?, ?)",
                                  [(t, *wordforms.keys(t)) for t in terms])
            added += len(terms)
            progress("advance", n=1)
        self.conn.execute("DROP TABLE temp.search_vocabulary")
        return added

    # -- running a query --

    def check(self, match: str) -> None:
        """Raise QueryError when FTS5 cannot run ``match`` (its parser has limits of its own)."""
        try:
            self.conn.execute("SELECT 1 FROM documents_fts WHERE documents_fts MATCH ? LIMIT 1", [match]).fetchall()
        except sqlite3.OperationalError as exc:
            raise QueryError(f"the search cannot run: {exc}") from None

    def find(self, match: str, typed: str | None, filters: dict[str, Any], *, sort: str, limit: int, offset: int,
             snippet_tokens: int) -> list[dict[str, Any]]:
        """Rows of the documents that match, ranked or sorted, with snippets: the documents
        that match ``typed`` (the query as typed) before the others when ranked.

        A query with few matches has every match ranked or sorted. One with very many
        (``_exact_limit``) is still sorted by date exactly, but ranked by relevance among its
        newest ``RECENT_WINDOW`` matches only (bm25 with the statistics of that window), and
        ``rank`` is None when it is sorted by date."""
        where = _Filters.of(**filters)
        need = offset + limit if sort == "date" else max(RECENT_WINDOW, offset + limit)
        if filters.get("ids") is not None or not self._more_matches_than(match, self._exact_limit(need)):
            return self._exact(match, typed, where, sort=sort, limit=limit, offset=offset, tokens=snippet_tokens)
        if sort == "date":
            return self._hits(match, self._newest(match, where, need)[offset:], {}, snippet_tokens)
        window = self._newest(match, where, need)
        ranks = self._ranks(match, typed, window)
        page = sorted(window, key=lambda rowid: ranks.get(rowid, (1, 0.0)))[offset:offset + limit]
        return self._hits(match, page, {r: ranks[r][1] for r in page if r in ranks}, snippet_tokens)

    def _exact_limit(self, need: int) -> int:
        """The number of matches up to which ranking or sorting all of them is cheaper than
        walking the date index for the newest ``need``. The walk takes about need x documents /
        matches steps, so the two cost the same at sqrt(need x documents x WALK_COST) matches:
        1,400 for a page sorted by date in a million documents, 4,500 for a relevance window of 200."""
        documents = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM documents").fetchone()[0]
        return max(EXACT_LIMIT, math.isqrt(int(need * documents * WALK_COST)))

    def _exact(self, match: str, typed: str | None, where: _Filters, *, sort: str, limit: int, offset: int,
               tokens: int) -> list[dict[str, Any]]:
        # Order rowids only: a snippet computed before the sort would be computed for every match.
        params = {**where.params, "match": match, "limit": limit, "offset": offset}
        if sort == "date":
            order = "d.published DESC, d.rowid DESC"
        elif typed is None:
            order = "documents_fts.rank"
        else:  # the documents that match as typed first: a subquery FTS5 answers once
            order = ("d.rowid NOT IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH :typed), "
                     "documents_fts.rank")
            params["typed"] = typed
        sql = f"""
            SELECT d.rowid, documents_fts.rank
            FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
            WHERE documents_fts MATCH :match AND {where.sql()}
            ORDER BY {order} LIMIT :limit OFFSET :offset"""
        ranked = self.conn.execute(sql, params).fetchall()
        return self._hits(match, [r for r, _ in ranked], dict(ranked), tokens)

    def _more_matches_than(self, match: str, n: int) -> bool:
        """Whether more than ``n`` documents match, counting no further than that."""
        sql = "SELECT count(*) FROM (SELECT 1 FROM documents_fts WHERE documents_fts MATCH ? LIMIT ?)"
        return self.conn.execute(sql, [match, n + 1]).fetchone()[0] > n

    def _newest(self, match: str, where: _Filters, need: int) -> list[int]:
        """The rowids of the ``need`` newest matches that pass the filters, newest first: exactly
        ``ORDER BY published DESC, rowid DESC``.

        Walks the date index from the newest end in growing chunks. For each chunk FTS5 says which
        rowids match, reading only the rowid ranges the chunk covers; because a monitor stores
        documents roughly in the order they are published, those ranges are few and short. The
        walk stops once ``need`` matches have passed the filters, after a few dozen documents
        for "mkb"."""
        walk = self.conn.execute(
            "SELECT d.rowid FROM documents d INDEXED BY idx_documents_live_published "
            f"WHERE {' AND '.join(['d.deleted = 0', *where.dates])} "
            "ORDER BY d.published DESC, d.rowid DESC", where.params)
        found: list[int] = []
        walked, chunk = 0, max(2 * need, 64)
        try:
            while len(found) < need:
                rowids = [r for (r,) in walk.fetchmany(chunk)]
                if not rowids:
                    break
                walked += len(rowids)
                matching = self._matching(match, rowids)
                found += self._passing([r for r in rowids if r in matching], where)
                # the next chunk: what the share of passing matches so far says is still needed
                chunk = min(max(int((need - len(found)) * walked / max(len(found), 1) * 1.25), 64), 65536)
        finally:
            walk.close()
        return found[:need]

    def among(self, match: str, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` that ``match`` finds, in the order given. FTS5 reads only the rowid
        ranges of these documents (a run's new documents are stored together: a range or two),
        never every match in the corpus: a saved search matched after a run costs what the run
        stored, not what the corpus holds."""
        rowids = dict(self.conn.execute("SELECT rowid, id FROM documents WHERE id IN (SELECT value FROM json_each(?))",
                                        [json.dumps(list(ids))]).fetchall())
        found = {rowids[r] for r in self._matching(match, list(rowids)) if r in rowids}
        return [i for i in ids if i in found]

    def _matching(self, match: str, rowids: list[int]) -> set[int]:
        sql = "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? AND rowid BETWEEN ? AND ?"
        return {r for low, high in _spans(rowids) for (r,) in self.conn.execute(sql, [match, low, high])}

    def _passing(self, rowids: list[int], where: _Filters) -> list[int]:
        """Those of ``rowids`` whose document passes the filters other than dates, in order."""
        if not rowids or not where.rest:
            return rowids
        sql = (f"SELECT d.rowid FROM documents d WHERE d.rowid IN (SELECT value FROM json_each(:rowids)) "
               f"AND {' AND '.join(where.rest)}")
        passing = {r for (r,) in self.conn.execute(sql, {**where.params, "rowids": json.dumps(rowids)})}
        return [r for r in rowids if r in passing]

    def _ranks(self, match: str, typed: str | None, rowids: list[int]) -> dict[int, tuple[int, float]]:
        """(0 if it matches as typed else 1, bm25) of the given matches, with the statistics of
        these documents instead of the corpus.

        FTS5's bm25 begins by counting every match of every term in the whole corpus (for its
        idf): 40 ms for "mkb" in a million documents, 150 ms for a phrase, whatever the rowids
        asked for. Indexing the window's few hundred documents in a scratch table costs a fixed
        20 ms or so."""
        self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_window USING "
                          f"fts5(title, text, content='', tokenize='{FTS_TOKENIZER}')")
        self._scratch("INSERT INTO temp.search_window (search_window) VALUES ('delete-all')")
        self._scratch("INSERT INTO temp.search_window (rowid, title, text) SELECT rowid, title, text "
                      "FROM main.documents WHERE rowid IN (SELECT value FROM json_each(?))", [json.dumps(rowids)])
        sql = (f"SELECT rowid, bm25(search_window, {TITLE_WEIGHT}, 1.0) FROM temp.search_window "
               "WHERE search_window MATCH ?")
        as_typed = {r for (r,) in self.conn.execute(
            "SELECT rowid FROM temp.search_window WHERE search_window MATCH ?", [typed])} if typed else set()
        return {rowid: (0 if typed is None or rowid in as_typed else 1, rank)
                for rowid, rank in self.conn.execute(sql, [match])}

    def _scratch(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A write to a scratch (temp) table. Python's sqlite3 opens a transaction before it;
        outside the store's own write transaction that one is closed at once, or the next
        ``Store.transaction`` would find it open (and a reader would keep its snapshot)."""
        outside = not self.conn.in_transaction
        self.conn.execute(sql, params)
        if outside and self.conn.in_transaction:
            self.conn.commit()

    def _hits(self, match: str, rowids: list[int], ranks: dict[int, float], tokens: int) -> list[dict[str, Any]]:
        """The rows for a page of matches, in the page's order, with their snippets."""
        if not rowids:
            return []
        marked = self.marked(match, rowids, tokens)
        cursor = self.conn.execute("""
            SELECT d.rowid, d.id, d.title, d.kind, d.url, d.published,
                   (SELECT group_concat(DISTINCT source) FROM document_sources WHERE document_id = d.id) AS sources
            FROM documents d WHERE d.rowid IN (SELECT value FROM json_each(?))""", [json.dumps(rowids)])
        rows = {r["rowid"]: r for r in _dicts(cursor)}
        return [{**rows[r], "snippet": marked.get(r, ("", ""))[1], "rank": ranks.get(r)} for r in rowids if r in rows]

    def marked(self, match: str, rowids: list[int], tokens: int) -> dict[int, tuple[str, str]]:
        """(title, snippet) of each document with the forms that matched marked.

        FTS5 evaluates the whole expression once per rowid asked for, reading every term's
        doclist: for "mkb" with its synonyms (eight phrases, "en" among their words) that was 2 ms
        a document at 100,000 documents. The page's documents are indexed in a scratch table
        instead (same tokenizer, so the same marks), and marked there."""
        self.conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_page USING "
                          f"fts5(title, text, tokenize='{FTS_TOKENIZER}')")
        self._scratch("DELETE FROM temp.search_page")
        self._scratch("INSERT INTO temp.search_page (rowid, title, text) SELECT rowid, title, text "
                      "FROM main.documents WHERE rowid IN (SELECT value FROM json_each(?))", [json.dumps(rowids)])
        rows = self.conn.execute(
            f"""SELECT rowid, highlight(search_page, 0, '{MARK_START}', '{MARK_END}'),
                       snippet(search_page, 1, '{MARK_START}', '{MARK_END}', '…', {int(tokens)})
                FROM temp.search_page WHERE search_page MATCH ?""", [match]).fetchall()
        return {rowid: (title, snippet) for rowid, title, snippet in rows}

    # -- saved searches of filters only, and what an alert says --

    def filtered(self, filters: dict[str, Any], *, limit: int, lead_chars: int) -> list[dict[str, Any]]:
        """The documents that pass the filters, in storage order, with the start of their text."""
        where = _Filters.of(**filters)
        cursor = self.conn.execute(f"""
            SELECT d.id, d.title, d.kind, d.url, d.published, substr(d.text, 1, {int(lead_chars)}) AS snippet,
                   (SELECT group_concat(DISTINCT source) FROM document_sources WHERE document_id = d.id) AS sources
            FROM documents d WHERE {where.sql()} ORDER BY d.rowid LIMIT {int(limit)}""", where.params)
        return list(_dicts(cursor))

    def evidence(self, doc_id: str, organisations: list[str] | None,
                 figure: dict[str, Any] | None) -> tuple[str, str] | None:
        """(text, sentence) of the first figure or mention that made a document match."""
        params: dict[str, Any] = {"doc": doc_id}
        if figure is not None:
            sql = f"SELECT text, sentence FROM figures f WHERE f.document_id = :doc AND {_figure_sql(figure, params)}"
        elif organisations:
            sql = (f"SELECT text, sentence FROM mentions WHERE document_id = :doc "
                   f"AND organisation_id IN ({_names('o', organisations, params)})")
        else:
            return None
        row = self.conn.execute(sql + " ORDER BY start LIMIT 1", params).fetchone()
        return (row[0], row[1]) if row and row[1] else None

    def facts(self, doc_id: str) -> dict[str, list[Any]]:
        """The figures and organisations found in a document, for an alert message."""
        figures = list(_dicts(self.conn.execute(
            "SELECT text, value, value_max, unit, subject FROM figures WHERE document_id = ? ORDER BY start",
            [doc_id])))
        organisations = [r[0] for r in self.conn.execute(
            "SELECT o.canonical FROM mentions m JOIN organisations o ON o.id = m.organisation_id "
            "WHERE m.document_id = ? GROUP BY o.id ORDER BY min(m.start)", [doc_id])]
        return {"figures": figures, "organisations": organisations}

    def organisation_ids(self, name: str) -> list[str]:
        rows = self.conn.execute("SELECT id FROM organisations WHERE id = ? OR lower(canonical) = lower(?)",
                                 [name, name]).fetchall()
        return [r[0] for r in rows]

    # -- the Datasette app --

    def highlighted(self, match: str, doc_ids: Sequence[str], tokens: int) -> dict[str, tuple[str, str]]:
        """(title, snippet) of the documents with these ids, the matched forms marked."""
        ids = dict(self.conn.execute("SELECT rowid, id FROM documents WHERE id IN (SELECT value FROM json_each(?))",
                                     [json.dumps(list(doc_ids))]).fetchall())
        return {ids[rowid]: found for rowid, found in self.marked(match, list(ids), tokens).items()}


def web_filter(param: str, max_matches: int) -> str:
    """The WHERE clause of Datasette's documents table for a compiled match in ``:param``: the
    newest ``max_matches`` matches by rowid. FTS5 hands them over in rowid order and stops, so
    sorting, counting and faceting a word found in most documents costs the same as a rare one."""
    return (f"rowid in (select rowid from documents_fts where documents_fts match :{param} "
            f"order by rowid desc limit {int(max_matches)})")


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    for row in cursor:
        yield dict(zip(names, row))


def _spans(rowids: list[int]) -> list[tuple[int, int]]:
    """The rowids as few ranges as FTS5 can scan cheaply."""
    spans: list[tuple[int, int]] = []
    for rowid in sorted(rowids):
        if spans and rowid - spans[-1][1] <= SPAN_GAP:
            spans[-1] = (spans[-1][0], rowid)
        else:
            spans.append((rowid, rowid))
    return spans


@dataclass
class _Filters:
    """The filters as SQL on ``documents d``: those on the date, which the index of live
    documents by date answers, and the rest. Deleted documents are never found."""

    dates: list[str]
    rest: list[str]
    params: dict[str, Any]

    @classmethod
    def of(cls, *, since: str | None = None, until: str | None = None, sources: list[str] | None = None,
           kinds: list[str] | None = None, organisations: list[str] | None = None, dossier: str | None = None,
           ids: list[str] | None = None, figure: dict[str, Any] | None = None) -> _Filters:
        dates: list[str] = []
        rest: list[str] = []
        params: dict[str, Any] = {}
        if since:
            dates.append("d.published >= :since")
            params["since"] = since
        if until:
            # a bare date includes that whole day
            dates.append("d.published < :until || 'T99'" if len(until) == 10 else "d.published <= :until")
            params["until"] = until
        if kinds:
            rest.append(f"d.kind IN ({_names('k', kinds, params)})")
        if ids is not None:
            rest.append(f"d.id IN ({_names('i', ids, params) or 'NULL'})")
        if dossier:
            rest.append("d.id IN (SELECT document_id FROM document_dossiers WHERE dossier = :dossier)")
            params["dossier"] = dossier
        # Correlated EXISTS: one index probe per candidate, never a list of every document an
        # organisation or source has (tens of thousands for the common ones).
        if sources:
            rest.append("EXISTS (SELECT 1 FROM document_sources s WHERE s.document_id = d.id "
                        f"AND s.source IN ({_names('s', sources, params)}))")
        if organisations:
            rest.append("EXISTS (SELECT 1 FROM mentions m WHERE m.document_id = d.id "
                        f"AND m.organisation_id IN ({_names('o', organisations, params)}))")
        if figure is not None:
            rest.append(f"EXISTS (SELECT 1 FROM figures f WHERE f.document_id = d.id AND {_figure_sql(figure, params)})")
        return cls(dates, rest, params)

    def sql(self) -> str:
        return " AND ".join(["d.deleted = 0", *self.dates, *self.rest])


_FIGURE_OPS = {">=", "<=", ">", "<", "="}


def _figure_sql(figure: dict[str, Any], params: dict[str, Any]) -> str:
    """A figure condition (unit, subject, op, value; monitor.search.FigureCondition) on
    ``figures f``, its values added to ``params``. The subject matches anywhere in the counted
    noun, ignoring case and reading a curly apostrophe as a straight one."""
    parts = []
    if figure.get("unit") is not None:
        parts.append("f.unit = :fig_unit")
        params["fig_unit"] = figure["unit"]
    if figure.get("subject"):
        parts.append("replace(lower(f.subject), '’', '''') LIKE :fig_subject ESCAPE '!'")
        folded = figure["subject"].lower().replace("’", "'")
        params["fig_subject"] = "%" + folded.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
    if figure.get("op") is not None:
        if figure["op"] not in _FIGURE_OPS:
            raise QueryError(f"unknown figure comparison {figure['op']!r}")
        parts.append(f"f.value {figure['op']} :fig_value")
        params["fig_value"] = figure["value"]
    return " AND ".join(parts) or "1"


def _names(prefix: str, values: Sequence[str], params: dict[str, Any]) -> str:
    keys = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        keys.append(f":{prefix}{i}")
    return ", ".join(keys)
