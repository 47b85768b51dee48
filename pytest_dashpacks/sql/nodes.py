"""Small rules over sqlglot nodes shared by the zone analysis: units, zone literals, scopes, paths, excerpts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SqlExcerpt
from .zones import zone_key

if TYPE_CHECKING:

    pass

# --- small helpers over sqlglot nodes ----------------------------------------------------


def unit_name(node: Any) -> str:
    if node is None:
        return ""
    return str(node.name if hasattr(node, "name") else node).upper()


def zone_literal(node: Any) -> str | None:
    """The zone a literal names (None for anything computed per row)."""
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and node.is_string:
        return zone_key(node.this)
    if isinstance(node, (exp.Cast, exp.TryCast)) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return zone_key(node.this.this)
    return None


def scope_of(node: Any, scopes: dict[int, Any]) -> Any:
    """The innermost scope whose expression holds ``node``."""
    current = node
    while current is not None:
        scope = scopes.get(id(current))
        if scope is not None:
            return scope
        current = current.parent
    return None


def union_branches(scope: Any) -> list[Any]:
    out = []
    for branch in scope.set_operation_scopes:
        out.extend(union_branches(branch) if branch.set_operation_scopes else [branch])
    return out


def is_offset_shift(node: Any) -> bool:
    """``ts - INTERVAL 5 HOUR``, ``DATEADD(hour, -5, ts)``: an offset of hours or minutes."""
    from sqlglot import exp

    interval = node.expression if isinstance(node, (exp.Add, exp.Sub)) else node
    if isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
        interval = node.this
    unit = unit_name(interval.args.get("unit"))
    return unit.startswith("HOUR") or unit.startswith("MINUTE")


def is_conversion_step(parent: Any, child: Any) -> bool:
    """Whether ``parent`` only re-reads ``child``'s time (a conversion, a hand-made offset or a no-op wrapper)."""
    from sqlglot import exp

    if isinstance(parent, (exp.Add, exp.Sub, exp.DateAdd, exp.DateSub, exp.TimestampAdd, exp.TimestampSub, exp.DatetimeAdd, exp.DatetimeSub)):
        return is_offset_shift(parent)

    if isinstance(parent, (exp.Paren, exp.AtTimeZone, exp.FromTimeZone, exp.Timestamp, exp.Datetime, exp.TsOrDsToDatetime, exp.TsOrDsToTimestamp)):
        return parent.this is child
    if isinstance(parent, exp.ConvertTimezone):
        return parent.args.get("timestamp") is child
    if isinstance(parent, (exp.Cast, exp.TryCast)):
        t = exp.DataType.Type
        return parent.to.this in (t.TIMESTAMP, t.TIMESTAMPTZ, t.TIMESTAMPLTZ, t.TIMESTAMPNTZ, t.DATETIME)
    if isinstance(parent, exp.Anonymous) and str(parent.this).lower() == "timezone":
        return True
    return False


def is_inside(node: Any, ancestor: Any) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


def path_to(root: Any, node: Any) -> list[tuple[str, int | None]]:
    steps = []
    while node is not root:
        parent = node.parent
        value = parent.args.get(node.arg_key)
        steps.append((node.arg_key, value.index(node) if isinstance(value, list) else None))
        node = parent
    return steps[::-1]


def follow_path(root: Any, path: list[tuple[str, int | None]]) -> Any:
    node = root
    for key, index in path:
        value = node.args[key]
        node = value[index] if index is not None else value
    return node


def start_offset(node: Any) -> int:
    from sqlglot import exp

    for ident in ([node] if isinstance(node, exp.Identifier) else []) + list(node.find_all(exp.Identifier)):
        if "start" in ident.meta:
            return ident.meta["start"]
    return -1


def bucket_excerpt(sql: str, anchor: Any, bucket: Any) -> SqlExcerpt:
    from .parse import excerpt_at

    excerpt = excerpt_at(sql, anchor)
    return excerpt if excerpt.line else excerpt_at(sql, bucket)


def written_in(node: Any, sql: str, dialect: str) -> str:
    """``node`` as SQL with identifiers spelled as the query spells them (no qualifiers qualify added)."""
    from sqlglot import exp

    copy = node.copy()
    for column in list(copy.find_all(exp.Column)):
        for key in ("table", "db", "catalog"):
            part = column.args.get(key)
            if isinstance(part, exp.Identifier) and not written_before(sql, part, column.this):
                column.set(key, None)
    for ident in list(copy.find_all(exp.Identifier)):
        meta = ident.meta
        if "start" in meta and "end" in meta:
            text = sql[meta["start"] : meta["end"] + 1]
            ident.set("this", text.strip('"`[]') if ident.args.get("quoted") else text)
    return copy.sql(dialect)


def written_before(sql: str, qualifier: Any, name: Any) -> bool:
    """Whether ``qualifier`` is written in front of ``name`` (``t.x``), not added by qualify."""
    q, n = qualifier.meta, getattr(name, "meta", {})
    if "end" not in q or "start" not in n or q["end"] >= n["start"]:
        return False
    between = sql[q["end"] + 1 : n["start"]]
    return set(between.replace(" ", "")) <= {".", '"', "`"} and between.count(".") >= 1 and len(between) <= 8


