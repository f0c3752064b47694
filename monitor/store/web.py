"""The SQL of the served pages (monitor/datasette_plugin.py, monitor/serve.py).

Datasette runs these on its own read-only connections to the corpus: the facet statements as
text wrapped around the table query Datasette builds (a facet must be a statement of its own for
its time limit), the rest as functions of one ``sqlite3.Connection`` handed in through
``Database.execute_fn``. Search's statements are in :mod:`monitor.store.search`.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def year_facet_sql(table_sql: str, limit: int) -> str:
    """Documents per publication year of the rows of ``table_sql``, newest year first."""
    return f"""select substr(published, 1, 4) as value, substr(published, 1, 4) as label, count(*) as count
               from ({table_sql}) where published is not null
               group by value order by value desc limit {int(limit)}"""


def organisation_facet_sql(table_sql: str, limit: int) -> str:
    """Documents per organisation named in the rows of ``table_sql``, most documents first."""
    return f"""select m.organisation_id as value, o.canonical as label, count(distinct m.document_id) as count
               from mentions m join organisations o on o.id = m.organisation_id
               where m.document_id in (select id from ({table_sql}))
               group by m.organisation_id order by count desc, label limit {int(limit)}"""


def year_filter(low: str, high: str) -> str:
    """A ``where`` clause for documents published in [low, high) (years as ``YYYY``), with
    ``:low`` and ``:high`` as parameter names.

    A range on ``sort_key`` ("<published> <id>"), the column the documents table is ordered by:
    the same documents as a range on ``published``, read in order from its index (a range on
    ``published`` made SQLite sort the whole year: 268 ms at 200,000 documents, not 0)."""
    return f"sort_key >= :{low} and sort_key < :{high}"


def document_findings(conn: sqlite3.Connection, doc_id: str, *, figures_limit: int) -> dict[str, Any]:
    """The organisations named in a document, its figures and its dossiers, for its page."""
    def rows(sql: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        cursor = conn.cursor()
        cursor.row_factory = sqlite3.Row  # the connection's own factory is Datasette's business
        return cursor.execute(sql, params).fetchall()

    organisations = rows(
        """select o.id, o.canonical, count(*) as mentions
           from mentions m join organisations o on o.id = m.organisation_id
           where m.document_id = :id group by o.id order by mentions desc, o.canonical""", {"id": doc_id})
    figures = rows("""select id, text, value, unit, subject, sentence from figures where document_id = :id
                      order by start limit :limit""", {"id": doc_id, "limit": figures_limit})
    dossiers = rows("select value from documents, json_each(documents.dossiers) where documents.id = :id",
                    {"id": doc_id})
    return {"organisations": organisations, "figures": figures, "dossiers": [r[0] for r in dossiers]}


def _quoted(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def largest_rowid_sql(table: str) -> str:
    """The largest rowid of ``table``: one b-tree descent, which tells a big table without
    counting it (SQLite counts in one step no time limit can interrupt: 2 s for a million rows)."""
    return f"select max(rowid) from {_quoted(table)}"


def count_sql(table: str) -> str:
    return f"select count(*) from {_quoted(table)}"
