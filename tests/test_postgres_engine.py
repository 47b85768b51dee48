"""The PostgreSQL engine: a throwaway server, a database per connector version, the sandbox proved
with hostile SQL, and ``differential[postgres@<version>]`` items end to end.

They need PostgreSQL's server binaries (Debian's postgresql-15 here and in CI). Without them they
skip locally with the reason; under ``CI=true`` they fail instead, so CI never passes by skipping.
"""

from __future__ import annotations

import os

import pytest
from conftest import outcomes_by_node, write

from pytest_dashpacks.engines.duckdb import SandboxViolation, seed_rows
from pytest_dashpacks.engines.postgres import EngineUnavailable, PostgresEngine, find_bindir, postgres_type
from pytest_dashpacks.errors import CheckFailure
from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector

if find_bindir() is None and os.environ.get("CI") != "true":
    pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def stripe_db():
    connector = load_connector(curated_fixture_root() / "stripe" / "connector.yml")
    version = connector.versions[-1]
    engine = PostgresEngine("postgres", timeout=1.0, max_rows=1000, suffix=f"tests_{os.getpid()}")
    try:
        yield engine.database(connector, version, seed_rows(connector, version), [])
    except EngineUnavailable as exc:
        pytest.fail(f"the PostgreSQL engine did not start: {exc}")
    finally:
        engine.close()


def test_rows_load_with_their_declared_types(stripe_db):
    result = stripe_db.run("SELECT COUNT(*) AS n, pg_typeof(MIN(created))::text AS created_type FROM stripe.charge")
    assert result.rows[0][0] > 0 and result.rows[0][1] == "timestamp without time zone"
    assert postgres_type("double") == "DOUBLE PRECISION" and postgres_type("timestamp with time zone") == "TIMESTAMPTZ"


def test_queries_run_as_a_role_without_superuser_rights(stripe_db):
    result = stripe_db.run("SELECT current_user, session_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
    (user, session_user, superuser), = result.rows
    assert user == session_user == stripe_db.reader and user.startswith("dashpacks_reader_") and superuser is False


@pytest.mark.parametrize(
    "sql, refused",
    [
        ("SELECT pg_read_file('/etc/passwd')", "permission denied"),
        ("SELECT pg_ls_dir('.')", "permission denied"),
        ("COPY (SELECT 1) TO '/tmp/dashpacks-copy'", "permission denied|read-only|must be superuser"),
        ("COPY stripe.charge FROM '/etc/passwd'", "permission denied|read-only|must be superuser"),
        ("CREATE EXTENSION dblink", "permission denied|read-only|must be superuser"),
        ("SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)", "does not exist"),
        ("SELECT * FROM pg_authid", "permission denied"),
        ("SELECT set_config('role', 'dashpacks_admin', true)", "permission denied"),
        ("DELETE FROM stripe.charge", "read-only|permission denied|must be superuser"),
        ("CREATE TABLE stripe.planted AS SELECT 1 AS x", "read-only|permission denied|must be superuser"),
        ("SELECT 1; DELETE FROM stripe.charge", "read-only"),  # a second statement still runs read-only
    ],
)
def test_the_sandbox_refuses_hostile_sql(stripe_db, sql, refused):
    with pytest.raises((CheckFailure, SandboxViolation), match=refused):
        stripe_db.run(sql)
    assert stripe_db.run("SELECT COUNT(*) FROM stripe.charge").rows[0][0] > 0  # nothing was deleted


def test_a_slow_query_is_cancelled_at_the_timeout(stripe_db):
    with pytest.raises(SandboxViolation, match="did not finish within 1 s"):
        stripe_db.run("SELECT pg_sleep(5)")
    assert stripe_db.run("SELECT 1").rows == ((1,),)  # the connection is usable after a cancel


def test_a_rejected_query_is_located_at_postgresql_s_caret(stripe_db):
    with pytest.raises(CheckFailure) as failure:
        stripe_db.run("SELECT id\nFROM stripe.charge\nWHERE created > CURRENT_DATE - interval 90 day")
    assert failure.value.message.startswith("PostgreSQL: syntax error at or near")
    assert failure.value.sql is not None and failure.value.sql.line == 3


def test_an_unreachable_server_skips_with_the_reason():
    engine = PostgresEngine("postgresql://nobody@/nowhere?host=/nonexistent-socket-dir", 1.0, 10, "x")
    with pytest.raises(EngineUnavailable, match="PostgreSQL engine unavailable"):
        engine.admin_conninfo()
    with pytest.raises(EngineUnavailable):  # the reason is kept: one attempt per run
        engine.admin_conninfo()


PG_PACK = 'connector: stripe\nschema_versions: ["2025-07"]\ndialect: postgres\ntargets: [postgres]\ntimezone: UTC\n'
PG_BOARD = """\
title: Refunds
queries:
  refund_rate: |
    SELECT CAST(created AS DATE) AS day, COUNT(*) AS charges, SUM(amount) AS amount
    FROM stripe.charge
    GROUP BY 1
  busy_days: |
    SELECT CAST(created AS DATE) AS day, COUNT(*) AS charges
    FROM stripe.charge
    GROUP BY 1
    HAVING charges > 1
  recent: |
    SELECT id
    FROM stripe.charge
    WHERE created > TIMESTAMP '2025-01-01' - interval 90 day
"""


def test_differential_items_end_to_end(pytester):
    write(pytester.path, {"packs/p/pack.yml": PG_PACK, "packs/p/boards/refunds.yml": PG_BOARD})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "-m", "dashpacks_differential or dashpacks_execute",
                                "--dashpacks-engine", "postgres")
    outcomes = outcomes_by_node(result)
    assert outcomes == {
        "packs/p/boards/refunds.yml::refund_rate::execute[stripe@2025-07]": "PASSED",
        "packs/p/boards/refunds.yml::refund_rate::differential[postgres@2025-07]": "PASSED",
        "packs/p/boards/refunds.yml::busy_days::execute[stripe@2025-07]": "PASSED",
        "packs/p/boards/refunds.yml::busy_days::differential[postgres@2025-07]": "FAILED",
        "packs/p/boards/refunds.yml::recent::execute[stripe@2025-07]": "PASSED",
        "packs/p/boards/refunds.yml::recent::differential[postgres@2025-07]": "FAILED",  # its syntax item is deselected
    }, result.stdout.str()
    result.stdout.fnmatch_lines([
        "packs/p/boards/refunds.yml:11: differential[[]postgres@2025-07[]]: PostgreSQL rejects the query (an output-column alias*",
        "    > 4 | HAVING charges > 1",
        # the unquoted INTERVAL is the syntax item's finding (not selected here): reported there, once
        "*differential[[]postgres@2025-07[]]: postgres rejects an unquoted INTERVAL amount*(found by *recent::syntax, which is not in this run)",
    ])


def test_the_postgres_only_gallery_pack_fails_only_its_differential_item(pytester):
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "defects" / "having_alias", pytester.path / "having_alias")
    result = pytester.runpytest("--dashpacks", "having_alias", "-p", "no:cacheprovider", "-rA", "--dashpacks-engine", "postgres")
    failed = sorted(node for node, outcome in outcomes_by_node(result).items() if outcome == "FAILED")
    assert failed == ["having_alias/boards/orders.yml::busy_days::differential[postgres@2023-06]"], result.stdout.str()
    result.stdout.fnmatch_lines(["*orders.yml:8: differential[[]postgres@2023-06[]]: PostgreSQL rejects the query (an output-column alias*"])
    without = pytester.runpytest("--dashpacks", "having_alias", "-p", "no:cacheprovider")
    without.assert_outcomes(passed=len(outcomes_by_node(result)) - 1)  # DuckDB alone finds nothing wrong


def test_no_engine_no_differential_items(pytester):
    write(pytester.path, {"packs/p/pack.yml": PG_PACK, "packs/p/boards/refunds.yml": PG_BOARD})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "--collect-only", "-q")
    assert "differential" not in result.stdout.str()


def test_a_server_that_cannot_start_skips_its_items_with_the_reason(pytester, monkeypatch):
    monkeypatch.setenv("DASHPACKS_PG_BIN", str(pytester.path / "no-such-bin"))
    monkeypatch.setattr("pytest_dashpacks.engines.postgres.find_bindir", lambda: None)
    write(pytester.path, {"packs/p/pack.yml": PG_PACK, "packs/p/boards/refunds.yml": PG_BOARD})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rs", "-m", "dashpacks_differential",
                                "--dashpacks-engine", "postgres")
    result.assert_outcomes(skipped=2, failed=1)  # the third reports the unquoted INTERVAL its deselected syntax item finds
    result.stdout.fnmatch_lines(["*PostgreSQL engine unavailable: no PostgreSQL server binaries*"])


def test_example_packs_are_green_on_postgres_under_xdist(pytester):
    """Every query written for or transpiled to Postgres gives DuckDB's answer on PostgreSQL, with each
    xdist worker in its own databases on its own server."""
    import shutil

    from conftest import EXAMPLES

    shutil.copytree(EXAMPLES / "packs", pytester.path / "packs")
    shutil.copytree(EXAMPLES / "realworld", pytester.path / "realworld")  # bare table names resolve in the connector schema
    result = pytester.runpytest_subprocess("--dashpacks", "packs", "realworld", "-n", "2", "-m", "dashpacks_differential",
                                           "-p", "no:cacheprovider", "--dashpacks-engine", "postgres")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 120 and not outcomes.get("failed") and not outcomes.get("skipped"), result.stdout.str()[-3000:]


def test_a_dsn_uses_an_existing_server_and_drops_its_databases(pytester):
    """A postgresql:// DSN (a CI service container, say): the run creates its databases there and drops them."""
    import psycopg

    from pytest_dashpacks.engines.postgres import ADMIN, ThrowawayServer

    server = ThrowawayServer()
    conninfo = server.start()
    try:
        dsn = f"postgresql:///postgres?host={server.directory}&user={ADMIN}"
        write(pytester.path, {"packs/p/pack.yml": PG_PACK, "packs/p/boards/refunds.yml": PG_BOARD})
        # two workers on one server: each has its own databases and role, and neither breaks the other
        result = pytester.runpytest_subprocess("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "-n", "2",
                                               "-k", "refund_rate or busy_days", "-m", "dashpacks_differential", "--dashpacks-engine", dsn)
        result.assert_outcomes(passed=1, failed=1)  # busy_days filters on an output alias in HAVING
        with psycopg.connect(conninfo) as con:
            left = con.execute("SELECT datname FROM pg_database WHERE datname LIKE 'dashpacks_%'").fetchall()
            roles = con.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'dashpacks_reader%'").fetchall()
        assert left == [] and roles == []
    finally:
        server.stop()


def test_a_version_postgresql_cannot_load_skips_its_items_with_the_reason(pytester):
    """A declared type with no PostgreSQL twin (DuckDB's UBIGINT) is the engine's limit, not the pack's defect."""
    write(pytester.path, {
        "fx/odd/connector.yml": 'connector: odd\nschema: odd\nversions:\n  "1":\n    tables:\n      t:\n        columns:\n          id: {type: ubigint}\n',
        "packs/p/pack.yml": "connector: odd\ndialect: postgres\nfixtures: ../../fx\ntimezone: UTC\n",
        "packs/p/boards/b.yml": "title: B\nqueries:\n  q: SELECT COUNT(*) AS n FROM odd.t\n",
    })
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rs", "-m", "dashpacks_differential",
                                "--dashpacks-engine", "postgres")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*cannot load odd@1 into PostgreSQL: *"])
