"""Re-running a failed item's query on candidate rows: a candidate is kept when the case built from
it still fails the same way, which the item's query decides, re-run in one reused sandbox within
a budget of query runs and seconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..data.rows import Rows
from ..engines.results import native
from ..kpi.tables import source_rows, stored_zone

# --- re-running the item's query -------------------------------------------------------


class Unpinnable(Exception):
    """The failure does not reproduce as a regression case; the message says why."""


def measure(value: float) -> int | float:
    value = round(value, 6) + 0.0  # + 0.0: no negative zero
    return int(value) if value.is_integer() else value


class Replay:
    """The item's query in one sandbox reused for every candidate dataset (``replace_rows``),
    in the session zones the item compares, with its clock frozen if it had one."""

    def __init__(self, db: Any, sql: str, zones: tuple[str, ...], instant: dt.datetime | None, budget: Any) -> None:
        self.sandbox = db.open({}, zones=tuple(dict.fromkeys(("UTC", *zones))))
        self.sql, self.instant, self.budget = sql, instant, budget
        self._frozen: dict[str, str] = {}
        self._loaded: Rows | None = None

    def close(self) -> None:
        self.sandbox.close()

    def load(self, rows: Rows) -> None:
        if rows is not self._loaded:
            self.sandbox.replace_rows(rows)
            self._loaded = rows

    def run(self, rows: Rows, zone: str) -> tuple[Any, str | None]:
        """(result, None) or (None, error message) of the query on ``rows`` in a ``zone`` session."""
        from freezegun import freeze_time

        from ..errors import DashpacksError
        from ..sql.clock import frozen_sql

        self.load(rows)
        self.budget.spent += 1
        try:
            if self.instant is None:
                return self.sandbox.run(self.sql, zone), None
            if zone not in self._frozen:
                self._frozen[zone] = frozen_sql(self.sql, self.instant, zone)
            with freeze_time(self.instant):
                return self.sandbox.run(self._frozen[zone], zone), None
        except DashpacksError as exc:
            return None, exc.message

    def typed(self, version: Any, rows: Rows) -> Rows:
        """``rows`` as the case will load them (each value cast to its column's type, read back from the
        database), as YAML types; only the columns the rows name, in the table's column order."""
        from ..engines.duckdb import table_sql

        self.load(rows)
        out: Rows = {}
        for key, table_rows in rows.items():
            if not table_rows:
                continue
            spec = next(t for t in version.tables.values() if t.key == key)
            named = {column for row in table_rows for column in row}
            columns = [c.name for c in spec.columns if c.name in named]
            stored = self.sandbox.run(f"SELECT * FROM {table_sql(spec)} ORDER BY rowid").records()
            out[key] = [{c: native(record[c]) for c in columns} for record in stored]
        return out


@dataclass(frozen=True)
class Reproduction:
    """How a written case reproduces one failing item."""

    zone: str  # the session zone the case runs in
    fails: Callable[[Rows], bool]  # the case on these rows still fails the way the item did
    expect: Callable[[Rows], dict[str, Any]]  # the right answer on these rows
    explains: str  # what expect holds
    same_way: str  # what every shrinking step kept


def _differs(left: Any, right: Any) -> bool:
    from ..engines.results import row_multiset

    return row_multiset(left.rows) != row_multiset(right.rows)


def _case_fails(expect: dict[str, Any], result: Any) -> bool:
    """Whether check_regression fails on ``result`` (None: the query failed)."""
    from ..engines.results import row_diff

    if result is None:
        return True
    if "columns" in expect and [c.lower() for c in result.columns] != [c.lower() for c in expect["columns"]]:
        return True
    return "rows" in expect and bool(row_diff(expect["rows"], result.records(), ordered=False, tolerance=1e-6))


def kpi_reproduction(replay: Replay, session: Any, pack: Any, version: Any, kpi: Any, rows: Rows) -> Reproduction:
    """The query's buckets still differ from the oracle's in the same directions (above it, below it) and for
    the same likely cause; expect is the oracle's buckets."""
    from ..kpi import oracle

    stored, table, zone = stored_zone(version, kpi), oracle.source_table(version, kpi), pack.timezone

    def expect_of(expected: dict[Any, float]) -> dict[str, Any]:
        return {"rows": [{kpi.time_column: b.isoformat(), kpi.measure_column: measure(v)} for b, v in sorted(expected.items())]}

    def outcome(candidate: Rows) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        result, _ = replay.run(candidate, "UTC")
        if result is None:
            return None
        source = source_rows(version, kpi, candidate)
        actual = oracle.query_buckets(kpi, result.records())
        expected = oracle.expected_buckets(kpi, source, stored, zone, table)
        mismatches = oracle.compare(actual, expected)
        if not mismatches or not _case_fails(expect_of(expected), result):
            return None
        directions = frozenset("above" if (m.actual or 0.0) > (m.expected or 0.0) else "below" for m in mismatches)
        return (directions, oracle.likely_cause(kpi, actual, source, stored, zone, table)), expect_of(expected)

    first = outcome(rows)
    if first is None:
        raise Unpinnable(f"kpi {kpi.name} agrees with its oracle when the query runs again on the item's rows")
    way, shows_rows = first[0], bool(first[1]["rows"])

    def fails(candidate: Rows) -> bool:
        found = outcome(candidate)
        # A case whose right answer has a row reads better than one expecting nothing.
        return found is not None and found[0] == way and (bool(found[1]["rows"]) or not shows_rows)

    def expect(candidate: Rows) -> dict[str, Any]:
        found = outcome(candidate)
        assert found is not None
        return found[1]

    return Reproduction(
        "UTC", fails, expect,
        f"the oracle's {kpi.grain} buckets of kpi {kpi.name} ({kpi.time_column}, {kpi.measure_column}) in {zone}",
        f"kpi {kpi.name} is {' and '.join(sorted(way[0]))} its oracle ({way[1]})",
    )


def session_reproduction(replay: Replay, compared: tuple[str, str], reporting: str, rows: Rows) -> Reproduction:
    """The two sessions the item compares still differ; expect is the reporting-zone session's answer, and the
    case runs in a session (the item's zone, else UTC) whose answer differs from it."""
    zones = tuple(dict.fromkeys((*compared, reporting)))

    def results(candidate: Rows) -> dict[str, Any] | None:
        out = {}
        for zone in zones:
            result, _ = replay.run(candidate, zone)
            if result is None:
                return None
            out[zone] = result
        return out

    full = results(rows)
    if full is None or not _differs(full[compared[0]], full[compared[1]]):
        raise Unpinnable(f"{compared[0]} and {compared[1]} sessions agree when the query runs again on the item's rows")
    case_zone = next(z for z in (compared[1], compared[0]) if _differs(full[z], full[reporting]))

    def expect_of(found: dict[str, Any]) -> dict[str, Any]:
        return {"rows": [{k: native(v) for k, v in record.items()} for record in found[reporting].records()]}

    def fails(candidate: Rows) -> bool:
        found = results(candidate)
        return (found is not None and _differs(found[compared[0]], found[compared[1]])
                and _case_fails(expect_of(found), found[case_zone]))

    def expect(candidate: Rows) -> dict[str, Any]:
        found = results(candidate)
        assert found is not None
        return expect_of(found)

    return Reproduction(
        case_zone, fails, expect,
        f"the rows the query returns with the session in {reporting}, the reporting zone; "
        f"the case runs with the session in {case_zone}, where the query answers differently",
        f"{compared[0]} and {compared[1]} sessions give different rows",
    )


def nan_reproduction(replay: Replay, rows: Rows) -> Reproduction:
    """A measure is still NaN or infinite; expect has null there, what NULLIF(denominator, 0) gives."""
    from ..engines.results import bad_numbers

    def bad(result: Any) -> list[str]:
        numeric = [c for c, t in zip(result.columns, result.types) if t.upper() in ("DOUBLE", "FLOAT", "REAL") or t.upper().startswith("DECIMAL")]
        return bad_numbers(result, numeric)

    result, _ = replay.run(rows, "UTC")
    if result is None or not bad(result):
        raise Unpinnable("no NaN or infinity when the query runs again on the item's rows")

    def fails(candidate: Rows) -> bool:
        found, _ = replay.run(candidate, "UTC")
        return found is not None and bool(bad(found))

    def expect(candidate: Rows) -> dict[str, Any]:
        found, _ = replay.run(candidate, "UTC")
        finite = [{k: None if isinstance(v, float) and not math.isfinite(v) else native(v) for k, v in r.items()} for r in found.records()]
        return {"rows": finite}

    return Reproduction("UTC", fails, expect, "the query's rows with NaN and infinity as null, what NULLIF(denominator, 0) gives",
                        "a measure is NaN or infinite")


def error_reproduction(replay: Replay, error: str, columns: list[str] | None, rows: Rows) -> Reproduction:
    """The query still fails with the same error (up to the literals it quotes); expect is the columns it selects."""
    if columns is None:
        raise Unpinnable(f"the query fails ({error}) and not every column it selects has a name to expect")
    key = _error_key(error)

    def fails(candidate: Rows) -> bool:
        _, found = replay.run(candidate, "UTC")
        return found is not None and _error_key(found) == key

    return Reproduction("UTC", fails, lambda _: {"columns": columns}, f"the columns the query selects; today it fails with: {error.rstrip('.')}",
                        "the query fails with the same error")


def binding_reproduction(replay: Replay, bound: list[str], rows: Rows) -> Reproduction:
    """A column a chart binds is still missing from the result; expect is the returned columns plus the missing ones."""
    result, _ = replay.run(rows, "UTC")
    if result is None:
        raise Unpinnable("the query fails when it runs again on the item's rows")
    returned = {c.lower() for c in result.columns}
    missing = list(dict.fromkeys(b for b in bound if b.lower() not in returned))
    if not missing:
        raise Unpinnable("every bound column is returned when the query runs again on the item's rows")
    columns = [*result.columns, *missing]

    def fails(candidate: Rows) -> bool:
        found, _ = replay.run(candidate, "UTC")
        return found is not None and any(m.lower() not in {c.lower() for c in found.columns} for m in missing)

    return Reproduction("UTC", fails, lambda _: {"columns": columns},
                        f"the columns the query returns plus the ones charts bind: {', '.join(missing)}", "a bound column is missing")


def _error_key(message: str) -> str:
    """An error message without the literals and numbers it quotes, which change with the rows."""
    return re.sub(r"'[^']*'|\"[^\"]*\"|\b\d+(\.\d+)?\b", "_", message.splitlines()[0] if message else "")


def selected_columns(sql: str) -> list[str] | None:
    """The names of the columns a DuckDB query selects; None when one is unnamed or a star."""
    import sqlglot

    names = list(sqlglot.parse_one(sql, read="duckdb").named_selects)
    return names if names and all(n and n != "*" for n in names) else None


