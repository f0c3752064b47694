"""The ``mkb-monitor`` command: parse arguments, call the library, print.

Every listing has ``--json`` for scripts; long work shows a rich progress bar on a terminal and
ends with a short summary. Exit codes: 0 ok, 1 a source or item failed, 2 usage or config
error, 75 another run holds the lock.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from monitor import config as config_module
from monitor import cli_alerts, lock, pipeline, search as search_module
from monitor.config import Config, SourceConfig
from monitor.errors import AlreadyRunning, ConfigError, MonitorError, QueryError
from monitor.runs import RunReport
from monitor.store import Store

console = Console()
err = Console(stderr=True)


class Context:
    def __init__(self, config_path: str | None, db: str | None) -> None:
        self.config_path, self.db = config_path, db
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = config_module.load(self.config_path, db=self.db)
        return self._config

    def store(self, *, readonly: bool = False) -> Store:
        if readonly and not self.config.db_path.exists():
            raise click.ClickException(f"no corpus at {self.config.db_path}: run `mkb-monitor run` or "
                                       "`mkb-monitor import FILE.jsonl` first")
        if readonly:
            return Store.open(self.config, readonly=True)
        with run_progress(sys.stderr.isatty()) as progress:  # a migration may rebuild an index
            return Store.open(self.config, progress=progress)


pass_ctx = click.make_pass_decorator(Context)


class MonitorGroup(click.Group):
    """Turns the monitor's own errors into one clear line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AlreadyRunning as exc:
            err.print(f"[yellow]{exc}[/]")
            sys.exit(AlreadyRunning.exit_code)
        except (ConfigError, QueryError) as exc:
            err.print(f"[red]error:[/] {exc}")
            sys.exit(2)
        except MonitorError as exc:
            err.print(f"[red]error ({exc.code}):[/] {exc}")
            sys.exit(1)


@click.group(cls=MonitorGroup)
@click.version_option(package_name="mkb-monitor")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="MKB_MONITOR_CONFIG",
              help="TOML file with settings and sources (defaults ship with the package).")
@click.option("--db", type=click.Path(dir_okay=False), envvar="MKB_MONITOR_DB",
              help="The corpus file (default: data/monitor.db).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db: str | None) -> None:
    """mkb-monitor: follow what government, the Tweede Kamer and the press publish on mkb and digitalisering."""
    ctx.obj = Context(config_path, db)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# --- run, import ----------------------------------------------------------------------------


@contextmanager
def run_progress(enabled: bool) -> Iterator[Callable[..., None]]:
    """A rich progress display fed by pipeline events; silent when not on a terminal."""
    if not enabled:
        yield lambda event, **info: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def on_event(event: str, **info: Any) -> None:
            if event == "source":
                tasks[info["name"]] = progress.add_task(f"{info['name']}", total=None)
            elif event == "item" and info["name"] in tasks:
                progress.advance(tasks[info["name"]])
            elif event == "start":  # a stage with a known total (reprocess): one bar each
                tasks["*"] = progress.add_task(info["label"], total=info["total"])
            elif event == "advance":
                progress.advance(tasks["*"], info.get("n", 1))
            elif event == "done" and info["name"] in tasks:
                progress.update(tasks[info["name"]], total=progress.tasks[tasks[info["name"]]].completed)

        yield on_event


SUMMARY_COUNTS = ("new", "changed", "unchanged", "skipped", "failed")


def print_run_report(report: RunReport) -> None:
    table = Table(title="run summary", title_justify="left")
    for column in ("source", "status", "new", "changed", "unchanged", "skipped", "failed", "error"):
        table.add_column(column, justify="right" if column in SUMMARY_COUNTS else "left")
    for s in report.sources:
        style = {"ok": "green", "partial": "yellow", "deferred": "yellow", "failed": "red"}.get(s.status, "")
        table.add_row(s.source, Text(s.status, style=style), *(str(getattr(s, k)) for k in SUMMARY_COUNTS),
                      (s.error or "")[:80])
    console.print(table)
    for s in report.sources:
        for f in s.failures[:5]:
            err.print(f"  [red]{s.source}[/] {f['stage']} {f['item']}: {f['code']}: {f['message'][:160]}")
        if len(s.failures) > 5:
            err.print(f"  … and {len(s.failures) - 5} more failures in {s.source} (see the item_failures table)")
    if report.alerts:
        console.print("alerts: " + ", ".join(f"{k} {v}" for k, v in report.alerts.items()))


def _finish(report: RunReport, as_json: bool) -> None:
    if as_json:
        print_json(report.asdict())
    else:
        print_run_report(report)
    sys.exit(0 if report.ok and not report.total("failed") else 1)


@cli.command()
@click.option("--source", "names", multiple=True, help="Run only this source (repeatable).")
@click.option("--record", type=click.Path(file_okay=False), help="Write every HTTP exchange to this directory.")
@click.option("--replay", type=click.Path(file_okay=False, exists=True),
              help="Answer every HTTP request from a recorded directory instead of the network.")
@click.option("--no-extract", is_flag=True, help="Store documents without extracting figures and organisations.")
@json_option
@pass_ctx
def run(ctx: Context, names: tuple[str, ...], record: str | None, replay: str | None, no_extract: bool,
        as_json: bool) -> None:
    """Fetch what is new from the configured sources, extract, store, and send alerts."""
    if record and replay:
        raise click.UsageError("--record and --replay exclude each other")
    if record and Path(record).exists() and any(Path(record).iterdir()):
        raise click.UsageError(f"--record needs a new or empty directory ({record} has files: one run, one recording)")
    with lock.exclusive(ctx.config.lock_path):
        with ctx.store() as store, run_progress(sys.stderr.isatty() and not as_json) as progress:
            report = pipeline.for_config(ctx.config, store, extract=not no_extract, record=record, replay=replay,
                                         progress=progress).run(names)
    _finish(report, as_json)


@cli.command(name="import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.option("--source", "source_name", default="import", show_default=True,
              help="Source name for lines that do not name their own.")
@click.option("--no-extract", is_flag=True, help="Store documents without extracting figures and organisations.")
@json_option
@pass_ctx
def import_(ctx: Context, path: str, source_name: str, no_extract: bool, as_json: bool) -> None:
    """Load documents from a JSONL file (one JSON object a line: id or url, title, text, published, kind, source)."""
    sc = SourceConfig(name=source_name, kind="jsonl", enabled=True, allowed_hosts=[], relevance=False,
                      stale_after_hours=0, options={**ctx.config["kinds"]["jsonl"], "path": path})
    with lock.exclusive(ctx.config.lock_path):
        with ctx.store() as store, run_progress(sys.stderr.isatty() and not as_json) as progress:
            report = pipeline.for_config(ctx.config, store, extract=not no_extract, progress=progress).run(
                sources=[(sc, pipeline.build_source(sc))])
    _finish(report, as_json)


# --- search, sources ------------------------------------------------------------------------


@cli.command(name="search")
@click.argument("query", nargs=-1, required=True)
@click.option("--since", help="Published on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Published on or before this date (YYYY-MM-DD).")
@click.option("--source", "sources", multiple=True, help="Only documents seen in this source (repeatable).")
@click.option("--kind", "kinds", multiple=True, help="Only this kind, e.g. kamerbrief, news (repeatable).")
@click.option("--org", "orgs", multiple=True, help="Only documents naming this organisation (name, alias or id).")
@click.option("--dossier", help="Only documents in this Kamerstuk dossier (e.g. 32637).")
@click.option("--sort", type=click.Choice(search_module.SORTS), default="relevance", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@pass_ctx
def search_cmd(ctx: Context, query: tuple[str, ...], since: str | None, until: str | None,
               sources: tuple[str, ...], kinds: tuple[str, ...], orgs: tuple[str, ...], dossier: str | None,
               sort: str, limit: int, as_json: bool) -> None:
    """Search the corpus: words (all must match), "exact phrases", OR, -exclusion, prefix*."""
    with ctx.store(readonly=True) as store:
        org_ids = search_module.org_ids(store, list(orgs)) if orgs else None
        hits = search_module.search(store, " ".join(query), since=since, until=until, sources=list(sources),
                                    kinds=list(kinds), organisations=org_ids, dossier=dossier, sort=sort, limit=limit)
    if as_json:
        print_json([h.asdict() for h in hits])
        return
    if not hits:
        err.print("no documents match")
        return
    for h in hits:
        console.print(Text.assemble((h.title, "bold"), "  ", (f"{(h.published or '')[:10]}  {h.kind}  "
                                                              f"{', '.join(h.sources)}", "dim")))
        snippet = escape(h.snippet.replace("\n", " "))
        console.print("  " + snippet.replace(search_module.MARK_START, "[reverse]")
                      .replace(search_module.MARK_END, "[/reverse]"))
        console.print(f"  [link={h.url}]{h.url or h.id}[/link]" if h.url else f"  {h.id}", style="dim")


@cli.command()
@json_option
@pass_ctx
def sources(ctx: Context, as_json: bool) -> None:
    """Each configured source: last success, last error, cursor and counts."""
    configured = {sc.name: sc for sc in ctx.config.sources()}
    stored: dict[str, dict[str, Any]] = {}
    if ctx.config.db_path.exists():
        with ctx.store(readonly=True) as store:
            stored = {row["name"]: row for row in store.sources_overview()}
    rows = []
    for name in sorted(set(configured) | set(stored)):
        sc, st = configured.get(name), stored.get(name, {})
        rows.append({"name": name, "kind": sc.kind if sc else st.get("kind"),
                     "enabled": sc.enabled if sc else False, "configured": sc is not None,
                     "base_url": sc.options.get("base_url") if sc else None,
                     "documents": st.get("documents", 0), "last_success": st.get("last_success"),
                     "last_error": st.get("last_error"), "last_error_code": st.get("last_error_code"),
                     "last_error_at": st.get("last_error_at"), "last_new": st.get("last_new"),
                     "cursor": st.get("cursor"), "stale": _stale(sc, st)})
    if as_json:
        print_json(rows)
        return
    table = Table(caption="kinds, cursors and errors in full: --json", caption_justify="left")
    for column in ("source", "on", "docs", "last success", "state"):
        table.add_column(column, no_wrap=True, min_width=len(column), justify="right" if column == "docs" else "left")
    for r in rows:
        state = Text("stale", style="yellow") if r["stale"] else Text("fresh", style="green")
        if r["last_error"] and (not r["last_success"] or (r["last_error_at"] or "") > r["last_success"]):
            state = Text(f"error: {r['last_error_code']}", style="red")
        elif not r["last_success"]:
            state = Text("imported" if r["documents"] else "never run", style="dim")
        table.add_row(r["name"], "yes" if r["enabled"] else "no", str(r["documents"]),
                      _minutes(r["last_success"]), state)
    console.print(table)


def _minutes(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")


def _stale(sc: SourceConfig | None, st: dict[str, Any]) -> bool:
    """No new document for longer than the source's stale_after_hours (Huginn's `working?`)."""
    from datetime import UTC, datetime, timedelta

    if sc is None or not sc.stale_after_hours or not st.get("last_success"):
        return False
    if not st.get("last_new"):
        return True  # it has run, and never brought anything new
    seen = datetime.fromisoformat(st["last_new"].replace("Z", "+00:00"))
    return datetime.now(UTC) - seen > timedelta(hours=sc.stale_after_hours)


@cli.command()
@json_option
@pass_ctx
def check(ctx: Context, as_json: bool) -> None:
    """Check both database files: SQLite integrity, foreign keys, and the search index in sync."""
    from monitor.store.private import PrivateStore

    problems: dict[str, list[str]] = {}
    if not ctx.config.db_path.exists():
        raise click.ClickException(f"no corpus at {ctx.config.db_path}")
    with ctx.store() as store:  # FTS5's integrity-check is an INSERT command, refused on a read-only connection
        problems[str(ctx.config.db_path)] = store.check()
    if ctx.config.private_db_path.exists():
        with PrivateStore.open(ctx.config, readonly=True) as private:
            problems[str(ctx.config.private_db_path)] = private.check()
    if as_json:
        print_json(problems)
    else:
        for path, found in problems.items():
            console.print(f"{path}: " + ("[green]ok[/]" if not found else "[red]" + "; ".join(found) + "[/]"))
    sys.exit(1 if any(problems.values()) else 0)


@cli.group()
def feeds() -> None:
    """Candidate feeds: check one before you enable it."""


@feeds.command(name="check")
@click.argument("url")
@json_option
@pass_ctx
def feeds_check(ctx: Context, url: str, as_json: bool) -> None:
    """Fetch a feed URL and say what is there: format, entries, newest date, whether dates parse."""
    from scrapers.feeds import check_feed

    probe = SourceConfig(name="feeds-check", kind="feed", enabled=True, allowed_hosts=[], relevance=False,
                         stale_after_hours=0, options={})
    fetcher = pipeline.fetcher_factory(ctx.config)(probe)
    try:
        report = check_feed(fetcher, url)
    finally:
        fetcher.close()
    if as_json:
        print_json(report)
    else:
        table = Table(show_header=False)
        for key, value in report.items():
            table.add_row(key, str(value))
        console.print(table)
    sys.exit(0 if report.get("ok") else 1)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--record", "record_dir", type=click.Path(file_okay=False),
              help="Keep every exchange in this folder, replayable as fixtures (run --replay).")
@json_option
@pass_ctx
def doctor(ctx: Context, names: tuple[str, ...], record_dir: str | None, as_json: bool) -> None:
    """Ask each enabled source (or those named) for its first page and report what answered and how."""
    from monitor import doctor as doctor_module

    results = doctor_module.check(ctx.config, pipeline.fetcher_factory(ctx.config, record=record_dir), names)
    if as_json:
        print_json(doctor_module.summary(results))
    else:
        table = Table("source", "answer", "entries", "newest", "requests", "seconds")
        for r in results:
            last = r.requests[-1] if r.requests else None
            answer = (f"ok ({last.status} {last.content_type or ''})".strip() if r.ok and last
                      else f"{r.error_code}: {r.error}")
            table.add_row(r.source, answer, str(r.entries), r.newest or "", str(len(r.requests)), f"{r.seconds:.1f}")
        console.print(table)
    sys.exit(0 if all(r.ok for r in results) else 1)


# --- the language side: extract, eval, figures, orgs, reprocess ------------------------------


@cli.command()
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--jsonl", is_flag=True, help="Each input line is a JSON object with 'text' (other keys are copied).")
@json_option
def extract(source: Any, jsonl: bool, as_json: bool) -> None:
    """Figures and organisations in any text (a file, or - for standard input); no corpus needed."""
    import models as nlp

    if jsonl:
        records = _jsonl_records(source)
        for record, extraction in zip(records, nlp.extract_many(records), strict=True):
            out = {k: v for k, v in record.items() if k not in ("text", "published")}
            click.echo(json.dumps({**out, **extraction.asdict()}, ensure_ascii=False))
        return
    text = source.read()
    extraction = nlp.extract(text)
    if as_json:
        print_json(extraction.asdict())
        return
    table = Table(title="figures", title_justify="left")
    for column in ("text", "value", "max", "unit", "qualifier", "subject"):
        table.add_column(column)
    for f in extraction.figures:
        table.add_row(f.text, _number(f.value), "" if f.value_max is None else _number(f.value_max), f.unit,
                      f.qualifier or "", f.subject or "")
    console.print(table)
    orgs = Table(title="organisations", title_justify="left")
    for column in ("text", "canonical", "kind"):
        orgs.add_column(column)
    for m in extraction.mentions:
        orgs.add_row(m.text, m.canonical, m.kind or "")
    console.print(orgs)


def _jsonl_records(source: Any) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise click.ClickException(f"line {number}: needs a JSON object with a 'text' string")
        records.append(record)
    return records


@cli.command(name="eval")
@click.argument("gold", type=click.Path(dir_okay=False, exists=True))
@json_option
def eval_(gold: str, as_json: bool) -> None:
    """Score the extraction on a gold file (precision, recall, F1; value, unit, subject, canonical accuracy)."""
    from models import evaluate

    metrics = evaluate.evaluate(gold)
    if as_json:
        print_json(metrics)
    else:
        console.print(evaluate.render(metrics))


@cli.command()
@click.option("--subject", help="What is counted, e.g. ondernemers (a prefix: mkb matches mkb'ers).")
@click.option("--unit", type=click.Choice(["percent", "EUR", "count", "duration", "other"]))
@click.option("--min", "minimum", type=float, help="Only values at least this.")
@click.option("--org", "orgs", multiple=True, help="Only in documents naming this organisation.")
@click.option("--since", help="Only in documents published on or after this date.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
@pass_ctx
def figures(ctx: Context, subject: str | None, unit: str | None, minimum: float | None, orgs: tuple[str, ...],
            since: str | None, limit: int, as_json: bool) -> None:
    """Figures found in the corpus, newest documents first."""
    with ctx.store(readonly=True) as store:
        org_ids = search_module.org_ids(store, list(orgs)) if orgs else None
        rows = store.figures(subject=subject, unit=unit, minimum=minimum, organisations=org_ids, since=since,
                             limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("published", "value", "unit", "subject", "figure"):
        table.add_column(column, justify="right" if column == "value" else "left", no_wrap=True)
    table.add_column("document", overflow="ellipsis", no_wrap=True, max_width=32)
    for r in rows:
        table.add_row((r["published"] or "")[:10], _number(r["value"]), r["unit"], r["subject"] or "", r["text"],
                      r["title"])
    console.print(table)


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.4g}"


@cli.command()
@click.option("--unknown", is_flag=True, help="Only names found outside the gazetteer, for review.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
@pass_ctx
def orgs(ctx: Context, unknown: bool, limit: int, as_json: bool) -> None:
    """Organisations named in the corpus, most mentioned first."""
    with ctx.store(readonly=True) as store:
        rows = store.organisation_counts(unknown_only=unknown, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("organisation", "kind", "mentions", "documents", "id"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["canonical"], r["kind"] or "", str(r["mentions"]), str(r["documents"]), r["id"])
    console.print(table)


@cli.command()
@click.option("--source", "sources", multiple=True, help="Re-parse only this source (repeatable).")
@click.option("--extract-only", is_flag=True, help="Do not re-parse; only re-extract documents of an older model.")
@click.option("--all", "everything", is_flag=True, help="Re-extract every document, not only stale ones.")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Worker processes for the extraction (default: [nlp] processes in the config).")
@json_option
@pass_ctx
def reprocess(ctx: Context, sources: tuple[str, ...], extract_only: bool, everything: bool,
              processes: int | None, as_json: bool) -> None:
    """Parse and extract again from the stored raw responses, after a parser or model fix (no network)."""
    extractor = pipeline.ModelExtractor(ctx.config["nlp"]["batch_size"])
    with lock.exclusive(ctx.config.lock_path), ctx.store() as store, \
            run_progress(sys.stderr.isatty() and not as_json) as progress:
        counts = {}
        if not extract_only:
            counts["parse"] = pipeline.reprocess(store, ctx.config, extractor, sources=sources or None,
                                                 progress=progress)
        counts["extract"] = pipeline.reextract(store, extractor, everything=everything, progress=progress,
                                               batch_size=ctx.config["nlp"]["batch_size"],
                                               processes=processes or ctx.config["nlp"]["processes"])
    if as_json:
        print_json(counts)
    else:
        for stage, numbers in counts.items():
            console.print(f"{stage}: " + ", ".join(f"{k} {v}" for k, v in numbers.items()))


# --- serve ----------------------------------------------------------------------------------


@cli.command()
@click.option("--host", help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", type=int, help="Port (default from config: 8001).")
@click.option("--public", is_flag=True,
              help="Allow an address other machines can reach (0.0.0.0, a LAN address): they can then read the "
                   "whole corpus and run read SQL on it.")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, public: bool) -> None:
    """Explore the corpus in Datasette."""
    from monitor import serve as serve_module

    if not ctx.config.db_path.exists():
        raise click.ClickException(f"no corpus at {ctx.config.db_path}: import or run first")
    host = host or ctx.config["serve"]["host"]
    port = port or ctx.config["serve"]["port"]
    if serve_module.check_host(host, public=public):
        err.print(f"warning: {host} is reachable from other machines: anyone who reaches it can read the corpus "
                  "and run read SQL on it", style="yellow", markup=False, highlight=False)
    err.print(f"serving {ctx.config.db_path} on http://{host}:{port}/", markup=False, highlight=False)
    serve_module.serve(ctx.config, host=host, port=port)


cli.add_command(cli_alerts.alerts)
cli.add_command(cli_alerts.deliver)
cli.add_command(cli_alerts.watch)


def main() -> None:
    cli(prog_name="mkb-monitor")


if __name__ == "__main__":
    main()
