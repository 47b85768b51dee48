"""``<pack>/pack.yml::ledger[<ID>]``: a fixed ledger defect has a pin, and the pin passes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import CheckFailure, DashpacksError, SourceSpan
from ..model import Pack
from . import CheckContext, register
from .regression import check_regression


def yaml_pin(pack: Pack, defect_id: str) -> Path | None:
    """The defect's regression case in its pack when that file exists (then it alone is the pin); None
    otherwise, and for an id that is not a plain file name (``../x`` would read outside the pack)."""
    name = f"{defect_id}.yml"
    if Path(name).name != name or name.startswith(".") or "\\" in name:
        return None
    pin = pack.directory / "regressions" / name
    return pin if pin.is_file() else None


@register("ledger", "config")
def check_ledger(ctx: CheckContext) -> None:
    """A fixed ledger defect has a pin, and the pin passes."""
    defect = ctx.defect
    assert defect is not None

    span = SourceSpan(ctx.session.settings.ledger_path, defect.get("_line", 0)) if ctx.session.settings.ledger_path else ctx.pack.span
    pin = yaml_pin(ctx.pack, str(defect["id"]))
    marked = ctx.session.marked_regressions.get(defect["id"])
    if pin is not None:
        try:
            check_regression(replace(ctx, regression=ctx.session.library.regression(pin)))
        except DashpacksError as exc:
            raise CheckFailure(f"{defect['id']} is marked fixed, but its pin {pin.name} fails: {exc.message}", span,
                               details=exc.details, defect_class=defect.get("class", "config")) from None
        return
    if marked is not None:
        if ctx.record.get("verdict_on_reports"):
            return  # the pin may run on another worker: its own reports decide, on the controller
        outcome = ctx.session.marked_outcomes.get(marked)
        if outcome == "failed":
            raise CheckFailure(f"{defect['id']} is marked fixed, but its pinning test {marked} fails", span, defect_class=defect.get("class", "config"))
        return
    raise CheckFailure(
        f"{defect['id']} is marked fixed but has no pin: add regressions/{defect['id']}.yml to pack {ctx.pack.name} "
        f"or mark a test with @pytest.mark.dashpacks_pin({defect['id']!r}, defect_class={defect.get('class', 'config')!r})",
        span, defect_class=defect.get("class", "config"),
    )
