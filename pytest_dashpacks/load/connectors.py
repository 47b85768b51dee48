"""Loading connector.yml: versions, ``extends`` chains and the eight change kinds.

A version's tables are its parent's tables with its own ``changes`` applied in
order; every change is kept in the version's lineage so a failing check can
cite the change (and its note) that broke a query.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..model import Change, ColumnSpec, Connector, ConnectorVersion, ModelSpec, TableSpec, is_boolean_type
from .seeds import check_seeds, type_error
from .yaml import YamlDoc, load_yaml, read_text, require_inside, validate

CHANGE_KINDS = (
    "rename_table",
    "rename_column",
    "drop_column",
    "add_column",
    "change_type",
    "change_values",
    "add_table",
    "drop_table",
)


def curated_fixture_root() -> Path:
    """The plugin's own connector library: inside the wheel, or beside the package in a checkout."""
    package = Path(__file__).resolve().parent.parent  # this module lives in pytest_dashpacks/load/
    for candidate in (package / "connector_fixtures", package.parent / "connector_fixtures"):
        if candidate.is_dir():
            return candidate
    return package / "connector_fixtures"


def find_connector(name: str, roots: list[Path]) -> Path | None:
    """The first ``<root>/<name>/connector.yml`` among ``roots`` (highest precedence first)."""
    for root in roots:
        candidate = root / name / "connector.yml"
        if candidate.is_file():
            return candidate
    return None


def available_connectors(roots: list[Path]) -> list[str]:
    names: set[str] = set()
    for root in roots:
        if root.is_dir():
            names.update(p.parent.name for p in root.glob("*/connector.yml"))
    return sorted(names)


def load_connector(path: Path) -> Connector:
    """Load and resolve one connector.yml; raises :class:`ConfigError` naming file:line.
    A connector file that is a symbolic link out of its fixture root is refused, never read."""
    fixture_root = path.parent.parent
    require_inside(path, fixture_root, "fixture root")
    doc = load_yaml(path)
    validate(doc, "connector")
    data = doc.data
    name = data["connector"]
    schema = data.get("schema", name)
    resolved: dict[str, ConnectorVersion] = {}
    for version in data["versions"]:
        _resolve_version(doc, schema, str(version), resolved, ())
    versions = tuple(resolved[str(v)] for v in data["versions"])
    root = path.parent
    seeds = {p.stem: p for p in sorted((root / "seed").glob("*.csv"))}
    for file in [*seeds.values(), *sorted((root / "models").glob("*.sql"))]:
        require_inside(file, fixture_root, "fixture root")
    models = tuple(ModelSpec(p.stem, p, read_text(p)) for p in sorted((root / "models").glob("*.sql")))
    return Connector(name, schema, root, path, versions, models, seeds)


def check_connector_files(connector: Connector) -> dict[str, str]:
    """Types are DuckDB types, models parse and seeds fit their tables (SQL work, so not done while
    collecting: the session runs it before anything reads the fixture, and ``pack.yml::load`` reports
    what it finds). Returns each model rendered to DuckDB SQL: the one place models are rendered."""
    _check_types(connector)
    rendered = _rendered_models(connector)
    check_seeds(connector)
    return rendered


def _check_types(connector: Connector) -> None:
    """Every column type is one DuckDB knows (asked through its type parser, never by running SQL)."""
    doc = load_yaml(connector.path)
    for version, body in doc.data["versions"].items():
        base: tuple[Any, ...] = ("versions", version)
        found = [
            (f"{table}.{column}", spec["type"], base + ("tables", table, "columns", column, "type"))
            for table, table_body in ((body or {}).get("tables") or {}).items()
            for column, spec in table_body["columns"].items()
        ]
        for index, entry in enumerate((body or {}).get("changes") or []):
            where = base + ("changes", index)
            if "change_type" in entry:
                p = entry["change_type"]
                found.append((f"{p['table']}.{p['column']}", p["to"], where + ("change_type", "to")))
            elif "add_column" in entry:
                p = entry["add_column"]
                found.append((f"{p['table']}.{p['column']}", p["type"], where + ("add_column", "type")))
            elif "add_table" in entry:
                p = entry["add_table"]
                found += [(f"{p['table']}.{c}", s["type"], where + ("add_table", "columns", c, "type")) for c, s in p["columns"].items()]
        for column, type_name, where in found:
            problem = type_error(str(type_name))
            if problem is not None:
                raise doc.error(f"column {column}: {str(type_name)!r} is not a DuckDB type ({problem})", where)


def _rendered_models(connector: Connector) -> dict[str, str]:
    """Each model rendered; it must parse as one DuckDB SELECT, else a ConfigError at its own file and
    line: a broken model is one defect of the fixture, not one per board that reads it."""
    from ..errors import ConfigError, RenderError, SourceSpan
    from ..sql.parse import parse_query
    from ..sql.render import render_model

    names = tuple(m.name for m in connector.models)
    out: dict[str, str] = {}
    for model in connector.models:
        rendered = ""
        try:
            rendered = render_model(model.sql, connector.name, connector.schema, names)
            parse_query(rendered, "duckdb")
            out[model.name] = rendered
        except RenderError as exc:
            line = exc.sql.line if exc.sql and exc.sql.line else 1
            column = exc.sql.column if exc.sql else 0
            if _line(rendered, line) != _line(model.sql, line):
                column = 0  # a column in the rendered SQL points elsewhere in the template
            message = exc.message.replace("a board query", "a model").replace("valid board query", "valid model")
            raise ConfigError(f"model {model.name}: {message}", SourceSpan(model.path, line, column)) from None
    _check_ref_cycles(connector)
    return out


def _check_ref_cycles(connector: Connector) -> None:
    """Models that ref each other in a cycle never build: one ConfigError at the ref that closes it."""
    from ..errors import ConfigError, SourceSpan
    from ..sql.render import REF_CALL

    models = {m.name: m for m in connector.models}
    refs = {m.name: [r for r in REF_CALL.findall(m.sql) if r in models] for m in connector.models}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        for target in refs[name]:
            if target in path:
                cycle = path[path.index(target):] + (name, target) if target != name else (name, name)
                model = models[name]
                line = next((n for n, text in enumerate(model.sql.splitlines(), 1) if REF_CALL.search(text) and target in text), 1)
                raise ConfigError(
                    f"model {name}: models reference each other in a cycle: {' -> '.join(dict.fromkeys(cycle[:-1]))} -> {target}",
                    SourceSpan(model.path, line, 1),
                )
            if target not in done:
                visit(target, path + (name,))
        done.add(name)

    for model in connector.models:
        if model.name not in done:
            visit(model.name, ())


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def table_id(key: str, default_schema: str) -> tuple[str, str]:
    """``charge`` -> (schema, charge); ``serving.daily_metrics`` -> (serving, daily_metrics)."""
    if "." in key:
        schema, _, name = key.rpartition(".")
        return schema, name
    return default_schema, key


def _resolve_version(
    doc: YamlDoc, schema: str, name: str, resolved: dict[str, ConnectorVersion], chain: tuple[str, ...]
) -> ConnectorVersion:
    if name in resolved:
        return resolved[name]
    versions = doc.data["versions"]
    if name in chain:
        cycle = " -> ".join(chain + (name,))
        raise doc.error(f"extends cycle between versions: {cycle}", ("versions", chain[-1], "extends"))
    body: dict[str, Any] = versions[name] or {}
    base = ("versions", name)
    tables: dict[str, TableSpec] = {}
    lineage: tuple[Change, ...] = ()
    parent = body.get("extends")
    if parent is not None:
        if str(parent) not in versions:
            known = ", ".join(map(str, versions))
            raise doc.error(f"version {name} extends unknown version {parent!r} (known: {known})", base + ("extends",))
        parent_version = _resolve_version(doc, schema, str(parent), resolved, chain + (name,))
        tables = dict(parent_version.tables)
        lineage = parent_version.lineage
    elif not body.get("tables"):
        raise doc.error(f"version {name} has neither `tables` nor `extends`", base, key=True)
    for key, table in (body.get("tables") or {}).items():
        _check_roles(doc, str(key), table["columns"], base + ("tables", key, "columns"))
        spec = _table(schema, str(key), table["columns"])
        tables[_table_key(spec.schema, spec.name)] = spec
    changes = []
    for index, entry in enumerate(body.get("changes") or []):
        kind = next(k for k in CHANGE_KINDS if k in entry)
        change = Change(kind, name, dict(entry[kind]), entry.get("note", ""), doc.span(base + ("changes", index)))
        _apply(doc, schema, tables, change, base + ("changes", index, kind))
        changes.append(change)
    version = ConnectorVersion(doc.data["connector"], name, tables, lineage + tuple(changes), doc.span(base, key=True))
    resolved[name] = version
    return version


def _table_key(schema: str, name: str) -> str:
    return f"{schema}.{name}".lower()


def _column(name: str, spec: dict[str, Any]) -> ColumnSpec:
    values = spec.get("values")
    return ColumnSpec(
        name=str(name),
        type=str(spec["type"]),
        nullable=spec.get("nullable", True),
        primary_key=spec.get("primary_key", False),
        references=spec.get("references"),
        values=tuple(values) if values is not None else None,
        unit=spec.get("unit"),
        timezone=spec.get("timezone"),
        description=spec.get("description"),
        role=spec.get("role"),
    )


def _check_roles(doc: YamlDoc, table: str, columns: dict[str, Any], where: tuple[Any, ...]) -> None:
    """A ``role:`` column must be boolean: its value is what marks a row deleted or inactive."""
    for name, spec in columns.items():
        _check_role(doc, f"{table}.{name}", spec.get("role"), str(spec["type"]), where + (name, "role"))


def _check_role(doc: YamlDoc, column: str, role: str | None, type_name: str, where: tuple[Any, ...]) -> None:
    if role is not None and not is_boolean_type(type_name):
        raise doc.error(f"column {column} has role: {role}, which needs a boolean column, not {type_name}", where)


def _table(schema: str, key: str, columns: dict[str, Any]) -> TableSpec:
    table_schema, name = table_id(key, schema)
    return TableSpec(key, table_schema, name, tuple(_column(c, s) for c, s in columns.items()))


def _apply(doc: YamlDoc, schema: str, tables: dict[str, TableSpec], change: Change, where: tuple[Any, ...]) -> None:
    """Apply one change to ``tables`` in place; a change naming a missing thing is a ConfigError."""
    p = change.params

    def existing(key_name: str) -> TableSpec:
        table_schema, table_name = table_id(str(p[key_name]), schema)
        table = tables.get(_table_key(table_schema, table_name))
        if table is None:
            known = ", ".join(sorted(t.key for t in tables.values()))
            raise doc.error(f"{change.kind} names table {p[key_name]!r}, which does not exist here (tables: {known})", where + (key_name,))
        return table

    def column_of(table: TableSpec, key_name: str) -> ColumnSpec:
        column = table.column(str(p[key_name]))
        if column is None:
            known = ", ".join(c.name for c in table.columns)
            raise doc.error(f"{change.kind} names column {table.key}.{p[key_name]}, which does not exist here (columns: {known})", where + (key_name,))
        return column

    def put(table: TableSpec, columns: tuple[ColumnSpec, ...]) -> None:
        tables[_table_key(table.schema, table.name)] = TableSpec(table.key, table.schema, table.name, columns)

    if change.kind in ("rename_table", "rename_column"):
        _rewrite_references(schema, tables, change)
    if change.kind in ("add_table",):
        table_schema, name = table_id(str(p["table"]), schema)
        if _table_key(table_schema, name) in tables:
            raise doc.error(f"add_table: table {p['table']!r} already exists", where + ("table",))
        _check_roles(doc, str(p["table"]), p["columns"], where + ("columns",))
        spec = _table(schema, str(p["table"]), p["columns"])
        tables[_table_key(spec.schema, spec.name)] = spec
        return
    table = existing("table" if change.kind != "rename_table" else "from")
    if change.kind == "drop_table":
        del tables[_table_key(table.schema, table.name)]
    elif change.kind == "rename_table":
        del tables[_table_key(table.schema, table.name)]
        new_schema, new_name = table_id(str(p["to"]), schema)
        if _table_key(new_schema, new_name) in tables:
            raise doc.error(f"rename_table: table {p['to']!r} already exists", where + ("to",))
        tables[_table_key(new_schema, new_name)] = TableSpec(str(p["to"]), new_schema, new_name, table.columns)
    elif change.kind == "add_column":
        if table.column(str(p["column"])) is not None:
            raise doc.error(f"add_column: column {table.key}.{p['column']} already exists", where + ("column",))
        spec = {k: v for k, v in p.items() if k not in ("table", "column")}
        _check_role(doc, f"{table.key}.{p['column']}", spec.get("role"), str(spec["type"]), where + ("role",))
        put(table, table.columns + (_column(str(p["column"]), spec),))
    else:
        column = column_of(table, "from" if change.kind == "rename_column" else "column")
        if change.kind == "change_type":
            _check_role(doc, f"{table.key}.{column.name}", column.role, str(p["to"]), where + ("to",))
        if change.kind == "rename_column" and table.column(str(p["to"])) is not None:
            raise doc.error(f"rename_column: column {table.key}.{p['to']} already exists", where + ("to",))
        replaced: list[ColumnSpec] = []
        for c in table.columns:
            if c is not column:
                replaced.append(c)
            elif change.kind == "rename_column":
                replaced.append(_replace(c, name=str(p["to"])))
            elif change.kind == "change_type":
                replaced.append(_replace(c, type=str(p["to"])))
            elif change.kind == "change_values":
                replaced.append(_replace(c, values=tuple(p["values"])))
            # drop_column: leave it out
        put(table, tuple(replaced))


def _replace(column: ColumnSpec, **changes: Any) -> ColumnSpec:
    return replace(column, **changes)


def _rewrite_references(schema: str, tables: dict[str, TableSpec], change: Change) -> None:
    """Keep ``references: table.column`` pointing at the renamed table or column."""
    p = change.params
    if change.kind == "rename_table":
        old = _table_key(*table_id(str(p["from"]), schema))

        def rewrite(ref: str) -> str:
            table, _, column = ref.rpartition(".")
            return f"{p['to']}.{column}" if _table_key(*table_id(table, schema)) == old else ref
    else:
        old_table = _table_key(*table_id(str(p["table"]), schema))

        def rewrite(ref: str) -> str:
            table, _, column = ref.rpartition(".")
            same = _table_key(*table_id(table, schema)) == old_table and column.lower() == str(p["from"]).lower()
            return f"{table}.{p['to']}" if same else ref

    for key, table in list(tables.items()):
        columns = tuple(
            _replace(c, references=rewrite(c.references)) if c.references and rewrite(c.references) != c.references else c
            for c in table.columns
        )
        if columns != table.columns:
            tables[key] = TableSpec(table.key, table.schema, table.name, columns)
