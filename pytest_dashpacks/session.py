"""The per-process session: settings plus caches of everything loaded or analysed.

Collection asks it for packs, boards and connectors (YAML only). Items ask it
for rendered and parsed queries and per-version catalogs, computed once per
worker on first use and shared by every item that needs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from .connectors import available_connectors, find_connector, load_connector
from .errors import ConfigError, DashpacksError, RenderError, SourceSpan, relative_posix
from .model import Board, Connector, ConnectorVersion, Pack, Query
from .packs import did_you_mean, load_board, load_pack
from .sql.render import RenderContext, name_line, render_sql, template_names
from .settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class VersionCatalog:
    """A connector version ready for analysis: models built, sqlglot schema made."""

    version: ConnectorVersion
    models: dict[str, Any]  # name -> sqlanalysis.ModelOutput
    schema: dict[str, Any]


@dataclass(frozen=True)
class ParsedQuery:
    sql: str
    ast: Any  # sqlglot expression; copy before mutating
    tokens: tuple[Any, ...] = ()  # the pack dialect's tokens of ``sql``, for checks that read them


@dataclass
class DashpacksSession:
    settings: Settings
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    marked_regressions: dict[str, str] = field(default_factory=dict)  # defect id -> node id of a marked test
    marked_outcomes: dict[str, str] = field(default_factory=dict)  # node id -> outcome, for tests run in this process

    def ledger(self) -> list[dict[str, Any]]:
        """The defect ledger's entries ([] when there is none)."""
        from .regressions import load_ledger

        path = self.settings.ledger_path

        def build() -> list[dict[str, Any]]:
            if path is None:
                return []
            if not path.is_file():
                raise ConfigError(f"defect ledger {path} does not exist (--dashpacks-ledger / dashpacks_ledger)", SourceSpan(path))
            return load_ledger(path)

        return self._memo(("ledger",), build)

    def regression(self, path: Path) -> Any:
        from .regressions import load_regression

        return self._memo(("regression", path), lambda: load_regression(path))

    def cached(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """``build()`` once per process for ``key`` (its error too): for checks that share work."""
        return self._memo(key, build)

    def _memo(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """Cache results and errors alike, so a broken file is read once and fails every item the same way."""
        if key not in self._cache:
            try:
                self._cache[key] = build()
            except DashpacksError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, DashpacksError):
            raise value
        return value

    # --- loading (collection-safe: YAML only) ---------------------------------

    def pack(self, manifest: Path) -> Pack:
        return self._memo(("pack", manifest), lambda: load_pack(manifest))

    def pack_error(self, manifest: Path) -> ConfigError | None:
        """What fails the pack's ``pack.yml::load`` item before it reaches its boards: the manifest,
        its connector (connector.yml, seeds, models) or its schema versions. None when they load."""
        try:
            pack = self.pack(manifest)
            self.versions(pack)
            self.models_sql(pack)
        except ConfigError as exc:
            return exc
        return None

    def models_sql(self, pack: Pack) -> dict[str, str]:
        """The connector's models rendered to DuckDB SQL, once its files are checked (types, models and
        seeds; a ConfigError at the file otherwise)."""
        from .connectors import check_connector_files

        connector = self.connector(pack)
        return self._memo(("models-sql", connector.path), lambda: check_connector_files(connector))

    def connector_path(self, pack: Pack) -> Path:
        roots = self.settings.fixture_roots(pack.fixtures)
        path = find_connector(pack.connector, roots)
        if path is None:
            doc_span = _key_span(pack.manifest, "connector")
            known = available_connectors(roots)
            raise ConfigError(
                f"unknown connector {pack.connector!r}{did_you_mean(pack.connector, known)}; "
                f"searched {', '.join(str(r) for r in roots)}",
                doc_span,
            )
        return path

    def connector(self, pack: Pack) -> Connector:
        return self._memo(("connector-of", pack.manifest), lambda: self._connector(self.connector_path(pack)))

    def _connector(self, path: Path) -> Connector:
        return self._memo(("connector", path), lambda: load_connector(path))

    def versions(self, pack: Pack) -> tuple[ConnectorVersion, ...]:
        """The connector versions a pack is checked against, oldest first."""

        def build() -> tuple[ConnectorVersion, ...]:
            connector = self.connector(pack)
            if pack.schema_versions is None:
                return connector.versions
            chosen = []
            known = [v.name for v in connector.versions]
            for index, name in enumerate(pack.schema_versions):
                version = connector.version(name)
                if version is None:
                    raise ConfigError(
                        f"connector {connector.name} has no schema version {name!r}{did_you_mean(name, known)}",
                        _key_span(pack.manifest, "schema_versions", index),
                    )
                chosen.append(version)
            return tuple(sorted(chosen, key=lambda v: known.index(v.name)))

        return self._memo(("versions", pack.manifest), build)

    def board(self, path: Path, pack_dir: Path) -> Board:
        return self._memo(("board", path), lambda: load_board(path, pack_dir))

    # --- analysis (runtest only) ----------------------------------------------

    def render_context(self, pack: Pack, board: Board) -> RenderContext:
        def build() -> RenderContext:
            connector = self.connector(pack)
            values = {v.name: v.default for v in board.variables}
            values.update({k: v for k, v in pack.variables.items() if k in values})
            return RenderContext(
                connector.name, connector.schema, pack.dialect, tuple(m.name for m in connector.models), values,
                {q.name: q.sql for q in board.queries},
            )

        return self._memo(("context", pack.manifest, board.path), build)

    def parsed(self, pack: Pack, board: Board, query: Query) -> ParsedQuery:
        """The query rendered and parsed in the pack dialect (RenderError located in the YAML)."""

        def build() -> ParsedQuery:
            from sqlglot.dialects.dialect import Dialect
            from sqlglot.errors import TokenError

            from .sql.parse import parse_query

            sql = self.rendered(pack, board, query)
            try:
                tokens = Dialect.get_or_raise(pack.dialect).tokenize(sql)
            except TokenError:
                tokens = None  # parse_query says where
            try:
                return ParsedQuery(sql, parse_query(sql, pack.dialect, tokens), tuple(tokens or ()))
            except RenderError as exc:
                raise _locate(exc, query) from None

        return self._memo(("parsed", board.path, query.name), build)

    def rendered(self, pack: Pack, board: Board, query: Query) -> str:
        def build() -> str:
            try:
                return render_sql(query.sql, self.render_context(pack, board), (query.name,))
            except RenderError as exc:
                raise _locate(exc, query, template=True) from None

        return self._memo(("rendered", board.path, query.name), build)

    def catalog(self, pack: Pack, version: ConnectorVersion) -> VersionCatalog:
        connector = self.connector(pack)

        def build() -> VersionCatalog:
            from .sql.schema import mapping_schema
            from .sql.outputs import model_outputs

            models = model_outputs(list(self.models_sql(pack).items()), version, connector.schema)
            return VersionCatalog(version, models, mapping_schema(version, models))

        return self._memo(("catalog", connector.path, version.name), build)

    def sqlglot_schema(self, pack: Pack, version: ConnectorVersion) -> Any:
        """The version's schema as sqlglot wants it, normalized for the pack dialect once."""
        from .sql.schema import sqlglot_schema

        catalog = self.catalog(pack, version)
        return self._memo(("sqlglot-schema", self.connector(pack).path, version.name, pack.dialect), lambda: sqlglot_schema(catalog.schema, pack.dialect))

    def runnable_schema(self, pack: Pack, version: ConnectorVersion) -> Any:
        """The version's schema for translating to DuckDB: the pack dialect's names, DuckDB's types."""
        from .sql.schema import sqlglot_schema

        catalog = self.catalog(pack, version)
        return self._memo(
            ("runnable-schema", self.connector(pack).path, version.name, pack.dialect),
            lambda: sqlglot_schema(catalog.schema, pack.dialect, duckdb_types=True),
        )

    def qualified(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> Any:
        """The parsed query qualified against one version (shared by schema and bindings)."""
        from .sql.schema import qualified

        return self._memo(
            ("qualified", board.path, query.name, version.name),
            lambda: qualified(
                self.fresh_ast(pack, board, query), self.sqlglot_schema(pack, version), pack.dialect, copy=False, types=False
            ),
        )

    def typed(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> Any:
        """:meth:`qualified`, with types annotated (in place, once) for the checks that need them."""
        from .sql.schema import annotated

        tree = self.qualified(pack, board, query, version)
        return self._memo(
            ("typed", board.path, query.name, version.name),
            lambda: annotated(tree, self.sqlglot_schema(pack, version), pack.dialect),
        )

    def schema_problems(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> list[Any]:
        """What the ``schema[<connector>@<version>]`` item finds (RenderError when the query does not parse):
        missing tables and columns, else literals and types that do not fit."""
        from .sql.types import compares_expressions, type_and_value_problems
        from .sql.schema import schema_problems

        def build() -> list[Any]:
            parsed = self.parsed(pack, board, query)
            catalog = self.catalog(pack, version)
            connector = self.connector(pack)
            problems = schema_problems(parsed.ast, parsed.sql, version, catalog.models, connector.schema)
            if not problems:
                tree = self.qualified(pack, board, query, version)
                if compares_expressions(tree):  # column-to-column comparisons need types; literals do not
                    tree = self.typed(pack, board, query, version)
                problems = type_and_value_problems(tree, parsed.sql, version, connector.schema, catalog.models)
            return problems

        return self._memo(("schema-problems", board.path, query.name, version.name), build)

    def seed_failure(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> DashpacksError | None:
        """Why the query does not run on ``version``'s seed in DuckDB (what ``execute`` reports), or None."""
        key = ("seed-failure", board.path, query.name, version.name)
        if key not in self._cache:
            try:
                self.sandbox(pack, version, "seed").run(self.runnable(pack, board, query, version))
                self._cache[key] = None
            except DashpacksError as exc:
                self._cache[key] = exc
        return self._cache[key]

    def query_nodeid(self, query: Query) -> str:
        """``<board file>::<query>`` as pytest names the query's node (relative to the rootdir)."""
        return f"{relative_posix(query.span.path, self.settings.rootdir)}::{query.name}"

    def yaml_span(self, pack: Pack, board: Board, query: Query, sql_line: int, sql_column: int = 0) -> SourceSpan:
        """The board-file position of a line of the rendered SQL; the query's own line when the
        rendering moved lines (a pasted ``{{ queries.x }}``, a multi-line variable)."""
        try:
            rendered = self.rendered(pack, board, query)
        except DashpacksError:
            return query.span
        if sql_line < 1 or rendered.rstrip("\n").count("\n") != query.sql.rstrip("\n").count("\n"):
            return query.span
        line = query.sql_first_line + sql_line - 1
        column = query.sql_indent + sql_column if sql_column else 0
        return SourceSpan(query.span.path, line, column)

    def fresh_ast(self, pack: Pack, board: Board, query: Query) -> Any:
        """A copy of the parsed query, free to mutate (sqlglot's compiled copy costs about 60% of a parse)."""
        return self.parsed(pack, board, query).ast.copy()

    # --- execution (runtest only) ------------------------------------------------

    def fixture_db(self, pack: Pack, version: ConnectorVersion) -> Any:
        """The version's fixture database: tables, seed and models (views)."""
        from .fixturedb import FixtureDatabase

        connector = self.connector(pack)

        def build() -> Any:
            rendered = self.models_sql(pack)
            order = list(self.catalog(pack, version).models)  # dependency order
            return FixtureDatabase(
                connector, version, [(n, rendered[n]) for n in order], timeout=self.settings.query_timeout,
                max_rows=self.settings.max_rows,
            )

        return self._memo(("fixture-db", connector.path, version.name), build)

    def runnable(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion | None = None) -> str:
        """The query as DuckDB SQL for ``version`` (default: the newest the pack checks), its names
        resolved against that version (CheckSkipped when a construct cannot run in DuckDB)."""
        from .sql.duckdb import runnable_sql

        version = version or self.versions(pack)[-1]
        key = ("runnable", board.path, query.name, version.name)
        if key not in self._cache:
            self._cache[key] = runnable_sql(
                self.fresh_ast(pack, board, query), pack.dialect, self.runnable_schema(pack, version), self.connector(pack).schema,
                self.parsed(pack, board, query).sql,
            )
        return self._cache[key]

    def dataset(self, pack: Pack, version: ConnectorVersion, case: str) -> Any:
        """Rows for a named data case on ``version`` (seed-based or generated)."""
        from .data.cases import CaseInputs, dataset

        def build() -> Any:
            inputs = CaseInputs(
                version, pack.timezone, self.fixture_db(pack, version).seed, lambda: self.dataset(pack, version, "generated")
            )
            return dataset(case, inputs)

        return self._memo(("dataset", pack.manifest, version.name, case), build)

    def sandbox(self, pack: Pack, version: ConnectorVersion, case: str) -> Any:
        """A shared read-only database for a data case (board queries only read, so items stay isolated),
        with a session in UTC, every ``dashpacks_timezones`` zone and the pack's zone."""
        from .data import large

        zones = tuple(dict.fromkeys(self.settings.timezones + (pack.timezone,)))

        def build() -> Any:
            db = self.fixture_db(pack, version)
            if case == "large":
                fill = {t.key: large.large_rows_sql(t, self.settings.large_rows) for t in version.tables.values()}
                return db.open({}, fill=fill, zones=zones)
            return db.open(self.dataset(pack, version, case), zones=zones)

        key = ("sandbox", pack.manifest, version.name, case)
        if case == "large":  # big: keep only the latest one
            for old in [k for k in self._cache if k[0] == "sandbox" and k[3] == "large" and k != key]:
                self._cache.pop(old).close()
        return self._memo(key, build)

    def clock_dataset(self, pack: Pack, version: ConnectorVersion, instant: Any) -> Any:
        """The seed plus rows on both sides of a frozen instant (aware UTC)."""
        import datetime as dt

        from .data.rows import generate_rows

        def build() -> Any:
            utc = instant.astimezone(dt.timezone.utc).replace(tzinfo=None)
            offsets = [dt.timedelta(seconds=s) for s in (1, 60, 3600, 86400, 7 * 86400, 31 * 86400)]
            instants = sorted({utc + sign * o for o in offsets for sign in (1, -1)})
            extra = generate_rows(version, pack.timezone, rows_per_table=len(instants), seed=5, instants=instants)
            seed = self.fixture_db(pack, version).seed
            return {k: seed.get(k, []) + extra.get(k, []) for k in dict.fromkeys([*seed, *extra])}

        return self._memo(("clock-dataset", pack.manifest, version.name, instant.isoformat()), build)

    def tables_read(self, pack: Pack, version: ConnectorVersion, sql: str, kpi: Any) -> list[str]:
        """Table keys a DuckDB query reads, through models too, plus the KPI's source table (if any)."""

        def build() -> list[str]:
            import sqlglot
            from sqlglot import exp

            from .sql.render import MODEL_SCHEMA

            connector = self.connector(pack)
            names = self.models_sql(pack)
            keys: list[str] = []
            pending, seen = [sql], set()
            while pending:
                for table in sqlglot.parse_one(pending.pop(), read="duckdb").find_all(exp.Table):
                    schema = (table.db or connector.schema).lower()
                    if schema == MODEL_SCHEMA and table.name in names:
                        if table.name not in seen:
                            seen.add(table.name)
                            pending.append(names[table.name])
                        continue
                    spec = version.table(schema, table.name)
                    if spec is not None and spec.key not in keys:
                        keys.append(spec.key)
            return keys

        keys = list(self._memo(("tables-read", pack.manifest, version.name, sql), build))
        source = kpi and next((t.key for t in version.tables.values() if t.key.lower() == kpi.source.table.lower()), None)
        if source and source not in keys:
            keys.append(source)
        return keys

    def source_rows(self, pack: Pack, version: ConnectorVersion, kpi: Any, rows: Any) -> list[dict[str, Any]]:
        """The rows of a KPI's source table in a dataset."""
        wanted = kpi.source.table.lower()
        exact = [rows_ for key, rows_ in rows.items() if key.lower() == wanted]
        if exact:  # "opportunity" is not "salesforce_history.opportunity"
            return exact[0]
        by_name = [rows_ for key, rows_ in rows.items() if key.lower().rpartition(".")[2] == wanted]
        return by_name[0] if len(by_name) == 1 else []

    def stored_zone(self, pack: Pack, version: ConnectorVersion, kpi: Any) -> str:
        """The zone a KPI's timestamp column is stored in (its ``timezone:``, default UTC)."""
        for table in version.tables.values():
            if table.key.lower() == kpi.source.table.lower() or table.name.lower() == kpi.source.table.lower():
                column = table.column(kpi.source.timestamp)
                if column is not None and column.timezone:
                    return column.timezone
        return "UTC"

    def close(self) -> None:
        """Close every open fixture database."""
        for key in [k for k in self._cache if k[0] == "sandbox"]:
            value = self._cache.pop(key)
            if hasattr(value, "close"):
                value.close()

    def check_board_references(self, pack: Pack, board: Board) -> None:
        """Every Jinja name a query reads is a declared variable; queries.x and ref() resolve."""
        connector = self.connector(pack)
        declared = {v.name for v in board.variables}
        sql_queries = {q.name for q in board.queries}
        models = {m.name for m in connector.models}
        for query in board.queries:
            try:
                names = template_names(query.sql)
            except Exception as exc:  # a Jinja syntax error: reported with its line by the syntax item
                raise _locate(RenderError(f"Jinja syntax error: {exc}"), query, template=True) from None
            for name in sorted(names - declared):
                raise _template_error(
                    query, name,
                    f"query {query.name!r} uses unknown variable {name!r}{did_you_mean(name, sorted(declared))}",
                )
            for match in re.finditer(r"queries\.(\w+)", query.sql):
                if match.group(1) not in sql_queries:
                    raise _template_error(
                        query, match.group(0),
                        f"query {query.name!r} expands unknown query {match.group(1)!r}{did_you_mean(match.group(1), sorted(sql_queries))}",
                    )
            for match in re.finditer(r"ref\(\s*['\"]([^'\"]+)['\"]", query.sql):
                if match.group(1) not in models:
                    raise _template_error(
                        query, match.group(0),
                        f"query {query.name!r} refs unknown model {match.group(1)!r} of connector {connector.name}"
                        f"{did_you_mean(match.group(1), sorted(models))}",
                    )


def _key_span(path: Path, *key: Any) -> SourceSpan:
    from .yamlsource import load_yaml

    return load_yaml(path).span(key)


def _locate(exc: RenderError, query: Query, *, template: bool = False) -> RenderError:
    """Point a render/parse error at the query in the board file."""
    line = query.span.line
    if template and exc.sql is not None and exc.sql.line:
        line = query.sql_first_line + exc.sql.line - 1
    exc.span = SourceSpan(query.span.path, line, query.span.column)
    return exc


def _template_error(query: Query, needle: str, message: str) -> ConfigError:
    line = name_line(query.sql, needle) or next(
        (n for n, text in enumerate(query.sql.splitlines(), 1) if needle in text), 0
    )
    yaml_line = query.sql_first_line + line - 1 if line else query.span.line
    return ConfigError(message, SourceSpan(query.span.path, yaml_line, query.sql_indent + 1))
