"""The YAML loader: marks, duplicate keys, tags, aliases, encodings; schema messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_dashpacks.errors import ConfigError
from pytest_dashpacks.load.yaml import load_yaml, validate


def load(tmp_path: Path, text: str | bytes):
    path = tmp_path / "x.yml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_yaml(path)


def test_marks_point_at_values_and_keys(tmp_path):
    doc = load(tmp_path, "a:\n  b: [1, 2]\n  c:\n    - x: 1\n")
    assert doc.span(("a", "b")).line == 2
    assert doc.span(("a", "b", 1)).column == 10
    assert doc.span(("a", "c", 0, "x"), key=True).line == 4
    assert doc.span(("a", "missing")).line == 2  # nearest existing parent


def test_dates_stay_text_and_merge_keys_work(tmp_path):
    doc = load(tmp_path, "base: &b {x: 1, y: 2}\nd: 2024-01-01\nm:\n  <<: *b\n  y: 3\n")
    assert doc.data["d"] == "2024-01-01"
    assert doc.data["m"] == {"x": 1, "y": 3}


@pytest.mark.parametrize(
    "text, message, line",
    [
        ("a: 1\na: 2\n", "duplicate key 'a' (first defined on line 1)", 2),
        ("a: !!python/name:os.system x\n", "YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed", 1),
        ("a: !custom 1\n", "YAML tag '!custom' is not allowed", 1),
        ("a: [1, 2\nb: 3\n", "YAML syntax error", 2),
        ("   \n", "file is empty", 1),
        ("---\na: 1\n---\nb: 2\n", "YAML syntax error", 3),
    ],
)
def test_bad_yaml_is_located(tmp_path, text, message, line):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, text)
    assert message in err.value.message
    assert err.value.span.line == line


def test_loading_keeps_nothing_of_the_file(tmp_path):
    """Scalars are built without the constructor's memory of every node it saw, which held each file's
    nodes and marks until the process ended."""
    from pytest_dashpacks.load import yaml as loader

    doc = load(tmp_path, "a: 1\nb: [x, 2.5, true, null, 2024-01-01]\n")
    assert doc.data == {"a": 1, "b": ["x", 2.5, True, None, "2024-01-01"]}
    assert not loader._scalars.constructed_objects


def test_alias_bomb_stops_early(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(ConfigError, match="alias bomb"):
        load(tmp_path, "\n".join(lines) + "\n")


def test_non_utf8_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, b"a: 1\nb: caf\xe9\n")
    assert err.value.span.line == 2 and err.value.span.column == 7


def test_schema_errors_name_the_key_with_a_hint(tmp_path):
    doc = load(tmp_path, "connector: stripe\ntargets: [snowflake]\ntimezon: UTC\ndialect: duckdb\n")
    with pytest.raises(ConfigError) as err:
        validate(doc, "pack")
    assert err.value.message == "unknown key 'timezon' in document (did you mean 'timezone'?)"
    assert (err.value.span.line, err.value.span.column) == (3, 1)


def test_schema_reports_every_problem_in_file_order(tmp_path):
    doc = load(tmp_path, "connector: 3\ntargets: [nowhere]\nkpis:\n  k: {board: b}\n")
    with pytest.raises(ConfigError) as err:
        validate(doc, "pack")
    assert err.value.message == "connector: expected a string, got integer 3"
    assert any("targets[0]: \"nowhere\" is not one of" in d for d in err.value.details)
    assert any("kpis.k: 'query' is required" in d for d in err.value.details)


@pytest.mark.parametrize("name", ["pack", "board", "meta", "connector", "regression", "ledger"])
def test_shipped_schemas_are_valid_json_schemas(name):
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("pytest_dashpacks.schemas").joinpath(f"{name}.json").read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
