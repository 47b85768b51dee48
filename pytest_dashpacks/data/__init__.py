"""Generated connector data: calendar instants, per-type value kinds, rows, large tables and Hypothesis strategies."""
