"""KPI narratives: sentences like "Net revenue on {{ day }} was {{ net_revenue | currency }}".

They render in a sandboxed Jinja environment whose filters never print
``None``, ``nan``, ``inf`` or a negative zero; :func:`narrative_problems` finds
what a careless template still lets through.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from decimal import Decimal
from typing import Any

MISSING = "n/a"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value if not isinstance(value, Decimal) else float(value))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def _clean_zero(number: float, digits: int) -> float:
    rounded = round(number, digits)
    return 0.0 if rounded == 0 else rounded


def currency(value: Any, symbol: str = "$", digits: int = 2) -> str:
    number = _number(value)
    if number is None:
        return MISSING
    number = _clean_zero(number, digits)
    sign = "-" if number < 0 else ""
    return f"{sign}{symbol}{abs(number):,.{digits}f}"


def percent(value: Any, digits: int = 1) -> str:
    """A ratio (0.123) as a percentage (12.3%)."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{_clean_zero(number * 100, digits):.{digits}f}%"


def number(value: Any, digits: int = 0) -> str:
    value_ = _number(value)
    if value_ is None:
        return MISSING
    return f"{_clean_zero(value_, digits):,.{digits}f}"


def signed(value: Any, digits: int = 0) -> str:
    value_ = _number(value)
    if value_ is None:
        return MISSING
    value_ = _clean_zero(value_, digits)
    return f"{value_:+,.{digits}f}" if value_ else f"{0:.{digits}f}"


def date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime(fmt)
    return MISSING if value is None else str(value)


FILTERS = {"currency": currency, "percent": percent, "number": number, "signed": signed, "date": date}


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.filters.update(FILTERS)
    return env


def render_narrative(template: str, row: dict[str, Any]) -> str:
    """The sentence for one result row (column names are the variables)."""
    return _environment().from_string(template).render({k.lower(): v for k, v in row.items()} | row)


_PROBLEMS = (
    (re.compile(r"\bNone\b"), "None"),
    (re.compile(r"\bnan\b", re.IGNORECASE), "nan"),
    (re.compile(r"\b-?inf(inity)?\b", re.IGNORECASE), "inf"),
    (re.compile(r"(?<![\w.])-0(\.0+)?(?![\d.])"), "a negative zero"),
    (re.compile(r"\{\{|\}\}|\{%|%\}"), "raw template braces"),
)


def narrative_problems(sentence: str) -> list[str]:
    """What is wrong with a rendered sentence, in words."""
    return [f"renders {label}" for pattern, label in _PROBLEMS if pattern.search(sentence)]
