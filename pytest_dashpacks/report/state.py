"""Where the run's report state lives: ``config.stash`` keys, and whether this process is an xdist worker."""

from __future__ import annotations

import pytest

from .stability import StabilityReport

REPORT_KEY = pytest.StashKey[StabilityReport]()
PINS_KEY = pytest.StashKey[list]()
DEFERRED_KEY = pytest.StashKey[list]()  # (xdist node or None, deferred ledger entry), on the reporting process
MARKED_PINS_KEY = pytest.StashKey[dict]()  # defect id -> node ids of the selected marked tests pinning it
RUN_KEY = pytest.StashKey[dict]()  # what the run loop and the options say about how complete this run is
WORKEROUTPUT_KEY = "dashpacks_deferred_ledger"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")
