"""The PostgreSQL engine (issue #7): server start, loading a connector version, and per-query time
on PostgreSQL against DuckDB for the example packs, measured in one run.

Per query: the differential items' SQL for every query written for or transpiled to Postgres, on
the newest version each pack checks, run on the PostgreSQL sandbox and on the DuckDB sandbox
holding the same seed rows; best of three runs each. Targets: a version loads in at most 1 s, and a
query takes at most 3x DuckDB's time.

Usage: python benchmarks/bench_postgres.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    import duckdb
    import psycopg

    from pytest_dashpacks.engines.duckdb import seed_rows
    from pytest_dashpacks.engines.postgres import PostgresEngine, ThrowawayServer
    from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
    from pytest_dashpacks.load.packs import board_files
    from pytest_dashpacks.session import DashpacksSession
    from pytest_dashpacks.settings import Settings

    print(f"python {sys.version.split()[0]}, psycopg {psycopg.__version__}, duckdb {duckdb.__version__}")
    starts = []
    for _ in range(3):
        server = ThrowawayServer()
        began = time.perf_counter()
        server.start()
        starts.append(time.perf_counter() - began)
        server.stop()
    print(f"throwaway server start (initdb + pg_ctl start, median of 3): {statistics.median(starts):.2f} s")

    engine = PostgresEngine("postgres", 60.0, 2_000_000, "bench")
    try:
        print("loading a connector version (tables with declared types, seed rows, grants; median of 3):")
        for manifest in sorted(curated_fixture_root().glob("*/connector.yml")):
            connector = load_connector(manifest)
            for version in connector.versions:
                rows = seed_rows(connector, version)
                samples = []
                for _ in range(3):
                    began = time.perf_counter()
                    engine.database(connector, version, rows, []).drop()
                    samples.append(time.perf_counter() - began)
                print(f"  {version.label:<26} {sum(len(r) for r in rows.values()):4d} rows  {statistics.median(samples):.3f} s")

        settings = Settings(True, False, None, REPO, ("UTC",), 1000, 60.0, None, None, None, None, None, engine="postgres")
        session = DashpacksSession(settings)
        session.databases._engine = engine
        ratios, pg_total, duck_total, queries = [], 0.0, 0.0, 0
        for manifest in sorted((REPO / "examples" / "packs").glob("*/pack.yml")):
            pack = session.library.pack(manifest)
            if not (pack.dialect == "postgres" or {"postgres", "redshift"} & set(pack.targets)):
                continue
            version = session.library.versions(pack)[-1]
            database = session.databases.postgres(pack, version)
            sandbox = session.databases.sandbox(pack, version, "seed")
            for path in board_files(pack.directory):
                board = session.library.board(path, pack.directory)
                for query in board.queries:
                    from pytest_dashpacks.checks.differential import _case_folded

                    parsed = session.queries.parsed(pack, board, query)
                    pg_sql = parsed.sql if pack.dialect == "postgres" else _case_folded(parsed.ast, pack.dialect).sql("postgres")
                    duck_sql = session.queries.runnable(pack, board, query, version)
                    pg, duck = [], []
                    for _ in range(3):
                        began = time.perf_counter()
                        database.run(pg_sql)
                        pg.append(time.perf_counter() - began)
                        began = time.perf_counter()
                        sandbox.run(duck_sql)
                        duck.append(time.perf_counter() - began)
                    pg_total += min(pg)
                    duck_total += min(duck)
                    ratios.append(min(pg) / min(duck))
                    queries += 1
        session.databases.close()
        print(f"per query, {queries} example queries on their newest version (best of 3 each): PostgreSQL {1000 * pg_total / queries:.2f} ms, "
              f"DuckDB {1000 * duck_total / queries:.2f} ms; ratio of totals {pg_total / duck_total:.2f}x, "
              f"median per-query ratio {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x (target <= 3x)")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
