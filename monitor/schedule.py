"""The scheduler behind ``mkb-monitor watch``: run the sources every so often, and deliver due
alerts in between, until stopped.

Holds the run lock for as long as it watches, so a second ``watch`` or a ``run`` meets
``AlreadyRunning``; ``import`` and ``reprocess`` need no run lock and work meanwhile. A failing
source or run is logged and the next run goes ahead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from monitor import lock, notify, pipeline
from monitor.alerts import utc_now
from monitor.config import Config
from monitor.display import plain
from monitor.errors import code_of
from monitor.runs import RunReport
from monitor.store import Store
from monitor.store.private import PrivateStore

Log = Callable[[str], None]


def watch(config: Config, interval: float, names: Iterable[str] = (), *, extract: bool = True,
          max_runs: int | None = None, log: Log = print) -> int:
    """Run every ``interval`` seconds (start to start) until ``max_runs`` (None: never); each run
    and each delivery between runs is one line to ``log``. Returns the number of runs."""
    with lock.exclusive(config.lock_path):
        runs = 0
        while True:
            started = time.monotonic()
            runs += 1
            try:
                report = run_sources(config, names, extract=extract)
                log(f"run {runs}: {run_line(report, time.monotonic() - started)}")
            except Exception as exc:  # the scheduler outlives any one run
                log(f"run {runs} failed: {code_of(exc)}: {plain(str(exc))}")
            if max_runs is not None and runs >= max_runs:
                return runs
            wait_and_deliver(config, started + interval, log=log)


def run_sources(config: Config, names: Iterable[str] = (), *, extract: bool = True) -> RunReport:
    """One run of the configured sources, as ``mkb-monitor run`` does it. The caller holds the lock."""
    with Store.open(config) as store:
        return pipeline.for_config(config, store, extract=extract).run(list(names) or None)


def run_line(report: RunReport, seconds: float) -> str:
    """A run in one line: counts, source states, alerts, every problem."""
    states: dict[str, int] = {}
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


def wait_and_deliver(config: Config, until: float, *, log: Log = print) -> None:
    """Sleep until ``until`` (time.monotonic), waking for retries that fall due before it (a
    webhook's 5 s step should not wait for the next 30-minute run)."""
    while (left := until - time.monotonic()) > 0:
        with PrivateStore.open(config) as private:
            next_due = private.next_due()
            wait = left
            if next_due is not None:
                wait = min(left, max(0.0, (next_due - utc_now()).total_seconds()))
            time.sleep(min(wait, 60.0) if wait > 0 else 0)
            if next_due is not None and utc_now() >= next_due:
                counts = notify.deliver(private, config, clock=utc_now)
                log("deliver: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
