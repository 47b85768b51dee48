"""The ``dashpacks`` console script: ``connectors``, ``show`` and ``diff`` on the curated library, and the fixture roots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_dashpacks.cli.main import main
from pytest_dashpacks.load.connectors import curated_fixture_root

ACME = """\
connector: acme
schema: raw
versions:
  "1":
    tables:
      orders:
        columns:
          id: {type: bigint, primary_key: true}
"""


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no ini file and no connector_fixtures: only the curated library is found."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_connectors_lists_the_curated_library_with_versions_and_table_counts(elsewhere, capsys):
    code, out, _ = run(capsys, "connectors")
    assert code == 0
    assert f"{curated_fixture_root()}  (curated library)" in out
    stripe = next(line for line in out.splitlines() if line.startswith("stripe "))
    assert "2021-12, 2023-10, 2025-07" in stripe
    assert "10 tables in 2025-07" in stripe

    code, out, _ = run(capsys, "connectors", "--json")
    document = json.loads(out)
    entry = next(e for e in document["connectors"] if e["connector"] == "stripe")
    assert entry["versions"] == ["2021-12", "2023-10", "2025-07"]
    assert (entry["newest"], entry["tables"]) == ("2025-07", 10)
    assert entry["directory"] == str(curated_fixture_root() / "stripe")


def test_show_gives_the_effective_tables_after_extends_and_changes(elsewhere, capsys):
    code, out, _ = run(capsys, "show", "stripe@2025-07")
    assert code == 0
    assert "extends 2023-10 with 5 changes" in out
    assert "table price (stripe.price)" in out  # plan was renamed to price in 2023-10
    assert "\ntable plan (" not in out
    lines = out.splitlines()
    item = lines.index("table subscription_item (stripe.subscription_item)")
    assert any(line.split()[:2] == ["current_period_start", "timestamp"] for line in lines[item:item + 20])  # added in 2025-07
    assert any("_fivetran_deleted" in line and "role deleted (by default)" in line for line in lines)
    assert any(line.split()[:1] == ["currency"] and "values: usd, eur, gbp, cad, jpy" in line for line in lines)


def test_show_json_has_columns_references_and_what_each_model_returns(elsewhere, capsys):
    code, out, _ = run(capsys, "show", "stripe@2025-07", "--json")
    assert code == 0
    document = json.loads(out)
    tables = {t["key"]: t for t in document["tables"]}
    assert "subscription" not in tables and "subscription_history" in tables
    price = {c["name"]: c for c in tables["price"]["columns"]}
    assert "unit_amount" in price and "amount" not in price  # rename_column in 2023-10
    item = {c["name"]: c for c in tables["subscription_item"]["columns"]}
    assert item["plan_id"]["references"] == "price.id"  # the reference follows the renamed table
    models = {m["name"]: m for m in document["models"]}
    balance = {c["name"] for c in models["stripe__balance_transactions"]["columns"]}
    assert {"balance_transaction_id", "balance_transaction_amount_major", "payout_type"} <= balance
    assert "stripe.plan does not exist" in models["stripe__subscription_details"]["problem"]
    assert "renamed to price" in models["stripe__subscription_details"]["problem"]


def test_diff_lists_added_dropped_and_declared_renames_with_notes(elsewhere, capsys):
    code, out, _ = run(capsys, "diff", "stripe@2023-10", "stripe@2025-07")
    assert code == 0
    assert "tables added: payout_balance_transaction" in out
    assert "table subscription_history:\n  - current_period_start\n  - current_period_end" in out
    assert "table subscription_item:\n  + current_period_start\n  + current_period_end" in out
    assert "no longer lands in SUBSCRIPTION_HISTORY" in out  # the note of the declared drop

    code, out, _ = run(capsys, "diff", "stripe@2021-12", "2025-07", "--json")
    document = json.loads(out)
    assert {"from": "plan", "to": "price"} in document["tables_renamed"]
    price = next(t for t in document["tables_changed"] if t["table"] == "price")
    assert {"from": "amount", "to": "unit_amount"} in price["columns_renamed"]
    assert "unit_amount" not in price["columns_added"] and "amount" not in price["columns_dropped"]
    assert any(c["kind"] == "rename_table" and c["note"].startswith("dbt_stripe_source v0.9.0") for c in document["declared_changes"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (("show", "strpe@2025-07"), "unknown connector 'strpe' (did you mean 'stripe'?)"),
        (("show", "stripe@2025-7"), "has no version '2025-7' (did you mean '2025-07'?)"),
        (("diff", "stripe@2023-10", "stripey@2025-07"), "did you mean 'stripe'?"),
    ],
)
def test_a_bad_name_exits_2_with_a_hint(elsewhere, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert out == ""


def write_acme(root: Path) -> None:
    (root / "acme").mkdir(parents=True)
    (root / "acme" / "connector.yml").write_text(ACME, "utf-8")


@pytest.mark.parametrize(
    "ini_name, ini_text",
    [
        ("pyproject.toml", '[tool.pytest.ini_options]\ndashpacks_fixtures = "fx"\n'),
        ("pytest.ini", "[pytest]\ndashpacks_fixtures = fx\n"),
        ("tox.ini", "[pytest]\ndashpacks_fixtures = fx\n"),
    ],
)
def test_the_ini_fixture_root_is_relative_to_the_ini_file(tmp_path, monkeypatch, capsys, ini_name, ini_text):
    (tmp_path / ini_name).write_text(ini_text, "utf-8")
    write_acme(tmp_path / "fx")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")  # the ini file is found upwards; its path is not relative to here
    code, out, _ = run(capsys, "connectors", "--json")
    document = json.loads(out)
    assert code == 0
    assert document["roots"][0] == {"path": str(tmp_path / "fx"), "why": f"dashpacks_fixtures in {tmp_path / ini_name}"}
    assert document["connectors"][0]["connector"] == "acme"
    code, out, _ = run(capsys, "show", "acme@1")
    assert code == 0 and "id  bigint  primary key" in out


def test_the_option_wins_over_the_ini_and_rootdir_fixtures_come_before_the_curated_library(tmp_path, monkeypatch, capsys):
    (tmp_path / "pytest.ini").write_text("[pytest]\ndashpacks_fixtures = fx\n", "utf-8")
    write_acme(tmp_path / "fx")
    write_acme(tmp_path / "mine")
    (tmp_path / "connector_fixtures" / "stripe").mkdir(parents=True)
    (tmp_path / "connector_fixtures" / "stripe" / "connector.yml").write_text(ACME.replace("acme", "stripe"), "utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "connectors", "--fixtures", "mine", "--json")
    document = json.loads(out)
    assert [r["path"] for r in document["roots"]] == [str(tmp_path / "mine"), str(tmp_path / "connector_fixtures"), str(curated_fixture_root())]
    stripes = [e for e in document["connectors"] if e["connector"] == "stripe"]
    assert [(e["root"], e["shadowed"]) for e in stripes] == [(str(tmp_path / "connector_fixtures"), False), (str(curated_fixture_root()), True)]
    code, out, _ = run(capsys, "show", "stripe")  # the project's own stripe, not the curated one
    assert code == 0 and "table orders (raw.orders)" in out


def test_help_runs_as_a_module_and_shows_defaults():
    result = subprocess.run([sys.executable, "-m", "pytest_dashpacks", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: dashpacks")
    for command in ("connectors", "show", "diff", "scaffold"):
        assert f"\n    {command} " in result.stdout
    assert "dashpacks show stripe@2025-07" in result.stdout  # the examples


def test_every_command_has_help_with_its_defaults(capsys):
    code, out, _ = run(capsys, "scaffold", "connector", "--help")
    assert code == 0
    assert "--from-dbt-catalog PATH" in out and "--seed N" in out
    flat = " ".join(out.split())
    assert "are always kept) (default: 0)" in flat  # --seed
    assert "Default: this month, YYYY-MM" in flat
    for argv in (("connectors", "--help"), ("show", "--help"), ("diff", "--help"), ("scaffold", "--help")):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and out.startswith("usage: dashpacks")


def test_the_plugin_never_imports_the_console_script():
    script = "import sys, pytest_dashpacks.plugin; print(any(m.startswith('pytest_dashpacks.cli') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout.strip() == "False", result.stderr
