"""``load`` items: a pack manifest or board is valid and its references resolve."""

from __future__ import annotations

from ..errors import ConfigError
from ..packs import board_files, did_you_mean
from ..yamlsource import load_yaml
from . import CheckContext, register


@register("load", "config")
def check_load(ctx: CheckContext) -> None:
    if ctx.board is None:
        check_pack(ctx)
    else:
        ctx.session.check_board_references(ctx.pack, ctx.board)


def check_pack(ctx: CheckContext) -> None:
    """Connector, versions, zone, boards, KPI references and pack variables resolve."""
    pack, session = ctx.pack, ctx.session
    doc = load_yaml(pack.manifest)
    connector = session.connector(pack)
    session.versions(pack)  # the zone was checked when pack.yml loaded (packs.check_zone)
    session.models_sql(pack)  # types, models and seeds check out
    paths = board_files(pack.directory)
    if not paths:
        raise doc.error(f"pack {pack.name} has no boards: expected YAML files under {pack.directory / 'boards'}", ())
    boards = {}
    for path in paths:
        try:
            boards[path.stem] = session.board(path, pack.directory)
        except ConfigError:
            boards[path.stem] = None  # the board's own load item reports it
    for kpi in pack.kpis:
        where = ("kpis", kpi.name)
        if kpi.board not in boards:
            raise doc.error(f"kpi {kpi.name}: unknown board {kpi.board!r}{did_you_mean(kpi.board, sorted(boards))}", where + ("board",))
        board = boards[kpi.board]
        if board is not None and board.query(kpi.query) is None:
            known = [q.name for q in board.queries]
            raise doc.error(f"kpi {kpi.name}: board {kpi.board} has no SQL query {kpi.query!r}{did_you_mean(kpi.query, known)}", where + ("query",))
        tables = {t.key.lower() for v in connector.versions for t in v.tables.values()}
        if kpi.source.table.lower() not in tables:
            raise doc.error(
                f"kpi {kpi.name}: connector {connector.name} has no table {kpi.source.table!r} in any version"
                f"{did_you_mean(kpi.source.table, sorted(tables))}",
                where + ("source", "table"),
            )
    declared = {v.name for b in boards.values() if b is not None for v in b.variables}
    for name in pack.variables:
        if name not in declared:
            raise doc.error(
                f"variables: no board of this pack declares variable {name!r}{did_you_mean(name, sorted(declared))}",
                ("variables", name), key=True,
            )
