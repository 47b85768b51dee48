"""Benchmark the execution phase of pytest-dashpacks on the example packs.

Measures, in one run on one machine:

* fixture-database build time per curated connector version (seed transformed
  by the version's changes, loaded, models created as views, sandbox locked);
* time per ``execute[...]`` item (the check's own work, in-process) against a
  floor: the same transpiled queries run directly in one plain DuckDB connection
  that already holds the same seed -- no sandbox, no per-item bookkeeping;
* ``volume[large]`` at the default 200,000 rows per table: building the large
  database and running each query of a pack on it;
* peak memory (max RSS) of ``pytest --dashpacks examples/packs`` with the
  default settings, as a subprocess.

Usage: python benchmarks/bench_execution.py [--skip-full-run]
Targets (issue #3): executed item within 2x of the floor. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_times() -> list[tuple[str, int, float]]:
    from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
    from pytest_dashpacks.engines.duckdb import FixtureDatabase

    out = []
    for manifest in sorted(curated_fixture_root().glob("*/connector.yml")):
        connector = load_connector(manifest)
        for version in connector.versions:
            db = FixtureDatabase(connector, version, [])
            rows = sum(len(r) for r in db.seed.values())
            samples = []
            for _ in range(3):
                start = time.perf_counter()
                db.open().close()
                samples.append(time.perf_counter() - start)
            out.append((version.label, rows, statistics.median(samples)))
    return out


def session_for(root: Path, large_rows: int = 200_000):
    from pytest_dashpacks.session import DashpacksSession
    from pytest_dashpacks.settings import Settings

    settings = Settings(True, False, None, root, ("UTC",), large_rows, 600.0, None, None, None, None, None)
    return DashpacksSession(settings)


def execute_items(root: Path):
    """(session, [(check context)]) for every execute item of the example packs."""
    from pytest_dashpacks.checks import CheckContext
    from pytest_dashpacks.load.packs import board_files

    session = session_for(root)
    contexts = []
    for manifest in sorted((root / "examples" / "packs").glob("*/pack.yml")):
        pack = session.library.pack(manifest)
        for path in board_files(pack.directory):
            board = session.library.board(path, pack.directory)
            for query in board.queries:
                contexts += [CheckContext(session, pack, board, query, version=v) for v in session.library.versions(pack)]
    return session, contexts


def per_item_vs_floor() -> tuple[int, float, float]:
    import duckdb

    from pytest_dashpacks.checks import check_kind
    from pytest_dashpacks.errors import CheckSkipped, DashpacksError

    session, contexts = execute_items(REPO)
    # Warm-up: build every fixture database and transpile every query once (both sides use them).
    jobs = []
    for ctx in contexts:
        version = ctx.version
        try:
            sql = session.queries.runnable(ctx.pack, ctx.board, ctx.query)
        except (CheckSkipped, DashpacksError):
            continue
        session.databases.sandbox(ctx.pack, version, "seed")
        jobs.append((ctx, version, sql))
    # Floor: one plain connection per fixture database content, queries run directly.
    plain = {}
    for ctx, version, _ in jobs:
        key = (ctx.pack.manifest, version.name)
        if key not in plain:
            db = session.databases.fixture_db(ctx.pack, version)
            con = duckdb.connect(":memory:")
            con.execute("SET TimeZone = 'UTC'")
            source = db.open()
            for table in version.tables.values():
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"')
                result = source.run(f'SELECT * FROM "{table.schema}"."{table.name}"')
                columns = ", ".join(f'"{c.name}" {c.type}' for c in table.columns)
                con.execute(f'CREATE TABLE "{table.schema}"."{table.name}" ({columns})')
                if result.rows:
                    con.executemany(f'INSERT INTO "{table.schema}"."{table.name}" VALUES ({", ".join("?" * len(table.columns))})', list(result.rows))
            con.execute('CREATE SCHEMA IF NOT EXISTS "models"')
            for name, sql in db.models:
                try:
                    con.execute(f'CREATE VIEW "models"."{name}" AS {sql}')
                except duckdb.Error:
                    pass
            source.close()
            plain[key] = con
    floors, checks = [], []
    for _ in range(3):
        start = time.perf_counter()
        for ctx, version, sql in jobs:
            try:
                plain[(ctx.pack.manifest, version.name)].execute(sql).fetchall()
            except duckdb.Error:
                pass
        floors.append(time.perf_counter() - start)
        start = time.perf_counter()
        for ctx, _, _ in jobs:
            try:
                check_kind("execute").run(ctx)
            except (CheckSkipped, DashpacksError):
                pass
        checks.append(time.perf_counter() - start)
    session.close()
    return len(jobs), min(checks), min(floors)


def large_volume() -> list[tuple[str, float, int, float]]:
    from pytest_dashpacks.errors import CheckSkipped, DashpacksError
    from pytest_dashpacks.load.packs import board_files

    session = session_for(REPO)
    out = []
    for manifest in sorted((REPO / "examples" / "packs").glob("*/pack.yml")):
        pack = session.library.pack(manifest)
        version = session.library.versions(pack)[-1]
        start = time.perf_counter()
        sandbox = session.databases.sandbox(pack, version, "large")
        build = time.perf_counter() - start
        runs = []
        for path in board_files(pack.directory):
            board = session.library.board(path, pack.directory)
            for query in board.queries:
                try:
                    sql = session.queries.runnable(pack, board, query)
                except (CheckSkipped, DashpacksError):
                    continue
                start = time.perf_counter()
                try:
                    sandbox.run(sql)
                except DashpacksError:
                    pass
                runs.append(time.perf_counter() - start)
        out.append((f"{pack.name} ({version.label})", build, len(runs), max(runs)))
    session.close()
    return out


def full_run_peak() -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--dashpacks", "examples/packs", "-q", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak_mib, proc.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-full-run", action="store_true")
    options = parser.parse_args()
    import duckdb

    print(f"python {sys.version.split()[0]}, duckdb {duckdb.__version__}")
    print("fixture database build (seed rows, median of 3):")
    for label, rows, seconds in build_times():
        print(f"  {label:<24} {rows:>5} rows  {1000 * seconds:7.1f} ms")
    items, checks, floor = per_item_vs_floor()
    print(f"execute items: {items}; checks {1000 * checks / items:.2f} ms per item, "
          f"floor (same SQL, plain DuckDB) {1000 * floor / items:.2f} ms per query; ratio {checks / floor:.2f}x (target <= 2x)")
    print("volume[large] at 200000 rows per table (newest version of each example pack):")
    for label, build, count, slowest in large_volume():
        print(f"  {label:<36} build {build:6.2f} s; {count} queries, slowest {slowest:.3f} s")
    if not options.skip_full_run:
        wall, peak, summary = full_run_peak()
        print(f"pytest --dashpacks examples/packs (defaults, serial): {wall:.1f} s wall, peak RSS {peak:.0f} MiB -> {summary}")


if __name__ == "__main__":
    main()
