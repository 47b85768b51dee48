"""``dashpacks scaffold connector``: write DIR/NAME/connector.yml from a dbt catalog or a database, or append a
version to it; optionally seed rows from the plugin's data generator. What it writes must load, or nothing stays."""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..load.connectors import check_connector_files, load_connector
from ..load.yaml import load_yaml
from ..model import Connector
from . import CliError
from .connector_text import appended_text, new_connector_text, version_block
from .fixture_roots import FixtureRoots
from .version_changes import changes_since
from .warehouse_catalogs import Scan, read_database, read_dbt_catalog


def add_connector_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="connector name: the directory DIR/NAME and `connector:` in the file")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-dbt-catalog", metavar="PATH", type=Path,
                        help="a dbt catalog.json (`dbt docs generate` writes target/catalog.json)")
    source.add_argument("--from-db", metavar="DSN",
                        help="a DuckDB file (.duckdb, .db or duckdb:///path) or a postgresql:// DSN, read through "
                             "information_schema.columns")
    parser.add_argument("--manifest", metavar="PATH", type=Path,
                        help="with --from-dbt-catalog: the dbt manifest.json; only sources become tables (without it, "
                             "every catalog entry does)")
    parser.add_argument("--schema", metavar="S", action="append", default=[],
                        help="schema to read; repeat for more. Default with --from-db: main (DuckDB) or public "
                             "(PostgreSQL); with --from-dbt-catalog: every schema in the catalog")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="fixture root to write NAME/connector.yml into. Default: --fixtures, else the ini "
                             "dashpacks_fixtures, else <rootdir>/connector_fixtures")
    parser.add_argument("--version", metavar="NAME", dest="version_name",
                        help="name of the version to write. Default: this month, YYYY-MM")
    parser.add_argument("--seed", metavar="N", type=_count, default=0,
                        help="write N generated rows per table to NAME/seed/<table>.csv; 0 writes none (existing seed "
                             "files are always kept)")


def _count(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= number <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100000, got {number}")
    return number


@dataclass(frozen=True)
class Written:
    """What a scaffold wrote, to undo it when the result does not load."""

    connector_path: Path
    original: str | None  # the file's text before, None when it is new
    seeds: tuple[Path, ...] = ()


def scaffold_connector_command(args: argparse.Namespace, roots: FixtureRoots) -> list[str]:
    """Run ``scaffold connector``; returns the lines to print."""
    if args.manifest is not None and args.from_dbt_catalog is None:
        raise CliError("--manifest goes with --from-dbt-catalog")
    schemas = tuple(args.schema)
    scan = read_dbt_catalog(args.from_dbt_catalog, args.manifest, schemas) if args.from_dbt_catalog else read_database(args.from_db, schemas)
    today = datetime.date.today()
    version = args.version_name or today.strftime("%Y-%m")
    root = (args.out if args.out is not None else roots.project_root).resolve()
    path = root / args.name / "connector.yml"
    report = [f"read {len(scan.tables)} tables from {scan.label}"]
    if scan.skipped:
        shown = ", ".join(scan.skipped[:5]) + (f" and {len(scan.skipped) - 5} more" if len(scan.skipped) > 5 else "")
        report.append(f"  left out {len(scan.skipped)} catalog entries that are not sources: {shown}")
    report += [f"  {table.name}.{c.name}: {c.description}" for table in scan.tables for c in table.columns if "unknown here" in c.description]
    if path.is_file():
        text, summary = _appended(path, args.name, scan, version, today.isoformat())
        original: str | None = path.read_bytes().decode("utf-8")
    else:
        schema = Counter(t.schema for t in scan.tables).most_common(1)[0][0]
        text = new_connector_text(args.name, schema, version, scan.tables, scan.label, today.isoformat())
        summary = [f"wrote {path}: version {version} with {len(scan.tables)} tables in schema {schema}"]
        original = None
    if not summary:
        return report + [f"{path}: the newest version already matches {scan.label}; nothing written"]
    _check_before_writing(args.name, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    written = Written(path, original)
    try:
        connector = load_connector(path)
        seeded, seed_lines = _write_seeds(connector, args.seed) if args.seed else ((), [])
        written = Written(path, original, seeded)
        check_connector_files(load_connector(path))
    except ConfigError as exc:
        _undo(written)
        where = exc.span.location() if exc.span else str(path)
        raise CliError(f"the scaffolded connector does not load with its seeds and models, so the files were put back as they "
                       f"were: {where} (a line of the text that was written): {exc.message}") from None
    return report + summary + seed_lines + _model_warnings(load_connector(path), version)


def _appended(path: Path, name: str, scan: Scan, version: str, today: str) -> tuple[str, list[str]]:
    """The existing file with the new version appended, and what it says; no summary when nothing changed."""
    existing = load_connector(path)
    if existing.name != name:
        raise CliError(f"{path} is connector {existing.name!r}, not {name!r}")
    if existing.version(version) is not None:
        raise CliError(f"{path} already has version {version!r}: choose another name with --version")
    newest = existing.versions[-1]
    changes = changes_since(newest, scan, existing.schema)
    if not changes:
        return "", []
    original = path.read_bytes().decode("utf-8")
    doc = load_yaml(path)
    text = appended_text(
        path, original, doc, version,
        lambda indent, step: version_block(version, newest.name, changes, scan.label, today, indent, step),
    )
    summary = [f"appended version {version} to {path}: extends {newest.name} with {len(changes)} changes"]
    for change in changes:
        params = ", ".join(f"{k}: {v}" for k, v in change.params.items() if k not in ("columns", "description"))
        summary.append(f"  {change.kind} {{{params}}}" + ("  (inferred: check it)" if change.inferred else ""))
    return text, summary


def _check_before_writing(name: str, text: str) -> None:
    """Load the text from a scratch copy first: a scaffold bug must not leave a broken file behind."""
    scratch = Path(tempfile.mkdtemp(prefix="dashpacks-scaffold-"))
    try:
        candidate = scratch / name / "connector.yml"
        candidate.parent.mkdir()
        candidate.write_text(text, "utf-8")
        check_connector_files(load_connector(candidate))
    except ConfigError as exc:
        raise CliError(f"the scaffolded connector.yml would not load (nothing written): line {exc.span.line if exc.span else '?'}: "
                       f"{exc.message}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_seeds(connector: Connector, rows_per_table: int) -> tuple[tuple[Path, ...], list[str]]:
    """Generated rows for each table of the first version (seeds hold first-version rows) that has no seed yet."""
    from ..data.rows import generate_rows
    from ..engines.duckdb import value_text
    from ..load.seeds import first_uncastable

    first = connector.versions[0]
    generated = generate_rows(first, "UTC", rows_per_table=rows_per_table)
    seed_dir = connector.root / "seed"
    written: list[Path] = []
    lines: list[str] = []
    for table in first.tables.values():
        target = seed_dir / f"{table.key}.csv"
        if target.exists():
            lines.append(f"kept {target} (it exists)")
            continue
        rows = generated.get(table.key, [])
        # A value the generator has no text form for (lists, blobs) would not cast back: leave the column empty.
        blank = {column.name for column, _ in first_uncastable(table, rows)} if rows else set()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.name for c in table.columns])
        for row in rows:
            writer.writerow(["" if row.get(c.name) is None or c.name in blank else value_text(row[c.name]) for c in table.columns])
        seed_dir.mkdir(exist_ok=True)
        with target.open("x", encoding="utf-8", newline="") as handle:  # "x": never overwrite a seed
            handle.write(buffer.getvalue())
        written.append(target)
        empty = f"; left empty: {', '.join(sorted(blank))}" if blank else ""
        lines.append(f"wrote {target} ({len(rows)} rows{empty})")
    later = [t.key for v in connector.versions[1:] for t in v.tables.values() if t.key not in {x.key for x in first.tables.values()}]
    if later:
        lines.append(f"not seeded (seeds hold version {first.name} rows; later versions derive theirs): {', '.join(dict.fromkeys(later))}")
    return tuple(written), lines


def _undo(written: Written) -> None:
    for seed in written.seeds:
        seed.unlink(missing_ok=True)
    if written.original is None:
        written.connector_path.unlink(missing_ok=True)
    else:
        written.connector_path.write_bytes(written.original.encode("utf-8"))


def _model_warnings(connector: Connector, version: str) -> list[str]:
    """Models that no longer build in the new version: the scaffold keeps them, but says so."""
    from .inspect import model_documents

    chosen = connector.version(version)
    if chosen is None or not connector.models:
        return []
    return [f"warning: model {m['name']} does not build in {version}: {m['problem']}" for m in model_documents(connector, chosen) if m["problem"]]
