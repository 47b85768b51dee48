"""pytest collectors: pack, board and regression files, and one collector per query.

Collection reads YAML only (packs, boards, connector.yml) and names nodes
from YAML keys in file order, so every xdist worker collects the same ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from .data.calendar import CLOCK_INSTANTS
from .data.cases import NARRATIVE_CASES, VOLUME_CASES
from .errors import ConfigError, SourceSpan
from .load.packs import rule_matches
from .load.yaml import inside
from .model import Board, ConnectorVersion, Pack, Query, ValuesQuery
from .nodes import DashpackItem, KpiItem, LedgerItem, LoadItem, QueryItem, RegressionItem, dashpacks_session, markable, pack_dir_of
from .sql.clock import reads_clock
from .sql.relevance import marked_names, query_relevance
from .sql.zones import zone_item_applies


def collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .load.packs import is_board_file

    kind: type[pytest.File] | None = None
    pack_dir: Path | None = None
    yaml_file = file_path.suffix in (".yml", ".yaml")
    if file_path.name == "pack.yml":
        kind, pack_dir = PackFile, file_path.parent
    elif yaml_file and file_path.parent.name == "regressions" and (found := pack_dir_of(file_path, "regressions")):
        kind, pack_dir = RegressionFile, found
    elif yaml_file and is_board_file(file_path) and (found := pack_dir_of(file_path, "boards")):
        kind, pack_dir = BoardFile, found
    if kind is None or pack_dir is None:
        return None
    if not inside(file_path, pack_dir):  # a link out of a pack is never read
        return RefusedFile.from_parent(parent, path=file_path)
    return kind.from_parent(parent, path=file_path)


def apply_rules(item: DashpackItem) -> DashpackItem:
    """pack.yml ``checks.skip`` / ``checks.xfail`` become markers with their reasons."""
    pack = item.pack
    if pack is None:
        return item
    board_node = getattr(item, "board", None)
    query_node = getattr(item, "query", None)
    board = board_node.stem if board_node is not None else None
    query = query_node.name if query_node is not None else None
    for rule in pack.skips:
        if rule_matches(rule, item.name, board, query):
            item.add_marker(pytest.mark.skip(reason=f"pack.yml checks.skip: {rule.reason}"))
    for rule in pack.xfails:
        if rule_matches(rule, item.name, board, query):
            defect = f" ({rule.defect})" if rule.defect else ""
            item.add_marker(pytest.mark.xfail(reason=f"pack.yml checks.xfail: {rule.reason}{defect}"))
    return item


# --- collectors -----------------------------------------------------------------------


class RefusedFile(pytest.File):
    """A pack file that is a symlink leaving its pack: one failing ``load`` item, and the file is never read."""

    def collect(self) -> Iterator[pytest.Item]:
        error = ConfigError(f"{self.path.name} is a symbolic link that leaves its pack; it is not read", SourceSpan(self.path))
        yield LoadItem.from_parent(self, name="load", error=error, span=error.span)


class PackFile(pytest.File):
    """``<pack>/pack.yml``: the manifest's own items."""

    def collect(self) -> Iterator[pytest.Item]:
        session = dashpacks_session(self.config)
        if session.settings.regressions_only:
            return
        try:
            pack = session.library.pack(self.path)
        except ConfigError as exc:
            yield LoadItem.from_parent(self, name="load", error=exc, span=exc.span)
            return
        yield apply_rules(LoadItem.from_parent(self, name="load", pack=pack, span=pack.span))
        for kpi in pack.kpis:
            kinds: list[tuple[str, str, str | None]] = [(f"kpi[{kpi.name}]", "kpi", None), (f"property[{kpi.name}]", "property", None)]
            if kpi.narrative:
                kinds += [(f"narrative[{kpi.name}@{case}]", "narrative", case) for case in NARRATIVE_CASES]
            for name, check, case in kinds:
                if not markable(self.config, check):
                    continue
                yield apply_rules(
                    KpiItem.from_parent(
                        self, name=name, nodeid=f"{self.nodeid}::{name}", check=check, pack=pack, kpi=kpi, data_case=case, span=kpi.span
                    )
                )
        try:
            ledger = session.library.ledger()
        except ConfigError as exc:  # a broken ledger fails where the ledger is checked, once per pack
            yield LoadItem.from_parent(self, name="ledger", pack=pack, error=exc, span=exc.span)
            return
        for defect in ledger:
            if defect.get("status") == "fixed" and defect.get("pack") == pack.name:
                name = f"ledger[{defect['id']}]"
                yield LedgerItem.from_parent(
                    self, name=name, nodeid=f"{self.nodeid}::{name}", pack=pack, defect=defect,
                    connector=str(defect.get("connector", pack.connector)),
                )


class BoardFile(pytest.File):
    """``<pack>/boards/<board>.yml``: a load item and one collector per query."""

    def collect(self) -> Iterator[pytest.Node]:
        session = dashpacks_session(self.config)
        if session.settings.regressions_only:
            return
        pack = _pack_of(self, "boards", "check this board")
        if isinstance(pack, ConfigError):
            yield LoadItem.from_parent(self, name="load", error=pack, span=pack.span)
            return
        try:
            board = session.library.board(self.path, pack.directory)
            versions = session.library.versions(pack)
        except ConfigError as exc:
            yield LoadItem.from_parent(self, name="load", pack=pack, error=exc, span=exc.span)
            return
        yield apply_rules(LoadItem.from_parent(self, name="load", pack=pack, board=board, span=SourceSpan(self.path, 1, 1)))
        for query in board.queries:
            yield QueryNode.from_parent(self, name=query.name, pack=pack, board=board, query=query, versions=versions)
        for values in board.values_queries:
            if board.bindings_of(values.name):
                yield QueryNode.from_parent(self, name=values.name, pack=pack, board=board, query=values, versions=())


class QueryNode(pytest.Collector):
    """``<board>.yml::<query>``: the items checking one query (a values query has only ``bindings``)."""

    def __init__(
        self, *, pack: Pack, board: Board, query: Query | ValuesQuery, versions: tuple[ConnectorVersion, ...], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.pack, self.board, self.query, self.versions = pack, board, query, versions

    def collect(self) -> Iterator[pytest.Item]:
        return (node for node in self._items() if node is not None)

    def _items(self) -> Iterator[QueryItem | None]:
        def item(name: str, check: str, **param: Any) -> QueryItem | None:
            if not markable(self.config, check):  # -m could never select it: not made at all
                return None
            # An explicit id string is parsed the way pytest parses stored ids (--lf,
            # cache), so "schema[stripe@2023-10]" keeps its bracket as the parameter part.
            node = QueryItem.from_parent(
                self, name=name, nodeid=f"{self.nodeid}::{name}", check=check, pack=self.pack, board=self.board,
                query=self.query, span=self.query.span, **param,
            )
            return apply_rules(node)

        connector = self.pack.connector
        if isinstance(self.query, ValuesQuery):  # rows written inline: no SQL to parse, resolve or run
            yield item("bindings", "bindings")
            return
        yield item("syntax", "syntax")
        for version in self.versions:
            yield item(f"schema[{connector}@{version.name}]", "schema", version=version)
        if self.board.bindings_of(self.query.name):
            yield item("bindings", "bindings")
        for target in self.pack.targets:
            yield item(f"transpile[{target}]", "transpile", target=target)
        if zone_item_applies(self.pack, self.versions):
            yield item("zone", "zone")
        for version in self.versions:
            yield item(f"execute[{connector}@{version.name}]", "execute", version=version)
        settings = dashpacks_session(self.config).settings
        if settings.engine is not None and (self.pack.dialect == "postgres" or {"postgres", "redshift"} & set(self.pack.targets)):
            for version in self.versions:
                yield item(f"differential[postgres@{version.name}]", "differential", version=version)
        # Only items that can find something (sql.relevance): the rule reads text and errs towards generating.
        session = dashpacks_session(self.config)
        fixture = session.library.connector(self.pack)
        names = session.cached(("marked-names", fixture.path, tuple(v.name for v in self.versions)), lambda: marked_names(self.versions))
        relevance = query_relevance(self.query, self.board, fixture, names)
        if relevance.reads_time:
            for zone in settings.item_zones(self.pack.timezone):
                yield item(f"timezone[{zone}]", "timezone", zone=zone)
        if reads_clock(self.query.sql):
            for instant in CLOCK_INSTANTS:
                yield item(f"clock[{instant}]", "clock", instant=instant)
        for case in VOLUME_CASES:
            if (
                (case == "soft_deleted" and not relevance.reads_deleted_marker)
                or (case == "history" and not relevance.reads_history_marker)
                or (case == "large" and not relevance.scales_with_rows)
            ):
                continue
            yield item(f"volume[{case}]", "volume", data_case=case)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.query.span.line - 1, self.name


class RegressionFile(pytest.File):
    """``<pack>/regressions/<ID>.yml``: one pinned case, ``<ID>``."""

    def collect(self) -> Iterator[pytest.Item]:
        pack = _pack_of(self, "regressions", "run this regression case")
        if isinstance(pack, ConfigError):
            yield RegressionItem.from_parent(self, name=self.path.stem, error=pack, span=pack.span)
            return
        try:
            case = dashpacks_session(self.config).library.regression(self.path)
        except ConfigError as exc:
            yield RegressionItem.from_parent(self, name=self.path.stem, pack=pack, error=exc, span=exc.span)
            return
        yield RegressionItem.from_parent(self, name=case.id, pack=pack, regression=case, span=case.span)


def _pack_of(node: pytest.File, folder: str, what: str) -> Pack | ConfigError:
    """The pack a board or regression file belongs to, or the error that says why it cannot ``what``."""
    pack_dir = pack_dir_of(node.path, folder)
    assert pack_dir is not None
    try:
        return dashpacks_session(node.config).library.pack(pack_dir / "pack.yml")
    except ConfigError as exc:
        return ConfigError(f"cannot {what}: its pack.yml does not load: {exc.message}", exc.span)
