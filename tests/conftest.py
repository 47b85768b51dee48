"""Shared helpers for the plugin's own tests: build small packs in a pytester tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def _preload() -> None:
    """Import what the plugin loads lazily, so pytester's in-process runs never re-import it.

    pytester restores sys.modules after each in-process run; a module first
    imported inside a run would be imported again by the next one, and
    sqlglot's compiled classes do not survive that.
    """
    import duckdb  # noqa: F401
    import hypothesis  # noqa: F401  (its pytest plugin imports these lazily in every run)
    import hypothesis.internal.observability  # noqa: F401
    import hypothesis.reporting  # noqa: F401
    import hypothesis.statistics  # noqa: F401
    import jinja2.sandbox  # noqa: F401
    import jsonschema  # noqa: F401
    import sqlglot
    import sqlglot.optimizer.annotate_types  # noqa: F401
    import sqlglot.optimizer.qualify  # noqa: F401
    import sqlglot.optimizer.scope  # noqa: F401
    from sqlglot.dialects.dialect import Dialect

    for name in ("duckdb", "snowflake", "bigquery", "redshift", "postgres", "databricks", "trino", "mysql", "spark"):
        Dialect.get_or_raise(name)
    import importlib
    import pkgutil

    import pytest_dashpacks

    # Every module of the plugin, which imports most of them only once --dashpacks is on: a module first
    # imported inside one in-process run would be a different object in the next (and a monkeypatch on it lost).
    for module in pkgutil.walk_packages(pytest_dashpacks.__path__, "pytest_dashpacks."):
        importlib.import_module(module.name)
    del sqlglot


_preload()

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

GOOD_BOARD = """\
title: Support
variables:
  period: {input: daterange, default: ["2024-01-01", "2024-12-31"]}
  status: {input: multiselect}
queries:
  daily: |
    SELECT CAST(t.created_local AS DATE) AS day, COUNT(*) AS tickets
    FROM (SELECT *, (created_at AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York' AS created_local FROM zendesk.ticket) AS t
    WHERE {{ filter_date_range('t.created_local', period) }}
      AND {{ filter('status', status) }}
    GROUP BY 1
  by_priority:
    sql: |
      SELECT priority, COUNT(*) AS tickets
      FROM zendesk.ticket
      GROUP BY 1
charts:
  trend: {type: line, query: daily, x: day, y: tickets}
  split: {type: bar, query: by_priority, x: priority, y: tickets}
rows: [trend, split]
"""

GOOD_PACK = """\
connector: zendesk
schema_versions: ["2025-03"]
targets: [snowflake]
timezone: America/New_York
"""


# Selects the static checks (issue #2) where a test is about them alone.
STATIC = ("-m", "dashpacks_static")


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content) if content.startswith("\n") else content, "utf-8")


@pytest.fixture
def packs(pytester: pytest.Pytester):
    """Write packs into the pytester tree: ``packs({"packs/x/pack.yml": ...})``."""

    def make(files: dict[str, str | bytes]) -> Path:
        write(pytester.path, files)
        return pytester.path

    return make


def good_pack(name: str, board: str = GOOD_BOARD, pack: str = GOOD_PACK) -> dict[str, str | bytes]:
    return {f"packs/{name}/pack.yml": pack, f"packs/{name}/boards/support.yml": board}


def outcomes_by_node(result: pytest.RunResult) -> dict[str, str]:
    """node id -> PASSED/FAILED/SKIPPED/... from a run with ``-rA``."""
    out: dict[str, str] = {}
    for line in result.outlines:
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR", "XFAIL", "XPASS") and "::" in rest:
            out[rest.split(" - ")[0].strip()] = word
        elif word == "SKIPPED" and "::" in rest:  # "SKIPPED [1] path:line: reason" has no node id
            out[rest.split(" - ")[0].strip()] = word
    return out
