"""What the benchmarks share: the real texts they recombine, percentiles, and the printout of
the versions and machine a figure was measured on (a figure without them means nothing)."""

from __future__ import annotations

import json
import os
import platform
import resource
import sqlite3
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO.parent / "shared" / "gold" / "dev.jsonl"
FALLBACK = REPO / "tests" / "fixtures" / "import" / "government.jsonl"
OUT = REPO / "bench" / "out"  # git-ignored


def real_texts() -> tuple[Path, list[dict[str, Any]]]:
    """The gold texts (with their figure and organisation annotations) or, without ../shared,
    the government texts of the import fixture (no annotations)."""
    path = GOLD if GOLD.exists() else FALLBACK
    with path.open(encoding="utf-8") as f:
        return path, [json.loads(line) for line in f if line.strip()]


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0-100), interpolated between the closest ranks."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            memory = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlite-utils": _version("sqlite-utils"),
        "spacy": _version("spacy"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {memory}",
        "platform": platform.platform(),
    }


def print_environment(out=sys.stdout) -> None:
    for key, value in environment().items():
        print(f"# {key}: {value}", file=out)
    print(f"# command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}", file=out)


def file_size(path: Path) -> int:
    """The database with its WAL: what the corpus costs on disk."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
