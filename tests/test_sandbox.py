"""Hostile board queries fail their own items with a clear message; nothing leaks or is written."""

from __future__ import annotations

import pytest

from conftest import GOOD_BOARD, GOOD_PACK, STATIC, good_pack, outcomes_by_node


BOARD_LINE = 13  # the line of the hostile query's SQL in board_with()'s board


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
    # A write inside a CTE still parses as a query; it must not reach the shared fixture data.
    ("delete-in-cte", "WITH d AS (DELETE FROM zendesk.ticket RETURNING id) SELECT COUNT(*) AS n FROM d", "syntax",
     "*syntax: a board query only reads; found DELETE inside it (in a CTE or subquery)"),
    ("insert-in-cte", "WITH d AS (INSERT INTO zendesk.ticket (id) VALUES (1) RETURNING id) SELECT COUNT(*) AS n FROM d", "syntax",
     "*syntax: a board query only reads; found INSERT inside it (in a CTE or subquery)"),
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


def test_a_write_that_reaches_the_sandbox_is_rolled_back():
    """Defence in depth: even SQL that skipped the syntax item cannot change what other items read."""
    from pathlib import Path

    from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
    from pytest_dashpacks.engines.duckdb import FixtureDatabase

    connector = load_connector(Path(curated_fixture_root()) / "zendesk" / "connector.yml")
    db = FixtureDatabase(connector, connector.versions[-1], [])
    with db.open() as sandbox:
        before = sandbox.run("SELECT COUNT(*) AS n FROM zendesk.ticket").rows
        deleted = sandbox.run("WITH d AS (DELETE FROM zendesk.ticket RETURNING id) SELECT COUNT(*) AS n FROM d").rows
        assert deleted[0][0] == before[0][0] > 0
        assert sandbox.run("SELECT COUNT(*) AS n FROM zendesk.ticket").rows == before


def test_a_zone_from_a_file_never_reaches_sql(packs, pytester):
    injected = "UTC'; SET memory_limit = '30GB'; CREATE TABLE zendesk.injected AS SELECT 42 AS v; SELECT '"
    pack = GOOD_PACK.replace("timezone: America/New_York", f'timezone: "{injected}"')
    packs({**good_pack("bad", pack=pack), **good_pack("good")})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "--dashpacks-large-rows", "100", "-rA")
    outcomes = outcomes_by_node(result)
    # The pack does not load, so none of its queries run; the other pack is whole.
    assert outcomes["packs/bad/pack.yml::load"] == "FAILED"
    assert not any(n.startswith("packs/bad/") and o == "PASSED" for n, o in outcomes.items())
    assert {o for n, o in outcomes.items() if n.startswith("packs/good/")} == {"PASSED"}
    result.stdout.fnmatch_lines(["*packs/bad/pack.yml:*: load: timezone: * is not an IANA time zone (e.g. America/New_York)"])


def test_the_sandbox_refuses_a_zone_that_is_not_a_zone_name():
    from pathlib import Path

    from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
    from pytest_dashpacks.engines.duckdb import FixtureDatabase

    connector = load_connector(Path(curated_fixture_root()) / "zendesk" / "connector.yml")
    with pytest.raises(ValueError, match="not a time zone name"):
        FixtureDatabase(connector, connector.versions[-1], []).open(zones=("UTC'; SELECT '1",))


def test_a_model_of_several_statements_runs_none_of_them():
    from pathlib import Path

    from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
    from pytest_dashpacks.engines.duckdb import FixtureDatabase

    connector = load_connector(Path(curated_fixture_root()) / "zendesk" / "connector.yml")
    models = [("sneaky", "SELECT 1 AS x; CREATE TABLE zendesk.injected AS SELECT 42 AS v"), ("fine", "SELECT 2 AS y")]
    with FixtureDatabase(connector, connector.versions[-1], models).open() as sandbox:
        tables = sandbox.run("SELECT table_name FROM information_schema.tables ORDER BY 1").rows
        assert ("injected",) not in tables and ("sneaky",) not in tables and ("fine",) in tables


@pytest.mark.parametrize("link", ["boards/leak.yml", "regressions/DEF-1.yml"])
def test_a_symlink_out_of_the_pack_is_refused_and_never_read(packs, pytester, link):
    secret = pytester.path / "secret.txt"
    secret.write_text("API_TOKEN=sk_live_do_not_print\n")
    root = packs({**good_pack("demo"), **good_pack("other")})
    target = root / "packs" / "demo" / link
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(secret)
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-m", "dashpacks_load", "-rA")
    result.stdout.fnmatch_lines([f"*packs/demo/{link}: load: {target.name} is a symbolic link that leaves its pack; it is not read"])
    assert "sk_live_do_not_print" not in result.stdout.str()
    outcomes = outcomes_by_node(result)
    assert [n for n, o in outcomes.items() if o == "FAILED"] == [f"packs/demo/{link}::load"]


RENDERING = [
    ("huge-string", "SELECT '{{ 'a' * 10**10 }}' AS s", "*str * 10,000,000,000 would be 10,000,000,000 long; the rendering budget allows 2,000,000"),
    ("huge-power", "SELECT {{ 10 ** 100000 }} AS n", "*10 ** 100000 is larger than the rendering budget allows"),
    ("nested-loops", "SELECT 1 AS n {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "*the template runs more than 1,000,000 loop iterations (the rendering budget)"),
    ("huge-range", "SELECT 1 AS n {% for i in range(10**9) %}{% endfor %}", "*range(1000000000,) has more than 1,000,000 items (the rendering budget)"),
    ("include", "{% include 'other.sql' %}", "*'other.sql': a board query cannot include, import or extend another file*"),
    ("import", "{% import 'macros.sql' as m %}SELECT 1 AS n", "*'macros.sql': a board query cannot include, import or extend another file*"),
    ("extends", "{% extends 'base.sql' %}", "*'base.sql': a board query cannot include, import or extend another file*"),
    ("recursion", "{% macro f() %}{{ f() }}{% endmacro %}SELECT {{ f() }} AS n", "*calls nest more than 64 deep (the rendering budget*"),
    ("doubling", "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}SELECT 1 AS n",
     "*namespace attribute 's' is 2,097,152 long; the rendering budget allows 2,000,000*"),
]


@pytest.mark.parametrize("case, sql, message", RENDERING, ids=[r[0] for r in RENDERING])
def test_rendering_has_a_budget(packs, pytester, case, sql, message):
    packs(good_pack("demo", board=board_with(sql)))
    result = pytester.runpytest("--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", *STATIC)
    result.stdout.fnmatch_lines([f"*packs/demo/boards/support.yml:{BOARD_LINE}: syntax: " + message.lstrip("*")])
    assert "Traceback" not in result.stdout.str()
    failed = {n for n, o in outcomes_by_node(result).items() if o == "FAILED"}
    assert failed == {"packs/demo/boards/support.yml::hostile::syntax"}


def test_plain_sql_longer_than_the_budget_fails_like_rendered_sql(packs, pytester):
    """Plain SQL is not rendered by Jinja, but it is still counted against the budget."""
    packs(good_pack("demo", board=board_with("SELECT 1 AS n -- " + "x" * 2_000_000)))
    result = pytester.runpytest("--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", "-m", "dashpacks_syntax")
    result.stdout.fnmatch_lines(["*packs/demo/boards/support.yml:*: syntax: the rendered SQL passes 2,000,000 characters (the rendering budget)"])
    assert [n for n, o in outcomes_by_node(result).items() if o == "FAILED"] == ["packs/demo/boards/support.yml::hostile::syntax"]


def test_a_query_pasted_into_itself_thirty_times_stops_at_the_budget(packs, pytester):
    queries = ["  a0: SELECT 1 AS n"] + [f"  a{i}: '{{{{ queries.a{i - 1} }}}} UNION ALL {{{{ queries.a{i - 1} }}}}'" for i in range(1, 31)]
    board = GOOD_BOARD.replace("queries:\n", "queries:\n" + "\n".join(queries) + "\n", 1)
    packs(good_pack("demo", board=board))
    result = pytester.runpytest("--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", "-m", "dashpacks_syntax")
    result.stdout.fnmatch_lines(["*support.yml:*: syntax: the rendered SQL passes 2,000,000 characters (the rendering budget)"])
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/demo/boards/support.yml::a30::syntax"] == "FAILED"
    assert outcomes["packs/demo/boards/support.yml::a10::syntax"] == "PASSED"
    assert outcomes["packs/demo/boards/support.yml::daily::syntax"] == "PASSED"


def test_a_result_larger_than_max_rows_fails_without_being_fetched(packs, pytester):
    import resource

    packs(good_pack("demo", board=board_with("SELECT range AS n FROM range(60000000)")))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = pytester.runpytest("--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", "-k", "hostile and execute")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    result.stdout.fnmatch_lines(["*execute?zendesk@2025-03?: fails on zendesk@2025-03: the query returns more than 2,000,000 rows (dashpacks_max_rows)*"])
    result.assert_outcomes(failed=1)
    assert grown_mib < 1024  # fetching all 60 million rows took 4.6-5.5 GB


def test_max_rows_comes_from_ini(packs, pytester):
    packs({**good_pack("demo"), "pytest.ini": "[pytest]\ndashpacks_max_rows = 2\n"})
    result = pytester.runpytest("--dashpacks", "packs", "-rA", "-p", "no:cacheprovider", "-k", "by_priority and execute")
    result.stdout.fnmatch_lines(["*the query returns more than 2 rows (dashpacks_max_rows); only the first 2 were read*"])
    ok = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-k", "by_priority and execute", "--dashpacks-max-rows", "100")
    ok.assert_outcomes(passed=1)


def test_ctrl_c_stops_a_running_query_and_the_run(packs, pytester):
    """DuckDB swallows SIGINT while a query runs; the run must still stop at once and record nothing."""
    import os
    import signal
    import subprocess
    import sys
    import time

    packs(good_pack("demo", board=board_with("SELECT COUNT(*) AS n FROM range(1000000) a, range(1000000) b")))
    history = pytester.path / "history.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--dashpacks", "packs", "-v", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-k", "hostile and execute", "--dashpacks-query-timeout", "600", "--dashpacks-history", str(history)],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell's background job ignores SIGINT, and Python then installs no KeyboardInterrupt handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    output = ""
    while "hostile::execute" not in output:  # verbose mode names an item when it starts (no newline yet)
        chunk = os.read(process.stdout.fileno(), 4096).decode()
        assert chunk, output
        output += chunk
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    try:
        rest, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        raise AssertionError("Ctrl-C did not stop the run; the query would have run for 600 s")
    stopped_after = time.monotonic() - interrupted
    text = output + rest.decode()
    assert process.returncode == pytest.ExitCode.INTERRUPTED, text
    assert "KeyboardInterrupt" in text and "hostile::execute[zendesk@2025-03] PASSED" not in text
    assert not history.exists()
    print(f"stopped {stopped_after:.2f} s after Ctrl-C")


@pytest.mark.parametrize("link, message", [
    ("fx/mini/seed/charge.csv", "fx/mini/seed/charge.csv: load: charge.csv is a symbolic link that leaves its fixture root; it is not read"),
    ("fx/mini/models/charges.sql", "fx/mini/models/charges.sql: load: charges.sql is a symbolic link that leaves its fixture root; it is not read"),
    ("fx/mini/connector.yml", "*fx/mini/connector.yml: load: connector.yml is a symbolic link that leaves its fixture root; it is not read"),
    ("defects.yml", "defects.yml: ledger: defects.yml is a symbolic link that leaves its folder; it is not read"),
])
def test_a_symlink_out_of_a_fixture_or_ledger_root_is_refused(packs, pytester, link, message):
    from test_bad_input import mini_project

    outside = pytester.path.parent / f"{pytester.path.name}-secret.txt"
    outside.write_text("id,amount\nAPI_TOKEN=sk_live_do_not_print,1\n")
    files = mini_project()
    files.pop(link, None)
    packs(files)
    (pytester.path / link).parent.mkdir(parents=True, exist_ok=True)
    (pytester.path / link).symlink_to(outside)
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "100")
    result.stdout.fnmatch_lines([message])
    assert "sk_live_do_not_print" not in result.stdout.str()
    assert "FAILED" in result.stdout.str()


@pytest.mark.parametrize("content", [b"HOME=/root\0API_TOKEN=sk_live_do_not_print\0", b"root:x:0:0:API_TOKEN=sk_live_do_not_print:/root:/bin/bash\n"])
def test_a_file_that_is_not_a_yaml_mapping_is_never_echoed(packs, pytester, content):
    packs({**good_pack("demo"), "packs/demo/boards/leak.yml": content})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-m", "dashpacks_load", "-rA")
    result.stdout.fnmatch_lines(["packs/demo/boards/leak.yml: load: file is not a YAML *; its content is not shown"])
    assert "sk_live_do_not_print" not in result.stdout.str()


HOSTILE_WRITES = """\
title: Hostile
queries:
  wipe: |
    WITH d AS (DELETE FROM zendesk.ticket RETURNING id) SELECT COUNT(*) AS n FROM d
  plant: |
    WITH i AS (INSERT INTO zendesk.ticket (id, created_at, status, requester_id) VALUES (999999, TIMESTAMP '2024-03-10 04:30:00', 'open', 1) RETURNING id)
    SELECT COUNT(*) AS n FROM i
charts:
  a: {type: kpi, query: wipe, value: n}
  b: {type: kpi, query: plant, value: n}
rows: [a, b]
"""


@pytest.mark.parametrize("board", ["aaa_hostile.yml", "zzz_hostile.yml"])
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_no_item_sees_another_items_writes(pytester, board, workers):
    """The gallery's session_zone pack fails its 4 timezone items; a board that deletes or plants
    tickets from a CTE, collected before or after it, serially or under -n 2, changes none of that."""
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "defects" / "session_zone", pytester.path / "sz")
    manifest = pytester.path / "sz" / "pack.yml"  # the zone item would block the data items that read the tickets
    manifest.write_text(manifest.read_text() + 'checks:\n  skip: [{check: zone, query: "*", reason: "the data items must run"}]\n')
    args = ("--dashpacks", "sz", "-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "200")
    baseline = outcomes_by_node(pytester.runpytest_subprocess(*args))
    (pytester.path / "sz" / "boards" / board).write_text(HOSTILE_WRITES)
    result = pytester.runpytest_subprocess(*args, *workers)
    outcomes = outcomes_by_node(result)
    hostile = {n: o for n, o in outcomes.items() if board in n}
    assert hostile[f"sz/boards/{board}::wipe::syntax"] == "FAILED" and hostile[f"sz/boards/{board}::plant::syntax"] == "FAILED"
    assert not any(o == "PASSED" for n, o in hostile.items() if "::execute" in n or "::volume" in n or "::timezone" in n)
    others = {n: o for n, o in outcomes.items() if board not in n}
    assert others == baseline
    assert sum(1 for n, o in baseline.items() if o == "FAILED" and "::timezone[" in n) == 4
