"""Loading pack.yml into the model, and finding a pack's board files (files whose name starts
with ``_`` are partials, and ``meta.yml`` gives defaults: neither is a board).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..model import CheckRule, KpiContract, KpiSource, Pack
from .yaml import KeyPath, YamlDoc, load_yaml, validate


def is_board_file(path: Path) -> bool:
    return path.suffix in (".yml", ".yaml") and not path.name.startswith("_") and path.stem != "meta"


def board_files(pack_dir: Path) -> list[Path]:
    boards = pack_dir / "boards"
    return sorted(p for p in boards.rglob("*") if p.is_file() and is_board_file(p)) if boards.is_dir() else []


# --- pack.yml -------------------------------------------------------------------


def check_zone(doc: Any, zone: Any, where: tuple[Any, ...]) -> None:
    """A zone from a file is an IANA name before anything uses it (it reaches SQL as SET TimeZone)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise doc.error(f"{where[-1]}: {zone!r} is not an IANA time zone (e.g. America/New_York)", where) from None


def load_pack(manifest: Path) -> Pack:
    """Load and validate pack.yml (its own content only; references resolve later)."""
    doc = load_yaml(manifest, allow_empty=True)  # a commented-out manifest then says which key it lacks
    validate(doc, "pack")
    data = doc.data
    rules = data.get("checks", {})
    fixtures = data.get("fixtures")
    check_zone(doc, data.get("timezone", "UTC"), ("timezone",))
    return Pack(
        name=str(data.get("pack", manifest.parent.name)),
        directory=manifest.parent,
        manifest=manifest,
        connector=str(data["connector"]),
        dialect=data.get("dialect", "duckdb"),
        schema_versions=tuple(map(str, data["schema_versions"])) if "schema_versions" in data else None,
        targets=tuple(data.get("targets", ())),
        timezone=data.get("timezone", "UTC"),
        variables=dict(data.get("variables", {})),
        kpis=tuple(_kpi(doc, name, body) for name, body in data.get("kpis", {}).items()),
        skips=tuple(_rule(doc, ("checks", "skip", i), r) for i, r in enumerate(rules.get("skip", []))),
        xfails=tuple(_rule(doc, ("checks", "xfail", i), r) for i, r in enumerate(rules.get("xfail", []))),
        fixtures=(manifest.parent / fixtures).resolve() if fixtures else None,
        span=doc.span(()),
    )


def _rule(doc: YamlDoc, path: KeyPath, body: dict[str, Any]) -> CheckRule:
    return CheckRule(body["check"], body.get("query", "*"), body["reason"], body.get("defect"), doc.span(path))


def _kpi(doc: YamlDoc, name: str, body: dict[str, Any]) -> KpiContract:
    src = body["source"]
    filters = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in src.get("filters", {}).items()}
    source = KpiSource(
        table=src["table"],
        timestamp=src["timestamp"],
        value=src["value"],
        scale=float(src.get("scale", 1)),
        filters=filters,
        exclude_deleted=src.get("exclude_deleted", False),
        exclude_history=src.get("exclude_history", False),
    )
    return KpiContract(
        name=str(name),
        board=body["board"],
        query=body["query"],
        grain=body["grain"],
        time_column=body["time_column"],
        measure_column=body["measure_column"],
        source=source,
        narrative=body.get("narrative"),
        span=doc.span(("kpis", name), key=True),
    )


def rule_matches(rule: CheckRule, item_name: str, board: str | None, query: str | None) -> bool:
    """Whether a ``checks.skip``/``checks.xfail`` rule covers an item (``*`` globs in both patterns)."""

    def glob(pattern: str, text: str) -> bool:
        return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None

    target = f"{board}.{query}" if board and query else "*"
    return glob(rule.check, item_name) and (rule.query == "*" or glob(rule.query, target))
