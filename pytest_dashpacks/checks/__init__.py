"""The check kinds behind generated items, in a small registry.

Each module registers its checks by name; an item looks its check up here and
runs it with a :class:`CheckContext`. Checks raise our own exception types
(never return a verdict), so pytest reports them like any failing test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..model import Board, Pack, Query
    from ..session import DashpacksSession


@dataclass(frozen=True)
class CheckContext:
    session: DashpacksSession
    pack: Pack
    board: Board | None = None
    query: Query | None = None
    param: str | None = None  # the connector version or target an item is parametrized by
    case: Any = None  # a regression case or ledger defect, for those items
    record: dict[str, Any] = field(default_factory=dict)  # what a failing data check ran on, for pinning


@dataclass(frozen=True)
class CheckKind:
    name: str
    defect_class: str
    run: Callable[[CheckContext], None]


CHECKS: dict[str, CheckKind] = {}
# One module per check kind (the zone, regression and ledger kinds included); loaded on first use.
KIND_MODULES = (
    "load", "syntax", "schema", "bindings", "transpile", "zone", "execute", "timezone", "clock", "volume",
    "kpi", "property", "narrative", "regression", "ledger",
)


def register(name: str, defect_class: str) -> Callable[[Callable[[CheckContext], None]], Callable[[CheckContext], None]]:
    def decorate(run: Callable[[CheckContext], None]) -> Callable[[CheckContext], None]:
        CHECKS[name] = CheckKind(name, defect_class, run)
        return run

    return decorate


def check_kind(name: str) -> CheckKind:
    if not CHECKS:
        import importlib

        for module in KIND_MODULES:  # each registers its check kind
            importlib.import_module(f"{__name__}.{module}")
    return CHECKS[name]
