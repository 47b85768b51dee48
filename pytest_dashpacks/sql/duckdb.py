"""Board SQL made runnable in DuckDB: names resolved in the pack's dialect, DuckDB fixups, tie probes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import CheckSkipped

if TYPE_CHECKING:
    from sqlglot import exp

def runnable_sql(ast: exp.Query, dialect: str, schema: Any = None, default_schema: str | None = None, source_sql: str = "") -> str:
    """``ast`` (a fresh parse in the pack dialect, mutated here) as DuckDB SQL.

    Catalog or project prefixes are dropped (tables resolve by schema.table). With ``schema`` (a
    sqlglot schema of the connector version, normalized for ``dialect``), names are resolved by the
    pack dialect's rules before translating, and types are known: a GROUP BY name that is also a
    select alias, integer division and DATE_TRUNC's result type then keep the warehouse's meaning.
    A construct DuckDB cannot run raises :class:`CheckSkipped` naming it.
    """
    from sqlglot import exp

    from .transpile import called_functions, known_functions

    for table in ast.find_all(exp.Table):
        if table.args.get("catalog") is not None:
            table.set("catalog", None)
    if dialect == "duckdb":
        return ast.sql("duckdb")
    if dialect == "bigquery":
        ast = struct_unnests_as_columns(ast)
    if schema is not None:
        ast = resolved_in_dialect(ast, dialect, schema, default_schema)
    sql = _duckdb_fixups(ast, dialect, source_sql).sql("duckdb")
    known = known_functions("duckdb") or frozenset()
    for name, _, _ in called_functions(sql, "duckdb"):
        if name not in known:
            raise CheckSkipped(f"the query uses {name}, which has no DuckDB equivalent sqlglot knows; it cannot run here")
    return sql


def struct_unnests_as_columns(ast: exp.Query) -> exp.Query:
    """BigQuery ``FROM q, UNNEST(q.structs)`` (no alias) makes each struct field a column; DuckDB's
    UNNEST in FROM yields one struct column. An unnest of depth 2 in a (lateral) subquery gives the
    fields as columns with the same names, and leaves an array of scalars as it was."""
    import sqlglot
    from sqlglot import exp

    for unnest in list(ast.find_all(exp.Unnest)):
        in_from = isinstance(unnest.parent, (exp.From, exp.Join)) and unnest.arg_key == "this"
        if in_from and not unnest.args.get("alias") and not unnest.args.get("offset") and len(unnest.expressions) == 1:
            lateral = sqlglot.parse_one("(SELECT UNNEST(__array__, max_depth := 2))", read="duckdb")
            lateral.find(exp.Column).replace(unnest.expressions[0].copy())
            unnest.replace(lateral)
    return ast


def resolved_in_dialect(ast: exp.Query, dialect: str, schema: Any, default_schema: str | None) -> exp.Query:
    """``ast`` with columns qualified and typed by ``dialect``'s own name rules (sqlglot's qualify).

    BigQuery reads ``GROUP BY status`` as the select alias when one is named so, DuckDB as the
    input column; Postgres ``int / int`` truncates. Output names keep their written spelling.
    When the query cannot be resolved (the schema item says why), it is translated as written.
    """
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    names = [select.alias_or_name for select in ast.selects]
    try:
        tree = qualify(
            ast.copy(), dialect=dialect, db=default_schema, schema=schema, expand_stars=False,
            validate_qualify_columns=False, quote_identifiers=False, identify=False,
        )
        tree = annotate_types(tree, schema=schema, dialect=dialect)
    except SqlglotError:  # sqlglot cannot resolve some exotic SQL: run it as written
        return ast
    if dialect == "postgres":
        for total in tree.find_all(exp.Sum):
            # SUM(bigint) is NUMERIC in PostgreSQL, so SUM(cents) / 100 keeps its cents (Redshift's is BIGINT).
            if total.this is not None and total.this.type is not None and total.this.type.is_type("bigint"):
                total.type = exp.DataType.build("decimal")
    for select, name in zip(tree.selects, names):
        if name and select.alias_or_name != name and not isinstance(select, exp.Star):
            alias = select.unalias() if isinstance(select, exp.Alias) else select
            select.replace(exp.alias_(alias.copy(), exp.to_identifier(name, quoted=True)))
    return tree


TIE_KEY = "__dashpacks_tie_key_"


def tie_probe(sql: str) -> tuple[str, int, tuple[str, ...], str] | None:
    """For a DuckDB query whose outermost SELECT cuts an ORDER BY with ``LIMIT n``: the same query
    returning one row more, with each sort key as an extra column, plus ``n`` and the keys as written.

    Equal keys on rows ``n`` and ``n + 1`` mean the cut falls inside a tie, so which rows come back
    is up to the engine's plan and threads. None when the query has no such cut.
    """
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    limit, order = tree.args.get("limit"), tree.args.get("order")
    if not isinstance(tree, exp.Select) or limit is None or order is None or tree.args.get("distinct"):
        return None
    count = limit.expression
    if not isinstance(count, exp.Literal) or count.is_string or not count.name.isdigit():
        return None
    selects = tree.selects
    aliases = {s.alias.lower(): s.this for s in selects if isinstance(s, exp.Alias)}
    keys = []
    for index, ordered in enumerate(order.expressions):
        key = ordered.this
        if isinstance(key, exp.Literal) and not key.is_string and key.name.isdigit() and 0 < int(key.name) <= len(selects):
            key = selects[int(key.name) - 1].unalias()  # ORDER BY 2: the second output column
        elif isinstance(key, exp.Column) and not key.table and key.name.lower() in aliases:
            key = aliases[key.name.lower()]  # ORDER BY an output alias
        keys.append(ordered.this.sql("duckdb"))
        tree.append("expressions", exp.alias_(key.copy(), f"{TIE_KEY}{index}"))
    n = int(count.name)
    written = ", ".join(o.this.sql("duckdb") + (" DESC" if o.args.get("desc") else "") for o in order.expressions)
    limit.set("expression", exp.Literal.number(n + 1))
    return tree.sql("duckdb"), n, tuple(keys), written


_UNIT_SECONDS = {"MICROSECOND": 1e-6, "MILLISECOND": 1e-3, "SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def _duckdb_fixups(ast: exp.Query, dialect: str, source_sql: str = "") -> exp.Query:
    """Rewrites where sqlglot's DuckDB output does not mean what the warehouse SQL meant (in place)."""
    if dialect == "bigquery":
        _bigquery_fixups(ast)
    if dialect in ("postgres", "redshift") and source_sql:
        _to_char_fixups(ast, dialect, source_sql)
    _function_fixups(ast)
    _zone_fixups(ast)
    return ast


def _bigquery_fixups(ast: exp.Query) -> None:
    """BigQuery's DATE_TRUNC type, zone arguments, EXTRACT(DATE ...) and ARRAY_AGG(... LIMIT n)."""
    from sqlglot import exp

    for node in list(ast.find_all(exp.DateTrunc, exp.TimestampTrunc)):
        # BigQuery DATE_TRUNC(date, MONTH) is a DATE; DuckDB's date_trunc gives a TIMESTAMP.
        if node.this is not None and node.this.type is not None and node.this.type.is_type("date"):
            node.replace(exp.cast(node.copy(), "DATE"))
    for node in list(ast.find_all(exp.AtTimeZone)):
        # `ts AT TIME ZONE z` (in EXTRACT) reads an instant; a naive fixture column is one, in UTC.
        if _naive(node.this):
            node.set("this", _utc_instant(node.this))
    for node in list(ast.find_all(exp.TimestampTrunc)):
        # TIMESTAMP_TRUNC(ts, unit, zone) truncates the instant's wall time in zone (sqlglot drops
        # the zone for units below a day): truncate the local wall time, then read it back as an instant.
        zone, unit = node.args.get("zone"), node.args.get("unit")
        if zone is not None and isinstance(unit, (exp.Var, exp.Literal)):
            instant = _utc_instant(node.this) if _naive(node.this) else node.this.copy()
            local = exp.Anonymous(this="date_trunc", expressions=[
                exp.Literal.string(unit.name.upper()), exp.AtTimeZone(this=instant, zone=zone.copy())
            ])
            replacement = exp.AtTimeZone(this=local, zone=zone.copy())
            replacement.type = exp.DataType.build("timestamptz")  # an instant, whatever it truncated
            node.replace(replacement)
    for node in list(ast.find_all(exp.TimeToStr)):
        # FORMAT_TIMESTAMP(fmt, ts, zone) formats the wall time in zone; sqlglot drops the zone.
        zone, pattern = node.args.get("zone"), node.args.get("format")
        if zone is not None and pattern is not None:
            inner = node.this.this if isinstance(node.this, exp.TsOrDsToTimestamp) else node.this
            instant = _utc_instant(inner) if _naive(inner) else inner.copy()
            node.replace(exp.Anonymous(this="strftime", expressions=[exp.AtTimeZone(this=instant, zone=zone.copy()), pattern.copy()]))
    for node in list(ast.find_all(exp.Extract)):
        # EXTRACT(DATE FROM ...) has no DuckDB specifier: it is a cast.
        part = node.this.name.upper() if isinstance(node.this, exp.Var) else ""
        target = {"DATE": "DATE", "DATETIME": "TIMESTAMP", "TIME": "TIME"}.get(part)
        if target:
            node.replace(exp.cast(node.expression.copy(), target))
    for agg in list(ast.find_all(exp.ArrayAgg)):
        # ARRAY_AGG(x ORDER BY y LIMIT n): DuckDB has no LIMIT there; aggregate in order, then slice.
        limit = agg.this if isinstance(agg.this, exp.Limit) else None
        if limit is not None and limit.expression is not None:
            agg.set("this", limit.this)
            agg.replace(exp.Anonymous(this="list_slice", expressions=[agg.copy(), exp.Literal.number(1), limit.expression.copy()]))


def _to_char_fixups(ast: exp.Query, dialect: str, source_sql: str) -> None:
    """PostgreSQL/Redshift to_char patterns, read again from the SQL as written."""
    from sqlglot import exp

    # to_char: sqlglot maps its pattern to strftime when parsing and misses Month/Mon/Day/Dy and FM,
    # so the pattern is read again from the SQL as written, from the call around the same argument.
    calls = to_char_calls(source_sql, dialect)
    for node in list(ast.find_all(exp.TimeToStr)):
        pattern = _pattern_of(node, calls)
        if pattern is None or node.this is None:
            continue
        if node.this.type is not None and node.this.type.is_type(*exp.DataType.NUMERIC_TYPES):
            node.replace(_number_text(node.this.copy(), pattern))
            continue
        replacement = _to_char(node.this.copy(), pattern)
        if replacement is not None:  # else a pattern letter it does not know: keep sqlglot's reading
            node.replace(replacement)


def _function_fixups(ast: exp.Query) -> None:
    """Redshift TRUNC(ts), LISTAGG(DISTINCT x, sep), RATIO_TO_REPORT and IS_VALID_JSON."""
    from sqlglot import exp

    for node in list(ast.find_all(exp.Trunc)):
        # Redshift TRUNC(timestamp) is the timestamp's date (DuckDB's trunc is numeric only).
        if node.args.get("decimals") is None and node.this is not None and _temporal(node.this):
            node.replace(exp.cast(node.this.copy(), "DATE"))
    for node in list(ast.find_all(exp.GroupConcat)):
        # LISTAGG(DISTINCT x, sep): sqlglot reads the separator into the DISTINCT list.
        distinct = node.this
        if isinstance(distinct, exp.Distinct) and len(distinct.expressions) == 2 and node.args.get("separator") is None:
            separator = distinct.expressions[1]
            distinct.set("expressions", [distinct.expressions[0]])
            node.set("separator", separator.copy())
    for node in list(ast.find_all(exp.Anonymous)):
        name = node.name.upper()
        window = node.parent if isinstance(node.parent, exp.Window) else None
        if name == "RATIO_TO_REPORT" and window is not None and len(node.expressions) == 1:
            # Snowflake/Redshift RATIO_TO_REPORT(x) OVER (w) is x / SUM(x) OVER (w), NULL on a zero sum.
            total = window.copy()
            total.set("this", exp.Sum(this=node.expressions[0].copy()))
            ratio = exp.Div(
                this=exp.cast(node.expressions[0].copy(), "DOUBLE"),
                expression=exp.Nullif(this=total, expression=exp.Literal.number(0)),
            )
            window.replace(exp.paren(ratio))
        elif name == "IS_VALID_JSON" and len(node.expressions) == 1:
            node.replace(exp.Anonymous(this="json_valid", expressions=[node.expressions[0].copy()]))


def _zone_fixups(ast: exp.Query) -> None:
    """Elapsed-unit differences and BigQuery's zone-reading TIMESTAMP, DATE and DATETIME."""
    import sqlglot
    from sqlglot import exp

    for node in list(ast.find_all(exp.TimestampDiff)):
        # BigQuery counts elapsed units; DuckDB's DATE_DIFF on TIMESTAMPTZ counts unit boundaries
        # on the session zone's clock, so the answer would move with the session zone.
        unit = (node.text("unit") or "").upper()
        if unit in _UNIT_SECONDS:
            later, earlier = node.this.sql("duckdb"), node.expression.sql("duckdb")
            seconds = _UNIT_SECONDS[unit]
            node.replace(sqlglot.parse_one(
                f"CAST(TRUNC((EPOCH({later}) - EPOCH({earlier})) / {seconds}) AS BIGINT)", read="duckdb"
            ))

    for node in list(ast.find_all(exp.Timestamp)):
        # BigQuery TIMESTAMP(x[, zone]) reads x in that zone (default UTC); sqlglot's DuckDB output is a
        # plain cast to TIMESTAMPTZ, which reads it in the session zone.
        if node.args.get("with_tz") and not isinstance(node.this, exp.Literal) or node.args.get("zone") is not None:
            zone = node.args.get("zone") or exp.Literal.string("UTC")
            node.replace(exp.AtTimeZone(this=exp.cast(node.this.copy(), "TIMESTAMP"), zone=zone.copy()))
    for kind, target in ((exp.Date, "DATE"), (exp.Datetime, "TIMESTAMP")):
        for node in list(ast.find_all(kind)):
            # DATE(ts, zone) / DATETIME(ts, zone): the instant's wall time in zone, whatever the session zone.
            zone = node.args.get("zone") or (node.expression if kind is exp.Datetime else None)
            if zone is not None and node.this is not None:
                # A naive fixture column stands for a BigQuery TIMESTAMP: an instant, stored in UTC.
                instant = _utc_instant(node.this) if _naive(node.this) else node.this.copy()
                node.replace(exp.cast(exp.AtTimeZone(this=instant, zone=zone.copy()), target))


def to_char_calls(sql: str, dialect: str) -> list[tuple[int, int, str]]:
    """(start, end, pattern) of each ``to_char(x, 'pattern')`` call as written: the character span of
    its arguments and its pattern literal."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    out: list[tuple[int, int, str]] = []
    for i, token in enumerate(tokens[:-1]):
        if token.text.upper() != "TO_CHAR" or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        depth, last = 0, None
        for inner in tokens[i + 1 :]:
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(inner.token_type, 0)
            if depth == 1 and inner.token_type == TokenType.STRING:
                last = inner.text
            if depth == 0:
                if last is not None:
                    out.append((tokens[i + 1].start, inner.end, last))
                break
    return out


def _pattern_of(node: Any, calls: list[tuple[int, int, str]]) -> str | None:
    """The pattern of the innermost call whose arguments hold the node's first positioned identifier."""
    from sqlglot import exp

    start = next((i.meta["start"] for i in node.this.find_all(exp.Identifier) if "start" in i.meta), None) if node.this else None
    if start is None:
        return None
    around = [c for c in calls if c[0] <= start <= c[1]]
    return min(around, key=lambda c: c[1] - c[0])[2] if around else None


# Postgres to_char template patterns -> (strftime code, width when not FM, case). Names and AM/PM keep
# their case in the output, so they match case-sensitively; the others match in any case.
_TO_CHAR_CASED = [
    ("MONTH", "%B", 9, "upper"), ("Month", "%B", 9, ""), ("month", "%B", 9, "lower"),
    ("DAY", "%A", 9, "upper"), ("Day", "%A", 9, ""), ("day", "%A", 9, "lower"),
    ("MON", "%b", 0, "upper"), ("Mon", "%b", 0, ""), ("mon", "%b", 0, "lower"),
    ("DY", "%a", 0, "upper"), ("Dy", "%a", 0, ""), ("dy", "%a", 0, "lower"),
    ("AM", "%p", 0, ""), ("PM", "%p", 0, ""), ("am", "%p", 0, "lower"), ("pm", "%p", 0, "lower"),
]
_TO_CHAR_ANY_CASE = [
    ("HH24", "%H"), ("HH12", "%I"), ("IYYY", "%G"), ("YYYY", "%Y"), ("DDD", "%j"), ("YY", "%y"), ("MM", "%m"),
    ("DD", "%d"), ("HH", "%I"), ("MI", "%M"), ("SS", "%S"), ("IW", "%V"), ("Q", "quarter"),
]


def _to_char(value: Any, pattern: str) -> Any:
    """Postgres ``to_char(timestamp, pattern)`` as a DuckDB string expression, padding and case included;
    None for a pattern letter this does not know."""
    from sqlglot import exp

    parts: list[Any] = []
    i, fill = 0, False
    while i < len(pattern):
        if pattern[i : i + 2].upper() == "FM":
            fill, i = True, i + 2
            continue
        if pattern[i] == '"':  # quoted literal text
            end = pattern.find('"', i + 1)
            end = len(pattern) if end < 0 else end
            parts.append(exp.Literal.string(pattern[i + 1 : end]))
            i, fill = end + 1, False
            continue
        cased = next((t for t in _TO_CHAR_CASED if pattern.startswith(t[0], i)), None)
        plain = None if cased else next((t for t in _TO_CHAR_ANY_CASE if pattern[i : i + len(t[0])].upper() == t[0]), None)
        if cased is None and plain is None:
            if pattern[i].isalpha():
                return None
            parts.append(exp.Literal.string(pattern[i]))
            i += 1
            continue
        token, code, width, case = cased if cased else (plain[0], plain[1], 0, "")
        if code == "quarter":
            piece: Any = exp.cast(exp.Anonymous(this="quarter", expressions=[value.copy()]), "VARCHAR")
        else:
            if fill and code in ("%d", "%m", "%H", "%I"):
                code = code.replace("%", "%-")  # FM drops leading zeros
            piece = exp.Anonymous(this="strftime", expressions=[value.copy(), exp.Literal.string(code)])
        if case:
            piece = exp.Anonymous(this=case, expressions=[piece])
        if width and not fill:
            piece = exp.Anonymous(this="rpad", expressions=[piece, exp.Literal.number(width), exp.Literal.string(" ")])
        parts.append(piece)
        i, fill = i + len(token), False
    return exp.Concat(expressions=parts or [exp.Literal.string("")])


def _number_text(value: Any, pattern: str) -> Any:
    """``to_char(number, '999,999.00')`` approximated by DuckDB's ``format``: grouping and decimals kept."""
    from sqlglot import exp

    decimals = len(pattern.split(".", 1)[1].rstrip("S")) if "." in pattern else 0
    spec = "{:" + ("," if "," in pattern else "") + f".{decimals}f}}"
    return exp.Anonymous(this="format", expressions=[exp.Literal.string(spec), exp.cast(value, "DOUBLE")])


def _temporal(node: Any) -> bool:
    """Whether an expression is a date or timestamp: by its type, or by what it is when untyped."""
    from sqlglot import exp

    if node.type is not None and not node.type.is_type(exp.DType.UNKNOWN, exp.DType.NULL):
        return node.type.is_type(*exp.DataType.TEMPORAL_TYPES)
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.TEMPORAL_TYPES)
    return isinstance(node, (exp.ConvertTimezone, exp.AtTimeZone, exp.CurrentTimestamp, exp.CurrentDate, exp.TimestampTrunc))


def _naive(node: Any) -> bool:
    """Whether a typed expression is a naive timestamp (a fixture ``timestamp`` column, say)."""
    from sqlglot import exp

    kind = node.type.this if node is not None and node.type is not None else None
    return kind in (exp.DType.TIMESTAMP, exp.DType.TIMESTAMPNTZ, exp.DType.DATETIME)


def _utc_instant(node: Any) -> Any:
    """``node AT TIME ZONE 'UTC'``: the naive UTC wall time as an instant."""
    from sqlglot import exp

    return exp.AtTimeZone(this=node.copy(), zone=exp.Literal.string("UTC"))


