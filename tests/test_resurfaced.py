"""Old documents re-sent by a source are not new publications (issue 14: "an unchanged old letter
must not become a 'new publication'").

The store decides, when it stores a document it never had: published before the run's horizon
(``[alerts] new_within_days``, 30 days) it is ``resurfaced``; alerts match ``new``, not that. The
whole path (the Tweede Kamer's SyncFeed re-sending a 2019 document, through pipeline, store and
alerts) is in test_tweedekamer; here the store's rule and `import`, which counts everything it
adds as new.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from alerting import write_toml
from monitor.cli import cli
from monitor.store import Store
from monitor.store.private import PrivateStore
from scrapers.base import Document


def doc(key: str, published: str | None, text: str = "Ondernemers en het mkb.") -> Document:
    return Document(source="feed", source_key=key, url=f"https://x.example/{key}", title=f"Titel {key}", text=text,
                    kind="news", published=published)


def reasons(store: Store) -> dict[str, str]:
    return dict(store._db.execute("SELECT d.url, c.reason FROM changes c JOIN documents d ON d.id = c.document_id "
                                  "ORDER BY c.seq").fetchall())


def test_a_document_first_stored_long_after_its_date_is_resurfaced(tmp_path):
    with Store(tmp_path / "monitor.db") as store:
        with store.transaction():
            store.ensure_source("feed", "feed")
            outcomes = [store.put_document(d, new_since="2026-11-05") for d in (
                doc("old", "2019-04-26"), doc("zoned", "2026-01-01T10:00:00+01:00"), doc("recent", "2026-11-30"),
                doc("horizon", "2026-11-05"), doc("undated", None))]
        assert [o.status for o in outcomes] == ["new"] * 5  # stored: new to the corpus all the same
        assert reasons(store) == {"https://x.example/old": "resurfaced", "https://x.example/zoned": "resurfaced",
                                  "https://x.example/recent": "new", "https://x.example/horizon": "new",
                                  "https://x.example/undated": "new"}
        with store.transaction():  # sent again unchanged: nothing; edited later: an edit, as for any document
            again = store.put_document(doc("old", "2019-04-26"), new_since="2026-11-05")
            edited = store.put_document(doc("old", "2019-04-26", "Ondernemers en het mkb, herzien."),
                                        new_since="2026-11-05")
        assert (again.change, edited.change) == (None, "edited")
        with store.transaction():  # without a horizon (reprocess, import) everything first seen is new
            assert store.put_document(doc("older", "2001-01-01")).change == "new"


def test_what_import_adds_is_new_whatever_its_date(tmp_path):
    """An import is a person loading documents on purpose: a saved search matches what it adds,
    however old (the README's example imports years of government texts)."""
    config = write_toml(tmp_path)
    db = tmp_path / "data" / "monitor.db"
    args = ["--config", str(config), "--db", str(db)]
    path = tmp_path / "old.jsonl"
    path.write_text(json.dumps({"id": "brief-2016", "title": "Brief over ondernemers", "published": "2016-02-12",
                                "text": "Een brief over ondernemers en het mkb."}) + "\n", "utf-8")
    assert CliRunner().invoke(cli, [*args, "alerts", "add", "ondernemers", "ondernemers"]).exit_code == 0
    imported = CliRunner().invoke(cli, [*args, "import", str(path), "--no-extract", "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)
    assert report["alerts"]["hits"] == 1 and report["alerts"]["resurfaced"] == 0
    with Store(db, readonly=True) as store:
        assert [r[0] for r in store._db.execute("SELECT reason FROM changes")] == ["new"]
    with PrivateStore(db.with_suffix(".private.db"), readonly=True) as private:
        assert [r[0] for r in private.db.execute("SELECT document_id FROM hits")] == ["brief-2016"]
