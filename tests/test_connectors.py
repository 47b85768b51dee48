"""connector.yml: versions, extends and the eight change kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dashpacks.load.connectors import curated_fixture_root, load_connector
from pytest_dashpacks.errors import ConfigError

BASE = """\
connector: acme
schema: raw
versions:
  "1":
    tables:
      orders:
        columns:
          id: {type: bigint, primary_key: true}
          amount: {type: bigint, unit: minor}
          status: {type: varchar, values: [open, paid]}
          customer_id: {type: bigint, references: customers.id}
      customers:
        columns:
          id: {type: bigint, primary_key: true}
      cards:
        columns:
          id: {type: varchar}
  "2":
    extends: "1"
    changes:
      - rename_table: {from: customers, to: accounts}
        note: accounts replace customers
      - rename_column: {table: orders, from: amount, to: amount_minor}
      - drop_column: {table: orders, column: status}
      - add_column: {table: orders, column: state, type: varchar, values: [OPEN, PAID]}
      - change_type: {table: orders, column: id, to: varchar}
      - change_values: {table: orders, column: state, values: [OPEN, PAID, VOID]}
      - add_table: {table: serving.daily, columns: {day: {type: date}, total: {type: double}}}
      - drop_table: {table: cards}
"""


def connector(tmp_path: Path, text: str):
    path = tmp_path / "acme" / "connector.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return load_connector(path)


def test_every_change_kind_applies(tmp_path):
    acme = connector(tmp_path, BASE)
    v1, v2 = acme.versions
    assert sorted(v1.tables) == ["raw.cards", "raw.customers", "raw.orders"]
    assert sorted(v2.tables) == ["raw.accounts", "raw.orders", "serving.daily"]
    orders = v2.table("raw", "orders")
    assert [c.name for c in orders.columns] == ["id", "amount_minor", "customer_id", "state"]
    assert orders.column("id").type == "varchar"
    assert orders.column("state").values == ("OPEN", "PAID", "VOID")
    assert orders.column("customer_id").references == "accounts.id"  # follows the rename
    assert v2.table("serving", "daily").column("total").type == "double"
    assert [c.kind for c in v2.lineage][:2] == ["rename_table", "rename_column"]
    assert v2.lineage[0].note == "accounts replace customers"
    assert v1.table("raw", "orders").column("amount").unit == "minor"  # the parent is untouched


@pytest.mark.parametrize(
    "replace, message, line",
    [
        ("from: amount, to: amount_minor", "rename_column names column orders.amnt, which does not exist here", 23),
        ("column: status}", "drop_column names table 'order', which does not exist here", 24),
        ('extends: "1"', "version 2 extends unknown version '0' (known: 1, 2)", 19),
        ("to: accounts}", "rename_table: table 'orders' already exists", 21),
    ],
)
def test_inconsistent_changes_are_located(tmp_path, replace, message, line):
    broken = {
        "from: amount, to: amount_minor": "from: amnt, to: amount_minor",
        "column: status}": "column: status}",
        'extends: "1"': 'extends: "0"',
        "to: accounts}": "to: orders}",
    }[replace]
    text = BASE.replace(replace, broken)
    if replace == "column: status}":  # a table that does not exist
        text = BASE.replace("{table: orders, column: status}", "{table: order, column: status}")
    with pytest.raises(ConfigError) as err:
        connector(tmp_path, text)
    assert message in err.value.message
    assert err.value.span.line == line


def test_the_curated_library_loads():
    root = curated_fixture_root()
    names = sorted(p.parent.name for p in root.glob("*/connector.yml"))
    assert names == ["hubspot", "salesforce", "shopify", "stripe", "zendesk"]
    for name in names:
        loaded = load_connector(root / name / "connector.yml")
        assert len(loaded.versions) >= 2 and loaded.models and loaded.seeds
        first = loaded.versions[0]
        for table in first.tables.values():
            seed = loaded.seeds[table.key]
            header = seed.read_text("utf-8").splitlines()[0].split(",")
            assert header == [c.name for c in table.columns], (name, table.key)
        assert all(change.note for v in loaded.versions for change in v.lineage), name


ROLES = """\
connector: acme
versions:
  "1":
    tables:
      orders:
        columns:
          id: {type: bigint, primary_key: true}
          is_deleted: {type: boolean, role: deleted}
          archived: {type: boolean}
          _fivetran_deleted: {type: boolean}
  "2":
    extends: "1"
    changes:
      - add_column: {table: orders, column: is_current, type: boolean, role: active}
        note: history mode
      - rename_column: {table: orders, from: is_deleted, to: IsDeleted}
        note: API naming
"""


def test_roles_are_declared_carried_through_changes_and_defaulted_for_fivetran_flags(tmp_path):
    v1, v2 = connector(tmp_path, ROLES).versions
    orders = v2.table("acme", "orders")
    assert [c.name for c in orders.role_columns("deleted")] == ["IsDeleted", "_fivetran_deleted"]
    assert [c.name for c in orders.role_columns("active")] == ["is_current"]
    assert orders.column("archived").effective_role is None  # no name is guessed
    assert orders.column("_fivetran_deleted").role is None  # the default is applied by the model, not stored
    assert [c.name for c in v1.table("acme", "orders").role_columns("active")] == []


@pytest.mark.parametrize(
    "replace, message, line",
    [
        ("is_deleted: {type: boolean, role: deleted}", 'versions.1.tables.orders.columns.is_deleted.role: "removed" is not one of deleted, active', 8),
        ("is_deleted: {type: varchar, role: deleted}", "column orders.is_deleted has role: deleted, which needs a boolean column, not varchar", 8),
        ("column: is_current, type: boolean", "column orders.is_current has role: active, which needs a boolean column, not timestamp", 14),
        ("note: API naming\n", "column orders.IsDeleted has role: deleted, which needs a boolean column, not varchar", 18),
    ],
)
def test_a_bad_role_is_a_located_config_error(tmp_path, replace, message, line):
    broken = {
        "is_deleted: {type: boolean, role: deleted}": ROLES.replace("role: deleted", "role: removed"),
        "is_deleted: {type: varchar, role: deleted}": ROLES.replace("is_deleted: {type: boolean", "is_deleted: {type: varchar"),
        "column: is_current, type: boolean": ROLES.replace("column: is_current, type: boolean", "column: is_current, type: timestamp"),
        "note: API naming\n": ROLES + "      - change_type: {table: orders, column: IsDeleted, to: varchar}\n",
    }[replace]
    with pytest.raises(ConfigError) as err:
        connector(tmp_path, broken)
    assert err.value.message == message
    assert err.value.span.path.name == "connector.yml" and err.value.span.line == line


@pytest.mark.parametrize("kind", ["varchar); DROP TABLE x; --", "bigint' || 'x", "decimal(18,2) DEFAULT 1;"])
def test_a_column_type_is_a_type_name_never_sql(tmp_path, kind):
    from pytest_dashpacks.load.connectors import load_connector
    from pytest_dashpacks.errors import ConfigError

    (tmp_path / "connector.yml").write_text(
        "connector: acme\nversions:\n  '1':\n    tables:\n      orders:\n        columns:\n"
        f"          id: {{type: \"{kind}\"}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_connector(tmp_path / "connector.yml")
    assert raised.value.span.line == 7


@pytest.mark.parametrize("kind", ["varchar", "decimal(18,2)", "DECIMAL(18, 2)", "timestamp with time zone", "double", "bigint[]"])
def test_real_column_types_load(tmp_path, kind):
    from pytest_dashpacks.load.connectors import load_connector

    (tmp_path / "connector.yml").write_text(
        "connector: acme\nversions:\n  '1':\n    tables:\n      orders:\n        columns:\n"
        f"          id: {{type: \"{kind}\"}}\n"
    )
    assert load_connector(tmp_path / "connector.yml").versions[0].tables["acme.orders"].columns[0].type == kind
