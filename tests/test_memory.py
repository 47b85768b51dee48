"""Memory (issue #9, part 3): a pack's databases are freed after its last item, its small ones before its
volume[large] items, and the large database holds only the tables its queries read."""

from __future__ import annotations

import json

from conftest import good_pack

WATCH = """\
import json

import pytest

from pytest_dashpacks.nodes import SESSION_KEY

SEEN = []


def pytest_runtest_setup(item):
    memo = item.config.stash[SESSION_KEY].memo
    held = sorted({f"{key[1].parent.name}:{key[3]}" for key in memo._values if key[0] in ("sandbox", "dataset")})
    SEEN.append([item.nodeid, held])


def pytest_sessionfinish(session):
    with open("seen.json", "w") as out:
        json.dump(SEEN, out)
"""


def test_databases_are_freed_pack_by_pack_and_before_the_large_items(packs, pytester):
    packs({**good_pack("alpha"), **good_pack("beta"), "conftest.py": WATCH})
    result = pytester.runpytest("--dashpacks", "packs", "-m", "dashpacks_execute or dashpacks_volume", "-p", "no:randomly",
                                "-p", "no:cacheprovider", "--dashpacks-large-rows", "200")
    assert result.ret == 0
    seen = json.loads((pytester.path / "seen.json").read_text())
    order = [nodeid.split("/")[1] for nodeid, _ in seen]
    assert order == sorted(order)  # run order keeps each pack together
    for nodeid, held in seen:
        pack = nodeid.split("/")[1]
        assert all(h.startswith(f"{pack}:") for h in held), (nodeid, held)  # nothing of another pack is held
        if nodeid.endswith("::volume[large]"):
            assert all(h.endswith(":large") for h in held), (nodeid, held)  # the small databases are gone
    larges = [i for i, (nodeid, _) in enumerate(seen) if nodeid.endswith("::volume[large]")]
    assert larges and all(seen[i + 1][0].split("/")[1] != seen[i][0].split("/")[1] or i + 1 in larges
                          for i in larges if i + 1 < len(seen))  # volume[large] items come last in their pack


TREES = """\
import json

import pytest

from pytest_dashpacks.nodes import SESSION_KEY

SEEN = []


def pytest_runtest_setup(item):
    memo = item.config.stash[SESSION_KEY].memo
    held = sorted({key[1].stem for key in memo._values if key[0] in ("parsed", "qualified", "typed")})
    SEEN.append([item.nodeid, getattr(getattr(item, "board", None), "path", None) and item.board.path.stem, held])


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open("seen.json", "w") as out:
        json.dump({"items": SEEN, "left": len(config.stash[SESSION_KEY].memo._values)}, out)
"""


def test_a_boards_syntax_trees_are_freed_after_its_items_and_everything_at_the_end(packs, pytester):
    """Syntax trees are most of what a run holds; kept, every garbage collection walks them again."""
    files = good_pack("alpha")
    files["packs/alpha/boards/billing.yml"] = files["packs/alpha/boards/support.yml"]
    packs({**files, "conftest.py": TREES})
    result = pytester.runpytest("--dashpacks", "packs", "-m", "dashpacks_static", "-p", "no:randomly", "-p", "no:cacheprovider")
    assert result.ret == 0
    seen = json.loads((pytester.path / "seen.json").read_text())
    boards_run = [board for _, board, _ in seen["items"] if board]
    assert {"billing", "support"} <= set(boards_run)
    for nodeid, board, held in seen["items"]:
        assert set(held) <= {board}, (nodeid, held)  # no other board's trees are still held
    assert any(held for _, _, held in seen["items"])  # the watch sees trees at all
    assert seen["left"] == 0  # the session forgets everything when it closes
