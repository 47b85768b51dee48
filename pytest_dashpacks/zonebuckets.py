"""Date and time buckets taken from stored timestamps, and the zone each is taken in.

A bucket (``CAST(x AS DATE)``, ``DATE_TRUNC``, ``EXTRACT``, ``strftime`` ...) of a
naive timestamp gives the calendar of the zone the wall clock reads in. This
module follows every bucket's argument back through conversions (``AT TIME
ZONE``, ``CONVERT_TIMEZONE``, BigQuery's zone arguments ...), CTEs, subqueries
and models to the connector column, and returns the buckets that are not taken
in the pack's reporting zone, each with the expression that would be.

:func:`zone_item_applies` reads the YAML model only; the rest imports sqlglot
lazily. Rules are pure functions named after what they return and never change
the tree they are given.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable

from .errors import SqlExcerpt

if TYPE_CHECKING:
    from sqlglot import exp

    from .model import ColumnSpec, ConnectorVersion, Pack

SESSION = "the session time zone"

_NAIVE_TYPE = re.compile(r"^(timestamp|datetime)(_(s|ms|us|ns))?(\s*\(\s*\d+\s*\))?(\s+without\s+time\s+zone)?$")
_AWARE_TYPE = re.compile(r"^(timestamptz|timestamp(\s*\(\s*\d+\s*\))?\s+with\s+time\s+zone)$")
_UTC_NAMES = {
    "utc", "etc/utc", "uct", "etc/uct", "gmt", "etc/gmt", "gmt0", "etc/gmt0", "etc/gmt+0", "etc/gmt-0", "z", "zulu",
    "etc/zulu", "universal", "etc/universal", "greenwich", "etc/greenwich", "+00:00", "-00:00", "+00", "00:00",
}


# --- the YAML side (collection) -------------------------------------------------------


@functools.lru_cache(maxsize=256)
def timestamp_kind(type_name: str) -> str | None:
    """``naive`` or ``aware`` for a connector column type (DuckDB spelling), else None."""
    text = " ".join(str(type_name).lower().split())
    if _AWARE_TYPE.match(text):
        return "aware"
    if _NAIVE_TYPE.match(text):
        return "naive"
    return None


def holds_dates(column: ColumnSpec) -> bool:
    """A timestamp column declared ``unit: date`` holds calendar dates at midnight (Stripe's
    ``payout.arrival_date``): read as a date, never converted to another zone."""
    return str(column.unit or "").lower() == "date"


def stored_zone(column: ColumnSpec) -> str:
    """The zone a timestamp column's wall clock is stored in (its ``timezone:``, default UTC)."""
    return column.timezone or "UTC"


def zone_key(zone: str) -> str:
    """A zone name with the spellings of UTC folded to ``UTC``."""
    text = str(zone).strip()
    return "UTC" if text.lower() in _UTC_NAMES else text


@functools.lru_cache(maxsize=256)
def same_zone(a: str, b: str) -> bool:
    """Whether two zone names keep the same clock (``US/Central`` is ``America/Chicago``)."""
    a, b = zone_key(a), zone_key(b)
    if a.lower() == b.lower():
        return True
    if SESSION in (a, b):
        return False
    import datetime as dt
    from zoneinfo import ZoneInfo

    try:
        za, zb = ZoneInfo(a), ZoneInfo(b)
    except (ValueError, LookupError, OSError):
        return False
    start = dt.datetime(1990, 1, 1, 12, tzinfo=dt.timezone.utc)
    # Two samples a month for 50 years catch every rule difference that matters for buckets.
    return all(
        (start + dt.timedelta(days=15 * i)).astimezone(za).utcoffset() == (start + dt.timedelta(days=15 * i)).astimezone(zb).utcoffset()
        for i in range(1220)
    )


def zone_item_applies(pack: Pack, versions: Iterable[ConnectorVersion]) -> bool:
    """Whether the pack's reporting zone differs from the stored zone of a timestamp column in ``versions``."""
    zones = {
        stored_zone(column)
        for version in versions
        for table in version.tables.values()
        for column in table.columns
        if timestamp_kind(column.type) is not None and not holds_dates(column)
    }
    return any(not same_zone(zone, pack.timezone) for zone in zones)


# --- findings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredTimestamp:
    """A connector column holding a timestamp, as a bucket reaches it."""

    column: str  # schema.table.column
    zone: str  # the zone its wall clock is stored in
    instant: bool  # an absolute instant in this dialect (TIMESTAMPTZ; a BigQuery TIMESTAMP)
    aware: bool = False  # declared TIMESTAMP WITH TIME ZONE
    model: str = ""  # the model it was read through, if any

    def describe(self) -> str:
        if self.aware:
            return "a TIMESTAMP WITH TIME ZONE"
        return f"stored in {self.zone}" if self.instant else f"stored naive in {self.zone}"


@dataclass(frozen=True)
class ZoneBucket:
    """A date or time bucket not taken in the reporting zone."""

    message: str
    column: str  # schema.table.column
    stored_zone: str
    bucket_zone: str  # the zone the bucket is taken in (or SESSION), as far as it is known
    reporting_zone: str
    expression: str  # the bucket as written
    fix: str  # the corrected expression (or how to compute a column) in the pack dialect
    conversion: str  # the column converted to the reporting zone, as the bucket should read it
    sql: SqlExcerpt
    offset: int  # character offset of the caret in the rendered SQL


class UnresolvedColumn(LookupError):
    """A bucket reads a column that the connector version does not have (the schema item reports it)."""


@dataclass(frozen=True)
class _Clock:
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


_EXEMPT_UNITS = {
    "SECOND", "SECONDS", "MINUTE", "MINUTES", "MILLISECOND", "MILLISECONDS", "MICROSECOND", "MICROSECONDS",
    "NANOSECOND", "NANOSECONDS", "MS", "US", "NS", "EPOCH", "EPOCH_SECOND", "EPOCH_SECONDS", "EPOCH_MILLISECOND",
    "EPOCH_MILLISECONDS", "EPOCH_MICROSECOND", "EPOCH_MICROSECONDS", "EPOCH_NANOSECOND", "EPOCH_NANOSECONDS",
    "TIMEZONE", "TIMEZONE_HOUR", "TIMEZONE_MINUTE",
}
_BUCKET_CALLS = {
    "DATE_PART", "DATEPART", "TO_CHAR", "TO_VARCHAR", "FORMAT_DATE", "FORMAT_DATETIME", "FORMAT_TIMESTAMP", "STRFTIME",
    "DATE_FORMAT", "DAYNAME", "MONTHNAME", "ISODOW", "ISOYEAR", "YEARWEEK", "TIME_BUCKET", "DATE_BIN", "TO_DATE",
    "DAYOFWEEK", "DAYOFMONTH", "DAYOFYEAR", "WEEKDAY", "WEEKOFYEAR", "WEEKISO", "YEAROFWEEK", "YEAROFWEEKISO",
    "QUARTER", "HOUR", "LAST_DAY", "TRUNC",
}
_CONVERTING_DIALECTS_3ARG = {"snowflake", "redshift", "databricks", "spark", "spark2"}
_FROM_UTC_DIALECTS = {"databricks", "spark", "spark2", "hive"}  # sqlglot writes from_utc_timestamp as AT TIME ZONE


@functools.lru_cache(maxsize=1)
def _candidate_classes() -> tuple[type, ...]:
    """Node classes that may take a bucket (a cheap first filter over every node)."""
    from sqlglot import exp

    return (
        exp.Cast, exp.TryCast, exp.Date, exp.TimestampTrunc, exp.DateTrunc, exp.DatetimeTrunc, exp.Extract,
        exp.TimeToStr, exp.DateBin, exp.Anonymous, *_bucket_classes(),
    )


@functools.lru_cache(maxsize=1)
def _bucket_classes() -> tuple[type, ...]:
    from sqlglot import exp

    names = (
        "DayOfWeek", "DayOfWeekIso", "DayOfMonth", "DayOfYear", "Dayname", "Monthname", "Year", "Month", "Quarter",
        "Week", "WeekOfYear", "YearOfWeek", "YearOfWeekIso", "Hour", "LastDay", "Day", "ToChar", "TsOrDsToDate",
    )
    return tuple(getattr(exp, n) for n in names if hasattr(exp, n))


def unconverted_buckets(
    tree: exp.Query,
    sql: str,
    dialect: str,
    reporting_zone: str,
    version: ConnectorVersion,
    default_schema: str,
    models: dict[str, Any],
) -> list[ZoneBucket]:
    """Every date/time bucket of a stored timestamp that is not taken in ``reporting_zone``.

    ``tree`` is the query as :func:`sqlanalysis.qualified` returns it; ``models`` are the
    version's :class:`sqlanalysis.ModelOutput` objects. Raises :class:`UnresolvedColumn`
    when a bucket reads a column the version lacks.
    """
    return _Analysis(tree, sql, dialect, reporting_zone, version, default_schema, models).buckets()


class _Analysis:
    """One query's walk: scopes, clocks of columns (memoized per scope) and the buckets found."""

    def __init__(self, tree: Any, sql: str, dialect: str, reporting: str, version: Any, default_schema: str, models: dict[str, Any]) -> None:
        self.tree, self.sql, self.dialect, self.reporting = tree, sql, dialect.lower(), reporting
        self.version, self.default_schema, self.models = version, default_schema.lower(), models
        self.memo: dict[tuple[int, str], tuple[_Clock, ...]] = {}
        self.unresolved: list[str] = []

    def buckets(self) -> list[ZoneBucket]:
        from sqlglot.optimizer.scope import traverse_scope

        found: dict[tuple[int, str], ZoneBucket] = {}
        candidates = [node for node in self.tree.find_all(*_candidate_classes()) if self._bucket(node) is not None]
        if not candidates:
            return []
        try:
            scopes = {id(scope.expression): scope for scope in traverse_scope(self.tree)}
        except Exception:  # sqlglot cannot build scopes for some exotic SQL: nothing can be proved wrong
            return []
        for node in candidates:
            scope = _scope_of(node, scopes)
            if scope is None:
                continue
            argument, zone = self._bucket(node)
            for clock in self._clocks(argument, scope, 0):
                if zone is not None:
                    clock = self._zone_argument(clock, zone, node)
                finding = self._finding(node, clock)
                if finding is not None:
                    found.setdefault((finding.offset, finding.column), finding)
        if self.unresolved:
            raise UnresolvedColumn(self.unresolved[0])
        return sorted(found.values(), key=lambda f: f.offset)

    # --- what a node is -------------------------------------------------------------

    def _bucket(self, node: Any) -> tuple[Any, Any] | None:
        """(time argument, zone argument) when ``node`` takes a calendar or clock bucket."""
        if not isinstance(node, _candidate_classes()):
            return None
        from sqlglot import exp

        if isinstance(node, (exp.Cast, exp.TryCast)):
            target = node.to.this
            if target in (exp.DataType.Type.DATE, exp.DataType.Type.DATE32, exp.DataType.Type.TIME):
                return node.this, None
            return None
        if isinstance(node, exp.Date):
            return (node.this, node.args.get("zone")) if node.this is not None and not node.expressions else None
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc, exp.DatetimeTrunc)):
            if _unit(node.args.get("unit")) in _EXEMPT_UNITS:
                return None
            return node.this, node.args.get("zone")
        if isinstance(node, exp.Extract):
            if _unit(node.this) in _EXEMPT_UNITS:
                return None
            return node.expression, None
        if isinstance(node, exp.TimeToStr):  # FORMAT_DATE/FORMAT_TIMESTAMP wrap their argument in a cast
            argument = node.this
            if isinstance(argument, (exp.TsOrDsToDate, exp.TsOrDsToTimestamp)):
                argument = argument.this
            return argument, node.args.get("zone")
        if isinstance(node, exp.TsOrDsToDate) and isinstance(node.parent, exp.TimeToStr):
            return None
        if isinstance(node, exp.DateBin):
            interval = node.this
            if isinstance(interval, exp.Interval) and _unit(interval.args.get("unit")) in _EXEMPT_UNITS:
                return None
            return node.expression, node.args.get("zone")
        if isinstance(node, _bucket_classes()):
            return node.this, None
        if isinstance(node, exp.Anonymous) and str(node.this).upper() in _BUCKET_CALLS:
            args = [a for a in node.expressions if not (isinstance(a, exp.Literal) and a.is_string) and not isinstance(a, exp.Interval)]
            units = [a for a in node.expressions if isinstance(a, exp.Literal) and a.is_string]
            if str(node.this).upper() in ("DATE_PART", "DATEPART") and units and units[0].this.upper() in _EXEMPT_UNITS:
                return None
            return (args[0], None) if args else None
        return None

    # --- clocks -----------------------------------------------------------------------

    def _clocks(self, node: Any, scope: Any, depth: int) -> tuple[_Clock, ...]:
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
            zone = _zone_literal(node.args.get("zone"))
            return () if zone is None else self._converted(self._clocks(node.this, scope, nxt), node, zone)
        if isinstance(node, exp.FromTimeZone):  # to_utc_timestamp(ts, zone): ts is wall clock in zone
            zone = _zone_literal(node.args.get("zone"))
            return () if zone is None else tuple(self._read_as(c, zone, node, then="UTC") for c in self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "timezone" and len(node.expressions) == 2:
            zone = _zone_literal(node.expressions[0])
            return () if zone is None else self._converted(self._clocks(node.expressions[1], scope, nxt), node, zone)
        if isinstance(node, exp.ConvertTimezone):
            return self._convert_timezone(node, self._clocks(node.args.get("timestamp"), scope, nxt))
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return self._cast(node, self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.Timestamp):
            return self._timestamp(node, self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.Datetime):
            zone = _zone_literal(node.expression) if node.expression is not None else "UTC"
            if zone is None:
                return ()
            return tuple(self._instant_to_wall(c, zone, node, explicit=node.expression is not None) for c in self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.TsOrDsToDatetime):
            return tuple(self._instant_to_wall(c, "UTC", node, explicit=False) for c in self._clocks(node.this, scope, nxt))
        if isinstance(node, exp.TsOrDsToTimestamp):
            return self._clocks(node.this, scope, nxt)
        return ()

    def _shifted(self, clocks: tuple[_Clock, ...], node: Any) -> tuple[_Clock, ...]:
        """Interval arithmetic keeps the wall zone; an hour or minute offset is a hand-made zone shift."""
        if not _is_offset_shift(node):
            return clocks
        return tuple(c if c.shift else replace(c, shift=_written(node, self.sql, self.dialect), local=True) for c in clocks)

    def _many(self, nodes: list[Any], scope: Any, depth: int) -> tuple[_Clock, ...]:
        return tuple(c for n in nodes for c in self._clocks(n, scope, depth))

    def _column(self, column: Any, scope: Any, depth: int) -> tuple[_Clock, ...]:
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

    def _scope_column(self, scope: Any, name: str, depth: int) -> tuple[_Clock, ...]:
        from sqlglot import exp

        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            names = [n.lower() for n in expression.named_selects]
            if name.lower() not in names:
                return ()
            index = names.index(name.lower())
            out: list[_Clock] = []
            for branch in _branches(scope):
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

    def _table_column(self, table: Any, name: str) -> tuple[_Clock, ...]:
        from sqlglot import exp

        from .rendering import MODEL_SCHEMA

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
        return (_Clock(origin, None, None if instant else zone),)

    # --- conversions ------------------------------------------------------------------

    def _converted(self, clocks: tuple[_Clock, ...], node: Any, zone: str) -> tuple[_Clock, ...]:
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
                out.append(replace(c, misread=f"reads it in {SESSION} ({_written(node.this, self.sql, self.dialect)})", local=True))
            elif same_zone(c.wall, zone):
                out.append(replace(c, wall=None, converted=node, local=True))
            else:
                out.append(replace(c, misread=_misread_text(c, zone, node, self.sql, self.dialect), local=True))
        return tuple(out)

    def _read_as(self, c: _Clock, zone: str, node: Any, *, then: str) -> _Clock:
        """A naive value read as wall clock in ``zone`` and shown in ``then``."""
        if c.misread:
            return replace(c, local=True)
        if c.wall is None:
            return replace(c, wall=then, converted=node, local=True)
        if same_zone(c.wall, zone):
            return replace(c, wall=then, converted=node, local=True)
        return replace(c, misread=_misread_text(c, zone, node, self.sql, self.dialect), local=True)

    def _instant_to_wall(self, c: _Clock, zone: str, node: Any, *, explicit: bool) -> _Clock:
        if c.misread or c.wall is not None:
            return c
        if c.readback_wall is not None:
            # read back in the zone it was read in (UTC on BigQuery), the naive value returns
            if explicit and not (self.dialect == "bigquery" and same_zone(zone, "UTC")):
                return replace(c, misread=f"converts it twice ({_written(node, self.sql, self.dialect)})", local=True)
            return replace(c, wall=c.readback_wall, readback_wall=None)
        return replace(c, wall=zone, converted=node if explicit else None, local=True)

    def _convert_timezone(self, node: Any, clocks: tuple[_Clock, ...]) -> tuple[_Clock, ...]:
        target = _zone_literal(node.args.get("target_tz"))
        source_node = node.args.get("source_tz")
        source = _zone_literal(source_node) if source_node is not None else None
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
                out.append(replace(c, misread=f"reads it in {SESSION} ({_written(node, self.sql, self.dialect)})", local=True))
            else:
                out.append(self._read_as(replace(c, wall=c.wall or c.readback_wall, readback_wall=None), source, node, then=target))
        return tuple(out)

    def _cast(self, node: Any, clocks: tuple[_Clock, ...]) -> tuple[_Clock, ...]:
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

    def _timestamp(self, node: Any, clocks: tuple[_Clock, ...]) -> tuple[_Clock, ...]:
        """BigQuery ``TIMESTAMP(x[, zone])``: a DATETIME read as wall clock in ``zone`` (UTC)."""
        if self.dialect != "bigquery":
            return clocks
        zone_node = node.args.get("zone")
        zone = _zone_literal(zone_node) if zone_node is not None else "UTC"
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
                out.append(replace(c, misread=_misread_text(c, zone, node, self.sql, self.dialect), local=True))
        return tuple(out)

    def _zone_argument(self, c: _Clock, zone_node: Any, bucket: Any) -> _Clock:
        """A bucket's own zone argument (BigQuery ``DATE(ts, zone)``, ``TIMESTAMP_TRUNC(ts, DAY, zone)``)."""
        zone = _zone_literal(zone_node)
        if zone is None:
            return replace(c, wall=self.reporting, misread="")  # a zone from a column: nothing to prove
        return self._instant_to_wall(c, zone, bucket, explicit=True)

    # --- verdicts ---------------------------------------------------------------------

    def _finding(self, bucket: Any, c: _Clock) -> ZoneBucket | None:
        reporting = self.reporting
        origin = c.origin
        wall = c.wall
        if not c.misread and wall is None:
            if c.readback_wall is not None:
                wall = c.readback_wall
            elif self.dialect == "bigquery":
                wall = "UTC"  # BigQuery takes dates and parts of a TIMESTAMP in UTC
            else:
                wall = SESSION
        if not c.misread and same_zone(wall, reporting):
            return None
        expression = _written(bucket, self.sql, self.dialect)
        column = origin.column + (f" (through model {origin.model})" if origin.model else "")
        stored = origin.describe()
        if c.misread:
            message = f"{expression} {c.misread}, but {column} is {stored}: convert it from {origin.zone} to the reporting zone {reporting}"
            bucket_zone = "?"
        elif wall == SESSION and c.wall is None and c.converted is not None:
            message = (
                f"{expression} buckets {column} ({stored}) in {SESSION}, not in the reporting zone {reporting}: "
                f"{_written(c.converted, self.sql, self.dialect)} is an absolute instant, never converted to {reporting}"
            )
            bucket_zone = SESSION
        elif wall == SESSION:
            message = f"{expression} buckets {column} ({stored}) in {SESSION}, not in the reporting zone {reporting}"
            bucket_zone = SESSION
        elif c.converted is not None:
            message = (
                f"{expression} buckets {column} ({stored}) after converting it to {wall} ({_written(c.converted, self.sql, self.dialect)}), "
                f"but the pack reports in {reporting}"
            )
            bucket_zone = wall
        else:
            message = f"{expression} buckets {column} in its stored zone {origin.zone}, not in the reporting zone {reporting}"
            bucket_zone = wall
        if c.shift and not c.misread:
            message += f" (the fixed offset in {c.shift} ignores daylight saving time)"
        anchor = c.node if c.node is not None else bucket
        excerpt = _excerpt(self.sql, anchor, bucket)
        offset = _offset(anchor) if _offset(anchor) >= 0 else _offset(bucket)
        return ZoneBucket(
            message, origin.column, origin.zone, bucket_zone, reporting, expression, self._safe_fix(bucket, c),
            _written(reporting_zone_conversion(anchor.copy(), origin, reporting, self.dialect), self.sql, self.dialect),
            excerpt, offset,
        )

    def _safe_fix(self, bucket: Any, c: _Clock) -> str:
        """The corrected bucket; if rewriting this tree fails, the conversion the column needs."""
        from sqlglot import exp

        try:
            return self._fix(bucket, c)
        except Exception:  # a node shape the rewrite does not know: still say what to convert
            base = exp.column(c.origin.column.rsplit(".", 1)[-1])
            return f"convert with {reporting_zone_conversion(base, c.origin, self.reporting, self.dialect).sql(self.dialect)}"

    def _fix(self, bucket: Any, c: _Clock) -> str:
        from sqlglot import exp

        origin = c.origin
        if c.node is None:
            return ""
        if c.upstream:
            # converted (wrongly) where the column is computed: fix it there
            base = exp.column(origin.column.rsplit(".", 1)[-1])
            conversion = reporting_zone_conversion(base, origin, self.reporting, self.dialect)
            return f"compute {_written(c.node, self.sql, self.dialect)} as {conversion.sql(self.dialect)}"
        top = c.node
        while top.parent is not None and top.parent is not bucket and _is_conversion_step(top.parent, top):
            top = top.parent
        if top.parent is not bucket and not _inside(top, bucket):
            return ""
        copy = bucket.copy()
        target = _follow(copy, _path(bucket, top))
        column = _follow(copy, _path(bucket, c.node))
        column = column.copy()
        if self.dialect == "bigquery":
            fixed = _bigquery_fix(copy, target, column, origin, self.reporting)
        else:
            conversion = reporting_zone_conversion(column, origin, self.reporting, self.dialect)
            if target is copy:
                fixed = conversion
            else:
                target.replace(conversion)
                fixed = copy
            if "zone" in fixed.args and fixed.args.get("zone") is not None:
                fixed.set("zone", None)
        return _written(fixed, self.sql, self.dialect)


def reporting_zone_conversion(column: exp.Expression, origin: StoredTimestamp, reporting: str, dialect: str) -> exp.Expression:
    """``column`` (a stored timestamp) as a wall clock in ``reporting``, written for ``dialect``."""
    from sqlglot import exp

    zone = exp.Literal.string(reporting)
    stored = exp.Literal.string(origin.zone)
    dialect = dialect.lower()
    if dialect == "bigquery":
        return exp.Datetime(this=_bigquery_instant(column, origin), expression=zone)
    if origin.instant:
        if dialect == "snowflake":
            return exp.ConvertTimezone(target_tz=zone, timestamp=column)
        return exp.AtTimeZone(this=column, zone=zone)
    if dialect in _CONVERTING_DIALECTS_3ARG:
        return exp.ConvertTimezone(source_tz=stored, target_tz=zone, timestamp=column)
    return exp.AtTimeZone(this=exp.Paren(this=exp.AtTimeZone(this=column, zone=stored)), zone=zone)


def _bigquery_instant(column: Any, origin: StoredTimestamp) -> Any:
    from sqlglot import exp

    if origin.instant:
        return column
    if same_zone(origin.zone, "UTC"):
        return exp.Timestamp(this=column)
    return exp.Timestamp(this=column, zone=exp.Literal.string(origin.zone))


def _bigquery_fix(bucket: Any, target: Any, column: Any, origin: StoredTimestamp, reporting: str) -> Any:
    """The BigQuery way to take this bucket in ``reporting``: the zone argument where the function has one."""
    from sqlglot import exp

    zone = exp.Literal.string(reporting)
    instant = _bigquery_instant(column, origin)
    direct = target is bucket or target.parent is bucket
    if direct and isinstance(bucket, (exp.Cast, exp.TryCast)) and bucket.to.this == exp.DataType.Type.DATE:
        return exp.Date(this=instant, zone=zone)
    if direct and isinstance(bucket, (exp.Date, exp.TsOrDsToDate)):
        return exp.Date(this=instant, zone=zone)
    if direct and isinstance(bucket, exp.TimestampTrunc):
        bucket.set("this", instant)
        bucket.set("zone", zone)
        return bucket
    if isinstance(bucket, exp.TimeToStr):
        if isinstance(bucket.this, exp.TsOrDsToDate):  # FORMAT_DATE(fmt, DATE(ts, zone))
            bucket.this.set("this", exp.Date(this=instant, zone=zone))
        else:  # FORMAT_TIMESTAMP(fmt, ts, zone)
            bucket.set("this", exp.TsOrDsToTimestamp(this=instant))
            bucket.set("zone", zone)
        return bucket
    if direct and isinstance(bucket, exp.DateTrunc):
        bucket.set("this", exp.Date(this=instant, zone=zone))
        bucket.set("zone", None)
        return bucket
    conversion = exp.Datetime(this=instant, expression=zone)
    if target is bucket:
        return conversion
    target.replace(conversion)
    if bucket.args.get("zone") is not None:
        bucket.set("zone", None)
    return bucket


# --- small helpers over sqlglot nodes ----------------------------------------------------


def _unit(node: Any) -> str:
    if node is None:
        return ""
    return str(node.name if hasattr(node, "name") else node).upper()


def _zone_literal(node: Any) -> str | None:
    """The zone a literal names (None for anything computed per row)."""
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal) and node.is_string:
        return zone_key(node.this)
    if isinstance(node, (exp.Cast, exp.TryCast)) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return zone_key(node.this.this)
    return None


def _scope_of(node: Any, scopes: dict[int, Any]) -> Any:
    """The innermost scope whose expression holds ``node``."""
    current = node
    while current is not None:
        scope = scopes.get(id(current))
        if scope is not None:
            return scope
        current = current.parent
    return None


def _branches(scope: Any) -> list[Any]:
    out = []
    for branch in scope.set_operation_scopes:
        out.extend(_branches(branch) if branch.set_operation_scopes else [branch])
    return out


def _is_offset_shift(node: Any) -> bool:
    """``ts - INTERVAL 5 HOUR``, ``DATEADD(hour, -5, ts)``: an offset of hours or minutes."""
    from sqlglot import exp

    interval = node.expression if isinstance(node, (exp.Add, exp.Sub)) else node
    if isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
        interval = node.this
    unit = _unit(interval.args.get("unit"))
    return unit.startswith("HOUR") or unit.startswith("MINUTE")


def _is_conversion_step(parent: Any, child: Any) -> bool:
    """Whether ``parent`` only re-reads ``child``'s time (a conversion, a hand-made offset or a no-op wrapper)."""
    from sqlglot import exp

    if isinstance(parent, (exp.Add, exp.Sub, exp.DateAdd, exp.DateSub, exp.TimestampAdd, exp.TimestampSub, exp.DatetimeAdd, exp.DatetimeSub)):
        return _is_offset_shift(parent)

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


def _inside(node: Any, ancestor: Any) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


def _path(root: Any, node: Any) -> list[tuple[str, int | None]]:
    steps = []
    while node is not root:
        parent = node.parent
        value = parent.args.get(node.arg_key)
        steps.append((node.arg_key, value.index(node) if isinstance(value, list) else None))
        node = parent
    return steps[::-1]


def _follow(root: Any, path: list[tuple[str, int | None]]) -> Any:
    node = root
    for key, index in path:
        value = node.args[key]
        node = value[index] if index is not None else value
    return node


def _offset(node: Any) -> int:
    from sqlglot import exp

    for ident in ([node] if isinstance(node, exp.Identifier) else []) + list(node.find_all(exp.Identifier)):
        if "start" in ident.meta:
            return ident.meta["start"]
    return -1


def _excerpt(sql: str, anchor: Any, bucket: Any) -> SqlExcerpt:
    from .sql.parse import excerpt_at

    excerpt = excerpt_at(sql, anchor)
    return excerpt if excerpt.line else excerpt_at(sql, bucket)


def _written(node: Any, sql: str, dialect: str) -> str:
    """``node`` as SQL with identifiers spelled as the query spells them (no qualifiers qualify added)."""
    from sqlglot import exp

    copy = node.copy()
    for column in list(copy.find_all(exp.Column)):
        for key in ("table", "db", "catalog"):
            part = column.args.get(key)
            if isinstance(part, exp.Identifier) and not _written_before(sql, part, column.this):
                column.set(key, None)
    for ident in list(copy.find_all(exp.Identifier)):
        meta = ident.meta
        if "start" in meta and "end" in meta:
            text = sql[meta["start"] : meta["end"] + 1]
            ident.set("this", text.strip('"`[]') if ident.args.get("quoted") else text)
    return copy.sql(dialect)


def _written_before(sql: str, qualifier: Any, name: Any) -> bool:
    """Whether ``qualifier`` is written in front of ``name`` (``t.x``), not added by qualify."""
    q, n = qualifier.meta, getattr(name, "meta", {})
    if "end" not in q or "start" not in n or q["end"] >= n["start"]:
        return False
    between = sql[q["end"] + 1 : n["start"]]
    return set(between.replace(" ", "")) <= {".", '"', "`"} and between.count(".") >= 1 and len(between) <= 8


def _misread_text(c: _Clock, zone: str, node: Any, sql: str, dialect: str) -> str:
    wall = c.wall if c.wall is not None else c.readback_wall
    if wall == SESSION:
        return f"reads {_written(node, sql, dialect)} from a value in {SESSION}"
    return f"reads the naive value as {zone} local time ({_written(node, sql, dialect)})"
