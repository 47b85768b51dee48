"""The KPI oracle: zones, grains, filters, deletes, history, scale and diagnosis."""

from __future__ import annotations

import datetime as dt

from pytest_dashpacks.errors import SourceSpan
from pytest_dashpacks.model import ColumnSpec, ConnectorVersion, KpiContract, KpiSource, TableSpec
from pytest_dashpacks.kpi.oracle import compare, deleted_filter_hint, expected_buckets, history_filter_hint, likely_cause, moved_rows, query_buckets, source_table

D = dt.date


def contract(grain="day", **source) -> KpiContract:
    defaults = dict(table="balance_transaction", timestamp="created", value="amount", scale=0.01,
                    filters={"type": ("charge", "refund")}, exclude_deleted=True)
    defaults.update(source)
    return KpiContract("net", "revenue", "daily", grain, "day", "net_revenue", KpiSource(**defaults), None, SourceSpan(__file__))


ROWS = [
    {"created": "2024-03-10 04:59:59", "amount": "1000", "type": "charge", "_fivetran_deleted": "false"},  # Mar 9 in New York
    {"created": "2024-03-10 05:00:01", "amount": "2000", "type": "charge", "_fivetran_deleted": None},      # Mar 10 (EST, before the switch)
    {"created": "2024-03-11 03:30:00", "amount": "-500", "type": "refund", "_fivetran_deleted": False},     # Mar 10 (EDT)
    {"created": "2024-03-11 12:00:00", "amount": "9999", "type": "payout", "_fivetran_deleted": False},     # filtered out
    {"created": "2024-03-11 12:00:00", "amount": "7777", "type": "charge", "_fivetran_deleted": "true"},    # soft-deleted
    {"created": None, "amount": "1", "type": "charge"},
]


def test_buckets_follow_the_reporting_zone_across_dst():
    assert expected_buckets(contract(), ROWS, "UTC", "America/New_York") == {D(2024, 3, 9): 10.0, D(2024, 3, 10): 15.0}
    assert expected_buckets(contract(), ROWS, "UTC", "UTC") == {D(2024, 3, 10): 30.0, D(2024, 3, 11): -5.0}


def test_grains_and_counts():
    # Sat Mar 9 is in the ISO week of Mon Mar 4; Sun Mar 10 too; all three counted rows land there.
    weekly = expected_buckets(contract("week", value="count"), ROWS, "UTC", "America/New_York")
    assert weekly == {D(2024, 3, 4): 3.0}
    monthly = expected_buckets(contract("month", value="count"), ROWS, "UTC", "America/New_York")
    assert monthly == {D(2024, 3, 1): 3.0}


def test_compare_is_bounded_by_the_query_range_and_diagnoses_utc_bucketing():
    kpi = contract()
    utc_query = query_buckets(kpi, [{"day": dt.datetime(2024, 3, 10), "net_revenue": 30.0}, {"DAY": "2024-03-11", "NET_REVENUE": -5}])
    mismatches = compare(utc_query, expected_buckets(kpi, ROWS, "UTC", "America/New_York"))
    assert [(m.bucket, m.actual, m.expected) for m in mismatches] == [(D(2024, 3, 10), 30.0, 15.0), (D(2024, 3, 11), -5.0, None)]
    assert likely_cause(kpi, utc_query, ROWS, "UTC", "America/New_York") == "bucketed by the UTC day, not America/New_York"
    moved = moved_rows(kpi, ROWS, D(2024, 3, 10), "UTC", "America/New_York")
    assert any("2024-03-10 04:59:59" in line and "local bucket 2024-03-09" in line for line in moved)


def test_diagnoses_soft_deletes_and_scale():
    kpi = contract()
    with_deleted = expected_buckets(contract(exclude_deleted=False), ROWS, "UTC", "America/New_York")
    assert likely_cause(kpi, with_deleted, ROWS, "UTC", "America/New_York").startswith("counts soft-deleted rows")
    unscaled = expected_buckets(contract(scale=1.0), ROWS, "UTC", "America/New_York")
    assert likely_cause(kpi, unscaled, ROWS, "UTC", "America/New_York") == "ignores the minor-unit scale"


def test_history_rows_are_excluded_only_when_inactive():
    rows = [{"created": "2024-01-02 12:00:00", "amount": "100", "type": "charge", "_fivetran_active": a} for a in (True, False, None, "false")]
    assert expected_buckets(contract(exclude_history=True), rows, "UTC", "UTC") == {D(2024, 1, 2): 2.0}


def source(*flags: ColumnSpec) -> TableSpec:
    base = (ColumnSpec("created", "timestamp"), ColumnSpec("amount", "bigint"), ColumnSpec("type", "varchar"))
    return TableSpec("balance_transaction", "stripe", "balance_transaction", base + flags)


UNDECLARED = source(ColumnSpec("_fivetran_deleted", "boolean"), ColumnSpec("is_deleted", "boolean"))
DECLARED = source(ColumnSpec("_fivetran_deleted", "boolean"), ColumnSpec("is_deleted", "boolean", role="deleted"))
# One row live, one deleted by each flag, one with both flags NULL (live): amounts tell them apart.
FLAGGED = [
    {"created": "2024-01-02 12:00:00", "amount": amount, "type": "charge", "_fivetran_deleted": fivetran, "is_deleted": source_flag}
    for amount, fivetran, source_flag in (("100", False, False), ("200", "true", False), ("400", False, True), ("800", None, None))
]


def test_exclude_deleted_follows_the_declared_roles_and_guesses_no_other_name():
    assert expected_buckets(contract(), FLAGGED, "UTC", "UTC", UNDECLARED) == {D(2024, 1, 2): 13.0}
    assert expected_buckets(contract(), FLAGGED, "UTC", "UTC") == {D(2024, 1, 2): 13.0}  # no table: Fivetran's flag only
    assert expected_buckets(contract(), FLAGGED, "UTC", "UTC", DECLARED) == {D(2024, 1, 2): 9.0}
    assert expected_buckets(contract(exclude_deleted=False), FLAGGED, "UTC", "UTC", DECLARED) == {D(2024, 1, 2): 15.0}


def test_a_declared_active_column_decides_history_rows():
    table = source(ColumnSpec("is_current", "boolean", role="active"), ColumnSpec("_fivetran_active", "varchar"))
    rows = [{"created": "2024-01-02 12:00:00", "amount": "100", "type": "charge", "is_current": current, "_fivetran_active": "false"}
            for current in (True, False, None, "f")]
    assert expected_buckets(contract(exclude_history=True), rows, "UTC", "UTC", table) == {D(2024, 1, 2): 2.0}


def test_likely_cause_names_the_delete_flag_the_query_ignores():
    kpi = contract()
    only_fivetran = expected_buckets(kpi, FLAGGED, "UTC", "UTC", UNDECLARED)  # the board filters _fivetran_deleted only
    assert likely_cause(kpi, only_fivetran, FLAGGED, "UTC", "UTC", DECLARED) == "counts soft-deleted rows (is_deleted = true)"
    neither = expected_buckets(contract(exclude_deleted=False), FLAGGED, "UTC", "UTC")
    assert likely_cause(kpi, neither, FLAGGED, "UTC", "UTC", DECLARED) == "counts soft-deleted rows (_fivetran_deleted or is_deleted = true)"
    assert likely_cause(kpi, neither, FLAGGED, "UTC", "UTC", UNDECLARED) == "counts soft-deleted rows (_fivetran_deleted = true)"


def test_filter_hints_name_the_role_columns():
    assert deleted_filter_hint(DECLARED) == "NOT COALESCE(_fivetran_deleted, FALSE) AND NOT COALESCE(is_deleted, FALSE)"
    assert deleted_filter_hint(UNDECLARED) == deleted_filter_hint(None) == "NOT COALESCE(_fivetran_deleted, FALSE)"
    assert history_filter_hint(None) == "COALESCE(_fivetran_active, TRUE)"
    assert history_filter_hint(source(ColumnSpec("Is Current", "boolean", role="active"))) == 'COALESCE("Is Current", TRUE)'
    assert "role: active" in history_filter_hint(UNDECLARED)


def test_source_table_by_key_then_by_unique_name():
    history = TableSpec("salesforce_history.opportunity", "salesforce_history", "opportunity", ())
    live = TableSpec("opportunity", "salesforce", "opportunity", ())
    version = ConnectorVersion("salesforce", "1", {"salesforce.opportunity": live, "salesforce_history.opportunity": history}, (), SourceSpan(__file__))
    assert source_table(version, contract(table="opportunity")) is live
    assert source_table(version, contract(table="salesforce_history.opportunity")) is history
    assert source_table(version, contract(table="account")) is None
