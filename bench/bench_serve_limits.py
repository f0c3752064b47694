"""What one hostile SQL request costs `mkb-monitor serve`: time, status, body and the server's peak memory.

    python bench/bench_serve_limits.py --db data/monitor.db --size 1000000000

Starts `mkb-monitor serve` as its own process on loopback, waits for it, then sends each query of
QUERIES once through HTTP (the SQL page, JSON) and prints the answer's status, its size, the time
to the last byte and the server's peak resident memory while it answered (VmHWM from /proc, reset
before each request: Linux only).
``--size`` is the size asked of ``randomblob`` and ``zeroblob``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.common import print_environment  # noqa: E402

QUERIES = {
    "randomblob": "select randomblob({size})",
    "zeroblob as hex": "select hex(zeroblob({size} / 2))",
    "1,000 rows of size/1,000": ("with recursive n(i) as (select 1 union all select i + 1 from n limit 1000) "
                                 "select i, randomblob({size} / 1000) from n"),
    "a page of documents": None,  # /monitor/documents.json, for the baseline
}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from the current RSS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1_000_000_000)
    args = parser.parse_args(argv)
    print_environment()
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, "-m", "monitor", "--db", str(args.db), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root,
                              env={**os.environ, "PYTHONPATH": str(root)})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/-/versions.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        print(f"# server up, peak RSS {peak_rss_mib(server.pid):.0f} MiB")
        print(f"{'request':28} {'status':>6} {'body bytes':>14} {'seconds':>8} {'server peak RSS MiB':>20}")
        for name, sql in QUERIES.items():
            params = {"sql": sql.format(size=args.size)} if sql else {}
            reset_peak(server.pid)
            path = "/monitor.json" if sql else "/monitor/documents.json"
            started = time.perf_counter()
            response = httpx.get(base + path, params=params, timeout=600)
            seconds = time.perf_counter() - started
            print(f"{name:28} {response.status_code:6} {len(response.content):14,} {seconds:8.2f} "
                  f"{peak_rss_mib(server.pid):20.0f}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
