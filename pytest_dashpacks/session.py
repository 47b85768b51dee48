"""The per-process session: settings, the run's state, and the objects that load and analyse packs.

Collection asks ``library`` for packs, boards and connectors (YAML only). Items ask ``queries``
for rendered, parsed and qualified SQL and ``databases`` for fixture databases and sandboxes.
All three share one :class:`Memo`, so everything is computed once per worker on first use.
"""

from __future__ import annotations

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
