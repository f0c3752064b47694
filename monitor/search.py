"""Search the corpus: a person's query in, a safe FTS5 query and ranked, highlighted results out.

The query language is the one people type into search boxes:

    digitale werkplaatsen       both words (in any order)
    "digitale werkplaatsen"     the exact phrase
    mkb OR zzp                  either word
    mkb -zzp                    mkb, but not zzp
    digitali*                   a prefix

Nothing a person types reaches FTS5 raw: every word becomes a quoted FTS5 string (so ``AND``,
``NEAR(``, ``12,5`` and ``'s-Hertogenbosch`` are words, not syntax), an unbalanced quote closes
at the end, and a query with nothing left to look for is a QueryError with a plain message.
The FTS index folds diacritics, so ``comite`` finds ``Comité``.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from models.records import UNITS
from monitor.errors import QueryError
from monitor.store import Store
from monitor.store.corpus import FTS_TOKENIZER, TITLE_WEIGHT

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use code points: never in real text
SORTS = ("relevance", "date")
SNIPPET_TOKENS = 24

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WORD = re.compile(r"[^\W_]")  # a letter or digit: what FTS5 unicode61 indexes


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False
    prefix: bool = False
    negated: bool = False

    def fts(self) -> str:
        quoted = '"' + self.text.replace('"', '""') + '"'
        return quoted + "*" if self.prefix else quoted


@dataclass
class Query:
    """A parsed user query: groups of alternatives (OR) that must all match, minus exclusions."""

    groups: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    def fts(self) -> str:
        if not self.groups:
            raise QueryError("the search has no words to look for (only exclusions or punctuation)")
        parts = []
        for group in self.groups:
            alternatives = [t.fts() for t in group]
            parts.append(alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")")
        expression = " AND ".join(parts)
        for term in self.excluded:
            expression = f"({expression}) NOT {term.fts()}"
        return expression


def parse(text: str) -> Query:
    """Parse what a person typed. Never raises on syntax; only an empty result is an error."""
    query = Query()
    pending_or = False
    text = _CONTROL.sub(" ", text)  # FTS5 reads a NUL as the end of the string
    for match in _TOKEN.finditer(text):
        negated_phrase, phrase, word = match.groups()
        if word is not None:
            if word == "OR":
                pending_or = bool(query.groups)
                continue
            negated = word.startswith("-") and len(word) > 1
            core = word[1:] if negated else word
            prefix = core.endswith("*")
            core = core.rstrip("*")
            term = Term(core, prefix=prefix and bool(_WORD.search(core)), negated=negated)
        else:
            term = Term(phrase, phrase=True, negated=bool(negated_phrase))
        if not _WORD.search(term.text):
            continue  # punctuation alone matches nothing and would only confuse FTS5
        if term.negated:
            query.excluded.append(term)
        elif pending_or:
            query.groups[-1].append(term)
        else:
            query.groups.append([term])
        pending_or = False
    return query


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    kind: str
    url: str | None
    published: str | None
    sources: list[str]
    snippet: str  # plain text; the matched words between MARK_START and MARK_END
    rank: float | None

    def snippet_html(self) -> str:
        return html.escape(self.snippet).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")

    def snippet_plain(self, left: str = "[", right: str = "]") -> str:
        return self.snippet.replace(MARK_START, left).replace(MARK_END, right)

    def asdict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind, "url": self.url,
                "published": self.published, "sources": self.sources, "snippet": self.snippet_plain(),
                "snippet_html": self.snippet_html(), "rank": self.rank}


FIGURE_OPS = (">=", "<=", ">", "<", "=")


@dataclass(frozen=True)
class FigureCondition:
    """A figure a document must contain: its unit, a word of what it counts, a bound on its value.

    ``FigureCondition(unit="percent", subject="mkb'ers", op=">=", value=50)`` keeps a document
    that says "58 procent van de mkb’ers". The subject matches anywhere in the counted noun,
    ignoring case and reading a curly apostrophe as a straight one.
    """

    unit: str | None = None
    subject: str | None = None
    op: str | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        if self.unit is None and not self.subject and self.value is None:
            raise QueryError("a figure condition needs a unit, a subject or a value")
        if (self.op is None) != (self.value is None) or (self.op is not None and self.op not in FIGURE_OPS):
            raise QueryError(f"a figure value needs one of {' '.join(FIGURE_OPS)} and a number")
        if self.unit is not None and self.unit not in UNITS:
            raise QueryError(f"figure unit must be one of {', '.join(UNITS)}, not {self.unit!r}")

    def sql(self, params: dict[str, Any]) -> str:
        """The condition on ``figures f``, its values added to ``params``."""
        parts = []
        if self.unit is not None:
            parts.append("f.unit = :fig_unit")
            params["fig_unit"] = self.unit
        if self.subject:
            parts.append("replace(lower(f.subject), '’', '''') LIKE :fig_subject ESCAPE '!'")
            folded = self.subject.lower().replace("’", "'")
            params["fig_subject"] = "%" + re.sub(r"([%_!])", r"!\1", folded) + "%"
        if self.op is not None:
            parts.append(f"f.value {self.op} :fig_value")
            params["fig_value"] = self.value
        return " AND ".join(parts)


def search(store: Store, text: str, *, since: str | None = None, until: str | None = None,
           sources: list[str] | None = None, kinds: list[str] | None = None,
           organisations: list[str] | None = None, dossier: str | None = None, ids: list[str] | None = None,
           figure: FigureCondition | None = None, sort: str = "relevance", limit: int = 20,
           offset: int = 0) -> list[Hit]:
    """Search documents. ``organisations`` are organisation ids (resolve names with ``org_ids``);
    ``ids`` restricts the search to those documents (alerts match what a run changed);
    ``figure`` keeps documents with a figure that meets the condition.

    A query with few matches has every match ranked or sorted. One with very many (``_exact_limit``)
    is still sorted by date exactly, but ranked by relevance among its newest ``RECENT_WINDOW``
    matches only (bm25 with the statistics of that window), and ``Hit.rank`` is None when it is
    sorted by date."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if limit < 1:
        raise QueryError("limit must be at least 1")
    match = parse(text).fts()
    filters = _Filters.of(since=since, until=until, sources=sources, kinds=kinds, organisations=organisations,
                          dossier=dossier, ids=ids, figure=figure)
    need = offset + limit if sort == "date" else max(RECENT_WINDOW, offset + limit)
    if ids is not None or not _more_matches_than(store, match, _exact_limit(store, need)):
        return _exact(store, match, filters, sort=sort, limit=limit, offset=offset)
    if sort == "date":
        return _hits(store, match, _newest(store, match, filters, need)[offset:], {})
    window = _newest(store, match, filters, need)
    ranks = _ranks(store, match, window)
    page = sorted(window, key=lambda rowid: ranks.get(rowid, 0.0))[offset:offset + limit]
    return _hits(store, match, page, ranks)


# How search stays fast on a million documents (bench/bench_search.py measures it).
#
# FTS5 finds the documents that contain a word quickly and in rowid order, and stops early under
# a LIMIT. What is slow is whatever needs every match: bm25 for each of them, or each one's date
# to sort or filter by, when the word ("mkb") is in two thirds of the corpus. So a query with few
# matches, nearly every query, is answered by one SQL statement over all of them; one with very
# many is answered from its newest matches, found by walking an index of the documents by date.

EXACT_LIMIT = 1000  # matches: up to here every match is ranked or sorted, whatever the corpus size
WALK_COST = 0.1  # walking one document of the date index, against ranking or sorting one match
RECENT_WINDOW = 200  # relevance ranks this many of the newest matches of a query with very many
SPAN_GAP = 4096  # rowids: neighbours closer than this are read from FTS5 in one range scan


def _exact_limit(store: Store, need: int) -> int:
    """The number of matches up to which ranking or sorting all of them is cheaper than walking
    the date index for the newest ``need``. The walk takes about need x documents / matches steps,
    so the two cost the same at sqrt(need x documents x WALK_COST) matches: 1,400 for a page
    sorted by date in a million documents, 4,500 for a relevance window of 200."""
    documents = store.db.execute("SELECT coalesce(max(rowid), 0) FROM documents").fetchone()[0]
    return max(EXACT_LIMIT, math.isqrt(int(need * documents * WALK_COST)))


@dataclass
class _Filters:
    """The filters as SQL on ``documents d``: those on the date, which the index of live
    documents by date answers, and the rest. Deleted documents are never found."""

    dates: list[str]
    rest: list[str]
    params: dict[str, Any]

    @classmethod
    def of(cls, *, since: str | None, until: str | None, sources: list[str] | None, kinds: list[str] | None,
           organisations: list[str] | None, dossier: str | None, ids: list[str] | None,
           figure: FigureCondition | None = None) -> "_Filters":
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
            rest.append(f"EXISTS (SELECT 1 FROM figures f WHERE f.document_id = d.id AND {figure.sql(params)})")
        return cls(dates, rest, params)

    def sql(self) -> str:
        return " AND ".join(["d.deleted = 0", *self.dates, *self.rest])


_COLUMNS = f"""d.rowid, d.id, d.title, d.kind, d.url, d.published,
    snippet(documents_fts, 1, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS}) AS snippet,
    (SELECT group_concat(DISTINCT source) FROM document_sources WHERE document_id = d.id) AS sources"""


def _exact(store: Store, match: str, filters: _Filters, *, sort: str, limit: int, offset: int) -> list[Hit]:
    # Order rowids only: a snippet computed before the sort would be computed for every match.
    order = "documents_fts.rank" if sort == "relevance" else "d.published DESC, d.rowid DESC"
    sql = f"""
        SELECT d.rowid, documents_fts.rank
        FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
        WHERE documents_fts MATCH :match AND {filters.sql()}
        ORDER BY {order} LIMIT :limit OFFSET :offset"""
    ranked = store.db.execute(sql, {**filters.params, "match": match, "limit": limit, "offset": offset}).fetchall()
    return _hits(store, match, [r for r, _ in ranked], dict(ranked))


def _more_matches_than(store: Store, match: str, n: int) -> bool:
    """Whether more than ``n`` documents match, counting no further than that."""
    sql = "SELECT count(*) FROM (SELECT 1 FROM documents_fts WHERE documents_fts MATCH ? LIMIT ?)"
    return store.db.execute(sql, [match, n + 1]).fetchone()[0] > n


def _newest(store: Store, match: str, filters: _Filters, need: int) -> list[int]:
    """The rowids of the ``need`` newest matches that pass the filters, newest first: exactly
    ``ORDER BY published DESC, rowid DESC``.

    Walks the date index from the newest end in growing chunks. For each chunk FTS5 says which
    rowids match, reading only the rowid ranges the chunk covers; because a monitor stores
    documents roughly in the order they are published, those ranges are few and short. The walk
    stops once ``need`` matches have passed the filters, after a few dozen documents for "mkb"."""
    walk = store.db.execute(
        "SELECT d.rowid FROM documents d INDEXED BY idx_documents_live_published "
        f"WHERE {' AND '.join(['d.deleted = 0', *filters.dates])} "
        "ORDER BY d.published DESC, d.rowid DESC", filters.params)
    found: list[int] = []
    walked, chunk = 0, max(2 * need, 64)
    try:
        while len(found) < need:
            rowids = [r for (r,) in walk.fetchmany(chunk)]
            if not rowids:
                break
            walked += len(rowids)
            matching = _matching(store, match, rowids)
            found += _passing(store, [r for r in rowids if r in matching], filters)
            # the next chunk: what the share of passing matches so far says is still needed
            chunk = min(max(int((need - len(found)) * walked / max(len(found), 1) * 1.25), 64), 65536)
    finally:
        walk.close()
    return found[:need]


def _spans(rowids: list[int]) -> list[tuple[int, int]]:
    """The rowids as few ranges as FTS5 can scan cheaply."""
    spans: list[tuple[int, int]] = []
    for rowid in sorted(rowids):
        if spans and rowid - spans[-1][1] <= SPAN_GAP:
            spans[-1] = (spans[-1][0], rowid)
        else:
            spans.append((rowid, rowid))
    return spans


def _matching(store: Store, match: str, rowids: list[int]) -> set[int]:
    sql = "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? AND rowid BETWEEN ? AND ?"
    return {r for low, high in _spans(rowids) for (r,) in store.db.execute(sql, [match, low, high])}


def _passing(store: Store, rowids: list[int], filters: _Filters) -> list[int]:
    """Those of ``rowids`` whose document passes the filters other than dates, in order."""
    if not rowids or not filters.rest:
        return rowids
    sql = (f"SELECT d.rowid FROM documents d WHERE d.rowid IN (SELECT value FROM json_each(:rowids)) "
           f"AND {' AND '.join(filters.rest)}")
    passing = {r for (r,) in store.db.execute(sql, {**filters.params, "rowids": json.dumps(rowids)})}
    return [r for r in rowids if r in passing]


def _ranks(store: Store, match: str, rowids: list[int]) -> dict[int, float]:
    """bm25 of the given matches, with the statistics of these documents instead of the corpus.

    FTS5's bm25 begins by counting every match of every term in the whole corpus (for its idf):
    40 ms for "mkb" in a million documents, 150 ms for a phrase, whatever the rowids asked for.
    Indexing the window's few hundred documents in a scratch table costs a fixed 20 ms or so."""
    db = store.db
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_window USING "
               f"fts5(title, text, content='', tokenize='{FTS_TOKENIZER}')")
    db.execute("INSERT INTO temp.search_window (search_window) VALUES ('delete-all')")
    db.execute("INSERT INTO temp.search_window (rowid, title, text) SELECT rowid, title, text FROM main.documents "
               "WHERE rowid IN (SELECT value FROM json_each(?))", [json.dumps(rowids)])
    sql = f"SELECT rowid, bm25(search_window, {TITLE_WEIGHT}, 1.0) FROM temp.search_window WHERE search_window MATCH ?"
    return dict(db.execute(sql, [match]).fetchall())


def _hits(store: Store, match: str, rowids: list[int], ranks: dict[int, float]) -> list[Hit]:
    """The hits for a page of matches, in the page's order, with their snippets."""
    if not rowids:
        return []
    sql = f"""
        SELECT {_COLUMNS}
        FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
        WHERE documents_fts MATCH :match AND documents_fts.rowid IN (SELECT value FROM json_each(:rowids))"""
    rows = {r["rowid"]: r for r in store.db.query(sql, {"match": match, "rowids": json.dumps(rowids)})}
    return [_hit(rows[r], ranks.get(r)) for r in rowids]


def _hit(row: dict[str, Any], rank: float | None) -> Hit:
    return Hit(id=row["id"], title=row["title"], kind=row["kind"], url=row["url"], published=row["published"],
               sources=sorted(row["sources"].split(",")) if row["sources"] else [],
               snippet=row["snippet"] or "", rank=rank)


def org_ids(store: Store, names: list[str]) -> list[str]:
    """Organisation ids for names as a user types them: canonical names, aliases or ids."""
    from models import gazetteer

    found: list[str] = []
    known = gazetteer.load()
    for name in names:
        org = known.lookup(name)
        if org is not None:
            found.append(org.id)
            continue
        rows = store.db.execute("SELECT id FROM organisations WHERE id = ? OR lower(canonical) = lower(?)",
                                [name, name]).fetchall()
        if not rows:
            raise QueryError(f"no organisation known as {name!r}")
        found += [r[0] for r in rows]
    return found


def _names(prefix: str, values: list[str], params: dict[str, Any]) -> str:
    keys = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        keys.append(f":{prefix}{i}")
    return ", ".join(keys)


# --- saved searches -------------------------------------------------------------------------

MAX_MATCHES = 100_000
LEAD_CHARS = 240  # the snippet of a match on filters alone that no figure or mention explains


def matching(store: Store, query: str, *, ids: list[str] | None = None, since: str | None = None,
             sources: list[str] | None = None, kinds: list[str] | None = None,
             organisations: list[str] | None = None, dossier: str | None = None,
             figure: FigureCondition | None = None) -> list[Hit]:
    """Every document that meets a saved search: its words, if it has any, and all its filters.

    A search of filters only needs no words; its snippet is then the sentence of the figure or
    the organisation that made it match, with that figure or name marked.
    """
    if ids is not None and not ids:
        return []
    filters: dict[str, Any] = {"since": since, "sources": sources, "kinds": kinds, "organisations": organisations,
                               "dossier": dossier, "ids": ids, "figure": figure}
    if query.strip():
        return search(store, query, **filters, limit=len(ids) if ids else MAX_MATCHES)
    where = _Filters.of(until=None, **filters)
    rows = store.db.query(f"""
        SELECT d.id, d.title, d.kind, d.url, d.published, substr(d.text, 1, {LEAD_CHARS}) AS snippet,
               (SELECT group_concat(DISTINCT source) FROM document_sources WHERE document_id = d.id) AS sources
        FROM documents d WHERE {where.sql()} ORDER BY d.rowid LIMIT {MAX_MATCHES}""", where.params)
    return [replace(hit, snippet=_evidence(store, hit.id, organisations, figure) or hit.snippet)
            for hit in (_hit(r, None) for r in rows)]


def _evidence(store: Store, doc_id: str, organisations: list[str] | None,
              figure: FigureCondition | None) -> str | None:
    """The sentence of the first figure or mention that made a document match, the match marked."""
    params: dict[str, Any] = {"doc": doc_id}
    if figure is not None:
        sql = f"SELECT text, sentence FROM figures f WHERE f.document_id = :doc AND {figure.sql(params)}"
    elif organisations:
        sql = (f"SELECT text, sentence FROM mentions WHERE document_id = :doc "
               f"AND organisation_id IN ({_names('o', organisations, params)})")
    else:
        return None
    row = store.db.execute(sql + " ORDER BY start LIMIT 1", params).fetchone()
    if row is None or not row[1]:
        return None
    text, sentence = row
    at = sentence.find(text)
    if at < 0:
        return sentence
    return sentence[:at] + MARK_START + text + MARK_END + sentence[at + len(text):]


def facts(store: Store, doc_id: str) -> dict[str, list[Any]]:
    """The figures and organisations found in a document, for an alert message."""
    figures = [dict(r) for r in store.db.query(
        "SELECT text, value, value_max, unit, subject FROM figures WHERE document_id = ? ORDER BY start", [doc_id])]
    organisations = [r["canonical"] for r in store.db.query(
        "SELECT o.canonical FROM mentions m JOIN organisations o ON o.id = m.organisation_id "
        "WHERE m.document_id = ? GROUP BY o.id ORDER BY min(m.start)", [doc_id])]
    return {"figures": figures, "organisations": organisations}
