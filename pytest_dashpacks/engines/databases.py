"""The DuckDB databases of a run: one fixture database per connector version, and a shared
read-only sandbox per data case, opened on first use and closed at the end."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..errors import DashpacksError
from ..load.library import PackLibrary
from ..memo import Memo
from ..model import Board, ConnectorVersion, Pack, Query
from ..settings import Settings
from ..sql.pipeline import QueryPipeline


class Databases:
    def __init__(self, settings: Settings, library: PackLibrary, queries: QueryPipeline, memo: Memo) -> None:
        self.settings = settings
        self.library = library
        self.queries = queries
        self._memo = memo
        self._engine: Any = None  # the second engine (engines.postgres.PostgresEngine), made on first use

    def fixture_db(self, pack: Pack, version: ConnectorVersion) -> Any:
        """The version's fixture database: tables, seed and models (views)."""
        from .duckdb import FixtureDatabase

        connector = self.library.connector(pack)

        def build() -> Any:
            rendered = self.library.models_sql(pack)
            order = list(self.queries.catalog(pack, version).models)  # dependency order
            return FixtureDatabase(
                connector, version, [(n, rendered[n]) for n in order], timeout=self.settings.query_timeout,
                max_rows=self.settings.max_rows,
            )

        return self._memo.get(("fixture-db", connector.path, version.name), build)

    def dataset(self, pack: Pack, version: ConnectorVersion, case: str) -> Any:
        """Rows for a named data case on ``version`` (seed-based or generated)."""
        from ..data.cases import CaseInputs, dataset

        def build() -> Any:
            inputs = CaseInputs(
                version, pack.timezone, self.fixture_db(pack, version).seed, lambda: self.dataset(pack, version, "generated")
            )
            return dataset(case, inputs)

        return self._memo.get(("dataset", pack.manifest, version.name, case), build)

    def clock_dataset(self, pack: Pack, version: ConnectorVersion, instant: dt.datetime) -> Any:
        """The seed plus rows on both sides of a frozen instant (aware UTC)."""
        from ..data.cases import clock_case

        def build() -> Any:
            return clock_case(version, pack.timezone, self.fixture_db(pack, version).seed, instant)

        return self._memo.get(("clock-dataset", pack.manifest, version.name, instant.isoformat()), build)

    def sandbox(self, pack: Pack, version: ConnectorVersion, case: str) -> Any:
        """A shared read-only database for a data case (board queries only read, so items stay isolated),
        with a session in UTC, every ``dashpacks_timezones`` zone and the pack's zone."""
        assert case != "large", "large_sandbox() fills the tables a query reads"
        zones = tuple(dict.fromkeys(self.settings.timezones + (pack.timezone,)))
        return self._memo.get(
            ("sandbox", pack.manifest, version.name, case), lambda: self.fixture_db(pack, version).open(self.dataset(pack, version, case), zones=zones)
        )

    def large_sandbox(self, pack: Pack, version: ConnectorVersion, tables: list[str]) -> Any:
        """The ``large`` database with ``tables`` (keys) filled: ``large_rows`` rows each, made in SQL one
        table at a time as queries first read them, in a file under DuckDB's memory limit rather than in
        memory. Only the latest one is kept."""
        import tempfile

        from ..data.large import large_rows_sql

        zones = tuple(dict.fromkeys(self.settings.timezones + (pack.timezone,)))
        key = ("sandbox", pack.manifest, version.name, "large")
        self.release(lambda k: k[0] == "sandbox" and k[3] == "large" and k != key)

        def build() -> Any:
            return self.fixture_db(pack, version).open({}, zones=zones, on_disk=tempfile.mkdtemp(prefix="dashpacks-large-"))

        sandbox = self._memo.get(key, build)
        sandbox.fill({t.key: large_rows_sql(t, self.settings.large_rows) for t in version.tables.values() if t.key in tables})
        return sandbox

    def release(self, matches: Any) -> None:
        """Close and forget the sandboxes and datasets whose memo key ``matches`` (rebuilt if asked again)."""
        for old in self._memo.pop(lambda k: k[0] in ("sandbox", "dataset", "clock-dataset") and matches(k)):
            if hasattr(old, "close"):  # a dataset, or a cached error, has nothing to close
                old.close()

    def seed_failure(self, pack: Pack, board: Board, query: Query, version: ConnectorVersion) -> DashpacksError | None:
        """Why the query does not run on ``version``'s seed in DuckDB (what ``execute`` reports), or None."""

        def build() -> None:
            self.sandbox(pack, version, "seed").run(self.queries.runnable(pack, board, query, version))

        outcome = self._memo.outcome(("seed-failure", board.path, query.name, version.name), build)
        return outcome if isinstance(outcome, DashpacksError) else None

    def postgres(self, pack: Pack, version: ConnectorVersion) -> Any:
        """The version's PostgreSQL database (the seed's rows, the models as views), loaded once per worker;
        EngineUnavailable when the server cannot be started or reached."""
        if self._engine is None:
            import os

            from .postgres import PostgresEngine

            assert self.settings.engine is not None
            suffix = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
            self._engine = PostgresEngine(self.settings.engine, self.settings.query_timeout, self.settings.max_rows, suffix)
        connector = self.library.connector(pack)

        def build() -> Any:
            rendered = self.library.models_sql(pack)
            models = [(name, rendered[name]) for name in self.queries.catalog(pack, version).models]
            return self._engine.database(connector, version, self.fixture_db(pack, version).seed, models)

        return self._memo.get(("postgres-db", connector.path, version.name), build)

    def close(self) -> None:
        """Close every open sandbox and stop the second engine."""
        self.release(lambda k: True)
        if self._engine is not None:
            self._engine.close()
            self._engine = None
