"""Date and time buckets taken from stored timestamps, and the zone each is taken in.

A bucket (``CAST(x AS DATE)``, ``DATE_TRUNC``, ``EXTRACT``, ``strftime`` ...) of a
naive timestamp gives the calendar of the zone the wall clock reads in. The
wall-clock reading (:mod:`.wallclocks`) follows every bucket's argument back through
conversions, CTEs, subqueries and models to the connector column; this module
returns the buckets that are not taken in the pack's reporting zone, each with the
expression that would be. Rules never change the tree they are given.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import SqlExcerpt
from .nodes import (
    bucket_excerpt,
    follow_path,
    is_conversion_step,
    is_inside,
    path_to,
    scope_of,
    start_offset,
    unit_name,
    written_in,
)
from .wallclocks import Clock, WallClocks
from .zones import SESSION, StoredTimestamp, same_zone

if TYPE_CHECKING:
    from sqlglot import exp

    from ..model import ConnectorVersion

# --- findings ---------------------------------------------------------------------------


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

    ``tree`` is the query as :func:`sql.schema.qualified` returns it; ``models`` are the
    version's :class:`sql.schema.ModelOutput` objects. Raises :class:`UnresolvedColumn`
    when a bucket reads a column the version lacks.
    """
    return _Analysis(tree, sql, dialect, reporting_zone, version, default_schema, models).buckets()


class _Analysis(WallClocks):
    """The walk that finds the buckets not taken in the reporting zone."""

    def buckets(self) -> list[ZoneBucket]:
        from sqlglot.errors import SqlglotError
        from sqlglot.optimizer.scope import traverse_scope

        found: dict[tuple[int, str], ZoneBucket] = {}
        candidates = [node for node in self.tree.find_all(*_candidate_classes()) if self._bucket(node) is not None]
        if not candidates:
            return []
        try:
            scopes = {id(scope.expression): scope for scope in traverse_scope(self.tree)}
        except SqlglotError:  # sqlglot cannot build scopes for some exotic SQL: nothing can be proved wrong
            return []
        for node in candidates:
            scope = scope_of(node, scopes)
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
            if unit_name(node.args.get("unit")) in _EXEMPT_UNITS:
                return None
            return node.this, node.args.get("zone")
        if isinstance(node, exp.Extract):
            if unit_name(node.this) in _EXEMPT_UNITS:
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
            if isinstance(interval, exp.Interval) and unit_name(interval.args.get("unit")) in _EXEMPT_UNITS:
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

    # --- verdicts ---------------------------------------------------------------------

    def _finding(self, bucket: Any, c: Clock) -> ZoneBucket | None:
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
        expression = written_in(bucket, self.sql, self.dialect)
        column = origin.column + (f" (through model {origin.model})" if origin.model else "")
        stored = origin.describe()
        if c.misread:
            message = f"{expression} {c.misread}, but {column} is {stored}: convert it from {origin.zone} to the reporting zone {reporting}"
            bucket_zone = "?"
        elif wall == SESSION and c.wall is None and c.converted is not None:
            message = (
                f"{expression} buckets {column} ({stored}) in {SESSION}, not in the reporting zone {reporting}: "
                f"{written_in(c.converted, self.sql, self.dialect)} is an absolute instant, never converted to {reporting}"
            )
            bucket_zone = SESSION
        elif wall == SESSION:
            message = f"{expression} buckets {column} ({stored}) in {SESSION}, not in the reporting zone {reporting}"
            bucket_zone = SESSION
        elif c.converted is not None:
            message = (
                f"{expression} buckets {column} ({stored}) after converting it to {wall} ({written_in(c.converted, self.sql, self.dialect)}), "
                f"but the pack reports in {reporting}"
            )
            bucket_zone = wall
        else:
            message = f"{expression} buckets {column} in its stored zone {origin.zone}, not in the reporting zone {reporting}"
            bucket_zone = wall
        if c.shift and not c.misread:
            message += f" (the fixed offset in {c.shift} ignores daylight saving time)"
        anchor = c.node if c.node is not None else bucket
        excerpt = bucket_excerpt(self.sql, anchor, bucket)
        offset = start_offset(anchor) if start_offset(anchor) >= 0 else start_offset(bucket)
        return ZoneBucket(
            message, origin.column, origin.zone, bucket_zone, reporting, expression, self._safe_fix(bucket, c),
            written_in(reporting_zone_conversion(anchor.copy(), origin, reporting, self.dialect), self.sql, self.dialect),
            excerpt, offset,
        )

    def _safe_fix(self, bucket: Any, c: Clock) -> str:
        """The corrected bucket; if rewriting this tree fails, the conversion the column needs."""
        from sqlglot import exp
        from sqlglot.errors import SqlglotError

        try:
            return self._fix(bucket, c)
        except (SqlglotError, AttributeError, TypeError, ValueError):  # a node shape the rewrite does not know: still say what to convert
            base = exp.column(c.origin.column.rsplit(".", 1)[-1])
            return f"convert with {reporting_zone_conversion(base, c.origin, self.reporting, self.dialect).sql(self.dialect)}"

    def _fix(self, bucket: Any, c: Clock) -> str:
        from sqlglot import exp

        origin = c.origin
        if c.node is None:
            return ""
        if c.upstream:
            # converted (wrongly) where the column is computed: fix it there
            base = exp.column(origin.column.rsplit(".", 1)[-1])
            conversion = reporting_zone_conversion(base, origin, self.reporting, self.dialect)
            return f"compute {written_in(c.node, self.sql, self.dialect)} as {conversion.sql(self.dialect)}"
        top = c.node
        while top.parent is not None and top.parent is not bucket and is_conversion_step(top.parent, top):
            top = top.parent
        if top.parent is not bucket and not is_inside(top, bucket):
            return ""
        copy = bucket.copy()
        target = follow_path(copy, path_to(bucket, top))
        column = follow_path(copy, path_to(bucket, c.node))
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
        return written_in(fixed, self.sql, self.dialect)


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


