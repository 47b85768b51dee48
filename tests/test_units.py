"""Units the architecture issue named as untested: settings through ``pytester.parseconfig``,
fixture-root precedence, meta.yml merging, ``_`` partials, flow-mapping rows, and the
one-failure behaviour of a pack without boards, a model cycle and a narrative that breaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import GOOD_BOARD, GOOD_PACK, outcomes_by_node, write

from pytest_dashpacks.errors import ConfigError
from pytest_dashpacks.load.boards import load_board
from pytest_dashpacks.load.connectors import curated_fixture_root
from pytest_dashpacks.load.packs import board_files
from pytest_dashpacks.settings import DEFAULT_TIMEZONES, Settings, fixture_root_order

# --- settings ---------------------------------------------------------------------------


def test_settings_defaults(pytester: pytest.Pytester) -> None:
    settings = Settings.from_config(pytester.parseconfig())
    assert not settings.enabled and not settings.regressions_only
    assert settings.timezones == DEFAULT_TIMEZONES
    assert (settings.large_rows, settings.query_timeout, settings.max_rows, settings.property_examples) == (200_000, 10.0, 2_000_000, 25)
    assert settings.fixtures is None and settings.ledger_path is None and settings.pin_dir is None


def test_help_shows_placeholders_defaults_and_units(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = " ".join(" ".join(result.outlines).split())  # argparse wraps lines
    for expected in (
        "--dashpacks-timezones=ZONES", "default: America/Los_Angeles Asia/Kolkata Australia/Lord_Howe",
        "--dashpacks-large-rows=N", "default: 200000 rows", "--dashpacks-query-timeout=SECONDS", "default: 10 s",
        "--dashpacks-report=PATH", "--dashpacks-since=REF", "--dashpacks-changed",
    ):
        assert expected in text, expected


def test_settings_option_overrides_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ndashpacks = true\ndashpacks_timezones = Asia/Tokyo\ndashpacks_large_rows = 50\ndashpacks_fixtures = from_ini\n")
    from_ini = Settings.from_config(pytester.parseconfig())
    assert from_ini.enabled and from_ini.timezones == ("Asia/Tokyo",) and from_ini.large_rows == 50
    assert from_ini.fixtures == (pytester.path / "from_ini").resolve()  # an ini path is relative to the ini file
    both = Settings.from_config(
        pytester.parseconfig("--dashpacks-timezones", "Europe/Berlin, UTC", "--dashpacks-large-rows", "7", "--dashpacks-fixtures", "cli")
    )
    assert both.timezones == ("Europe/Berlin", "UTC") and both.large_rows == 7
    assert both.fixtures == Path("cli").resolve()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--dashpacks-query-timeout", "nan"), "must be a finite positive number"),
        (("--dashpacks-max-rows", "lots"), "--dashpacks-max-rows / dashpacks_max_rows: not a number: 'lots'"),
        (("--dashpacks-timezones", "Mars/Phobos"), "unknown IANA time zone 'Mars/Phobos'"),
        (("--dashpacks-regressions", "--dashpacks-pin-dir", "pins"), "drop --dashpacks-pin-dir"),
    ],
)
def test_settings_refuse_bad_values(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(pytest.UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_config(pytester.parseconfig(*args))


def test_regressions_only_turns_the_plugin_on(pytester: pytest.Pytester) -> None:
    settings = Settings.from_config(pytester.parseconfig("--dashpacks-regressions"))
    assert settings.enabled and settings.regressions_only


# --- fixture roots ----------------------------------------------------------------------


def test_fixture_root_order_is_pack_option_rootdir_curated(tmp_path: Path) -> None:
    pack, option, curated = tmp_path / "pack_fx", tmp_path / "opt_fx", tmp_path / "curated"
    assert fixture_root_order(pack, option, tmp_path, curated) == [pack, option, tmp_path / "connector_fixtures", curated]
    assert fixture_root_order(None, None, tmp_path, curated) == [tmp_path / "connector_fixtures", curated]
    assert fixture_root_order(option, option, tmp_path, curated) == [option, tmp_path / "connector_fixtures", curated]  # once each


def _acme(root: Path, table: str) -> None:
    write(root, {"acme/connector.yml": f'connector: acme\nschema: acme\nversions:\n  "1":\n    tables:\n      {table}:\n        columns:\n          id: {{type: bigint}}\n'})


@pytest.mark.parametrize("where", ["option", "ini", "rootdir", "pack"])
def test_fixture_root_precedence_end_to_end(pytester: pytest.Pytester, where: str) -> None:
    """The connector a pack gets comes from the first root that has it: pack.yml's ``fixtures:``, then
    --dashpacks-fixtures (over the ini), then <rootdir>/connector_fixtures; each root here has its own table."""
    for root, table in (("pack_fx", "from_pack"), ("opt_fx", "from_option"), ("ini_fx", "from_ini"), ("connector_fixtures", "from_rootdir")):
        _acme(pytester.path / root, table)
    pack = "connector: acme\n" + ("fixtures: ../../pack_fx\n" if where == "pack" else "")
    board = "title: T\nqueries:\n  q: SELECT id FROM acme.{table}\n"
    expected = {"option": "from_option", "ini": "from_ini", "rootdir": "from_rootdir", "pack": "from_pack"}[where]
    write(pytester.path, {"packs/p/pack.yml": pack, "packs/p/boards/b.yml": board.format(table=expected)})
    args = ["--dashpacks", "packs", "-p", "no:cacheprovider", "-m", "dashpacks_schema"]
    if where in ("option", "pack"):
        args += ["--dashpacks-fixtures", "opt_fx"]
    if where in ("ini", "option"):
        pytester.makeini("[pytest]\ndashpacks_fixtures = ini_fx\n")
    pytester.runpytest(*args).assert_outcomes(passed=1)


def test_curated_library_is_the_fallback(pytester: pytest.Pytester) -> None:
    settings = Settings.from_config(pytester.parseconfig())
    roots = settings.fixture_roots(None)
    assert roots[-1] == curated_fixture_root() and (roots[-1] / "zendesk" / "connector.yml").is_file()
    write(pytester.path, {"packs/p/pack.yml": GOOD_PACK, "packs/p/boards/support.yml": GOOD_BOARD})
    pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-m", "dashpacks_load").assert_outcomes(passed=2)


# --- boards: meta.yml, partials, flow-mapping rows --------------------------------------


def test_meta_yml_defaults_merge_root_first_and_the_board_wins(tmp_path: Path) -> None:
    write(tmp_path, {
        "pack.yml": "connector: zendesk\n",
        "meta.yml": "variables:\n  period: {input: daterange, default: ['2023-01-01', '2023-12-31']}\n  region: {input: select, default: emea}\n",
        "boards/meta.yml": "variables:\n  region: {input: select, default: amer}\nqueries:\n  shared: SELECT 1 AS one\n",
        "boards/ops/support.yml": "title: Support\nvariables:\n  period: {input: daterange, default: ['2024-01-01', '2024-12-31']}\nqueries:\n  own: SELECT 2 AS two\n",
    })
    board = load_board(tmp_path / "boards" / "ops" / "support.yml", tmp_path)
    defaults = {v.name: v.default for v in board.variables}
    assert defaults == {"period": ["2024-01-01", "2024-12-31"], "region": "amer"}  # the board over boards/meta.yml over meta.yml
    assert [q.name for q in board.queries] == ["shared", "own"]
    assert board.query("shared").span.path == tmp_path / "boards" / "meta.yml"  # located where it is written


def test_underscore_files_and_meta_are_not_boards(tmp_path: Path) -> None:
    write(tmp_path, {"boards/_partial.yml": "queries: {}\n", "boards/meta.yml": "queries: {}\n", "boards/a.yml": "title: A\n", "boards/sub/b.yaml": "title: B\n"})
    assert [p.relative_to(tmp_path).as_posix() for p in board_files(tmp_path)] == ["boards/a.yml", "boards/sub/b.yaml"]


def test_flow_mapping_rows_keep_their_columns_and_types(tmp_path: Path) -> None:
    write(tmp_path, {"boards/targets.yml": (
        "title: Targets\nqueries:\n  goals:\n    rows: [{region: emea, target: 120, stretch: 1.5}, {region: amer, target: 90, stretch: null}]\n"
        "charts:\n  goal_bars: {type: bar, query: goals, x: region, y: target}\n"
    )})
    board = load_board(tmp_path / "boards" / "targets.yml", tmp_path)
    (goals,) = board.values_queries
    assert [(c.name, c.category) for c in goals.columns] == [("region", "text"), ("target", "number"), ("stretch", "number")]
    assert [b.column for b in board.bindings_of("goals")] == ["region", "target"]


def test_a_values_query_with_a_bad_row_fails_at_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"boards/t.yml": "title: T\nqueries:\n  goals:\n    rows: [{region: emea}, [emea, 1]]\n"})
    with pytest.raises(ConfigError, match="a mapping of column: value") as error:
        load_board(tmp_path / "boards" / "t.yml", tmp_path)
    assert error.value.span is not None and error.value.span.line == 4


# --- one defect, one failure ------------------------------------------------------------


def test_a_pack_with_no_boards_fails_its_load_item_once(pytester: pytest.Pytester) -> None:
    write(pytester.path, {"packs/empty/pack.yml": GOOD_PACK})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines(["*packs/empty/pack.yml:1: load: pack empty has no boards: expected YAML files under *boards"])
    assert outcomes_by_node(result) == {"packs/empty/pack.yml::load": "FAILED"}


def test_an_invalid_pack_zone_fails_at_its_key(pytester: pytest.Pytester) -> None:
    write(pytester.path, {"packs/p/pack.yml": GOOD_PACK.replace("America/New_York", "America/Nowhere"), "packs/p/boards/support.yml": GOOD_BOARD})
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA")
    result.stdout.fnmatch_lines(["*packs/p/pack.yml:4: load: timezone: 'America/Nowhere' is not an IANA time zone*"])
    failed = [node for node, outcome in outcomes_by_node(result).items() if outcome == "FAILED"]
    assert failed == ["packs/p/pack.yml::load"]  # the board's items are blocked by it, not failed again


CYCLE_CONNECTOR = 'connector: loop\nschema: loop\nversions:\n  "1":\n    tables:\n      t:\n        columns:\n          id: {type: bigint}\n'


def test_a_cycle_between_connector_models_is_one_located_failure(pytester: pytest.Pytester) -> None:
    write(pytester.path, {
        "fx/loop/connector.yml": CYCLE_CONNECTOR,
        "fx/loop/models/first.sql": "SELECT id FROM {{ ref('second') }}\n",
        "fx/loop/models/second.sql": "SELECT id FROM {{ ref('first') }}\n",
        "packs/p/pack.yml": "connector: loop\nfixtures: ../../fx\n",
        "packs/p/boards/b.yml": "title: B\nqueries:\n  q: SELECT id FROM {{ ref('first') }}\n",
    })
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "--dashpacks-large-rows", "10")
    result.stdout.fnmatch_lines(["*fx/loop/models/second.sql:1: load: model second: models reference each other in a cycle: first -> second -> first"])
    failed = [node for node, outcome in outcomes_by_node(result).items() if outcome == "FAILED"]
    assert failed == ["packs/p/pack.yml::load"]


def test_a_narrative_that_shows_a_raw_null_fails_its_item(pytester: pytest.Pytester) -> None:
    """``{{ aov }}`` without a filter renders None when the average has no orders to average."""
    pack_dir = pytester.path / "packs" / "shop"
    source = Path(__file__).resolve().parent.parent / "examples" / "packs" / "shopify_orders"
    for path in source.rglob("*"):
        if path.is_file():
            target = pack_dir / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    manifest = pack_dir / "pack.yml"
    text = manifest.read_text("utf-8")
    assert "an average of {{ aov | currency }} each" in text
    manifest.write_text(text.replace("an average of {{ aov | currency }} each", "an average of {{ aov }} each"), "utf-8")
    result = pytester.runpytest("--dashpacks", "packs", "-p", "no:cacheprovider", "-rA", "-m", "dashpacks_narrative", "-k", "daily_orders")
    outcomes = outcomes_by_node(result)
    assert outcomes["packs/shop/pack.yml::narrative[daily_orders@nulls]"] == "FAILED", result.stdout.str()
    assert outcomes["packs/shop/pack.yml::narrative[daily_orders@seed]"] == "PASSED"
    result.stdout.fnmatch_lines(["*pack.yml:*: narrative[[]daily_orders@nulls[]]: *None*"])


def test_without_dashpacks_the_plugin_imports_only_its_options(pytester: pytest.Pytester) -> None:
    """A test suite that does not use the plugin pays for its options and markers only: no DuckDB,
    sqlglot, Hypothesis internals or freezegun, and none of the plugin's own machinery."""
    import subprocess
    import sys

    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    code = (
        "import sys, pytest\n"
        "assert pytest.main(['-q', '-p', 'no:cacheprovider', 'test_plain.py']) == 0\n"
        "ours = sorted(m for m in sys.modules if m.startswith('pytest_dashpacks'))\n"
        "heavy = [m for m in ('duckdb', 'sqlglot', 'freezegun', 'jinja2', 'psycopg', 'jsonschema') if m in sys.modules]\n"
        "print('OURS', ours, 'HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=pytester.path, capture_output=True, text=True, check=True)
    assert "OURS ['pytest_dashpacks', 'pytest_dashpacks.plugin', 'pytest_dashpacks.settings'] HEAVY []" in done.stdout, done.stdout
