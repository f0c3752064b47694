"""Search the corpus: one query language for the command line, the Datasette app and saved searches.

    werknemer                   the word in its Dutch forms: werknemer, werknemers
    =werknemer                  exactly this form (case and accents still do not matter)
    digitale werkplaatsen       both words, in any order
    "digitale werkplaatsen"     the words in this order (each in its forms); ="..." exactly these
    mkb OR zzp                  either
    mkb -zzp                    mkb, but not zzp (nor its forms and synonyms)
    digitali*                   any word that begins so

A word or phrase also finds its synonyms and abbreviations (``mkb`` finds ``midden- en
kleinbedrijf``, ``EZK`` finds ``Economische Zaken en Klimaat``; monitor/wordforms.py says which
forms count), and documents that contain the query as typed rank above those that only match a
form or a synonym.

Nothing a person types reaches FTS5 raw: every word becomes a quoted FTS5 string (so ``AND``,
``NEAR(``, ``12,5`` and ``'s-Hertogenbosch`` are words, not syntax), an unbalanced quote closes at
the end, the text is NFKC-normalised (``ＭＫＢ`` is ``MKB``), repeated terms collapse, and a query
with nothing left to look for, or past the length caps of ``[search]``, is a QueryError with a
plain message. This module parses and compiles; ``monitor/store/search.py`` runs the result.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from models.records import UNITS
from monitor import wordforms
from monitor.errors import QueryError

if TYPE_CHECKING:
    from monitor.store import Store

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use code points: never in real text
SORTS = ("relevance", "date")

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"'})
_TOKEN = re.compile(r'(-?)(=?)"([^"]*)"?|(\S+)')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_APOSTROPHE = re.compile(r"['’`´]")
# What an apostrophe ending is a form of: mkb'er, mkb'ers and mkb’ers are one word; a plural
# in 's (cao's) is the word itself, whose token the index holds as well.
_APOSTROPHE_FORMS = {"er": ("er", "ers"), "ers": ("ers", "er"), "s": ()}  # the typed ending first


@dataclass(frozen=True)
class Settings:
    """The ``[search]`` table of the config (defaults in monitor/defaults.toml)."""

    max_query_chars: int
    max_query_terms: int
    max_forms: int
    max_phrase_variants: int
    snippet_tokens: int
    web_snippet_tokens: int
    web_max_matches: int
    max_matches: int
    lead_chars: int
    synonyms: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, table: Settings | Mapping[str, Any] | None) -> Settings:
        """The settings themselves, the shipped ones (None), or built from a table (the Datasette
        plugin's configuration holds them as JSON)."""
        if isinstance(table, Settings):
            return table
        if table is None:
            from monitor.config import shipped

            return shipped().search
        return cls(**{**table, "synonyms": tuple(tuple(g) for g in table.get("synonyms", ()))})


@dataclass(frozen=True)
class Term:
    """A word (one slot) or a phrase (several), each slot a choice of folded tokens."""

    slots: tuple[tuple[str, ...], ...]
    exact: bool = False
    prefix: bool = False
    synonym: bool = field(default=False, compare=False)  # added for a typed term, not typed

    @property
    def typed(self) -> tuple[str, ...]:
        return tuple(slot[0] for slot in self.slots if slot)

    def fts(self, forms: Mapping[str, Sequence[str]] | None, cap: int) -> str:
        """This term as FTS5: each slot's tokens in their forms (``forms`` None: as typed)."""
        choices = []
        for slot in self.slots:
            found: list[str] = []
            for token in slot:
                more = [token] if forms is None or self.exact or self.prefix else forms.get(token, [token])
                found += [f for f in more if f not in found]
            choices.append(found if forms is not None else found[:1])
        variants = [" ".join(v) for v in itertools.islice(itertools.product(*choices), cap)]
        star = "*" if self.prefix else ""
        return _any(['"' + v.replace('"', '""') + '"' + star for v in variants])


@dataclass(frozen=True)
class AllOf:
    """Terms that must all match: the words a person typed that also make up a synonym."""

    terms: tuple[Term, ...]

    def fts(self, forms: Mapping[str, Sequence[str]] | None, cap: int) -> str:
        return "(" + " AND ".join(t.fts(forms, cap) for t in self.terms) + ")"


Alternative = Term | AllOf


def _any(parts: Sequence[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")"


@dataclass
class Query:
    """A parsed query: groups of alternatives (OR) that must all match, minus exclusions. The
    alternatives a synonym added are marked (``Term.synonym``): ranking wants the query as typed."""

    groups: list[list[Alternative]] = field(default_factory=list)
    excluded: list[Alternative] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)

    def tokens(self) -> set[str]:
        """The tokens whose Dutch forms the query needs (from the corpus: SearchIndex.forms)."""
        found: set[str] = set()
        for alternative in itertools.chain(*self.groups, self.excluded):
            for term in (alternative.terms if isinstance(alternative, AllOf) else (alternative,)):
                if not term.exact and not term.prefix:
                    found.update(token for slot in term.slots for token in slot)
        return found

    def fts(self, forms: Mapping[str, Sequence[str]] | None = None, *, as_typed: bool = False) -> str:
        """The FTS5 MATCH expression. ``forms`` gives each token's forms (None: as typed);
        ``as_typed`` leaves out the synonyms too. Its depth does not grow with the number of
        exclusions (100 of them once overflowed FTS5's parser stack)."""
        if not self.groups:
            raise QueryError("the search has no words to look for (only exclusions or punctuation)")
        cap = self.settings.max_phrase_variants
        groups = [[a for a in g if not (as_typed and isinstance(a, Term) and a.synonym)] for g in self.groups]
        expression = " AND ".join(_any([a.fts(forms, cap) for a in group]) for group in groups)
        if self.excluded:
            expression = f"({expression}) NOT {_any([a.fts(forms, cap) for a in self.excluded])}"
        return expression


@dataclass(frozen=True)
class Match:
    """A query compiled against a corpus: the FTS5 expression, and the one for the query as
    typed when it differs (documents matching that rank first)."""

    fts: str
    typed: str | None = None


def parse(text: str, settings: Settings | None = None) -> Query:
    """Parse what a person typed. Syntax is never an error; an empty query or one past the caps is."""
    settings = settings or Settings.of(None)
    if len(text) > settings.max_query_chars:
        raise QueryError(f"the search is {len(text)} characters long; at most "
                         f"{settings.max_query_chars} are allowed ([search] max_query_chars)")
    text = unicodedata.normalize("NFKC", text)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise QueryError("the search has bytes that are not UTF-8; type it again in UTF-8")
    text = _CONTROL.sub(" ", text.translate(_QUOTES))  # FTS5 reads a NUL as the end of the string
    query = Query(settings=settings)
    pending_or = False
    for match in _TOKEN.finditer(text):
        negated_phrase, exact_phrase, phrase, word = match.groups()
        if word is not None:
            if word == "OR":
                pending_or = bool(query.groups)
                continue
            negated = word.startswith("-") and len(word) > 1
            core = word[1:] if negated else word
            exact = core.startswith("=") and len(core) > 1
            core = core[1:] if exact else core
            term = _term(core, exact=exact)
        else:
            negated = bool(negated_phrase)
            term = _term(phrase, exact=bool(exact_phrase), phrase=True)
        if term is None:
            pending_or = False
            continue  # punctuation alone matches nothing and would only confuse FTS5
        if negated:
            if term not in query.excluded:
                query.excluded.append(term)
        elif pending_or:
            if term not in query.groups[-1]:
                query.groups[-1].append(term)
        elif [term] not in query.groups:
            query.groups.append([term])
        pending_or = False
    count = sum(map(len, query.groups)) + len(query.excluded)
    if count > settings.max_query_terms:
        raise QueryError(f"the search has {count} terms; at most {settings.max_query_terms} are allowed "
                         "([search] max_query_terms)")
    _add_synonyms(query, wordforms.synonyms(settings.synonyms))
    return query


def _term(text: str, *, exact: bool, phrase: bool = False) -> Term | None:
    prefix = not phrase and text.endswith("*")
    text = text.rstrip("*") if prefix else text
    slots: list[tuple[str, ...]] = []
    for part in text.split() if phrase else [text]:
        pieces = _APOSTROPHE.split(part)
        ending = pieces[-1].lower() if len(pieces) > 1 else None
        if ending in _APOSTROPHE_FORMS and not exact and not prefix:
            slots += [(t,) for t in wordforms.words(" ".join(pieces[:-1]))]
            if slots and _APOSTROPHE_FORMS[ending]:
                slots.append(_APOSTROPHE_FORMS[ending])
            continue
        slots += [(t,) for t in wordforms.words(part)]
    if not slots:
        return None
    return Term(tuple(slots), exact=exact, prefix=prefix)


def _add_synonyms(query: Query, synonyms: wordforms.Synonyms) -> None:
    """Give every word, phrase, and run of typed words that is a synonym its alternatives."""
    def alternatives(term: Term) -> list[Term]:
        if term.exact or term.prefix or term.synonym:
            return []
        return [Term(tuple((t,) for t in p), synonym=True) for p in synonyms.alternatives(term.typed)]

    for group in query.groups:
        group += [a for t in list(group) if isinstance(t, Term) for a in alternatives(t) if a not in group]
    query.excluded += [a for t in list(query.excluded) if isinstance(t, Term) for a in alternatives(t)
                       if a not in query.excluded]
    # Runs of plain words: "kunstmatige intelligentie" typed without quotes also finds AI.
    plain = [len(g) == 1 and isinstance(g[0], Term) and not g[0].exact and not g[0].prefix for g in query.groups]
    start = 0
    while start < len(query.groups):
        for end in range(min(len(query.groups), start + synonyms.longest), start + 1, -1):
            if not all(plain[start:end]):
                continue
            run = [g[0] for g in query.groups[start:end]]
            tokens = tuple(token for term in run for token in term.typed)  # type: ignore[union-attr]
            found = [Term(tuple((t,) for t in p), synonym=True) for p in synonyms.alternatives(tokens)]
            if found:
                query.groups[start:end] = [[AllOf(tuple(run)), *found]]
                plain[start:end] = [False]
                break
        start += 1


def compile(store: Store, text: str, settings: Settings | None = None) -> Match:
    """A query compiled against the corpus's vocabulary. Raises QueryError for a query that
    cannot run, with the reason: ``alerts add`` and ``alerts edit`` call this to refuse one."""
    query = parse(text, settings or store.search_settings)
    index = store.search_index
    match = compiled(query, index.forms(query.tokens(), query.settings.max_forms))
    index.check(match.fts)
    return match


def compiled(query: Query, forms: Mapping[str, Sequence[str]]) -> Match:
    full, typed = query.fts(forms), query.fts(None, as_typed=True)
    return Match(full, typed if typed != full else None)


check_query = compile  # the name the alerts use: compile and discard


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

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Hit:
        return cls(id=row["id"], title=row["title"], kind=row["kind"], url=row["url"], published=row["published"],
                   sources=sorted(row["sources"].split(",")) if row["sources"] else [],
                   snippet=row["snippet"] or "", rank=row.get("rank"))


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


def search(store: Store, text: str, *, since: str | None = None, until: str | None = None,
           sources: list[str] | None = None, kinds: list[str] | None = None,
           organisations: list[str] | None = None, dossier: str | None = None, ids: list[str] | None = None,
           figure: FigureCondition | None = None, sort: str = "relevance", limit: int = 20,
           offset: int = 0) -> list[Hit]:
    """Search documents. ``organisations`` are organisation ids (resolve names with ``org_ids``);
    ``ids`` restricts the search to those documents (alerts match what a run changed);
    ``figure`` keeps documents with a figure that meets the condition. How it stays fast on a
    million documents: monitor/store/search.py."""
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if limit < 1:
        raise QueryError("limit must be at least 1")
    match = compile(store, text)
    rows = store.search_index.find(match.fts, match.typed, _filters(since=since, until=until, sources=sources,
                                   kinds=kinds, organisations=organisations, dossier=dossier, ids=ids,
                                   figure=figure), sort=sort, limit=limit, offset=offset,
                                   snippet_tokens=store.search_settings.snippet_tokens)
    return [Hit.of(r) for r in rows]


def _filters(**filters: Any) -> dict[str, Any]:
    figure = filters.pop("figure", None)
    return {**filters, "figure": None if figure is None else
            {"unit": figure.unit, "subject": figure.subject, "op": figure.op, "value": figure.value}}


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
        ids = store.search_index.organisation_ids(name)
        if not ids:
            raise QueryError(f"no organisation known as {name!r}")
        found += ids
    return found


# --- saved searches -------------------------------------------------------------------------


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
    cap = store.search_settings.max_matches
    if query.strip():
        return search(store, query, **filters, limit=len(ids) if ids else cap)
    index = store.search_index
    rows = index.filtered(_filters(until=None, **filters), limit=cap, lead_chars=store.search_settings.lead_chars)
    hits = [Hit.of(row) for row in rows]
    if not (organisations or figure):  # nothing to point at: the start of the text (alerts ask for many)
        return hits
    condition = _filters(figure=figure)["figure"]
    return [replace(hit, snippet=_evidence(index.evidence(hit.id, organisations, condition)) or hit.snippet)
            for hit in hits]


def among(store: Store, query: str, ids: list[str]) -> list[str]:
    """Those of ``ids`` whose words ``query`` finds, in the order given (a saved search's words,
    asked about the documents one run changed, however many the corpus holds)."""
    return store.search_index.among(compile(store, query).fts, ids) if ids else []


def _evidence(found: tuple[str, str] | None) -> str | None:
    """The sentence of a figure or mention, with its text marked."""
    if found is None:
        return None
    text, sentence = found
    at = sentence.find(text)
    if at < 0:
        return sentence
    return sentence[:at] + MARK_START + text + MARK_END + sentence[at + len(text):]


def facts(store: Store, doc_id: str) -> dict[str, list[Any]]:
    """The figures and organisations found in a document, for an alert message."""
    return store.search_index.facts(doc_id)
