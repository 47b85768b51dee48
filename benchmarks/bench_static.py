"""Benchmark the static phase of pytest-dashpacks on a generated 1,000-query catalog.

Generates packs from the curated connector library (5 connectors x 10 boards x
20 queries), then measures, in one run on one machine:

* ``pytest --dashpacks --collect-only`` (wall time of the whole command, and
  the collection time pytest reports);
* the static items (load, syntax, schema per version, bindings, transpile per
  target) run by pytest, per query;
* the floor: plain sqlglot on the same rendered queries -- parse once, qualify
  against each connector version's schema, and ``sqlglot.transpile`` to each
  target -- per query, in-process.

Usage: python benchmarks/bench_static.py [--queries-per-board 20] [--boards 10]
Targets (issue #2): collection under 3 s; static phase within 1.5x of the floor.
Timings are printed, never asserted: machines are shared and noisy, so compare
the ratio measured in one run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
from pytest_dashpacks.sql.render import quote_table

TARGETS = ["snowflake", "bigquery", "redshift", "postgres", "databricks"]
ZONE = "America/New_York"  # a reporting zone other than the stored UTC, so every query gets its zone item too


def local_day(column) -> str:
    """The column's reporting-zone day, as a healthy board writes it (naive UTC or an instant)."""
    if "time zone" in column.type.lower() or column.type.lower() == "timestamptz":
        return f"CAST({column.name} AT TIME ZONE '{ZONE}' AS DATE)"
    return f"CAST(({column.name} AT TIME ZONE 'UTC') AT TIME ZONE '{ZONE}' AS DATE)"
NUMERIC = ("bigint", "integer", "double", "decimal", "int", "float", "numeric")


def stable_tables(connector):
    """Tables and columns present, with the same type, in every version."""
    versions = connector.versions
    first = versions[0]
    out = {}
    for key, table in first.tables.items():
        if not all(key in v.tables for v in versions):
            continue
        columns = []
        for column in table.columns:
            same = [v.tables[key].column(column.name) for v in versions]
            if all(c is not None and c.type == column.type and c.values == column.values for c in same):
                columns.append(column)
        if columns:
            out[key] = (table, columns)
    return out


def queries_for(connector, count):
    """``count`` realistic dashboard queries over the connector's stable tables."""
    tables = stable_tables(connector)
    shapes = []
    for key, (table, columns) in tables.items():
        name = f"{table.schema}.{quote_table(table.name, 'duckdb')}"
        numeric = [c.name for c in columns if c.type.lower().startswith(NUMERIC) and not c.primary_key]
        stamps = [c for c in columns if c.type.lower().startswith("timestamp") and not c.name.startswith("_") and c.unit != "date"]
        texts = [c for c in columns if c.type.lower() == "varchar" and not c.primary_key]
        enums = [c for c in texts if c.values]
        deleted = next((c.name for c in columns if c.name == "_fivetran_deleted"), None)
        not_deleted = f"NOT COALESCE({deleted}, FALSE)" if deleted else "TRUE"
        measure = numeric[0] if numeric else None
        label = (enums or texts or [None])[0]
        if stamps and measure:
            shapes.append((
                f"SELECT {local_day(stamps[0])} AS day, COUNT(*) AS n, SUM({measure}) AS total\n"
                f"FROM {name}\nWHERE {not_deleted}\n  AND {local_day(stamps[0])} BETWEEN '2024-01-01' AND '2024-12-31'\n"
                f"GROUP BY 1\nORDER BY 1", "day", "total"))
        if label is not None:
            where = f"{label.name} IN ({', '.join(repr(str(v)) for v in label.values[:2])})" if label.values else "TRUE"
            shapes.append((
                f"WITH base AS (\n  SELECT * FROM {name} WHERE {not_deleted}\n)\n"
                f"SELECT {label.name} AS label, COUNT(*) AS n{', AVG(' + measure + ') AS average' if measure else ''}\n"
                f"FROM base\nWHERE {where}\nGROUP BY 1\nORDER BY n DESC", "label", "n"))
        for column in columns:
            if column.references:
                parent_key, _, parent_column = column.references.rpartition(".")
                parent = tables.get(f"{table.schema}.{parent_key}".lower())
                if parent is None or not any(c.name == parent_column for c in parent[1]):
                    continue
                parent_name = f"{parent[0].schema}.{quote_table(parent[0].name, 'duckdb')}"
                shapes.append((
                    f"SELECT p.{parent_column} AS parent_id, COUNT(*) AS children\n"
                    f"FROM {name} AS c\nJOIN {parent_name} AS p ON p.{parent_column} = c.{column.name}\n"
                    f"GROUP BY 1", "parent_id", "children"))
                break
        if stamps and measure:
            shapes.append((
                f"SELECT {local_day(stamps[0])} AS day, {measure} AS amount,\n"
                f"  SUM({measure}) OVER (PARTITION BY {local_day(stamps[0])}) AS day_total\n"
                f"FROM {name}\nWHERE {measure} IS NOT NULL", "day", "day_total"))
    return [shapes[i % len(shapes)] for i in range(count)]


def write_catalog(root: Path, boards: int, per_board: int) -> int:
    library = curated_fixture_root()
    total = 0
    for manifest in sorted(library.glob("*/connector.yml")):
        connector = load_connector(manifest)
        pack = root / "packs" / f"{connector.name}_bench"
        (pack / "boards").mkdir(parents=True)
        (pack / "pack.yml").write_text(yaml.safe_dump({"connector": connector.name, "dialect": "duckdb", "targets": TARGETS, "timezone": ZONE}))
        shapes = queries_for(connector, boards * per_board)
        for b in range(boards):
            queries, charts = {}, {}
            for q in range(per_board):
                sql, x, y = shapes[b * per_board + q]
                queries[f"q{q:02d}"] = sql
                charts[f"c{q:02d}"] = {"type": "bar", "query": f"q{q:02d}", "x": x, "y": y}
            board = {"title": f"{connector.name} board {b}", "queries": queries, "charts": charts, "rows": list(charts)}
            (pack / "boards" / f"board_{b:02d}.yml").write_text(yaml.safe_dump(board, sort_keys=False, width=200))
            total += per_board
    return total


def run(args: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def floor(root: Path) -> tuple[float, int]:
    """Plain sqlglot on the same rendered SQL: parse, qualify per version, transpile per target."""
    import logging

    import sqlglot
    from sqlglot.optimizer.qualify import qualify

    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # transpile() logs unsupported constructs

    from pytest_dashpacks.sql.render import RenderContext, render_sql
    from pytest_dashpacks.sql.schema import mapping_schema

    jobs = []
    for manifest in sorted((root / "packs").glob("*/pack.yml")):
        pack = yaml.safe_load(manifest.read_text())
        connector = load_connector(curated_fixture_root() / pack["connector"] / "connector.yml")
        schemas = [mapping_schema(v, {}) for v in connector.versions]
        ctx = RenderContext(connector.name, connector.schema, "duckdb", (), {})
        for board in sorted((manifest.parent / "boards").glob("*.yml")):
            for sql in yaml.safe_load(board.read_text())["queries"].values():
                jobs.append((render_sql(sql, ctx), schemas))
    start = time.perf_counter()
    for sql, schemas in jobs:
        ast = sqlglot.parse_one(sql, read="duckdb")
        for schema in schemas:
            qualify(ast.copy(), schema=schema, dialect="duckdb", validate_qualify_columns=False)
        for target in TARGETS:
            sqlglot.transpile(sql, read="duckdb", write=target)
    return time.perf_counter() - start, len(jobs)


def static_in_process(root: Path) -> tuple[float, int]:
    """The checks of every static item, run as the items run them but without pytest's protocol.

    A fresh session each time, so every parse, catalog and model build is paid again.
    """
    from pytest_dashpacks.checks import CheckContext, check_kind
    from pytest_dashpacks.errors import CheckSkipped, DashpacksError
    from pytest_dashpacks.load.packs import board_files
    from pytest_dashpacks.session import DashpacksSession
    from pytest_dashpacks.settings import Settings
    from pytest_dashpacks.sql.zones import zone_item_applies

    settings = Settings(True, False, None, root, ("UTC",), 1000, 10.0, None, None, None, None, None)
    session = DashpacksSession(settings)
    contexts = []
    for manifest in sorted((root / "packs").glob("*/pack.yml")):  # what collection loads
        pack = session.library.pack(manifest)
        versions = session.library.versions(pack)
        contexts.append(("load", CheckContext(session, pack)))
        for path in board_files(pack.directory):
            board = session.library.board(path, pack.directory)
            contexts.append(("load", CheckContext(session, pack, board)))
            for query in board.queries:
                contexts.append(("syntax", CheckContext(session, pack, board, query)))
                contexts += [("schema", CheckContext(session, pack, board, query, version=v)) for v in versions]
                contexts.append(("bindings", CheckContext(session, pack, board, query)))
                contexts += [("transpile", CheckContext(session, pack, board, query, target=t)) for t in pack.targets]
                if zone_item_applies(pack, versions):
                    contexts.append(("zone", CheckContext(session, pack, board, query)))
    start = time.perf_counter()
    for check, ctx in contexts:
        try:
            check_kind(check).run(ctx)
        except (DashpacksError, CheckSkipped):
            pass
    return time.perf_counter() - start, len(contexts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", type=int, default=10)
    parser.add_argument("--queries-per-board", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the generated catalog")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="dashpacks-bench-"))
    (root / "pytest.ini").write_text("[pytest]\n")
    try:
        queries = write_catalog(root, options.boards, options.queries_per_board)
        common = ["--dashpacks", "packs", "-p", "no:cacheprovider", "-q"]
        # Every item kind is collected (collection builds all nodes); the timed run selects the static checks.
        all_wall, out = run(common + ["--collect-only"], root)
        everything = re.search(r"(\d+) tests? collected in ([\d.]+)s", out)
        static = ["-m", "dashpacks_load or dashpacks_syntax or dashpacks_schema or dashpacks_bindings or dashpacks_transpile or dashpacks_zone"]
        collect_wall, out = run(common + static + ["--collect-only"], root)
        # Items -m can never select are not made at all, so nothing may be reported as deselected.
        collected = re.search(r"(\d+)(?:/\d+)? tests? collected(?: \(\d+ deselected\))? in ([\d.]+)s", out)
        items, collect_reported = int(collected.group(1)), float(collected.group(2))
        full_wall, out = run(common + static, root)
        summary = out.strip().splitlines()[-1]
        # Best of three alternating runs of each in-process measure: the machine is shared.
        floor_runs, check_runs = [], []
        for _ in range(3):
            floor_seconds, floor_queries = floor(root)
            checks_seconds, check_count = static_in_process(root)
            floor_runs.append(floor_seconds)
            check_runs.append(checks_seconds)
        assert floor_queries == queries
        floor_seconds, checks_seconds = min(floor_runs), min(check_runs)
        static_seconds = full_wall - collect_wall
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, sqlglot {__import__('sqlglot').__version__}")
        print(f"catalog: {queries} queries, {items} static items ({len(TARGETS)} targets, every connector version)")
        print(f"collect-only, every item kind ({everything.group(1)} items): {all_wall:.2f} s wall for the command, "
              f"{float(everything.group(2)):.2f} s collection (pytest's figure)")
        print(f"collect-only, static items selected: {collect_wall:.2f} s wall, {collect_reported:.2f} s collection; target < 3 s")
        print(f"full run: {full_wall:.2f} s wall -> {summary}")
        print(f"static phase under pytest (full run - collect-only): {static_seconds:.2f} s = {1000 * static_seconds / queries:.2f} ms per query, "
              f"{1000 * static_seconds / items:.2f} ms per item")
        print(f"static phase, the checks' own work ({check_count} checks in-process): {checks_seconds:.2f} s = "
              f"{1000 * checks_seconds / queries:.2f} ms per query")
        print(f"floor (parse + qualify per version + transpile per target): {floor_seconds:.2f} s = {1000 * floor_seconds / queries:.2f} ms per query")
        print(f"ratio checks / floor: {checks_seconds / floor_seconds:.2f}x (target <= 1.5x)")
        print(f"ratio under pytest / floor: {static_seconds / floor_seconds:.2f}x (adds pytest's own per-item protocol and reporting)")
        if options.keep:
            print(f"catalog kept in {root}")
    finally:
        if not options.keep:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
