"""The README's commands are the ones that work: CI runs its test command, the CLI has its commands."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def fresh_machine_commands() -> list[str]:
    """The two indented command lines the README opens with."""
    return re.findall(r"^    (python3\.11 -m venv .+)$", README, flags=re.M)[:2]


def test_the_readme_opens_with_the_two_commands_of_a_fresh_machine():
    install_and_run, install_and_test = fresh_machine_commands()
    assert install_and_run.endswith("mkb-monitor run") and "pip install" in install_and_run
    assert install_and_test.endswith("python -m pytest -q") and '".[test]"' in install_and_test
    assert README.index(install_and_run) < 400  # before anything else


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert fresh_machine_commands()[1] in ci.splitlines()


def test_every_command_the_readme_shows_exists():
    shown = set(re.findall(r"^ {4}mkb-monitor ([a-z]+)", README, flags=re.M))
    assert shown >= {"run", "import", "search", "sources", "serve", "extract", "eval", "alerts", "watch"}
    for name in sorted(shown):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
