"""The shape of the tree: which module may do what (the brief's "store is the only place that
writes SQL"; issue 16: no SQL statement outside monitor/store/ except Datasette's stored queries)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "scrapers", "models")
# A string that reads as an SQL statement: a statement keyword, then what every such statement has.
SQL = re.compile(r"^\s*(select\b.+\bfrom\b|insert\s+into\b|update\s+\w+\s+set\b|delete\s+from\b|"
                 r"create\s+(table|index|virtual|trigger|view)\b|pragma\s+\w+|with\s+\w+\s+as\s*\()",
                 re.IGNORECASE | re.DOTALL)


def sql_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append((node.lineno, node.value.strip().splitlines()[0][:60]))
        elif isinstance(node, ast.JoinedStr):
            head = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL.match(head):
                found.append((node.lineno, head.strip().splitlines()[0][:60]))
    return found


def test_the_pattern_finds_sql() -> None:
    sample = ROOT / "monitor" / "store" / "web.py"
    assert sql_strings(sample), "the SQL pattern no longer recognises the store's own statements"


def test_no_sql_outside_the_store() -> None:
    outside = {f"{path.relative_to(ROOT)}:{line}: {text}"
               for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
               if "store" not in path.relative_to(ROOT / package).parts[:1] or package != "monitor"
               for line, text in sql_strings(path)}
    assert not outside, "SQL outside monitor/store/:\n" + "\n".join(sorted(outside))
