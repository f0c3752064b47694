"""The Datasette plugin of mkb-monitor: what plain Datasette lacks for this corpus.

- a bounded search of the documents table (``_q=``: the newest matches only), so a word found in
  most documents is as quick to list, count and facet as a rare one;
- facets on the documents table by organisation (through ``mentions``) and by year;
- a ``_year=`` filter that the year facet toggles, answered from the ``published`` index;
- search hits with FTS5's own ``snippet()`` and ``highlight()``, escaped before the match is marked;
- links from the ``document_id`` and ``figure_id`` columns of stored queries to those rows;
- an Atom feed (``.atom``) of every table page, search and stored query that lists documents;
- a startup check that refuses to serve the corpus immutable or without locking (RELIABILITY S7);
- a 400, never a 500, for a query parameter Datasette cannot use, and ``nosniff`` on every response.

``monitor.serve`` registers it; it only acts on the corpus database (``CORPUS``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import ColumnFacet, Facet
from datasette.filters import FilterArguments
from datasette.utils import path_with_added_args, path_with_removed_args, tilde_encode
from datasette.utils.asgi import BadRequest, Request, Response
from feedgen.feed import FeedGenerator
from markupsafe import Markup, escape

from monitor.errors import ConfigError, QueryError
from monitor.search import MARK_END, MARK_START, Match, Settings, compiled, parse
from monitor.store import web
from monitor.store.search import SearchIndex, web_filter
from monitor.text import xml_safe

CORPUS = "monitor"  # the name the corpus is served under, whatever its file is called
DOCUMENTS = "documents"
# FTS5 marks the match with these (Unicode private use, never in a sentence): the text is escaped
# first and only then are they turned into <mark>, so stored HTML can never become markup.
_OPEN, _CLOSE = MARK_START, MARK_END
SEARCH_ARG = "_q"  # our search: bounded, with snippets (Datasette's own _search is sent here)


# --- safety -----------------------------------------------------------------------------------


def check_safe(datasette: Any) -> None:
    """Refuse a launch that would read the corpus while ignoring the scraper's writes: an
    immutable database (``-i``) is assumed never to change, ``--nolock`` drops SQLite's locks;
    either can show torn pages of a file that a run is writing."""
    if datasette.nolock:
        raise ConfigError("refusing to serve with --nolock: the corpus is written while it is served")
    for name, db in datasette.databases.items():
        if db.path and not db.is_mutable:
            raise ConfigError(f"refusing to serve {db.path} as immutable (-i): the scraper writes it; "
                              "serve it as a normal (mutable) file")


@hookimpl
def startup(datasette: Any) -> None:
    check_safe(datasette)


# Datasette 0.65 parses these parameters without a guard, so a bad value was a 500 (a ValueError,
# a KeyError): each is checked before Datasette sees it. The other parameters Datasette refuses
# itself, with a DatasetteError (see handle_exception) or an SQLite error (monitor.serve).
_BOOLEANS = {"on", "off", "true", "false", "1", "0"}


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _json_object(value: str) -> dict[str, Any] | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _facet_config_ok(value: str) -> bool:
    if not value.startswith("{"):
        return True  # a column name: Datasette checks it
    config = _json_object(value)
    return config is not None and isinstance(config.get("column", config.get("simple")), str)


def _through_ok(value: str) -> bool:
    through = _json_object(value)
    return (through is not None and isinstance(through.get("table"), str) and isinstance(through.get("column"), str)
            and isinstance(through.get("value", []), str | int | float | bool | None))


def _in_list_ok(value: str) -> bool:
    if not value.startswith("["):
        return True  # comma-separated values
    try:
        values = json.loads(value)
    except ValueError:
        return False
    return isinstance(values, list) and all(isinstance(v, str | int | float | bool | None) for v in values)


def bad_parameter(query: Iterable[tuple[str, str]]) -> str | None:
    """What is wrong with the first query parameter Datasette would fail on, or None."""
    for key, value in query:
        if key == "_json_infinity" and value.lower() not in _BOOLEANS:
            return f"_json_infinity must be on or off, not {value!r}"
        if key == "_timelimit" and not _is_int(value):
            return f"_timelimit must be a number of milliseconds, not {value!r}"
        if key.startswith("_facet") and not _facet_config_ok(value):  # _facet_size too: Datasette reads it as one
            return f'{key} must name a column, or be JSON such as {{"column": "kind"}}, not {value!r}'
        if key == "_through" and not _through_ok(value):
            return ('_through must be JSON such as {"table": "mentions", "column": "organisation_id", "value": "kvk"}, '
                    f"not {value!r}")
        if key.endswith(("__in", "__notin")) and not _in_list_ok(value):
            return f'{key} must be values separated by commas, or a JSON list such as ["a", "b"], not {value!r}'
    return None


async def error_page(datasette: Any, request: Request, message: str, status: int) -> Response:
    """Datasette's own error page (or JSON for a .json path) for ``message``."""
    from datasette import handle_exception as datasette_errors  # after datasette.app (see monitor.serve)
    from datasette.views.base import DatasetteError

    return await datasette_errors.handle_exception(datasette, request, DatasetteError(message, status=status))()


@hookimpl(specname="asgi_wrapper")
def guard_requests(datasette: Any) -> Any:
    """Refuse a query parameter Datasette would fail on with a 400 before Datasette parses it, and
    send ``X-Content-Type-Options: nosniff`` with every response, so that no browser takes a CSV
    (``text/plain``) or a JSON answer holding stored HTML for a page to render."""

    def wrap(app: Any) -> Any:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)

            async def send_nosniff(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                    message = {**message, "headers": [*headers, (b"x-content-type-options", b"nosniff")]}
                await send(message)

            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            problem = bad_parameter(query)
            if problem:
                response = await error_page(datasette, Request(scope, receive), problem, 400)
                return await response.asgi_send(send_nosniff)
            await app(scope, receive, send_nosniff)

        return guarded

    return wrap


@hookimpl(tryfirst=True)
def handle_exception(datasette: Any, request: Any, exception: Exception) -> Any:
    """The client's errors that Datasette 0.65 answers with a 500: a DatasetteError raised without
    a status for a parameter it refuses (``_sort`` by a column that is not sortable, ``_sort``
    with ``_sort_desc``, a ``_through`` without a foreign key) becomes the 400 it is, which
    Datasette's own handler (run after this one) renders; a query past the time limit on a CSV
    page (the other formats answer 400 already) is a 400 too."""
    from datasette.views.base import DatasetteError

    if isinstance(exception, DatasetteError) and exception.status == 500:
        exception.status = 400
    elif isinstance(exception, QueryInterrupted):
        return error_page(datasette, request, "SQL query took too long: ask for less, or filter first "
                                              f"(the time limit is {datasette.setting('sql_time_limit_ms')} ms)", 400)
    return None


# --- search, year filter and facets -------------------------------------------------------------


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """Send Datasette's own ``_search`` on the documents table to the bounded search.

    Datasette orders every match of ``_search`` before it returns a page: a word in most of a
    million documents runs past the SQL time limit. The same request as ``_q`` answers in ~0.1 s
    (the newest matches), so a bookmarked or hand-typed ``_search`` URL still works."""
    table_paths = {f"/{CORPUS}/{DOCUMENTS}" + suffix for suffix in ("", ".json", ".csv", ".atom")}

    def wrap(app: Any) -> Any:
        async def redirect_search(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] in table_paths:
                query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
                if any(key == "_search" for key, _ in query):
                    moved = [(SEARCH_ARG if key == "_search" else key, value) for key, value in query]
                    location = scope["path"] + "?" + urlencode(moved)
                    await send({"type": "http.response.start", "status": 302,
                                "headers": [(b"location", location.encode("latin-1")),
                                            (b"content-length", b"0")]})
                    await send({"type": "http.response.body", "body": b""})
                    return
            await app(scope, receive, send)

        return redirect_search

    return wrap


async def compiled_search(datasette: Any, database: str, text: str) -> Match:
    """The search as the command line and the alerts compile it, against this corpus."""
    settings = search_settings(datasette)
    query = parse(text, settings)
    forms = await datasette.get_database(database).execute_fn(
        lambda conn: SearchIndex(conn).forms(query.tokens(), settings.max_forms))
    return compiled(query, forms)


def search_settings(datasette: Any) -> Settings:
    """The ``[search]`` config that ``monitor.serve`` hands the plugin (defaults without it)."""
    return Settings.of((datasette.plugin_config("mkb-monitor") or {}).get("search"))


@hookimpl
def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> Any:
    if database != CORPUS or table != DOCUMENTS:
        return None

    async def filters() -> FilterArguments | None:
        where: list[str] = []
        params: dict[str, str] = {}
        said: list[str] = []
        search = request.args.get(SEARCH_ARG)
        if search:
            try:
                match = await compiled_search(datasette, database, search)
            except QueryError as exc:
                raise BadRequest(f"search {search!r}: {exc}") from None
            limit = search_settings(datasette).web_max_matches
            where.append(web_filter("q", limit))
            params["q"] = match.fts
            said.append(f'search matches "{search}" (the newest {limit:,} matches at most)')
        year = request.args.get("_year")
        if year and len(year) == 4 and year.isdigit():
            where.append(web.year_filter("year_low", "year_high"))
            params.update(year_low=year, year_high=str(int(year) + 1))
            said.append(f"published in {year}")
        elif year:
            where.append("0")
            said.append(f"published in {year!r}, which is not a year")
        return FilterArguments(where, params, said) if where else None

    return filters


# Above this many rows a facet is left out rather than left to time out: counting a column means
# reading every row, about 5 us each when the file is in the page cache.
FACET_MAX_ROWS = 10_000


def too_many_rows(facet: Facet, max_rows: int) -> bool:
    return facet.row_count is None or facet.row_count > max_rows


class CountedColumnFacet(ColumnFacet):
    """Datasette's column facet (``{counted: source}`` in metadata), shown as a column facet but
    left out when the filtered rows exceed FACET_MAX_ROWS: on the unfiltered table of a million
    documents it can only time out."""

    type = "counted"

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        if not self.get_configs() or too_many_rows(self, FACET_MAX_ROWS):
            return [], []
        results, timed_out = await super().facet_results()
        return [{**result, "type": "column"} for result in results], timed_out


class _CorpusFacet(Facet):
    """A facet computed by one SQL query over the filtered rows; subclasses give the SQL."""

    max_rows = FACET_MAX_ROWS

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    def facet_sql(self, limit: int) -> str:
        raise NotImplementedError

    def selected(self) -> set[str]:
        raise NotImplementedError

    def toggle(self, value: str, selected: bool) -> str:
        raise NotImplementedError

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        configs = self.get_configs()
        if not configs or self.database != CORPUS or self.table != DOCUMENTS:
            return [], []
        if too_many_rows(self, self.max_rows):
            return [], []
        size = self.get_facet_size()
        try:
            result = await self.ds.execute(self.database, self.facet_sql(size + 1), self.params,
                                           truncate=False, custom_time_limit=self.ds.setting("facet_time_limit_ms"))
        except QueryInterrupted:
            return [], [self.type]
        chosen = self.selected()
        values = []
        for row in result.rows[:size]:
            value = str(row["value"])
            values.append({"value": row["value"], "label": row["label"], "count": row["count"],
                           "selected": value in chosen,
                           "toggle_url": self.ds.absolute_url(self.request, self.toggle(value, value in chosen))})
        return [{
            "name": configs[0]["config"].get("simple", self.type), "type": self.type, "results": values,
            "hideable": configs[0]["source"] != "metadata",
            "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {f"_facet_{self.type}": None})),
            "truncated": len(result.rows) > size,
        }], []


class YearFacet(_CorpusFacet):
    """Documents per publication year, newest year first; a click filters with ``_year=``."""

    type = "year"

    def facet_sql(self, limit: int) -> str:
        return web.year_facet_sql(self.sql, limit)

    def selected(self) -> set[str]:
        return set(self.request.args.getlist("_year"))

    def toggle(self, value: str, selected: bool) -> str:
        if selected:
            return path_with_removed_args(self.request, {"_year": value})
        return path_with_added_args(self.request, {"_year": value})


class OrganisationFacet(_CorpusFacet):
    """Documents per organisation named in them (``mentions``); a click adds Datasette's own
    ``_through`` filter, so the selection reads "mentions.organisation_id = ..."."""

    type = "organisation"
    max_rows = 2_000  # the mentions of that many documents are what the facet time limit allows

    def facet_sql(self, limit: int) -> str:
        return web.organisation_facet_sql(self.sql, limit)

    def _through(self, value: str) -> str:
        return json.dumps({"table": "mentions", "column": "organisation_id", "value": value})

    def selected(self) -> set[str]:
        chosen = set()
        for raw in self.request.args.getlist("_through"):
            try:
                through = json.loads(raw)
            except ValueError:
                continue
            if isinstance(through, dict) and through.get("table") == "mentions":
                chosen.add(str(through.get("value")))
        return chosen

    def toggle(self, value: str, selected: bool) -> str:
        change = {"_through": self._through(value)}
        return path_with_removed_args(self.request, change) if selected else path_with_added_args(self.request, change)


@hookimpl
def register_facet_classes() -> list[type[Facet]]:
    return [CountedColumnFacet, YearFacet, OrganisationFacet]


# --- search hits --------------------------------------------------------------------------------


def marked(fts_text: str | None) -> Markup:
    """FTS5 output with the match between the private-use markers, as safe HTML."""
    text = str(escape(fts_text or ""))
    return Markup(text.replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"))


async def search_hits(datasette: Any, database: str, search: str, ids: Iterable[str]) -> dict[str, dict[str, Markup]]:
    """Highlighted title and snippet of each document ``id`` for the search ``search``: the
    forms that matched marked, as in the command line's snippets and the alerts'."""
    try:
        match = await compiled_search(datasette, database, search)
    except QueryError:
        return {}
    tokens = search_settings(datasette).web_snippet_tokens

    def highlight(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
        try:
            return SearchIndex(conn).highlighted(match.fts, list(ids), tokens)
        except sqlite3.DatabaseError:
            return {}  # the plain rows are still shown; hits without snippets are no reason to fail

    rows = await datasette.get_database(database).execute_fn(highlight)
    return {doc_id: {"title": marked(title), "snippet": marked(snippet)} for doc_id, (title, snippet) in rows.items()}


@hookimpl
def extra_template_vars(datasette: Any, database: str, table: str, request: Any) -> dict[str, Any]:
    if database != CORPUS:
        return {}

    async def hits(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Markup]]:
        search = (request.args.get(SEARCH_ARG) or request.args.get("_search")) if request else None
        if not search or table != DOCUMENTS:
            return {}
        return await search_hits(datasette, database, search, [row["id"] for row in rows])

    def document_path(doc_id: str) -> str:
        return datasette.urls.row(database, DOCUMENTS, tilde_encode(str(doc_id)))

    async def findings(doc_id: str) -> dict[str, Any]:
        return await document_findings(datasette, database, doc_id)

    return {"search_hits": hits, "document_path": document_path, "document_findings": findings,
            "link_labels": LINK_LABELS, "search_arg": SEARCH_ARG}


# The document page names the tables that point at a document as a reader would.
LINK_LABELS = {"figures": "Figures", "mentions": "Organisation mentions", "document_sources": "Sources it was seen in",
               "document_versions": "Earlier versions", "document_aliases": "Other keys", "changes": "Changes"}
FIGURES_ON_PAGE = 100


async def document_findings(datasette: Any, database: str, doc_id: str) -> dict[str, Any]:
    """The organisations named in a document and the figures found in it, for its page."""
    return await datasette.get_database(database).execute_fn(
        lambda conn: web.document_findings(conn, doc_id, figures_limit=FIGURES_ON_PAGE))


# Stored queries return plain values; these columns become links to the row they name.
_LINKED_COLUMNS = {"document_id": DOCUMENTS, "figure_id": "figures"}


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Markup | None:
    if table is not None or database != CORPUS or value is None or column not in _LINKED_COLUMNS:
        return None
    path = datasette.urls.row(database, _LINKED_COLUMNS[column], tilde_encode(str(value)))
    return Markup('<a href="{}">{}</a>').format(path, value)


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path("/mkb-static/mkb.css")]


# --- Atom feeds --------------------------------------------------------------------------------

# Which column identifies an entry, and whose row page it is (None: the table being shown).
_ENTRY_KEYS = (("figure_id", "figures"), ("id", None), ("document_id", DOCUMENTS))
_CONTENT_COLUMNS = ("sentence", "snippet", "text")
_FEED_ENTRY_CHARS = 1000


def _entry_key(columns: Iterable[str], table: str | None) -> tuple[str, str] | None:
    names = set(columns)
    if "title" not in names:
        return None
    for column, row_table in _ENTRY_KEYS:
        if column in names and (row_table or table == DOCUMENTS or table is None):
            return column, row_table or DOCUMENTS
    return None


def can_render_atom(columns: list[str], table: str | None, database: str) -> bool:
    return database == CORPUS and _entry_key(columns, table) is not None


def atom_time(*values: str | None) -> datetime:
    """The first usable time among ``values``; a bare date is midnight UTC, a naive time is UTC."""
    for value in values:
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


def render_atom(datasette: Any, request: Any, columns: list[str], rows: list[Any], database: str,
                table: str | None, query_name: str | None, data: dict[str, Any]) -> Response:
    key = _entry_key(columns, table)
    if key is None or database != CORPUS:
        return Response.text("This result has no documents to make a feed of (it needs title and id columns)",
                             status=400)
    key_column, row_table = key
    meta = datasette.metadata(database=database) or {}
    if query_name:
        title = (meta.get("queries", {}).get(query_name) or {}).get("title") or query_name
    else:
        title = (meta.get("tables", {}).get(table) or {}).get("title") or table
    if data.get("human_description_en"):
        title += ": " + data["human_description_en"]
    # Every text through xml_safe: one character XML 1.0 forbids (a \x01 in a stored title, or in
    # the search that names the feed) makes lxml refuse the whole feed.
    feed = FeedGenerator()
    feed.id(request.url)
    feed.title(xml_safe(f"mkb-monitor: {title}"))
    feed.link(href=request.url, rel="self")
    feed.link(href=request.url.replace(".atom", "", 1), rel="alternate")
    feed.generator("mkb-monitor (Datasette)")
    entries = []
    for row in rows:
        record = dict(row)
        path = datasette.urls.row(database, row_table, tilde_encode(str(record[key_column])))
        page = datasette.absolute_url(request, path)
        updated = atom_time(record.get("published"), record.get("updated"), record.get("first_seen"))
        entries.append((updated, page, record))
    if entries:
        feed.updated(max(updated for updated, _, _ in entries))
    for updated, page, record in reversed(entries):  # feedgen prepends: keep the page's order
        entry = feed.add_entry()
        entry.id(page)
        entry.title(xml_safe(str(record.get("title") or record[key_column])))
        entry.updated(updated)
        entry.link(href=page)  # one link: feedgen 1.0 writes no rel, so a second would also be "alternate"
        content = next((record[c] for c in _CONTENT_COLUMNS if record.get(c)), None)
        if content:  # plain text: a feed reader escapes it, so stored HTML never becomes markup
            text = xml_safe(str(content).replace(_OPEN, "").replace(_CLOSE, ""))
            entry.content(text[:_FEED_ENTRY_CHARS], type="text")
    return Response(feed.atom_str(pretty=True), content_type="application/atom+xml; charset=utf-8")


@hookimpl
def register_output_renderer(datasette: Any) -> dict[str, Any]:
    return {"extension": "atom", "render": render_atom, "can_render": can_render_atom}
