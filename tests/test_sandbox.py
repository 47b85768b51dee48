"""Hostile board queries fail their own items with a clear message; nothing leaks or is written."""

from __future__ import annotations

import pytest

from conftest import GOOD_BOARD, good_pack, outcomes_by_node


def board_with(sql: str) -> str:
    body = "\n".join("    " + line for line in sql.splitlines())
    return GOOD_BOARD.replace("  by_priority:\n", f"  hostile: |\n{body}\n  by_priority:\n", 1)


HOSTILE = [
    ("read-file", "SELECT * FROM read_csv('/etc/passwd')", "execute", "*refused by the sandbox: Permission Error: Cannot access file \"/etc/passwd\"*"),
    ("glob", "SELECT * FROM glob('/etc/*')", "execute", "*refused by the sandbox*"),
    ("copy", "COPY (SELECT 1) TO 'leak.csv'", "syntax", "*only a SELECT/WITH statement is a valid board query; found COPY"),
    ("attach", "ATTACH 'other.db' AS other", "syntax", "*found ATTACH"),
    ("install", "INSTALL httpfs", "syntax", "*found INSTALL"),
    ("second-statement", "SELECT 1 AS a; DROP TABLE zendesk.ticket", "syntax", "*a board query must be one statement; found 2*"),
    # A cross join that streams 10^12 rows: CPU-bound, so the timeout (not the memory limit) stops it.
    ("endless", "SELECT COUNT(*) AS n FROM range(1000000) a, range(1000000) b", "execute", "*did not finish within 1 s (dashpacks_query_timeout) and was interrupted*"),
]


@pytest.mark.parametrize("case, sql, failing, message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_query_fails_only_its_items(packs, pytester, case, sql, failing, message):
    packs(good_pack("demo", board=board_with(sql)))
    before = {p for p in pytester.path.rglob("*")}
    result = pytester.runpytest(
        "--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", "-k", "hostile or daily",
        "--dashpacks-query-timeout", "1", "--dashpacks-large-rows", "100",
    )
    outcomes = outcomes_by_node(result)
    result.stdout.fnmatch_lines([message])
    failed = {n for n, o in outcomes.items() if o == "FAILED"}
    assert failed and all("::hostile::" in n for n in failed)
    assert any(n.endswith(f"::hostile::{failing}") or f"::hostile::{failing}[" in n for n in failed)
    assert "root:x:0:0" not in result.stdout.str()  # no file content leaks
    assert {p for p in pytester.path.rglob("*") if "__pycache__" not in p.parts} - before <= {pytester.path / "packs" / "demo" / "boards" / "__pycache__"}
    daily = {o for n, o in outcomes.items() if "::daily::" in n}
    assert daily == {"PASSED"}


def test_memory_limit_stops_a_query_that_hoards(packs, pytester):
    packs(good_pack("demo", board=board_with("SELECT len(list(range)) AS n FROM range(400000000)")))
    result = pytester.runpytest("--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", "-k", "hostile and execute",
                                "--dashpacks-query-timeout", "60")
    result.stdout.fnmatch_lines(["*execute?zendesk@2025-03?: fails on zendesk@2025-03: the query ran out of memory: Out of Memory Error*"])
    result.assert_outcomes(failed=1)
