"""Which connector tables a KPI and its query read; the KPI's source table is always :func:`oracle.source_table`."""

from __future__ import annotations

from typing import Any

from ..model import ConnectorVersion, KpiContract
from .oracle import source_table


def source_rows(version: ConnectorVersion, kpi: KpiContract, rows: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The rows of a KPI's source table in a dataset."""
    table = source_table(version, kpi)
    return rows.get(table.key, []) if table is not None else []


def stored_zone(version: ConnectorVersion, kpi: KpiContract) -> str:
    """The zone a KPI's timestamp column is stored in (its ``timezone:``, default UTC)."""
    table = source_table(version, kpi)
    column = table.column(kpi.source.timestamp) if table is not None else None
    return column.timezone if column is not None and column.timezone else "UTC"


def with_source_table(tables: list[str], version: ConnectorVersion, kpi: KpiContract | None) -> list[str]:
    """``tables`` (the keys a query reads) plus the KPI's source table, if it has one in ``version``."""
    source = source_table(version, kpi) if kpi is not None else None
    return tables + [source.key] if source is not None and source.key not in tables else list(tables)
