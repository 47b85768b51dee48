"""The packs, boards, connectors, regressions and ledger of a run, each loaded once (YAML only, so
collection can use it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, SourceSpan, relative_posix
from ..memo import Memo
from ..model import Board, Connector, ConnectorVersion, Pack, Query
from ..settings import Settings
from .boards import load_board
from .connectors import available_connectors, find_connector, load_connector
from .packs import load_pack
from .yaml import did_you_mean


class PackLibrary:
    """Loads files on first use; a file that fails to load fails the same way every time it is asked for."""

    def __init__(self, settings: Settings, memo: Memo) -> None:
        self.settings = settings
        self._memo = memo

    def ledger(self) -> list[dict[str, Any]]:
        """The defect ledger's entries ([] when there is none)."""
        from .regressions import load_ledger

        path = self.settings.ledger_path

        def build() -> list[dict[str, Any]]:
            if path is None:
                return []
            if not path.is_file():
                raise ConfigError(f"defect ledger {path} does not exist (--dashpacks-ledger / dashpacks_ledger)", SourceSpan(path))
            return load_ledger(path)

        return self._memo.get(("ledger",), build)

    def regression(self, path: Path) -> Any:
        from .regressions import load_regression

        return self._memo.get(("regression", path), lambda: load_regression(path))

    def pack(self, manifest: Path) -> Pack:
        return self._memo.get(("pack", manifest), lambda: load_pack(manifest))

    def pack_error(self, manifest: Path) -> ConfigError | None:
        """What fails the pack's ``pack.yml::load`` item before it reaches its boards: the manifest,
        its connector (connector.yml, seeds, models) or its schema versions. None when they load."""
        try:
            pack = self.pack(manifest)
            self.versions(pack)
            self.models_sql(pack)
        except ConfigError as exc:
            return exc
        return None

    def models_sql(self, pack: Pack) -> dict[str, str]:
        """The connector's models rendered to DuckDB SQL, once its files are checked (types, models and
        seeds; a ConfigError at the file otherwise)."""
        from .connectors import check_connector_files

        connector = self.connector(pack)
        return self._memo.get(("models-sql", connector.path), lambda: check_connector_files(connector))

    def connector_path(self, pack: Pack) -> Path:
        roots = self.settings.fixture_roots(pack.fixtures)
        path = find_connector(pack.connector, roots)
        if path is None:
            known = available_connectors(roots)
            raise ConfigError(
                f"unknown connector {pack.connector!r}{did_you_mean(pack.connector, known)}; "
                f"searched {', '.join(str(r) for r in roots)}",
                _key_span(pack.manifest, "connector"),
            )
        return path

    def connector(self, pack: Pack) -> Connector:
        def build() -> Connector:
            path = self.connector_path(pack)
            return self._memo.get(("connector", path), lambda: load_connector(path))

        return self._memo.get(("connector-of", pack.manifest), build)

    def versions(self, pack: Pack) -> tuple[ConnectorVersion, ...]:
        """The connector versions a pack is checked against, oldest first."""

        def build() -> tuple[ConnectorVersion, ...]:
            connector = self.connector(pack)
            if pack.schema_versions is None:
                return connector.versions
            chosen = []
            known = [v.name for v in connector.versions]
            for index, name in enumerate(pack.schema_versions):
                version = connector.version(name)
                if version is None:
                    raise ConfigError(
                        f"connector {connector.name} has no schema version {name!r}{did_you_mean(name, known)}",
                        _key_span(pack.manifest, "schema_versions", index),
                    )
                chosen.append(version)
            return tuple(sorted(chosen, key=lambda v: known.index(v.name)))

        return self._memo.get(("versions", pack.manifest), build)

    def board(self, path: Path, pack_dir: Path) -> Board:
        return self._memo.get(("board", path), lambda: load_board(path, pack_dir))

    def board_paths(self, pack: Pack) -> dict[str, Path]:
        """The pack's boards by name (file stem), listed once: checks ask here instead of the file system."""
        from .packs import board_files

        return self._memo.get(("board-paths", pack.directory), lambda: {p.stem: p for p in board_files(pack.directory)})

    def query_nodeid(self, query: Query) -> str:
        """``<board file>::<query>`` as pytest names the query's node (relative to the rootdir)."""
        return f"{relative_posix(query.span.path, self.settings.rootdir)}::{query.name}"


def _key_span(path: Path, *key: Any) -> SourceSpan:
    from .yaml import load_yaml

    return load_yaml(path).span(key)
