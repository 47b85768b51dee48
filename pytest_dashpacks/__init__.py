"""pytest-dashpacks: test connector dashboard packs with ``pytest --dashpacks``.

Importing this package stays cheap: sqlglot, DuckDB and Hypothesis are loaded
only by the checks that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"
