"""``syntax`` items: the query renders and parses as one SELECT in the pack dialect."""

from __future__ import annotations

from . import CheckContext, register


@register("syntax", "rendering")
def check_syntax(ctx: CheckContext) -> None:
    assert ctx.board is not None and ctx.query is not None
    ctx.session.parsed(ctx.pack, ctx.board, ctx.query)
