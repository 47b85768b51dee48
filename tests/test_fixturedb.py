"""Fixture databases: seeds transformed per version, isolation, sandbox settings."""

from __future__ import annotations

import pytest

from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
from pytest_dashpacks.errors import CheckFailure
from pytest_dashpacks.engines.duckdb import FixtureDatabase, SandboxViolation, seed_rows


def connector(name: str):
    return load_connector(curated_fixture_root() / name / "connector.yml")


def test_seed_follows_renames_drops_and_value_changes():
    shopify = connector("shopify")
    first, graphql = shopify.version("2023-01"), shopify.version("2025-08")
    before, after = seed_rows(shopify, first), seed_rows(shopify, graphql)
    assert "financial_status" in before["order"][0] and "total_price_usd" in before["order"][0]
    row = after["order"][0]
    assert "financial_status" not in row and "total_price_usd" not in row
    values = {c.name: c.values for c in graphql.table("shopify", "order").columns}["display_financial_status"]
    assert {r["display_financial_status"] for r in after["order"]} <= set(values)  # 'paid' became 'PAID'


@pytest.mark.parametrize("name", ["stripe", "hubspot", "salesforce", "shopify", "zendesk"])
def test_every_version_loads_its_seed_and_models(name):
    loaded = connector(name)
    for version in loaded.versions:
        db = FixtureDatabase(loaded, version, [], timeout=5)
        with db.open() as sandbox:
            for table in version.tables.values():
                result = sandbox.run(f'SELECT COUNT(*) FROM "{table.schema}"."{table.name}"')
                assert result.rows[0][0] == len(db.seed.get(table.key, []))


def test_each_open_is_isolated_and_rows_can_be_replaced():
    zendesk = connector("zendesk")
    db = FixtureDatabase(zendesk, zendesk.versions[-1], [], timeout=5)
    with db.open({}) as empty, db.open() as seeded:
        assert empty.run("SELECT COUNT(*) FROM zendesk.ticket").rows == ((0,),)
        assert seeded.run("SELECT COUNT(*) FROM zendesk.ticket").rows[0][0] > 0
        empty.replace_rows({"ticket": [{"id": 1, "created_at": "2024-01-01 00:00:00", "status": "open"}]})
        assert empty.run("SELECT id, status FROM zendesk.ticket").rows == ((1, "open"),)


def test_sessions_per_zone_and_locked_configuration():
    zendesk = connector("zendesk")
    db = FixtureDatabase(zendesk, zendesk.versions[-1], [], timeout=5)
    with db.open(zones=("Asia/Kolkata",)) as sandbox:
        assert sandbox.run("SELECT current_setting('TimeZone')").rows == (("UTC",),)
        assert sandbox.run("SELECT current_setting('TimeZone')", "Asia/Kolkata").rows == (("Asia/Kolkata",),)
        with pytest.raises(CheckFailure, match="configuration has been locked"):
            sandbox.run("SET TimeZone = 'UTC'")
        with pytest.raises(SandboxViolation, match="refused by the sandbox"):
            sandbox.run("SELECT * FROM read_text('/etc/hostname')")


@pytest.mark.parametrize("timeout", [0.5, 1e-9])
def test_timeout_interrupts(tmp_path, monkeypatch, timeout):
    """Even a timeout that passes before DuckDB has started the query stops it (a lone interrupt was lost)."""
    monkeypatch.chdir(tmp_path)
    zendesk = connector("zendesk")
    db = FixtureDatabase(zendesk, zendesk.versions[-1], [], timeout=timeout)
    with db.open({}) as sandbox, pytest.raises(SandboxViolation, match=f"did not finish within {timeout:g} s"):
        sandbox.run("SELECT COUNT(*) FROM range(1000000) a, range(1000000) b")  # CPU-bound: 10^12 rows streamed
    assert list(tmp_path.iterdir()) == []  # nothing spilled to disk
