"""How ``-n`` hands out items: whole packs, so each xdist worker builds a pack's databases once.

pytest-xdist's default ``load`` distribution deals items out in runs of the collection order, so
every worker builds every pack's fixture databases and switches packs often (freeing and
rebuilding them). With ``-n`` and that default, a work unit here is one pack's items, and its
``volume[large]`` items form a unit of their own (one large database, the slow part of a pack).
With fewer packs than workers, a unit is one board file instead, so a single big pack still spreads
over the workers. Units go out largest first. Any other ``--dist`` is left as chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from .nodes import pack_dir_of


class PackScheduling(LoadScopeScheduling):
    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        self._packs: dict[str, str | None] = {}
        self._by_board = False

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed and self.registered_collections:
            collection = next(iter(self.registered_collections.values()))
            packs = {self._pack(nodeid) for nodeid in collection} - {None}
            self._by_board = len(packs) < len(self.nodes)
        super().schedule()

    def _split_scope(self, nodeid: str) -> str:
        pack = self._pack(nodeid)
        if pack is None:  # not a pack's item: xdist's own module/class scope
            return super()._split_scope(nodeid)
        path = nodeid.partition("::")[0]
        unit = path if self._by_board else pack
        return f"{unit}::large" if nodeid.endswith("::volume[large]") else unit

    def _pack(self, nodeid: str) -> str | None:
        """The pack directory (relative, as in node ids) an item belongs to, or None."""
        path = nodeid.partition("::")[0]
        if path not in self._packs:
            full = Path(self.config.rootpath) / path
            if full.name == "pack.yml":
                found: Path | None = full.parent
            else:
                found = pack_dir_of(full, "boards") or pack_dir_of(full, "regressions")
            self._packs[path] = found.relative_to(self.config.rootpath).as_posix() if found is not None else None
        return self._packs[path]


def scheduler(config: pytest.Config, log: Any) -> PackScheduling | None:
    """The pack scheduler under ``-n`` with xdist's default ``load`` distribution; None otherwise."""
    if getattr(config.option, "dist", None) != "load":
        return None
    return PackScheduling(config, log)
