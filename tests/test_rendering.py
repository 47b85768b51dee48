"""Rendering board SQL (SPEC section 5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_dashpacks.errors import RenderError
from pytest_dashpacks.sql.render import RenderContext, render_sql, template_names
from pytest_dashpacks.sql.jinja import compiled_template, quote_aware, render_within_budget, sandboxed_environment

CTX = RenderContext(
    connector="shopify",
    schema="shopify",
    dialect="bigquery",
    models=("shopify__orders",),
    values={"start": "2024-01-01", "period": ["2024-01-01", "2024-03-31"], "status": ["paid", "refunded"],
            "unset": None, "limit": 10, "name": "O'Brien", "flag": True},
    queries={"base": "SELECT id FROM {{ source('shopify', 'order') }}", "loop_a": "{{ queries.loop_b }}", "loop_b": "{{ queries.loop_a }}"},
)


@pytest.mark.parametrize(
    "template, rendered",
    [
        ("{{ start }}", "'2024-01-01'"),
        ("'{{ start }}'", "'2024-01-01'"),
        ("'{{ name }}'", "'O''Brien'"),
        ("{{ name }}", "'O''Brien'"),
        ("{{ limit }} {{ flag }} {{ unset }}", "10 TRUE NULL"),
        ("{{ filter('status', status) }}", "status IN ('paid', 'refunded')"),
        ("{{ filter('status', status, '!=') }}", "status NOT IN ('paid', 'refunded')"),
        ("{{ filter('o.created_at', start) }}", "CAST(o.created_at AS DATE) = '2024-01-01'"),
        ("{{ filter('status', unset) }}", "TRUE"),
        ("{{ filter_date_range('created_at', period) }}", "CAST(created_at AS DATE) BETWEEN '2024-01-01' AND '2024-03-31'"),
        ("{{ filter_date_range('created_at', unset) }}", "TRUE"),
        ("{{ source('shopify', 'order') }}", "shopify.`order`"),
        ("{{ source('shopify', 'customer') }}", "shopify.customer"),
        ("{{ ref('shopify__orders') }}", "models.shopify__orders"),
        ("SELECT * FROM ({{ queries.base }})", "SELECT * FROM (SELECT id FROM shopify.`order`)"),
        ("-- it's a comment\n'{{ start }}'", "-- it's a comment\n'2024-01-01'"),
        ("{{ variables.start }}", "'2024-01-01'"),
    ],
)
def test_render(template, rendered):
    assert render_sql(template, CTX) == rendered


@pytest.mark.parametrize(
    "template, message, line",
    [
        ("SELECT\n{{ missing }}", "undefined name in template: 'missing' is undefined", 2),
        ("{{ ''.__class__.__mro__ }}", "refused by the sandbox", 1),
        ("{{ cycler.__init__.__globals__ }}", "refused by the sandbox", 1),
        ("{{ ref('nope') }}", "ref('nope'): connector shopify has no model 'nope' (models: shopify__orders)", 1),
        ("{{ filter('x; DROP TABLE y', start) }}", "filter(): column must be an identifier", 1),
        ("{{ filter('x', start, 'OR 1=1 --') }}", "filter(): operator 'OR 1=1 --' is not one of", 1),
        ("{{ queries.loop_a }}", "queries reference each other in a cycle: loop_a -> loop_b -> loop_a", 1),
        ("{% if %}", "Jinja syntax error", 1),
    ],
)
def test_render_errors_carry_the_template_line(template, message, line):
    with pytest.raises(RenderError) as err:
        render_sql(template, CTX)
    assert message in err.value.message
    assert err.value.sql.line == line


def test_quote_awareness_only_rewrites_inside_quotes():
    assert quote_aware("a = '{{ x }}' AND b = {{ x }}") == "a = '{{ (x) | bare }}' AND b = {{ x }}"
    assert quote_aware("/* 'x */ {{ y }}") == "/* 'x */ {{ y }}"


def test_template_names_excludes_the_helpers():
    assert template_names("{{ filter('a', b) }} {{ ref('m') }} {{ queries.q }} '{{ c }}'") == {"b", "c"}


# Text with no Jinja delimiter and no carriage return: what render_sql returns without Jinja.
_plain_sql = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=80).filter(
    lambda text: not any(mark in text for mark in ("{{", "{%", "{#"))
)


@given(_plain_sql)
@settings(max_examples=300, deadline=None)
def test_plain_sql_renders_as_jinja_would_render_it(text):
    from jinja2 import meta

    assert render_sql(text, CTX) == text
    assert render_within_budget(compiled_template(text), {}) == text
    assert template_names(text) == set() == meta.find_undeclared_variables(sandboxed_environment().parse(text))


def test_plain_sql_counts_against_the_rendering_budget():
    """Plain text skips Jinja, not the budget: pasted twice, 1.2 million characters pass 2 million."""
    big = "SELECT 1 AS n -- " + "x" * 1_200_000
    ctx = RenderContext("shopify", "shopify", "bigquery", (), {}, {"big": big})
    assert render_sql(big, ctx) == big
    with pytest.raises(RenderError, match="passes 2,000,000 characters"):
        render_sql("SELECT * FROM ({{ queries.big }})", ctx, ("outer",))


@pytest.mark.parametrize(
    "template, rendered",
    [
        ("SELECT 1\r\nFROM t", "SELECT 1\nFROM t"),
        ("SELECT 1\rFROM t", "SELECT 1\nFROM t"),
        ("SELECT {# a note #}1", "SELECT 1"),
        ("SELECT {{ limit }}", "SELECT 10"),
        ("{% if true %}SELECT 1{% endif %}", "SELECT 1"),
    ],
)
def test_templates_that_are_more_than_text_go_through_jinja(template, rendered):
    """Jinja writes carriage returns as newlines and reads its delimiters: the plain-text path must not take these."""
    assert render_sql(template, CTX) == rendered
