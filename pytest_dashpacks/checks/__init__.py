"""The check kinds behind generated items, in a small registry.

Each module registers its checks by name; an item looks its check up here and
runs it with a :class:`CheckContext`. Checks raise our own exception types
(never return a verdict), so pytest reports them like any failing test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..load.regressions import RegressionCase
    from ..model import Board, ConnectorVersion, KpiContract, Pack, Query
    from ..session import DashpacksSession


@dataclass(frozen=True)
class CheckContext:
    """What one item checks: the objects themselves, each set only for the kinds that take it."""

    session: DashpacksSession
    pack: Pack
    board: Board | None = None
    query: Query | None = None
    version: ConnectorVersion | None = None  # schema, execute
    target: str | None = None  # transpile: a sqlglot dialect
    zone: str | None = None  # timezone: the session zone compared with UTC
    instant: str | None = None  # clock: one of data.calendar.CLOCK_INSTANTS
    data_case: str | None = None  # volume, narrative: one of data.cases' datasets
    kpi: KpiContract | None = None  # kpi, property, narrative
    regression: RegressionCase | None = None
    defect: dict[str, Any] | None = None  # ledger: the defect's ledger entry
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
