"""``dashpacks scaffold pack DIR``: pack.yml files for a dbt charts project (``DIR/dbt_charts.yml``, boards in ``DIR/charts/``).

Writes ``OUT/<connector>/pack.yml`` and ``OUT/<connector>/boards/<path under charts/>`` (OUT: ``DIR/dashpacks``):
the plugin reads boards only from ``<pack>/boards/`` and refuses links leaving a pack, so the board files (with every
``meta.yml`` and ``_`` partial) are copied. The connector is the one whose tables the boards' SQL reads most (one
pack per connector), the dialect comes from the source type; each guess is printed and kept as a pack.yml comment.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DashpacksError
from ..load.boards import load_board
from ..load.connectors import available_connectors, find_connector, load_connector
from ..load.packs import is_board_file, load_pack
from ..load.yaml import load_yaml
from ..model import Board, Connector
from . import CliError
from .fixture_roots import FixtureRoots

# dbt charts source types (and dbt adapter types, for `type: dbt_profile`) -> the pack's sqlglot dialect.
SOURCE_DIALECTS = {
    "duckdb": "duckdb", "motherduck": "duckdb", "postgres": "postgres", "postgresql": "postgres", "redshift": "redshift",
    "snowflake": "snowflake", "bigquery": "bigquery", "databricks": "databricks", "spark": "spark", "trino": "trino",
    "athena": "athena", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite", "sqlserver": "tsql", "mssql": "tsql",
    "fabric": "tsql", "synapse": "tsql", "clickhouse": "clickhouse", "oracle": "oracle",
}
FILE_SOURCES = {"csv", "parquet", "json", "file", "files"}  # dbt charts reads files through DuckDB
PASTED = "SELECT 1 AS pasted"  # what {{ queries.other }} renders to here: that query's tables count on its own


def add_pack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", type=Path, help="the dbt charts project: DIR/dbt_charts.yml and DIR/charts/")
    parser.add_argument("--out", metavar="PATH", type=Path,
                        help="where the packs go: OUT/<connector>/pack.yml and OUT/<connector>/boards/ (copies of the "
                             "charts/ files). Default: DIR/dashpacks")
    parser.add_argument("--dialect", metavar="NAME", choices=sorted(set(SOURCE_DIALECTS.values())),
                        help="the SQL dialect of the boards, instead of guessing it from the source type in dbt_charts.yml")


@dataclass(frozen=True)
class TableRef:
    """A table a query reads, as written (``analytics.fx_rates``), resolved by its last two parts."""

    schema: str | None
    name: str
    text: str


@dataclass(frozen=True)
class BoardRead:
    board: Board
    relative: Path  # under charts/
    refs: tuple[TableRef, ...]
    problems: tuple[str, ...]


@dataclass
class Match:
    """How well one connector's tables cover a set of table references."""

    connector: Connector
    exact: list[TableRef] = field(default_factory=list)
    other_schema: list[TableRef] = field(default_factory=list)  # the table name is the connector's, the schema is not
    older: dict[str, str] = field(default_factory=dict)  # ref text -> newest version that still has the table
    unmatched: list[TableRef] = field(default_factory=list)

    @property
    def score(self) -> tuple[int, int]:
        return len(self.exact) + len(self.other_schema) + len(self.older), len(self.exact)


def scaffold_pack_command(args: argparse.Namespace, roots: FixtureRoots) -> list[str]:
    """Run ``scaffold pack``; returns the lines to print."""
    project = args.directory.resolve()
    charts = project / "charts"
    if not charts.is_dir():
        raise CliError(f"{charts} is not a directory: a dbt charts project keeps its boards in DIR/charts/")
    config = load_yaml(project / "dbt_charts.yml", allow_empty=True).data if (project / "dbt_charts.yml").is_file() else {}
    out = (args.out if args.out is not None else project / "dashpacks").resolve()
    connectors, lines = _connectors(roots)
    if not connectors:
        raise CliError(f"no connector loads from the fixture roots: {', '.join(map(str, roots.roots))}")
    dialects: dict[Path, tuple[str, str]] = {}
    reads: list[BoardRead] = []
    for path in sorted(p for p in charts.rglob("*") if p.is_file() and is_board_file(p)):
        try:
            board = load_board(path, charts)
        except ConfigError as exc:
            lines.append(f"left out {_shown(path)}: it does not load: {exc.span.location() if exc.span else path}: {exc.message}")
            continue
        dialects[path] = (args.dialect, "from --dialect") if args.dialect else _dialect(project, config, load_yaml(path).data.get("source"))
        reads.append(_read_board(board, path.relative_to(charts), dialects[path][0]))
    if not reads:
        raise CliError(f"no board under {charts} loads")
    lines.insert(0, f"read {len(reads)} boards from {_shown(charts)}")
    groups = _grouped(reads, connectors, lines)
    if not groups:
        raise CliError("no board reads a table of a known connector; write pack.yml by hand (`dashpacks connectors` lists them)")
    plans = [_plan(name, boards, connectors[name], out, dialects, roots) for name, boards in groups.items()]
    for plan in plans:
        _refuse_overwrite(plan, charts)
    for plan in plans:
        _write(plan, charts, project)
        lines += plan.report()
    lines.append("boards/ holds copies of the charts/ files (the plugin reads a pack's boards only from <pack>/boards/): "
                 "copy them again when a board changes")
    lines.append(f"check them: pytest --dashpacks {_shown(out)}")
    return lines


def _dialect(project: Path, config: Any, board_source: Any) -> tuple[str, str]:
    """(dialect, why) for a board from the source it names, else the project's only (or first) source."""
    board_source = board_source if isinstance(board_source, str) else None  # a query-level mapping names no source
    sources = config.get("sources") if isinstance(config, dict) and isinstance(config.get("sources"), dict) else {}
    if board_source is not None and board_source not in sources:
        if Path(board_source).suffix.lstrip(".") in FILE_SOURCES:
            return "duckdb", f"the board reads the file {board_source} (dbt charts reads files through DuckDB)"
        return "duckdb", f"source {board_source!r} is not in dbt_charts.yml; duckdb is the plugin's default"
    if board_source is None and not sources:
        return _profile_dialect(project, None, None, "dbt_charts.yml names no source; the dbt project's profile")
    name = board_source or next(iter(sources))
    why = "" if board_source or len(sources) == 1 else f" (the first of {len(sources)} sources; the board names none)"
    body = sources[name] if isinstance(sources[name], dict) else {}
    kind = str(body.get("type", "")).lower()
    if kind == "dbt_profile":
        return _profile_dialect(project, body.get("profile"), body.get("target"), f"source {name} in dbt_charts.yml{why}")
    if kind in FILE_SOURCES:
        return "duckdb", f"source {name} in dbt_charts.yml is a {kind} file source (read through DuckDB){why}"
    if kind in SOURCE_DIALECTS:
        return SOURCE_DIALECTS[kind], f"source {name} in dbt_charts.yml has type {kind}{why}"
    return "duckdb", f"source {name} in dbt_charts.yml has type {kind or 'none'}, which names no SQL dialect; duckdb is the default"


def _profile_dialect(project: Path, profile: Any, target: Any, what: str) -> tuple[str, str]:
    """The adapter type of a dbt profile, read from a profiles.yml inside the project only (never the home directory)."""
    if profile is None and (project / "dbt_project.yml").is_file():
        profile = (load_yaml(project / "dbt_project.yml", allow_empty=True).data or {}).get("profile")
    profiles = project / "profiles.yml"
    body = (load_yaml(profiles, allow_empty=True).data or {}).get(profile) if profile and profiles.is_file() else None
    if not isinstance(body, dict):
        found = f"is dbt profile {profile}, not in {_shown(profiles)}" if profile else "is not found (no dbt_project.yml profile)"
        return "duckdb", f"{what} {found}; duckdb is the default (or pass --dialect)"
    chosen = str(target or body.get("target", "dev"))
    if "{{" in chosen:  # target: "{{ env_var('DBT_TARGET', 'dev') }}": take the default
        chosen = chosen.split("'")[-2] if chosen.count("'") >= 4 else "dev"
    kind = str(((body.get("outputs") or {}).get(chosen) or {}).get("type", "")).lower()
    if kind in SOURCE_DIALECTS:
        return SOURCE_DIALECTS[kind], f"{what} is dbt profile {profile}, target {chosen} of type {kind} ({_shown(profiles)})"
    return "duckdb", f"{what} is dbt profile {profile}, whose target {chosen} has no known type; duckdb is the default"


def _read_board(board: Board, relative: Path, dialect: str) -> BoardRead:
    """The tables each SQL query of a board reads, with Jinja rendered loosely (unknown names render NULL)."""
    from jinja2 import TemplateError

    from ..sql.parse import parse_query
    from ..sql.render import template_names

    refs: dict[str, TableRef] = {}
    problems: list[str] = []
    pasted = {name: PASTED for name in [q.name for q in board.queries] + list(board.other_queries)}
    defaults = {v.name: v.default for v in board.variables}
    for query in board.queries:
        try:
            unknown = sorted(template_names(query.sql) - set(defaults))
            if unknown:
                problems.append(f"{query.name}: uses {', '.join(unknown)}, which the plugin does not render (its load item will fail)")
            ast = parse_query(_loose_sql(query.sql, defaults, pasted), dialect)
        except (DashpacksError, TemplateError) as exc:
            problems.append(f"{query.name}: not read: {getattr(exc, 'message', exc)}")
            continue
        for ref in _table_refs(ast):
            refs.setdefault(ref.text.lower(), ref)
    return BoardRead(board, relative, tuple(refs.values()), tuple(problems))


def _loose_sql(template: str, defaults: dict[str, Any], pasted: dict[str, str]) -> str:
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from ..sql.jinja import quote_aware
    from ..sql.literals import SqlValue, bare_value, finalize_value

    class Unknown(ChainableUndefined):  # a name the scaffold cannot know (dbt's var(), a macro): NULL, callable
        def __str__(self) -> str:
            return "NULL"

        def __call__(self, *args: Any, **kwargs: Any) -> Unknown:
            return self

    env = ImmutableSandboxedEnvironment(undefined=Unknown, autoescape=False, finalize=finalize_value)
    env.filters["bare"] = bare_value
    values = {name: SqlValue(value) for name, value in defaults.items()}
    context = dict(values, variables=values, queries=pasted, ref=lambda *parts, **_: str(parts[-1]) if parts else "NULL",
                   source=lambda *parts, **_: ".".join(map(str, parts)), filter=lambda *_, **__: "TRUE",
                   filter_date_range=lambda *_, **__: "TRUE")
    return env.from_string(quote_aware(template)).render(context)


def _table_refs(ast: Any) -> list[TableRef]:
    """Tables in the FROM and JOIN clauses, CTE names and table functions left out."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in ast.find_all(exp.CTE)}
    refs = []
    for table in ast.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or (not table.db and table.name.lower() in ctes):
            continue
        text = ".".join(part for part in (table.catalog, table.db, table.name) if part)
        refs.append(TableRef(table.db or None, table.name, text))
    return refs


# --- guessing the connector


def _connectors(roots: FixtureRoots) -> tuple[dict[str, Connector], list[str]]:
    """Every connector under the fixture roots, first root wins; one that does not load is said and skipped."""
    found: dict[str, Connector] = {}
    lines: list[str] = []
    for name in available_connectors(list(roots.roots)):
        try:
            found[name] = load_connector(find_connector(name, list(roots.roots)))  # type: ignore[arg-type]  # listed, so found
        except ConfigError as exc:
            lines.append(f"skipped connector {name}: {exc.message}")
    return found, lines


def _match(connector: Connector, refs: list[TableRef] | tuple[TableRef, ...]) -> Match:
    newest = connector.versions[-1]
    tables = {t.name.lower(): t for t in newest.tables.values()}
    older = {t.name.lower(): v.name for v in connector.versions[:-1] for t in v.tables.values()}
    models = {m.name.lower() for m in connector.models}
    match = Match(connector)
    for ref in refs:
        key = ref.name.lower()
        if key in tables:
            exact = ref.schema is None or ref.schema.lower() == tables[key].schema.lower()
            (match.exact if exact else match.other_schema).append(ref)
        elif key in models and ref.schema is None:
            match.exact.append(ref)
        elif key in older:
            match.older[ref.text] = older[key]
        else:
            match.unmatched.append(ref)
    return match


def _grouped(reads: list[BoardRead], connectors: dict[str, Connector], lines: list[str]) -> dict[str, list[BoardRead]]:
    """Boards by the connector whose tables they read most (ties: more exact schema matches, then the name)."""
    groups: dict[str, list[BoardRead]] = {}
    tableless: list[BoardRead] = []
    for read in reads:
        for problem in read.problems:
            lines.append(f"{_shown(read.board.path)}: query {problem}")
        if not read.refs:
            tableless.append(read)
            continue
        scores = {name: _match(connector, read.refs).score for name, connector in connectors.items()}
        best = min(scores, key=lambda name: (-scores[name][0], -scores[name][1], name))
        if scores[best][0] == 0:
            lines.append(f"left out {_shown(read.board.path)}: it reads no table of a known connector "
                         f"({', '.join(r.text for r in read.refs)})")
            continue
        groups.setdefault(best, []).append(read)
    for read in tableless:  # a board without SQL tables (a landing page) joins the only pack, if there is one
        if len(groups) == 1:
            next(iter(groups.values())).append(read)
            continue
        lines.append(f"left out {_shown(read.board.path)}: it reads no table, and {len(groups)} packs could take it")
    return groups


# --- writing


@dataclass(frozen=True)
class PackPlan:
    connector: Connector
    boards: tuple[BoardRead, ...]
    directory: Path
    dialect: tuple[str, str]
    guesses: tuple[str, ...]
    fixtures: str | None  # pack.yml `fixtures:` when the connector comes from --fixtures

    def report(self) -> list[str]:
        count = f"{len(self.boards)} board{'s' if len(self.boards) != 1 else ''}"
        lines = [f"wrote {_shown(self.directory / 'pack.yml')} with {count} copied into {_shown(self.directory / 'boards')}:"]
        lines += [f"  {guess}" for guess in self.guesses]
        return lines + [f"  board {read.relative.as_posix()}: {_match(self.connector, read.refs).score[0]} of "
                        f"{len(read.refs)} table references match" for read in self.boards]


def _plan(name: str, boards: list[BoardRead], connector: Connector, out: Path,
          dialects: dict[Path, tuple[str, str]], roots: FixtureRoots) -> PackPlan:
    refs = list({r.text.lower(): r for read in boards for r in read.refs}.values())
    match = _match(connector, refs)
    text = f"connector {name}: {match.score[0]} of {len(refs)} table references match {connector.versions[-1].label}"
    if match.unmatched:
        text += f"; unmatched: {', '.join(sorted(r.text for r in match.unmatched))}"
    if match.older:
        text += "; only in older versions: " + ", ".join(f"{t} ({v})" for t, v in sorted(match.older.items()))
    if match.other_schema:
        text += (f"; named in another schema than {connector.schema} (the plugin looks them up in {connector.schema}): "
                 + ", ".join(sorted(r.text for r in match.other_schema)))
    counted = Counter(dialects[read.board.path] for read in boards)
    dialect = counted.most_common(1)[0][0]
    dialect_text = f"dialect {dialect[0]}: {dialect[1]}"
    if len({d for d, _ in counted}) > 1:
        dialect_text += f" (the boards' sources disagree: {', '.join(sorted({d for d, _ in counted}))}; the most common wins)"
    versions = ", ".join(v.name for v in connector.versions)
    guesses = (text, dialect_text, f"schema versions: every version of {name} ({versions})")
    given = roots.configured.resolve() if roots.configured is not None and roots.configured_from == "--fixtures" else None
    fixtures = os.path.relpath(given, out / name) if given is not None and connector.root.parent == given else None
    return PackPlan(connector, tuple(boards), out / name, dialect, guesses, fixtures)


def _copies(plan: PackPlan, charts: Path) -> dict[Path, Path]:
    """Destination -> source: the pack's boards, and every meta.yml and partial (boards may use any of them)."""
    sources = [charts / read.relative for read in plan.boards]
    sources += sorted(p for p in charts.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml") and not is_board_file(p))
    return {plan.directory / "boards" / src.relative_to(charts): src for src in sources}


def _refuse_overwrite(plan: PackPlan, charts: Path) -> None:
    for dest in [plan.directory / "pack.yml", *_copies(plan, charts)]:
        if dest.exists():
            what = "a pack.yml" if dest.name == "pack.yml" else "a board"
            raise CliError(f"{dest} exists: scaffold pack never overwrites {what} (nothing written); remove it or choose another --out")


def _write(plan: PackPlan, charts: Path, project: Path) -> None:
    """Write pack.yml and the board copies, then load them as the plugin would; undo everything if they do not load."""
    written: list[Path] = []
    try:
        for dest, src in _copies(plan, charts).items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            with dest.open("xb") as handle:  # "x": never overwrite
                handle.write(src.read_bytes())
            written.append(dest)
        manifest = plan.directory / "pack.yml"
        with manifest.open("x", encoding="utf-8") as handle:
            handle.write(_pack_text(plan, project))
        written.append(manifest)
        _check_loads(plan, manifest)
    except (ConfigError, OSError) as exc:
        for path in written:
            path.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise CliError(f"the scaffolded pack {plan.directory} does not load, so nothing of it was kept: {message}") from None


def _check_loads(plan: PackPlan, manifest: Path) -> None:
    pack = load_pack(manifest)
    found = find_connector(pack.connector, [pack.fixtures] if pack.fixtures else [plan.connector.root.parent])
    if found is None or load_connector(found).name != plan.connector.name:
        raise ConfigError(f"connector {pack.connector} is not found from {manifest}")
    for read in plan.boards:
        load_board(plan.directory / "boards" / read.relative, plan.directory)


def _pack_text(plan: PackPlan, project: Path) -> str:
    name = plan.connector.name
    versions = ", ".join(json.dumps(v.name) for v in plan.connector.versions)
    copied = ", ".join(f"charts/{read.relative.as_posix()}" for read in plan.boards)
    lines = [
        f"# Scaffolded by `dashpacks scaffold pack` from {project} on {datetime.date.today().isoformat()}. Guessed:",
        *(f"#   {guess}" for guess in plan.guesses),
        f"# boards/ holds copies of {copied} (with meta.yml files and partials):",
        "#   copy them again when a board changes.",
        f"connector: {json.dumps(name)}",
    ]
    if plan.fixtures is not None:
        lines.append(f"fixtures: {json.dumps(plan.fixtures)}  # the fixture root given with --fixtures")
    lines += [
        f"dialect: {plan.dialect[0]}",
        f"# schema_versions: [{versions}]  # left out: every version, and versions added later",
        "targets: []  # warehouses to transpile the boards to, e.g. [snowflake, bigquery]",
        "timezone: UTC  # not guessed: the IANA zone the boards' KPIs are reported in",
    ]
    return "\n".join(lines) + "\n"


def _shown(path: Path) -> str:  # relative to the current directory when under it
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(path)
