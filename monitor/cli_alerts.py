"""The alert commands of ``mkb-monitor``: saved searches (``alerts``), ``deliver`` and ``watch``.

Registered on the root group in ``monitor.cli``: ``cli.add_command(alerts)``,
``cli.add_command(deliver)``, ``cli.add_command(watch)``. The commands read the root group's
context object (``ctx.obj``: ``.config`` and ``.store()``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor import alerts as alerts_module
from monitor import lock, notify, pipeline, userinput
from monitor.alerts import SavedSearch, utc_now
from monitor.config import Config
from monitor.display import cell, markup, number, plain
from monitor.errors import DeliveryError, QueryError, code_of
from monitor.runs import RunReport
from monitor.store import Store
from monitor.store.private import PrivateStore, stamp

console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages are lines: the terminal wraps them, logs keep them whole


def _private(obj: Any) -> PrivateStore:
    return PrivateStore.open(obj.config)


@contextmanager
def _corpus(obj: Any) -> Iterator[Store | None]:
    """The corpus, read-only, when there is one (saving a search does not need it)."""
    if not obj.config.db_path.exists():
        yield None
        return
    with Store.open(obj.config, readonly=True) as store:
        yield store


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _saved(private: PrivateStore, name: str) -> dict[str, Any]:
    row = private.search(name)
    if row is None:
        raise click.ClickException(f"no saved search named {name!r} (see `mkb-monitor alerts list`)")
    return row


def _criteria(f: Any) -> Any:
    """The options that define what a saved search matches (shared by add and edit)."""
    for option in reversed([
        click.option("--source", "sources", multiple=True, help="Only documents seen in this source (repeatable)."),
        click.option("--kind", "kinds", multiple=True, help="Only this document kind (repeatable)."),
        click.option("--org", "orgs", multiple=True,
                     help="Only documents naming this organisation: name, alias or id (repeatable)."),
        click.option("--dossier", help="Only documents in this Kamerstuk dossier."),
        click.option("--figure", help="Only documents with such a figure, e.g. \"unit=percent subject~mkb'ers value>=50\"."),
        click.option("--digest", type=click.Choice(alerts_module.DIGESTS),
                     help="Send each match (default), or an hourly or daily digest."),
        click.option("--email", "emails", multiple=True, help="Send to this e-mail address (repeatable)."),
        click.option("--webhook", "webhooks", multiple=True,
                     help="POST signed JSON to this URL (repeatable; a secret is made and shown once)."),
        click.option("--atom/--no-atom", default=None, help="Keep an Atom feed of this search in [alerts] feed_dir."),
        click.option("--console/--no-console", "to_console", default=None, help="Print matches when a run finds them."),
        click.option("--backfill-days", type=click.IntRange(1, 3650),
                     help="Also alert, once, on documents published or changed in the last N days."),
    ]):
        f = option(f)
    return f


@click.group()
def alerts() -> None:
    """Saved searches that alert by e-mail, webhook, Atom feed or on the console."""


@alerts.command(name="add")
@click.argument("name")
@click.argument("query", nargs=-1)
@_criteria
@click.pass_obj
def add(obj: Any, name: str, query: tuple[str, ...], sources: tuple[str, ...], kinds: tuple[str, ...],
        orgs: tuple[str, ...], dossier: str | None, figure: str | None, digest: str | None,
        emails: tuple[str, ...], webhooks: tuple[str, ...], atom: bool | None, to_console: bool | None,
        backfill_days: int | None) -> None:
    """Save a search NAME for QUERY (same syntax as `search`; may be empty when filters are given)."""
    search = SavedSearch(name=name, query=" ".join(query), sources=sources, kinds=kinds, organisations=orgs,
                         dossier=dossier, figure=alerts_module.parse_figure(figure) if figure else None,
                         digest=digest or "each")
    _check_channels(obj.config, emails, webhooks)
    with _corpus(obj) as corpus, _private(obj) as private:
        search_id = alerts_module.save(private, corpus, search, now=utc_now())
        _set_channels(private, search_id, emails=emails, webhooks=webhooks, atom=atom,
                      to_console=to_console if to_console is not None else not (emails or webhooks or atom))
        if backfill_days:
            _backfill(obj.config, private, corpus, search_id, backfill_days)
    err.print(f"saved search {markup(repr(name))} (id {search_id})")


@alerts.command(name="edit")
@click.argument("name")
@click.option("--query", help="Replace the words (\"\" for filters only).")
@click.option("--rename", help="A new name.")
@click.option("--enable/--disable", default=None, help="A disabled search collects no backlog.")
@click.option("--remove-email", "removed_emails", multiple=True, help="Stop sending to this address.")
@click.option("--remove-webhook", "removed_webhooks", multiple=True, help="Stop posting to this URL.")
@_criteria
@click.pass_obj
def edit(obj: Any, name: str, query: str | None, rename: str | None, enable: bool | None,
         removed_emails: tuple[str, ...], removed_webhooks: tuple[str, ...], sources: tuple[str, ...],
         kinds: tuple[str, ...], orgs: tuple[str, ...], dossier: str | None, figure: str | None,
         digest: str | None, emails: tuple[str, ...], webhooks: tuple[str, ...], atom: bool | None,
         to_console: bool | None, backfill_days: int | None) -> None:
    """Change a saved search. A filter option given replaces that filter ("" clears --dossier and
    --figure). Documents already alerted are not sent again; new criteria apply to documents
    that change from now on, or to the last N days with --backfill-days."""
    _check_channels(obj.config, emails, webhooks)
    with _corpus(obj) as corpus, _private(obj) as private:
        old = SavedSearch.from_row(_saved(private, name))
        updates: dict[str, Any] = {k: v for k, v in {
            "name": rename, "query": query, "sources": sources, "kinds": kinds, "organisations": orgs,
            "digest": digest, "enabled": enable}.items() if v not in (None, ())}
        if dossier is not None:
            updates["dossier"] = dossier or None
        if figure is not None:
            updates["figure"] = alerts_module.parse_figure(figure) if figure else None
        new = dataclasses.replace(old, **updates)
        alerts_module.edit(private, corpus, new, now=utc_now())
        assert old.id is not None
        with private.transaction():
            for address in removed_emails:
                private.remove_channel(old.id, "email", address)
            for url in removed_webhooks:
                private.remove_channel(old.id, "webhook", url)
        _set_channels(private, old.id, emails=emails, webhooks=webhooks, atom=atom, to_console=to_console)
        if backfill_days:
            _backfill(obj.config, private, corpus, old.id, backfill_days)
    err.print(f"saved search {markup(repr(new.name))} updated")


def _check_channels(config: Config, emails: Iterable[str], webhooks: Iterable[str]) -> None:
    """Refuse a bad address or a webhook to a private address before anything is saved (D7)."""
    for url in webhooks:
        try:
            notify.check_webhook_url(url, allow_private=config.alerts.allow_private_webhooks)
        except DeliveryError as exc:
            raise click.BadParameter(str(exc), param_hint="--webhook") from None
    for address in emails:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
            raise click.BadParameter(f"{address!r} is not an e-mail address", param_hint="--email")


def _set_channels(private: PrivateStore, search_id: int, *, emails: Iterable[str], webhooks: Iterable[str],
                  atom: bool | None, to_console: bool | None) -> None:
    with private.transaction():
        for address in emails:
            private.add_channel(search_id, "email", address)
        for url in webhooks:
            secret = notify.new_webhook_secret()
            private.add_channel(search_id, "webhook", url, secret)
            err.print(f"webhook {markup(url)}: signing secret [bold]{secret}[/] (shown once; verify the "
                      "webhook-signature header with it)")
        for kind, wanted in (("atom", atom), ("console", to_console)):
            if wanted:
                private.add_channel(search_id, kind)
            elif wanted is False:
                private.remove_channel(search_id, kind)


def _backfill(config: Config, private: PrivateStore, corpus: Store | None, search_id: int, days: int) -> None:
    if corpus is None:
        raise click.ClickException(f"no corpus at {config.db_path} to backfill from")
    counts = alerts_module.backfill(corpus, private, search_id, days=days,
                                    max_per_run=config.alerts.max_per_run, now=utc_now(),
                                    daily_hour=config.alerts.daily_digest_hour)
    err.print(f"backfill: {counts['hits']} documents of the last {days} days matched; "
              "`mkb-monitor deliver` sends them")


@alerts.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_(obj: Any, as_json: bool) -> None:
    """Every saved search, with its channels and how many documents it matched."""
    with _private(obj) as private:
        rows = [_summary(private, row) for row in private.searches()]
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for column in ("id", "name", "matches", "digest", "on", "channels", "hits"):
        table.add_column(column, overflow="fold")
    for r in rows:
        on = Text("invalid", style="red") if r["invalid_reason"] else Text("yes" if r["enabled"] else "no")
        table.add_row(str(r["id"]), cell(r["name"]), cell(r["describe"]), r["digest"], on,
                      cell(", ".join(c["kind"] + (f" {c['target']}" if c["target"] else "") for c in r["channels"])),
                      number(r["hits"]))
    console.print(table)
    for r in rows:  # why a saved search is skipped, in full
        if r["invalid_reason"]:
            err.print(Text.assemble((plain(r["name"]), "bold red"), " is skipped at match time: ",
                                    plain(r["invalid_reason"]), " (fix it with `mkb-monitor alerts edit`)"))


def _summary(private: PrivateStore, row: dict[str, Any], *, reveal: bool = False) -> dict[str, Any]:
    try:
        describe = SavedSearch.from_row(row).describe()
    except Exception as exc:  # a row edited into nonsense is listed, with what is wrong with it
        describe = f"(unreadable: {exc})"
    channels = [{"id": c["id"], "kind": c["kind"], "target": c["target"], "enabled": bool(c["enabled"]),
                 "disabled_reason": c["disabled_reason"],
                 **({"secret": c["secret"] if reveal else "(hidden: --reveal)"} if c["secret"] else {})}
                for c in private.channels(row["id"])]
    return {"id": row["id"], "name": row["name"], "query": row["query"], "filters": row["filters"],
            "describe": describe, "digest": row["digest"], "enabled": bool(row["enabled"]),
            "invalid_reason": row.get("invalid_reason"), "invalid_at": row.get("invalid_at"),
            "since_seq": row["since_seq"], "created": row["created"], "updated": row["updated"],
            "channels": channels, "hits": private.hit_count(row["id"])}


@alerts.command(name="show")
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Show webhook secrets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: Any, name: str, reveal: bool, as_json: bool) -> None:
    """A saved search: its criteria, channels, latest hits and the state of their deliveries."""
    with _private(obj) as private:
        row = _saved(private, name)
        data = {**_summary(private, row, reveal=reveal), "latest_hits": private.hits(row["id"], limit=20),
                "deliveries": private.deliveries(search_id=row["id"], limit=50),
                "outbox": private.outbox(stamp(utc_now())), "counters": private.counters()}
    if as_json:
        _print_json(data)
        return
    console.print(f"[bold]{markup(data['name'])}[/] (id {data['id']}): {markup(data['describe'])}; "
                  f"digest {data['digest']}{'' if data['enabled'] else ' [yellow](disabled)[/]'}")
    if data["invalid_reason"]:
        console.print(f"  [red]invalid since {data['invalid_at']}, skipped at match time:[/] "
                      f"{markup(data['invalid_reason'])}")
    for c in data["channels"]:
        state = "" if c["enabled"] else f" [red]disabled: {markup(c['disabled_reason'])}[/]"
        console.print(f"  → {c['kind']} {markup(c['target'])}{state}" +
                      (f" secret {markup(c['secret'])}" if "secret" in c else ""))
    table = Table(title="latest hits", title_justify="left")
    for column in ("matched", "reason", "document", "title"):
        table.add_column(column, overflow="fold")
    for h in data["latest_hits"]:
        table.add_row(h["matched_at"], h["reason"], cell(h["document_id"]), cell(h["title"]))
    console.print(table)
    table = Table(title="deliveries", title_justify="left")
    for column in ("id", "alert", "channel", "status", "attempts", "next attempt", "last error"):
        table.add_column(column, overflow="fold")
    for d in data["deliveries"]:
        table.add_row(str(d["id"]), str(d["alert_id"]), cell(f"{d['channel_kind']} {d['target']}"), d["status"],
                      number(d["attempts"]), d["next_attempt_at"] if d["status"] == "retrying" else "",
                      cell(d["last_error"]))
    console.print(table)


@alerts.command(name="remove")
@click.argument("name")
@click.pass_obj
def remove(obj: Any, name: str) -> None:
    """Delete a saved search with its channels, hits and outbox."""
    with _private(obj) as private:
        row = _saved(private, name)
        with private.transaction():
            private.remove_search(row["id"])
    err.print(f"removed saved search {markup(repr(name))}")


@alerts.command(name="test")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def test(obj: Any, name: str, limit: int, as_json: bool) -> None:
    """What a saved search matches in the corpus now (nothing is recorded or sent)."""
    with _private(obj) as private:
        search = SavedSearch.from_row(_saved(private, name))
    with _corpus(obj) as corpus:
        if corpus is None:
            raise click.ClickException(f"no corpus at {obj.config.db_path}")
        hits = search.match(corpus)
    if as_json:
        _print_json({"matches": len(hits), "documents": [h.asdict() for h in hits[:limit]]})
        return
    err.print(f"{number(len(hits))} documents match {markup(search.describe())}")
    for h in hits[:limit]:
        console.print(Text.assemble((plain(h.title), "bold"), "  ",
                                    (plain(f"{(h.published or '')[:10]} {h.kind} {', '.join(h.sources)}"), "dim")))
        console.print(Text("  " + plain(h.snippet_plain("»", "«").replace("\n", " "))))


@alerts.command(name="replay")
@click.argument("name")
@click.pass_obj
def replay(obj: Any, name: str) -> None:
    """Put a saved search's failed deliveries back in the outbox (after fixing the channel)."""
    with _private(obj) as private:
        row = _saved(private, name)
        failed = [d["id"] for d in private.deliveries(search_id=row["id"], status="failed", limit=1_000_000)]
        with private.transaction():
            for c in private.channels(row["id"]):
                if not c["enabled"] and c["kind"] == "webhook":
                    private.add_channel(row["id"], c["kind"], c["target"], c["secret"])  # enables it again
            n = private.replay(failed, stamp(utc_now()))
    err.print(f"{n} failed deliveries queued again; `mkb-monitor deliver` sends them")


# --- deliver and watch ----------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def deliver(obj: Any, as_json: bool) -> None:
    """Send what the outbox holds and is due (runs do this too)."""
    with lock.exclusive(obj.config.lock_path), _private(obj) as private:
        counts = notify.deliver(private, obj.config, clock=utc_now)
        outbox = private.outbox(stamp(utc_now()))
    if as_json:
        _print_json({**counts, "outbox": outbox})
    else:
        err.print(", ".join(f"{k} {v}" for k, v in counts.items()) +
                  f"; waiting: {outbox['pending'] + outbox['retrying']}, failed in total: {outbox['failed']}")
    sys.exit(1 if counts["failed"] else 0)


def run_sources(config: Config, names: Iterable[str] = (), *, extract: bool = True) -> RunReport:
    """One run of the configured sources, as ``mkb-monitor run`` does it. The caller holds the lock."""
    with Store.open(config) as store:
        return pipeline.for_config(config, store, extract=extract).run(names or None)


class Period(click.ParamType):
    """Time between runs: 90s, 30m, 2h, 1d; a unit is required, the least is a minute."""

    name = "period"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return userinput.period(str(value))
        except QueryError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.option("--every", "interval", type=Period(), required=True,
              help="Time between the starts of two runs: 90s, 30m, 2h, 1d (at least a minute).")
@click.option("--source", "names", multiple=True, help="Run only this source (repeatable).")
@click.option("--no-extract", is_flag=True, help="Store documents without extracting figures and organisations.")
@click.option("--max-runs", type=click.IntRange(1), help="Stop after this many runs (default: never).")
@click.pass_obj
def watch(obj: Any, interval: float, names: tuple[str, ...], no_extract: bool, max_runs: int | None) -> None:
    """Run the sources every so often and deliver alerts in between, until stopped (Ctrl-C: exit 130).

    Holds the run lock for as long as it watches, so a second `watch` or a `run` exits with 75
    (already running); `import` and `reprocess` need no run lock and work meanwhile. A failing
    source or run is logged and the next run goes ahead."""
    with lock.exclusive(obj.config.lock_path):
        runs = 0
        while True:
            started = time.monotonic()
            runs += 1
            try:
                report = run_sources(obj.config, names, extract=not no_extract)
                _log(f"run {runs}: {_run_line(report, time.monotonic() - started)}")
            except Exception as exc:  # the scheduler outlives any one run
                _log(f"run {runs} failed: {code_of(exc)}: {plain(str(exc))}")
            if max_runs is not None and runs >= max_runs:
                return
            _wait_and_deliver(obj.config, started + interval)


def _log(line: str) -> None:
    """One line a run on stderr, with the time: what a journal or a cron mail shows."""
    click.echo(f"{stamp(utc_now())} {line}", err=True)


def _run_line(report: RunReport, seconds: float) -> str:
    states = {}
    for s in report.sources:
        states[s.status] = states.get(s.status, 0) + 1
    parts = [f"{report.total('new')} new", f"{report.total('changed')} changed", f"{report.total('failed')} failed",
             "sources " + " ".join(f"{k} {v}" for k, v in sorted(states.items()))]
    parts += [f"{s.source} left out {s.unreadable} unreadable entries" for s in report.sources if s.unreadable]
    if report.alerts:
        parts.append("alerts " + " ".join(f"{k} {v}" for k, v in report.alerts.items() if k != "invalid"))
    parts += [f"{who} {code}: {reason}" for who, code, reason in report.problems()]
    parts += [f"saved search {bad['name']} skipped (invalid): {bad['reason']}" for bad in report.alerts.get("invalid", [])]
    return plain(", ".join(parts)) + f" ({seconds:.1f} s)"


def _wait_and_deliver(config: Config, until: float) -> None:
    """Sleep until the next run, waking for retries that fall due before it (a webhook's 5 s step
    should not wait for the next 30-minute run)."""
    while (left := until - time.monotonic()) > 0:
        with PrivateStore.open(config) as private:
            next_due = private.next_due()
            wait = left
            if next_due is not None:
                wait = min(left, max(0.0, (next_due - utc_now()).total_seconds()))
            time.sleep(min(wait, 60.0) if wait > 0 else 0)
            if next_due is not None and utc_now() >= next_due:
                counts = notify.deliver(private, config, clock=utc_now)
                _log("deliver: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
