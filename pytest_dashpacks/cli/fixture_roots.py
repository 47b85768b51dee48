"""Where the console script looks for connectors: the plugin's fixture-root precedence, found without a pytest run."""

from __future__ import annotations

import inspect
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..load.connectors import curated_fixture_root
from ..settings import fixture_root_order
from . import CliError

INI_NAME = "dashpacks_fixtures"


@dataclass(frozen=True)
class FixtureRoots:
    """The fixture roots by precedence, and where the configured one came from."""

    roots: tuple[Path, ...]  # first match wins
    configured: Path | None  # --fixtures, else the ini value
    configured_from: str  # "--fixtures", "<ini file>", or "" when neither is set
    rootdir: Path
    curated: Path

    @property
    def project_root(self) -> Path:
        """The first root that is not the curated fallback: where a scaffold writes by default."""
        return self.configured if self.configured is not None else self.rootdir / "connector_fixtures"

    def describe(self, root: Path) -> str:
        """Why ``root`` is searched, for people."""
        labels = []
        if self.configured is not None and root == self.configured.resolve():
            labels.append(self.configured_from)
        if root == (self.rootdir / "connector_fixtures").resolve():
            labels.append("<rootdir>/connector_fixtures")
        if root == self.curated.resolve():
            labels.append("curated library")
        return ", ".join(labels)


def fixture_roots(option: str | None, invocation_dir: Path | None = None) -> FixtureRoots:
    """``--fixtures`` > ini ``dashpacks_fixtures`` (relative to the ini file) > ``<rootdir>/connector_fixtures``
    > the curated library, with the rootdir and ini file found the way pytest finds them from the current directory."""
    here = (invocation_dir or Path.cwd()).resolve()
    rootdir, inipath, ini = _pytest_setup(here)
    configured: Path | None = None
    configured_from = ""
    if option is not None:
        configured, configured_from = (here / option).resolve(), "--fixtures"
    elif INI_NAME in ini and inipath is not None:
        first = _first_path(ini[INI_NAME])
        if first is not None:
            configured, configured_from = (inipath.parent / first).resolve(), f"{INI_NAME} in {inipath}"
    curated = curated_fixture_root()
    roots = fixture_root_order(None, configured, rootdir, curated)
    return FixtureRoots(tuple(roots), configured, configured_from, rootdir, curated)


def _pytest_setup(here: Path) -> tuple[Path, Path | None, dict[str, Any]]:
    """(rootdir, ini file, ini values) as pytest determines them for a run started in ``here`` without arguments."""
    import pytest
    from _pytest.config.findpaths import determine_setup

    # A private pytest function whose signature moved between releases: pass what this one takes.
    wanted = {"inifile": None, "override_ini": None, "args": [str(here)], "rootdir_cmd_arg": None, "invocation_dir": here}
    accepted = inspect.signature(determine_setup).parameters
    try:
        rootdir, inipath, ini, *_ = determine_setup(**{k: v for k, v in wanted.items() if k in accepted})
    except pytest.UsageError as exc:  # a broken ini file: name it and stop
        raise CliError(f"cannot read the pytest configuration from {here}: {exc}") from None
    values = {key: getattr(value, "value", value) for key, value in (ini or {}).items()}  # pytest 9 wraps values
    return Path(rootdir), Path(inipath) if inipath else None, values


def _first_path(raw: Any) -> str | None:
    """The first entry of a ``paths`` ini value: a TOML list, or whitespace-separated (shell-quoted) text."""
    if isinstance(raw, (list, tuple)):
        return str(raw[0]) if raw else None
    parts = shlex.split(str(raw))
    return parts[0] if parts else None
