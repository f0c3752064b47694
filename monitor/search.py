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


def search(store: Store, text: str, *, since: str | None = None, until: str | None = None,
           sources: list[str] | None = None, kinds: list[str] | None = None,
           organisations: list[str] | None = None, dossier: str | None = None,
           sort: str = "relevance", limit: int = 20, offset: int = 0) -> list[Hit]:
    """Search documents. ``organisations`` are organisation ids (resolve names with ``org_ids``)."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if limit < 1:
        raise QueryError("limit must be at least 1")
    match = parse(text).fts()
    where = ["documents_fts MATCH :match", "d.deleted = 0"]
    params: dict[str, Any] = {"match": match, "limit": limit, "offset": offset}
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
    if dossier:
        where.append("EXISTS (SELECT 1 FROM json_each(d.dossiers) WHERE json_each.value = :dossier)")
        params["dossier"] = dossier
    order = "documents_fts.rank" if sort == "relevance" else "d.published DESC, d.rowid DESC"
    sql = f"""
        SELECT d.id, d.title, d.kind, d.url, d.published, documents_fts.rank AS rank,
               snippet(documents_fts, 1, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS}) AS snippet,
               (SELECT group_concat(DISTINCT source) FROM document_sources WHERE document_id = d.id) AS sources
        FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
        WHERE {' AND '.join(where)}
        ORDER BY {order} LIMIT :limit OFFSET :offset"""
    return [Hit(id=r["id"], title=r["title"], kind=r["kind"], url=r["url"], published=r["published"],
                sources=sorted((r["sources"] or "").split(",")) if r["sources"] else [],
                snippet=r["snippet"] or "", rank=r["rank"]) for r in store.db.query(sql, params)]


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
