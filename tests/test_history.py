"""--dashpacks-history: what a line records, which runs are recorded, trends over complete runs only,
torn lines, and concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

import pytest

import pytest_dashpacks
from conftest import GOOD_BOARD, good_pack
from pytest_dashpacks.report.stability import StabilityReport
from pytest_dashpacks.report.history import append_history, git_commit, read_history

# Three queries, each selecting a column zendesk.ticket lacks: three root-cause failures.
THREE_BROKEN = GOOD_BOARD.replace("SELECT priority,", "SELECT priorty,").replace(
    "SELECT CAST(created_at AS DATE) AS day, COUNT(*) AS tickets", "SELECT CAST(created_att AS DATE) AS day, COUNT(*) AS tickets"
).replace("charts:", """  by_status: SELECT statuss, COUNT(*) AS tickets FROM zendesk.ticket GROUP BY 1
charts:""")
OUTPUTS = ("--dashpacks-history", "h.jsonl", "--dashpacks-report", "report.json", "--dashpacks-html", "report.html")
# A complete run: no paths, -k or -m (the pytester directory is the invocation directory and rootdir).
COMPLETE = ("--dashpacks", "-p", "no:cacheprovider", "--dashpacks-large-rows", "100")


def lines(pytester) -> list[dict]:
    path = pytester.path / "h.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_line_records_time_commit_version_and_completeness(packs, pytester):
    packs(good_pack("demo"))
    git = ("git", "-c", "user.name=t", "-c", "user.email=t@example.com")
    subprocess.run([*git[:1], "init", "-q"], cwd=pytester.path, check=True)
    subprocess.run([*git, "add", "."], cwd=pytester.path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "packs"], cwd=pytester.path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=pytester.path, capture_output=True, text=True, check=True).stdout.strip()
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl")
    [line] = lines(pytester)
    assert line["commit"] == head and line["version"] == pytest_dashpacks.__version__
    moment = dt.datetime.fromisoformat(line["time"])
    assert moment.utcoffset() == dt.timedelta(0) and before <= moment <= dt.datetime.now(dt.timezone.utc)
    assert line["complete"] is True and line["narrowed_by"] == []


@pytest.mark.parametrize(("args", "narrowed_by"), [
    (("-k", "by_priority"), ["-k"]),
    (("-m", "dashpacks_load"), ["-m"]),
    (("--deselect", "packs/demo/pack.yml::load"), ["--deselect"]),
    (("packs/demo/boards",), ["paths"]),
    (("packs/demo/boards/support.yml::daily",), ["paths"]),
    (("--dashpacks-regressions",), None),  # no pin to run: nothing ran, nothing recorded
    (("-x",), ["stopped early"]),
])
def test_narrowed_runs_say_how(packs, pytester, args, narrowed_by):
    packs(good_pack("demo", board=THREE_BROKEN))
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", *args)
    recorded = lines(pytester)
    if narrowed_by is None:
        assert recorded == []
        return
    assert [(line["complete"], line["narrowed_by"]) for line in recorded] == [(False, narrowed_by)]


def test_lf_with_recorded_failures_narrows_and_ff_does_not(packs, pytester):
    packs(good_pack("demo", board=THREE_BROKEN))
    with_cache = ("--dashpacks", "--dashpacks-large-rows", "100", "--dashpacks-history", "h.jsonl")
    for extra in ((), ("--ff",), ("--lf",)):
        pytester.runpytest(*with_cache, *extra)
    assert [line["narrowed_by"] for line in lines(pytester)] == [[], [], ["--lf"]]


def test_a_complete_run_under_xdist_is_complete(packs, pytester):
    packs(good_pack("demo"))
    pytester.runpytest_subprocess(*COMPLETE, "--dashpacks-history", "h.jsonl", "-n", "2")
    assert [(line["complete"], line["narrowed_by"]) for line in lines(pytester)] == [(True, [])]


def test_explicit_paths_that_cover_testpaths_are_complete(packs, pytester):
    packs(good_pack("demo"))
    pytester.makeini("[pytest]\ntestpaths = packs\n")
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", "packs")
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl")
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", "packs/demo")
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", ".")
    with pytest.MonkeyPatch.context() as patch:  # a bare pytest from a subdirectory collects only that subtree
        patch.chdir(pytester.path / "packs/demo")
        pytester.runpytest(*COMPLETE, "--dashpacks-history", "../../h.jsonl")
    assert [line["narrowed_by"] for line in lines(pytester)] == [[], [], ["paths"], [], ["paths"]]


def test_runs_that_run_no_dashpacks_item_write_nothing(packs, pytester):
    packs(good_pack("demo"))
    pytester.runpytest(*COMPLETE, *OUTPUTS)
    files = {name: (pytester.path / name).read_bytes() for name in ("h.jsonl", "report.json", "report.html")}
    assert len(lines(pytester)) == 1
    for args in (("--collect-only",), ("-k", "no_such_item"), ("-m", "no_such_marker")):
        result = pytester.runpytest(*COMPLETE, *OUTPUTS, *args)
        result.stdout.fnmatch_lines(["dashpacks: no dashpacks item ran: report, html and history left as they were"])
    # A usage error: a pin marker without its defect id.
    pytester.makepyfile(test_pin="import pytest\n\n@pytest.mark.dashpacks_pin()\ndef test_pin():\n    pass\n")
    assert pytester.runpytest(*COMPLETE, *OUTPUTS).ret == pytest.ExitCode.USAGE_ERROR
    assert {name: (pytester.path / name).read_bytes() for name in files} == files


def test_an_interrupted_run_is_not_recorded(packs, pytester):
    packs({**good_pack("demo"), "test_stop.py": "def test_stop():\n    raise KeyboardInterrupt\n"})
    result = pytester.runpytest_subprocess(*COMPLETE, "--dashpacks-history", "h.jsonl")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["dashpacks: the run was interrupted: report, html and history left as they were"])
    assert lines(pytester) == []


def earlier(failed: int, *, complete: bool | None, time: str) -> str:
    line = {"schema_version": "1", "time": time, "totals": {"passed": 10, "failed": failed},
            "connectors": {"zendesk": {"passed": 10, "failed": failed}}, "failed": [], "failures": [], "ledger_open": 0}
    if complete is not None:  # None: a line written before runs recorded completeness
        line["complete"] = complete
    return json.dumps(line)


def test_trends_compare_complete_runs_only_and_three_to_zero_is_improving(packs, pytester):
    packs({**good_pack("demo", board=THREE_BROKEN), "h.jsonl": "\n".join([
        earlier(9, complete=None, time="2025-03-01T08:00:00+00:00"),  # completeness unknown: not compared
        earlier(3, complete=True, time="2025-03-02T08:00:00+00:00"),
    ]) + "\n"})
    narrowed = pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", "-k", "priority")
    narrowed.stdout.fnmatch_lines([
        "trend, failed items over the last 1 complete run (oldest first):",
        "  zendesk    3  (steady)",
        "this run is narrowed (-k): recorded, but left out of trends",
    ])
    (pytester.path / "packs/demo/boards/support.yml").write_text(GOOD_BOARD)
    complete = pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", "--dashpacks-report", "report.json")
    complete.stdout.fnmatch_lines([
        "trend, failed items over the last 2 complete runs (oldest first):",
        "  zendesk    3 -> 0  (improving)",
    ])
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["trends"] == {"zendesk": [3, 0]}
    assert [(line.get("complete"), line["totals"]["failed"]) for line in lines(pytester)] == [(None, 9), (True, 3), (False, 1), (True, 0)]


def test_repeat_offenders_count_every_recorded_run(packs, pytester):
    packs(good_pack("demo", board=THREE_BROKEN))
    pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl")
    result = pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl", "-k", "priority")  # narrowed, still counted
    result.stdout.fnmatch_lines([
        "repeat offenders (failing in 2 or more of the last 5 runs): 1",
        "  packs/demo/boards/support.yml::by_priority::schema?zendesk@2025-03?  (2 of 2)",
    ])


def test_torn_and_corrupt_lines_are_skipped_and_named(packs, pytester):
    good = earlier(3, complete=True, time="2025-03-02T08:00:00+00:00")
    history = (good + "\n" + good[:40] + "\n" + "[1, 2]\n" + '{"connectors": "zendesk"}\n' + "\n").encode() + b"\xff\xfe garbage\n" + good[:25].encode()
    packs({**good_pack("demo"), "h.jsonl": history})
    result = pytester.runpytest(*COMPLETE, "--dashpacks-history", "h.jsonl")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([
        "history: skipped h.jsonl:2: a torn or corrupt line (not JSON)",
        "history: skipped h.jsonl:3: a line that is not a recorded run",
        "history: skipped h.jsonl:4: a line that is not a recorded run",
        "history: skipped h.jsonl:6: a torn or corrupt line (not JSON)",
        "history: skipped h.jsonl:7: a torn or corrupt line (not JSON)",
        "trend, failed items over the last 2 complete runs (oldest first):",
        "  zendesk    3 -> 0  (improving)",
    ])
    # The torn last line (no newline) did not swallow this run's line: it starts a line of its own.
    runs, problems = read_history(pytester.path / "h.jsonl")
    assert [run["totals"]["failed"] for run in runs] == [3, 0] and len(problems) == 5


WRITER = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from pytest_dashpacks.report.history import append_history

    writer, count = sys.argv[1], int(sys.argv[3])
    padding = ["packs/demo/boards/support.yml::q%05d::volume[large]" % i for i in range(1200)]  # ~60 kB a line
    for n in range(count):
        append_history(Path(sys.argv[2]), {"writer": writer, "n": n, "failed": padding})
""")


def test_two_concurrent_writers_never_interleave(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "history.jsonl"
    writers = [subprocess.Popen([sys.executable, str(script), name, str(path), "200"]) for name in ("a", "b")]
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    text = path.read_text()
    assert text.endswith("\n")
    parsed = [json.loads(line) for line in text.splitlines()]  # every line parses: none interleaved
    assert len(parsed) == 400
    for name in ("a", "b"):
        assert [line["n"] for line in parsed if line["writer"] == name] == list(range(200))


def test_a_torn_last_line_gets_its_newline_before_the_next_run(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"connectors": {}, "fail')  # a run killed mid-write
    append_history(path, {"connectors": {}})
    assert path.read_text().splitlines() == ['{"connectors": {}, "fail', '{"connectors": {}}']


def test_no_git_means_no_commit(tmp_path, monkeypatch):
    assert git_commit(tmp_path) is None  # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))  # no git binary at all
    assert git_commit(tmp_path) is None


def test_a_report_without_run_facts_keeps_its_trend_empty():
    report = StabilityReport(history=[json.loads(earlier(2, complete=True, time="2025-03-02T08:00:00+00:00"))])
    assert report.trends() == {"zendesk": [2]}
    assert report.history_line()["complete"] is False
