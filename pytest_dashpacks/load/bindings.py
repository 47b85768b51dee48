"""Chart keys that name columns, as :class:`Binding` objects the bindings item checks against a query's output."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model import Binding
from .yaml import KeyPath, YamlDoc

# Chart types whose y (or x) axis carries the measure.
_CARTESIAN = {"bar", "line", "area", "scatter"}
_LINK_FIELD = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*(?:\||\}\})")


@dataclass(frozen=True)
class Entry:
    """A queries/charts/variables entry and the file it was written in (board or meta.yml)."""

    name: str
    value: Any
    doc: YamlDoc
    path: KeyPath


def column_ref(value: Any) -> str | None:
    """A chart channel names a column as a string or as ``{field: col, ...}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("field"), str):
        return value["field"]
    return None


def chart_bindings(entry: Entry, body: dict[str, Any], query: str, layer_query: Callable[[Entry, dict[str, Any]], str | None]) -> list[Binding]:
    """The chart's column bindings; a layer with its own query gets it from ``layer_query`` (None: not bound)."""
    chart_type = body.get("type", "auto")
    out: list[Binding] = []

    def add(role: str, value: Any, path: KeyPath, numeric: bool, for_query: str = query) -> None:
        column = column_ref(value)
        if column:
            out.append(Binding(entry.name, role, column, numeric, entry.doc.span(entry.path + path), for_query))

    def channels(layer: dict[str, Any], prefix: str, path: KeyPath, kind: str, for_query: str) -> None:
        numeric_y = kind in _CARTESIAN
        for key in ("x", "y"):
            value = layer.get(key)
            numeric = (key == "y" and numeric_y) or (key == "x" and kind in ("histogram", "spark_bar"))
            if isinstance(value, list):
                for i, item in enumerate(value):
                    add(f"{prefix}{key}[{i}]", item, path + (key, i), numeric, for_query)
            else:
                add(prefix + key, value, path + (key,), numeric, for_query)
        for key in ("color", "shape", "opacity", "lookup", "latitude", "longitude", "background"):
            add(prefix + key, layer.get(key), path + (key,), False, for_query)
        for key in ("size", "theta"):
            add(prefix + key, layer.get(key), path + (key,), True, for_query)
        if "value" in layer:
            add(prefix + "value", layer["value"], path + ("value",), kind in ("kpi", "geoshape", "map"), for_query)

    channels(body, "", (), chart_type, query)
    if isinstance(body.get("link"), str):
        for column in _LINK_FIELD.findall(body["link"]):
            add("link", column, ("link",), False)
    support = body.get("support")
    if isinstance(support, dict):
        add("support.value", support.get("value"), ("support", "value"), True)
    sort = body.get("sort")
    if isinstance(sort, dict):
        add("sort.by", sort.get("by"), ("sort", "by"), False)
    stroke = body.get("stroke")
    if isinstance(stroke, dict):
        for key in ("color", "width"):
            add(f"stroke.{key}", column_ref(stroke.get(key)) if isinstance(stroke.get(key), dict) else None, ("stroke", key), False)
    multiples = body.get("multiples")
    if isinstance(multiples, dict):
        for key in ("rows", "columns"):
            add(f"multiples.{key}", multiples.get(key), ("multiples", key), False)
    style = body.get("style")
    if isinstance(style, dict) and isinstance(style.get("columns"), dict):
        for column in style["columns"]:
            add("style.columns", str(column), ("style", "columns", column), False)
    formatting = body.get("conditional_formatting")
    if isinstance(formatting, dict):
        for column in formatting:
            add("conditional_formatting", str(column), ("conditional_formatting", column), False)
    for i, spanner in enumerate(body.get("spanners") or []):
        for j, column in enumerate((spanner or {}).get("columns") or []):
            add(f"spanners[{i}].columns", column, ("spanners", i, "columns", j), False)
    for i, layer in enumerate(body.get("layers") or []):
        if not isinstance(layer, dict):
            continue
        chosen = query
        if "query" in layer:
            layer_entry = Entry(f"{entry.name}_layer{i}", layer, entry.doc, entry.path + ("layers", i))
            own = layer_query(layer_entry, layer)
            if own is None:
                continue
            chosen = own
        channels(layer, f"layers[{i}].", ("layers", i), layer.get("type", chart_type), chosen)
    return out


