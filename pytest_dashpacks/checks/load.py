"""``load`` items: a pack manifest or board is valid and its references resolve (``load.references``)."""

from __future__ import annotations

from ..load.references import check_board_references, check_pack_references
from . import CheckContext, register


@register("load", "config")
def check_load(ctx: CheckContext) -> None:
    if ctx.board is None:
        check_pack_references(ctx.session.library, ctx.pack)
    else:
        check_board_references(ctx.session.library.connector(ctx.pack), ctx.board)
