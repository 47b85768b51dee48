"""Pinned defects: regression cases (``regressions/<ID>.yml``) and the defect ledger (``defects.yml``)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import SourceSpan
from .yaml import YamlDoc, load_yaml, require_inside, validate


@dataclass(frozen=True)
class RegressionCase:
    id: str
    title: str
    defect_class: str
    board: str
    query: str
    schema_version: str | None
    timezone: str | None
    now: str | None
    variables: dict[str, Any]
    seed: bool
    data: dict[str, list[dict[str, Any]]]
    expect: dict[str, Any]
    path: Path
    span: SourceSpan
    doc: YamlDoc = field(repr=False)


def parse_instant(text: str) -> dt.datetime:
    """A regression case's frozen ``now``: ISO 8601, UTC when it names no offset. ValueError otherwise."""
    instant = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.timezone.utc)


def load_regression(path: Path) -> RegressionCase:
    doc = load_yaml(path)
    validate(doc, "regression")
    d = doc.data
    if str(d["id"]) != path.stem:
        raise doc.error(f"id {d['id']!r} must match the file name {path.stem!r} (the node id is <file>::<id>)", ("id",))
    if d.get("timezone") is not None:
        from .packs import check_zone

        check_zone(doc, d["timezone"], ("timezone",))
    if d.get("now") is not None:
        try:
            parse_instant(str(d["now"]))
        except ValueError:
            raise doc.error(f"now: {d['now']!r} is not an ISO 8601 instant such as \"2024-03-11T09:00:00Z\"", ("now",)) from None
    return RegressionCase(
        id=str(d["id"]), title=d.get("title", ""), defect_class=d["class"], board=d["board"], query=d["query"],
        schema_version=d.get("schema_version"), timezone=d.get("timezone"), now=d.get("now"),
        variables=dict(d.get("variables", {})), seed=bool(d.get("seed", False)), data=dict(d.get("data", {})),
        expect=dict(d["expect"]), path=path, span=doc.span(()), doc=doc,
    )


def load_ledger(path: Path) -> list[dict[str, Any]]:
    """The defect ledger; a ledger that is a symbolic link out of its own folder is refused, never read."""
    require_inside(path, path.parent, "folder")
    doc = load_yaml(path)
    validate(doc, "ledger")
    seen: dict[str, int] = {}
    for index, defect in enumerate(doc.data["defects"]):
        if defect["id"] in seen:
            raise doc.error(f"defect id {defect['id']!r} appears twice (first at entry {seen[defect['id']]})", ("defects", index, "id"))
        seen[defect["id"]] = index
    return [
        dict(d, _line=doc.span(("defects", i)).line,
             _pack_line=doc.span(("defects", i, "pack")).line, _connector_line=doc.span(("defects", i, "connector")).line)
        for i, d in enumerate(doc.data["defects"])
    ]


def ledger_reference_errors(
    ledger: list[dict[str, Any]], path: Path, packs: Callable[[bool], set[str]], connectors: Callable[[bool], set[str]],
) -> list[tuple[SourceSpan, str]]:
    """Entries whose ``pack`` or ``connector`` names nothing known, each with where it is written.

    ``packs(everything)`` and ``connectors(everything)`` give the known names: cheaply (False: what this
    run collected) and, asked only when a name is not among those, exhaustively (True: may walk the tree).
    """
    from .yaml import did_you_mean

    problems = []
    for defect in ledger:
        for key, noun, known in (("pack", "a pack of this project", packs), ("connector", "a known connector", connectors)):
            name = defect.get(key)
            if name is None or str(name) in known(False):
                continue
            names = known(True)
            if str(name) not in names:
                problems.append((SourceSpan(path, defect.get(f"_{key}_line") or defect.get("_line", 0)),
                                 f"{defect['id']}: {key} {name!r} is not {noun}{did_you_mean(str(name), sorted(names))}"))
    return problems


def pack_names_under(roots: list[Path], skip_dir: Callable[[Path], bool]) -> dict[str, str]:
    """Every pack under ``roots`` (its ``pack:`` key or directory name) -> its ``connector:``, reading pack.yml only.

    Directories for which ``skip_dir`` is true are not entered (pytest's ``norecursedirs``).
    """
    from ..errors import DashpacksError
    from .yaml import load_yaml

    found: dict[str, str] = {}
    for root in roots:
        for directory, subdirs, files in os.walk(root):
            here = Path(directory)
            subdirs[:] = sorted(d for d in subdirs if not skip_dir(here / d))
            if "pack.yml" not in files:
                continue
            try:
                data = load_yaml(here / "pack.yml", allow_empty=True).data
            except DashpacksError:
                data = {}
            data = data if isinstance(data, dict) else {}
            found.setdefault(str(data.get("pack", here.name)), str(data.get("connector", "")))
    return found
