"""--dashpacks-changed and --dashpacks-since (issue #9): run only what changed, never skip what failed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import GOOD_BOARD, GOOD_PACK, REPO, good_pack, outcomes_by_node

import pytest_dashpacks

# Static items and execute: every input kind shows in them, and they run in seconds.
SELECT = ("-m", "dashpacks_static or dashpacks_execute", "-p", "no:randomly", "-rA")
BY_PRIORITY = "packs/demo/boards/support.yml::by_priority::"
DAILY = "packs/demo/boards/support.yml::daily::"


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, str]]:
    result = pytester.runpytest("--dashpacks", "--dashpacks-changed", "packs", *SELECT, *args)
    return result, outcomes_by_node(result)


@pytest.fixture
def demo(packs, pytester: pytest.Pytester) -> dict[str, str]:
    """The demo pack with its own copy of the zendesk fixtures, run once: every item passed."""
    packs(good_pack("demo"))
    shutil.copytree(REPO / "connector_fixtures" / "zendesk", pytester.path / "connector_fixtures" / "zendesk")
    _, first = run(pytester)
    assert first and set(first.values()) == {"PASSED"}
    result, second = run(pytester)
    assert second == {} and result.ret == pytest.ExitCode.OK  # nothing changed: nothing runs, and that is a pass
    result.stdout.fnmatch_lines([f"dashpacks: not run: {len(first)} items unchanged since they last passed"])
    return first


def edit(pytester: pytest.Pytester, name: str, old: str, new: str) -> None:
    path = pytester.path / name
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_editing_one_query_reruns_that_query_only(demo, pytester):
    edit(pytester, "packs/demo/boards/support.yml", "SELECT priority, COUNT(*) AS tickets", "SELECT priority, COUNT(id) AS tickets")
    _, ran = run(pytester)
    # The board's and the pack's load items read the whole board; the other query's items are left out.
    assert set(ran) == {n for n in demo if n.startswith(BY_PRIORITY)} | {"packs/demo/boards/support.yml::load", "packs/demo/pack.yml::load"}


def test_a_variable_default_changes_the_rendered_sql_of_the_queries_using_it(demo, pytester):
    edit(pytester, "packs/demo/boards/support.yml", '["2024-01-01", "2024-12-31"]', '["2024-01-01", "2024-06-30"]')
    _, ran = run(pytester)
    assert {n for n in ran if n.startswith(DAILY)} == {n for n in demo if n.startswith(DAILY)}
    assert "packs/demo/boards/support.yml::load" in ran  # the board's own item reads the whole board


def test_a_chart_binding_reruns_the_query_it_binds(demo, pytester):
    edit(pytester, "packs/demo/boards/support.yml", "split: {type: bar, query: by_priority, x: priority, y: tickets}",
         "split: {type: bar, query: by_priority, x: priority, y: tickets, color: priority}")
    _, ran = run(pytester)
    assert f"{BY_PRIORITY}bindings" in ran
    assert not any(n.startswith(DAILY) for n in ran)


def test_a_meta_yml_the_board_inherits_reruns_its_load_and_queries(demo, pytester):
    (pytester.path / "packs/demo/boards/meta.yml").write_text("variables:\n  region: {input: select, default: us}\n", "utf-8")
    _, ran = run(pytester)
    assert "packs/demo/boards/support.yml::load" in ran
    assert f"{DAILY}syntax" in ran and f"{BY_PRIORITY}syntax" in ran  # the inherited variable is the board's too


def test_the_memo_forgets_the_items_of_a_deleted_board(demo, pytester):
    (pytester.path / "packs/demo/boards/other.yml").write_text(GOOD_BOARD, "utf-8")
    run(pytester)
    memo_file = pytester.path / ".pytest_cache/v/dashpacks/passed-inputs"
    assert any("boards/other.yml::" in n for n in json.loads(memo_file.read_text()))
    (pytester.path / "packs/demo/boards/other.yml").unlink()
    run(pytester)
    memo = json.loads(memo_file.read_text())
    assert memo and not any("boards/other.yml::" in n for n in memo)


def test_pack_yml_reruns_the_whole_pack(demo, pytester):
    edit(pytester, "packs/demo/pack.yml", "targets: [snowflake]", "targets: [snowflake, bigquery]")
    _, ran = run(pytester)
    assert set(demo) <= set(ran) and f"{DAILY}transpile[bigquery]" in ran


@pytest.mark.parametrize("name, old, new", [
    ("connector_fixtures/zendesk/connector.yml", "description: One row per ticket (latest state).",
     "description: One row per ticket, its latest state."),
    ("connector_fixtures/zendesk/seed/ticket.csv", "\n", "\n"),  # replaced below: a changed row
    ("connector_fixtures/zendesk/models/zendesk__ticket_enriched.sql", "\n", "\n-- a comment\n"),
], ids=["connector version", "seed", "model"])
def test_the_connector_fixtures_rerun_every_item_of_their_packs(demo, pytester, name, old, new):
    if name.endswith(".csv"):
        path = pytester.path / name
        path.write_text(path.read_text("utf-8") + path.read_text("utf-8").splitlines()[-1] + "\n", "utf-8")
    else:
        edit(pytester, name, old, new)
    _, ran = run(pytester)
    assert set(ran) == set(demo)


def test_the_plugin_version_reruns_everything(demo, pytester, monkeypatch):
    monkeypatch.setattr(pytest_dashpacks, "__version__", pytest_dashpacks.__version__ + ".post1")
    _, ran = run(pytester)
    assert set(ran) == set(demo)


def test_an_option_that_changes_results_reruns_everything_and_one_that_does_not_does_not(demo, pytester):
    _, ran = run(pytester, "--dashpacks-query-timeout", "5")
    assert set(ran) == set(demo)
    _, ran = run(pytester, "--dashpacks-query-timeout", "5", "--dashpacks-report", "report.json")
    assert ran == {}


def test_a_failing_item_is_never_left_out(packs, pytester):
    broken = GOOD_BOARD.replace("SELECT priority, COUNT(*)", "SELECT priorty, COUNT(*)")
    packs(good_pack("demo", board=broken, pack=GOOD_PACK))
    _, first = run(pytester)
    failed = {n for n, outcome in first.items() if outcome == "FAILED"}
    assert f"{BY_PRIORITY}schema[zendesk@2025-03]" in failed
    for _ in range(2):
        result, again = run(pytester)
        assert {n for n, outcome in again.items() if outcome == "FAILED"} == failed
        assert not any(n.startswith(DAILY) for n in again)  # the passing query is left out
        assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_xdist_workers_leave_out_the_same_items_and_the_controller_keeps_the_memo(packs, pytester):
    packs(good_pack("demo"))
    first = pytester.runpytest("--dashpacks", "--dashpacks-changed", "packs", *SELECT, "-n", "2")
    first.assert_outcomes(passed=len([n for n in outcomes_by_node(first)]))
    second = pytester.runpytest("--dashpacks", "--dashpacks-changed", "packs", *SELECT, "-n", "2")
    assert second.ret == pytest.ExitCode.OK and outcomes_by_node(second) == {}
    second.stdout.fnmatch_lines([f"dashpacks: not run: {len(outcomes_by_node(first))} items unchanged since they last passed"])


def test_without_the_cache_plugin_changed_is_a_usage_error(packs, pytester):
    packs(good_pack("demo"))
    result = pytester.runpytest("--dashpacks", "--dashpacks-changed", "packs", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dashpacks-changed keeps its memo in pytest's cache*"])


# --- --dashpacks-since ------------------------------------------------------------------


def git(pytester: pytest.Pytester, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=pytester.path, check=True,
                   capture_output=True)


@pytest.fixture
def two_packs(packs, pytester: pytest.Pytester) -> None:
    packs({**good_pack("demo"), **good_pack("other")})
    shutil.copytree(REPO / "connector_fixtures" / "zendesk", pytester.path / "connector_fixtures" / "zendesk")
    git(pytester, "init", "-q", "-b", "main")
    git(pytester, "add", "-A")
    git(pytester, "commit", "-q", "-m", "packs")


def since(pytester: pytest.Pytester, ref: str = "main") -> tuple[pytest.RunResult, set[str]]:
    result = pytester.runpytest("--dashpacks", "--dashpacks-since", ref, "packs", "-m", "dashpacks_static", "-p", "no:randomly", "-rA")
    return result, {n.split("/")[1] for n in outcomes_by_node(result)}


def test_since_runs_only_the_packs_that_differ_from_the_ref(two_packs, pytester):
    result, ran = since(pytester)
    assert ran == set() and result.ret == pytest.ExitCode.OK
    edit(pytester, "packs/other/boards/support.yml", "COUNT(*) AS tickets\n      FROM", "COUNT(id) AS tickets\n      FROM")
    result, ran = since(pytester)
    assert ran == {"other"}
    result.stdout.fnmatch_lines(["dashpacks: not run: * items of packs unchanged since main"])
    (pytester.path / "packs/demo/boards/new.yml").write_text(GOOD_BOARD, "utf-8")  # untracked files count too
    assert since(pytester)[1] == {"demo", "other"}


def test_since_follows_the_connector_fixtures(two_packs, pytester):
    edit(pytester, "connector_fixtures/zendesk/connector.yml", "description: One row per ticket (latest state).",
         "description: One row per ticket, its latest state.")
    assert since(pytester)[1] == {"demo", "other"}


def test_since_an_unknown_ref_is_a_usage_error(two_packs, pytester):
    result, _ = since(pytester, "no-such-ref")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dashpacks-since: git diff --name-only --no-renames no-such-ref -- in *"])



KPI_PACK = GOOD_PACK.replace("timezone: America/New_York", "timezone: UTC") + """\
kpis:
  daily_tickets:
    board: tickets
    query: daily
    grain: day
    time_column: day
    measure_column: tickets
    source: {table: ticket, timestamp: created_at, value: count}
"""
KPI_BOARD = """\
title: Tickets
queries:
  daily: |
    SELECT CAST(created_at AS DATE) AS day, COUNT(*) AS tickets
    FROM zendesk.ticket
    GROUP BY 1
charts:
  trend: {type: line, query: daily, x: day, y: tickets}
rows: [trend]
"""


def test_a_kpi_reruns_when_its_query_changes_not_when_another_does(packs, pytester):
    packs({**good_pack("demo", pack=KPI_PACK), "packs/demo/boards/tickets.yml": KPI_BOARD})
    select = ("-m", "dashpacks_static or dashpacks_kpi")
    _, first = run(pytester, *select)
    assert first["packs/demo/pack.yml::kpi[daily_tickets]"] == "PASSED"
    edit(pytester, "packs/demo/boards/support.yml", "SELECT priority, COUNT(*) AS tickets", "SELECT priority, COUNT(id) AS tickets")
    _, ran = run(pytester, *select)
    assert ran and "packs/demo/pack.yml::kpi[daily_tickets]" not in ran
    edit(pytester, "packs/demo/boards/tickets.yml", "GROUP BY 1", "GROUP BY day")
    _, ran = run(pytester, *select)
    assert ran["packs/demo/pack.yml::kpi[daily_tickets]"] == "PASSED"


LEDGER = """\
defects:
  - {id: DEF-9, title: a pinned defect, connector: zendesk, pack: demo, class: volume, status: fixed, reports: 1, severity: low}
"""
PIN_TEST = """\
import pytest


@pytest.mark.dashpacks_pin("DEF-9", defect_class="volume", connector="zendesk")
def test_pin():
    pass
"""


def test_a_ledger_item_pinned_by_a_python_test_is_always_judged_again(packs, pytester):
    packs({**good_pack("demo"), "defects.yml": LEDGER, "test_pin.py": PIN_TEST})
    args = ("--dashpacks-ledger", "defects.yml", "packs", "test_pin.py", "-m", "dashpacks_static or dashpacks_ledger or not dashpacks")
    first = outcomes_by_node(pytester.runpytest("--dashpacks", "--dashpacks-changed", *args, "-rA", "-p", "no:randomly"))
    assert first["packs/demo/pack.yml::ledger[DEF-9]"] == "PASSED"
    (pytester.path / "test_pin.py").write_text(PIN_TEST.replace('@pytest.mark.dashpacks_pin("DEF-9", defect_class="volume", connector="zendesk")\n', ""))
    again = outcomes_by_node(pytester.runpytest("--dashpacks", "--dashpacks-changed", *args, "-rA", "-p", "no:randomly"))
    assert again["packs/demo/pack.yml::ledger[DEF-9]"] == "FAILED"  # its pin is gone, though no pack file changed


YAML_PIN = """\
id: DEF-9
title: tickets by priority
class: volume
board: support
query: by_priority
now: '2024-06-03T14:00:00Z'
timezone: America/New_York
data:
  ticket:
    - {id: 1, status: open, priority: high, created_at: "2024-06-01 14:00:00", _fivetran_deleted: false}
    - {id: 2, status: open, priority: high, created_at: "2024-06-02 14:00:00", _fivetran_deleted: false}
expect:
  rows: [{priority: high, tickets: 2}]
"""


def test_a_ledger_item_pinned_by_a_regression_case_reruns_only_when_the_pack_or_ledger_changes(packs, pytester):
    """Its YAML pin is all it judges, so it is left out like the regression case itself."""
    packs({**good_pack("demo"), "defects.yml": LEDGER, "packs/demo/regressions/DEF-9.yml": YAML_PIN})
    args = ("--dashpacks", "--dashpacks-changed", "--dashpacks-ledger", "defects.yml", "packs", "-m", "dashpacks_ledger or dashpacks_regression",
            "-rA", "-p", "no:randomly")
    pinned = {"packs/demo/pack.yml::ledger[DEF-9]", "packs/demo/regressions/DEF-9.yml::DEF-9"}
    first = outcomes_by_node(pytester.runpytest(*args))
    assert {n: first.get(n) for n in pinned} == dict.fromkeys(pinned, "PASSED")
    assert not pinned & set(outcomes_by_node(pytester.runpytest(*args)))  # nothing changed: both left out
    edit(pytester, "packs/demo/regressions/DEF-9.yml", "tickets: 2}", "tickets: 3}")
    again = outcomes_by_node(pytester.runpytest(*args))
    assert {n: again.get(n) for n in pinned} == dict.fromkeys(pinned, "FAILED")
    edit(pytester, "packs/demo/regressions/DEF-9.yml", "tickets: 3}", "tickets: 2}")
    back = outcomes_by_node(pytester.runpytest(*args))  # it failed since: it runs, though its inputs are as when it passed
    assert {n: back.get(n) for n in pinned} == dict.fromkeys(pinned, "PASSED")
    edit(pytester, "defects.yml", "reports: 1", "reports: 2")
    assert "packs/demo/pack.yml::ledger[DEF-9]" in outcomes_by_node(pytester.runpytest(*args))  # the ledger is an input


def test_a_ledger_id_that_leaves_the_pack_is_never_read_as_its_pin(packs, pytester):
    """``../shared/DEF-9`` is not a file name: the file it points to outside the pack is not the pin, and
    the item, pinned by nothing then, runs (and fails) every time."""
    ledger = LEDGER.replace("id: DEF-9", "id: ../../shared/DEF-9")
    packs({**good_pack("demo"), "defects.yml": ledger, "packs/demo/regressions/.keep": "", "packs/shared/DEF-9.yml": YAML_PIN})
    args = ("--dashpacks", "--dashpacks-changed", "--dashpacks-ledger", "defects.yml", "packs", "-m", "dashpacks_ledger", "-rA", "-p", "no:randomly")
    for _ in range(2):
        result = pytester.runpytest(*args)
        assert outcomes_by_node(result) == {"packs/demo/pack.yml::ledger[../../shared/DEF-9]": "FAILED"}
        result.stdout.fnmatch_lines(["*is marked fixed but has no pin*"])


def test_since_sees_fixtures_outside_the_rootdir_and_names_git_would_quote(packs, pytester):
    packs({**{f"sub/{name}": text.replace("connector: zendesk", "connector: zendesk\nfixtures: ../../../fixtures")
              for name, text in good_pack("demo").items()}, "sub/pytest.ini": "[pytest]\n"})
    shutil.copytree(REPO / "connector_fixtures" / "zendesk", pytester.path / "fixtures" / "zendesk")
    (pytester.path / "sub/packs/demo/boards/résumé.yml").write_text(GOOD_BOARD, "utf-8")
    git(pytester, "init", "-q", "-b", "main")
    git(pytester, "add", "-A")
    git(pytester, "commit", "-q", "-m", "packs")

    def ran() -> int:
        result = subprocess.run([sys.executable, "-m", "pytest", "--dashpacks", "--dashpacks-since", "main", "packs", "-m",
                                 "dashpacks_static", "-p", "no:randomly", "-p", "no:cacheprovider", "-q"],
                                cwd=pytester.path / "sub", capture_output=True, text=True)
        found = [line for line in result.stdout.splitlines() if " passed" in line or " failed" in line]
        return int(found[-1].split(" passed")[0].split()[-1]) if found and " passed" in found[-1] else 0

    assert ran() == 0
    edit(pytester, "fixtures/zendesk/connector.yml", "description: One row per ticket (latest state).",
         "description: One row per ticket, its latest state.")
    assert ran() > 0  # the pack's connector lives outside the rootdir (sub/), in the same repository
    git(pytester, "commit", "-q", "-am", "fixtures")
    assert ran() == 0
    edit(pytester, "sub/packs/demo/boards/résumé.yml", "COUNT(*) AS tickets\n      FROM", "COUNT(id) AS tickets\n      FROM")
    assert ran() > 0  # git quotes this name unless asked not to
