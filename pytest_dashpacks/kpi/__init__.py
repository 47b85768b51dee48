"""KPI maths: the Python oracle, narrative cases and the tables a KPI reads."""
