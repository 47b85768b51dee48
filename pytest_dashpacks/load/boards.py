"""Loading dbt charts boards into the model.

A board's queries come from ``queries:`` (a string, or a mapping with
``sql:``) and from charts that carry their own query (named after the chart).
Values queries (rows written inline) keep the columns and value types their
YAML gives, so chart bindings to them are checked without SQL.
Layout references (``rows``/``cols``/``grid``/``tabs``) must name charts that exist.
``meta.yml`` files between the pack and the board give defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..model import Binding, Board, Chart, Query, ValuesColumn, ValuesQuery, Variable
from .bindings import Entry, chart_bindings
from .yaml import KeyPath, YamlDoc, did_you_mean, load_yaml, validate

# --- boards -----------------------------------------------------------------------


_SQL_START = re.compile(r"^\s*(\(\s*)*(select|with)\b", re.IGNORECASE)
_TEMPORAL = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$")
# Keys that make a query mapping some other kind; without them, rows:/values: imply type: values.
_NOT_VALUES_KEYS = {"sql", "url", "model", "schema", "table", "metrics", "dimensions"}


def _meta_docs(board_path: Path, pack_dir: Path) -> list[YamlDoc]:
    """meta.yml files from the pack root down to the board's folder, root first."""
    folders = []
    folder = board_path.parent
    while True:
        folders.append(folder)
        if folder == pack_dir or folder.parent == folder:
            break
        folder = folder.parent
    docs = []
    for folder in reversed(folders):
        for name in ("meta.yml", "meta.yaml"):
            candidate = folder / name
            if candidate.is_file():
                doc = load_yaml(candidate, allow_empty=True)  # a meta.yml of only comments sets no defaults
                validate(doc, "meta")
                docs.append(doc)
    return docs


def load_board(path: Path, pack_dir: Path) -> Board:
    """Load one board, merge meta.yml defaults and check its internal references."""
    doc = load_yaml(path)
    validate(doc, "board")
    if not isinstance(doc.data, dict):  # pragma: no cover - the schema requires a mapping
        raise doc.error("a board must be a mapping")
    metas = _meta_docs(path, pack_dir)
    sections = {key: _merged(key, metas, doc) for key in ("queries", "charts", "variables")}

    variables = tuple(
        Variable(e.name, (e.value or {}).get("default"), (e.value or {}).get("input", "auto"), e.doc.span(e.path, key=True))
        for e in sections["variables"]
    )
    queries: list[Query] = []
    other_queries: list[str] = []
    values_queries: list[ValuesQuery] = []
    format_bindings: list[Binding] = []
    for entry in sections["queries"]:
        if isinstance(entry.value, str):
            queries.append(_query(entry.name, entry.value, entry.doc, entry.path))
            continue
        if "sql" in entry.value:
            queries.append(_query(entry.name, entry.value["sql"], entry.doc, entry.path + ("sql",)))
        elif is_values_query(entry.value):
            values_queries.append(_values_query(entry.name, entry.value, entry.doc, entry.path))
            other_queries.append(entry.name)
        else:
            other_queries.append(entry.name)
            continue
        for column in entry.value.get("formats") or {}:
            span = entry.doc.span(entry.path + ("formats", column), key=True)
            format_bindings.append(Binding(entry.name, "formats", str(column), False, span, entry.name, kind="query"))

    chart_entries = list(sections["charts"]) + _layout_inline_charts(doc)
    names = {q.name: q for q in queries}
    charts: list[Chart] = []
    bindings: list[Binding] = list(format_bindings)
    for entry in chart_entries:
        body = entry.value
        query_name = _chart_query(entry, body, names, queries, other_queries, values_queries)
        charts.append(Chart(entry.name, body.get("type", "auto"), query_name, entry.doc.span(entry.path, key=True)))
        if query_name is not None:
            bindings.extend(
                chart_bindings(
                    entry, body, query_name,
                    lambda layer, layer_body: _chart_query(layer, layer_body, names, queries, other_queries, values_queries),
                )
            )
    _check_layout(doc, {c.name for c in charts})
    return Board(
        path=path,
        stem=path.stem,
        title=str(doc.data.get("title", path.stem)),
        queries=tuple(queries),
        charts=tuple(charts),
        bindings=tuple(bindings),
        variables=variables,
        other_queries=tuple(other_queries),
        values_queries=tuple(values_queries),
    )


def _merged(key: str, metas: list[YamlDoc], board: YamlDoc) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for doc in metas + [board]:
        for name, value in (doc.data.get(key) or {}).items():
            entries[str(name)] = Entry(str(name), value, doc, (key, name))
    return list(entries.values())


def _query(name: str, sql: str, doc: YamlDoc, path: KeyPath, origin: str = "queries") -> Query:
    span = doc.span(path)
    lines = doc.lines
    first_line, indent = span.line, span.column - 1
    head = lines[span.line - 1][span.column - 1 :] if 0 < span.line <= len(lines) else ""
    if head[:1] in ("|", ">"):
        # Block scalar: the SQL starts on the next non-empty line, at its indentation.
        first_line = span.line + 1
        while first_line <= len(lines) and not lines[first_line - 1].strip():
            first_line += 1
        if first_line <= len(lines):
            text = lines[first_line - 1]
            indent = len(text) - len(text.lstrip())
    elif head[:1] in ("'", '"'):
        indent += 1
    return Query(name, sql, span, first_line, indent, origin)


def _chart_query(
    entry: Entry,
    body: dict[str, Any],
    names: dict[str, Query],
    queries: list[Query],
    other: list[str],
    values: list[ValuesQuery],
) -> str | None:
    """The query a chart reads, adding an inline one (named after the chart) when it carries SQL or rows."""
    ref = body.get("query")
    if ref is None:
        return None
    if isinstance(ref, dict):
        if "sql" in ref:
            return _inline(entry, entry.name, ref["sql"], entry.path + ("query", "sql"), names, queries)
        if is_values_query(ref):
            return _inline_values(entry, ref, entry.path + ("query",), names, other, values)
        return None
    ref = str(ref)
    if ref.startswith("queries."):
        ref = ref[len("queries.") :]
    if ref in names or ref in other:
        return ref
    if _SQL_START.search(ref):
        return _inline(entry, entry.name, ref, entry.path + ("query",), names, queries)
    if "." in ref or "#" in ref or "/" in ref:
        return None  # cross-file reference (partial or another board): resolved by dbt charts itself
    known = list(names) + other
    raise entry.doc.error(f"chart {entry.name!r} names unknown query {ref!r}{did_you_mean(ref, known)}", entry.path + ("query",))


def _inline(entry: Entry, name: str, sql: str, path: KeyPath, names: dict[str, Query], queries: list[Query]) -> str:
    if name in names:
        first = names[name].span
        raise entry.doc.error(
            f"duplicate query name {name!r}: chart {entry.name!r} carries an inline query named after it, "
            f"and a query of that name is defined at line {first.line}",
            path,
        )
    query = _query(name, sql, entry.doc, path, origin=f"chart:{entry.name}")
    names[name] = query
    queries.append(query)
    return name


def _inline_values(
    entry: Entry, body: dict[str, Any], path: KeyPath, names: dict[str, Query], other: list[str], values: list[ValuesQuery]
) -> str:
    if entry.name in names or entry.name in other:
        raise entry.doc.error(
            f"duplicate query name {entry.name!r}: chart {entry.name!r} carries an inline values query named after it, "
            f"and the board already has a query of that name",
            path,
        )
    values.append(_values_query(entry.name, body, entry.doc, path, origin=f"chart:{entry.name}"))
    other.append(entry.name)
    return entry.name


def is_values_query(body: dict[str, Any]) -> bool:
    """A query mapping of inline rows: ``type: values``, or ``rows:``/``values:`` with no other kind's keys."""
    if "type" in body:
        return body["type"] == "values"
    return not (_NOT_VALUES_KEYS & body.keys()) and bool({"rows", "values"} & body.keys())


def _values_query(name: str, body: dict[str, Any], doc: YamlDoc, path: KeyPath, origin: str = "queries") -> ValuesQuery:
    """The columns of inline rows: ``rows: [{col: v}, ...]``, or ``columns: [...]`` with ``values: [[v, ...], ...]``.

    ``values:`` rows written as mappings are read like ``rows:``.
    """
    where = f"values query {name!r}"
    cells: dict[str, list[tuple[Any, KeyPath]]] = {}
    declared = body.get("columns")
    if declared is not None:
        if not isinstance(declared, list) or any(isinstance(c, (dict, list)) or c is None for c in declared):
            raise doc.error(f"{where}: columns must be a list of column names", path + ("columns",))
        for column in declared:
            cells.setdefault(str(column), [])
    for key in ("rows", "values"):
        rows = body.get(key)
        if rows is None:
            continue
        if not isinstance(rows, list):
            raise doc.error(f"{where}: {key} must be a list of rows", path + (key,))
        for i, row in enumerate(rows):
            at = path + (key, i)
            if isinstance(row, dict):
                for column, value in row.items():
                    cells.setdefault(str(column), []).append((value, at + (column,)))
            elif isinstance(row, list) and key == "values":
                if declared is None:
                    raise doc.error(
                        f"{where}: {key}[{i}] lists values by position, so the query needs columns: [...] to name them", at
                    )
                if len(row) != len(declared):
                    raise doc.error(
                        f"{where}: {key}[{i}] has {len(row)} value{'s' * (len(row) != 1)}, expected {len(declared)} "
                        f"(columns: {', '.join(map(str, declared))})",
                        at,
                    )
                for j, (column, value) in enumerate(zip(declared, row)):
                    cells[str(column)].append((value, at + (j,)))
            else:
                shape = "a mapping of column: value" if key == "rows" else "a list of values, one per column"
                raise doc.error(f"{where}: {key}[{i}] must be {shape}", at)
    if not cells:
        raise doc.error(
            f"{where} holds no data: write rows: [{{column: value, ...}}], or columns: [...] with values: [[...], ...]",
            path,
            key=True,
        )
    columns = tuple(_values_column(doc, column, found) for column, found in cells.items())
    return ValuesQuery(name, columns, doc.span(path, key=True), origin)


def _values_column(doc: YamlDoc, name: str, cells: list[tuple[Any, KeyPath]]) -> ValuesColumn:
    """Numeric when every non-null value is a number; otherwise typed by the first value that is not."""
    odd = next(((v, p) for v, p in cells if v is not None and _value_category(v) != "number"), None)
    if odd is not None:
        return ValuesColumn(name, _value_category(odd[0]), (odd[0], doc.span(odd[1])))
    return ValuesColumn(name, "number" if any(v is not None for v, _ in cells) else None)


def _value_category(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str) and _TEMPORAL.match(value):
        return "temporal"  # the loader keeps YAML dates as their text
    return "text"


def _layout_inline_charts(doc: YamlDoc) -> list[Entry]:
    """Charts written inline in the layout: ``- {chart_id: {type: ..., query: ...}}``."""
    found: list[Entry] = []

    def walk(value: Any, path: KeyPath) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict) and len(item) == 1:
                    (key, body), = item.items()
                    if isinstance(body, dict) and ("type" in body or "query" in body) and key not in _LAYOUT_KEYS:
                        found.append(Entry(str(key), body, doc, path + (i, key)))
                        continue
                walk(item, path + (i,))
        elif isinstance(value, dict):
            for key in _LAYOUT_KEYS:
                if key in value:
                    walk(value[key], path + (key,))

    for key in _LAYOUT_KEYS:
        if key in doc.data:
            walk(doc.data[key], (key,))
    return found


_LAYOUT_KEYS = ("rows", "cols", "grid", "tabs", "items")


def _check_layout(doc: YamlDoc, charts: set[str]) -> None:
    """Every chart name in the layout must be a chart of the board."""

    def check_ref(ref: str, path: KeyPath) -> None:
        special = ref.endswith((".yml", ".yaml")) or ref.startswith("_") or "." in ref or "/" in ref or "{" in ref
        if not special and ref not in charts:
            raise doc.error(f"layout names unknown chart {ref!r}{did_you_mean(ref, sorted(charts))}", path)

    def walk(value: Any, path: KeyPath) -> None:
        if isinstance(value, str):
            check_ref(value, path)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, path + (i,))
        elif isinstance(value, dict):
            if isinstance(value.get("item"), str):
                check_ref(value["item"], path + ("item",))
            for key in _LAYOUT_KEYS:
                if key in value and not (key == "items" and isinstance(value[key], dict)):
                    walk(value[key], path + (key,))

    for key in ("rows", "cols", "grid", "tabs"):
        if key in doc.data:
            walk(doc.data[key], (key,))
