"""Transpiling to the pack's warehouses: functions a dialect does not know, syntax it cannot express."""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlglot import exp

# --- transpiling ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def known_functions(dialect: str) -> frozenset[str] | None:
    """The target's built-in function names (shipped catalogs), or None when we have none."""
    path = resources.files("pytest_dashpacks.function_catalogs").joinpath(f"{dialect}.txt")
    if not path.is_file():
        return None
    names = (line.strip().upper() for line in path.read_text("utf-8").splitlines())
    return frozenset(n for n in names if n and not n.startswith("#"))


# Words that precede "(" in generated SQL without being function calls.
_WEEKDAYS = {"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}
_NOT_CALLS = {
    "IN", "OVER", "AS", "VALUES", "EXISTS", "ON", "USING", "AND", "OR", "NOT", "FROM", "JOIN", "WHERE", "SELECT",
    "WITH", "FILTER", "WITHIN", "GROUP", "BY", "INTERVAL", "ROW", "TABLE", "LATERAL", "THEN", "ELSE", "WHEN",
    "CASE", "RETURNS", "PARTITION", "ORDER", "HAVING", "QUALIFY", "UNION", "ALL", "ANY", "SOME", "IS", "LIKE",
    "ILIKE", "BETWEEN", "DISTINCT", "RECURSIVE", "WINDOW", "ROWS", "RANGE", "LIMIT", "INTERSECT", "EXCEPT",
    "PIVOT", "UNPIVOT", "FOR", "TABLESAMPLE", "MATCH_RECOGNIZE", "RESPECT", "IGNORE", "NULLS", "CUBE", "ROLLUP",
    "SETS", "GROUPING",
}


def transpile(ast: exp.Query, target: str, *, copy: bool = True) -> str:
    """The query as ``target`` SQL; raises sqlglot's UnsupportedError where it knows it cannot.

    With ``copy=False`` the generator may rewrite ``ast``: pass a fresh parse, which costs
    less than the deep copy sqlglot otherwise makes.
    """
    from sqlglot.errors import ErrorLevel

    return ast.sql(dialect=target, unsupported_level=ErrorLevel.RAISE, copy=copy)


def parse_back(sql: str, target: str) -> tuple[exp.Query, list[Any]]:
    """Parse transpiled SQL in the target dialect, returning the tree and its tokens."""
    from sqlglot.dialects.dialect import Dialect

    dialect = Dialect.get_or_raise(target)
    tokens = dialect.tokenize(sql)
    return dialect.parser().parse(tokens, sql)[0], tokens


def called_functions(sql: str, dialect: str, tokens: list[Any] | None = None) -> list[tuple[str, int, int]]:
    """(NAME, line, column) of every call in ``sql`` as the dialect tokenizes it."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    if tokens is None:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    type_tokens = _type_tokens()
    calls = []
    for i, token in enumerate(tokens[:-1]):
        if tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        # DECIMAL(18, 2) after AS or :: is a cast target; TIMESTAMP(x) elsewhere is a call.
        if token.token_type in type_tokens and i and tokens[i - 1].token_type in (TokenType.ALIAS, TokenType.DCOLON):
            continue
        if token.token_type in (TokenType.IDENTIFIER, TokenType.STRING, TokenType.R_PAREN, TokenType.L_PAREN):
            continue
        name = token.text.upper()
        if name in _NOT_CALLS or not name[:1].isalpha() and name[:1] != "_":
            continue
        if name == "WEEK" and i + 2 < len(tokens) and tokens[i + 2].text.upper() in _WEEKDAYS:
            continue  # BigQuery's date part WEEK(MONDAY), not a call
        j = i
        while j >= 2 and tokens[j - 1].token_type == TokenType.DOT and tokens[j - 2].token_type == TokenType.VAR:
            name = tokens[j - 2].text.upper() + "." + name
            j -= 2
        previous = tokens[j - 1].token_type if j >= 1 else None
        # "t AS alias(a, b)" and "WITH cte(a, b) AS (...)" are column lists, not calls.
        if previous == TokenType.ALIAS or (previous in (TokenType.WITH, TokenType.COMMA) and _opens_cte_body(tokens, i + 1)):
            continue
        calls.append((name, token.line, token.col - len(token.text) + 1))
    return calls


def _opens_cte_body(tokens: list[Any], open_index: int) -> bool:
    """True when the parenthesis at ``open_index`` closes right before ``AS (``."""
    from sqlglot.tokens import TokenType

    depth = 0
    for index in range(open_index, len(tokens)):
        kind = tokens[index].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                following = [t.token_type for t in tokens[index + 1 : index + 3]]
                return following == [TokenType.ALIAS, TokenType.L_PAREN]
    return False


@functools.lru_cache(maxsize=1)
def _type_tokens() -> frozenset[Any]:
    from sqlglot.parser import Parser

    return frozenset(Parser.TYPE_TOKENS)


def unknown_functions(
    target_sql: str, target: str, back: exp.Query, tokens: list[Any] | None = None
) -> list[tuple[str, int, int]]:
    """Calls in the target SQL that the target warehouse does not have."""
    from sqlglot import exp

    known = known_functions(target)
    calls = called_functions(target_sql, target, tokens)
    if known is None:  # no catalog: only what sqlglot itself does not know
        anonymous = {f.name.upper() for f in back.find_all(exp.Anonymous)}
        return [c for c in calls if c[0] in anonymous]
    return [c for c in calls if c[0] not in known and c[0].rpartition(".")[2] not in known]


# Syntax that sqlglot passes through unchanged to warehouses that reject it.
_UNSUPPORTED_SYNTAX: dict[str, tuple[tuple[str, str], ...]] = {
    "redshift": (("Filter", "aggregate FILTER (WHERE ...)"), ("Lambda", "lambda expressions (x -> ...)")),
    "mysql": (("Filter", "aggregate FILTER (WHERE ...)"), ("Lambda", "lambda expressions (x -> ...)")),
    "postgres": (("Lambda", "lambda expressions (x -> ...)"),),
    "bigquery": (("Lambda", "lambda expressions (x -> ...)"),),
}


def unsupported_syntax(back: exp.Query, target: str) -> list[str]:
    """Constructs in the transpiled query that ``target`` cannot run."""
    from sqlglot import exp

    found = []
    for class_name, description in _UNSUPPORTED_SYNTAX.get(target, ()):
        if back.find(getattr(exp, class_name)) is not None:
            found.append(description)
    return found
