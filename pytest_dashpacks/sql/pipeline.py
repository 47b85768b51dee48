"""One board query through the SQL pipeline: rendered, parsed, qualified and typed against each
connector version, and translated to DuckDB; every step once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import DashpacksError, RenderError, SourceSpan
from ..load.library import PackLibrary
from ..memo import Memo
from ..model import Board, ConnectorVersion, Pack, Query
from .render import RenderContext, render_sql


@dataclass(frozen=True)
class VersionCatalog:
    """A connector version ready for analysis: models built, sqlglot schema made."""

    version: ConnectorVersion
    models: dict[str, Any]  # name -> sql.schema.ModelOutput
    schema: dict[str, Any]


@dataclass(frozen=True)
class ParsedQuery:
    sql: str
    ast: Any  # sqlglot expression; copy before mutating
    tokens: tuple[Any, ...] = ()  # the pack dialect's tokens of ``sql``, for checks that read them


_TREES = frozenset({"parsed", "qualified", "typed"})  # the memo kinds that hold sqlglot trees


class QueryPipeline:
    def __init__(self, library: PackLibrary, memo: Memo) -> None:
        self.library = library
        self._memo = memo

    def render_context(self, pack: Pack, board: Board) -> RenderContext:
        def build() -> RenderContext:
            connector = self.library.connector(pack)
            values = {v.name: v.default for v in board.variables}
            values.update({k: v for k, v in pack.variables.items() if k in values})
            return RenderContext(
                connector.name, connector.schema, pack.dialect, tuple(m.name for m in connector.models), values,
                {q.name: q.sql for q in board.queries},
            )

        return self._memo.get(("context", pack.manifest, board.path), build)

    def rendered(self, pack: Pack, board: Board, query: Query) -> str:
        def build() -> str:
            try:
                return render_sql(query.sql, self.render_context(pack, board), (query.name,))
            except RenderError as exc:
                raise located(exc, query, template=True) from None

        return self._memo.get(("rendered", board.path, query.name), build)

    def parsed(self, pack: Pack, board: Board, query: Query) -> ParsedQuery:
        """The query rendered and parsed in the pack dialect (RenderError located in the YAML)."""

        def build() -> ParsedQuery:
            from sqlglot.dialects.dialect import Dialect
            from sqlglot.errors import TokenError

            from .parse import parse_query

            sql = self.rendered(pack, board, query)
            try:
                tokens = Dialect.get_or_raise(pack.dialect).tokenize(sql)
            except TokenError:
                tokens = None  # parse_query says where
            try:
                return ParsedQuery(sql, parse_query(sql, pack.dialect, tokens), tuple(tokens or ()))
            except RenderError as exc:
                raise located(exc, query) from None

        return self._memo.get(("parsed", board.path, query.name), build)

    def fresh_ast(self, pack: Pack, board: Board, query: Query) -> Any:
        """A copy of the parsed query, free to mutate (sqlglot's compiled copy costs about 60% of a parse)."""
        return self.parsed(pack, board, query).ast.copy()

    def catalog(self, pack: Pack, version: ConnectorVersion) -> VersionCatalog:
        connector = self.library.connector(pack)

        def build() -> VersionCatalog:
            from .outputs import model_outputs
            from .schema import mapping_schema

            models = model_outputs(list(self.library.models_sql(pack).items()), version, connector.schema)
            return VersionCatalog(version, models, mapping_schema(version, models))

        return self._memo.get(("catalog", connector.path, version.name), build)

    def sqlglot_schema(self, pack: Pack, version: ConnectorVersion, *, duckdb_types: bool = False) -> Any:
        """The version's schema as sqlglot wants it, normalized for the pack dialect once; with
        ``duckdb_types``, for translating to DuckDB (the pack dialect's names, DuckDB's types)."""
        from .schema import sqlglot_schema

        catalog = self.catalog(pack, version)
        return self._memo.get(
            ("sqlglot-schema", self.library.connector(pack).path, version.name, pack.dialect, duckdb_types),
            lambda: sqlglot_schema(catalog.schema, pack.dialect, duckdb_types=duckdb_types),
        )

    def qualified(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> Any:
        """The parsed query qualified against one version (shared by schema and bindings)."""
        from .schema import qualified

        return self._memo.get(
            ("qualified", board.path, query.name, version.name),
            lambda: qualified(
                self.fresh_ast(pack, board, query), self.sqlglot_schema(pack, version), pack.dialect, copy=False, types=False
            ),
        )

    def typed(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> Any:
        """:meth:`qualified`, with types annotated (in place, once) for the checks that need them."""
        from .schema import annotated

        tree = self.qualified(pack, board, query, version)
        return self._memo.get(
            ("typed", board.path, query.name, version.name),
            lambda: annotated(tree, self.sqlglot_schema(pack, version), pack.dialect),
        )

    def schema_problems(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> list[Any]:
        """What the ``schema[<connector>@<version>]`` item finds (RenderError when the query does not parse):
        missing tables and columns, else literals and types that do not fit."""
        from .schema import schema_problems
        from .types import compares_expressions, type_and_value_problems

        def build() -> list[Any]:
            parsed = self.parsed(pack, board, query)
            catalog = self.catalog(pack, version)
            connector = self.library.connector(pack)
            problems = schema_problems(parsed.ast, parsed.sql, version, catalog.models, connector.schema)
            if not problems:
                tree = self.qualified(pack, board, query, version)
                if compares_expressions(tree):  # column-to-column comparisons need types; literals do not
                    tree = self.typed(pack, board, query, version)
                problems = type_and_value_problems(tree, parsed.sql, version, connector.schema, catalog.models)
            return problems

        return self._memo.get(("schema-problems", board.path, query.name, version.name), build)

    def runnable(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion | None = None) -> str:
        """The query as DuckDB SQL for ``version`` (default: the newest the pack checks), its names
        resolved against that version (CheckSkipped when a construct cannot run in DuckDB)."""
        from .duckdb import runnable_sql

        version = version or self.library.versions(pack)[-1]
        return self._memo.get(
            ("runnable", board.path, query.name, version.name),
            lambda: runnable_sql(
                self.fresh_ast(pack, board, query), pack.dialect, self.sqlglot_schema(pack, version, duckdb_types=True),
                self.library.connector(pack).schema, self.parsed(pack, board, query).sql,
            ),
        )

    def tables_read(self, pack: Pack, version: ConnectorVersion, sql: str) -> list[str]:
        """Keys of the connector tables a DuckDB query reads, through models too."""

        def build() -> list[str]:
            import sqlglot
            from sqlglot import exp

            from .render import MODEL_SCHEMA

            models_sql = self.library.models_sql(pack)
            default_schema = self.library.connector(pack).schema
            keys: list[str] = []
            pending, seen = [sql], set()
            while pending:
                for table in sqlglot.parse_one(pending.pop(), read="duckdb").find_all(exp.Table):
                    schema = (table.db or default_schema).lower()
                    if schema == MODEL_SCHEMA and table.name in models_sql:
                        if table.name not in seen:
                            seen.add(table.name)
                            pending.append(models_sql[table.name])
                        continue
                    spec = version.table(schema, table.name)
                    if spec is not None and spec.key not in keys:
                        keys.append(spec.key)
            return keys

        return list(self._memo.get(("tables-read", pack.manifest, version.name, sql), build))

    def release(self, board: Board) -> None:
        """Forget the board's syntax trees (parsed, qualified, typed): they are most of what a run holds,
        and each one kept makes every full garbage collection, the ones at exit included, walk it.
        The small results (rendered and DuckDB SQL, schema problems) stay; a later item that needs a
        tree again parses it again."""
        self._memo.pop(lambda key: key[0] in _TREES and key[1] == board.path)

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


def located(exc: RenderError, query: Query, *, template: bool = False) -> RenderError:
    """A render/parse error pointed at the query in the board file (at the template's line when known)."""
    line = query.span.line
    if template and exc.sql is not None and exc.sql.line:
        line = query.sql_first_line + exc.sql.line - 1
    return exc.replaced(span=SourceSpan(query.span.path, line, query.span.column))
