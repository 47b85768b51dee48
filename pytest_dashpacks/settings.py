"""Command-line options and their ini twins, resolved once into frozen settings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Each is compared with a UTC session, so UTC itself would compare UTC with UTC.
DEFAULT_TIMEZONES = ("America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe")

# (flag suffix, ini name, help, default, kind)
_OPTIONS: tuple[tuple[str, str, str, Any, str], ...] = (
    ("fixtures", "dashpacks_fixtures", "fixture root holding <connector>/connector.yml; an ini value is relative to the ini file", None, "path"),
    ("timezones", "dashpacks_timezones", "session time zones for timezone[...] items (IANA names, space- or comma-separated)",
     " ".join(DEFAULT_TIMEZONES), "list"),
    ("large-rows", "dashpacks_large_rows", "rows per table for volume[large]", "200000", "int"),
    ("query-timeout", "dashpacks_query_timeout", "seconds a fixture query may run", "10", "float"),
    ("max-rows", "dashpacks_max_rows", "rows a fixture query may return; more fails the item", "2000000", "int"),
    ("ledger", "dashpacks_ledger", "defect ledger file (defects.yml)", None, "path"),
    ("report", "dashpacks_report", "write the stability report as JSON to this path", None, "path"),
    ("history", "dashpacks_history", "append one JSON line per run here and show trends", None, "path"),
    ("html", "dashpacks_html", "write the stability report as one HTML page", None, "path"),
    ("pin-dir", "dashpacks_pin_dir", "write a regression file for every failing data check here", None, "path"),
    ("property-examples", "dashpacks_property_examples", "Hypothesis examples per property[...] item", "25", "int"),
    ("engine", "dashpacks_engine", "second engine for differential[...] items: postgres (a throwaway local server) "
     "or a postgresql:// DSN", None, "str"),
)


# What --help shows for an option's value, by option or by kind, and the unit after its default.
_METAVARS = {"engine": "ENGINE", "path": "PATH", "int": "N", "float": "SECONDS", "list": "ZONES", "str": "TEXT"}
_UNITS = {"large-rows": " rows", "query-timeout": " s", "max-rows": " rows", "property-examples": " examples"}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("dashpacks", "dashboard pack checks (pytest-dashpacks)")
    group.addoption("--dashpacks", action="store_true", default=None, help="collect pack.yml files and their boards as test items")
    parser.addini("dashpacks", "collect dashboard packs without --dashpacks", type="bool", default=False)
    group.addoption(
        "--dashpacks-regressions", action="store_true", default=False,
        help="run only pinned regression cases (regression YAML and dashpacks_pin-marked tests)",
    )
    group.addoption(
        "--dashpacks-changed", action="store_true", default=False,
        help="run only items whose inputs (SQL, pack and board YAML, connector fixtures, plugin, options) changed since "
             "they last passed, and every item that did not pass; the memo is in pytest's cache",
    )
    group.addoption(
        "--dashpacks-since", metavar="REF", default=None,
        help="run only the packs whose files, or whose connector fixtures, differ from git REF (e.g. origin/main)",
    )
    for suffix, ini, help_text, default, kind in _OPTIONS:
        dest = "dashpacks_" + suffix.replace("-", "_")
        shown = f"; default: {default}{_UNITS.get(suffix, '')}" if default is not None else ""
        group.addoption(
            f"--dashpacks-{suffix}", dest=dest, default=None, metavar=_METAVARS.get(suffix, _METAVARS[kind]),
            help=f"{help_text} (ini: {ini}{shown})",
        )
        parser.addini(ini, help_text, type="paths" if kind == "path" else "string", default=[] if kind == "path" else default)


@dataclass(frozen=True)
class Settings:
    enabled: bool
    regressions_only: bool
    fixtures: Path | None
    rootdir: Path
    timezones: tuple[str, ...]
    large_rows: int
    query_timeout: float
    ledger: Path | None
    report: Path | None
    history: Path | None
    html: Path | None
    pin_dir: Path | None
    property_examples: int = 25
    max_rows: int = 2_000_000
    engine: str | None = None  # "postgres" (throwaway server) or a postgresql:// DSN
    changed: bool = False  # --dashpacks-changed
    since: str | None = None  # --dashpacks-since REF

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        def value(suffix: str, kind: str) -> Any:
            dest = "dashpacks_" + suffix.replace("-", "_")
            cli = config.getoption(dest)
            if cli is not None:
                return Path(cli).resolve() if kind == "path" else cli
            ini = config.getini(dest)
            if kind == "path":
                return Path(ini[0]).resolve() if ini else None  # "paths" ini values are relative to the ini file
            return ini

        def number(suffix: str, convert: type) -> Any:
            raw = value(suffix, "str")
            try:
                result = convert(raw)
            except ValueError:
                raise pytest.UsageError(f"--dashpacks-{suffix} / dashpacks_{suffix.replace('-', '_')}: not a number: {raw!r}") from None
            if not math.isfinite(result) or result <= 0:  # nan and inf would turn the timeout off
                raise pytest.UsageError(f"--dashpacks-{suffix}: must be a finite positive number, got {raw!r}")
            return result

        enabled = bool(config.getoption("dashpacks") or config.getini("dashpacks"))
        regressions_only = bool(config.getoption("dashpacks_regressions"))
        if regressions_only and config.getoption("dashpacks_pin_dir"):
            raise pytest.UsageError(
                "--dashpacks-regressions runs only pinned cases, which never write pins: drop --dashpacks-pin-dir"
            )
        timezones = tuple(str(value("timezones", "str")).replace(",", " ").split())
        _check_zones(timezones)
        return cls(
            enabled=enabled or regressions_only,
            regressions_only=regressions_only,
            fixtures=value("fixtures", "path"),
            rootdir=Path(config.rootpath),
            timezones=timezones,
            large_rows=number("large-rows", int),
            query_timeout=number("query-timeout", float),
            ledger=value("ledger", "path"),
            report=value("report", "path"),
            history=value("history", "path"),
            html=value("html", "path"),
            pin_dir=value("pin-dir", "path"),
            property_examples=number("property-examples", int),
            max_rows=number("max-rows", int),
            engine=_engine(value("engine", "str")),
            changed=bool(config.getoption("dashpacks_changed")),
            since=config.getoption("dashpacks_since"),
        )

    def item_zones(self, pack_zone: str) -> tuple[str, ...]:
        """The zones of a pack's ``timezone[...]`` items: the configured ones, then the pack's own
        zone unless it is UTC (every item compares with a UTC session)."""
        extra = (pack_zone,) if pack_zone != "UTC" else ()
        return tuple(dict.fromkeys(self.timezones + extra))

    @property
    def ledger_path(self) -> Path | None:
        """The ledger file: the option or ini, else ``<rootdir>/defects.yml`` when it exists."""
        if self.ledger is not None:
            return self.ledger
        default = self.rootdir / "defects.yml"
        return default if default.is_file() else None

    def fixture_roots(self, pack_fixtures: Path | None) -> list[Path]:
        """Fixture roots by precedence: pack.yml > option > ini > <rootdir>/connector_fixtures > curated."""
        from .load.connectors import curated_fixture_root

        return fixture_root_order(pack_fixtures, self.fixtures, self.rootdir, curated_fixture_root())


SETTINGS_KEY = pytest.StashKey[Settings]()


def fixture_root_order(pack_fixtures: Path | None, configured: Path | None, rootdir: Path, curated: Path) -> list[Path]:
    """Where a pack's connector is looked for, first match wins: the pack's own ``fixtures:``, the
    option (which overrides the ini), ``<rootdir>/connector_fixtures``, then the curated library."""
    out: list[Path] = []
    for root in (pack_fixtures, configured, rootdir / "connector_fixtures", curated):
        if root is not None and root.resolve() not in out:
            out.append(root.resolve())
    return out


def _engine(raw: Any) -> str | None:
    """``--dashpacks-engine``: unset or ``duckdb`` (DuckDB only), ``postgres``, or a ``postgresql://`` DSN."""
    text = str(raw or "").strip()
    if text in ("", "duckdb"):
        return None
    if text in ("postgres", "postgresql") or text.startswith(("postgresql://", "postgres://")):
        return "postgres" if text in ("postgres", "postgresql") else text
    raise pytest.UsageError(f"--dashpacks-engine / dashpacks_engine: {text!r} is not duckdb, postgres or a postgresql:// DSN")


def _check_zones(zones: tuple[str, ...]) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for zone in zones:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise pytest.UsageError(f"dashpacks_timezones: unknown IANA time zone {zone!r}") from None
