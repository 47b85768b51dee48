"""Reads of the clock: found in template text at collection, frozen to a literal instant when run."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

# Reads of the clock in any dialect; collection uses this on the template text (no parsing there).
CLOCK_WORDS = re.compile(
    r"\b(current_date|current_timestamp|current_datetime|current_time|localtimestamp|localtime|now|getdate|"
    r"sysdate|systimestamp|today|get_current_timestamp|transaction_timestamp|unix_timestamp|sysdatetime)\b",
    re.IGNORECASE,
)


def reads_clock(sql: str) -> bool:
    return CLOCK_WORDS.search(sql) is not None


def frozen_sql(sql: str, instant: dt.datetime, session_zone: str) -> str:
    """DuckDB ``sql`` with every clock read replaced by a literal for ``instant`` (aware UTC) in ``session_zone``."""
    import sqlglot
    from sqlglot import exp

    local = instant.astimezone(ZoneInfo(session_zone))
    absolute = exp.cast(exp.Literal.string(instant.astimezone(dt.timezone.utc).isoformat()), "TIMESTAMPTZ")
    today = exp.cast(exp.Literal.string(local.date().isoformat()), "DATE")
    now_local = exp.cast(exp.Literal.string(local.replace(tzinfo=None).isoformat(sep=" ")), "TIMESTAMP")
    time_local = exp.cast(exp.Literal.string(local.time().isoformat()), "TIME")
    tree = sqlglot.parse_one(sql, read="duckdb")
    replacements = {
        exp.CurrentDate: today,
        exp.CurrentTimestamp: absolute,
        exp.CurrentTime: time_local,
    }
    for kind, literal in replacements.items():
        for node in list(tree.find_all(kind)):
            node.replace(literal.copy())
    for name in ("CurrentDatetime", "Localtimestamp", "CurrentTimestampLTZ"):
        kind = getattr(exp, name, None)
        if kind is not None:
            for node in list(tree.find_all(kind)):
                node.replace(now_local.copy())
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.upper() in ("NOW", "GET_CURRENT_TIMESTAMP", "TRANSACTION_TIMESTAMP", "GETDATE", "SYSDATE"):
            node.replace(absolute.copy())
        elif node.name.upper() in ("TODAY",):
            node.replace(today.copy())
    return tree.sql("duckdb")


