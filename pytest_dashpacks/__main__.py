"""``python -m pytest_dashpacks``: the ``dashpacks`` console script."""

from __future__ import annotations

import sys

from pytest_dashpacks.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
