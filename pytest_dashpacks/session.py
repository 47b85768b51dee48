"""The per-process session: settings, the run's state, and the objects that load and analyse packs.

Collection asks ``library`` for packs, boards and connectors (YAML only). Items ask ``queries``
for rendered, parsed and qualified SQL and ``databases`` for fixture databases and sandboxes.
All three share one :class:`Memo`, so everything is computed once per worker on first use.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .engines.databases import Databases
from .load.library import PackLibrary
from .memo import Memo
from .settings import Settings
from .sql.pipeline import QueryPipeline

T = TypeVar("T")


@dataclass
class DashpacksSession:
    settings: Settings
    memo: Memo = field(default_factory=Memo)
    marked_regressions: dict[str, str] = field(default_factory=dict)  # defect id -> node id of a marked test
    marked_outcomes: dict[str, str] = field(default_factory=dict)  # node id -> outcome, for tests run in this process
    library: PackLibrary = field(init=False)
    queries: QueryPipeline = field(init=False)
    databases: Databases = field(init=False)

    def __post_init__(self) -> None:
        self.library = PackLibrary(self.settings, self.memo)
        self.queries = QueryPipeline(self.library, self.memo)
        self.databases = Databases(self.settings, self.library, self.queries, self.memo)

    def cached(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """``build()`` once per process for ``key`` (its error too): for checks that share work."""
        return self.memo.get(key, build)

    def close(self) -> None:
        """Close the databases and forget everything built: what stays referenced at exit, every
        garbage collection the interpreter makes while shutting down walks again."""
        self.databases.close()
        self.memo.clear()


_exit_registered = False


def skip_exit_collections() -> None:
    """Once per process: freeze the heap at exit, so that the interpreter's shutdown does not walk every
    object left (modules, items, reports) in each of its garbage collections: about 0.1 s of a 1.5 s run.

    By then pytest has made its own end-of-session collections, which report the exceptions raised in
    finalizers. What changes is only that cyclic garbage still around at exit is not finalized, which
    Python does not promise either."""
    global _exit_registered
    if not _exit_registered:
        _exit_registered = True
        atexit.register(gc.freeze)
