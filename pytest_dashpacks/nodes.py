"""pytest nodes: pack, board and regression files, one collector per query, and one Item class per context.

Collection reads YAML only (packs, boards, connector.yml) and names nodes
from YAML keys in file order, so every xdist worker collects the same ids.
Each item carries the objects its check runs on (a connector version, a KPI
contract, a regression case), never a string to look up again; the SQL work
happens in ``runtest``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Iterator

import pytest

from .checks import CheckContext, check_kind, defect_class_of
from .checks.prerequisites import BLOCKED, blocked
from .data.calendar import CLOCK_INSTANTS
from .data.cases import NARRATIVE_CASES, VOLUME_CASES
from .errors import CheckFailure, CheckSkipped, ConfigError, DashpacksError, FailureRepr, SourceSpan, failure_lines, relative_posix
from .load.packs import rule_matches
from .load.regressions import RegressionCase
from .load.yaml import inside
from .model import Board, ConnectorVersion, KpiContract, Pack, Query, ValuesQuery
from .session import DashpacksSession
from .sql.clock import reads_clock
from .sql.zones import zone_item_applies

SESSION_KEY = pytest.StashKey[DashpacksSession]()


def dashpacks_session(config: pytest.Config) -> DashpacksSession:
    return config.stash[SESSION_KEY]


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


def pack_dir_of(path: Path, folder: str) -> Path | None:
    """The pack directory when ``path`` lies under ``<pack>/<folder>/``."""
    for parent in path.parents:
        if parent.name == folder and (parent.parent / "pack.yml").is_file():
            return parent.parent
    return None


# --- items ----------------------------------------------------------------------------


class DashpackItem(pytest.Item):
    """One generated check. Subclasses carry what their context needs and build its :class:`CheckContext`;
    an item made with ``error`` reports that load error and runs nothing."""

    def __init__(
        self, *, check: str, pack: Pack | None = None, error: DashpacksError | None = None, span: SourceSpan | None = None,
        connector: str = "", **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.check, self.pack, self.error, self.span = check, pack, error, span
        self.record: dict[str, Any] = {}
        self.connector = connector or (pack.connector if pack else "")
        self.defect_class = self._defect_class()
        for marker in _markers(check):
            self.add_marker(marker)
        pack_name = pack.name if pack else _pack_name(self.path)
        self.user_properties.extend(
            [("connector", self.connector), ("pack", pack_name), ("check", self.name), ("defect_class", self.defect_class)]
        )

    def _defect_class(self) -> str:
        return defect_class_of(self.check)

    def context(self, session: DashpacksSession) -> CheckContext:
        assert self.pack is not None
        return CheckContext(session, self.pack, record=self.record)

    def runtest(self) -> None:
        try:
            try:
                if self.error is not None:
                    raise self.error
                check_kind(self.check).run(self.context(dashpacks_session(self.config)))
            except ConfigError as exc:
                blocker = self._pack_blocker(exc)
                if blocker is None:
                    raise
                raise blocker from None
            except (DashpacksError, CheckSkipped):
                raise
            except Exception as exc:  # the one place a plugin crash is caught: reported where it happened, as ours
                raise _internal_error(self, exc) from exc
        except CheckSkipped as exc:
            blocker = exc.reason[len(BLOCKED):].split(": ", 1) if exc.reason.startswith(BLOCKED) else None
            if blocker is not None and len(blocker) == 2 and blocker[0] not in _selected(self.session):
                # The item that reports the root cause is not in this run (-k, -m, a file alone): a skip
                # would turn the run green over a defect, so this item reports it instead.
                raise CheckFailure(
                    f"{blocker[1]} (found by {blocker[0]}, which is not in this run)", self.span, defect_class=self.defect_class
                ) from None
            # Reported at the item's YAML line, not at this call.
            raise pytest.skip.Exception(exc.reason, _use_item_location=True) from None

    def _pack_blocker(self, error: ConfigError) -> CheckSkipped | None:
        """A skip naming ``pack.yml::load`` when that item, in this run, fails with this very error: a broken
        manifest, connector or seed is one defect, reported once there, not again by each board and case."""
        if self.nodeid.endswith("pack.yml::load"):
            return None
        manifest = self.pack.manifest if self.pack is not None else _manifest_of(self.path)
        if manifest is None:
            return None
        pack_error = dashpacks_session(self.config).library.pack_error(manifest)
        if pack_error is None or pack_error.span != error.span or pack_error.message not in error.message:
            return None
        blocker = f"{relative_posix(manifest, self.config.rootpath)}::load"
        if blocker not in _selected(self.session):
            return None  # the pack's load item is not in this run: this item is where the defect shows
        return blocked(blocker, pack_error.message)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # Line 1 when the span names no line, or one in another file (the connector.yml that broke this board).
        same_file = self.span is not None and self.span.path == self.path
        line = self.span.line - 1 if self.span is not None and same_file and self.span.line else 0
        return self.path, line, self.nodeid.split("::", 1)[-1]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DashpacksError):
            return FailureRepr(failure_lines(excinfo.value, self.config.rootpath, self.name))
        return super().repr_failure(excinfo, style=style)


class LoadItem(DashpackItem):
    """``pack.yml::load`` and ``<board>.yml::load``: the file is valid and its references resolve."""

    def __init__(self, *, board: Board | None = None, **kwargs: Any) -> None:
        self.board = board
        super().__init__(check="load", **kwargs)

    def _defect_class(self) -> str:
        return self.error.defect_class if self.error is not None else super()._defect_class()

    def context(self, session: DashpacksSession) -> CheckContext:
        assert self.pack is not None
        return CheckContext(session, self.pack, self.board, record=self.record)


class QueryItem(DashpackItem):
    """``<board>.yml::<query>::<check>[param]``: one check of one query; ``version``, ``target``, ``zone``,
    ``instant`` or ``data_case`` is what the item is parametrized by."""

    def __init__(
        self, *, board: Board, query: Query | ValuesQuery, version: ConnectorVersion | None = None, target: str | None = None,
        zone: str | None = None, instant: str | None = None, data_case: str | None = None, **kwargs: Any,
    ) -> None:
        self.board, self.query = board, query
        self.version, self.target, self.zone, self.instant, self.data_case = version, target, zone, instant, data_case
        super().__init__(**kwargs)

    def context(self, session: DashpacksSession) -> CheckContext:
        assert self.pack is not None
        return CheckContext(
            session, self.pack, self.board, self.query, version=self.version, target=self.target, zone=self.zone,
            instant=self.instant, data_case=self.data_case, record=self.record,
        )


class KpiItem(DashpackItem):
    """``pack.yml::kpi[x]``, ``property[x]`` and ``narrative[x@case]``: a KPI contract of the pack."""

    def __init__(self, *, kpi: KpiContract, data_case: str | None = None, **kwargs: Any) -> None:
        self.kpi, self.data_case = kpi, data_case
        super().__init__(**kwargs)

    def context(self, session: DashpacksSession) -> CheckContext:
        assert self.pack is not None
        return CheckContext(session, self.pack, kpi=self.kpi, data_case=self.data_case, record=self.record)


class RegressionItem(DashpackItem):
    """``<pack>/regressions/<ID>.yml::<ID>``: one pinned regression case."""

    def __init__(self, *, regression: RegressionCase | None = None, **kwargs: Any) -> None:
        self.regression = regression
        super().__init__(check="regression", **kwargs)
        self.user_properties.append(("regression", regression.id if regression is not None else self.name))

    def _defect_class(self) -> str:
        return self.regression.defect_class if self.regression is not None else super()._defect_class()

    def context(self, session: DashpacksSession) -> CheckContext:
        assert self.pack is not None
        return CheckContext(session, self.pack, regression=self.regression, record=self.record)


class LedgerItem(DashpackItem):
    """``pack.yml::ledger[ID]``: a fixed defect of the ledger is still pinned and passing."""

    def __init__(self, *, defect: dict[str, Any], **kwargs: Any) -> None:
        self.defect = defect
        self.defect_id = str(defect["id"])
        super().__init__(check="ledger", **kwargs)

    def _defect_class(self) -> str:
        return str(self.defect.get("class", "config"))

    def context(self, session: DashpacksSession) -> CheckContext:
        assert self.pack is not None
        return CheckContext(session, self.pack, defect=self.defect, record=self.record)


def _internal_error(item: DashpackItem, exc: Exception) -> DashpacksError:
    """A crash inside a check, as a located failure that says it is a pytest-dashpacks bug (with the frames)."""
    import traceback

    frames = traceback.format_tb(exc.__traceback__)[-3:]
    details = tuple(line for frame in frames for line in frame.rstrip().splitlines())
    return DashpacksError(
        f"internal error in the {item.check} check (a pytest-dashpacks bug; please report it): {type(exc).__name__}: {exc}",
        item.span, details=details, defect_class="config",
    )


def _manifest_of(path: Path) -> Path | None:
    for folder in ("boards", "regressions"):
        pack_dir = pack_dir_of(path, folder)
        if pack_dir is not None:
            return pack_dir / "pack.yml"
    return None


def _selected(session: pytest.Session) -> frozenset[str]:
    """Node ids of the items this run runs (after -k/-m deselection), computed once."""
    selected = getattr(session, "_dashpacks_selected", None)
    if selected is None or len(selected) != len(session.items):
        selected = frozenset(item.nodeid for item in session.items)
        session._dashpacks_selected = selected  # type: ignore[attr-defined]
    return selected


@functools.lru_cache(maxsize=None)
def _markers(check: str) -> tuple[pytest.MarkDecorator, ...]:
    """The item's markers, built once per check: looking a marker up by name costs per item."""
    return (pytest.mark.dashpacks, getattr(pytest.mark, f"dashpacks_{check}"))


def _pack_name(path: Path) -> str:
    pack = path.parent if path.name == "pack.yml" else pack_dir_of(path, "boards")
    return pack.name if pack else ""


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
        def item(name: str, check: str, **param: Any) -> QueryItem:
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
        for zone in settings.item_zones(self.pack.timezone):
            yield item(f"timezone[{zone}]", "timezone", zone=zone)
        if reads_clock(self.query.sql):
            for instant in CLOCK_INSTANTS:
                yield item(f"clock[{instant}]", "clock", instant=instant)
        for case in VOLUME_CASES:
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
