"""``dashpacks scaffold pack``: pack.yml from a dbt charts project, with the guessed connector, dialect and versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write
from pytest_dashpacks.cli.main import main
from pytest_dashpacks.load.packs import load_pack

DBT_CHARTS = """\
name: acme_boards
sources:
  warehouse:
    type: bigquery
    project: acme-prod
    dataset: stripe
"""

META = """\
variables:
  period:
    input: daterange
    default: ["2024-01-01", "2024-12-31"]
"""

REVENUE = """\
title: Revenue
source: warehouse
queries:
  daily_revenue: |
    SELECT DATE(bt.created) AS day, SUM(bt.amount) / 100 AS gross
    FROM `acme-prod`.stripe.balance_transaction AS bt
    WHERE bt.type = 'charge' AND {{ filter_date_range('bt.created', period) }}
    GROUP BY 1
  in_usd:
    sql: |
      WITH daily AS ({{ queries.daily_revenue }})
      SELECT d.day, d.gross * fx.rate AS gross_usd
      FROM daily AS d JOIN analytics.fx_rates AS fx ON fx.day = d.day
charts:
  trend: {type: line, query: daily_revenue, x: day, y: gross}
  usd: {type: line, query: in_usd, x: day, y: gross_usd}
rows: [trend, usd]
"""

CHARGES = """\
title: Charges
queries:
  by_status: |
    SELECT c.status, COUNT(*) AS charges, SUM(c.amount_refunded) AS refunded
    FROM stripe.charge AS c
    LEFT JOIN stripe.customer AS cu ON cu.id = c.customer_id
    WHERE {{ filter_date_range('c.created', period) }}
    GROUP BY 1
charts:
  split: {type: bar, query: by_status, x: status, y: charges}
rows: [split]
"""

SUPPORT = """\
title: Support
queries:
  tickets: SELECT priority, COUNT(*) AS tickets FROM zendesk.ticket GROUP BY 1
charts:
  split: {type: bar, query: tickets, x: priority, y: tickets}
rows: [split]
"""

ELSEWHERE = """\
title: Marketing
queries:
  spend: SELECT day, SUM(cost) AS spend FROM ads.spend WHERE day >= '{{ var("start") }}' GROUP BY 1
charts:
  spend: {type: line, query: spend, x: day, y: spend}
rows: [spend]
"""


def project(root: Path, **extra: str) -> Path:
    write(root, {
        "project/dbt_charts.yml": DBT_CHARTS,
        "project/charts/meta.yml": META,
        "project/charts/finance/revenue.yml": REVENUE,
        "project/charts/charges.yml": CHARGES,
        **{f"project/{name}": text for name, text in extra.items()},
    })
    return root / "project"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_guesses_connector_dialect_and_versions_and_the_pack_loads(pytester: pytest.Pytester, capsys):
    project(pytester.path)
    code, out, err = run(capsys, "scaffold", "pack", "project")
    assert code == 0, err
    lines = out.splitlines()
    assert "read 2 boards from project/charts" in lines
    assert "wrote project/dashpacks/stripe/pack.yml with 2 boards copied into project/dashpacks/stripe/boards:" in lines
    assert "  connector stripe: 3 of 4 table references match stripe@2025-07; unmatched: analytics.fx_rates" in lines
    assert "  dialect bigquery: source warehouse in dbt_charts.yml has type bigquery" in lines
    assert "  schema versions: every version of stripe (2021-12, 2023-10, 2025-07)" in lines
    assert "  board finance/revenue.yml: 1 of 2 table references match" in lines
    # meta.yml is no board: it reads no table, and it is copied beside the boards it gives defaults to
    assert not any("meta.yml" in line for line in lines)

    pack_dir = pytester.path / "project/dashpacks/stripe"
    pack = load_pack(pack_dir / "pack.yml")
    assert (pack.connector, pack.dialect, pack.schema_versions, pack.timezone) == ("stripe", "bigquery", None, "UTC")
    text = (pack_dir / "pack.yml").read_text("utf-8")
    assert "#   connector stripe: 3 of 4 table references match stripe@2025-07; unmatched: analytics.fx_rates" in text
    assert '# schema_versions: ["2021-12", "2023-10", "2025-07"]' in text
    assert (pack_dir / "boards/finance/revenue.yml").read_text("utf-8") == REVENUE  # a copy, byte for byte
    assert (pack_dir / "boards/meta.yml").read_text("utf-8") == META

    result = pytester.runpytest("--dashpacks", "-p", "no:randomly", "-m", "dashpacks_load or dashpacks_syntax", "-rA", "project/dashpacks")
    result.assert_outcomes(passed=6)  # pack.yml::load, 2 board loads, 3 queries' syntax
    result.stdout.fnmatch_lines([
        "PASSED project/dashpacks/stripe/boards/charges.yml::load",
        "PASSED project/dashpacks/stripe/boards/finance/revenue.yml::load",
        "PASSED project/dashpacks/stripe/pack.yml::load",
    ])


def test_boards_of_several_connectors_make_one_pack_each_and_unknown_tables_are_left_out(pytester: pytest.Pytester, capsys):
    project(pytester.path, **{"charts/support.yml": SUPPORT, "charts/marketing.yml": ELSEWHERE})
    code, out, err = run(capsys, "scaffold", "pack", "project", "--out", "packs")
    assert code == 0, err
    assert "  connector zendesk: 1 of 1 table references match zendesk@2025-03" in out.splitlines()
    assert "left out project/charts/marketing.yml: it reads no table of a known connector (ads.spend)" in out
    assert "project/charts/marketing.yml: query spend: uses var, which the plugin does not render (its load item will fail)" in out
    assert sorted(p.parent.name for p in (pytester.path / "packs").glob("*/pack.yml")) == ["stripe", "zendesk"]
    assert sorted(p.name for p in (pytester.path / "packs/zendesk/boards").iterdir()) == ["meta.yml", "support.yml"]
    result = pytester.runpytest("--dashpacks", "-p", "no:randomly", "-m", "dashpacks_load", "packs")
    result.assert_outcomes(passed=5)


def test_the_dialect_of_a_dbt_profile_source_comes_from_the_projects_profiles_yml(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {
        "p/dbt_charts.yml": "sources:\n  db:\n    type: dbt_profile\n    profile: acme\n",
        "p/profiles.yml": "acme:\n  target: \"{{ env_var('DBT_TARGET', 'prod') }}\"\n  outputs:\n    prod: {type: snowflake}\n",
        "p/charts/support.yml": SUPPORT.replace("title: Support", "title: Support\nsource: db"),
    })
    code, out, err = run(capsys, "scaffold", "pack", "p")
    assert code == 0, err
    assert "  dialect snowflake: source db in dbt_charts.yml is dbt profile acme, target prod of type snowflake (p/profiles.yml)" in out
    code, out, err = run(capsys, "scaffold", "pack", "p", "--out", "other", "--dialect", "postgres")
    assert code == 0, err
    assert "  dialect postgres: from --dialect" in out


def test_never_overwrites_a_pack_yml(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    project(tmp_path)
    assert run(capsys, "scaffold", "pack", "project")[0] == 0
    manifest = tmp_path / "project/dashpacks/stripe/pack.yml"
    manifest.write_text("connector: stripe  # edited by hand\n", "utf-8")
    code, out, err = run(capsys, "scaffold", "pack", "project")
    assert code == 2 and out == ""
    assert err.startswith(f"dashpacks: error: {manifest} exists: scaffold pack never overwrites a pack.yml (nothing written)")
    assert manifest.read_text("utf-8") == "connector: stripe  # edited by hand\n"


def test_a_directory_without_charts_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "scaffold", "pack", ".")
    assert code == 2 and "a dbt charts project keeps its boards in DIR/charts/" in err
