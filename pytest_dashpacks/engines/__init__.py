"""Engines that run board SQL on connector fixtures: DuckDB databases and their sandboxes."""
