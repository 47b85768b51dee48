"""A YAML file of only comments: meta.yml and partials set nothing; a board or pack.yml fails its own load item."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import STATIC, good_pack, outcomes_by_node
from pytest_dashpacks.errors import ConfigError
from pytest_dashpacks.load.yaml import load_yaml

COMMENTED_META = """\
# Defaults for every board in this folder, switched off for now.
# source: warehouse
# variables:
#   period: {input: daterange, default: ["2024-01-01", "2024-12-31"]}
"""

SMALL_BOARD = """\
title: Priorities
queries:
  by_priority: SELECT priority, COUNT(*) AS tickets FROM zendesk.ticket GROUP BY 1
charts:
  split: {type: bar, query: by_priority, x: priority, y: tickets}
rows: [split]
"""


@pytest.mark.parametrize("text", ["# only a comment\n", "", "\n  \n", "---\n", "--- # nothing here\n", "# a\n\n# b\n"])
def test_allow_empty_loads_an_empty_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "meta.yml"
    path.write_text(text, "utf-8")
    doc = load_yaml(path, allow_empty=True)
    assert doc.data == {}
    assert doc.span(("queries", "x")).line == 1


def test_a_document_is_still_required_by_default(tmp_path: Path) -> None:
    path = tmp_path / "board.yml"
    path.write_text("# title: not yet\n# queries: {}\n", "utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert err.value.message == "file holds only comments, no YAML content"
    assert err.value.span.line == 1


def test_commented_out_meta_and_partials_break_no_board(packs, pytester):
    files = good_pack("demo")
    files.update({
        "packs/demo/boards/meta.yml": COMMENTED_META,  # next to support.yml
        "packs/demo/boards/team/meta.yml": COMMENTED_META,  # a nested folder's own meta.yml
        "packs/demo/boards/team/_header.yml": "# a partial, all commented out\n# text: Team boards\n",
        "packs/demo/boards/team/meta.yaml": "",  # an empty one too
        "packs/demo/boards/team/priorities.yml": SMALL_BOARD,
    })
    packs(files)
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rA")
    outcomes = outcomes_by_node(result)
    assert set(outcomes.values()) == {"PASSED"}, outcomes
    assert outcomes["packs/demo/boards/support.yml::load"] == "PASSED"
    assert outcomes["packs/demo/boards/team/priorities.yml::load"] == "PASSED"
    assert outcomes["packs/demo/boards/team/priorities.yml::by_priority::bindings"] == "PASSED"
    # 10 items of support.yml and pack.yml, 5 of priorities.yml; meta.yml and partials are not boards.
    result.assert_outcomes(passed=18)  # with a zone item per query


def test_comment_only_board_fails_its_own_load_item(packs, pytester):
    files = good_pack("demo")
    files["packs/demo/boards/wip.yml"] = "# title: Work in progress\n# queries:\n#   x: SELECT 1\n"
    packs(files)
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines(["packs/demo/boards/wip.yml:1: load: file holds only comments, no YAML content"])
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/demo/boards/wip.yml::load"] == "FAILED"
    assert {n: o for n, o in outcomes.items() if o != "PASSED"} == {"packs/demo/boards/wip.yml::load": "FAILED"}
    result.assert_outcomes(passed=12, failed=1)


def test_comment_only_pack_yml_says_what_it_lacks(packs, pytester):
    files = good_pack("good")
    files.update(good_pack("bad", pack="# connector: zendesk\n# timezone: America/New_York\n"))
    packs(files)
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines_random([
        "packs/bad/pack.yml:1: load: document: 'connector' is required",
        "SKIPPED ?1? packs/bad/boards/support.yml:1: blocked by packs/bad/pack.yml::load: document: 'connector' is required",
    ])
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/bad/pack.yml::load"] == "FAILED"
    result.assert_outcomes(passed=12, failed=1, skipped=1)


def test_a_board_alone_still_fails_when_its_pack_does_not_load(packs, pytester):
    """Blocked only when pack.yml::load runs too: selecting the board alone must not turn a broken pack green."""
    packs(good_pack("bad", pack="# connector: zendesk\n"))
    result = pytester.runpytest("--dashpacks", "packs/bad/boards/support.yml", "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines(["packs/bad/pack.yml:1: load: cannot check this board: its pack.yml does not load: document: 'connector' is required"])
    result.assert_outcomes(failed=1)
