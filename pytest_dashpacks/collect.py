"""pytest nodes: pack and board files, one collector per query, and the items.

Collection reads YAML only (packs, boards, connector.yml) and names nodes
from YAML keys in file order, so every xdist worker collects the same ids.
The SQL work happens in ``runtest``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from .checks import CheckContext, check_kind
from .checks.prerequisites import BLOCKED, blocked
from .data.calendar import CLOCK_INSTANTS
from .data.cases import NARRATIVE_CASES, VOLUME_CASES
from .errors import CheckFailure, CheckSkipped, ConfigError, DashpacksError, SourceSpan, excerpt_lines, relative_posix
from .load.yaml import inside
from .model import Board, CheckRule, Pack, Query, ValuesQuery
from .session import DashpacksSession
from .sql.clock import reads_clock
from .sql.zones import zone_item_applies

SESSION_KEY = pytest.StashKey[DashpacksSession]()


def dashpacks_session(config: pytest.Config) -> DashpacksSession:
    return config.stash[SESSION_KEY]


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


def pack_dir_of(path: Path, folder: str) -> Path | None:
    """The pack directory when ``path`` lies under ``<pack>/<folder>/``."""
    for parent in path.parents:
        if parent.name == folder and (parent.parent / "pack.yml").is_file():
            return parent.parent
    return None


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


class RefusedFile(pytest.File):
    """A pack file that is a symlink leaving its pack: one failing ``load`` item, and the file is never read."""

    def collect(self) -> Iterator[pytest.Item]:
        error = ConfigError(f"{self.path.name} is a symbolic link that leaves its pack; it is not read", SourceSpan(self.path))
        yield DashpackItem.from_parent(self, name="load", check="load", error=error, span=error.span)


class DashpackItem(pytest.Item):
    """One generated check: ``load``, ``syntax``, ``schema[...]``, ``bindings``, ``transpile[...]``."""

    def __init__(
        self,
        *,
        check: str,
        param: str | None = None,
        pack: Pack | None = None,
        board: Board | None = None,
        query: Query | None = None,
        error: DashpacksError | None = None,
        connector: str = "",
        span: SourceSpan | None = None,
        case: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.check, self.param, self.case = check, param, case
        self.record: dict[str, Any] = {}
        self.pack, self.board, self.query = pack, board, query
        self.error = error
        self.span = span
        self.defect_class = error.defect_class if error is not None and check == "load" else check_kind(check).defect_class
        if check == "regression" and case is not None:
            self.defect_class = case.defect_class
        elif check == "ledger" and case is not None:
            self.defect_class = case.get("class", "config")
        self.connector = connector or (pack.connector if pack else "")
        for marker in _markers(check):
            self.add_marker(marker)
        self.user_properties.extend(
            [
                ("connector", self.connector),
                ("pack", pack.name if pack else _pack_name(self.path)),
                ("check", self.name),
                ("defect_class", self.defect_class),
            ]
        )
        if check == "regression":
            self.user_properties.append(("regression", case.id if case is not None else self.name))

    def runtest(self) -> None:
        try:
            try:
                if self.error is not None:
                    raise self.error
                assert self.pack is not None
                ctx = CheckContext(dashpacks_session(self.config), self.pack, self.board, self.query, self.param, self.case, self.record)
                check_kind(self.check).run(ctx)
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
        manifest = (self.pack.manifest if self.pack is not None else _manifest_of(self.path))
        if manifest is None:
            return None
        session = dashpacks_session(self.config)
        pack_error = session.library.pack_error(manifest)
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
            return format_failure(excinfo.value, self.config.rootpath, self.name)
        return super().repr_failure(excinfo, style=style)


@functools.lru_cache(maxsize=None)
def _markers(check: str) -> tuple[pytest.MarkDecorator, ...]:
    """The item's markers, built once per check: looking a marker up by name costs per item."""
    return (pytest.mark.dashpacks, getattr(pytest.mark, f"dashpacks_{check}"))


def _pack_name(path: Path) -> str:
    pack = path.parent if path.name == "pack.yml" else pack_dir_of(path, "boards")
    return pack.name if pack else ""


def format_failure(error: DashpacksError, rootdir: Path, check: str) -> str:
    """``file:line: check: message``, hints, then the YAML or SQL with a caret."""
    where = f"{error.span.location(rootdir)}: " if error.span else ""
    lines = [f"{where}{check}: {error.message}"]
    lines.extend(f"  {detail}" for detail in error.details)
    if error.sql is not None and error.sql.sql.strip():
        sql_lines = excerpt_lines(error.sql.sql, error.sql.line, error.sql.column, width=error.sql.width, context=3)
        if sql_lines:
            lines.append("  SQL:")
            lines.extend("    " + line for line in sql_lines)
        else:
            lines.append("  SQL:")
            lines.extend("    " + line for line in _readable(error.sql.sql).splitlines()[:40])
    elif error.span is not None and error.span.line:
        try:
            text = error.span.path.read_text("utf-8", errors="replace")
        except OSError:
            text = ""
        yaml_lines = excerpt_lines(text, error.span.line, error.span.column)
        if yaml_lines:
            lines.append(f"  {error.span.path.name}:")
            lines.extend("    " + line for line in yaml_lines)
    # Files under the rootdir are named relative to it, like pytest names nodes.
    return "\n".join(lines).replace(f"{rootdir}/", "")


def _readable(sql: str) -> str:
    """SQL to show without a caret: the one-line DuckDB text the data items ran, laid out on lines."""
    text = sql.strip()
    if "\n" in text or len(text) <= 100:
        return text
    try:
        import sqlglot

        return sqlglot.transpile(text, read="duckdb", write="duckdb", pretty=True)[0]
    except Exception:  # not DuckDB SQL after all: show it as it is
        return text


def rule_matches(rule: CheckRule, item_name: str, board: str | None, query: str | None) -> bool:
    def glob(pattern: str, text: str) -> bool:
        return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None

    target = f"{board}.{query}" if board and query else "*"
    return glob(rule.check, item_name) and (rule.query == "*" or glob(rule.query, target))


def apply_rules(item: DashpackItem) -> DashpackItem:
    """pack.yml ``checks.skip`` / ``checks.xfail`` become markers with their reasons."""
    pack = item.pack
    if pack is None:
        return item
    board = item.board.stem if item.board else None
    query = item.query.name if item.query else None
    for rule in pack.skips:
        if rule_matches(rule, item.name, board, query):
            item.add_marker(pytest.mark.skip(reason=f"pack.yml checks.skip: {rule.reason}"))
    for rule in pack.xfails:
        if rule_matches(rule, item.name, board, query):
            defect = f" ({rule.defect})" if rule.defect else ""
            item.add_marker(pytest.mark.xfail(reason=f"pack.yml checks.xfail: {rule.reason}{defect}"))
    return item


class PackFile(pytest.File):
    """``<pack>/pack.yml``: the manifest's own items."""

    def collect(self) -> Iterator[pytest.Item]:
        session = dashpacks_session(self.config)
        if session.settings.regressions_only:
            return
        try:
            pack = session.library.pack(self.path)
        except ConfigError as exc:
            yield DashpackItem.from_parent(self, name="load", check="load", error=exc, span=exc.span)
            return
        yield apply_rules(DashpackItem.from_parent(self, name="load", check="load", pack=pack, span=pack.span))
        for kpi in pack.kpis:
            names = [(f"kpi[{kpi.name}]", "kpi"), (f"property[{kpi.name}]", "property")]
            if kpi.narrative:
                names += [(f"narrative[{kpi.name}@{case}]", "narrative") for case in NARRATIVE_CASES]
            for name, check in names:
                param = name[name.index("[") + 1 : -1]
                node = DashpackItem.from_parent(
                    self, name=name, nodeid=f"{self.nodeid}::{name}", check=check, param=param, pack=pack, span=kpi.span
                )
                yield apply_rules(node)
        try:
            ledger = session.library.ledger()
        except ConfigError as exc:  # a broken ledger fails where the ledger is checked, once per pack
            yield DashpackItem.from_parent(self, name="ledger", check="load", pack=pack, error=exc, span=exc.span)
            return
        for defect in ledger:
            if defect.get("status") == "fixed" and defect.get("pack") == pack.name:
                name = f"ledger[{defect['id']}]"
                yield DashpackItem.from_parent(
                    self, name=name, nodeid=f"{self.nodeid}::{name}", check="ledger", param=defect["id"], pack=pack,
                    case=defect, connector=str(defect.get("connector", pack.connector)),
                )


class BoardFile(pytest.File):
    """``<pack>/boards/<board>.yml``: a load item and one collector per query."""

    def collect(self) -> Iterator[pytest.Node]:
        session = dashpacks_session(self.config)
        if session.settings.regressions_only:
            return
        pack_dir = pack_dir_of(self.path, "boards")
        assert pack_dir is not None
        manifest = pack_dir / "pack.yml"
        try:
            pack = session.library.pack(manifest)
        except ConfigError as exc:
            error = ConfigError(f"cannot check this board: its pack.yml does not load: {exc.message}", exc.span)
            yield DashpackItem.from_parent(self, name="load", check="load", error=error, span=exc.span)
            return
        try:
            board = session.library.board(self.path, pack_dir)
            versions = session.library.versions(pack)
        except ConfigError as exc:
            yield DashpackItem.from_parent(self, name="load", check="load", pack=pack, error=exc, span=exc.span)
            return
        yield apply_rules(DashpackItem.from_parent(self, name="load", check="load", pack=pack, board=board, span=SourceSpan(self.path, 1, 1)))
        for query in board.queries:
            yield QueryNode.from_parent(self, name=query.name, pack=pack, board=board, query=query, versions=[v.name for v in versions])
        for values in board.values_queries:
            if board.bindings_of(values.name):
                yield QueryNode.from_parent(self, name=values.name, pack=pack, board=board, query=values, versions=[])


class QueryNode(pytest.Collector):
    """``<board>.yml::<query>``: the items checking one query (a values query has only ``bindings``)."""

    def __init__(self, *, pack: Pack, board: Board, query: Query | ValuesQuery, versions: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pack, self.board, self.query, self.versions = pack, board, query, versions

    def collect(self) -> Iterator[pytest.Item]:
        common = dict(pack=self.pack, board=self.board, query=self.query, span=self.query.span)

        def item(name: str, check: str, param: str | None = None) -> DashpackItem:
            # An explicit id string is parsed the way pytest parses stored ids (--lf,
            # cache), so "schema[stripe@2023-10]" keeps its bracket as the parameter part.
            node = DashpackItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", check=check, param=param, **common)
            return apply_rules(node)

        if isinstance(self.query, ValuesQuery):  # rows written inline: no SQL to parse, resolve or run
            yield item("bindings", "bindings")
            return
        yield item("syntax", "syntax")
        for version in self.versions:
            yield item(f"schema[{self.pack.connector}@{version}]", "schema", version)
        if self.board.bindings_of(self.query.name):
            yield item("bindings", "bindings")
        for target in self.pack.targets:
            yield item(f"transpile[{target}]", "transpile", target)
        if zone_item_applies(self.pack, dashpacks_session(self.config).library.versions(self.pack)):
            yield item("zone", "zone")
        for version in self.versions:
            yield item(f"execute[{self.pack.connector}@{version}]", "execute", version)
        settings = dashpacks_session(self.config).settings
        for zone in settings.item_zones(self.pack.timezone):
            yield item(f"timezone[{zone}]", "timezone", zone)
        if reads_clock(self.query.sql):
            for instant in CLOCK_INSTANTS:
                yield item(f"clock[{instant}]", "clock", instant)
        for case in VOLUME_CASES:
            yield item(f"volume[{case}]", "volume", case)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.query.span.line - 1, self.name


class RegressionFile(pytest.File):
    """``<pack>/regressions/<ID>.yml``: one pinned case, ``<ID>``."""

    def collect(self) -> Iterator[pytest.Item]:
        session = dashpacks_session(self.config)
        pack_dir = pack_dir_of(self.path, "regressions")
        assert pack_dir is not None
        try:
            pack = session.library.pack(pack_dir / "pack.yml")
        except ConfigError as exc:
            error = ConfigError(f"cannot run this regression case: its pack.yml does not load: {exc.message}", exc.span)
            yield DashpackItem.from_parent(self, name=self.path.stem, check="regression", error=error, span=exc.span)
            return
        try:
            case = session.library.regression(self.path)
        except ConfigError as exc:
            yield DashpackItem.from_parent(self, name=self.path.stem, check="regression", pack=pack, error=exc, span=exc.span)
            return
        yield DashpackItem.from_parent(self, name=case.id, check="regression", pack=pack, case=case, span=case.span)
