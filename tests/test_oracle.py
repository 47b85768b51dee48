"""The KPI oracle: zones, grains, filters, deletes, history, scale and diagnosis."""

from __future__ import annotations

import datetime as dt

from pytest_dashpacks.errors import SourceSpan
from pytest_dashpacks.model import KpiContract, KpiSource
from pytest_dashpacks.oracle import compare, expected_buckets, likely_cause, moved_rows, query_buckets

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


def test_exclude_deleted_honours_the_source_delete_flag_too():
    rows = [{"created": "2024-01-02 12:00:00", "amount": "100", "type": "charge", "is_deleted": d} for d in (True, False, None, "true")]
    assert expected_buckets(contract(), rows, "UTC", "UTC") == {D(2024, 1, 2): 2.0}
