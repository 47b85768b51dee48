"""Which data items can find something in a query, decided at collection from text alone.

An item is generated only when its defect can occur: ``timezone[...]`` when the query can read a
timestamp, a date or the clock, or cuts rows with LIMIT (the item also proves the cut is deterministic); ``volume[soft_deleted]`` and ``volume[history]`` when it can read a
table that has the declared ``role: deleted`` or ``role: active`` marker; ``volume[large]`` when it joins,
uses a window function or aggregates (what can fan out, blow up or slow down over 200,000-row tables). The rules read the query's
template text, with the queries it pastes and the connector models it refs, and err towards
generating: a name that merely appears, a ``*`` or a time keyword is enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import Board, Connector, ConnectorVersion, Query
from .clock import reads_clock
from .render import REF_CALL, pasted_queries

_TEMPORAL_TYPE = re.compile(r"^\s*(date|time|timestamp|datetime|interval)", re.IGNORECASE)
# Time words a query can use without naming a stored column: typed literals, conversions, zone maths.
_TIME_WORDS = re.compile(
    r"\b(date|time|timestamp|timestamptz|datetime|interval|extract|date_trunc|date_part|at\s+time\s+zone|convert_timezone|"
    r"to_timestamp|to_date|strftime|strptime|epoch)\b",
    re.IGNORECASE,
)


_CUTS_ROWS = re.compile(r"\b(limit|top|qualify|fetch\s+first|row_number|rank|dense_rank)\b", re.IGNORECASE)
# What grows with table size: joins (also comma joins), windows, grouping and aggregate functions.
_SCALES = re.compile(
    r"\b(join|over|group\s+by|distinct|union|intersect|except|count|sum|avg|min|max|median|mode|quantile\w*|percentile\w*|"
    r"stddev\w*|var_\w+|variance|string_agg|listagg|array_agg|group_concat|any_value|arg_max|arg_min|approx_\w+|bool_and|bool_or)\b"
    r"|\bfrom\s+[^()]*?,",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Relevance:
    reads_time: bool
    reads_deleted_marker: bool
    reads_history_marker: bool
    scales_with_rows: bool


def readable_text(query: Query, board: Board, connector: Connector) -> str:
    """The query's template with the queries it pastes and the models it reads (their SQL), lower-cased."""
    texts = [q.sql for q in pasted_queries(query, board)]
    models = {m.name: m.sql for m in connector.models}
    pending, seen = list(texts), set()
    while pending:
        text = pending.pop()
        lowered = text.lower()
        # A model is read through ref() or, since models are views, by its bare name.
        for name in {*REF_CALL.findall(text), *(m for m in models if m.lower() in lowered)}:
            if name in models and name not in seen:
                seen.add(name)
                texts.append(models[name])
                pending.append(models[name])
    return "\n".join(texts).lower()


@dataclass(frozen=True)
class MarkedNames:
    """Lower-cased names the rules look for in the versions a pack checks; built once per pack."""

    temporal_columns: frozenset[str]
    deleted_tables: frozenset[str]  # tables with a ``role: deleted`` column
    history_tables: frozenset[str]  # tables with a ``role: active`` column


def marked_names(versions: Iterable[ConnectorVersion]) -> MarkedNames:
    tables = [t for v in versions for t in v.tables.values()]
    return MarkedNames(
        frozenset(c.name.lower() for t in tables for c in t.columns if _TEMPORAL_TYPE.match(c.type)),
        frozenset(t.name.lower() for t in tables if t.role_columns("deleted")),
        frozenset(t.name.lower() for t in tables if t.role_columns("active")),
    )


def query_relevance(query: Query, board: Board, connector: Connector, names: MarkedNames) -> Relevance:
    text = readable_text(query, board, connector)
    words = set(re.findall(r"[a-z_][a-z0-9_$]*", text))
    star = "*" in re.sub(r"count\s*\(\s*\*\s*\)", "", text)
    reads_time = star or reads_clock(text) or bool(_TIME_WORDS.search(text) or _CUTS_ROWS.search(text)) or bool(words & names.temporal_columns)
    return Relevance(reads_time, bool(words & names.deleted_tables), bool(words & names.history_tables), bool(_SCALES.search(text)))
