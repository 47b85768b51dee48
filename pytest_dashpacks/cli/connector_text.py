"""connector.yml text written by the scaffold: a new file, or one version appended to an existing file
without touching a byte of what is there (hand-written notes and comments survive)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..load.yaml import YamlDoc, load_yaml
from . import CliError
from .version_changes import ProposedChange, column_params, table_key
from .warehouse_catalogs import ScannedTable

# Plain YAML scalars we can write unquoted: identifiers that no YAML 1.1 resolver reads as a bool, null or number.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
REVIEW = ("# Review it: add primary_key, references, values, unit, timezone and role where they hold, so generated\n"
          "# rows and the checks know them. Types are DuckDB's; each description says where the column came from.\n")


def scalar(value: Any) -> str:
    """``value`` as a YAML flow scalar that reads back as the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def flow(params: dict[str, Any]) -> str:
    """``{key: value, ...}`` on one line, lists as ``[a, b]``."""
    items = []
    for key, value in params.items():
        shown = "[" + ", ".join(scalar(v) for v in value) + "]" if isinstance(value, list) else scalar(value)
        items.append(f"{scalar(key)}: {shown}")
    return "{" + ", ".join(items) + "}"


def new_connector_text(name: str, schema: str, version: str, tables: tuple[ScannedTable, ...], label: str, today: str) -> str:
    lines = [f"# Scaffolded by `dashpacks scaffold connector` from {label} on {today}.", REVIEW.rstrip("\n"),
             f"connector: {scalar(name)}", f"schema: {scalar(schema)}", "versions:", f"  {json.dumps(version)}:", "    tables:"]
    for table in tables:
        lines += [f"      {scalar(table_key(table, schema))}:", "        columns:"]
        lines += [f"          {scalar(c.name)}: {flow(column_params(c))}" for c in table.columns]
    return "\n".join(lines) + "\n"


def version_block(version: str, extends: str, changes: list[ProposedChange], label: str, today: str, indent: int, step: int) -> str:
    """The text of one version that extends ``extends`` with ``changes``, indented like the file's other versions."""
    pad, inner, item = " " * indent, " " * (indent + step), " " * (indent + 2 * step)
    lines = [f"{pad}# Added by `dashpacks scaffold connector` from {label} on {today}: review the changes, and",
             f"{pad}# replace each note by what the connector's changelog says.",
             f"{pad}{json.dumps(version)}:", f"{inner}extends: {json.dumps(extends)}", f"{inner}changes:"]
    for change in changes:
        if change.kind == "add_table":
            lines += [f"{item}- add_table:", f"{item}    table: {scalar(change.params['table'])}", f"{item}    columns:"]
            lines += [f"{item}      {scalar(column)}: {flow(spec)}" for column, spec in change.params["columns"].items()]
        else:
            lines.append(f"{item}- {change.kind}: {flow(change.params)}")
        lines.append(f"{item}  note: {json.dumps(change.note)}")
    return "\n".join(lines) + "\n"


def appended_text(path: Path, original: str, doc: YamlDoc, version: str, block_of: Any) -> str:
    """``original`` with the version appended after its last version; refused when ``versions:`` is not the
    file's last block (the new text must read back as the old data plus that one version)."""
    versions = list(doc.data["versions"])
    _, column = doc.key_marks.get(("versions", versions[-1]), (0, 3))
    indent = max(column - 1, 1)
    newline = "\r\n" if "\r\n" in original else "\n"
    block = block_of(indent, _step(doc, versions[-1], indent)).replace("\n", newline)
    text = original + ("" if original.endswith("\n") or not original else newline) + block
    try:
        appended: Any = load_yaml(path, text.removeprefix("\ufeff")).data
    except ConfigError:  # the appended text does not parse: cannot append here
        appended = None
    expected_versions = [*versions, version]
    if (
        not isinstance(appended, dict)
        or list(appended.get("versions") or {}) != expected_versions
        or {k: v for k, v in appended.items() if k != "versions"} != {k: v for k, v in doc.data.items() if k != "versions"}
        or any(appended["versions"][v] != doc.data["versions"][v] for v in versions)
    ):
        raise CliError(
            f"cannot append a version to {path}: `versions:` is not the last block of the file (or is written in flow "
            f"style). Add it by hand at the end of `versions:`:\n{block_of(2, 2)}"
        )
    return text


def _step(doc: YamlDoc, version: Any, indent: int) -> int:
    """Columns each nested level adds in this file (2 unless its versions say otherwise)."""
    for key_path, (_, column) in doc.key_marks.items():
        if len(key_path) == 3 and key_path[:2] == ("versions", version) and column - 1 > indent:
            return column - 1 - indent
    return 2
