"""The alert commands of ``mkb-monitor``: saved searches (``alerts``), ``deliver`` and ``watch``.

Registered on the root group in ``monitor.cli``: ``cli.add_command(alerts)``,
``cli.add_command(deliver)``, ``cli.add_command(watch)``. The commands read the root group's
context object (``ctx.obj``: ``.config`` and ``.store()``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from monitor import alerts as alerts_module
from monitor import schedule, userinput
from monitor.alerts import SavedSearch, utc_now
from monitor.api import Channels, Monitor, Saved
from monitor.display import cell, markup, number, plain
from monitor.errors import DeliveryError, QueryError
from monitor.store.private import stamp

console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages are lines: the terminal wraps them, logs keep them whole


def _api(obj: Any) -> Monitor:
    return Monitor(obj.config)


def _channels(emails: tuple[str, ...], webhooks: tuple[str, ...], atom: bool | None, to_console: bool | None,
              **removed: tuple[str, ...]) -> Channels:
    return Channels(emails=emails, webhooks=webhooks, atom=atom, console=to_console, **removed)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def _option_errors() -> Iterator[None]:
    """A bad address names the option it came from."""
    try:
        yield
    except DeliveryError as exc:
        raise click.BadParameter(str(exc), param_hint="--webhook") from None
    except QueryError as exc:
        if "e-mail address" not in str(exc):
            raise
        raise click.BadParameter(str(exc), param_hint="--email") from None


def _report(saved: Saved, days: int | None) -> None:
    for url, secret in saved.secrets.items():
        err.print(f"webhook {markup(url)}: signing secret [bold]{secret}[/] (shown once; verify the "
                  "webhook-signature header with it)")
    if saved.backfill is not None:
        err.print(f"backfill: {saved.backfill['hits']} documents of the last {days} days matched; "
                  "`mkb-monitor deliver` sends them")


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
    with _option_errors():
        saved = _api(obj).add_search(search, _channels(emails, webhooks, atom, to_console),
                                     backfill_days=backfill_days)
    _report(saved, backfill_days)
    err.print(f"saved search {markup(repr(name))} (id {saved.id})")


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
    updates: dict[str, Any] = {k: v for k, v in {
        "name": rename, "query": query, "sources": sources, "kinds": kinds, "organisations": orgs,
        "digest": digest, "enabled": enable}.items() if v not in (None, ())}
    if dossier is not None:
        updates["dossier"] = dossier or None
    if figure is not None:
        updates["figure"] = alerts_module.parse_figure(figure) if figure else None
    channels = _channels(emails, webhooks, atom, to_console, removed_emails=removed_emails,
                         removed_webhooks=removed_webhooks)
    with _option_errors():
        saved = _api(obj).edit_search(name, channels, backfill_days=backfill_days, **updates)
    _report(saved, backfill_days)
    err.print(f"saved search {markup(repr(saved.name))} updated")


@alerts.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_(obj: Any, as_json: bool) -> None:
    """Every saved search, with its channels and how many documents it matched."""
    rows = _api(obj).saved_searches()
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


@alerts.command(name="show")
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Show webhook secrets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def show(obj: Any, name: str, reveal: bool, as_json: bool) -> None:
    """A saved search: its criteria, channels, latest hits and the state of their deliveries."""
    data = _api(obj).saved_search(name, reveal=reveal)
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
    _api(obj).remove_search(name)
    err.print(f"removed saved search {markup(repr(name))}")


@alerts.command(name="test")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def test(obj: Any, name: str, limit: int, as_json: bool) -> None:
    """What a saved search matches in the corpus now (nothing is recorded or sent)."""
    search, hits = _api(obj).test_search(name)
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
    n = _api(obj).replay(name)
    err.print(f"{n} failed deliveries queued again; `mkb-monitor deliver` sends them")


# --- deliver and watch ----------------------------------------------------------------------


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def deliver(obj: Any, as_json: bool) -> None:
    """Send what the outbox holds and is due (runs do this too)."""
    counts = _api(obj).deliver()
    outbox = counts.pop("outbox")
    if as_json:
        _print_json({**counts, "outbox": outbox})
    else:
        err.print(", ".join(f"{k} {v}" for k, v in counts.items()) +
                  f"; waiting: {outbox['pending'] + outbox['retrying']}, failed in total: {outbox['failed']}")
    sys.exit(1 if counts["failed"] else 0)


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
    schedule.watch(obj.config, interval, names, extract=not no_extract, max_runs=max_runs, log=_log)


def _log(line: str) -> None:
    """One line a run on stderr, with the time: what a journal or a cron mail shows."""
    click.echo(f"{stamp(utc_now())} {line}", err=True)
