"""Run the ``mkb-monitor`` CLI many times, fast: a fork server.

Starting ``python -m monitor`` costs seconds (spaCy, lxml, trafilatura, httpx are imported
before the first line runs), and the crash suite needs hundreds of runs. So one server process
imports the CLI once and forks a fresh child for every run: each run is still its own process,
with its own pid, file descriptors, SQLite connections and flock, killed by SIGKILL with no
cleanup exactly like ``python -m monitor`` would be. Only the import work is shared.

    with Runner() as runner:
        pid = runner.start(["--db", db, "import", path], env={"MONITOR_CRASHPOINT": "mid_upsert:2"}, cwd=tmp)
        result = runner.wait()          # Result(code=-9, stdout=..., stderr=...)

``MKB_CRASH_RUNNER=subprocess`` runs every command as ``python -m monitor`` instead (slower; to
check that the fork server changes nothing).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    code: int  # the exit code, or minus the signal that ended the run (-9: SIGKILL)
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.code == -9


class Runner:
    """Start runs one at a time; ``start`` returns the pid of the run so a test can kill it."""

    def __init__(self) -> None:
        self.mode = os.environ.get("MKB_CRASH_RUNNER", "fork")
        self._server: subprocess.Popen[str] | None = None
        self._current: tuple[int, Path, Path, subprocess.Popen[bytes] | None] | None = None
        self._scratch = Path(tempfile.mkdtemp(prefix="forkrun-"))
        self.runs = 0

    def __enter__(self) -> Runner:
        if self.mode == "fork":
            self._server = subprocess.Popen([sys.executable, "-u", __file__], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, text=True, cwd=REPO)
            ready = self._server.stdout.readline()  # type: ignore[union-attr]
            assert ready.strip() == "ready", f"fork server did not start: {ready!r}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stdin.close()  # type: ignore[union-attr]
            self._server.wait(timeout=30)
        for file in self._scratch.iterdir():
            file.unlink()
        self._scratch.rmdir()

    def start(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
              fsize: int | None = None) -> int:
        """Start a run; ``fsize`` caps the size of any file it writes (RLIMIT_FSIZE, SIGXFSZ
        ignored so that a write past it fails with EFBIG, as on a full disk)."""
        assert self._current is None, "wait() for the previous run first"
        self.runs += 1
        out, err = self._scratch / f"{self.runs}.out", self._scratch / f"{self.runs}.err"
        env = {k: v for k, v in (env or {}).items()}
        if self.mode == "fork":
            request = {"argv": [str(a) for a in argv], "env": env, "cwd": str(cwd or REPO),
                       "stdout": str(out), "stderr": str(err), "fsize": fsize}
            self._server.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
            self._server.stdin.flush()  # type: ignore[union-attr]
            pid = json.loads(self._server.stdout.readline())["pid"]  # type: ignore[union-attr]
            self._current = (pid, out, err, None)
            return pid
        child_env = {k: v for k, v in os.environ.items() if k != "MONITOR_CRASHPOINT"}
        child_env.update(env)
        child_env["PYTHONPATH"] = str(REPO)
        with open(out, "wb") as o, open(err, "wb") as e:
            proc = subprocess.Popen([sys.executable, "-m", "monitor", *map(str, argv)], stdout=o, stderr=e,
                                    env=child_env, cwd=cwd or REPO, preexec_fn=lambda: _limit(fsize))
        self._current = (proc.pid, out, err, proc)
        return proc.pid

    def wait(self, timeout: float = 120) -> Result:
        assert self._current is not None
        pid, out, err, proc = self._current
        self._current = None
        if proc is not None:
            code = proc.wait(timeout=timeout)
        else:
            code = json.loads(self._server.stdout.readline())["code"]  # type: ignore[union-attr]
        return Result(code, out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace"))

    def run(self, argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
            fsize: int | None = None) -> Result:
        self.start(argv, env=env, cwd=cwd, fsize=fsize)
        return self.wait()


def _limit(fsize: int | None) -> None:
    if fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def _serve() -> None:
    """The server loop: one JSON request a line in, the pid and then the exit status out."""
    import importlib

    import scrapers
    from monitor import cli, crashpoints

    # What a run imports lazily, imported once here: faster, and every run of a session runs
    # the same code even while the files change on disk.
    for module in ("monitor.http", "monitor.recording", "monitor.alerts", "monitor.notify"):
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # optional stages (alerts) that are not there yet
    for kind in scrapers.KINDS:
        scrapers.source_class(kind)
    import models

    models.shared_nlp()  # spaCy and the gazetteer, loaded once: a run that extracts starts warm
    os.environ.pop("MONITOR_CRASHPOINT", None)
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(cli, crashpoints, request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"code": code}), flush=True)


def _child(cli, crashpoints, request) -> None:  # type: ignore[no-untyped-def]
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.update(request["env"])
        crashpoints._hits.clear()
        _limit(request.get("fsize"))
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin.close()
        try:
            cli.cli.main(args=request["argv"], prog_name="mkb-monitor")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - a traceback is the test's evidence, on the child's stderr
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    _serve()
