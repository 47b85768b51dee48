"""``dashpacks static FILE...`` (the pre-commit hook): only the packs the changed files touch run their static items."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import write
from pytest_dashpacks.cli.main import main

REPO = Path(__file__).resolve().parent.parent

ACME = """\
connector: acme
schema: raw
versions:
  "1":
    tables:
      orders:
        columns:
          id: {type: bigint, primary_key: true}
          amount: {type: bigint}
"""

ORDERS_BOARD = """\
title: Orders
queries:
  totals: SELECT COUNT(*) AS orders, SUM(amount) AS amount FROM raw.orders
charts:
  total: {type: kpi, query: totals, value: amount}
rows: [total]
"""

BROKEN_BOARD = """\
title: Revenue
queries:
  daily: SELECT FROM WHERE stripe.charge
charts:
  trend: {type: line, query: daily, x: day, y: amount}
rows: [trend]
"""

TREE = {
    "connector_fixtures/acme/connector.yml": ACME,
    "packs/acme_orders/pack.yml": "connector: acme\n",
    "packs/acme_orders/boards/orders.yml": ORDERS_BOARD,
    "packs/stripe_broken/pack.yml": "connector: stripe\n",
    "packs/stripe_broken/boards/revenue.yml": BROKEN_BOARD,
    "README.md": "# packs\n",
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two packs: acme_orders (good, on a connector of <rootdir>/connector_fixtures) and stripe_broken (a query that
    does not parse)."""
    write(tmp_path, TREE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return tmp_path


def run(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capfd.readouterr().out  # capfd: the pytest subprocess writes to the same stdout


def test_a_changed_board_runs_only_its_pack(tree, capfd):
    code, out = run(capfd, "static", "packs/acme_orders/boards/orders.yml", "README.md")
    assert code == 0, out
    assert "dashpacks static: 1 pack touched\n  packs/acme_orders: boards/orders.yml\n" in out
    assert "running: pytest --dashpacks -m dashpacks_static -p no:randomly -q packs/acme_orders" in out
    assert "stripe_broken" not in out  # the broken pack was not touched, so it did not run
    assert "\n5 passed in" in out  # load x2, syntax, schema, bindings; the data items are never made under -m dashpacks_static


def test_a_touched_pack_with_a_broken_query_fails_the_hook(tree):
    # Through the console script, the way pre-commit calls the hook's entry with the changed file names.
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text("utf-8"))
    hook = next(h for h in hooks if h["id"] == "dashpacks-static")
    assert hook["entry"] == "dashpacks static" and hook["pass_filenames"] and hook["require_serial"]
    entry = [str(Path(sys.executable).with_name(hook["entry"].split()[0])), *hook["entry"].split()[1:]]
    result = subprocess.run([*entry, "packs/stripe_broken/pack.yml"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "packs/stripe_broken: pack.yml" in result.stdout
    assert "FAILED packs/stripe_broken/boards/revenue.yml::daily::syntax" in result.stdout
    assert "acme_orders" not in result.stdout


def test_a_changed_connector_runs_every_pack_that_uses_it(tree, capfd):
    code, out = run(capfd, "static", "connector_fixtures/acme/connector.yml")
    assert code == 0, out
    assert "  packs/acme_orders: uses connector acme (connector_fixtures/acme/connector.yml changed)\n" in out
    assert "stripe_broken" not in out


def test_no_packs_touched_exits_0_without_running_pytest(tree, capfd):
    code, out = run(capfd, "static", "README.md", "connector_fixtures/other/seed/x.csv")
    assert (code, out) == (0, "no packs touched\n")
    assert run(capfd, "static") == (0, "no packs touched\n")
