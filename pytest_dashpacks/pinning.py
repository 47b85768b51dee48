"""``--dashpacks-pin-dir``: a failing data item writes a regression case that reproduces it.

The file holds the rows the item ran on (only the tables its query reads) and
the query's current, wrong answer as ``expect``; a comment says what to fix.
As written it loads and passes, so it pins the behaviour until the author
corrects ``expect`` and the query.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

PINNED_CHECKS = ("kpi", "property", "volume", "clock", "timezone", "execute")


def pin_id(nodeid: str, pack: str) -> str:
    """A file-name-safe id from a node id: PIN-<pack>-<board>-<query>-<check> (pack-level items: PIN-<pack>-<check>)."""
    tail = nodeid.split("/")[-1]
    tail = re.sub(r"\.ya?ml::", "-", tail).replace("::", "-")
    if tail.startswith("pack-"):
        tail = tail[len("pack-"):]
    return "PIN-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{pack}-{tail}").strip("-")


def plain(value: Any) -> Any:
    """A value as YAML can hold it: dates as ISO text, Decimal as float, NaN as null."""
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return float(value)
    if isinstance(value, float) and value != value:
        return None
    return value


def regression_case(
    case_id: str, title: str, defect_class: str, record: dict[str, Any], rows: dict[str, list[dict[str, Any]]], expect: dict[str, Any]
) -> dict[str, Any]:
    """A SPEC section 7 case: where the query ran (``record``: board, query, version, timezone, now), its data and ``expect``."""
    case: dict[str, Any] = {
        "id": case_id,
        "title": title,
        "class": defect_class,
        "board": record["board"],
        "query": record["query"],
        "schema_version": record["version"],
        "timezone": record["timezone"],
    }
    if record.get("now"):
        case["now"] = record["now"]
    case["seed"] = False
    case["data"] = {table: [{k: plain(v) for k, v in row.items()} for row in table_rows] for table, table_rows in rows.items() if table_rows}
    case["expect"] = expect
    return case


def write_pin(directory: Path, nodeid: str, record: dict[str, Any], message: str) -> Path | None:
    """Write the regression file for one failing item; None when nothing reproducible was recorded."""
    if "rows" not in record or "board" not in record:
        return None
    case_id = pin_id(nodeid, record.get("pack", ""))
    result = record.get("result")
    if result is not None:
        expect: dict[str, Any] = {"rows": [{k: plain(v) for k, v in row.items()} for row in result.records()]}
    else:
        expect = {"error": record.get("error", "")}
    case = regression_case(case_id, f"pinned from {nodeid}", record.get("class", "volume"), record, record["rows"], expect)
    header = [
        f"# Pinned by pytest-dashpacks from {nodeid}",
        f"# It failed: {message}",
        "# expect holds the query's CURRENT, WRONG answer, so this case passes as written.",
        f"# To fix: correct expect to the right answer{(' (' + record['hint'] + ')') if record.get('hint') else ''},",
        "# then fix the query until this case passes, and give the file a real defect id and title.",
    ]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case_id}.yml"
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(case, sort_keys=False, width=120), "utf-8")
    return path
