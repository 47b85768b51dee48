"""Boundary and clock instants in a reporting zone, and how an instant is stored in a column."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from ..model import ColumnSpec

UTC = datetime.timezone.utc
ONE_SECOND = datetime.timedelta(seconds=1)
ONE_DAY = datetime.timedelta(days=1)

CLOCK_INSTANTS: tuple[str, ...] = (
    "local_midnight",
    "utc_midnight",
    "dst_spring_forward",
    "dst_fall_back",
    "month_end",
    "year_end",
    "leap_day",
)


def offset_changes(zone: str, year: int) -> list[datetime.datetime]:
    """Aware UTC instants in ``year`` at which ``zone``'s UTC offset changes (the first second of the new offset)."""
    tz = ZoneInfo(zone)

    def offset(instant: datetime.datetime) -> datetime.timedelta | None:
        return instant.astimezone(tz).utcoffset()

    changes = []
    day = datetime.datetime(year, 1, 1, tzinfo=UTC)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=UTC)
    while day < end:
        following = day + ONE_DAY
        if offset(day) != offset(following):
            low, high = day, following  # offset(low) is the old one, offset(high) the new one
            while high - low > ONE_SECOND:
                middle = low + (high - low) // 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            changes.append(high)
        day = following
    return changes


def local_day_start(day: datetime.date, zone: str) -> datetime.datetime:
    """The aware UTC instant at which ``day`` begins in ``zone`` (the switch itself when midnight is skipped)."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _boundary_days(zone: str, year: int) -> set[datetime.date]:
    days: set[datetime.date] = set()
    for month in range(1, 13):
        first = datetime.date(year, month, 1)
        days.update((first - datetime.timedelta(days=1), first, first + datetime.timedelta(days=1)))
    new_year = datetime.date(year + 1, 1, 1)
    days.update((new_year - datetime.timedelta(days=1), new_year, new_year + datetime.timedelta(days=1)))
    if calendar.isleap(year):
        days.update((datetime.date(year, 2, 28), datetime.date(year, 2, 29), datetime.date(year, 3, 1)))
    tz = ZoneInfo(zone)
    for switch in offset_changes(zone, year):
        local_day = switch.astimezone(tz).date()
        days.update(local_day + datetime.timedelta(days=n) for n in range(3))
    return days


def boundary_instants(zone: str, years: Sequence[int]) -> list[datetime.datetime]:
    """Naive UTC instants one second either side of the reporting zone's calendar edges.

    Edges: local midnights around every month start (last and first day), Dec 31/Jan 1,
    Feb 28/29/Mar 1 of leap years, the day of and the day after each DST switch, plus
    the switches themselves. Sorted and unique.
    """
    edges: set[datetime.datetime] = set()
    for year in years:
        for day in _boundary_days(zone, year):
            start = local_day_start(day, zone)
            edges.update((start - ONE_SECOND, start + ONE_SECOND))
        for switch in offset_changes(zone, year):
            edges.update((switch - ONE_SECOND, switch + ONE_SECOND))
    return sorted(edge.replace(tzinfo=None) for edge in edges)


def _local(zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _switch(zone: str, year: int, forward: bool) -> datetime.datetime | None:
    tz = ZoneInfo(zone)
    for switch in offset_changes(zone, year):
        before = (switch - ONE_SECOND).astimezone(tz).utcoffset()
        after = switch.astimezone(tz).utcoffset()
        if before is not None and after is not None and (after > before) == forward:
            return switch
    return None


def clock_instant(name: str, zone: str, year: int = 2024) -> datetime.datetime:
    """The aware UTC datetime of a SPEC clock instant (``CLOCK_INSTANTS``) computed in ``zone``.

    ``dst_*`` fall back to ``local_midnight`` in zones without DST; ``leap_day`` uses the
    first leap year from ``year`` on.
    """
    local_midnight = _local(zone, year, 1, 15, 0, 0, 30)
    if name == "local_midnight":
        return local_midnight
    if name == "utc_midnight":
        return datetime.datetime(year, 6, 15, 0, 0, 30, tzinfo=UTC)
    if name in ("dst_spring_forward", "dst_fall_back"):
        # One minute past the switch is already in the new offset: the second pass of a repeated hour.
        switch = _switch(zone, year, forward=name == "dst_spring_forward")
        return local_midnight if switch is None else switch + datetime.timedelta(minutes=1)
    if name == "month_end":
        return _local(zone, year, 1, 31, 23, 59, 30)
    if name == "year_end":
        return _local(zone, year, 12, 31, 23, 59, 30)
    if name == "leap_day":
        leap_year = next(y for y in range(year, year + 8) if calendar.isleap(y))
        return _local(zone, leap_year, 2, 29, 0, 0, 30)
    raise ValueError(f"unknown clock instant {name!r}; known: {', '.join(CLOCK_INSTANTS)}")


def as_naive_utc(instant: datetime.datetime) -> datetime.datetime:
    """An instant as a naive UTC datetime (naive input is taken to be UTC already)."""
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(UTC).replace(tzinfo=None)


def stored_value(instant: datetime.datetime, column: ColumnSpec) -> datetime.datetime:
    """A naive UTC instant as the naive wall time of the column's stored zone."""
    zone = column.timezone or "UTC"
    if zone.upper() == "UTC":
        return instant
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


