"""The zone a temporal expression's wall clock reads in, followed through conversions (``AT TIME
ZONE``, ``CONVERT_TIMEZONE``, BigQuery's zone arguments ...), CTEs, subqueries and models
back to the stored connector column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .nodes import is_offset_shift, union_branches, written_in, zone_literal
from .zones import SESSION, StoredTimestamp, holds_dates, same_zone, stored_zone, timestamp_kind

if TYPE_CHECKING:

    pass

_FROM_UTC_DIALECTS = {"databricks", "spark", "spark2", "hive"}  # sqlglot writes from_utc_timestamp as AT TIME ZONE


@dataclass(frozen=True)
class Clock:
    """What a temporal expression holds: a stored timestamp, and the zone its wall clock reads in."""

    origin: StoredTimestamp
    node: Any  # the column node it entered the current scope through
    wall: str | None  # zone of the wall clock; None for an absolute instant
    converted: Any = None  # the conversion (node) that set ``wall``
    misread: str = ""  # how the stored value was read in the wrong zone
    # An instant made from a naive value by reading it in the default zone (the session's; UTC on
    # BigQuery): bucketing it in that same zone gives this wall zone back.
    readback_wall: str | None = None
    shift: str = ""  # a fixed offset added by hand (``ts - INTERVAL 5 HOUR``)
    upstream: bool = False  # converted in another scope (a CTE, subquery or model column)
    local: bool = False  # converted in the current scope


class WallClocks:
    """One query's walk: scopes and the clocks of its columns, memoized per scope."""

    def __init__(self, tree: Any, sql: str, dialect: str, reporting: str, version: Any, default_schema: str, models: dict[str, Any]) -> None:
        self.tree, self.sql, self.dialect, self.reporting = tree, sql, dialect.lower(), reporting
        self.version, self.default_schema, self.models = version, default_schema.lower(), models
        self.memo: dict[tuple[int, str], tuple[Clock, ...]] = {}
        self.unresolved: list[str] = []

    # --- clocks -----------------------------------------------------------------------

    def _clocks(self, node: Any, scope: Any, depth: int) -> tuple[Clock, ...]:
        """The stored timestamps ``node`` carries, with the zone each one's wall clock reads in."""
        from sqlglot import exp

        if node is None or depth > 64:
            return ()
        if isinstance(node, exp.Column):
            return self._column(node, scope, depth)
        if self._bucket(node) is not None:
            return ()  # a bucket's value is a calendar value; it is judged where it is taken
        nxt = depth + 1
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc, exp.DatetimeTrunc, exp.DateBin)):
            # exempt (sub-hour) truncations keep the wall clock
            return self._clocks(node.this if not isinstance(node, exp.DateBin) else node.expression, scope, nxt)
        if isinstance(node, (exp.Paren, exp.Alias, exp.Window, exp.Max, exp.Min, exp.AnyValue, exp.First, exp.Last, exp.Nullif)):
            return self._clocks(node.this, scope, nxt)
        if isinstance(node, exp.Filter):
            return self._clocks(node.this, scope, nxt)
        if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
            return self._many([node.this, *node.expressions], scope, nxt)
        if isinstance(node, exp.Case):
            return self._many([i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")], scope, nxt)
        if isinstance(node, exp.If):
            return self._many([node.args.get("true"), node.args.get("false")], scope, nxt)
        if isinstance(node, (exp.Add, exp.Sub)):
            if isinstance(node.expression, exp.Interval):
                inner = self._clocks(node.this, scope, nxt)
            elif isinstance(node.this, exp.Interval) and isinstance(node, exp.Add):
                inner = self._clocks(node.expression, scope, nxt)
            else:
                return ()
            return self._shifted(inner, node)
        if isinstance(node, (exp.DateAdd, exp.DateSub, exp.TimestampAdd, exp.TimestampSub, exp.DatetimeAdd, exp.DatetimeSub, exp.TsOrDsAdd)):
            return self._shifted(self._clocks(node.this, scope, nxt), node)
        if isinstance(node, exp.AtTimeZone):
            zone = zone_literal(node.args.get("zone"))
            return () if zone is None else self._converted(self._clocks(node.this, scope, nxt), node, zone)
        if isinstance(node, exp.FromTimeZone):  # to_utc_timestamp(ts, zone): ts is wall clock in zone
            zone = zone_literal(node.args.get("zone"))
            return () if zone is None else tuple(self._read_as(c, zone, node, then="UTC") for c in self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone" and len(node.expressions) == 2:
            zone = zone_literal(node.expressions[0])
            return () if zone is None else self._converted(self._clocks(node.expressions[1], scope, nxt), node, zone)
        if isinstance(node, exp.ConvertTimezone):
            return self._convert_timezone(node, self._clocks(node.args.get("timestamp"), scope, nxt))
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return self._cast(node, self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.Timestamp):
            return self._timestamp(node, self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.Datetime):
            zone = zone_literal(node.expression) if node.expression is not None else "UTC"
            if zone is None:
                return ()
            return tuple(self._instant_to_wall(c, zone, node, explicit=node.expression is not None) for c in self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.TsOrDsToDatetime):
            return tuple(self._instant_to_wall(c, "UTC", node, explicit=False) for c in self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.TsOrDsToTimestamp):
            return self._clocks(node.this, scope, nxt)
        return ()

    def _shifted(self, clocks: tuple[Clock, ...], node: Any) -> tuple[Clock, ...]:
        """Interval arithmetic keeps the wall zone; an hour or minute offset is a hand-made zone shift."""
        if not is_offset_shift(node):
            return clocks
        return tuple(c if c.shift else replace(c, shift=written_in(node, self.sql, self.dialect), local=True) for c in clocks)

    def _many(self, nodes: list[Any], scope: Any, depth: int) -> tuple[Clock, ...]:
        return tuple(c for n in nodes for c in self._clocks(n, scope, depth))

    def _column(self, column: Any, scope: Any, depth: int) -> tuple[Clock, ...]:
        from sqlglot import exp
        from sqlglot.optimizer.scope import Scope

        alias, name = column.table, column.name
        if not name:
            return ()
        source = scope.sources.get(alias) if alias else None
        if source is None and not alias and len(scope.sources) == 1:
            source = next(iter(scope.sources.values()))
        if source is None:
            return ()  # correlated with an outer query, or not a column of a source
        key = (id(source), name.lower())
        if key not in self.memo:
            self.memo[key] = ()  # a recursive CTE reading itself carries nothing new
            if isinstance(source, exp.Table):
                self.memo[key] = self._table_column(source, name)
            elif isinstance(source, Scope):
                self.memo[key] = tuple(
                    replace(c, upstream=c.upstream or c.local, local=False) for c in self._scope_column(source, name, depth)
                )
        return tuple(replace(c, node=column) for c in self.memo[key])

    def _scope_column(self, scope: Any, name: str, depth: int) -> tuple[Clock, ...]:
        from sqlglot import exp

        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            names = [n.lower() for n in expression.named_selects]
            if name.lower() not in names:
                return ()
            index = names.index(name.lower())
            out: list[Clock] = []
            for branch in union_branches(scope):
                selects = getattr(branch.expression, "selects", [])
                if index < len(selects):
                    out.extend(self._clocks(selects[index].unalias(), branch, depth + 1))
            return tuple(out)
        if not isinstance(expression, exp.Select):
            return ()
        for select in expression.selects:
            if select.alias_or_name.lower() == name.lower():
                return self._clocks(select.unalias(), scope, depth + 1)
        return ()

    def _table_column(self, table: Any, name: str) -> tuple[Clock, ...]:
        from sqlglot import exp

        from .render import MODEL_SCHEMA

        if isinstance(table.this, exp.Func):
            return ()  # a table function
        schema = (table.db or self.default_schema).lower()
        model_name = ""
        if schema == MODEL_SCHEMA:
            model = self.models.get(table.name.lower())
            if model is None or model.problem is not None or name.lower() not in model.columns:
                self.unresolved.append(f"{MODEL_SCHEMA}.{table.name}.{name}")
                return ()
            base = (model.lineage or {}).get(name.lower())
            if base is None:
                return ()  # computed in the model: not a stored timestamp passed through
            spec_table, column_name = base
            model_name = model.name
        else:
            spec_table = self.version.table(schema, table.name.lower())
            column_name = name
            if spec_table is None:
                self.unresolved.append(f"{schema}.{table.name}")
                return ()
        spec = spec_table.column(column_name)
        if spec is None:
            self.unresolved.append(f"{spec_table.schema}.{spec_table.name}.{column_name}")
            return ()
        kind = timestamp_kind(spec.type)
        if kind is None or holds_dates(spec):
            return ()
        zone = stored_zone(spec)
        # A BigQuery TIMESTAMP is an instant; the connector's naive-UTC `timestamp` is one there.
        instant = kind == "aware" or (
            self.dialect == "bigquery" and same_zone(zone, "UTC") and not spec.type.lower().startswith("datetime")
        )
        origin = StoredTimestamp(f"{spec_table.schema}.{spec_table.name}.{spec.name}", zone, instant, kind == "aware", model_name)
        return (Clock(origin, None, None if instant else zone),)

    # --- conversions ------------------------------------------------------------------

    def _converted(self, clocks: tuple[Clock, ...], node: Any, zone: str) -> tuple[Clock, ...]:
        """``x AT TIME ZONE zone`` (and ``timezone(zone, x)``)."""
        out = []
        for c in clocks:
            if c.misread:
                out.append(replace(c, local=True))
            elif self.dialect in _FROM_UTC_DIALECTS:  # from_utc_timestamp: a naive value is read as UTC
                out.append(self._read_as(c, "UTC", node, then=zone))
            elif c.wall is None and c.readback_wall is None:
                out.append(self._instant_to_wall(c, zone, node, explicit=True))
            elif c.wall is None and self.dialect == "bigquery":
                out.append(self._instant_to_wall(c, zone, node, explicit=True))
            elif c.wall is None:  # an instant read from a naive value in the session zone
                out.append(replace(c, misread=f"reads it in {SESSION} ({written_in(node.this, self.sql, self.dialect)})", local=True))
            elif same_zone(c.wall, zone):
                out.append(replace(c, wall=None, converted=node, local=True))
            else:
                out.append(replace(c, misread=misread_text(c, zone, node, self.sql, self.dialect), local=True))
        return tuple(out)

    def _read_as(self, c: Clock, zone: str, node: Any, *, then: str) -> Clock:
        """A naive value read as wall clock in ``zone`` and shown in ``then``."""
        if c.misread:
            return replace(c, local=True)
        if c.wall is None:
            return replace(c, wall=then, converted=node, local=True)
        if same_zone(c.wall, zone):
            return replace(c, wall=then, converted=node, local=True)
        return replace(c, misread=misread_text(c, zone, node, self.sql, self.dialect), local=True)

    def _instant_to_wall(self, c: Clock, zone: str, node: Any, *, explicit: bool) -> Clock:
        if c.misread or c.wall is not None:
            return c
        if c.readback_wall is not None:
            # read back in the zone it was read in (UTC on BigQuery), the naive value returns
            if explicit and not (self.dialect == "bigquery" and same_zone(zone, "UTC")):
                return replace(c, misread=f"converts it twice ({written_in(node, self.sql, self.dialect)})", local=True)
            return replace(c, wall=c.readback_wall, readback_wall=None)
        return replace(c, wall=zone, converted=node if explicit else None, local=True)

    def _convert_timezone(self, node: Any, clocks: tuple[Clock, ...]) -> tuple[Clock, ...]:
        target = zone_literal(node.args.get("target_tz"))
        source_node = node.args.get("source_tz")
        source = zone_literal(source_node) if source_node is not None else None
        if target is None or (source_node is not None and source is None):
            return ()
        if source is None and self.dialect == "redshift":
            source = "UTC"  # Redshift's 2-argument form reads the timestamp as UTC
        out = []
        for c in clocks:
            if c.misread:
                out.append(replace(c, local=True))
            elif c.wall is None and c.readback_wall is None:
                out.append(replace(c, wall=target, converted=node, local=True))
            elif source is None:
                out.append(replace(c, misread=f"reads it in {SESSION} ({written_in(node, self.sql, self.dialect)})", local=True))
            else:
                out.append(self._read_as(replace(c, wall=c.wall or c.readback_wall, readback_wall=None), source, node, then=target))
        return tuple(out)

    def _cast(self, node: Any, clocks: tuple[Clock, ...]) -> tuple[Clock, ...]:
        from sqlglot import exp

        t = exp.DataType.Type
        target = node.to.this
        aware = target in (t.TIMESTAMPTZ, t.TIMESTAMPLTZ)
        naive = target in (t.TIMESTAMP, t.DATETIME, t.TIMESTAMPNTZ, t.TIMESTAMP_S, t.TIMESTAMP_MS, t.TIMESTAMP_NS, t.DATETIME2, t.SMALLDATETIME)
        if not (aware or naive):
            return ()
        out = []
        for c in clocks:
            if c.misread:
                out.append(c)
            elif aware and c.wall is not None:
                if self.dialect == "bigquery" and same_zone(c.wall, "UTC"):  # CAST(datetime AS TIMESTAMP) reads it as UTC
                    out.append(replace(c, wall=None))
                else:
                    out.append(replace(c, wall=None, readback_wall=c.wall, local=True))
            elif naive and c.wall is None:
                if c.readback_wall is not None:
                    out.append(replace(c, wall=c.readback_wall, readback_wall=None))
                else:
                    out.append(replace(c, wall="UTC" if self.dialect == "bigquery" else SESSION, local=True))
            else:
                out.append(c)
        return tuple(out)

    def _timestamp(self, node: Any, clocks: tuple[Clock, ...]) -> tuple[Clock, ...]:
        """BigQuery ``TIMESTAMP(x[, zone])``: a DATETIME read as wall clock in ``zone`` (UTC)."""
        if self.dialect != "bigquery":
            return clocks
        zone_node = node.args.get("zone")
        zone = zone_literal(zone_node) if zone_node is not None else "UTC"
        if zone is None:
            return ()
        out = []
        for c in clocks:
            if c.misread or c.wall is None:
                out.append(c)
            elif same_zone(c.wall, zone):
                out.append(replace(c, wall=None))
            elif zone_node is None:  # TIMESTAMP(local datetime): reading it back in UTC gives it again
                out.append(replace(c, wall=None, readback_wall=c.wall, local=True))
            else:
                out.append(replace(c, misread=misread_text(c, zone, node, self.sql, self.dialect), local=True))
        return tuple(out)

    def _zone_argument(self, c: Clock, zone_node: Any, bucket: Any) -> Clock:
        """A bucket's own zone argument (BigQuery ``DATE(ts, zone)``, ``TIMESTAMP_TRUNC(ts, DAY, zone)``)."""
        zone = zone_literal(zone_node)
        if zone is None:
            return replace(c, wall=self.reporting, misread="")  # a zone from a column: nothing to prove
        return self._instant_to_wall(c, zone, bucket, explicit=True)


def misread_text(c: Clock, zone: str, node: Any, sql: str, dialect: str) -> str:
    wall = c.wall if c.wall is not None else c.readback_wall
    if wall == SESSION:
        return f"reads {written_in(node, sql, dialect)} from a value in {SESSION}"
    return f"reads the naive value as {zone} local time ({written_in(node, sql, dialect)})"
