"""Generated data: boundary and clock instants, deterministic rows, large-table SQL, the Hypothesis strategy."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
from pytest_dashpacks.data.calendar import CLOCK_INSTANTS, boundary_instants, clock_instant
from pytest_dashpacks.data.kinds import column_kind
from pytest_dashpacks.data.strategies import dataset_strategy
from pytest_dashpacks.data.rows import generate_rows, referenced_column, referenced_table
from pytest_dashpacks.data.large import large_rows_sql
from pytest_dashpacks.errors import SourceSpan
from pytest_dashpacks.engines.duckdb import quote as quote_identifier
from pytest_dashpacks.model import ColumnSpec, ConnectorVersion, TableSpec
from pytest_dashpacks.sql.literals import sql_literal

UTC = datetime.timezone.utc
ZONES = ("UTC", "America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe")


@cache
def curated_versions() -> tuple[ConnectorVersion, ...]:
    return tuple(
        version
        for path in sorted(curated_fixture_root().glob("*/connector.yml"))
        for version in load_connector(path).versions
    )


def version_ids() -> list[str]:
    return [v.label for v in curated_versions()]


def naive(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, second)


# --- boundary instants --------------------------------------------------------------


def test_new_york_boundaries_hold_the_spring_switch_winter_midnight_and_leap_day() -> None:
    instants = boundary_instants("America/New_York", [2024])
    expected = {
        naive(2024, 3, 10, 6, 59, 59),  # spring forward at 07:00 UTC
        naive(2024, 3, 10, 7, 0, 1),
        naive(2024, 11, 3, 5, 59, 59),  # fall back at 06:00 UTC
        naive(2024, 11, 3, 6, 0, 1),
        naive(2024, 1, 1, 4, 59, 59),  # winter local midnight is 05:00 UTC
        naive(2024, 1, 1, 5, 0, 1),
        naive(2024, 2, 29, 4, 59, 59),  # Feb 29 starts
        naive(2024, 2, 29, 5, 0, 1),
        naive(2024, 3, 1, 4, 59, 59),  # Feb 29 ends
        naive(2024, 3, 1, 5, 0, 1),
        naive(2024, 7, 1, 3, 59, 59),  # summer local midnight is 04:00 UTC
        naive(2025, 1, 1, 4, 59, 59),  # year end
        naive(2025, 1, 1, 5, 0, 1),
        naive(2024, 3, 11, 3, 59, 59),  # the day after the switch
        naive(2024, 11, 4, 4, 59, 59),
    }
    assert expected <= set(instants)
    assert instants == sorted(set(instants))
    assert all(i.tzinfo is None for i in instants)


@pytest.mark.parametrize("zone", ZONES)
def test_every_boundary_is_one_second_from_a_local_midnight_or_a_switch(zone: str) -> None:
    tz = ZoneInfo(zone)
    for instant in boundary_instants(zone, [2023, 2024]):
        aware = instant.replace(tzinfo=UTC)
        before, after = (aware - datetime.timedelta(seconds=1)).astimezone(tz), (aware + datetime.timedelta(seconds=1)).astimezone(tz)
        midnight = any(t.astimezone(tz).time() == datetime.time() for t in (before, after))
        switch = before.utcoffset() != after.utcoffset() or (aware - datetime.timedelta(seconds=2)).astimezone(tz).utcoffset() != aware.astimezone(tz).utcoffset() or (aware + datetime.timedelta(seconds=2)).astimezone(tz).utcoffset() != aware.astimezone(tz).utcoffset()
        assert midnight or switch, f"{instant} is no edge in {zone}"


def test_kolkata_has_midnights_and_no_switches() -> None:
    instants = boundary_instants("Asia/Kolkata", [2024])
    offsets = {(i.replace(tzinfo=UTC)).astimezone(ZoneInfo("Asia/Kolkata")).utcoffset() for i in instants}
    assert offsets == {datetime.timedelta(hours=5, minutes=30)}
    assert {naive(2024, 2, 28, 18, 29, 59), naive(2024, 2, 28, 18, 30, 1)} <= set(instants)  # Feb 29 00:00 IST
    local_times = {(i.replace(tzinfo=UTC)).astimezone(ZoneInfo("Asia/Kolkata")).time() for i in instants}
    assert local_times == {datetime.time(23, 59, 59), datetime.time(0, 0, 1)}


def test_lord_howe_half_hour_switches() -> None:
    instants = set(boundary_instants("Australia/Lord_Howe", [2024]))
    # 2024-04-07 02:00 +11:00 -> 01:30 +10:30 and 2024-10-06 02:00 +10:30 -> 02:30 +11:00
    assert {naive(2024, 4, 6, 14, 59, 59), naive(2024, 4, 6, 15, 0, 1)} <= instants
    assert {naive(2024, 10, 5, 15, 29, 59), naive(2024, 10, 5, 15, 30, 1)} <= instants
    assert {naive(2024, 4, 7, 13, 29, 59), naive(2024, 4, 7, 13, 30, 1)} <= instants  # midnight after fall back


# --- clock instants -----------------------------------------------------------------

CLOCK_LOCAL = {
    "local_midnight": (datetime.date(2024, 1, 15), datetime.time(0, 0, 30)),
    "month_end": (datetime.date(2024, 1, 31), datetime.time(23, 59, 30)),
    "year_end": (datetime.date(2024, 12, 31), datetime.time(23, 59, 30)),
    "leap_day": (datetime.date(2024, 2, 29), datetime.time(0, 0, 30)),
}


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("name", CLOCK_INSTANTS)
def test_clock_instant(name: str, zone: str) -> None:
    instant = clock_instant(name, zone)
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    assert instant.utcoffset() == datetime.timedelta(0)
    if name in CLOCK_LOCAL:
        assert (local.date(), local.time()) == CLOCK_LOCAL[name]
    elif name == "utc_midnight":
        assert instant == datetime.datetime(2024, 6, 15, 0, 0, 30, tzinfo=UTC)
    else:
        switch = instant - datetime.timedelta(minutes=1)
        before = (switch - datetime.timedelta(seconds=1)).astimezone(tz).utcoffset()
        after = switch.astimezone(tz).utcoffset()
        if before == after:  # no DST: the plain local midnight
            assert instant == clock_instant("local_midnight", zone)
            assert zone in ("UTC", "Asia/Kolkata")
        else:
            assert before is not None and after is not None
            assert (after > before) == (name == "dst_spring_forward")


def test_clock_instants_in_new_york() -> None:
    assert clock_instant("dst_spring_forward", "America/New_York") == datetime.datetime(2024, 3, 10, 7, 1, tzinfo=UTC)
    fall_back = clock_instant("dst_fall_back", "America/New_York")
    assert fall_back == datetime.datetime(2024, 11, 3, 6, 1, tzinfo=UTC)
    local = fall_back.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute, local.fold) == (1, 1, 1)  # the second 01:01
    assert clock_instant("leap_day", "UTC", year=2025) == datetime.datetime(2028, 2, 29, 0, 0, 30, tzinfo=UTC)


def test_unknown_clock_instant_lists_the_names() -> None:
    with pytest.raises(ValueError, match="local_midnight, utc_midnight, dst_spring_forward"):
        clock_instant("noon", "UTC")
    assert CLOCK_INSTANTS == ("local_midnight", "utc_midnight", "dst_spring_forward", "dst_fall_back", "month_end", "year_end", "leap_day")


# --- validity of a dataset ------------------------------------------------------------


def value_fits(column: ColumnSpec, value: Any) -> bool:
    kind = column_kind(column.type).kind
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "decimal":
        return isinstance(value, Decimal) and value >= 0
    if kind == "float":
        return isinstance(value, float)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("timestamp", "timestamptz"):
        return isinstance(value, datetime.datetime) and value.tzinfo is None
    if kind == "date":
        return isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
    if kind == "time":
        return isinstance(value, datetime.time)
    if kind == "interval":
        return isinstance(value, datetime.timedelta)
    return isinstance(value, str)


def dataset_problems(version: ConnectorVersion, data: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[tuple[int, Counter[Any]]]]:
    """Rule violations in ``data``, and per reference (parent rows, children per parent value)."""
    problems: list[str] = []
    fan_outs: list[tuple[int, Counter[Any]]] = []
    tables = {t.key: t for t in version.tables.values()}
    for key, rows in data.items():
        table = tables[key]
        keys = [c.name for c in table.columns if c.primary_key]
        if keys:
            tuples = [tuple(row[k] for k in keys) for row in rows]
            if len(set(tuples)) != len(tuples):
                problems.append(f"{key}: repeated key {Counter(tuples).most_common(1)}")
        for row in rows:
            if [c.name for c in table.columns] != list(row):
                problems.append(f"{key}: columns {list(row)}")
                continue
            for column in table.columns:
                value = row[column.name]
                if value is None:
                    if not column.nullable or column.primary_key:
                        problems.append(f"{key}.{column.name}: NULL in a required column")
                elif not value_fits(column, value):
                    problems.append(f"{key}.{column.name}: {value!r} does not fit {column.type}")
                elif column.values is not None and value not in column.values:
                    problems.append(f"{key}.{column.name}: {value!r} is not accepted")
        for column in table.columns:
            parent = referenced_table(version, table, column.references) if column.references else None
            if parent is None or parent.key not in data or column.references is None:
                continue
            target = parent.column(referenced_column(column.references))
            assert target is not None
            parent_values = {row[target.name] for row in data[parent.key]}
            children = Counter(row[column.name] for row in rows if row[column.name] is not None)
            dangling = set(children) - parent_values
            if dangling:
                problems.append(f"{key}.{column.name}: {sorted(map(str, dangling))} not in {parent.key}.{target.name}")
            if children and max(children.values()) > 3:
                problems.append(f"{key}.{column.name}: {children.most_common(1)} children for one parent")
            if parent is not table:
                fan_outs.append((len(parent_values), children))
    return problems, fan_outs


# --- generate_rows ------------------------------------------------------------------


@pytest.mark.parametrize("version", curated_versions(), ids=version_ids())
def test_generated_rows_follow_the_rules(version: ConnectorVersion) -> None:
    data = generate_rows(version, "America/New_York")
    assert list(data) == [t.key for t in version.tables.values()]
    assert all(len(rows) >= 6 for rows in data.values()), {k: len(r) for k, r in data.items()}
    problems, fan_outs = dataset_problems(version, data)
    assert problems == []
    wide = [children for parents, children in fan_outs if parents >= 2 and sum(children.values()) >= 2]
    assert all(len(children) < parents for parents, children in fan_outs if parents >= 2 and children), "a parent without children"
    assert any(max(children.values()) >= 2 for children in wide), "no parent with several children"


def test_generated_rows_are_deterministic_and_seeded() -> None:
    version = curated_versions()[0]
    assert generate_rows(version, "UTC", seed=3) == generate_rows(version, "UTC", seed=3)
    assert generate_rows(version, "UTC", seed=3) != generate_rows(version, "UTC", seed=4)


def test_fivetran_flags_and_money() -> None:
    versions = curated_versions()
    deleted: Counter[Any] = Counter()
    active: Counter[Any] = Counter()
    amounts: list[Any] = []
    for version in versions:
        for key, rows in generate_rows(version, "UTC", rows_per_table=16).items():
            for row in rows:
                deleted[row.get("_fivetran_deleted", "absent")] += 1
                active[row.get("_fivetran_active", "absent")] += 1
                amounts += [row[name] for name in ("amount", "total_price_set_shop_amount") if row.get(name) is not None]
    assert None not in deleted and None not in active
    assert 0.08 < deleted[True] / (deleted[True] + deleted[False]) < 0.2
    assert active[False] > 0 and active[True] >= 3 * active[False]
    assert min(amounts) == 0 and all(a >= 0 for a in amounts) and len(set(amounts)) > 10


def test_timestamps_cycle_through_every_boundary_in_the_stored_zone() -> None:
    instants = boundary_instants("America/New_York", [2024])
    columns = (
        ColumnSpec("id", "bigint", nullable=False, primary_key=True),
        ColumnSpec("created", "timestamp", nullable=False),
        ColumnSpec("created_local", "timestamp", nullable=False, timezone="America/Los_Angeles"),
        ColumnSpec("day", "date", nullable=False),
        ColumnSpec("amount", "decimal(6,2)", nullable=False),
        ColumnSpec("payload", "json"),
    )
    version = ConnectorVersion("acme", "1", {"raw.events": TableSpec("events", "raw", "events", columns)}, (), SourceSpan(Path("connector.yml")))
    rows = generate_rows(version, "America/New_York", rows_per_table=len(instants))["events"]
    assert [row["created"] for row in rows] == instants
    los_angeles = ZoneInfo("America/Los_Angeles")
    assert [row["created_local"] for row in rows] == [i.replace(tzinfo=UTC).astimezone(los_angeles).replace(tzinfo=None) for i in instants]
    assert all(row["amount"] == row["amount"].quantize(Decimal("0.01")) < 10_000 for row in rows)
    chosen = [naive(2024, 6, 1, 12), naive(2024, 6, 2, 12)]
    rows = generate_rows(version, "UTC", rows_per_table=4, instants=[c.replace(tzinfo=UTC) for c in chosen])["events"]
    assert [row["created"] for row in rows] == chosen * 2


def test_missing_parents_and_cycles_fall_back_to_plain_values() -> None:
    a = TableSpec("a", "raw", "a", (ColumnSpec("id", "bigint", nullable=False, primary_key=True), ColumnSpec("b_id", "bigint", nullable=False, references="b.id")))
    b = TableSpec("b", "raw", "b", (ColumnSpec("id", "bigint", nullable=False, primary_key=True), ColumnSpec("a_id", "bigint", references="a.id")))
    c = TableSpec("c", "raw", "c", (ColumnSpec("id", "varchar", nullable=False, primary_key=True), ColumnSpec("gone_id", "varchar", nullable=False, references="gone.id")))
    version = ConnectorVersion("acme", "1", {"raw.a": a, "raw.b": b, "raw.c": c}, (), SourceSpan(Path("connector.yml")))
    data = generate_rows(version, "UTC")
    assert {k: len(v) for k, v in data.items()} == {"a": 8, "b": 8, "c": 8}
    assert all(isinstance(row["b_id"], int) for row in data["a"])  # a comes first: b is not generated yet
    b_children = Counter(row["a_id"] for row in data["b"] if row["a_id"] is not None)
    assert set(b_children) <= {row["id"] for row in data["a"]}  # b follows a, so its reference resolves
    assert all(isinstance(row["gone_id"], str) for row in data["c"])


@pytest.mark.parametrize("version", curated_versions(), ids=version_ids())
def test_generated_rows_load_into_duckdb(version: ConnectorVersion) -> None:
    data = generate_rows(version, "Australia/Lord_Howe")
    with duckdb.connect(config={"threads": 1}) as connection:
        for table in version.tables.values():
            name = create_table(connection, table)
            placeholders = ", ".join("?" for _ in table.columns)
            rows = [tuple(row[c.name] for c in table.columns) for row in data[table.key]]
            connection.executemany(f"INSERT INTO {name} VALUES ({placeholders})", rows)
            assert connection.execute(f"SELECT count(*) FROM {name}").fetchone() == (len(rows),)


def create_table(connection: duckdb.DuckDBPyConnection, table: TableSpec) -> str:
    name = f"{quote_identifier(table.schema)}.{quote_identifier(table.name)}"
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(table.schema)}")
    columns = ", ".join(f"{quote_identifier(c.name)} {c.type}" for c in table.columns)
    connection.execute(f"CREATE TABLE {name} ({columns})")
    return name


# --- large_rows_sql -------------------------------------------------------------------


@pytest.mark.parametrize("version", curated_versions(), ids=version_ids())
def test_large_rows_sql_fills_every_table(version: ConnectorVersion) -> None:
    rows = 1000
    with duckdb.connect(config={"threads": 1}) as connection:
        names = {}
        for table in version.tables.values():
            names[table.key] = create_table(connection, table)
            connection.execute(f"INSERT INTO {names[table.key]} {large_rows_sql(table, rows)}")
        for table in version.tables.values():
            name = names[table.key]
            keys = ", ".join(quote_identifier(c.name) for c in table.columns if c.primary_key) or "NULL"
            measures = {"rows": "count(*)", "keys": f"count(DISTINCT ({keys}))"}
            for column in table.columns:
                quoted = quote_identifier(column.name)
                if not column.nullable:
                    measures[f"NULL in {column.name}"] = f"count(*) - count({quoted})"
                if column.values is not None:
                    measures[f"unaccepted {column.name}"] = f"count(*) FILTER ({quoted} NOT IN ({', '.join(map(sql_literal, column.values))}))"
                if column.name.lower() == "_fivetran_deleted":
                    measures["deleted"] = f"count(*) FILTER ({quoted})"
                if column_kind(column.type).kind == "timestamp" and not column.primary_key:
                    measures[f"{column.name} spread"] = f"max({quoted}) - min({quoted}) > INTERVAL 330 DAY AND year(min({quoted})) = 2024 AND year(max({quoted})) = 2024"
                parent = referenced_table(version, table, column.references) if column.references else None
                target = parent.column(referenced_column(column.references)) if parent and column.references else None
                if parent is not None and target is not None and target.primary_key and not target.references:
                    measures[f"dangling {column.name}"] = (
                        f"count(*) FILTER ({quoted} IS NOT NULL AND {quoted} NOT IN "
                        f"(SELECT {quote_identifier(target.name)} FROM {names[parent.key]}))"
                    )
                    measures[f"parents of {column.name}"] = f"count(DISTINCT {quoted})"
            selected = ", ".join(measures.values())
            found = dict(zip(measures, connection.execute(f"SELECT {selected} FROM {name}").fetchone() or ()))
            assert found.pop("rows") == rows
            assert found.pop("keys") == (rows if keys != "NULL" else 0), table.key
            if "deleted" in found:
                assert 60 < found.pop("deleted") < 200
            for measure, value in found.items():
                if measure.endswith("spread"):
                    assert value is True, f"{table.key}: {measure}"
                elif measure.startswith("parents of"):
                    assert value > 1, f"{table.key}: {measure}"
                else:
                    assert value == 0, f"{table.key}: {measure}"


# --- dataset_strategy ----------------------------------------------------------------

STRATEGY_CASES = (  # composite keys of references, self-references, history tables in another schema
    ("stripe", "2025-07", ("payout", "balance_transaction", "payout_balance_transaction")),
    ("zendesk", "2023-06", ("ticket", "ticket_field_history", "time_zone", "daylight_time")),
    ("salesforce", "2024-07", ("user_role", "user", "salesforce_history.account")),
    ("shopify", "2025-12", ("order_line", "order_line_tax_line")),
)


def curated_version(connector: str, name: str) -> ConnectorVersion:
    return next(v for v in curated_versions() if v.connector == connector and v.name == name)


@settings(max_examples=20, derandomize=True, deadline=None)
@given(case=st.sampled_from(STRATEGY_CASES), data=st.data())
def test_dataset_strategy_draws_valid_datasets(case: tuple[str, str, tuple[str, ...]], data: st.DataObject) -> None:
    connector, name, tables = case
    version = curated_version(connector, name)
    drawn = data.draw(dataset_strategy(version, tables, "America/New_York"))
    assert list(drawn) == list(tables)
    assert all(len(rows) <= 6 for rows in drawn.values())
    problems, _ = dataset_problems(version, drawn)
    assert problems == []


def test_dataset_strategy_uses_the_boundaries_and_rejects_unknown_tables() -> None:
    version = curated_version("stripe", "2025-07")
    boundaries = set(boundary_instants("America/New_York", [2023, 2024]))
    seen: list[datetime.datetime] = []

    @settings(max_examples=30, derandomize=True, deadline=None)
    @given(dataset_strategy(version, ["charge"], "America/New_York"))
    def collect(drawn: dict[str, list[dict[str, Any]]]) -> None:
        seen.extend(row["created"] for row in drawn["charge"])

    collect()
    assert seen and any(moment in boundaries for moment in seen)
    assert all(naive(2022, 12, 30) <= moment <= naive(2025, 1, 3) for moment in seen)
    with pytest.raises(ValueError, match="no table nope"):
        dataset_strategy(version, ["nope"], "UTC")


EVERY_TYPE = TableSpec(
    "every_type",
    "raw",
    "every_type",
    (
        ColumnSpec("id", "UUID", nullable=False, primary_key=True),
        ColumnSpec("at", "timestamp", nullable=False, primary_key=True),
        ColumnSpec("parent_id", "uuid", references="every_type.id"),
        ColumnSpec("tiny", "tinyint", nullable=False),
        ColumnSpec("small", "SMALLINT"),
        ColumnSpec("price", "decimal(4,2)", nullable=False),
        ColumnSpec("rate", "numeric"),
        ColumnSpec("ratio", "real"),
        ColumnSpec("day", "date"),
        ColumnSpec("clock", "time"),
        ColumnSpec("seen", "timestamptz"),
        ColumnSpec("payload", "json"),
        ColumnSpec("wait", "interval"),
        ColumnSpec("flag", "bool", nullable=False),
        ColumnSpec("label", "text", values=("a'b", "c")),
        ColumnSpec("raw", "blob"),
    ),
)


def test_every_type_generates_and_loads() -> None:
    version = ConnectorVersion("acme", "1", {"raw.every_type": EVERY_TYPE}, (), SourceSpan(Path("connector.yml")))
    rows = generate_rows(version, "Australia/Lord_Howe", rows_per_table=40)["every_type"]
    problems, _ = dataset_problems(version, {"every_type": rows})
    assert problems == []
    with duckdb.connect(config={"threads": 1}) as connection:
        name = create_table(connection, EVERY_TYPE)
        placeholders = ", ".join("?" for _ in EVERY_TYPE.columns)
        connection.executemany(f"INSERT INTO {name} VALUES ({placeholders})", [tuple(r.values()) for r in rows])
        connection.execute(f"INSERT INTO {name} {large_rows_sql(EVERY_TYPE, 500)}")
        assert connection.execute(f"SELECT count(*), count(DISTINCT (id, \"at\")) FROM {name}").fetchone() == (540, 540)
        low, high = connection.execute(f"SELECT min(price), max(price) FROM {name}").fetchone()  # type: ignore[misc]
        assert low == 0 and high < 100


def test_large_self_references_point_at_earlier_rows() -> None:
    user = next(t for t in curated_version("salesforce", "2024-07").tables.values() if t.key == "user")
    with duckdb.connect(config={"threads": 1}) as connection:
        pairs = connection.execute(f"SELECT id, manager_id FROM ({large_rows_sql(user, 300)}) WHERE manager_id IS NOT NULL").fetchall()
    number = lambda key: int(key.rpartition("_")[2])  # noqa: E731
    assert len(pairs) > 200
    assert all(number(manager) < number(own) for own, manager in pairs)


# --- role flags ----------------------------------------------------------------------

ROLE_FLAGS = TableSpec(
    "orders",
    "raw",
    "orders",
    (
        ColumnSpec("id", "bigint", nullable=False, primary_key=True),
        ColumnSpec("is_deleted", "boolean", role="deleted"),
        ColumnSpec("_fivetran_deleted", "boolean"),  # deleted by default
        ColumnSpec("is_current", "boolean", role="active"),
        ColumnSpec("archived", "boolean"),  # no role: nothing is guessed from a name
        ColumnSpec("_fivetran_active", "varchar"),  # not boolean: no default role
    ),
)
FLAGS = ("is_deleted", "_fivetran_deleted", "is_current")


def test_role_flags_are_generated_from_the_declared_roles() -> None:
    version = ConnectorVersion("acme", "1", {"raw.orders": ROLE_FLAGS}, (), SourceSpan(Path("connector.yml")))
    rows = generate_rows(version, "UTC", rows_per_table=64)["orders"]
    assert all(isinstance(row[flag], bool) for row in rows for flag in FLAGS)
    source_deleted = {row["id"] for row in rows if row["is_deleted"]}
    fivetran_deleted = {row["id"] for row in rows if row["_fivetran_deleted"]}
    assert source_deleted and fivetran_deleted and not source_deleted & fivetran_deleted  # each flag alone deletes some rows
    assert 0 < sum(not row["is_current"] for row in rows) < 32
    assert any(row["archived"] is None for row in rows) and any(row["archived"] is False for row in rows)
    assert all(row["_fivetran_active"] is None or isinstance(row["_fivetran_active"], str) for row in rows)
    with duckdb.connect(config={"threads": 1}) as connection:
        counts = connection.execute(
            "SELECT count(*) FILTER (is_deleted), count(*) FILTER (_fivetran_deleted), count(*) FILTER (NOT is_current), "
            f"count(*) FILTER (is_deleted IS NULL OR is_current IS NULL) FROM ({large_rows_sql(ROLE_FLAGS, 800)})"
        ).fetchone()
    assert counts is not None
    deleted, fivetran, inactive, nulls = counts
    assert 50 < deleted < 150 and 50 < fivetran < 150 and 120 < inactive < 280 and nulls == 0

    @settings(max_examples=30, derandomize=True, deadline=None)
    @given(dataset_strategy(version, ["orders"], "UTC"))
    def never_null(drawn: dict[str, list[dict[str, Any]]]) -> None:
        assert all(row[flag] is not None for row in drawn["orders"] for flag in FLAGS)

    never_null()
