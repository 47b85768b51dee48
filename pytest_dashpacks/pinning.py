"""Regression cases written from failing items: ``--dashpacks-pin-dir`` and the case a ``property`` failure prints.

``expect`` is the right answer, here as in every regression case, so a written
case fails while its defect is there and passes once it is fixed. The plugin
takes the right answer from what it knows: the KPI oracle's buckets (``kpi``,
``property``, the KPI invariants of ``volume``); the rows of a session in the
reporting zone (``timezone``, ``clock``: the case runs in the session that
answers differently); the rows with NaN and infinity as null (``volume``); the
columns the query selects (a query that fails under ``execute``).

The item's rows are shrunk first (:mod:`.shrinking`): a candidate is kept when
the case built from it still fails the same way, which the item's query decides,
re-run in one reused sandbox within a budget of query runs and seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import yaml

from .data.rows import Rows
from .kpi.tables import source_rows, stored_zone

PINNED_CHECKS = ("kpi", "property", "volume", "clock", "timezone", "execute")
SHRINK_RUNS = 300  # query runs per pin
SHRINK_SECONDS = 5.0
MARK = "# dashpacks-pin "  # + a digest of the rest of the file: present and matching = never edited



class Unpinnable(Exception):
    """The failure does not reproduce as a regression case; the message says why."""


def pin_id(nodeid: str, pack: str) -> str:
    """A file-name-safe id: PIN-<pack>-<board>-<query>-<check>[-<param>] (pack-level items: PIN-<pack>-<check>-<kpi>)."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    if len(parts) > 1:  # a board's query item; pack-level items (pack.yml::kpi[x]) have one part
        parts.insert(0, Path(path).stem)
    return "PIN-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join([pack, *parts])).strip("-")


def plain(value: Any) -> Any:
    """A value as a message shows it: dates as ISO text, Decimal as float (NaN stays nan, never None)."""
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    return value


def native(value: Any) -> Any:
    """A value as its YAML type: numbers, booleans and null stay themselves (NaN is .nan); dates and times are ISO text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return float(value)
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, (list, tuple)):
        return [native(v) for v in value]
    if isinstance(value, dict):
        return {str(k): native(v) for k, v in value.items()}
    return str(value)


def _measure(value: float) -> int | float:
    value = round(value, 6) + 0.0  # + 0.0: no negative zero
    return int(value) if value.is_integer() else value


# --- re-running the item's query -------------------------------------------------------


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

        from .errors import DashpacksError
        from .sql.clock import frozen_sql

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
        from .engines.duckdb import table_sql

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
    from .engines.results import row_multiset

    return row_multiset(left.rows) != row_multiset(right.rows)


def _case_fails(expect: dict[str, Any], result: Any) -> bool:
    """Whether check_regression fails on ``result`` (None: the query failed)."""
    from .load.regressions import row_diff

    if result is None:
        return True
    if "columns" in expect and [c.lower() for c in result.columns] != [c.lower() for c in expect["columns"]]:
        return True
    return "rows" in expect and bool(row_diff(expect["rows"], result.records(), ordered=False, tolerance=1e-6))


def kpi_reproduction(replay: Replay, session: Any, pack: Any, version: Any, kpi: Any, rows: Rows) -> Reproduction:
    """The query's buckets still differ from the oracle's in the same directions (above it, below it) and for
    the same likely cause; expect is the oracle's buckets."""
    from .kpi import oracle

    stored, table, zone = stored_zone(version, kpi), oracle.source_table(version, kpi), pack.timezone

    def expect_of(expected: dict[Any, float]) -> dict[str, Any]:
        return {"rows": [{kpi.time_column: b.isoformat(), kpi.measure_column: _measure(v)} for b, v in sorted(expected.items())]}

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
    from .engines.results import bad_numbers

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


# --- building the case -----------------------------------------------------------------


@dataclass(frozen=True)
class PinnedCase:
    text: str  # the case as YAML, headed by comments
    rows_before: int
    rows_after: int
    runs: int
    seconds: float

    @property
    def summary(self) -> str:
        return f"shrunk from {self.rows_before} rows to {self.rows_after} ({self.runs} query runs, {self.seconds:.1f} s)"


def pinned_case(
    session: Any, pack: Any, check: str, param: str | None, record: dict[str, Any], *,
    case_id: str, title: str, origin: str, message: str | None = None,
) -> PinnedCase:
    """The regression case reproducing a failing ``check[param]`` from what it recorded (board, query,
    version, timezone, rows, now); Unpinnable when the failure does not reproduce."""
    from .load.packs import board_files
    from .shrinking import Budget, drop_columns, shrink_rows

    version = next(v for v in session.library.versions(pack) if v.name == record["version"])
    path = next(p for p in board_files(pack.directory) if p.stem == record["board"])
    board = session.library.board(path, pack.directory)
    query = board.query(record["query"])
    sql = session.queries.runnable(pack, board, query, version)
    instant = dt.datetime.fromisoformat(record["now"]) if record.get("now") else None
    rows: Rows = {key: list(table_rows) for key, table_rows in record["rows"].items()}
    budget = Budget(SHRINK_RUNS, SHRINK_SECONDS)
    replay = Replay(session.databases.fixture_db(pack, version), sql, (pack.timezone, *([param] if check == "timezone" and param else [])), instant, budget)
    try:
        repro, kpi = _reproduction(replay, session, pack, version, board, query, check, param, sql, rows)
        small = shrink_rows(rows, repro.fails, budget)
        small = drop_columns(small, repro.fails, budget, _protected(version, sql, kpi))
        expect = repro.expect(small)
        data = replay.typed(version, small)
    finally:
        replay.close()
    case: dict[str, Any] = {
        "id": case_id, "title": title, "class": record.get("class", "volume"), "board": record["board"], "query": record["query"],
        "schema_version": record["version"], "timezone": repro.zone,
    }
    if instant is not None:
        case["now"] = instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    case.update(seed=False, data=data, expect=expect)
    before, after = sum(len(r) for r in rows.values()), sum(len(r) for r in data.values())
    header = [f"# Pinned by pytest-dashpacks from {origin}"]
    if message:
        header.append(f"# It failed: {message}")
    header += [
        f"# expect is the right answer: {repro.explains}.",
        "# So this case fails until the defect is fixed; correct expect if the right answer is something else.",
        f"# Shrunk from {before} rows to {after} in {budget.spent} query runs, keeping: {repro.same_way}.",
        "# Give it a real defect id and title (the file name must match the id), keep it under regressions/, then fix the query.",
    ]
    body = yaml.safe_dump(case, sort_keys=False, width=4096, default_flow_style=None, allow_unicode=True)
    return PinnedCase("\n".join(header) + "\n" + body, before, after, budget.spent, budget.elapsed)


def _reproduction(
    replay: Replay, session: Any, pack: Any, version: Any, board: Any, query: Any, check: str, param: str | None, sql: str, rows: Rows
) -> tuple[Reproduction, Any]:
    """The item's way of failing, recognized by running its query again on its rows; and its KPI, if any."""
    if check in ("kpi", "property"):
        kpi = next(k for k in pack.kpis if k.name == (param or "").split("@")[0])
        return kpi_reproduction(replay, session, pack, version, kpi, rows), kpi
    if check == "timezone":
        return session_reproduction(replay, ("UTC", param or "UTC"), pack.timezone, rows), None
    if check == "clock":
        return session_reproduction(replay, ("UTC", pack.timezone), pack.timezone, rows), None
    _, error = replay.run(rows, "UTC")
    if error is not None:
        return error_reproduction(replay, error, selected_columns(sql), rows), None
    if check == "execute":
        return binding_reproduction(replay, [b.column for b in board.bindings_of(query.name)], rows), None
    try:
        return nan_reproduction(replay, rows), None
    except Unpinnable:
        pass
    for kpi in (k for k in pack.kpis if k.board == board.stem and k.query == query.name):
        try:
            return kpi_reproduction(replay, session, pack, version, kpi, rows), kpi
        except Unpinnable:
            continue
    raise Unpinnable("neither NaN nor infinity nor a KPI that differs from its oracle when the query runs again on the item's rows")


def _protected(version: Any, sql: str, kpi: Any) -> Callable[[str, str], bool]:
    """Columns a shrunk case keeps even when the failure does without them: keys, the columns the query
    names, and the KPI's timestamp, value and filter columns, so the case reads like the query."""
    import sqlglot
    from sqlglot import exp

    named = {c.name.lower() for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
    if kpi is not None:
        named |= {kpi.source.timestamp.lower(), kpi.source.value.lower(), *(c.lower() for c in kpi.source.filters)}
    keys = {(t.key, c.name) for t in version.tables.values() for c in t.columns if c.primary_key}
    return lambda table, column: column.lower() in named or (table, column) in keys


# --- writing the file ------------------------------------------------------------------


@dataclass(frozen=True)
class PinNote:
    path: Path | None  # None: nothing written
    note: str  # one line for the item's report


def _built(*args: Any, **kwargs: Any) -> PinnedCase | str:
    """``pinned_case(...)``, or why there is none. The item's own failure is reported either way, so a
    case that cannot be built (or a shrinker that crashes) must never replace it."""
    try:
        return pinned_case(*args, **kwargs)
    except Unpinnable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001  (see the docstring)
        return f"{type(exc).__name__}: {exc}"


def case_text_or_reason(*args: Any, **kwargs: Any) -> str:
    """The YAML of a pinned case (arguments as :func:`pinned_case`), or a comment saying why there is none."""
    case = _built(*args, **kwargs)
    return f"# no regression case: {case}" if isinstance(case, str) else case.text


def write_pin(directory: Path, session: Any, item: Any, message: str) -> PinNote | None:
    """Write ``directory/PIN-....yml`` for a failing data item, unless a pin there was edited since the
    plugin wrote it; None when the item recorded nothing to reproduce."""
    record = item.record
    if "rows" not in record or "board" not in record or item.pack is None:
        return None
    case_id = pin_id(item.nodeid, item.pack.name)
    path = directory / f"{case_id}.yml"
    if path.exists() and edited(path.read_text("utf-8")):
        return PinNote(path, f"{path}: kept, edited since it was written (a pin is never overwritten once edited)")
    case = _built(session, item.pack, item.check, item.param, record,
                  case_id=case_id, title=f"pinned from {item.nodeid}", origin=item.nodeid, message=message)
    if isinstance(case, str):
        return PinNote(None, f"no pin: {case}")
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(stamped(case.text), "utf-8")
    os.replace(temporary, path)  # a reader never sees half a file
    return PinNote(path, f"{path}: {case.summary}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stamped(text: str) -> str:
    """``text`` with a closing comment that tells, later, whether anyone edited it."""
    return f"{text}{MARK}{_digest(text)}: written by the plugin; once edited, --dashpacks-pin-dir never overwrites it\n"


def edited(text: str) -> bool:
    """Whether a pin file changed since the plugin wrote it (a file without the plugin's stamp counts as edited)."""
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].startswith(MARK):
        return True
    digest = lines[-1][len(MARK):].split(":", 1)[0]
    return digest != _digest("".join(lines[:-1]))
