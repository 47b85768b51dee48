"""Only items that can find something are generated (issue #9, part 2): the rule per data item kind."""

from __future__ import annotations

import pytest

from conftest import GOOD_PACK

# zendesk@2025-03: ticket has created_at (a timestamp) and _fivetran_deleted (the soft-delete flag).
BOARD = """\
title: Relevance
queries:
  plain: |
    SELECT id, description FROM zendesk.ticket WHERE has_incidents
  counted: |
    SELECT brand_id, COUNT(id) AS tickets FROM zendesk.ticket GROUP BY 1
  joined: |
    SELECT t.id, c.body FROM zendesk.ticket AS t JOIN zendesk.ticket_comment AS c ON c.ticket_id = t.id
  comma_joined: |
    SELECT t.id, c.body FROM zendesk.ticket AS t, zendesk.ticket_comment AS c WHERE c.ticket_id = t.id
  windowed: |
    SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM zendesk.ticket
  dated: |
    SELECT id, created_at FROM zendesk.ticket
  limited: |
    SELECT id FROM zendesk.ticket ORDER BY id LIMIT 5
  pasted: |
    SELECT * FROM ({{ queries.counted }}) AS c
charts:
  t: {type: table, query: plain}
rows: [t]
"""


@pytest.fixture
def generated(packs, pytester: pytest.Pytester) -> dict[str, set[str]]:
    """query -> the item names generated for it."""
    packs({"packs/r/pack.yml": GOOD_PACK, "packs/r/boards/r.yml": BOARD})
    result = pytester.runpytest("--dashpacks", "--collect-only", "-q", "-p", "no:randomly")
    out: dict[str, set[str]] = {}
    for line in result.outlines:
        if line.startswith("packs/r/boards/r.yml::") and line.count("::") == 2:
            _, query, item = line.split("::")
            out.setdefault(query, set()).add(item)
    assert out, result.outlines
    return out


def test_volume_large_only_for_joins_windows_and_aggregates(generated: dict[str, set[str]]) -> None:
    with_large = {q for q, names in generated.items() if "volume[large]" in names}
    assert with_large == {"counted", "joined", "comma_joined", "windowed", "pasted"}
    assert "volume[empty]" in generated["plain"]  # the other data cases stay


def test_timezone_only_for_queries_that_read_time_or_cut_rows(generated: dict[str, set[str]]) -> None:
    with_zone = {q for q, names in generated.items() if any(n.startswith("timezone[") for n in names)}
    # "pasted" selects * from a query over ticket, which has timestamp columns; "windowed" ranks rows.
    assert with_zone == {"dated", "limited", "windowed", "pasted"}


def test_every_query_keeps_its_static_and_seed_items(generated: dict[str, set[str]]) -> None:
    for names in generated.values():
        assert {"syntax", "volume[empty]", "volume[soft_deleted]"} <= names  # ticket has _fivetran_deleted
