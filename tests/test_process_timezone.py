"""The outcomes do not depend on the time zone of the process running pytest."""

from __future__ import annotations

import shutil

from conftest import EXAMPLES, outcomes_by_node


def test_same_outcomes_under_every_process_tz(pytester, monkeypatch):
    for slug in ("wrong_zone_bucketing", "current_date", "current_date__fixed", "session_zone"):
        shutil.copytree(EXAMPLES / "defects" / slug, pytester.path / slug)
    runs = {}
    for zone in ("UTC", "America/Los_Angeles", "Asia/Kolkata"):
        monkeypatch.setenv("TZ", zone)
        result = pytester.runpytest_subprocess(
            "--dashpacks", ".", "-k", "kpi or clock or timezone", "--dashpacks-large-rows", "100", "-p", "no:cacheprovider", "-rA"
        )
        runs[zone] = outcomes_by_node(result)
    assert runs["UTC"] and "FAILED" in runs["UTC"].values() and "PASSED" in runs["UTC"].values()
    assert runs["America/Los_Angeles"] == runs["UTC"] == runs["Asia/Kolkata"]
