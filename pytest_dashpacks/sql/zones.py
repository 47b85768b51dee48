"""Timestamp columns and zones as the YAML declares them: each column's kind and stored zone, and
whether a pack needs the zone item. Read at collection, so nothing heavy is imported here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:

    from ..model import ColumnSpec, ConnectorVersion, Pack

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
