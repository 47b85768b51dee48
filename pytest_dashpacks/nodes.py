"""pytest items: one Item class per context (load, query, KPI, regression, ledger).

Each item carries the objects its check runs on (a connector version, a KPI
contract, a regression case), never a string to look up again; the SQL work
happens in ``runtest``. The collectors that make them are in :mod:`.collectors`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from .checks import CheckContext, check_kind, defect_class_of
from .checks.prerequisites import BLOCKED, blocked
from .errors import CheckFailure, CheckSkipped, ConfigError, DashpacksError, FailureRepr, SourceSpan, failure_lines, relative_posix
from .load.regressions import RegressionCase
from .model import Board, ConnectorVersion, KpiContract, Pack, Query, ValuesQuery
from .session import DashpacksSession

SESSION_KEY = pytest.StashKey[DashpacksSession]()

# Checks that read YAML and SQL text only, never a database: `-m dashpacks_static` for pre-commit and pull requests.
STATIC_CHECKS = frozenset({"load", "syntax", "schema", "bindings", "transpile", "zone"})


def dashpacks_session(config: pytest.Config) -> DashpacksSession:
    return config.stash[SESSION_KEY]


def release_finished(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Free what no later item is likely to need: a board's syntax trees after its last item in a row,
    a pack's databases after its last item, and its small ones before its ``volume[large]`` items (which
    run last in a pack). Memory stays one pack's worth, and the syntax trees one board's worth."""
    pack = getattr(item, "pack", None)
    if pack is None:
        return
    session = dashpacks_session(item.config)
    board = getattr(item, "board", None)
    if board is not None and getattr(getattr(nextitem, "board", None), "path", None) != board.path:
        session.queries.release(board)
    following = getattr(nextitem, "pack", None)
    databases = session.databases
    if following is None or following.manifest != pack.manifest:
        databases.release(lambda key: key[1] == pack.manifest)
    elif is_large(nextitem) and not is_large(item):
        databases.release(lambda key: key[1] == pack.manifest and key[-1] != "large")


def is_large(item: pytest.Item | None) -> bool:
    """Whether ``item`` is a ``volume[large]`` item (they run last in their pack, on a database of their own)."""
    return getattr(item, "check", None) == "volume" and getattr(item, "data_case", None) == "large"


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


_MARKABLE = pytest.StashKey[dict[str, bool]]()


def markable(config: pytest.Config, check: str) -> bool:
    """Whether ``-m`` can select an item of ``check``. When the expression names only this plugin's
    markers (which every item of a check kind carries alike, and nothing adds later), an item it
    cannot select is never made: a static pass over a large library then builds only static items.
    Any other expression, or a pytest without the expression parser, keeps every item for ``-m``."""
    cache = config.stash.setdefault(_MARKABLE, {})
    if check not in cache:
        cache[check] = _expression_selects(str(config.getoption("markexpr", "") or ""), {m.name for m in _markers(check)})
    return cache[check]


def _expression_selects(expression: str, names: set[str]) -> bool:
    import re

    words = set(re.findall(r"[\w.]+", expression)) - {"and", "or", "not"}
    if not expression.strip() or not words or not all(w == "dashpacks" or w.startswith("dashpacks_") for w in words):
        return True
    try:
        from _pytest.mark.expression import Expression

        return bool(Expression.compile(expression).evaluate(lambda name, **kwargs: name in names))
    except (ImportError, AttributeError, TypeError, SyntaxError):  # pytest's own parser moved or changed: let -m decide
        return True


@functools.lru_cache(maxsize=None)
def _markers(check: str) -> tuple[pytest.MarkDecorator, ...]:
    """The item's markers, built once per check: looking a marker up by name costs per item."""
    static = (pytest.mark.dashpacks_static,) if check in STATIC_CHECKS else ()
    return (pytest.mark.dashpacks, getattr(pytest.mark, f"dashpacks_{check}"), *static)


def _pack_name(path: Path) -> str:
    pack = path.parent if path.name == "pack.yml" else pack_dir_of(path, "boards")
    return pack.name if pack else ""


