"""Small pins: --dashpacks-pin-dir shrinks the failing item's rows, writes YAML types, and writes
``expect`` as the right answer, so a pin fails while its defect is there and passes once it is fixed."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, outcomes_by_node

from pytest_dashpacks.engines.results import native
from pytest_dashpacks.report.pinning import edited, pin_id, stamped
from pytest_dashpacks.report.shrinking import Budget, ddmin, drop_columns, shrink_rows

FAST = ("-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "500")
ZONE_OPT_OUT = 'checks:\n  skip: [{check: zone, query: "*", reason: "the zone item would report it first; exercise the data items"}]\n'

# Gallery KPI defects: slug -> kpi name (their KPI items fail on the boundary data).
KPI_DEFECTS = {
    "wrong_zone_bucketing": "daily_net_revenue",
    "soft_deletes": "daily_tickets",
    "history_rows": "new_subscriptions",
    "fan_out": "daily_sales",
    "integer_division": "daily_gross",
}


# --- shrinking, pure -------------------------------------------------------------------


def charging(budget: Budget, predicate):
    """``predicate`` charging the budget one run per call, as the query runs do."""

    def fails(candidate):
        budget.spent += 1
        return predicate(candidate)

    return fails


def test_ddmin_finds_a_one_minimal_subset():
    budget = Budget(runs=500, seconds=60)
    assert ddmin(range(2000), charging(budget, lambda items: {17, 512, 1900} <= set(items)), budget) == [17, 512, 1900]
    assert budget.spent < 100


def test_ddmin_tries_the_empty_set_for_failures_that_need_no_rows():
    budget = Budget(runs=100, seconds=60)
    assert ddmin(list(range(50)), charging(budget, lambda items: True), budget) == []


def test_ddmin_stops_at_its_budget_with_a_failing_subset():
    budget = Budget(runs=5, seconds=60)
    kept = ddmin(range(1000), charging(budget, lambda items: 3 in items and 900 in items), budget)
    assert budget.spent == 5 and 3 in kept and 900 in kept and len(kept) < 1000


def test_shrink_rows_works_across_tables_and_drop_columns_keeps_what_the_failure_needs():
    rows = {
        "order": [{"id": i, "total": 10, "note": "x"} for i in range(40)],
        "line": [{"id": i, "order_id": i % 40, "qty": 1} for i in range(80)],
    }

    def fan_out(data):  # order 7 with two lines, as a join fan-out needs
        orders = {r["id"] for r in data["order"] if r.get("total") is not None}
        return 7 in orders and sum(1 for r in data["line"] if r.get("order_id") == 7) >= 2

    budget = Budget(runs=1000, seconds=60)
    small = shrink_rows(rows, fan_out, budget)
    assert small["order"] == [{"id": 7, "total": 10, "note": "x"}]
    assert [r["id"] for r in small["line"]] == [7, 47]
    narrow = drop_columns(small, fan_out, budget, keep=lambda table, column: column == "id")
    assert narrow == {"order": [{"id": 7, "total": 10}], "line": [{"id": 7, "order_id": 7}, {"id": 47, "order_id": 7}]}


def test_budget_counts_seconds_too():
    budget = Budget(runs=10**6, seconds=0.0)
    assert budget.exhausted and ddmin(list(range(10)), lambda c: True, budget) == list(range(10))


# --- file names, values, the edit stamp ------------------------------------------------


@pytest.mark.parametrize(("nodeid", "expected"), [
    ("packs/stripe_revenue/pack.yml::kpi[daily_net_revenue]", "PIN-stripe_revenue-kpi-daily_net_revenue"),
    ("packs/demo/boards/support.yml::today::clock[utc_midnight]", "PIN-demo-support-today-clock-utc_midnight"),
    ("packs/demo/boards/support.yml::daily::timezone[America/Los_Angeles]", "PIN-demo-support-daily-timezone-America-Los_Angeles"),
    ("packs/demo/boards/tickets.yml::by_stage::execute[hubspot@2025-07]", "PIN-demo-tickets-by_stage-execute-hubspot-2025-07"),
])
def test_pin_ids_name_pack_board_query_check_and_param(nodeid, expected):
    assert pin_id(nodeid, nodeid.split("/")[1]) == expected


def test_values_are_written_as_yaml_types():
    values = [1000, Decimal("12.50"), Decimal("7"), True, None, 0.5, dt.datetime(2024, 3, 10, 3, 30), dt.date(2024, 3, 9), "usd"]
    assert [native(v) for v in values] == [1000, 12.5, 7, True, None, 0.5, "2024-03-10 03:30:00", "2024-03-09", "usd"]
    assert yaml.safe_load(yaml.safe_dump([native(v) for v in values])) == [1000, 12.5, 7, True, None, 0.5, "2024-03-10 03:30:00", "2024-03-09", "usd"]


def test_a_stamped_pin_counts_as_edited_once_anything_changes():
    text = stamped("id: PIN-x\ntitle: pinned\n")
    assert not edited(text)
    assert edited(text.replace("title: pinned", "title: Daily revenue on the wrong day"))
    assert edited("id: PIN-x\ntitle: pinned\n")  # no stamp: written by hand


# --- end to end ------------------------------------------------------------------------


def copy_defect(root: Path, slug: str) -> None:
    shutil.copytree(EXAMPLES / "defects" / slug, root / slug)
    if slug in ("wrong_zone_bucketing", "session_zone"):  # zone-naive buckets: the static zone item would block the data items
        manifest = root / slug / "pack.yml"
        manifest.write_text(manifest.read_text() + ZONE_OPT_OUT)


def fix(root: Path, slug: str) -> None:
    """Give the pack its fixed twin's boards."""
    for board in (EXAMPLES / "defects" / f"{slug}__fixed" / "boards").glob("*.yml"):
        shutil.copy(board, root / slug / "boards" / board.name)


def column_types(slug: str, case: dict) -> dict[tuple[str, str], str]:
    from pytest_dashpacks.load.connectors import curated_fixture_root, find_connector, load_connector

    manifest = yaml.safe_load((EXAMPLES / "defects" / slug / "pack.yml").read_text())
    connector = load_connector(find_connector(manifest["connector"], [curated_fixture_root()]))
    version = next(v for v in connector.versions if v.name == case["schema_version"])
    return {(t.key, c.name): c.type for t in version.tables.values() for c in t.columns}


def assert_native(slug: str, case: dict) -> None:
    """Every data value has its column's YAML type: numbers are never quoted strings."""
    from pytest_dashpacks.data.kinds import column_kind

    types = column_types(slug, case)
    for table, rows in case["data"].items():
        for row in rows:
            for column, value in row.items():
                if value is None:
                    continue
                kind = column_kind(types[(table, column)]).kind
                if kind == "int":
                    assert type(value) is int, (slug, table, column, value)
                elif kind in ("decimal", "float"):
                    assert type(value) in (int, float), (slug, table, column, value)
                elif kind == "bool":
                    assert type(value) is bool, (slug, table, column, value)
                elif kind in ("timestamp", "date"):
                    assert isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d(\.\d+)?)?", value), (slug, table, column, value)


def data_rows(case: dict) -> int:
    return sum(len(rows) for rows in case["data"].values())


def test_gallery_kpi_defects_pin_small_cases_that_fail_until_fixed(pytester):
    for slug in KPI_DEFECTS:
        copy_defect(pytester.path, slug)
    result = pytester.runpytest("--dashpacks", *KPI_DEFECTS, "-m", "dashpacks_kpi", "--dashpacks-pin-dir", "pins", *FAST)
    assert outcomes_by_node(result) == {f"{slug}/pack.yml::kpi[{kpi}]": "FAILED" for slug, kpi in KPI_DEFECTS.items()}
    for slug, kpi in KPI_DEFECTS.items():
        path = pytester.path / "pins" / f"PIN-{slug}-kpi-{kpi}.yml"
        text = path.read_text()
        case = yaml.safe_load(text)
        assert case["id"] == path.stem and 1 <= data_rows(case) <= 20, (slug, data_rows(case))
        assert_native(slug, case)
        assert "# expect is the right answer: the oracle's" in text and not re.search(r": '-?\d+(\.\d+)?'", text)
        assert case["expect"]["rows"] and all(type(v) in (int, float) for row in case["expect"]["rows"] for k, v in row.items() if k != "day")
        (pytester.path / slug / "regressions").mkdir()
        shutil.move(str(path), pytester.path / slug / "regressions" / path.name)
    result.stdout.fnmatch_lines(["*pins/PIN-fan_out-kpi-daily_sales.yml: shrunk from * rows to * (* query runs, * s)"])

    as_written = pytester.runpytest("--dashpacks", *KPI_DEFECTS, "-m", "dashpacks_regression", *FAST)
    pins = {f"{slug}/regressions/PIN-{slug}-kpi-{kpi}.yml::PIN-{slug}-kpi-{kpi}" for slug, kpi in KPI_DEFECTS.items()}
    assert outcomes_by_node(as_written) == dict.fromkeys(pins, "FAILED")
    as_written.stdout.fnmatch_lines(["*PIN-integer_division-kpi-daily_gross.yml:*: PIN-integer_division-kpi-daily_gross: the pinned defect is back*"])

    for slug in KPI_DEFECTS:
        fix(pytester.path, slug)
    fixed = pytester.runpytest("--dashpacks", *KPI_DEFECTS, "-m", "dashpacks_regression", *FAST)
    assert outcomes_by_node(fixed) == dict.fromkeys(pins, "PASSED")


# slug -> (failing item, the pin it writes)
OTHER_DEFECTS = {
    "session_zone": ("boards/support.yml::daily::timezone[Asia/Kolkata]", "PIN-session_zone-support-daily-timezone-Asia-Kolkata"),
    "current_date": ("boards/support.yml::today::clock[utc_midnight]", "PIN-current_date-support-today-clock-utc_midnight"),
    "zero_denominator": ("boards/fees.yml::fee_rate::volume[zero]", "PIN-zero_denominator-fees-fee_rate-volume-zero"),
    "runtime_type_drift": ("boards/tickets.yml::by_stage::execute[hubspot@2025-07]", "PIN-runtime_type_drift-tickets-by_stage-execute-hubspot-2025-07"),
}


def test_timezone_clock_volume_and_execute_pins_fail_until_fixed(pytester):
    for slug in OTHER_DEFECTS:
        copy_defect(pytester.path, slug)
    items = [f"{slug}/{item}" for slug, (item, _) in OTHER_DEFECTS.items()]
    result = pytester.runpytest("--dashpacks", *items, "--dashpacks-pin-dir", "pins", *FAST)
    assert outcomes_by_node(result) == dict.fromkeys(items, "FAILED")
    written = sorted(p.stem for p in (pytester.path / "pins").glob("PIN-*.yml"))
    assert written == sorted(name for _, name in OTHER_DEFECTS.values())
    cases = {name: yaml.safe_load((pytester.path / "pins" / f"{name}.yml").read_text()) for name in written}
    timezone = cases["PIN-session_zone-support-daily-timezone-Asia-Kolkata"]
    assert timezone["timezone"] == "Asia/Kolkata" and data_rows(timezone) <= 3  # expect: the New York session's rows
    clock = cases["PIN-current_date-support-today-clock-utc_midnight"]
    assert clock["timezone"] == "UTC" and clock["now"] == "2024-06-15T00:00:30Z" and data_rows(clock) <= 3
    volume = cases["PIN-zero_denominator-fees-fee_rate-volume-zero"]
    assert data_rows(volume) == 1 and [row["fee_rate"] for row in volume["expect"]["rows"]] == [None]
    execute = cases["PIN-runtime_type_drift-tickets-by_stage-execute-hubspot-2025-07"]
    assert execute["data"] == {} and execute["expect"] == {"columns": ["stage", "tickets"]}
    for slug in OTHER_DEFECTS:
        assert_native(slug, next(c for n, c in cases.items() if n.startswith(f"PIN-{slug}-")))
        (pytester.path / slug / "regressions").mkdir()
    for name in written:
        slug = next(s for s in OTHER_DEFECTS if name.startswith(f"PIN-{s}-"))
        shutil.move(str(pytester.path / "pins" / f"{name}.yml"), pytester.path / slug / "regressions" / f"{name}.yml")

    as_written = pytester.runpytest("--dashpacks", *OTHER_DEFECTS, "-m", "dashpacks_regression", *FAST)
    assert sorted(outcomes_by_node(as_written).values()) == ["FAILED"] * 4
    for slug in OTHER_DEFECTS:
        fix(pytester.path, slug)
    fixed = pytester.runpytest("--dashpacks", *OTHER_DEFECTS, "-m", "dashpacks_regression", *FAST)
    assert sorted(outcomes_by_node(fixed).values()) == ["PASSED"] * 4


def test_property_case_means_what_a_pin_means(pytester):
    """The case a property failure prints expects the oracle's answer too: it fails as printed, passes once fixed."""
    copy_defect(pytester.path, "soft_deletes")
    result = pytester.runpytest("--dashpacks", "soft_deletes", "-m", "dashpacks_property", *FAST)
    block = result.stdout.str().split("save it under regressions/ and correct the id and title:\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("  ") or line.startswith("  pack.yml:"):
            break
        lines.append(line[2:])
    text = "\n".join(lines) + "\n"
    assert "# expect is the right answer: the oracle's day buckets of kpi daily_tickets" in text
    case = yaml.safe_load(text)
    assert_native("soft_deletes", case)
    assert data_rows(case) <= 3 and any(row.get("_fivetran_deleted") is True for row in case["data"]["ticket"])
    (pytester.path / "soft_deletes" / "regressions").mkdir()
    (pytester.path / "soft_deletes" / "regressions" / "PROP-daily_tickets.yml").write_text(text)
    node = "soft_deletes/regressions/PROP-daily_tickets.yml::PROP-daily_tickets"
    assert outcomes_by_node(pytester.runpytest("--dashpacks", "soft_deletes", "-m", "dashpacks_regression", *FAST)) == {node: "FAILED"}
    fix(pytester.path, "soft_deletes")
    assert outcomes_by_node(pytester.runpytest("--dashpacks", "soft_deletes", "-m", "dashpacks_regression", *FAST)) == {node: "PASSED"}


def test_an_edited_pin_is_never_overwritten(pytester):
    copy_defect(pytester.path, "soft_deletes")
    run = ("--dashpacks", "soft_deletes", "-m", "dashpacks_kpi", "--dashpacks-pin-dir", "pins", *FAST)
    pytester.runpytest(*run)
    path = pytester.path / "pins" / "PIN-soft_deletes-kpi-daily_tickets.yml"
    first = path.read_text()
    pytester.runpytest(*run)
    assert path.read_text() == first  # unedited: written again, the same bytes
    mine = first.replace("title: pinned from soft_deletes/pack.yml::kpi[daily_tickets]", "title: Deleted tickets kept counting")
    path.write_text(mine)
    again = pytester.runpytest(*run)
    assert path.read_text() == mine
    again.stdout.fnmatch_lines(["*pins/PIN-soft_deletes-kpi-daily_tickets.yml: kept, edited since it was written*"])


def test_pins_written_under_xdist_are_the_serial_ones(pytester):
    copy_defect(pytester.path, "fan_out")
    for workers, directory in (("0", "serial"), ("2", "xdist")):
        pytester.runpytest("--dashpacks", "fan_out", "-m", "dashpacks_kpi", "-n", workers, "--dashpacks-pin-dir", directory, *FAST)
    serial = (pytester.path / "serial" / "PIN-fan_out-kpi-daily_sales.yml").read_text()
    assert (pytester.path / "xdist" / "PIN-fan_out-kpi-daily_sales.yml").read_text() == serial
    assert data_rows(yaml.safe_load(serial)) <= 20
