"""``dashpacks scaffold connector``: from a dbt catalog or a DuckDB file, appending versions, seeds, and refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from pytest_dashpacks.cli.main import main
from pytest_dashpacks.cli.warehouse_types import duckdb_type
from pytest_dashpacks.load.connectors import check_connector_files, load_connector
from pytest_dashpacks.load.seeds import read_seed


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def catalog_entry(schema: str, name: str, columns: dict[str, str]) -> dict:
    return {
        "metadata": {"type": "BASE TABLE", "schema": schema, "name": name, "database": "ANALYTICS", "comment": None},
        "columns": {c: {"type": t, "index": i, "name": c, "comment": None} for i, (c, t) in enumerate(columns.items(), 1)},
        "stats": {},
    }


ORDERS = {"ID": "NUMBER(38,0)", "AMOUNT": "NUMBER(12,2)", "CREATED": "TIMESTAMP_NTZ", "PAID_AT": "TIMESTAMP_TZ",
          "PAYLOAD": "VARIANT", "STATUS": "VARCHAR(16777216)", "IS_TEST": "BOOLEAN"}
CATALOG = {
    "metadata": {"dbt_version": "1.8.0"},
    "nodes": {"model.shop.daily_orders": catalog_entry("ANALYTICS", "DAILY_ORDERS", {"DAY": "DATE", "ORDERS": "NUMBER(18,0)"})},
    "sources": {
        "source.shop.raw.orders": catalog_entry("RAW", "ORDERS", ORDERS),
        "source.shop.raw.customers": catalog_entry("RAW", "CUSTOMERS", {"ID": "NUMBER(38,0)", "EMAIL": "TEXT"}),
    },
}
MANIFEST = {
    "nodes": {"model.shop.daily_orders": {"resource_type": "model"}},
    "sources": {"source.shop.raw.orders": {"resource_type": "source"}, "source.shop.raw.customers": {"resource_type": "source"}},
}


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), "utf-8")
    return path


@pytest.mark.parametrize(
    "source, expected",
    [
        ("character varying", "varchar"), ("timestamp with time zone", "timestamptz"), ("numeric(12,2)", "decimal(12,2)"),
        ("STRING", "varchar"), ("INT64", "bigint"), ("FLOAT64", "double"), ("NUMBER(38,0)", "bigint"),
        ("NUMBER(10,2)", "decimal(10,2)"), ("TIMESTAMP_NTZ", "timestamp"), ("TIMESTAMP_TZ", "timestamptz"),
        ("BOOLEAN", "boolean"), ("VARIANT", "json"), ("JSON", "json"), ("ARRAY<INT64>", "bigint[]"),
        ("STRUCT(a INTEGER)", "json"), ("numeric(60,2)", "double"), ("GEOGRAPHY", "varchar"),
    ],
)
def test_warehouse_types_map_to_duckdb_types(source, expected):
    mapped = duckdb_type(source)
    assert (mapped.duckdb, mapped.exact) == (expected, True)


def test_an_unknown_type_is_read_as_varchar_and_says_so():
    assert duckdb_type("SOMETHING ODD<1>") == type(duckdb_type("x"))("varchar", "SOMETHING ODD<1>", False)


def test_a_catalog_with_its_manifest_gives_the_sources_only(tmp_path, capsys):
    catalog, manifest = write_json(tmp_path / "catalog.json", CATALOG), write_json(tmp_path / "manifest.json", MANIFEST)
    code, out, err = run(capsys, "scaffold", "connector", "shop", "--from-dbt-catalog", str(catalog), "--manifest", str(manifest),
                         "--out", str(tmp_path / "fx"), "--version", "2024-05")
    assert code == 0, err
    assert "left out 1 catalog entries that are not sources: model.shop.daily_orders (model)" in out
    connector = load_connector(tmp_path / "fx" / "shop" / "connector.yml")
    check_connector_files(connector)
    assert (connector.schema, [v.name for v in connector.versions]) == ("raw", ["2024-05"])
    version = connector.versions[0]
    assert [t.key for t in version.tables.values()] == ["orders", "customers"]
    orders = version.table("raw", "orders")
    assert [(c.name, c.type) for c in orders.columns] == [
        ("id", "bigint"), ("amount", "decimal(12,2)"), ("created", "timestamp"), ("paid_at", "timestamptz"),
        ("payload", "json"), ("status", "varchar"), ("is_test", "boolean"),
    ]
    assert orders.column("created").description == "from dbt catalog source.shop.raw.orders, type TIMESTAMP_NTZ"


def test_without_a_manifest_every_catalog_entry_is_a_table(tmp_path, capsys):
    catalog = write_json(tmp_path / "catalog.json", CATALOG)
    code, _, err = run(capsys, "scaffold", "connector", "shop", "--from-dbt-catalog", str(catalog), "--out", str(tmp_path))
    assert code == 0, err
    version = load_connector(tmp_path / "shop" / "connector.yml").versions[0]
    assert [t.key for t in version.tables.values()] == ["orders", "customers", "analytics.daily_orders"]
    assert version.table("analytics", "daily_orders").column("orders").type == "bigint"


# --- a DuckDB file, round trip -------------------------------------------------------------------

BOARD = """\
title: Orders
queries:
  daily: |
    SELECT CAST(created_at AS DATE) AS day, SUM(amount) AS revenue, COUNT(*) AS orders
    FROM shop.orders
    WHERE status IN ('open', 'paid')
    GROUP BY 1
charts:
  trend: {type: line, query: daily, x: day, y: revenue}
rows: [trend]
"""
PACK = "connector: shop\nfixtures: ../../fx\ndialect: duckdb\ntimezone: UTC\n"


def test_a_duckdb_file_scaffolds_seeds_and_a_pack_over_it_passes(pytester, capsys):
    con = duckdb.connect(str(pytester.path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA shop")
    con.execute("CREATE TYPE status AS ENUM ('open', 'paid', 'void')")
    con.execute("CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, created_at TIMESTAMP, amount DECIMAL(12, 2), status status)")
    con.execute("CREATE TABLE main.ignored (x INTEGER)")
    con.close()
    code, out, err = run(capsys, "scaffold", "connector", "shop", "--from-db", "warehouse.duckdb", "--schema", "shop",
                         "--out", "fx", "--seed", "12", "--version", "1")
    assert code == 0, err
    assert "wrote" in out and "orders.csv (12 rows)" in out
    connector = load_connector(pytester.path / "fx" / "shop" / "connector.yml")
    check_connector_files(connector)  # the seed fits its table
    orders = connector.versions[0].table("shop", "orders")
    assert [(c.name, c.type, c.nullable, c.primary_key) for c in orders.columns] == [
        ("id", "bigint", False, True), ("created_at", "timestamp", True, False), ("amount", "decimal(12,2)", True, False),
        ("status", "varchar", True, False),
    ]
    assert orders.column("status").values == ("open", "paid", "void")  # the enum's labels are its accepted values
    assert connector.versions[0].table("main", "ignored") is None
    rows = read_seed(connector.seeds["orders"])
    assert len({r["id"] for r in rows}) == 12  # a unique key, as declared
    assert len(rows) == 12 and {r["status"] for r in rows} <= {"open", "paid", "void", None}

    pytester.makefile(".yml", **{"packs/shop/pack": PACK, "packs/shop/boards/orders": BOARD})
    result = pytester.runpytest("--dashpacks", "-p", "no:randomly", "--dashpacks-large-rows", "300", "-p", "no:cacheprovider", "-rA")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 5
    result.stdout.fnmatch_lines(["PASSED packs/shop/boards/orders.yml::daily::schema?shop@1?", "PASSED packs/shop/boards/orders.yml::daily::execute?shop@1?"])


def test_a_postgres_information_schema_scaffolds_with_enum_labels_and_keys(tmp_path, capsys):
    from pytest_dashpacks.engines.postgres import ADMIN, ThrowawayServer, find_bindir

    if find_bindir() is None and os.environ.get("CI") != "true":  # under CI=true it fails instead: CI never passes by skipping
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    import psycopg

    server = ThrowawayServer()
    conninfo = server.start()
    try:
        with psycopg.connect(conninfo, autocommit=True) as con:
            con.execute("CREATE SCHEMA billing")
            con.execute("CREATE TYPE billing.state AS ENUM ('draft', 'open', 'paid')")
            con.execute("CREATE TABLE billing.invoice (id bigserial PRIMARY KEY, total numeric(12,2) NOT NULL, "
                        "note character varying(40), sent_at timestamp with time zone, state billing.state, payload jsonb)")
        dsn = f"postgresql:///postgres?host={server.directory}&user={ADMIN}"
        code, _, err = run(capsys, "scaffold", "connector", "billing", "--from-db", dsn, "--schema", "billing",
                           "--out", str(tmp_path), "--version", "1", "--seed", "3")
    finally:
        server.stop()
    assert code == 0, err
    connector = load_connector(tmp_path / "billing" / "connector.yml")
    invoice = connector.versions[0].table("billing", "invoice")
    assert [(c.name, c.type) for c in invoice.columns] == [
        ("id", "bigint"), ("total", "decimal(12,2)"), ("note", "varchar"), ("sent_at", "timestamptz"), ("state", "varchar"),
        ("payload", "json"),
    ]
    assert invoice.column("id").primary_key and not invoice.column("total").nullable
    assert invoice.column("state").values == ("draft", "open", "paid")
    assert invoice.column("sent_at").description == "from PostgreSQL database postgres billing.invoice, type timestamp with time zone"
    assert len(read_seed(connector.seeds["invoice"])) == 3


# --- a changed catalog -------------------------------------------------------------------------

HAND_WRITTEN = """\
# Acme's raw tables. Hand-written: keep this comment.
connector: acme
schema: raw
versions:
  # The first sync (ticket OPS-12).
  "2024-01":
    tables:
      orders:
        columns:
          id: {type: bigint, primary_key: true}  # never null
          amount_cents: {type: bigint, unit: minor}
          status: {type: varchar, values: [open, paid]}
          legacy_flag: {type: boolean}
          created: {type: timestamp}
      customers:
        columns:
          id: {type: bigint, primary_key: true}
  "2024-06":
    extends: "2024-01"
    changes:
      - add_column: {table: orders, column: customer_id, type: bigint, references: customers.id}
        note: "hand-written note: customers link to orders since June"
# trailing comment, kept too
"""
CHANGED = {
    "sources": {
        "source.acme.raw.orders": catalog_entry("raw", "orders", {
            "id": "INT64", "amount_cents": "NUMERIC(12,2)", "status": "STRING", "created_at": "DATETIME",
            "currency": "STRING", "customer_id": "INT64",
        }),
        "source.acme.raw.refunds": catalog_entry("raw", "refunds", {"id": "INT64", "order_id": "INT64"}),
    },
    "nodes": {},
}
SEED = "id,amount_cents,status,legacy_flag,created\n1,1250,open,false,2024-01-02 03:04:05\n"


def test_a_changed_catalog_appends_a_version_with_its_changes_and_keeps_the_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "pytest.ini").write_text("[pytest]\ndashpacks_fixtures = fixtures\n", "utf-8")
    path = tmp_path / "fixtures" / "acme" / "connector.yml"
    (path.parent / "seed").mkdir(parents=True)
    path.write_text(HAND_WRITTEN, "utf-8")
    (path.parent / "seed" / "orders.csv").write_text(SEED, "utf-8")
    write_json(tmp_path / "catalog.json", CHANGED)
    monkeypatch.chdir(tmp_path)  # no --out: the ini's fixture root
    code, out, err = run(capsys, "scaffold", "connector", "acme", "--from-dbt-catalog", "catalog.json", "--version", "2025-01",
                         "--seed", "4")
    assert code == 0, err
    text = path.read_text("utf-8")
    assert text.startswith(HAND_WRITTEN)  # every hand-written byte, comments and notes included
    connector = load_connector(path)
    check_connector_files(connector)
    assert [v.name for v in connector.versions] == ["2024-01", "2024-06", "2025-01"]
    changes = [(c.kind, c.params) for c in connector.versions[-1].lineage if c.version == "2025-01"]
    assert changes == [
        ("rename_column", {"table": "orders", "from": "created", "to": "created_at"}),
        ("drop_column", {"table": "orders", "column": "legacy_flag"}),
        ("add_column", {"table": "orders", "column": "currency", "type": "varchar",
                        "description": "from dbt catalog source.acme.raw.orders, type STRING"}),
        ("change_type", {"table": "orders", "column": "amount_cents", "to": "decimal(12,2)"}),
        ("add_table", {"table": "refunds", "columns": {
            "id": {"type": "bigint", "description": "from dbt catalog source.acme.raw.refunds, type INT64"},
            "order_id": {"type": "bigint", "description": "from dbt catalog source.acme.raw.refunds, type INT64"}}}),
        ("drop_table", {"table": "customers"}),
    ]
    rename = next(c for c in connector.versions[-1].lineage if c.kind == "rename_column")
    assert rename.note.startswith("inferred by dashpacks scaffold, not declared: created is not in dbt catalog catalog.json")
    assert "rename_column {table: orders, from: created, to: created_at}  (inferred: check it)" in out
    # Seeds: the hand-written one is kept byte for byte; the first version's other table gets generated rows.
    assert (path.parent / "seed" / "orders.csv").read_text("utf-8") == SEED
    assert f"kept {path.parent / 'seed' / 'orders.csv'} (it exists)" in out
    assert len(read_seed(path.parent / "seed" / "customers.csv")) == 4

    code, _, err = run(capsys, "scaffold", "connector", "acme", "--from-dbt-catalog", "catalog.json", "--version", "2025-01")
    assert code == 2
    assert f"{path} already has version '2025-01'" in err
    assert path.read_text("utf-8") == text


def test_a_version_the_existing_seed_cannot_follow_is_not_kept(tmp_path, capsys):
    path = tmp_path / "acme" / "connector.yml"
    (path.parent / "seed").mkdir(parents=True)
    path.write_text(HAND_WRITTEN, "utf-8")
    (path.parent / "seed" / "orders.csv").write_text(SEED.replace("open", "not-a-number"), "utf-8")
    retyped = json.loads(json.dumps(CHANGED))
    retyped["sources"]["source.acme.raw.orders"]["columns"]["status"]["type"] = "INT64"
    catalog = write_json(tmp_path / "catalog.json", retyped)
    code, _, err = run(capsys, "scaffold", "connector", "acme", "--from-dbt-catalog", str(catalog), "--out", str(tmp_path),
                       "--version", "2025-01")
    assert code == 2
    assert "the files were put back as they were" in err and "'not-a-number' (row 1 of orders.csv) does not cast to bigint" in err
    assert path.read_text("utf-8") == HAND_WRITTEN


def test_a_file_whose_versions_are_not_last_is_refused_untouched(tmp_path, capsys):
    path = tmp_path / "acme" / "connector.yml"
    path.parent.mkdir()
    moved = HAND_WRITTEN.replace("connector: acme\nschema: raw\n", "") + "connector: acme\nschema: raw\n"
    path.write_text(moved, "utf-8")
    catalog = write_json(tmp_path / "catalog.json", CHANGED)
    code, _, err = run(capsys, "scaffold", "connector", "acme", "--from-dbt-catalog", str(catalog), "--out", str(tmp_path))
    assert code == 2
    assert "`versions:` is not the last block" in err and "rename_column" in err  # the block to paste by hand
    assert path.read_text("utf-8") == moved


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read dbt catalog {path}"),
        ("{not json", "{path} is not a dbt catalog (not JSON"),
        ('{"results": []}', "{path} is not a dbt catalog: it has no 'nodes' or 'sources' object"),
        ('{"sources": {"source.a.b.c": {"columns": {}}}}', "{path}: entry 'source.a.b.c' has no metadata.schema and metadata.name"),
    ],
)
def test_an_unreadable_catalog_exits_2_naming_the_file(tmp_path, capsys, content, message):
    catalog = tmp_path / "target" / "catalog.json"
    if content is not None:
        catalog.parent.mkdir()
        catalog.write_text(content, "utf-8")
    code, _, err = run(capsys, "scaffold", "connector", "acme", "--from-dbt-catalog", str(catalog), "--out", str(tmp_path))
    assert code == 2
    assert message.format(path=catalog) in err
    assert not (tmp_path / "acme").exists()


def test_a_database_that_is_not_one_exits_2(tmp_path, capsys):
    code, _, err = run(capsys, "scaffold", "connector", "acme", "--from-db", "mysql://x", "--out", str(tmp_path))
    assert code == 2 and "not a DuckDB file (.duckdb, .db, duckdb:///path) or a postgresql:// DSN" in err
    code, _, err = run(capsys, "scaffold", "connector", "acme", "--from-db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path))
    assert code == 2 and f"DuckDB file {tmp_path / 'none.duckdb'} does not exist" in err
