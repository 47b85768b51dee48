"""Benchmark pytest-dashpacks against dbt charts' own validator, ``dct validate --warehouse``.

Generates one catalog of boards (default 20 boards x 10 queries, one bar chart
per query) over ONE connector version of the curated library, with the query
shapes of ``bench_static``, and writes the same board files twice:

* as a pytest-dashpacks pack (``packs/<connector>_vs_dct``: pack.yml pinned to
  that one version, the pack's zone, no transpile targets);
* as a dbt charts project (``dct/``: ``dbt_charts.yml`` with a ``duckdb``
  source, ``charts/`` holding the boards), plus a second, dbt-native copy
  (``dct_dbt/``: ``dbt_project.yml``, ``profiles.yml`` for dbt-duckdb, and a
  ``dbt_profile`` source) -- both read one DuckDB file that holds the version's
  tables with their declared types and the seed rows.

``dct validate --warehouse`` compiles each board (YAML schema, cross-references),
then runs ``DESCRIBE <query>`` on DuckDB for every SQL query and checks that each
chart channel names a column of the described result. The matching pytest
scope is the ``load``, ``syntax``, ``schema`` (one version) and ``bindings``
items; ``execute`` is timed as a third command because DESCRIBE binds but never
runs the query. Before timing, each command runs once untimed, and the script
stops unless pytest passes every item and dct reports every board valid with no
warning (a warning would mean a query went unchecked).

Then it times, as whole subprocesses, alternating, median of N (default 3):

  (a) pytest --dashpacks -p no:randomly -p no:cacheprovider -m "<load, syntax, schema, bindings>" packs
  (b) dct validate --warehouse           (duckdb source)
  (b') dct validate --warehouse          (dbt_profile source, dbt-duckdb)
  (c) as (a), with execute items added

reporting wall time, peak RSS (``os.wait4``'s ru_maxrss of the process and the
children it waited for) and the ratios. ``dct`` is found through ``--dct``,
else ``$DCT``, else ``PATH`` (it lives in a virtual environment of its own: its
dbt-core pins differ from ours); DO_NOT_TRACK=1 is set for it. When it is
missing, the script says "dbt-charts not installed: <reason>" and times the
pytest commands alone.

Usage: python benchmarks/bench_vs_dct.py [--dct /path/to/dct] [--connector stripe] [--version 2025-07]
                                         [--boards 20] [--queries-per-board 10] [--repeats 3] [--keep]
Target (issue #11): (a) 5x faster than (b) or better. Figures are printed,
never asserted: compare the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_static import ZONE, queries_for  # the static benchmark's query shapes

from pytest_dashpacks.engines.duckdb import quote, seed_rows, table_sql, varchar_literal
from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector

SOURCE = "warehouse"  # the source name every board reads (a dbt charts source; ignored by the plugin)
STATIC = ["dashpacks_load", "dashpacks_syntax", "dashpacks_schema", "dashpacks_bindings"]


class _BlockDumper(yaml.SafeDumper):
    """Multi-line SQL as ``|`` blocks, as authors write it."""


_BlockDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)
)


# --- the catalog ----------------------------------------------------------------------


def write_catalog(root: Path, connector_name: str, version_name: str | None, boards: int, per_board: int):
    """Boards in ``packs/`` and ``dct/charts/`` (same bytes), the dct projects, and the DuckDB file."""
    connector = load_connector(curated_fixture_root() / connector_name / "connector.yml")
    version = connector.versions[-1] if version_name is None else next(v for v in connector.versions if v.name == version_name)
    pack = root / "packs" / f"{connector.name}_vs_dct"
    charts = root / "dct" / "charts"
    for folder in (pack / "boards", charts):
        folder.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    (pack / "pack.yml").write_text(yaml.safe_dump({
        "pack": pack.name, "connector": connector.name, "dialect": "duckdb",
        "schema_versions": [version.name], "targets": [], "timezone": ZONE,
    }, sort_keys=False))
    shapes = queries_for(connector, boards * per_board)
    for b in range(boards):
        queries, chart_specs = {}, {}
        for q in range(per_board):
            sql, x, y = shapes[b * per_board + q]
            # The shapes repeat across boards; a comment makes every query's text unique, so
            # neither tool gains from a cache keyed by SQL text that real boards would not hit.
            queries[f"q{q:02d}"] = f"-- board {b:02d}, query {q:02d}\n{sql}\n"
            chart_specs[f"c{q:02d}"] = {"type": "bar", "query": f"q{q:02d}", "x": x, "y": y}
        board = {"title": f"{connector.name} board {b}", "source": SOURCE, "queries": queries,
                 "charts": chart_specs, "rows": list(chart_specs)}
        text = yaml.dump(board, Dumper=_BlockDumper, sort_keys=False, width=200)
        for folder in (pack / "boards", charts):
            (folder / f"board_{b:02d}.yml").write_text(text)
    warehouse = root / "warehouse.duckdb"
    rows = write_warehouse(warehouse, connector, version)
    (root / "dct" / "dbt_charts.yml").write_text(yaml.safe_dump({"sources": {SOURCE: {"type": "duckdb", "path": str(warehouse)}}}))
    dbt = root / "dct_dbt"
    shutil.copytree(charts, dbt / "charts")
    (dbt / "dbt_project.yml").write_text(yaml.safe_dump({"name": "bench", "version": "1.0.0", "config-version": 2, "profile": "bench"}))
    (dbt / "profiles.yml").write_text(yaml.safe_dump({"bench": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(warehouse), "threads": 1}}}}))
    (dbt / "dbt_charts.yml").write_text(yaml.safe_dump({"sources": {SOURCE: {"type": "dbt_profile", "profile": "bench", "target": "dev"}}}))
    distinct = len({sql for sql, _, _ in shapes})
    return connector, version, rows, distinct


def write_warehouse(path: Path, connector, version) -> int:
    """The version's tables with their declared types and its seed rows, in a DuckDB file."""
    import duckdb

    seed = seed_rows(connector, version)
    con = duckdb.connect(str(path))
    try:
        for schema in sorted({t.schema for t in version.tables.values()}):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for table in version.tables.values():
            con.execute(f"CREATE TABLE {table_sql(table)} ({', '.join(f'{quote(c.name)} {c.type}' for c in table.columns)})")
            data = seed.get(table.key, [])
            if data:
                names = [c.name for c in table.columns]
                casts = ", ".join(f"CAST(c{i} AS {c.type})" for i, c in enumerate(table.columns))
                values = ",\n".join("(" + ", ".join(varchar_literal(row.get(n)) for n in names) + ")" for row in data)
                aliases = ", ".join(f"c{i}" for i in range(len(names)))
                con.execute(f"INSERT INTO {table_sql(table)} SELECT {casts} FROM (VALUES {values}) AS v({aliases})")
    finally:
        con.close()
    return sum(len(r) for r in seed.values())


# --- dct --------------------------------------------------------------------------------


def find_dct(option: str | None) -> tuple[str | None, str]:
    """(path, version line) of a working dct, or (None, why not)."""
    candidate = option or os.environ.get("DCT") or shutil.which("dct")
    if not candidate:
        return None, "no --dct given, $DCT unset and no dct on PATH (pip install 'dbt-charts==0.10.*' 'dbt-core>=1.10,<1.12' in a venv of its own)"
    if not Path(candidate).is_file():
        return None, f"{candidate} does not exist"
    try:
        proc = subprocess.run([candidate, "--version"], env=dct_env(), capture_output=True, text=True, timeout=120, check=False)
    except OSError as exc:
        return None, f"{candidate} --version: {exc}"
    if proc.returncode != 0:
        return None, f"{candidate} --version exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-500:]}"
    return candidate, proc.stdout.strip().splitlines()[0]


def dct_env(project: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, DO_NOT_TRACK="1", DCT_NO_WORKSPACE_GUARD="1")
    if project is not None:
        env["DBT_PROFILES_DIR"] = str(project)  # profiles.yml beside dbt_project.yml, never ~/.dbt
    return env


def dct_packages(dct: str) -> str:
    """Versions in dct's own environment, through the interpreter on its shebang line."""
    first = Path(dct).read_bytes()[:200].split(b"\n")[0].decode(errors="replace")
    if not first.startswith("#!"):
        return "versions unknown"
    code = ("import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('dbt-charts', 'dbt-core', 'dbt-duckdb', 'duckdb', 'sqlglot')))")
    proc = subprocess.run([first[2:].strip(), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "versions unknown"


def dct_verdict(dct: str, project: Path) -> tuple[int, int, int, int, list[str]]:
    """(boards, valid boards, errors, warnings, first messages) from ``dct validate --warehouse --json``."""
    proc = subprocess.run([dct, "validate", "--warehouse", "--json"], cwd=project, env=dct_env(project),
                          capture_output=True, text=True, check=False)
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return 0, 0, 0, 0, [f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-1500:]}"]
    results = [results] if isinstance(results, dict) else results
    messages = [f"{r['path']}: {d['message']}" for r in results for d in r.get("errors", []) + r.get("warnings", [])]
    return (len(results), sum(r["success"] and not r.get("warnings") for r in results),
            sum(len(r.get("errors", [])) for r in results), sum(len(r.get("warnings", [])) for r in results), messages[:5])


# --- timing -----------------------------------------------------------------------------


@dataclass
class Command:
    label: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    walls: list[float]
    peaks: list[float]
    last_line: str = ""
    exit_code: int = 0


def timed(command: Command, out_dir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one whole process; output goes to files, not pipes."""
    with open(out_dir / "stdout", "w") as out, open(out_dir / "stderr", "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command.argv, cwd=command.cwd, env=command.env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    command.exit_code = proc.returncode
    lines = [line for line in (out_dir / "stdout").read_text().splitlines() if line.strip()]
    command.last_line = lines[-1].strip("= ") if lines else (out_dir / "stderr").read_text().strip()[-300:]
    return wall, usage.ru_maxrss / 1024


def pytest_command(label: str, root: Path, markers: list[str]) -> Command:
    argv = [sys.executable, "-m", "pytest", "--dashpacks", "-p", "no:randomly", "-p", "no:cacheprovider",
            "-m", " or ".join(markers), "packs"]
    return Command(label, argv, root, dict(os.environ), [], [])


def describe(command: Command) -> str:
    shown = [f'"{a}"' if " " in a else a for a in command.argv]
    if shown[:3] == [sys.executable, "-m", "pytest"]:
        shown = ["pytest", *shown[3:]]
    else:
        shown[0] = Path(shown[0]).name
    return " ".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dct", help="path to dct (default: $DCT, then PATH)")
    parser.add_argument("--connector", default="stripe")
    parser.add_argument("--version", help="connector version (default: the newest)")
    parser.add_argument("--boards", type=int, default=20)
    parser.add_argument("--queries-per-board", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated catalog")
    options = parser.parse_args()

    import duckdb
    import pytest
    import sqlglot

    dct, dct_version = find_dct(options.dct)
    root = Path(tempfile.mkdtemp(prefix="dashpacks-vs-dct-"))
    try:
        _, version, rows, distinct = write_catalog(
            root, options.connector, options.version, options.boards, options.queries_per_board)
        queries = options.boards * options.queries_per_board
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; pytest {pytest.__version__}, "
              f"duckdb {duckdb.__version__}, sqlglot {sqlglot.__version__}")
        if dct is None:
            print(f"dbt-charts not installed: {dct_version}")
        else:
            print(f"{dct_version}; {dct_packages(dct)}")
        print(f"catalog: {options.boards} boards x {options.queries_per_board} queries = {queries} queries on {version.label} "
              f"({distinct} query shapes, every text unique), one bar chart per query; {rows} seed rows in the DuckDB file")

        commands = [pytest_command("(a) pytest, load/syntax/schema/bindings", root, STATIC)]
        if dct is not None:
            for label, project in (("(b) dct validate --warehouse, duckdb source", root / "dct"),
                                   ("(b') dct validate --warehouse, dbt_profile source", root / "dct_dbt")):
                commands.append(Command(label, [dct, "validate", "--warehouse"], project, dct_env(project), [], []))
        commands.append(pytest_command("(c) pytest, the same + execute", root, STATIC + ["dashpacks_execute"]))

        # One untimed run each (warms the file cache and bytecode) that must pass before anything is timed.
        out_dir = root / "out"
        out_dir.mkdir()
        problems = []
        for command in commands:
            timed(command, out_dir)
            print(f"check run: {command.label}: exit {command.exit_code} -> {command.last_line}")
            if command.exit_code != 0:
                problems.append(f"{command.label} exited {command.exit_code}: {(out_dir / 'stdout').read_text()[-2000:]}")
        if dct is not None:
            for project in (root / "dct", root / "dct_dbt"):
                boards, valid, errors, warnings, messages = dct_verdict(dct, project)
                print(f"dct validate --warehouse --json in {project.name}/: {valid}/{boards} boards valid, "
                      f"{errors} errors, {warnings} warnings")
                if valid != options.boards or boards != options.boards:
                    problems.append(f"dct in {project.name}/ did not accept every board: " + "; ".join(messages))
        if problems:
            sys.exit("not timed, the tools do not agree that the boards are valid:\n" + "\n".join(problems))

        for repeat in range(options.repeats):  # alternating, the order rotated each round
            shift = repeat % len(commands)
            for command in commands[shift:] + commands[:shift]:
                wall, peak = timed(command, out_dir)
                command.walls.append(wall)
                command.peaks.append(peak)

        print(f"whole processes, median of {options.repeats} alternating runs (min-max):")
        for command in commands:
            print(f"  {command.label:<52} {statistics.median(command.walls):6.2f} s wall "
                  f"({min(command.walls):.2f}-{max(command.walls):.2f}), peak RSS {statistics.median(command.peaks):5.0f} MiB")
            print(f"      $ {describe(command)}")
        a, c = commands[0], commands[-1]
        for dct_command in commands[1:-1]:
            for ours in (a, c):
                print(f"ratio {dct_command.label.split()[0]} / {ours.label.split()[0]}: "
                      f"{statistics.median(dct_command.walls) / statistics.median(ours.walls):.2f}x wall, "
                      f"{statistics.median(dct_command.peaks) / statistics.median(ours.peaks):.2f}x peak RSS")
        if dct is not None:
            print("target (issue #11): (b) / (a) >= 5x")
        if options.keep:
            print(f"catalog kept in {root}")
    finally:
        if not options.keep:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
