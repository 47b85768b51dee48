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
# Each check kind, in the module of its name, and the defect class its failures count under. Collection
# needs only the class, so a kind's module (and what it imports) loads when its first item runs.
DEFECT_CLASSES = {
    "load": "config", "syntax": "rendering", "schema": "schema_drift", "bindings": "rendering", "transpile": "rendering",
    "zone": "timezone", "execute": "schema_drift", "timezone": "timezone", "clock": "timezone", "volume": "volume",
    "kpi": "timezone", "property": "volume", "narrative": "narrative", "regression": "config", "ledger": "config",
    "differential": "rendering",
}
KIND_MODULES = tuple(DEFECT_CLASSES)


def register(name: str, defect_class: str) -> Callable[[Callable[[CheckContext], None]], Callable[[CheckContext], None]]:
    if DEFECT_CLASSES.get(name) != defect_class:
        raise ValueError(f"check kind {name!r}: defect class {defect_class!r} is not DEFECT_CLASSES[{name!r}]")

    def decorate(run: Callable[[CheckContext], None]) -> Callable[[CheckContext], None]:
        CHECKS[name] = CheckKind(name, defect_class, run)
        return run

    return decorate


def defect_class_of(name: str) -> str:
    """The defect class of a check kind, without importing its module."""
    return DEFECT_CLASSES[name]


def check_kind(name: str) -> CheckKind:
    """The registered check kind, importing its module on first use."""
    if name not in CHECKS:
        import importlib

        importlib.import_module(f"{__name__}.{name}")  # registers the kind
    return CHECKS[name]
