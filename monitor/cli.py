"""The ``mkb-monitor`` command: parse arguments, call the library, print.

Every listing has ``--json`` for scripts; long work shows a rich progress bar on a terminal and
ends with a short summary. ``--db`` and ``--config`` go before or after the command name.

Exit codes (the README has the same table):

    0    ok: every source ran and every item was stored
    1    a source failed, was deferred or interrupted, an item failed, or a check found a problem
    2    a usage or configuration error: a bad option, date or query; a file that is not a corpus
    75   another run holds the corpus's lock (EX_TEMPFAIL: try again later)
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.style import Style
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from monitor import config as config_module
from monitor import cli_alerts, jsonlines, pipeline, search as search_module, userinput
from monitor.api import Monitor
from monitor.config import Config
from monitor.display import cell, markup, number, plain
from monitor.errors import AlreadyRunning, ConfigError, MonitorError, NotACorpus, QueryError
from monitor.runs import RunReport
from monitor.store import Store

console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages are lines: the terminal wraps them, logs keep them whole

USAGE_ERRORS = (ConfigError, QueryError, NotACorpus)  # exit 2: the command line or a file it names is wrong
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


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
    """Turns every failure into one clear line and an exit code, never a traceback (set
    MKB_MONITOR_TRACEBACK=1 to see one for an unexpected error)."""

    def main(self, args: Any = None, *a: Any, **kw: Any) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        for i, arg in enumerate(arguments, start=1):
            if isinstance(arg, str) and any("\udc80" <= c <= "\udcff" for c in arg):
                # Bytes that are not UTF-8 reach Python as lone surrogates (PEP 383) and would fail
                # later, in SQLite or the terminal, with a traceback.
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                err.print(f"[red]error:[/] argument {i} is not UTF-8: {markup(shown)}")
                sys.exit(2)
        return super().main(arguments, *a, **kw)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AlreadyRunning as exc:
            err.print(f"[yellow]{markup(str(exc))}[/]")
            sys.exit(AlreadyRunning.exit_code)
        except USAGE_ERRORS as exc:
            err.print(f"[red]error:[/] {markup(str(exc))}")
            sys.exit(2)
        except MonitorError as exc:
            err.print(f"[red]error ({exc.code}):[/] {markup(str(exc))}")
            sys.exit(1)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except UnicodeError as exc:
            err.print(f"[red]error:[/] {markup(_not_utf8(exc))}")
            sys.exit(1)
        except Exception as exc:  # a bug: one line, and the traceback on request
            if os.environ.get("MKB_MONITOR_TRACEBACK"):
                traceback.print_exc()
            err.print(f"[red]internal error ({type(exc).__name__}):[/] {markup(str(exc))} "
                      "(MKB_MONITOR_TRACEBACK=1 shows where; please report it)")
            sys.exit(1)


def _not_utf8(exc: UnicodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"the input is not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    return f"cannot encode the text: {exc}"


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


def _set_context(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--db`` or ``--config`` given after a command name: it overrides the one before it."""
    if value is not None and ctx.find_object(Context) is not None:
        setattr(ctx.find_object(Context), "db" if param.name == "db" else "config_path", value)


def accept_corpus_options_everywhere(group: click.Group) -> None:
    """Give every command and subcommand ``--db`` and ``--config``, so they may follow the
    command name as well as precede it (``mkb-monitor search --db X mkb``)."""
    for command in group.commands.values():
        names = {p.name for p in command.params}
        for name, flag, help_text in (("db", "--db", "The corpus file (same as before the command)."),
                                      ("config_path", "--config", "TOML config file (same as before the command).")):
            if name not in names:
                command.params.append(click.Option([flag, name], type=click.Path(dir_okay=False), expose_value=False,
                                                   callback=_set_context, help=help_text))
        if isinstance(command, click.Group):
            accept_corpus_options_everywhere(command)


class Day(click.ParamType):
    """A date option: YYYY-MM-DD, or 7d / 2w back from today."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return userinput.day(str(value))
        except QueryError as exc:
            self.fail(str(exc), param, ctx)


DAY = Day()


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
                tasks[info["name"]] = progress.add_task(markup(info["name"]), total=None)
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
STATUS_STYLE = {"ok": "green", "partial": "yellow", "deferred": "yellow", "failed": "red"}


def compact_table(*columns: str, numeric: tuple[str, ...] = (), **kwargs: Any) -> Table:
    """A table without vertical rules, so seven columns fit an 80-column terminal; cells wrap,
    never cut."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True, pad_edge=False, **kwargs)
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left",
                         no_wrap=column in numeric, overflow="fold")
    return table


def print_run_report(report: RunReport) -> None:
    # "unreadable": entries a source left out of its answers; a column only when a source had some
    counts = (*SUMMARY_COUNTS, "unreadable") if any(s.unreadable for s in report.sources) else SUMMARY_COUNTS
    table = compact_table("source", "status", *counts, numeric=counts, title="run summary", title_justify="left")
    for s in report.sources:
        table.add_row(cell(s.source), Text(s.status, style=STATUS_STYLE.get(s.status, "")),
                      *(number(getattr(s, k)) for k in counts))
    console.print(table)
    print_problems(report)
    for s in report.sources:
        for reason in s.unreadable_entries[:5]:
            err.print(Text.assemble("  ", (plain(s.source), "yellow"), " left out ", plain(reason)))
        if s.unreadable > 5:
            err.print(f"  … and {s.unreadable - 5} more unreadable entries left out by {markup(s.source)}")
        for f in s.failures[:5]:
            err.print(Text.assemble("  ", (plain(s.source), "red"), f" {f['stage']} {plain(f['item'])}: {f['code']}: ",
                                    plain(f["message"])))
        if len(s.failures) > 5:
            err.print(f"  … and {len(s.failures) - 5} more failed items in {markup(s.source)} (see the item_failures table)")
    print_alert_counts(report.alerts)


def print_problems(report: RunReport) -> None:
    """Each source that failed and why, in full, on stderr: what a cron mail or a journal shows."""
    for who, code, reason in report.problems():
        err.print(Text.assemble((plain(who), "bold red"), f" {code}: ", plain(reason)))


def print_alert_counts(alerts: dict[str, Any]) -> None:
    if not alerts:
        return
    console.print("alerts: " + ", ".join(f"{k} {number(v) if isinstance(v, int) else markup(str(v))}"
                                         for k, v in alerts.items() if k != "invalid"))
    for bad in alerts.get("invalid", []):
        err.print(Text.assemble(("saved search ", "yellow"), (plain(bad["name"]), "bold yellow"),
                                " skipped (invalid): ", plain(bad["reason"])))


def _finish(report: RunReport, as_json: bool) -> None:
    if as_json:
        print_json(report.asdict())
        print_problems(report)  # a cron log shows why, whatever the format
    else:
        print_run_report(report)
    sys.exit(0 if report.ok else 1)


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
    """Fetch what is new from the configured sources, extract, store, and send alerts.

    Exits 0 only when every source ran and stored everything it found; 1 when a source failed,
    was deferred (robots.txt unreachable, a long Retry-After) or an item failed."""
    with run_progress(sys.stderr.isatty() and not as_json) as progress:
        report = Monitor(ctx.config).run(names, extract=not no_extract, record=record, replay=replay,
                                         progress=progress)
    _finish(report, as_json)


@cli.command(name="import")
@click.argument("path", type=click.Path(dir_okay=False, exists=True))
@click.option("--source", "source_name", default="import", show_default=True,
              help="Source name for lines that do not name their own.")
@click.option("--no-extract", is_flag=True, help="Store documents without extracting figures and organisations.")
@json_option
@pass_ctx
def import_(ctx: Context, path: str, source_name: str, no_extract: bool, as_json: bool) -> None:
    """Load documents from a JSONL file (one JSON object a line: id or url, title, text, published, kind, source).

    Needs no run lock: it writes in the corpus's own transactions, so it may run while `watch`
    waits or a `run` works; alerts are matched at once and sent by whoever holds the run lock."""
    with run_progress(sys.stderr.isatty() and not as_json) as progress:
        report = Monitor(ctx.config).import_jsonl(path, source=source_name, extract=not no_extract,
                                                  progress=progress)
    _finish(report, as_json)


# --- search, sources ------------------------------------------------------------------------


@cli.command(name="search")
@click.argument("query", nargs=-1, required=True)
@click.option("--since", type=DAY, help=f"Published on or after this day ({userinput.DATE_HELP}).")
@click.option("--until", type=DAY, help=f"Published on or before this day ({userinput.DATE_HELP}).")
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
    """Search the corpus: words (all must match), "exact phrases", OR, -exclusion, prefix*.

    Options go before `--`; after it every word is the query's, so a query may start with a
    dash: mkb-monitor search --json -- -belasting mkb."""
    hits = Monitor(ctx.config).search(" ".join(query), since=since, until=until, sources=list(sources),
                                      kinds=list(kinds), organisations=orgs, dossier=dossier, sort=sort, limit=limit)
    if as_json:
        print_json([h.asdict() for h in hits])
        return
    if not hits:
        err.print("no documents match")
        return
    for h in hits:
        console.print(Text.assemble((plain(h.title), "bold"), "  ", (f"{(h.published or '')[:10]}  {plain(h.kind)}  "
                                                                     f"{plain(', '.join(h.sources))}", "dim")))
        snippet = markup(h.snippet.replace("\n", " "))
        console.print("  " + snippet.replace(search_module.MARK_START, "[reverse]")
                      .replace(search_module.MARK_END, "[/reverse]"))
        console.print(Text("  " + plain(h.url or h.id), style=Style(dim=True, link=h.url or None)))


@cli.command()
@json_option
@pass_ctx
def sources(ctx: Context, as_json: bool) -> None:
    """Each source: failing, stale, fresh or never run, with the reason; its last success and documents."""
    rows = Monitor(ctx.config).sources()
    if as_json:
        print_json(rows)
        return
    table = compact_table("source", "on", "docs", "last success", "state", numeric=("docs",),
                          caption="kinds, cursors and errors in full: --json", caption_justify="left")
    for r in rows:
        table.add_row(cell(r["name"]), "yes" if r["enabled"] else "no", number(r["documents"]),
                      _minutes(r["last_success"]), Text(r["state"], style=STATE_STYLE.get(r["state"], "")))
    console.print(table)
    for r in rows:  # the reasons in full, folded to the terminal, never cut
        if r["reason"] and r["state"] == "failing":
            console.print(Text.assemble((plain(r["name"]), "bold red"), " ", plain(r["reason"])))


STATE_STYLE = {"failing": "red", "stale": "yellow", "fresh": "green", "never run": "dim", "off": "dim",
               "imported": "dim"}


def _minutes(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")


@cli.command()
@json_option
@pass_ctx
def check(ctx: Context, as_json: bool) -> None:
    """Check both database files: SQLite integrity, foreign keys, and the search index in sync."""
    problems = Monitor(ctx.config).check()
    if as_json:
        print_json(problems)
    else:
        for path, found in problems.items():
            console.print(f"{markup(path)}: " + ("[green]ok[/]" if not found else "[red]" + markup("; ".join(found)) + "[/]"))
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
    report = pipeline.check_feed(ctx.config, url)
    if as_json:
        print_json(report)
    else:
        table = Table(show_header=False)
        for key, value in report.items():
            table.add_row(key, cell(str(value)))
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
            table.add_row(cell(r.source), cell(answer), number(r.entries), r.newest or "", number(len(r.requests)),
                          number(round(r.seconds, 1)))
        console.print(table)
    sys.exit(0 if all(r.ok for r in results) else 1)


# --- the language side: extract, eval, figures, orgs, reprocess ------------------------------


@cli.command()
@click.argument("source", type=click.File("rb"), default="-")
@click.option("--jsonl", is_flag=True, help="Each input line is a JSON object with 'text' (other keys are copied).")
@json_option
def extract(source: Any, jsonl: bool, as_json: bool) -> None:
    """Figures and organisations in any text (a file, or - for standard input); no corpus needed.

    With --jsonl, one result line is written for each input line as the input arrives; a line
    that cannot be read gives an {"error": ..., "line": N} record, the others go on, and the
    exit status is then 1."""
    import models as nlp

    name = getattr(source, "name", "-")
    name = "standard input" if name in ("-", "<stdin>") else name
    if jsonl:
        bad = 0
        for out in jsonlines.extracted(nlp.extract_many, source, name):
            bad += "error" in out
            click.echo(json.dumps(out, ensure_ascii=False))
        sys.exit(1 if bad else 0)
    raw = source.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise click.ClickException(f"{name}, line {line}: not UTF-8") from None
    extraction = nlp.extract(text)
    if as_json:
        print_json(extraction.asdict())
        return
    table = compact_table("text", "value", "max", "unit", "qualifier", "subject", numeric=("value", "max"),
                          title="figures", title_justify="left")
    for f in extraction.figures:
        table.add_row(cell(f.text), number(f.value), number(f.value_max), f.unit, f.qualifier or "",
                      cell(f.subject))
    console.print(table)
    orgs = compact_table("text", "canonical", "kind", title="organisations", title_justify="left")
    for m in extraction.mentions:
        orgs.add_row(cell(m.text), cell(m.canonical), cell(m.kind))
    console.print(orgs)


@cli.command(name="eval")
@click.argument("gold", type=click.Path(dir_okay=False, exists=True))
@json_option
def eval_(gold: str, as_json: bool) -> None:
    """Score the extraction on a gold file (precision, recall, F1; value, unit, subject, canonical accuracy).

    A gold file is JSONL: one document a line with its "text" and the annotated "figures" and
    "organisations" (as in the gold set's README)."""
    from models import evaluate

    try:
        documents = jsonlines.gold_documents(gold)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    metrics = evaluate.score(documents, evaluate.run(documents))
    if as_json:
        print_json(metrics)
    else:
        console.print(evaluate.render(metrics))


@cli.command()
@click.option("--subject", help="What is counted, e.g. ondernemers (a prefix: mkb matches mkb'ers).")
@click.option("--unit", type=click.Choice(["percent", "EUR", "count", "duration", "other"]))
@click.option("--min", "minimum", type=float, help="Only values at least this.")
@click.option("--org", "orgs", multiple=True, help="Only in documents naming this organisation.")
@click.option("--since", type=DAY, help=f"Only in documents published on or after this day ({userinput.DATE_HELP}).")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
@pass_ctx
def figures(ctx: Context, subject: str | None, unit: str | None, minimum: float | None, orgs: tuple[str, ...],
            since: str | None, limit: int, as_json: bool) -> None:
    """Figures found in the corpus, newest documents first."""
    rows = Monitor(ctx.config).figures(subject=subject, unit=unit, minimum=minimum, organisations=orgs, since=since,
                                       limit=limit)
    if as_json:
        print_json(rows)
        return
    table = compact_table("published", "value", "unit", "subject", "figure", "document", numeric=("value",))
    table.columns[0].no_wrap = True  # a date of ten characters
    for r in rows:
        table.add_row((r["published"] or "")[:10], number(r["value"]), r["unit"], cell(r["subject"]),
                      cell(r["text"]), cell(r["title"]))
    console.print(table)


@cli.command()
@click.option("--unknown", is_flag=True, help="Only names found outside the gazetteer, for review.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
@pass_ctx
def orgs(ctx: Context, unknown: bool, limit: int, as_json: bool) -> None:
    """Organisations named in the corpus, most mentioned first."""
    rows = Monitor(ctx.config).organisations(unknown_only=unknown, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = compact_table("organisation", "kind", "mentions", "documents", "id", numeric=("mentions", "documents"))
    for r in rows:
        table.add_row(cell(r["canonical"]), cell(r["kind"]), number(r["mentions"]), number(r["documents"]),
                      cell(r["id"]))
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
    with run_progress(sys.stderr.isatty() and not as_json) as progress:
        counts = Monitor(ctx.config).reprocess(sources, extract_only=extract_only, everything=everything,
                                               processes=processes, progress=progress)
    if as_json:
        print_json(counts)
    else:
        for stage, numbers in counts.items():
            console.print(f"{stage}: " + ", ".join(f"{k} {number(v)}" for k, v in numbers.items()))
    sys.exit(1 if any(n.get("failed") for n in counts.values()) else 0)


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
    host = host or ctx.config.serve.host
    port = port or ctx.config.serve.port
    if serve_module.check_host(host, public=public):
        err.print(f"warning: {host} is reachable from other machines: anyone who reaches it can read the corpus "
                  "and run read SQL on it", style="yellow", markup=False, highlight=False)
    taken = serve_module.port_taken(host, port)
    if taken:
        raise click.ClickException(f"cannot listen on {host}:{port}: {taken} (another server on that port? "
                                   "choose one with --port)")
    err.print(f"serving {ctx.config.db_path} on http://{host}:{port}/", markup=False, highlight=False)
    serve_module.serve(ctx.config, host=host, port=port)


cli.add_command(cli_alerts.alerts)
cli.add_command(cli_alerts.deliver)
cli.add_command(cli_alerts.watch)
accept_corpus_options_everywhere(cli)


def main() -> None:
    cli(prog_name="mkb-monitor")


if __name__ == "__main__":
    main()
