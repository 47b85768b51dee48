"""Reference rules of a pack and its boards: what the ``load`` items prove beyond each file's own schema.

A pack's KPIs name boards, queries and connector tables that exist, and its variables are declared
by a board; a board's queries read only declared variables, paste only its own queries and ref only
its connector's models.
"""

from __future__ import annotations

from ..errors import ConfigError, RenderError, SourceSpan
from ..kpi.oracle import source_table
from ..model import Board, Connector, Pack, Query
from ..sql.pipeline import located
from ..sql.render import PASTED_QUERY, REF_CALL, name_line, template_names
from .library import PackLibrary
from .yaml import did_you_mean, load_yaml


def check_pack_references(library: PackLibrary, pack: Pack) -> None:
    """Connector, versions, zone, boards, KPI references and pack variables resolve."""
    doc = load_yaml(pack.manifest)
    connector = library.connector(pack)
    library.versions(pack)  # the zone was checked when pack.yml loaded (packs.check_zone)
    library.models_sql(pack)  # types, models and seeds check out
    paths = library.board_paths(pack)
    if not paths:
        raise doc.error(f"pack {pack.name} has no boards: expected YAML files under {pack.directory / 'boards'}", ())
    boards: dict[str, Board | None] = {}
    for stem, path in paths.items():
        try:
            boards[stem] = library.board(path, pack.directory)
        except ConfigError:
            boards[stem] = None  # the board's own load item reports it
    for kpi in pack.kpis:
        where = ("kpis", kpi.name)
        if kpi.board not in boards:
            raise doc.error(f"kpi {kpi.name}: unknown board {kpi.board!r}{did_you_mean(kpi.board, sorted(boards))}", where + ("board",))
        board = boards[kpi.board]
        if board is not None and board.query(kpi.query) is None:
            known = [q.name for q in board.queries]
            raise doc.error(f"kpi {kpi.name}: board {kpi.board} has no SQL query {kpi.query!r}{did_you_mean(kpi.query, known)}", where + ("query",))
        if not any(source_table(version, kpi) is not None for version in connector.versions):
            tables = sorted({t.key for v in connector.versions for t in v.tables.values()})
            raise doc.error(
                f"kpi {kpi.name}: connector {connector.name} has no table {kpi.source.table!r} in any version"
                f"{did_you_mean(kpi.source.table, tables)}",
                where + ("source", "table"),
            )
    declared = {v.name for b in boards.values() if b is not None for v in b.variables}
    for name in pack.variables:
        if name not in declared:
            raise doc.error(
                f"variables: no board of this pack declares variable {name!r}{did_you_mean(name, sorted(declared))}",
                ("variables", name), key=True,
            )


def check_board_references(connector: Connector, board: Board) -> None:
    """Every Jinja name a query reads is a declared variable; queries.x and ref() resolve."""
    from jinja2 import TemplateSyntaxError

    declared = {v.name for v in board.variables}
    sql_queries = {q.name for q in board.queries}
    models = {m.name for m in connector.models}
    for query in board.queries:
        try:
            names = template_names(query.sql)
        except TemplateSyntaxError as exc:  # reported with its line by the syntax item too
            raise located(RenderError(f"Jinja syntax error: {exc}"), query, template=True) from None
        for name in sorted(names - declared):
            raise _template_error(
                query, name, f"query {query.name!r} uses unknown variable {name!r}{did_you_mean(name, sorted(declared))}"
            )
        for match in PASTED_QUERY.finditer(query.sql):
            if match.group(1) not in sql_queries:
                raise _template_error(
                    query, match.group(0),
                    f"query {query.name!r} expands unknown query {match.group(1)!r}{did_you_mean(match.group(1), sorted(sql_queries))}",
                )
        for match in REF_CALL.finditer(query.sql):
            if match.group(1) not in models:
                raise _template_error(
                    query, match.group(0),
                    f"query {query.name!r} refs unknown model {match.group(1)!r} of connector {connector.name}"
                    f"{did_you_mean(match.group(1), sorted(models))}",
                )


def _template_error(query: Query, needle: str, message: str) -> ConfigError:
    line = name_line(query.sql, needle) or next((n for n, text in enumerate(query.sql.splitlines(), 1) if needle in text), 0)
    yaml_line = query.sql_first_line + line - 1 if line else query.span.line
    return ConfigError(message, SourceSpan(query.span.path, yaml_line, query.sql_indent + 1))
