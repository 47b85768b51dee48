"""``dashpacks static [FILE...]``: the pre-commit entry point. Maps the changed files to the packs they touch and
runs those packs' static items (``-m dashpacks_static``: load, syntax, schema, bindings, transpile, zone) in one
pytest process, whose exit code it returns.

A file inside ``<pack>/`` (a directory holding pack.yml) touches that pack. A changed ``connector.yml``, seed
or model of a connector touches every pack under the current directory whose connector resolves to it (the
pack's ``fixtures:`` first, then the fixture roots).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError
from ..load.connectors import find_connector
from ..load.yaml import load_yaml
from .fixture_roots import FixtureRoots

STATIC_MARKER = "dashpacks_static"
NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
# Directories no pack lives in: walking them would only cost time in a large repository.
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages", "dist", "build"})


def add_static_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", metavar="FILE", nargs="*", type=Path,
                        help="changed files, relative to the current directory (pre-commit passes them); files that "
                             "touch no pack are ignored")


def static_command(args: argparse.Namespace, roots: FixtureRoots) -> int:
    """Print which packs the files touch, run their static items; returns pytest's exit code (0 when none)."""
    here = Path.cwd().resolve()
    touched: dict[Path, list[str]] = {}
    changed_connectors: dict[Path, list[str]] = {}
    for file in args.files:
        path = Path(os.path.abspath(here / file))
        pack = _pack_of(path, here)
        if pack is not None:
            touched.setdefault(pack, []).append(_shown(path, pack))
        connector = _connector_dir_of(path)
        if connector is not None:
            changed_connectors.setdefault(connector.resolve(), []).append(_shown(path, here))
    if changed_connectors:
        for pack, reason in _packs_using(changed_connectors, here, roots):
            touched.setdefault(pack, []).append(reason)
    if not touched:
        print("no packs touched")
        return 0
    packs = sorted(touched)
    print(f"dashpacks static: {len(packs)} pack{'s' if len(packs) != 1 else ''} touched")
    for pack in packs:
        print(f"  {_shown(pack, here)}: {', '.join(dict.fromkeys(touched[pack]))}")
    command = [sys.executable, "-m", "pytest", "--dashpacks", "-m", STATIC_MARKER, "-p", "no:randomly", "-q"]
    if getattr(args, "fixtures", None) is not None and roots.configured is not None:
        command += ["--dashpacks-fixtures", str(roots.configured)]
    command += [_shown(pack, here) for pack in packs]
    print("running: pytest " + " ".join(command[3:]), flush=True)  # flush: pytest writes to the same stdout next
    code = subprocess.run(command, cwd=here, check=False).returncode
    if code == NO_TESTS_COLLECTED:
        print("dashpacks static: the touched packs have no static items")
        return 0
    return code


def _pack_of(path: Path, here: Path) -> Path | None:
    """The nearest directory above ``path``, inside the current directory, that holds pack.yml."""
    for parent in path.parents:
        if parent != here and here not in parent.parents:
            return None
        if (parent / "pack.yml").is_file():
            return parent
    return None


def _connector_dir_of(path: Path) -> Path | None:
    """``<root>/<connector>`` for its connector.yml, ``seed/*.csv`` and ``models/*.sql``."""
    if path.name == "connector.yml":
        return path.parent
    if path.parent.name in ("seed", "models") and (path.parent.parent / "connector.yml").is_file():
        return path.parent.parent
    return None


def _packs_using(changed: dict[Path, list[str]], here: Path, roots: FixtureRoots) -> Iterator[tuple[Path, str]]:
    """Every pack under ``here`` whose connector resolves to a changed connector directory, with why."""
    for manifest in _manifests(here):
        try:
            data = load_yaml(manifest, allow_empty=True).data  # read, not validated: a broken pack.yml still names its connector
        except ConfigError:
            continue
        if not isinstance(data, dict) or not isinstance(data.get("connector"), str):
            continue
        own = [(manifest.parent / data["fixtures"]).resolve()] if isinstance(data.get("fixtures"), str) else []
        found = find_connector(data["connector"], own + list(roots.roots))
        if found is not None and found.parent.resolve() in changed:
            files = changed[found.parent.resolve()]
            yield manifest.parent, f"uses connector {data['connector']} ({', '.join(files)} changed)"


def _manifests(here: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(here):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        if "pack.yml" in files:
            yield Path(folder) / "pack.yml"


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix() or "."
    except ValueError:
        return str(path)
