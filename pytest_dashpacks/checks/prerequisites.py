"""What a check needs before it can say anything, and the item that reports it when it is missing.

One defect is one failure: a query that does not parse fails ``syntax``, one that does not resolve
in a version fails ``schema[c@v]``, one that does not run on the seed fails ``execute[c@v]``; every
item that needs what is missing skips with ``blocked by <node id>: <first line of its message>``.
Each item works its prerequisites out itself (cached per process), so serial and xdist runs agree.
"""

from __future__ import annotations

from typing import Any

from ..errors import CheckSkipped, DashpacksError
from ..model import Board, ConnectorVersion, Pack, Query

BLOCKED = "blocked by "


def blocked(blocker: str, message: str) -> CheckSkipped:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    return CheckSkipped(f"{BLOCKED}{blocker}: {first}")


def require_parsed(session: Any, pack: Pack, board: Board, query: Query) -> None:
    """The query renders and parses in the pack dialect (its ``syntax`` item)."""
    try:
        session.queries.parsed(pack, board, query)
    except DashpacksError as exc:
        raise blocked(f"{session.library.query_nodeid(query)}::syntax", exc.message) from None


def problem_key(problem: Any, version: ConnectorVersion) -> tuple[str, int, int]:
    """A schema problem without the version it was found in, to tell the same cause across versions."""
    where = problem.sql
    return problem.message.replace(version.label, "@"), where.line if where else 0, where.column if where else 0


def first_version_with(session: Any, pack: Pack, board: Board, query: Query, version: ConnectorVersion, problem: Any) -> ConnectorVersion:
    """The oldest checked version (up to ``version``) whose schema item reports ``problem`` too."""
    key = problem_key(problem, version)
    for earlier in session.library.versions(pack):
        if earlier.name == version.name:
            break
        if opted_out(pack, schema_item(session, pack, earlier), board, query):
            continue  # a version the pack skips or expects to fail reports nothing for the others
        if any(problem_key(p, earlier) == key for p in session.queries.schema_problems(pack, board, query, earlier)):
            return earlier
    return version


def opted_out(pack: Pack, item_name: str, board: Board, query: Query) -> bool:
    """Whether pack.yml ``checks.skip`` or ``checks.xfail`` covers the item."""
    from ..load.packs import rule_matches

    return any(rule_matches(rule, item_name, board.stem, query.name) for rule in pack.skips + pack.xfails)


def require_resolved(session: Any, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> None:
    """Every table and column the query names exists in ``version`` and compared types agree (its
    ``schema`` item finds nothing that stops the query; a literal no row has does not)."""
    require_parsed(session, pack, board, query)
    problems = [p for p in session.queries.schema_problems(pack, board, query, version) if not p.still_runs]
    if problems:
        root = first_version_with(session, pack, board, query, version, problems[0])
        if not opted_out(pack, schema_item(session, pack, root), board, query):  # a skipped or expected failure blocks nothing
            raise schema_blocker(session, pack, board, query, version, problems[0], root)


def schema_item(session: Any, pack: Pack, version: ConnectorVersion) -> str:
    """The name of the schema item of ``version``: ``schema[<connector>@<version>]``."""
    return f"schema[{session.library.connector(pack).name}@{version.name}]"


def schema_blocker(
    session: Any, pack: Pack, board: Board, query: Query, version: ConnectorVersion, problem: Any, root: ConnectorVersion | None = None
) -> CheckSkipped:
    """Blocked by the schema item of the oldest version with ``problem`` (``root``, when the caller
    found it already), quoting that item's message."""
    root = root or first_version_with(session, pack, board, query, version, problem)
    key = problem_key(problem, version)
    message = next((p.message for p in session.queries.schema_problems(pack, board, query, root) if problem_key(p, root) == key), problem.message)
    return blocked(f"{session.library.query_nodeid(query)}::{schema_item(session, pack, root)}", message)


def require_runs(session: Any, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> None:
    """The query resolves in ``version`` and runs on its seed (its ``execute`` item gets that far)."""
    require_resolved(session, pack, board, query, version)
    session.queries.runnable(pack, board, query, version)  # a construct DuckDB lacks skips with its own reason
    failure = session.databases.seed_failure(pack, board, query, version)
    execute = f"execute[{session.library.connector(pack).name}@{version.name}]"
    if failure is not None and not opted_out(pack, execute, board, query):
        raise blocked(f"{session.library.query_nodeid(query)}::{execute}", failure.message)


def require_zone_clean(session: Any, pack: Pack, board: Board, query: Query) -> None:
    """Every date/time bucket is taken in the reporting zone (its ``zone`` item passes, where there is one):
    a session-zone or KPI difference of a query whose buckets are zone-naive is that item's finding."""
    from ..sql.zones import zone_item_applies
    from .zone import zone_findings

    if not zone_item_applies(pack, session.library.versions(pack)) or opted_out(pack, "zone", board, query):
        return
    findings = zone_findings(session, pack, board, query)
    if findings:
        raise blocked(f"{session.library.query_nodeid(query)}::zone", findings[0][0].message)
