"""Text forms of the ``connectors``, ``show`` and ``diff`` documents (``cli.inspect`` builds them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .inspect import relative


def connectors_text(document: dict[str, Any], base: Path) -> str:
    lines = ["fixture roots, first match wins:"]
    lines += [f"  {root['path']}" + (f"  ({root['why']})" if root["why"] else "") for root in document["roots"]]
    lines.append("")
    if not document["connectors"]:
        return "\n".join(lines + ["no connectors found"])
    width = max(len(entry["connector"]) for entry in document["connectors"])
    for entry in document["connectors"]:
        where = relative(entry["directory"], base)
        if "error" in entry:
            lines.append(f"{entry['connector']:<{width}}  does not load: {entry['error']}")
            continue
        shadow = "  (shadowed by an earlier root)" if entry["shadowed"] else ""
        versions = ", ".join(entry["versions"])
        lines.append(f"{entry['connector']:<{width}}  {versions}  {entry['tables']} tables in {entry['newest']}  {where}{shadow}")
    return "\n".join(lines)


def show_text(document: dict[str, Any], base: Path) -> str:
    head = f"{document['connector']}@{document['version']}  {relative(document['file'], base)}"
    origin = f"extends {document['extends']} with {len(document['changes'])} changes" if document["extends"] else "declares its tables"
    lines = [head, f"  schema {document['schema']}; versions {', '.join(document['versions'])}; {origin}"]
    for table in document["tables"]:
        lines += ["", f"table {table['key']} ({table['schema']}.{table['name']})"]
        width = max(len(c["name"]) for c in table["columns"])
        type_width = max(len(c["type"]) for c in table["columns"])
        for column in table["columns"]:
            notes = _column_notes(column)
            lines.append(f"  {column['name']:<{width}}  {column['type']:<{type_width}}  {notes}".rstrip())
    if document["models"]:
        lines += ["", "models (ref('<name>'), columns as this version builds them):"]
    for model in document["models"]:
        lines.append(f"  {model['name']}  {relative(model['file'], base)}")
        if model["problem"]:
            lines.append(f"    does not build: {model['problem']}")
        else:
            lines.append("    " + ", ".join(f"{c['name']} {c['type'] or '?'}" for c in model["columns"]))
    return "\n".join(lines)


def _column_notes(column: dict[str, Any]) -> str:
    notes = []
    if column["primary_key"]:
        notes.append("primary key")
    if not column["nullable"]:
        notes.append("not null")
    if column["references"]:
        notes.append(f"-> {column['references']}")
    if column["role"]:
        notes.append(f"role {column['role']}" + ("" if column["role_declared"] else " (by default)"))
    if column["unit"]:
        notes.append(f"unit {column['unit']}")
    if column["timezone"]:
        notes.append(f"stored in {column['timezone']}")
    if column["values"] is not None:
        notes.append("values: " + ", ".join(map(str, column["values"])))
    return "; ".join(notes)


def diff_text(document: dict[str, Any], base: Path) -> str:
    lines = [f"{document['from']} -> {document['to']}"]
    for word in ("added", "dropped"):
        if document[f"tables_{word}"]:
            lines.append(f"tables {word}: {', '.join(document[f'tables_{word}'])}")
    if document["tables_renamed"]:
        lines.append("tables renamed: " + ", ".join(f"{r['from']} -> {r['to']}" for r in document["tables_renamed"]))
    for table in document["tables_changed"]:
        lines.append(f"table {table['table']}:")
        lines += [f"  + {name}" for name in table["columns_added"]]
        lines += [f"  - {name}" for name in table["columns_dropped"]]
        lines += [f"  > {r['from']} renamed to {r['to']}" for r in table["columns_renamed"]]
        for changed in table["columns_changed"]:
            what = "; ".join(f"{attribute} {_short(v['from'])} -> {_short(v['to'])}" for attribute, v in changed.items() if attribute != "column")
            lines.append(f"  ~ {changed['column']}: {what}")
    if len(lines) == 1:
        lines.append("no differences")
    for key, title in (("declared_changes", "declared changes"), ("undone_changes", "declared changes taken back (the first version has them, the second not)")):
        if document[key]:
            lines += ["", f"{title}:"]
            lines += [f"  {change['text'].replace(change['file'], relative(change['file'], base))}" for change in document[key]]
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return "none" if value is None else str(value)
