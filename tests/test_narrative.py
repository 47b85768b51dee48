"""Narrative filters and the problems a rendered sentence may show."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from pytest_dashpacks.kpi.narrative import currency, narrative_problems, number, percent, render_narrative, signed


@pytest.mark.parametrize(
    "fn, value, text",
    [
        (currency, 1234.5, "$1,234.50"), (currency, -0.001, "$0.00"), (currency, -12, "-$12.00"), (currency, None, "n/a"),
        (currency, math.nan, "n/a"), (percent, 0.1234, "12.3%"), (percent, -0.0001, "0.0%"), (percent, math.inf, "n/a"),
        (number, 1234567, "1,234,567"), (number, None, "n/a"), (signed, 12, "+12"), (signed, -3, "-3"), (signed, -0.2, "0"),
    ],
)
def test_filters_never_print_none_nan_or_negative_zero(fn, value, text):
    assert fn(value) == text


@pytest.mark.parametrize(
    "sentence, problems",
    [
        ("Revenue was $10.00", []),
        ("Revenue on None was n/a", ["renders None"]),
        ("Growth was nan%", ["renders nan"]),
        ("Ratio inf", ["renders inf"]),
        ("Change -0%", ["renders a negative zero"]),
        ("Change -0.0 points", ["renders a negative zero"]),
        ("Down -0.5%", []),
        ("Hello {{ name }}", ["renders raw template braces"]),
    ],
)
def test_problems(sentence, problems):
    assert narrative_problems(sentence) == problems


def test_render_with_a_row():
    row = {"DAY": dt.date(2024, 3, 10), "net_revenue": 1500.0}
    assert render_narrative("Net revenue on {{ day | date }} was {{ net_revenue | currency }}", row) == "Net revenue on 2024-03-10 was $1,500.00"
    assert render_narrative("On {{ day }}: {{ net_revenue }}", {"day": None, "net_revenue": None}) == "On None: None"
