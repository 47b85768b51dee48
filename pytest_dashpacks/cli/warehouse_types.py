"""Warehouse column types (Postgres, Snowflake, BigQuery, Redshift, DuckDB, as dbt catalogs and
information_schema spell them) mapped to the DuckDB type names connector.yml declares."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Type names as connector.yml accepts them (the connector schema's pattern), checked before DuckDB is asked.
_DECLARABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*( [A-Za-z][A-Za-z0-9_]*)*( ?\( *[0-9]+ *(, *[0-9]+ *)?\))?(\[\])?$")
MAX_DECIMAL_PRECISION = 38  # DuckDB's limit; wider decimals become DOUBLE

_BY_NAME = {
    # text
    **dict.fromkeys(("varchar", "character varying", "text", "string", "char", "character", "bpchar", "nvarchar",
                     "nchar", "citext", "name", "geography", "geometry", "enum"), "varchar"),
    # integers
    **dict.fromkeys(("bigint", "int8", "int64", "long", "bigserial"), "bigint"),
    **dict.fromkeys(("integer", "int", "int4", "serial"), "integer"),
    **dict.fromkeys(("smallint", "int2", "smallserial"), "smallint"),
    **dict.fromkeys(("tinyint", "byteint", "int1"), "tinyint"),
    "hugeint": "hugeint",
    # floating point (Snowflake's FLOAT, DOUBLE and REAL are all 64-bit)
    **dict.fromkeys(("double", "double precision", "float", "float8", "float64", "bignumeric", "bigdecimal"), "double"),
    **dict.fromkeys(("real", "float4"), "real"),
    # exact numbers without precision: BigQuery NUMERIC is (38, 9); Snowflake NUMBER is (38, 0), an integer
    **dict.fromkeys(("numeric", "decimal"), "decimal(38,9)"),
    "number": "bigint",
    # booleans, dates and times
    **dict.fromkeys(("boolean", "bool", "logical"), "boolean"),
    "date": "date",
    **dict.fromkeys(("time", "time without time zone"), "time"),
    **dict.fromkeys(("timetz", "time with time zone"), "timetz"),
    # naive timestamps (BigQuery DATETIME, Snowflake TIMESTAMP_NTZ, the TIMESTAMP of Postgres and Snowflake)
    **dict.fromkeys(("timestamp", "timestamp without time zone", "timestamp_ntz", "datetime", "timestamp_s",
                     "timestamp_ms", "timestamp_ns", "timestamp_us"), "timestamp"),
    **dict.fromkeys(("timestamptz", "timestamp with time zone", "timestamp_tz", "timestamp_ltz"), "timestamptz"),
    "interval": "interval",
    # semi-structured values are JSON; binary is BLOB
    **dict.fromkeys(("json", "jsonb", "variant", "object", "super", "struct", "record", "array", "map", "hstore"), "json"),
    **dict.fromkeys(("bytea", "bytes", "binary", "varbinary", "blob"), "blob"),
    "uuid": "uuid",
}
_NUMERIC_NAMES = ("numeric", "decimal", "number", "dec")


@dataclass(frozen=True)
class MappedType:
    """A warehouse type as connector.yml declares it."""

    duckdb: str  # a DuckDB type name, lower-case like the curated fixtures
    source: str  # the type as the warehouse spelled it
    exact: bool  # False when the type was unknown and is read as VARCHAR


def duckdb_type(source: str) -> MappedType:
    """The DuckDB type for a warehouse type name: ``character varying(255)`` -> varchar,
    ``NUMBER(38,0)`` -> bigint, ``numeric(12,2)`` -> decimal(12,2), ``ARRAY<INT64>`` -> bigint[]."""
    text = " ".join(source.strip().lower().split())
    mapped = _mapped(text)
    if mapped is None or not _DECLARABLE.match(mapped) or _duckdb_rejects(mapped):
        return MappedType("varchar", source, False)
    return MappedType(mapped, source, True)


def _mapped(text: str) -> str | None:
    array = re.fullmatch(r"array<(.+)>", text) or re.fullmatch(r"(.+)\[\]", text)
    if array:
        element = _mapped(array.group(1))
        return f"{element}[]" if element and "[" not in element and element not in ("json", "blob") else "json"
    if re.match(r"(struct|map|union)\s*[(<]", text):  # nested records are JSON to a board
        return "json"
    if text.startswith("enum("):
        return "varchar"
    base, arguments = _split(text)
    if base in _NUMERIC_NAMES and arguments:
        precision, scale = arguments[0], arguments[1] if len(arguments) > 1 else 0
        if scale == 0 and base == "number":  # Snowflake spells every integer NUMBER(38,0)
            return "bigint"
        if precision > MAX_DECIMAL_PRECISION:
            return "double"
        return f"decimal({precision},{scale})"
    if base in ("float",) and arguments:  # Postgres float(p): up to 24 bits is REAL
        return "real" if arguments[0] <= 24 else "double"
    return _BY_NAME.get(base)


def _split(text: str) -> tuple[str, list[int]]:
    """``numeric(12, 2)`` -> ("numeric", [12, 2]); ``varchar(255)`` -> ("varchar", [255])."""
    match = re.fullmatch(r"(.+?)\s*\(\s*([0-9]+)\s*(?:,\s*([0-9]+)\s*)?\)(.*)", text)
    if not match:
        return text, []
    base = " ".join(f"{match.group(1)} {match.group(4)}".split())  # "timestamp(6) with time zone"
    return base, [int(n) for n in (match.group(2), match.group(3)) if n is not None]


def _duckdb_rejects(type_name: str) -> bool:
    from ..load.seeds import type_error

    return type_error(type_name) is not None


def enum_values(source: str) -> tuple[str, ...] | None:
    """The labels of a DuckDB ``ENUM('a', 'b')`` type, which become the column's accepted values."""
    match = re.fullmatch(r"\s*enum\s*\((.*)\)\s*", source, flags=re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    return tuple(label.replace("''", "'") for label in re.findall(r"'((?:[^']|'')*)'", match.group(1))) or None


def postgres_type(data_type: str, udt_name: str, precision: int | None, scale: int | None) -> str:
    """The full type name from Postgres ``information_schema.columns`` fields (it splits numeric(p,s) and arrays apart)."""
    if data_type == "ARRAY":
        return f"{udt_name.lstrip('_')}[]"
    if data_type == "USER-DEFINED":
        return udt_name  # an enum or extension type: mapped by name, else read as VARCHAR
    if data_type == "numeric" and precision is not None:
        return f"numeric({precision},{scale or 0})"
    return data_type
