"""Bad input fails only its own items with a clear file:line message; the other packs still run."""

from __future__ import annotations

import pytest

from conftest import STATIC, GOOD_BOARD, GOOD_PACK, good_pack, outcomes_by_node

BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


def board_with_query(sql: str) -> str:
    body = "\n".join("    " + line for line in sql.splitlines())
    return GOOD_BOARD.replace("  by_priority:\n", f"  extra: |\n{body}\n  by_priority:\n", 1)


# (case id, files of the broken pack, failing node id suffix, expected message line)
CASES = [
    ("yaml-syntax", {"boards/support.yml": "title: x\nqueries:\n  a: [unclosed\n"},
     "boards/support.yml::load", "*boards/support.yml:4: load: YAML syntax error: *"),
    ("wrong-type", {"pack.yml": GOOD_PACK.replace("targets: [snowflake]", "targets: snowflake")},
     "pack.yml::load", "*pack.yml:3: load: targets: expected a list, got string \"snowflake\""),
    ("unknown-key", {"pack.yml": GOOD_PACK + "fixturs: ../fx\n"},
     "pack.yml::load", "*pack.yml:5: load: unknown key 'fixturs' in document (did you mean 'fixtures'?)"),
    ("duplicate-key", {"boards/support.yml": GOOD_BOARD.replace("  by_priority:\n", "  daily: SELECT 1 AS x\n  by_priority:\n")},
     "boards/support.yml::load", "*boards/support.yml:12: load: duplicate key 'daily' (first defined on line 6)"),
    ("duplicate-query-name", {"boards/support.yml": GOOD_BOARD.replace(
        "  split: {type: bar,", "  daily: {type: kpi, query: \"SELECT 1 AS n\", value: n}\n  split: {type: bar,")},
     "boards/support.yml::load", "*boards/support.yml:19: load: duplicate query name 'daily': chart 'daily' carries an inline query*"),
    ("unknown-query", {"boards/support.yml": GOOD_BOARD.replace("query: by_priority", "query: by_prio")},
     "boards/support.yml::load", "*boards/support.yml:19: load: chart 'split' names unknown query 'by_prio' (did you mean 'by_priority'?)"),
    ("unknown-variable", {"boards/support.yml": GOOD_BOARD.replace("filter('status', status)", "filter('status', statuses)")},
     "boards/support.yml::load", "*boards/support.yml:10: load: query 'daily' uses unknown variable 'statuses' (did you mean 'status'?)"),
    ("unknown-connector", {"pack.yml": GOOD_PACK.replace("zendesk", "zendsk")},
     "pack.yml::load", "*pack.yml:1: load: unknown connector 'zendsk' (did you mean 'zendesk'?)*"),
    ("unknown-version", {"pack.yml": GOOD_PACK.replace('"2025-03"', '"2025-04"')},
     "pack.yml::load", "*pack.yml:2: load: connector zendesk has no schema version '2025-04' (did you mean '2025-03'?)"),
    ("empty-file", {"boards/support.yml": ""},
     "boards/support.yml::load", "*boards/support.yml:1: load: file is empty"),
    ("non-utf8", {"boards/support.yml": GOOD_BOARD.encode().replace(b"title: Support", b"title: Caf\xe9")},
     "boards/support.yml::load", "*boards/support.yml:1: load: file is not UTF-8: byte 0xe9 cannot be decoded"),
    ("alias-bomb", {"boards/support.yml": BOMB},
     "boards/support.yml::load", "*boards/support.yml:*: load: YAML expands to more than 200000 nodes (an alias bomb?)"),
    ("huge-integer", {"boards/support.yml": GOOD_BOARD.replace("status: {input: multiselect}", "status: {input: multiselect, default: " + "9" * 5000 + "}")},
     "boards/support.yml::load", "*boards/support.yml:4: load: integer of 5000 characters: at most 100 digits"),
    ("deep-nesting", {"boards/support.yml": GOOD_BOARD + "text: " + "[" * 500 + "]" * 500 + "\n"},
     "boards/support.yml::load", "*boards/support.yml:21: load: YAML nests more than 100 levels deep"),
    ("very-deep-nesting", {"boards/support.yml": GOOD_BOARD + "text: " + "[" * 20000 + "]" * 20000 + "\n"},
     "boards/support.yml::load", "*boards/support.yml:21: load: YAML syntax error: *maximum nesting depth"),
    ("yaml-tag", {"boards/support.yml": "title: !!python/object:os.system x\n"},
     "boards/support.yml::load", "*boards/support.yml:1: load: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
    ("two-statements", {"boards/support.yml": board_with_query("SELECT 1 AS a; SELECT 2 AS b")},
     "boards/support.yml::extra::syntax", "*boards/support.yml:12: syntax: a board query must be one statement; found 2 (SELECT, SELECT)"),
    ("jinja-internals", {"boards/support.yml": board_with_query("SELECT '{{ ''.__class__ }}' AS a")},
     "boards/support.yml::extra::syntax", "*boards/support.yml:13: syntax: template reaches for Python internals, refused by the sandbox*"),
    ("undefined-jinja", {"boards/support.yml": board_with_query("SELECT {{ range.__globals__ }} AS a")},
     "boards/support.yml::extra::syntax", "*boards/support.yml:13: syntax: *"),
]

STATEMENTS = [
    ("ddl", "CREATE TABLE x AS SELECT 1", "CREATE"),
    ("dml", "DELETE FROM zendesk.ticket", "DELETE"),
    ("copy", "COPY zendesk.ticket TO '/tmp/out.csv'", "COPY"),
    ("attach", "ATTACH '/tmp/other.db' AS other", "ATTACH"),
    ("install", "INSTALL httpfs", "INSTALL"),
    ("pragma", "PRAGMA database_list", "PRAGMA"),
]


@pytest.mark.parametrize("case, broken, failing, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_its_own_item(packs, pytester, case, broken, failing, message):
    files = good_pack("good")
    bad = good_pack("bad")
    bad.update({f"packs/bad/{name}": content for name, content in broken.items()})
    packs({**files, **bad})
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()
    outcomes = outcomes_by_node(result)
    assert outcomes[f"packs/bad/{failing}"] == "FAILED"
    # Nothing of the good pack is lost or failing.
    good = {node: outcome for node, outcome in outcomes.items() if node.startswith("packs/good/")}
    assert len(good) == 12 and set(good.values()) == {"PASSED"}, good


@pytest.mark.parametrize("case, sql, kind", STATEMENTS, ids=[s[0] for s in STATEMENTS])
def test_only_select_is_a_board_query(packs, pytester, case, sql, kind):
    files = good_pack("bad", board=board_with_query(sql))
    packs(files)
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*boards/support.yml:12: syntax: only a SELECT/WITH statement is a valid board query; found {kind}"])
    result.assert_outcomes(passed=12, failed=1, skipped=3)


def test_connector_extends_cycle_and_missing_names(packs, pytester):
    connector = """\
connector: acme
versions:
  "1":
    tables:
      orders: {columns: {id: {type: bigint}, total: {type: double}}}
  "2":
    extends: "3"
  "3":
    extends: "2"
"""
    missing = connector.replace('  "2":\n    extends: "3"\n  "3":\n    extends: "2"\n', '  "2":\n    extends: "1"\n    changes:\n      - rename_column: {table: orders, from: amount, to: total_amount}\n        note: never existed\n')
    board = 'queries:\n  q: SELECT id FROM acme.orders\ncharts:\n  t: {type: table, query: q}\nrows: [t]\n'
    packs({
        "fx/acme/connector.yml": connector,
        "fx2/acme/connector.yml": missing,
        "packs/cycle/pack.yml": "connector: acme\nfixtures: ../../fx\n",
        "packs/cycle/boards/b.yml": board,
        "packs/missing/pack.yml": "connector: acme\nfixtures: ../../fx2\n",
        "packs/missing/boards/b.yml": board,
        **good_pack("good"),
    })
    result = pytester.runpytest("--dashpacks", "packs", *STATIC, "-p", "no:cacheprovider", "-rs")
    result.stdout.fnmatch_lines_random([
        "*fx/acme/connector.yml:9: load: extends cycle between versions: 2 -> 3 -> 2",
        "*fx2/acme/connector.yml:9: load: rename_column names column orders.amount, which does not exist here (columns: id, total)",
    ])
    # Each broken connector fails its pack's load item once; the board's load is blocked by it; the good pack passes whole.
    result.stdout.fnmatch_lines_random(["SKIPPED ?1? packs/cycle/boards/b.yml:1: blocked by packs/cycle/pack.yml::load: extends cycle*"])
    result.assert_outcomes(passed=12, failed=2, skipped=2)


MINI_CONNECTOR = """\
connector: mini
schema: mini
versions:
  "2024-01":
    tables:
      charge:
        columns:
          id: {type: varchar, primary_key: true}
          amount: {type: bigint}
          created: {type: timestamp}
  "2024-06":
    extends: "2024-01"
    changes:
      - change_type: {table: charge, column: amount, to: "decimal(18,2)"}
        note: widened
"""
MINI_SEED = "id,amount,created\nch_1,100,2024-01-05 10:00:00\nch_2,250,2024-01-06 23:30:00\n"
MINI_BOARD = """\
title: Revenue
queries:
  total: SELECT SUM(amount) AS total FROM mini.charge
  modeled: SELECT COUNT(*) AS n FROM {{ ref('charges') }}
charts:
  k: {type: kpi, query: total, value: total}
  m: {type: kpi, query: modeled, value: n}
rows: [k, m]
"""
MINI_CASE = """\
id: DEF-1
title: total
class: volume
board: rev
query: total
now: '2024-02-01T00:00:00Z'
timezone: UTC
seed: true
expect:
  rows: [{total: 350}]
"""


def mini_project(**overrides: str | bytes) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "fx/mini/connector.yml": MINI_CONNECTOR,
        "fx/mini/seed/charge.csv": MINI_SEED,
        "fx/mini/models/charges.sql": "SELECT id, amount FROM {{ source('mini', 'charge') }}\n",
        "packs/rev/pack.yml": 'connector: mini\nschema_versions: ["2024-01", "2024-06"]\ntargets: [snowflake]\ntimezone: America/New_York\nfixtures: ../../fx\n',
        "packs/rev/boards/rev.yml": MINI_BOARD,
        "packs/rev/regressions/DEF-1.yml": MINI_CASE,
    }
    files.update({name.replace("__", "/").replace("_dot_", "."): content for name, content in overrides.items()})
    return files


# (case id, files that differ from mini_project, the one failing node, its message)
LOCATED = [
    ("seed-value", {"fx__mini__seed__charge_dot_csv": MINI_SEED.replace("250", "not_a_number")},
     "packs/rev/pack.yml::load", "fx/mini/seed/charge.csv:3: load: 'not_a_number' in column amount is not a bigint"),
    ("seed-timestamp", {"fx__mini__seed__charge_dot_csv": MINI_SEED.replace("2024-01-06 23:30:00", "yesterday")},
     "packs/rev/pack.yml::load", "fx/mini/seed/charge.csv:3: load: 'yesterday' in column created is not a timestamp"),
    ("seed-not-utf8", {"fx__mini__seed__charge_dot_csv": MINI_SEED.encode().replace(b"ch_2", b"ch_\xe9")},
     "packs/rev/pack.yml::load", "fx/mini/seed/charge.csv:3: load: file is not UTF-8: byte 0xe9 cannot be decoded"),
    ("seed-header", {"fx__mini__seed__charge_dot_csv": MINI_SEED.replace("amount", "amuont")},
     "packs/rev/pack.yml::load", "fx/mini/seed/charge.csv:1: load: 'amuont' is not a column of charge; its values would be dropped (did you mean 'amount'?)"),
    ("seed-table", {"fx__mini__seed__chrage_dot_csv": MINI_SEED},
     "packs/rev/pack.yml::load", "fx/mini/seed/chrage.csv:1: load: version 2024-01 has no table 'chrage' for this seed (did you mean charge.csv?)"),
    ("seed-retype", {"fx__mini__seed__charge_dot_csv": MINI_SEED.replace("id,amount,created", "id,created,amount").replace(",100,", ",").replace(",250,", ",").replace("10:00:00", "10:00:00,100").replace("23:30:00", "23:30:00,12abc"),
                     "fx__mini__connector_dot_yml": MINI_CONNECTOR.replace("amount: {type: bigint}", "amount: {type: varchar}")},
     "packs/rev/pack.yml::load", "fx/mini/connector.yml:14: load: change_type charge.amount to decimal(18,2): the seed value '12abc' (row 2 of charge.csv) does not cast to decimal(18,2)"),
    ("change-type", {"fx__mini__connector_dot_yml": MINI_CONNECTOR.replace('"decimal(18,2)"', "NOTATYPE")},
     "packs/rev/pack.yml::load", "fx/mini/connector.yml:14: load: column charge.amount: 'NOTATYPE' is not a DuckDB type (Catalog Error: Type with name NOTATYPE does not exist!)"),
    ("model-parse", {"fx__mini__models__charges_dot_sql": "SELECT id, amount\nFROM {{ source('mini', 'charge') }} WHERE ((("},
     "packs/rev/pack.yml::load", "fx/mini/models/charges.sql:2: load: model charges: SQL does not parse as duckdb: *"),
    ("model-two-statements", {"fx__mini__models__charges_dot_sql": "SELECT 1 AS id; SELECT 2 AS id"},
     "packs/rev/pack.yml::load", "fx/mini/models/charges.sql:1: load: model charges: a model must be one statement; found 2 (SELECT, SELECT)"),
    ("case-now", {"packs__rev__regressions__DEF-1_dot_yml": MINI_CASE.replace("'2024-02-01T00:00:00Z'", "yesterday")},
     "packs/rev/regressions/DEF-1.yml::DEF-1", "packs/rev/regressions/DEF-1.yml:6: DEF-1: now: 'yesterday' is not an ISO 8601 instant such as \"2024-03-11T09:00:00Z\""),
    ("case-zone", {"packs__rev__regressions__DEF-1_dot_yml": MINI_CASE.replace("timezone: UTC", "timezone: Mars/Base")},
     "packs/rev/regressions/DEF-1.yml::DEF-1", "packs/rev/regressions/DEF-1.yml:7: DEF-1: timezone: 'Mars/Base' is not an IANA time zone (e.g. America/New_York)"),
    ("case-data", {"packs__rev__regressions__DEF-1_dot_yml": MINI_CASE.replace("seed: true", "data:\n  charge:\n    - {id: ch_9, amount: not_a_number}")},
     "packs/rev/regressions/DEF-1.yml::DEF-1", "packs/rev/regressions/DEF-1.yml:10: DEF-1: data.charge[0].amount: 'not_a_number' is not a decimal(18,2)"),
    ("pack-zone", {"packs__rev__pack_dot_yml": 'connector: mini\ntimezone: Mars/Phobos\nfixtures: ../../fx\n'},
     "packs/rev/pack.yml::load", "packs/rev/pack.yml:2: load: timezone: 'Mars/Phobos' is not an IANA time zone (e.g. America/New_York)"),
]


def test_the_mini_project_is_green(packs, pytester):
    packs(mini_project())
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "--dashpacks-large-rows", "100")
    result.assert_outcomes(passed=29)  # neither query reads a timestamp or a table with a deletion or history marker


@pytest.mark.parametrize("case, files, failing, message", LOCATED, ids=[c[0] for c in LOCATED])
def test_broken_fixture_data_is_one_located_failure(packs, pytester, case, files, failing, message):
    """Seeds, types, models and case values that do not fit fail one item at file:line, never a traceback;
    items that need the broken pack or connector are blocked by it."""
    packs(mini_project(**files))
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "100")
    result.stdout.fnmatch_lines([message])
    text = result.stdout.str()
    assert "Traceback" not in text and "Error:" not in text.replace("Catalog Error:", "")
    failed = [n for n, o in outcomes_by_node(result).items() if o == "FAILED"]
    assert failed == [failing]
