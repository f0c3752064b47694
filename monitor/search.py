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
import re
from dataclasses import dataclass, field
from typing import Any

from models.records import UNITS
from monitor.errors import QueryError
from monitor.store import Store

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
    ``figure`` keeps documents with a figure that meets the condition."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if limit < 1:
        raise QueryError("limit must be at least 1")
    params: dict[str, Any] = {"match": parse(text).fts(), "limit": limit, "offset": offset}
    where = ["documents_fts MATCH :match", *_filters(params, since=since, until=until, sources=sources, kinds=kinds,
                                                      organisations=organisations, dossier=dossier, ids=ids,
                                                      figure=figure)]
    order = "documents_fts.rank" if sort == "relevance" else "d.published DESC, d.rowid DESC"
    sql = f"""
        SELECT d.id, d.title, d.kind, d.url, d.published, documents_fts.rank AS rank,
               snippet(documents_fts, 1, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS}) AS snippet,
               {_SOURCES} AS sources
        FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
        WHERE {' AND '.join(where)}
        ORDER BY {order} LIMIT :limit OFFSET :offset"""
    return [_hit(r, r["snippet"] or "") for r in store.db.query(sql, params)]


_SOURCES = "(SELECT group_concat(DISTINCT source) FROM document_sources WHERE document_id = d.id)"


def _hit(row: dict[str, Any], snippet: str) -> Hit:
    return Hit(id=row["id"], title=row["title"], kind=row["kind"], url=row["url"], published=row["published"],
               sources=sorted(row["sources"].split(",")) if row["sources"] else [], snippet=snippet,
               rank=row.get("rank"))


def _filters(params: dict[str, Any], *, since: str | None, until: str | None, sources: list[str] | None,
             kinds: list[str] | None, organisations: list[str] | None, dossier: str | None,
             ids: list[str] | None, figure: FigureCondition | None) -> list[str]:
    """The WHERE conditions on ``documents d`` that every way of searching shares."""
    where = ["d.deleted = 0"]
    if since:
        where.append("d.published >= :since")
        params["since"] = since
    if until:
        # a bare date includes that whole day
        where.append("d.published < :until || 'T99'" if len(until) == 10 else "d.published <= :until")
        params["until"] = until
    if sources:
        where.append(f"d.id IN (SELECT document_id FROM document_sources WHERE source IN ({_names('s', sources, params)}))")
    if kinds:
        where.append(f"d.kind IN ({_names('k', kinds, params)})")
    if organisations:
        where.append(f"d.id IN (SELECT document_id FROM mentions WHERE organisation_id IN ({_names('o', organisations, params)}))")
    if ids is not None:
        where.append(f"d.id IN ({_names('i', ids, params) or 'NULL'})")
    if dossier:
        where.append("EXISTS (SELECT 1 FROM json_each(d.dossiers) WHERE json_each.value = :dossier)")
        params["dossier"] = dossier
    if figure is not None:
        where.append(f"EXISTS (SELECT 1 FROM figures f WHERE f.document_id = d.id AND {figure.sql(params)})")
    return where


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
    params: dict[str, Any] = {}
    where = _filters(params, until=None, **filters)
    rows = store.db.query(f"""
        SELECT d.id, d.title, d.kind, d.url, d.published, substr(d.text, 1, {LEAD_CHARS}) AS lead,
               {_SOURCES} AS sources
        FROM documents d WHERE {' AND '.join(where)} ORDER BY d.rowid LIMIT {MAX_MATCHES}""", params)
    return [_hit(r, _evidence(store, r["id"], organisations, figure) or r["lead"]) for r in rows]


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
