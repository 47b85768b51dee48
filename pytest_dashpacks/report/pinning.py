"""Regression cases written from failing items: ``--dashpacks-pin-dir`` and the case a ``property`` failure prints.

``expect`` is the right answer, here as in every regression case, so a written
case fails while its defect is there and passes once it is fixed. The plugin
takes the right answer from what it knows: the KPI oracle's buckets (``kpi``,
``property``, the KPI invariants of ``volume``); the rows of a session in the
reporting zone (``timezone``, ``clock``: the case runs in the session that
answers differently); the rows with NaN and infinity as null (``volume``); the
columns the query selects (a query that fails under ``execute``).

The item's rows are shrunk first (:mod:`.shrinking`) against :mod:`.replay`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from ..data.rows import Rows
from .replay import (
    Replay,
    Reproduction,
    Unpinnable,
    binding_reproduction,
    error_reproduction,
    kpi_reproduction,
    nan_reproduction,
    selected_columns,
    session_reproduction,
)

PINNED_CHECKS = ("kpi", "property", "volume", "clock", "timezone", "execute")
SHRINK_RUNS = 300  # query runs per pin
SHRINK_SECONDS = 5.0
MARK = "# dashpacks-pin "  # + a digest of the rest of the file: present and matching = never edited



def pin_id(nodeid: str, pack: str) -> str:
    """A file-name-safe id: PIN-<pack>-<board>-<query>-<check>[-<param>] (pack-level items: PIN-<pack>-<check>-<kpi>)."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    if len(parts) > 1:  # a board's query item; pack-level items (pack.yml::kpi[x]) have one part
        parts.insert(0, Path(path).stem)
    return "PIN-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join([pack, *parts])).strip("-")


# --- building the case -----------------------------------------------------------------


@dataclass(frozen=True)
class PinnedCase:
    text: str  # the case as YAML, headed by comments
    rows_before: int
    rows_after: int
    runs: int
    seconds: float

    @property
    def summary(self) -> str:
        return f"shrunk from {self.rows_before} rows to {self.rows_after} ({self.runs} query runs, {self.seconds:.1f} s)"


def pinned_case(
    session: Any, pack: Any, check: str, record: dict[str, Any], *,
    case_id: str, title: str, origin: str, message: str | None = None, kpi: Any = None, zone: str | None = None,
) -> PinnedCase:
    """The regression case reproducing a failing ``check`` item (its ``kpi``, or its session ``zone``) from
    what it recorded (board, query, version, timezone, rows, now); Unpinnable when the failure does not reproduce."""
    from .shrinking import Budget, drop_columns, shrink_rows

    version = next(v for v in session.library.versions(pack) if v.name == record["version"])
    path = session.library.board_paths(pack)[record["board"]]
    board = session.library.board(path, pack.directory)
    query = board.query(record["query"])
    sql = session.queries.runnable(pack, board, query, version)
    instant = dt.datetime.fromisoformat(record["now"]) if record.get("now") else None
    rows: Rows = {key: list(table_rows) for key, table_rows in record["rows"].items()}
    budget = Budget(SHRINK_RUNS, SHRINK_SECONDS)
    replay = Replay(session.databases.fixture_db(pack, version), sql, (pack.timezone, *([zone] if check == "timezone" and zone else [])), instant, budget)
    try:
        repro, kpi = _reproduction(replay, session, pack, version, board, query, check, kpi, zone, sql, rows)
        small = shrink_rows(rows, repro.fails, budget)
        small = drop_columns(small, repro.fails, budget, _protected(version, sql, kpi))
        expect = repro.expect(small)
        data = replay.typed(version, small)
    finally:
        replay.close()
    case: dict[str, Any] = {
        "id": case_id, "title": title, "class": record.get("class", "volume"), "board": record["board"], "query": record["query"],
        "schema_version": record["version"], "timezone": repro.zone,
    }
    if instant is not None:
        case["now"] = instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    case.update(seed=False, data=data, expect=expect)
    before, after = sum(len(r) for r in rows.values()), sum(len(r) for r in data.values())
    header = [f"# Pinned by pytest-dashpacks from {origin}"]
    if message:
        header.append(f"# It failed: {message}")
    header += [
        f"# expect is the right answer: {repro.explains}.",
        "# So this case fails until the defect is fixed; correct expect if the right answer is something else.",
        f"# Shrunk from {before} rows to {after} in {budget.spent} query runs, keeping: {repro.same_way}.",
        "# Give it a real defect id and title (the file name must match the id), keep it under regressions/, then fix the query.",
    ]
    body = yaml.safe_dump(case, sort_keys=False, width=4096, default_flow_style=None, allow_unicode=True)
    return PinnedCase("\n".join(header) + "\n" + body, before, after, budget.spent, budget.elapsed)


def _reproduction(
    replay: Replay, session: Any, pack: Any, version: Any, board: Any, query: Any, check: str, kpi: Any, zone: str | None,
    sql: str, rows: Rows,
) -> tuple[Reproduction, Any]:
    """The item's way of failing, recognized by running its query again on its rows; and its KPI, if any."""
    if check in ("kpi", "property"):
        return kpi_reproduction(replay, session, pack, version, kpi, rows), kpi
    if check == "timezone":
        return session_reproduction(replay, ("UTC", zone or "UTC"), pack.timezone, rows), None
    if check == "clock":
        return session_reproduction(replay, ("UTC", pack.timezone), pack.timezone, rows), None
    _, error = replay.run(rows, "UTC")
    if error is not None:
        return error_reproduction(replay, error, selected_columns(sql), rows), None
    if check == "execute":
        return binding_reproduction(replay, [b.column for b in board.bindings_of(query.name)], rows), None
    try:
        return nan_reproduction(replay, rows), None
    except Unpinnable:
        pass
    for kpi in (k for k in pack.kpis if k.board == board.stem and k.query == query.name):
        try:
            return kpi_reproduction(replay, session, pack, version, kpi, rows), kpi
        except Unpinnable:
            continue
    raise Unpinnable("neither NaN nor infinity nor a KPI that differs from its oracle when the query runs again on the item's rows")


def _protected(version: Any, sql: str, kpi: Any) -> Callable[[str, str], bool]:
    """Columns a shrunk case keeps even when the failure does without them: keys, the columns the query
    names, and the KPI's timestamp, value and filter columns, so the case reads like the query."""
    import sqlglot
    from sqlglot import exp

    named = {c.name.lower() for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
    if kpi is not None:
        named |= {kpi.source.timestamp.lower(), kpi.source.value.lower(), *(c.lower() for c in kpi.source.filters)}
    keys = {(t.key, c.name) for t in version.tables.values() for c in t.columns if c.primary_key}
    return lambda table, column: column.lower() in named or (table, column) in keys


# --- writing the file ------------------------------------------------------------------


@dataclass(frozen=True)
class PinNote:
    path: Path | None  # None: nothing written
    note: str  # one line for the item's report


def _built(*args: Any, **kwargs: Any) -> PinnedCase | str:
    """``pinned_case(...)``, or why there is none. The item's own failure is reported either way, so a
    case that cannot be built (or a shrinker that crashes) must never replace it."""
    try:
        return pinned_case(*args, **kwargs)
    except Unpinnable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001  (see the docstring)
        return f"{type(exc).__name__}: {exc}"


def case_text_or_reason(*args: Any, **kwargs: Any) -> str:
    """The YAML of a pinned case (arguments as :func:`pinned_case`), or a comment saying why there is none."""
    case = _built(*args, **kwargs)
    return f"# no regression case: {case}" if isinstance(case, str) else case.text


def write_pin(directory: Path, session: Any, item: Any, message: str) -> PinNote | None:
    """Write ``directory/PIN-....yml`` for a failing data item, unless a pin there was edited since the
    plugin wrote it; None when the item recorded nothing to reproduce."""
    record = item.record
    if "rows" not in record or "board" not in record or item.pack is None:
        return None
    case_id = pin_id(item.nodeid, item.pack.name)
    path = directory / f"{case_id}.yml"
    if path.exists() and edited(path.read_text("utf-8")):
        return PinNote(path, f"{path}: kept, edited since it was written (a pin is never overwritten once edited)")
    case = _built(session, item.pack, item.check, record, case_id=case_id, title=f"pinned from {item.nodeid}", origin=item.nodeid,
                  message=message, kpi=getattr(item, "kpi", None), zone=getattr(item, "zone", None))
    if isinstance(case, str):
        return PinNote(None, f"no pin: {case}")
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(stamped(case.text), "utf-8")
    os.replace(temporary, path)  # a reader never sees half a file
    return PinNote(path, f"{path}: {case.summary}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stamped(text: str) -> str:
    """``text`` with a closing comment that tells, later, whether anyone edited it."""
    return f"{text}{MARK}{_digest(text)}: written by the plugin; once edited, --dashpacks-pin-dir never overwrites it\n"


def edited(text: str) -> bool:
    """Whether a pin file changed since the plugin wrote it (a file without the plugin's stamp counts as edited)."""
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].startswith(MARK):
        return True
    digest = lines[-1][len(MARK):].split(":", 1)[0]
    return digest != _digest("".join(lines[:-1]))
