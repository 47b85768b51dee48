"""``dashpacks connectors``, ``show`` and ``diff``: what the fixture roots hold, as documents (dicts) for ``--json``.

The text forms are rendered from the same documents (``cli.listing``), so both say the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..load.connectors import (
    available_connectors,
    find_connector,
    load_connector,
    table_id,
)
from ..load.yaml import did_you_mean
from ..model import Change, ColumnSpec, Connector, ConnectorVersion, TableSpec
from . import CliError
from .fixture_roots import FixtureRoots


def split_label(label: str) -> tuple[str, str | None]:
    """``stripe@2025-07`` -> ("stripe", "2025-07"); ``stripe`` -> ("stripe", None)."""
    name, _, version = label.partition("@")
    if not name:
        raise CliError(f"{label!r} names no connector: write CONNECTOR@VERSION, e.g. stripe@2025-07")
    return name, version or None


def open_connector(name: str, roots: FixtureRoots) -> Connector:
    """The connector ``name`` from the first root that has it; an unknown name is a CliError with a hint."""
    path = find_connector(name, list(roots.roots))
    if path is None:
        known = available_connectors(list(roots.roots))
        searched = ", ".join(str(r) for r in roots.roots)
        raise CliError(f"unknown connector {name!r}{did_you_mean(name, known)}; searched {searched}")
    return load_connector(path)


def pick_version(connector: Connector, name: str | None) -> ConnectorVersion:
    """The named version, or the newest when ``name`` is None."""
    if name is None:
        return connector.versions[-1]
    version = connector.version(name)
    if version is None:
        known = [v.name for v in connector.versions]
        raise CliError(f"connector {connector.name} ({connector.path}) has no version {name!r}{did_you_mean(name, known)}")
    return version


# --- connectors ------------------------------------------------------------------------------


def connectors_document(roots: FixtureRoots) -> dict[str, Any]:
    """Every connector under every root; a name found in an earlier root shadows the later ones."""
    listed: list[dict[str, Any]] = []
    seen: set[str] = set()
    for root in roots.roots:
        for name in available_connectors([root]):
            path = root / name / "connector.yml"
            entry: dict[str, Any] = {"connector": name, "directory": str(path.parent), "root": str(root),
                                     "shadowed": name in seen}
            seen.add(name)
            try:
                connector = load_connector(path)
            except ConfigError as exc:
                entry["error"] = f"{exc.span.location() if exc.span else path}: {exc.message}"
                listed.append(entry)
                continue
            newest = connector.versions[-1]
            entry.update(
                schema=connector.schema,
                versions=[v.name for v in connector.versions],
                newest=newest.name,
                tables=len(newest.tables),
                models=[m.name for m in connector.models],
                seeds=sorted(connector.seeds),
            )
            listed.append(entry)
    return {
        "roots": [{"path": str(r), "why": roots.describe(r)} for r in roots.roots],
        "connectors": listed,
    }


# --- show --------------------------------------------------------------------------------------


def column_document(column: ColumnSpec) -> dict[str, Any]:
    role = column.effective_role
    return {
        "name": column.name,
        "type": column.type,
        "nullable": column.nullable,
        "primary_key": column.primary_key,
        "references": column.references,
        "values": list(column.values) if column.values is not None else None,
        "unit": column.unit,
        "timezone": column.timezone,
        "role": role,
        "role_declared": role is not None and column.role is not None,
        "description": column.description,
    }


def table_document(table: TableSpec) -> dict[str, Any]:
    return {"key": table.key, "schema": table.schema, "name": table.name, "columns": [column_document(c) for c in table.columns]}


def show_document(connector: Connector, version: ConnectorVersion) -> dict[str, Any]:
    """A version's effective tables (after extends and changes) and what each model returns in it."""
    from ..load.yaml import load_yaml

    own = [c for c in version.lineage if c.version == version.name]
    extends = (load_yaml(connector.path).data["versions"].get(version.name) or {}).get("extends")
    return {
        "connector": connector.name,
        "version": version.name,
        "file": str(connector.path),
        "schema": connector.schema,
        "versions": [v.name for v in connector.versions],
        "extends": str(extends) if extends is not None else None,
        "changes": [change_document(c) for c in own],
        "tables": [table_document(t) for t in version.tables.values()],
        "models": model_documents(connector, version),
    }


def model_documents(connector: Connector, version: ConnectorVersion) -> list[dict[str, Any]]:
    """Each model's output columns in ``version`` (resolved with sqlglot), or why it does not build there."""
    if not connector.models:
        return []
    from ..load.connectors import check_connector_files
    from ..sql.outputs import model_outputs

    try:
        rendered = check_connector_files(connector)
    except ConfigError as exc:  # a model that does not parse, or a seed that does not fit: say so per model
        where = exc.span.location() if exc.span else str(connector.path)
        return [{"name": m.name, "file": str(m.path), "columns": None, "problem": f"{where}: {exc.message}"} for m in connector.models]
    outputs = model_outputs(list(rendered.items()), version, connector.schema)
    out = []
    for model in connector.models:
        output = outputs[model.name]
        entry: dict[str, Any] = {"name": model.name, "file": str(model.path), "columns": None, "problem": None}
        if output.problem is None:
            entry["columns"] = [{"name": name, "type": type_name or None} for name, type_name in output.columns.items()]
        else:
            problem = output.problem
            text = problem.message + (f" ({problem.hint})" if problem.hint else "")
            if problem.cause is not None:
                text += f"; caused by: {problem.cause.describe()}"
            entry["problem"] = text
        out.append(entry)
    return out


def change_document(change: Change) -> dict[str, Any]:
    return {"kind": change.kind, "version": change.version, **change.params, "note": change.note or None,
            "file": str(change.span.path), "line": change.span.line, "text": change.describe()}


# --- diff --------------------------------------------------------------------------------------


def diff_document(old_connector: Connector, old: ConnectorVersion, new_connector: Connector, new: ConnectorVersion) -> dict[str, Any]:
    """What differs between two versions, pairing dropped and added names through the declared renames."""
    same = old_connector.path == new_connector.path
    forward = [c for c in new.lineage if c not in old.lineage] if same else []
    undone = [c for c in old.lineage if c not in new.lineage] if same else []
    table_renames, column_renames = _declared_renames(forward, undone, old_connector.schema)
    old_tables, new_tables = dict(old.tables), dict(new.tables)
    renamed_tables = {o: n for o, n in table_renames.items() if o in old_tables and n in new_tables and n not in old_tables}
    document: dict[str, Any] = {
        "from": old.label, "to": new.label,
        "tables_added": [new_tables[k].key for k in new_tables if k not in old_tables and k not in renamed_tables.values()],
        "tables_dropped": [old_tables[k].key for k in old_tables if k not in new_tables and k not in renamed_tables],
        "tables_renamed": [{"from": old_tables[o].key, "to": new_tables[n].key} for o, n in renamed_tables.items()],
        "tables_changed": [],
        "declared_changes": [change_document(c) for c in forward],
        "undone_changes": [change_document(c) for c in undone],
    }
    for key, before in old_tables.items():
        after_key = renamed_tables.get(key, key)
        after = new_tables.get(after_key)
        if after is None:
            continue
        names = {key, after_key}
        renames = {f: t for (table, f), t in column_renames.items() if table in names}
        changed = _column_diff(before, after, renames)
        if any(changed.values()):
            document["tables_changed"].append({"table": after.key, **changed})
    return document


def _declared_renames(
    forward: list[Change], undone: list[Change], schema: str
) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Table renames (old key -> new key, chains followed) and column renames ((table, old) -> new), as declared."""
    steps: list[tuple[str, str, str, str]] = []  # (kind, table, from, to) in the direction old -> new
    for change in reversed(undone):  # changes the old version has and the new one lacks, taken back
        steps.append(_step(change, schema, backwards=True))
    steps += [_step(change, schema, backwards=False) for change in forward]
    tables: dict[str, str] = {}
    columns: dict[tuple[str, str], str] = {}
    for kind, table, old, new in steps:
        if kind == "rename_table":
            for start, current in list(tables.items()):
                if current == old:
                    tables[start] = new
            tables.setdefault(old, new)
        elif kind == "rename_column":
            for (start_table, start), current in list(columns.items()):
                if current == old and start_table in (table, tables.get(table, table)):
                    columns[(start_table, start)] = new
            columns.setdefault((table, old), new)
    return tables, columns


def _step(change: Change, schema: str, *, backwards: bool) -> tuple[str, str, str, str]:
    p = change.params

    def key(name: Any) -> str:
        return ".".join(table_id(str(name), schema)).lower()

    if change.kind == "rename_table":
        old, new = key(p["from"]), key(p["to"])
        return ("rename_table", "", new, old) if backwards else ("rename_table", "", old, new)
    if change.kind == "rename_column":
        old, new = str(p["from"]).lower(), str(p["to"]).lower()
        return ("rename_column", key(p["table"]), new, old) if backwards else ("rename_column", key(p["table"]), old, new)
    return (change.kind, "", "", "")


def _column_diff(before: TableSpec, after: TableSpec, renames: dict[str, str]) -> dict[str, list[Any]]:
    old_columns = {c.name.lower(): c for c in before.columns}
    new_columns = {c.name.lower(): c for c in after.columns}
    renamed = {o: n for o, n in renames.items() if o in old_columns and n in new_columns and n not in old_columns}
    out: dict[str, list[Any]] = {
        "columns_added": [new_columns[n].name for n in new_columns if n not in old_columns and n not in renamed.values()],
        "columns_dropped": [old_columns[o].name for o in old_columns if o not in new_columns and o not in renamed],
        "columns_renamed": [{"from": old_columns[o].name, "to": new_columns[n].name} for o, n in renamed.items()],
        "columns_changed": [],
    }
    for name, column in old_columns.items():
        other = new_columns.get(renamed.get(name, name))
        if other is None:
            continue
        changes = {
            attribute: {"from": _plain(getattr(column, attribute)), "to": _plain(getattr(other, attribute))}
            for attribute in ("type", "values", "nullable", "primary_key", "references", "role", "unit", "timezone")
            if _comparable(attribute, getattr(column, attribute)) != _comparable(attribute, getattr(other, attribute))
        }
        if changes:
            out["columns_changed"].append({"column": other.name, **changes})
    return out


def _plain(value: Any) -> Any:
    """JSON-ready: tuples become lists."""
    return list(value) if isinstance(value, tuple) else value


def _comparable(attribute: str, value: Any) -> Any:
    """Type names compare without regard to case or spacing (``varchar`` is ``VARCHAR``)."""
    if attribute == "type" and isinstance(value, str):
        return " ".join(value.lower().split())
    return _plain(value)


def connector_and_version(label: str, roots: FixtureRoots, default_connector: str | None = None) -> tuple[Connector, ConnectorVersion]:
    """Resolve ``connector@version`` (``version`` alone names a version of ``default_connector``)."""
    if "@" not in label and default_connector is not None:
        label = f"{default_connector}@{label}"
    name, version = split_label(label)
    connector = open_connector(name, roots)
    return connector, pick_version(connector, version)


def relative(path: str | Path, base: Path) -> str:
    """``path`` relative to ``base`` when inside it, for shorter text output."""
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)
