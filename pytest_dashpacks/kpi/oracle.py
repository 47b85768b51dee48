"""The KPI oracle: what each bucket of a KPI should be, computed in Python.

A source row counts when it passes the contract's filters, deletes and
history rules (the source table's ``role: deleted`` and ``role: active``
columns; without a table, Fivetran's ``_fivetran_deleted`` and
``_fivetran_active``); its timestamp is read in the column's stored zone, converted
to the reporting zone with zoneinfo, and bucketed by day, ISO week (Monday)
or month; its value is scaled and summed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from ..model import DEFAULT_ROLES, ConnectorVersion, KpiContract, TableSpec

Buckets = dict[dt.date, float]


def as_datetime(value: Any) -> dt.datetime | None:
    """A stored timestamp (datetime, date or ISO text) as a naive datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = str(value).strip().replace("T", " ")
    parsed = dt.datetime.fromisoformat(text)
    return parsed.astimezone(dt.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def as_date(value: Any) -> dt.date | None:
    """A query's time column (date, timestamp or text) as a date."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return as_datetime(value).date()


def bucket_of(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def local_day(stamp: dt.datetime, stored_zone: str, reporting_zone: str) -> dt.date:
    """The reporting-zone calendar day of a naive timestamp stored in ``stored_zone``."""
    aware = stamp.replace(tzinfo=ZoneInfo(stored_zone))
    return aware.astimezone(ZoneInfo(reporting_zone)).date()


@dataclass(frozen=True)
class Markers:
    """The columns whose value drops a row: true ``deleted`` ones, false ``active`` ones."""

    deleted: tuple[str, ...]
    active: tuple[str, ...]


def markers_of(table: TableSpec | None) -> Markers:
    """The table's role columns; without a table, Fivetran's default flags."""
    if table is None:
        return Markers(*(tuple(n for n, r in DEFAULT_ROLES.items() if r == role) for role in ("deleted", "active")))
    return Markers(*(tuple(c.name for c in table.role_columns(role)) for role in ("deleted", "active")))


def source_table(version: ConnectorVersion, kpi: KpiContract) -> TableSpec | None:
    """The KPI's source table in ``version``: by table key, else by a unique table name."""
    wanted = kpi.source.table.lower()
    exact = [t for t in version.tables.values() if t.key.lower() == wanted]
    by_name = [t for t in version.tables.values() if t.name.lower() == wanted]
    return exact[0] if exact else (by_name[0] if len(by_name) == 1 else None)


def _identifier(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def deleted_filter_hint(table: TableSpec | None) -> str:
    """A predicate that drops the soft-deleted rows of ``table`` (None: Fivetran's default flag)."""
    names = markers_of(table).deleted
    if not names:
        return "the rows whose `role: deleted` column is true, in every table the query reads"
    return " AND ".join(f"NOT COALESCE({_identifier(n)}, FALSE)" for n in names)


def history_filter_hint(table: TableSpec | None) -> str:
    """A predicate that keeps only the active rows of a history table (None: Fivetran's default flag)."""
    names = markers_of(table).active
    if not names:
        return "the rows whose `role: active` column is false, in every table the query reads"
    return " AND ".join(f"COALESCE({_identifier(n)}, TRUE)" for n in names)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes")
    return bool(value) if value is not None else False


def _falsy(value: Any) -> bool:
    """Explicitly false (NULL is not): for ``role: active`` columns."""
    if isinstance(value, str):
        return value.strip().lower() in ("false", "f", "0", "no")
    return value is not None and not bool(value)


def _matches(value: Any, accepted: tuple[Any, ...]) -> bool:
    if value is None:
        return False
    return any(str(value).lower() == str(a).lower() if isinstance(a, bool) else str(value) == str(a) for a in accepted)


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return float(value)
    return float(Decimal(str(value)))


@dataclass(frozen=True)
class Counted:
    """A source row that counts, with the bucket it lands in and its value."""

    row: dict[str, Any]
    stamp: dt.datetime
    bucket: dt.date
    value: float


def counted_rows(
    kpi: KpiContract, rows: Iterable[dict[str, Any]], stored_zone: str, reporting_zone: str, table: TableSpec | None = None
) -> list[Counted]:
    """The rows of the KPI's source ``table`` that count (its role columns decide deletes and history)."""
    return _counted(kpi, rows, stored_zone, reporting_zone, markers_of(table))


def _counted(kpi: KpiContract, rows: Iterable[dict[str, Any]], stored_zone: str, reporting_zone: str, markers: Markers) -> list[Counted]:
    source = kpi.source
    out = []
    for row in rows:
        if source.exclude_deleted and any(_truthy(row.get(name)) for name in markers.deleted):
            continue
        if source.exclude_history and any(_falsy(row.get(name)) for name in markers.active):
            continue
        if any(not _matches(row.get(column), accepted) for column, accepted in source.filters.items()):
            continue
        stamp = as_datetime(row.get(source.timestamp))
        if stamp is None:
            continue
        if source.value == "count":
            value = 1.0
        else:
            number = _number(row.get(source.value))
            if number is None:
                continue
            value = number * source.scale
        out.append(Counted(row, stamp, bucket_of(local_day(stamp, stored_zone, reporting_zone), kpi.grain), value))
    return out


def expected_buckets(
    kpi: KpiContract, rows: Iterable[dict[str, Any]], stored_zone: str, reporting_zone: str, table: TableSpec | None = None
) -> Buckets:
    """Bucket -> expected measure."""
    return _expected(kpi, rows, stored_zone, reporting_zone, markers_of(table))


def _expected(kpi: KpiContract, rows: Iterable[dict[str, Any]], stored_zone: str, reporting_zone: str, markers: Markers) -> Buckets:
    buckets: Buckets = {}
    for item in _counted(kpi, rows, stored_zone, reporting_zone, markers):
        buckets[item.bucket] = buckets.get(item.bucket, 0.0) + item.value
    return buckets


def query_buckets(kpi: KpiContract, records: list[dict[str, Any]]) -> Buckets:
    """Bucket -> measure as the query returned it (rows of one bucket are summed)."""
    lowered = [{k.lower(): v for k, v in record.items()} for record in records]
    buckets: Buckets = {}
    for record in lowered:
        day = as_date(record.get(kpi.time_column.lower()))
        if day is None:
            continue
        value = _number(record.get(kpi.measure_column.lower()))
        buckets[day] = buckets.get(day, 0.0) + (value if value is not None and not math.isnan(value) else 0.0)
    return buckets


@dataclass(frozen=True)
class Mismatch:
    bucket: dt.date
    actual: float | None
    expected: float | None


def compare(actual: Buckets, expected: Buckets, tolerance: float = 1e-6) -> list[Mismatch]:
    """Buckets that differ, within the range of buckets the query returned (its filters bound the range)."""
    if not actual:
        return [Mismatch(b, None, v) for b, v in sorted(expected.items()) if abs(v) > tolerance]
    low, high = min(actual), max(actual)
    out = []
    for bucket in sorted(set(actual) | {b for b in expected if low <= b <= high}):
        a, e = actual.get(bucket, 0.0), expected.get(bucket, 0.0)
        if abs(a - e) > tolerance * max(1.0, abs(e)):
            out.append(Mismatch(bucket, actual.get(bucket), expected.get(bucket)))
    return out


def likely_cause(
    kpi: KpiContract, actual: Buckets, rows: list[dict[str, Any]], stored_zone: str, reporting_zone: str, table: TableSpec | None = None
) -> str:
    """Which plausible mistake reproduces the query's numbers, if any."""
    markers = markers_of(table)
    candidates = [(f"bucketed by the UTC day, not {reporting_zone}", kpi, stored_zone, "UTC", markers)]
    if kpi.source.exclude_deleted and markers.deleted:
        # Every delete flag ignored, then each one alone (a board that filters _fivetran_deleted but not is_deleted).
        subsets = [markers.deleted] + ([(n,) for n in markers.deleted] if len(markers.deleted) > 1 else [])
        for ignored in subsets:
            kept = tuple(n for n in markers.deleted if n not in ignored)
            candidates.append((f"counts soft-deleted rows ({' or '.join(ignored)} = true)", kpi, stored_zone, reporting_zone, replace(markers, deleted=kept)))
    if kpi.source.exclude_history and markers.active:
        candidates.append((f"counts history rows ({' or '.join(markers.active)} = false)", kpi, stored_zone, reporting_zone, replace(markers, active=())))
    candidates += [
        ("ignores the minor-unit scale", replace(kpi, source=replace(kpi.source, scale=1.0)), stored_zone, reporting_zone, markers),
        ("reads the stored timestamps as reporting-zone local time (a single AT TIME ZONE)", kpi, reporting_zone, reporting_zone, markers),
    ]
    for description, variant, stored, reporting, variant_markers in candidates:
        if variant == kpi and stored == stored_zone and reporting == reporting_zone and variant_markers == markers:
            continue
        if not compare(actual, _expected(variant, rows, stored, reporting, variant_markers)):
            return description
    if kpi.source.value != "count" and kpi.source.scale != 1.0 and not compare(actual, _truncated(kpi, rows, stored_zone, reporting_zone, markers)):
        return ("divides integers, which truncates each value (Postgres and Redshift int / int): "
                f"scale with a decimal, e.g. {kpi.source.value} / {1 / kpi.source.scale:g}.0, or divide the sum")
    return "unknown: compare the query with the contract's filters, deletes, scale and zone"


def _truncated(kpi: KpiContract, rows: Iterable[dict[str, Any]], stored_zone: str, reporting_zone: str, markers: Markers) -> Buckets:
    """The buckets when each scaled value loses its fraction, as ``cents / 100`` does on integers."""
    buckets: Buckets = {}
    for item in _counted(kpi, rows, stored_zone, reporting_zone, markers):
        buckets[item.bucket] = buckets.get(item.bucket, 0.0) + float(math.trunc(item.value))
    return buckets


def moved_rows(
    kpi: KpiContract, rows: list[dict[str, Any]], bucket: dt.date, stored_zone: str, reporting_zone: str, table: TableSpec | None = None
) -> list[str]:
    """Rows of ``bucket`` whose UTC day and reporting-zone day differ: the ones a wrong zone moves."""
    out = []
    for item in counted_rows(kpi, rows, stored_zone, reporting_zone, table):
        utc_bucket = bucket_of(local_day(item.stamp, stored_zone, "UTC"), kpi.grain)
        if bucket in (item.bucket, utc_bucket) and item.bucket != utc_bucket:
            out.append(f"{kpi.source.timestamp}={item.stamp} ({stored_zone}) -> local bucket {item.bucket}, UTC bucket {utc_bucket}, value {item.value:g}")
    return out
