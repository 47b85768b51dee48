"""SQL: rendering, parsing, schemas and types, transpiling, zone analysis and DuckDB translation."""
