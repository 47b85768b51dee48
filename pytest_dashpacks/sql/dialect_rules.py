"""Constructs sqlglot parses in a dialect that the dialect's own warehouse rejects or misreads.

sqlglot reads leniently: ``INTERVAL 90`` parses as postgres, ``x::DATE`` as bigquery, and
neither would run there. These rules look at the tokens of the SQL as written (sqlglot's
tree has already turned ``::`` into a Cast), one pass per query, and say what the warehouse
does and how to write it instead. Each rule is a :class:`DialectRule` with one line of why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import SqlExcerpt
from .parse import Problem

if TYPE_CHECKING:
    from sqlglot.tokens import Token


@dataclass(frozen=True)
class DialectRule:
    """A construct sqlglot accepts in ``dialects`` that their warehouses reject (or read otherwise)."""

    name: str
    dialects: frozenset[str]
    why: str  # the warehouse behaviour the rule stands on


def _rule(name: str, dialects: str, why: str) -> DialectRule:
    return DialectRule(name, frozenset(dialects.split()), why)


RULES: tuple[DialectRule, ...] = (
    _rule("interval-unquoted", "postgres redshift snowflake",
          "their interval literal is a string, INTERVAL '90 days': PostgreSQL 15 says `syntax error at or near \"90\"` "
          "for INTERVAL 90 and INTERVAL 90 DAY; Redshift and Snowflake document only the quoted form"),
    _rule("interval-no-unit", "bigquery mysql duckdb databricks spark",
          "a bare number is no interval: BigQuery and MySQL need a date part after it (INTERVAL 90 DAY), DuckDB "
          "fails with `Unimplemented type for cast (INTEGER -> INTERVAL)`, Databricks literals need a unit"),
    _rule("interval-string-without-part", "bigquery mysql",
          "BigQuery and MySQL take the date part as a keyword after the amount, never inside the string: "
          "INTERVAL '90 days' and INTERVAL '90' are syntax errors there"),
    _rule("interval-plural-part", "bigquery mysql",
          "BigQuery and MySQL date parts are singular (DAY, not DAYS); sqlglot itself writes them singular for both"),
    _rule("interval-seconds", "postgres redshift snowflake duckdb",
          "a quoted amount without a unit counts seconds: INTERVAL '90' is 00:01:30 in PostgreSQL and DuckDB, "
          "and Redshift and Snowflake document the same default"),
    _rule("interval-word-after-string", "postgres redshift",
          "only YEAR, MONTH, DAY, HOUR, MINUTE, SECOND qualify an interval string: PostgreSQL reads INTERVAL '90' DAYS "
          "(or WEEK) as 90 seconds aliased days, and fails on it inside WHERE"),
    _rule("interval-signed-amount", "duckdb",
          "DuckDB's parser rejects INTERVAL -90 DAY (`syntax error at or near \"DAY\"`); the sign goes in parentheses"),
    _rule("double-colon-cast", "bigquery mysql tsql oracle sqlite trino presto athena hive spark2",
          "these warehouses have no :: operator, only CAST(x AS type) (PostgreSQL, Redshift, Snowflake, DuckDB and "
          "Databricks have it)"),
    _rule("ilike", "bigquery mysql tsql oracle sqlite trino presto athena hive spark2",
          "no ILIKE operator: sqlglot itself writes LOWER(x) LIKE for BigQuery, MySQL, Hive and Presto, SQL Server and "
          "Oracle never had it, and Trino's ILIKE request (trinodb/trino#2491) is still open"),
    _rule("qualify", "postgres mysql tsql oracle sqlite presto athena hive spark2",
          "no QUALIFY clause (PostgreSQL 15: `syntax error at or near \"QUALIFY\"`; sqlglot rewrites it to a subquery "
          "for these; Redshift has had it since July 2023)"),
    _rule("distinct-on",
          "bigquery snowflake redshift databricks spark spark2 hive mysql tsql oracle sqlite trino presto athena",
          "DISTINCT ON is PostgreSQL's (and DuckDB's); sqlglot rewrites it to ROW_NUMBER() for every one of these"),
    _rule("aggregate-filter", "bigquery snowflake redshift mysql tsql oracle",
          "no aggregate FILTER (WHERE ...) clause: BigQuery and Snowflake reject it (sqlglot issue #2239), "
          "Redshift and MySQL never had it"),
)

# Words that can follow an interval amount as its unit in some warehouse (checked upper-cased).
_SINGULAR_PARTS = frozenset(
    "YEAR QUARTER MONTH WEEK DAY HOUR MINUTE SECOND MILLISECOND MICROSECOND NANOSECOND DECADE CENTURY MILLENNIUM".split()
)
_PLURAL_PARTS = frozenset(
    "YEARS QUARTERS MONTHS WEEKS DAYS HOURS MINUTES SECONDS MILLISECONDS MICROSECONDS NANOSECONDS DECADES CENTURIES".split()
)
_MYSQL_COMPOUND_PARTS = frozenset(
    "YEAR_MONTH DAY_HOUR DAY_MINUTE DAY_SECOND DAY_MICROSECOND HOUR_MINUTE HOUR_SECOND HOUR_MICROSECOND "
    "MINUTE_SECOND MINUTE_MICROSECOND SECOND_MICROSECOND".split()
)
_PARTS = _SINGULAR_PARTS | _PLURAL_PARTS | _MYSQL_COMPOUND_PARTS
_SQL_QUALIFIERS = frozenset("YEAR MONTH DAY HOUR MINUTE SECOND".split())  # PostgreSQL's interval field words
_BARE_NUMBER = re.compile(r"\s*[+-]?\d+(?:\.\d*)?\s*")
_AMOUNT_AND_UNIT = re.compile(r"\s*([+-]?\d+(?:\.\d*)?)\s*([A-Za-z]+)\s*")
_JINJA_QUOTED_HINT = "a Jinja variable renders as a SQL literal, and inside quotes as its bare value: INTERVAL '{{ days }} days'"
_JINJA_UNIT_HINT = "with a Jinja variable, the unit goes inside the quotes too: INTERVAL '{{ days }} days'"


def dialect_violations(sql: str, dialect: str, tokens: list[Any] | None = None) -> list[Problem]:
    """Constructs in ``sql`` that parse as ``dialect`` in sqlglot but that the warehouse rejects or
    misreads, in the order they appear, each located at its token in ``sql``."""
    active = frozenset(rule.name for rule in RULES if dialect in rule.dialects)
    if not active:
        return []
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    if tokens is None:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    checks: dict[TokenType, Callable[[_Cursor], Problem | None]] = {}
    if any(name.startswith("interval-") for name in active):
        checks[TokenType.INTERVAL] = _interval
    if "double-colon-cast" in active:
        checks[TokenType.DCOLON] = _double_colon
    if "ilike" in active:
        checks[TokenType.ILIKE] = _ilike
    if "qualify" in active:
        checks[TokenType.QUALIFY] = _qualify
    if "distinct-on" in active:
        checks[TokenType.DISTINCT] = _distinct_on
    if "aggregate-filter" in active:
        checks[TokenType.FILTER] = _aggregate_filter
    problems: list[Problem] = []
    for index, token in enumerate(tokens):
        check = checks.get(token.token_type)
        if check is not None:
            problem = check(_Cursor(sql, dialect, tokens, index, active))
            if problem is not None:
                problems.append(problem)
    return problems


@dataclass(frozen=True)
class _Cursor:
    """One token of interest and what a rule needs to judge it."""

    sql: str
    dialect: str
    tokens: list[Token]
    index: int
    active: frozenset[str]

    def at(self, offset: int) -> Token | None:
        position = self.index + offset
        return self.tokens[position] if 0 <= position < len(self.tokens) else None

    def is_type(self, offset: int, *names: str) -> bool:
        token = self.at(offset)
        return token is not None and token.token_type.name in names

    def text(self, first: Token, last: Token) -> str:
        """The SQL as written from ``first`` through ``last``."""
        return self.sql[first.start : last.end + 1]

    def problem(self, message: str, last_offset: int = 0, hint: str = "") -> Problem:
        """A problem underlining the current token through the one at ``last_offset``."""
        first = self.tokens[self.index]
        last = self.at(last_offset) or first
        line = self.sql.count("\n", 0, first.start) + 1
        column = first.start - self.sql.rfind("\n", 0, first.start)
        end = last.end if "\n" not in self.sql[first.start : last.end + 1] else first.end
        return Problem(message, SqlExcerpt(self.sql, line, column, end - first.start + 1), hint=hint)


def _interval(cur: _Cursor) -> Problem | None:
    if cur.is_type(-1, "DOT", "DCOLON", "ALIAS"):  # a column named interval, or INTERVAL as a type
        return None
    offset, sign = 1, ""
    if cur.is_type(1, "DASH", "PLUS") and cur.is_type(2, "NUMBER"):
        offset, sign = 2, "-" if cur.is_type(1, "DASH") else ""
    amount = cur.at(offset)
    if amount is None or amount.token_type.name not in ("NUMBER", "STRING"):
        return None  # an expression, a parameter or a precision: not a literal to judge
    after = cur.at(offset + 1)
    if after is not None and after.token_type.name in ("STAR", "PLUS", "DASH", "SLASH", "MOD", "DPIPE", "L_PAREN"):
        return None  # the amount is an expression (INTERVAL 7 * 24 HOUR): not a literal to judge
    after_text = after.text if after is not None and after.token_type.name not in ("STRING", "IDENTIFIER") else ""
    word = after_text.upper()
    unknown_word = after is not None and after.token_type.name == "VAR" and word not in _PARTS
    d, active = cur.dialect, cur.active
    if "interval-plural-part" in active and word in _PLURAL_PARTS:
        value = sign + amount.text if amount.token_type.name == "NUMBER" else amount.text.strip()
        return cur.problem(f"{d} rejects the plural {after_text}: write INTERVAL {value} {_singular(word)}", offset + 1)
    if amount.token_type.name == "NUMBER":
        return _interval_number(cur, sign + amount.text, offset, word, unknown_word)
    return _interval_string(cur, amount.text, offset, word, after_text, unknown_word)


def _interval_number(cur: _Cursor, value: str, offset: int, word: str, unknown_word: bool) -> Problem | None:
    """``INTERVAL 90 ...``: an unquoted amount."""
    d, active = cur.dialect, cur.active
    if "interval-unquoted" in active:
        if word in _PARTS:
            return cur.problem(f"{d} rejects an unquoted INTERVAL amount: write INTERVAL '{_quoted(word, value, d)}'",
                               offset + 1, hint=_JINJA_QUOTED_HINT)
        return cur.problem(f"{d} rejects INTERVAL without a unit: write INTERVAL '{value} days'", offset,
                           hint=_JINJA_QUOTED_HINT)
    signed = value.startswith("-") and "interval-signed-amount" in active
    amount = f"({value})" if signed else value
    if word in _PARTS:
        return cur.problem(f"{d} rejects a signed INTERVAL amount: write INTERVAL {amount} {word}", offset + 1) if signed else None
    if "interval-no-unit" in active and not unknown_word:
        unit = "a date part" if "interval-string-without-part" in active else "a unit"  # BigQuery's and MySQL's word
        return cur.problem(f"{d} rejects INTERVAL without {unit}: write INTERVAL {amount} DAY", offset)
    return None


def _interval_string(cur: _Cursor, text: str, offset: int, word: str, after_text: str, unknown_word: bool) -> Problem | None:
    """``INTERVAL '90 days' ...``: a quoted amount."""
    d, active = cur.dialect, cur.active
    bare = _BARE_NUMBER.fullmatch(text) is not None
    value = text.strip()
    if "interval-string-without-part" in active:
        if word in _PARTS or unknown_word:
            return None
        pair = _AMOUNT_AND_UNIT.fullmatch(text)
        if pair is not None:
            return cur.problem(f"{d} rejects a unit inside the INTERVAL string: "
                               f"write INTERVAL {pair.group(1)} {_singular(pair.group(2).upper())}", offset)
        fix = f"INTERVAL {value} DAY" if bare else "one amount and one date part, INTERVAL 90 DAY"
        return cur.problem(f"{d} rejects INTERVAL without a date part: write {fix}", offset)
    if not bare:
        return None
    if "interval-word-after-string" in active:
        if word in _SQL_QUALIFIERS:
            return None
        if word in _PARTS:
            return cur.problem(f"{d} reads INTERVAL '{value}' {after_text} as {value} seconds named {after_text.lower()}: "
                               f"write INTERVAL '{_quoted(word, value, d)}'", offset + 1)
    elif word in _PARTS or unknown_word:
        return None
    if "interval-seconds" in active:
        return cur.problem(f"{d} reads INTERVAL '{value}' without a unit as {value} seconds: write INTERVAL '{value} days'",
                           offset, hint=_JINJA_UNIT_HINT)
    return None


def _double_colon(cur: _Cursor) -> Problem | None:
    target = cur.at(1)
    if target is None:
        return None
    last = 1
    if cur.is_type(2, "L_PAREN"):  # ::NUMERIC(10, 2)
        depth, position = 0, 2
        while (token := cur.at(position)) is not None:
            depth += {"L_PAREN": 1, "R_PAREN": -1}.get(token.token_type.name, 0)
            if depth == 0:
                last = position
                break
            position += 1
    type_sql = cur.text(target, cur.at(last) or target)
    operand = "..."
    previous = cur.at(-1)
    if previous is not None and previous.token_type.name in ("VAR", "IDENTIFIER", "NUMBER", "STRING"):
        start = -1
        while cur.is_type(start - 1, "DOT") and cur.is_type(start - 2, "VAR", "IDENTIFIER"):
            start -= 2
        operand = cur.text(cur.tokens[cur.index + start], previous)
    return cur.problem(f"{cur.dialect} rejects the :: cast: write CAST({operand} AS {type_sql})", last)


def _ilike(cur: _Cursor) -> Problem | None:
    if cur.is_type(-1, "DOT"):
        return None
    return cur.problem(f"{cur.dialect} rejects ILIKE: write LOWER(x) LIKE LOWER(pattern)")


def _qualify(cur: _Cursor) -> Problem | None:
    if cur.is_type(-1, "DOT"):
        return None
    return cur.problem(f"{cur.dialect} rejects QUALIFY: compute the window function in a subquery and filter it "
                       "in the outer WHERE")


def _distinct_on(cur: _Cursor) -> Problem | None:
    if not (cur.is_type(1, "ON") and cur.is_type(2, "L_PAREN")):
        return None
    return cur.problem(f"{cur.dialect} rejects DISTINCT ON: keep the first row per key with "
                       "ROW_NUMBER() OVER (PARTITION BY key ORDER BY ...) = 1", 1)


def _aggregate_filter(cur: _Cursor) -> Problem | None:
    if not (cur.is_type(-1, "R_PAREN") and cur.is_type(1, "L_PAREN") and cur.is_type(2, "WHERE")):
        return None
    return cur.problem(f"{cur.dialect} rejects an aggregate FILTER (WHERE ...): move the condition inside, "
                       "SUM(CASE WHEN condition THEN x END)", 2)


def _singular(word: str) -> str:
    return {"CENTURIES": "CENTURY"}.get(word, word[:-1] if word in _PLURAL_PARTS else word)


def _quoted(word: str, value: str, dialect: str) -> str:
    """``90 days``: an amount and unit as one interval string; PostgreSQL's strings know no quarter."""
    if _singular(word) == "QUARTER" and dialect in ("postgres", "redshift") and value.lstrip("+-").isdigit():
        months = str(int(value) * 3)
        return f"{months} {_plural('MONTH', months)}"
    return f"{value} {_plural(word, value)}"


def _plural(word: str, value: str) -> str:
    """The unit as PostgreSQL and Snowflake spell it inside an interval string: ``90 days``."""
    singular = _singular(word).lower()
    if value.lstrip("+-") in ("1", "1.0"):
        return singular
    return "centuries" if singular == "century" else singular + "s"
