"""The pack, board and connector model: frozen dataclasses built by the loaders.

Nothing here reads files or runs SQL; checks receive these objects.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SourceSpan

# --- connectors ---------------------------------------------------------------

# ``role:`` values: a true ``deleted`` column marks a soft-deleted row, a false ``active`` column an inactive history row.
COLUMN_ROLES = ("deleted", "active")
# Fivetran's own flags carry their role without declaring it; no other name is guessed.
DEFAULT_ROLES = {"_fivetran_deleted": "deleted", "_fivetran_active": "active"}
BOOLEAN_TYPES = frozenset({"boolean", "bool", "logical"})


def is_boolean_type(type_name: str) -> bool:
    return " ".join(type_name.lower().split()) in BOOLEAN_TYPES


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    nullable: bool = True
    primary_key: bool = False
    references: str | None = None  # "table.column" (table may be qualified)
    values: tuple[Any, ...] | None = None
    unit: str | None = None
    timezone: str | None = None
    description: str | None = None
    role: str | None = None  # as declared; see ``effective_role`` for the defaults

    @property
    def effective_role(self) -> str | None:
        """The declared role, else the default of a boolean Fivetran flag (``DEFAULT_ROLES``)."""
        if self.role is not None:
            return self.role
        return DEFAULT_ROLES.get(self.name.lower()) if is_boolean_type(self.type) else None


@dataclass(frozen=True)
class TableSpec:
    key: str  # as written in connector.yml: "charge" or "serving.daily_metrics"
    schema: str
    name: str
    columns: tuple[ColumnSpec, ...]

    def column(self, name: str) -> ColumnSpec | None:
        return self._by_name.get(name.lower())

    @functools.cached_property
    def _by_name(self) -> dict[str, ColumnSpec]:
        """Columns by lower-cased name, the first of each name (the checks look columns up per node)."""
        out: dict[str, ColumnSpec] = {}
        for column in self.columns:
            out.setdefault(column.name.lower(), column)
        return out

    def role_columns(self, role: str) -> tuple[ColumnSpec, ...]:
        """The columns whose (declared or default) role is ``role``, in file order."""
        return tuple(c for c in self.columns if c.effective_role == role)


@dataclass(frozen=True)
class Change:
    """One entry of a version's ``changes:`` list."""

    kind: str
    version: str
    params: dict[str, Any]
    note: str
    span: SourceSpan

    def describe(self) -> str:
        p = self.params
        text = {
            "rename_table": lambda: f"table {p['from']} renamed to {p['to']}",
            "rename_column": lambda: f"column {p['table']}.{p['from']} renamed to {p['to']}",
            "drop_column": lambda: f"column {p['table']}.{p['column']} dropped",
            "add_column": lambda: f"column {p['table']}.{p['column']} added",
            "change_type": lambda: f"column {p['table']}.{p['column']} retyped to {p['to']}",
            "change_values": lambda: f"accepted values of {p['table']}.{p['column']} changed to {', '.join(map(str, p['values']))}",
            "add_table": lambda: f"table {p['table']} added",
            "drop_table": lambda: f"table {p['table']} dropped",
        }[self.kind]()
        note = f" ({self.note})" if self.note else ""
        return f"{text} in version {self.version}{note}, {self.span.location()}"


@dataclass(frozen=True)
class ConnectorVersion:
    connector: str
    name: str
    tables: dict[str, TableSpec]  # by lower-cased "schema.table"
    lineage: tuple[Change, ...]  # every change from the first version up to this one
    span: SourceSpan

    @property
    def label(self) -> str:
        return f"{self.connector}@{self.name}"

    def table(self, schema: str, name: str) -> TableSpec | None:
        return self.tables.get(f"{schema}.{name}".lower())


@dataclass(frozen=True)
class ModelSpec:
    """A dbt-style model of the connector (``models/<name>.sql``)."""

    name: str
    path: Path
    sql: str


@dataclass(frozen=True)
class Connector:
    name: str
    schema: str
    root: Path
    path: Path
    versions: tuple[ConnectorVersion, ...]
    models: tuple[ModelSpec, ...]
    seeds: dict[str, Path]  # table key -> CSV

    def version(self, name: str) -> ConnectorVersion | None:
        return next((v for v in self.versions if v.name == name), None)


# --- packs and boards -----------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    default: Any
    input: str
    span: SourceSpan


@dataclass(frozen=True)
class Query:
    name: str
    sql: str  # the Jinja template as written
    span: SourceSpan  # where the query (its SQL) starts in the board file
    sql_first_line: int  # YAML line holding the first SQL line (block scalars start one below the key)
    sql_indent: int  # columns of YAML indentation before each SQL line
    origin: str = "queries"  # "queries" or "chart:<name>" for inline chart queries


@dataclass(frozen=True)
class ValuesColumn:
    """A column of a values query, typed from the values written for it."""

    name: str
    category: str | None  # number, text, boolean, temporal, or None when every value is null
    first_non_number: tuple[Any, SourceSpan] | None = None  # the value that makes it non-numeric, for messages


@dataclass(frozen=True)
class ValuesQuery:
    """A ``type: values`` query: rows written inline in the board, so its columns are known without SQL."""

    name: str
    columns: tuple[ValuesColumn, ...]
    span: SourceSpan  # the query's key (or the chart's inline ``query:``)
    origin: str = "queries"  # "queries" or "chart:<name>" for inline chart queries

    def column(self, name: str) -> ValuesColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Binding:
    """A chart key that names a column the query must return."""

    chart: str
    role: str  # "x", "y", "support.value", "style.columns", "layers[0].y" ...
    column: str
    numeric: bool
    span: SourceSpan
    query: str  # the query that must return it (a layer may bring its own)
    kind: str = "chart"  # "chart", or "query" for a query's own formats: keys

    def describe(self) -> str:
        return f"{self.kind} {self.chart!r} {self.role}"


@dataclass(frozen=True)
class Chart:
    name: str
    type: str
    query: str | None
    span: SourceSpan


@dataclass(frozen=True)
class Board:
    path: Path
    stem: str
    title: str
    queries: tuple[Query, ...]
    charts: tuple[Chart, ...]
    bindings: tuple[Binding, ...]
    variables: tuple[Variable, ...]
    other_queries: tuple[str, ...] = ()  # non-SQL queries (values, http, ...) charts may name
    values_queries: tuple[ValuesQuery, ...] = ()  # the values queries among them, with their columns

    def query(self, name: str) -> Query | None:
        return self._queries_by_name.get(name)

    def bindings_of(self, query: str) -> tuple[Binding, ...]:
        """The chart and format bindings that read ``query``'s columns."""
        return self._bindings_by_query.get(query, ())

    # Indexes built once: a board of 10,000 queries asks for each query and its bindings per item.
    @functools.cached_property
    def _queries_by_name(self) -> dict[str, Query]:
        return {q.name: q for q in reversed(self.queries)}  # reversed: the first of a name wins

    @functools.cached_property
    def _bindings_by_query(self) -> dict[str, tuple[Binding, ...]]:
        grouped: dict[str, list[Binding]] = {}
        for binding in self.bindings:
            grouped.setdefault(binding.query, []).append(binding)
        return {name: tuple(found) for name, found in grouped.items()}


@dataclass(frozen=True)
class CheckRule:
    """A ``checks.skip`` / ``checks.xfail`` entry of pack.yml."""

    check: str
    query: str
    reason: str
    defect: str | None
    span: SourceSpan


@dataclass(frozen=True)
class KpiSource:
    table: str
    timestamp: str
    value: str
    scale: float = 1.0
    filters: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    exclude_deleted: bool = False
    exclude_history: bool = False


@dataclass(frozen=True)
class KpiContract:
    name: str
    board: str
    query: str
    grain: str
    time_column: str
    measure_column: str
    source: KpiSource
    narrative: str | None
    span: SourceSpan


@dataclass(frozen=True)
class Pack:
    name: str
    directory: Path
    manifest: Path
    connector: str
    dialect: str
    schema_versions: tuple[str, ...] | None  # None: every version of the connector
    targets: tuple[str, ...]
    timezone: str
    variables: dict[str, Any]
    kpis: tuple[KpiContract, ...]
    skips: tuple[CheckRule, ...]
    xfails: tuple[CheckRule, ...]
    fixtures: Path | None
    span: SourceSpan
