"""The ``dashpacks`` console script (also ``python -m pytest_dashpacks``): argument wiring and exit codes.

Exit codes: 0 done, 2 a bad name, an unreadable or invalid file, or a refused write (the message says which).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import CliError
from .fixture_roots import FixtureRoots, fixture_roots

FIXTURES_HELP = ("fixture root holding <connector>/connector.yml; searched before the others. Default: the ini value "
                 "dashpacks_fixtures (relative to the ini file), then <rootdir>/connector_fixtures, then the curated library")
EXAMPLES = """\
examples:
  dashpacks connectors
  dashpacks show stripe@2025-07
  dashpacks diff stripe@2023-10 stripe@2025-07
  dashpacks scaffold connector acme --from-dbt-catalog target/catalog.json --manifest target/manifest.json
  dashpacks scaffold connector acme --from-db warehouse.duckdb --schema raw --seed 20
  dashpacks scaffold pack my_dbt_project --out packs
  dashpacks static packs/stripe_revenue/boards/revenue.yml connector_fixtures/stripe/connector.yml
"""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each default that means something (not None or False), and keeps the examples' lines."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS or not action.option_strings:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--fixtures", metavar="PATH", default=argparse.SUPPRESS, help=FIXTURES_HELP)
    parser = argparse.ArgumentParser(
        prog="dashpacks", description="Inspect connector fixtures, scaffold connectors and packs, and run the static checks "
                                     "of changed packs (pytest-dashpacks).",
        epilog=EXAMPLES, formatter_class=_HelpFormatter,
    )
    parser.add_argument("--fixtures", metavar="PATH", default=None, help=FIXTURES_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    listing = commands.add_parser("connectors", parents=[common], formatter_class=_HelpFormatter,
                                  help="list every connector with its versions, directory and table count",
                                  description="Every connector under the fixture roots, first match wins: its versions, "
                                              "directory, and the number of tables in its newest version.")
    listing.add_argument("--json", action="store_true", help="print a JSON document instead of text")

    show = commands.add_parser("show", parents=[common], formatter_class=_HelpFormatter,
                               help="the effective tables, columns and models of one connector version",
                               description="The tables, columns, types, accepted values, roles and references of a "
                                           "version after extends + changes, and the columns each model returns in it.")
    show.add_argument("label", metavar="CONNECTOR@VERSION", help="e.g. stripe@2025-07; without @VERSION, the newest version")
    show.add_argument("--json", action="store_true", help="print a JSON document instead of text")

    diff = commands.add_parser("diff", parents=[common], formatter_class=_HelpFormatter,
                               help="what changed between two connector versions, with the notes of the declared changes",
                               description="Tables and columns added, dropped, renamed (when declared) and retyped "
                                           "between two versions, then the declared changes between them with their notes.")
    diff.add_argument("old", metavar="CONNECTOR@OLD", help="e.g. stripe@2023-10")
    diff.add_argument("new", metavar="CONNECTOR@NEW", help="e.g. stripe@2025-07, or just 2025-07 for the same connector")
    diff.add_argument("--json", action="store_true", help="print a JSON document instead of text")

    scaffold = commands.add_parser("scaffold", formatter_class=_HelpFormatter, help="write fixture files or packs",
                                   description="Write fixture files from what a warehouse or dbt project already describes, "
                                               "or pack.yml files for an existing dbt charts project.")
    kinds = scaffold.add_subparsers(dest="kind", metavar="KIND", required=True)
    from .scaffold import add_connector_arguments

    add_connector_arguments(kinds.add_parser(
        "connector", parents=[common], formatter_class=_HelpFormatter,
        help="write DIR/NAME/connector.yml from a dbt catalog or a database, or add a version to it",
        description="Write DIR/NAME/connector.yml from a dbt catalog.json or a database's information_schema. When the "
                    "file exists, append a new version that extends the newest one, with the changes found by diffing "
                    "(renames are inferred and say so in their note). Existing text, seeds and models are never rewritten.",
    ))
    from .scaffold_pack import add_pack_arguments

    add_pack_arguments(kinds.add_parser(
        "pack", parents=[common], formatter_class=_HelpFormatter,
        help="write pack.yml files for a dbt charts project (dbt_charts.yml + charts/)",
        description="Write OUT/<connector>/pack.yml for the boards of a dbt charts project, with copies of the board "
                    "files in OUT/<connector>/boards/ (the plugin reads boards only there). The connector is the one "
                    "whose tables the boards' SQL reads most (one pack per connector), the dialect comes from the "
                    "source type in dbt_charts.yml; both guesses are printed and kept as comments in pack.yml. An "
                    "existing pack.yml is never overwritten.",
    ))
    from .static import add_static_arguments

    add_static_arguments(commands.add_parser(
        "static", parents=[common], formatter_class=_HelpFormatter,
        help="run the static items of the packs the given files touch (the pre-commit hook)",
        description="Map changed files to the packs they touch (a file inside <pack>/, or a connector.yml, seed or "
                    "model of the pack's connector) and run `pytest --dashpacks -m dashpacks_static` on those packs. "
                    "Exits with pytest's code, or 0 when no pack is touched.",
    ))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (argparse's own for --help and usage errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and usage errors: return their code so callers get an int
        return int(exc.code or 0)
    try:
        return _run(args)
    except BrokenPipeError:  # `dashpacks show ... | head`: the reader left; stop quietly (Python's documented recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except CliError as exc:
        print(f"dashpacks: error: {exc}", file=sys.stderr)
    except ConfigError as exc:
        where = exc.span.location() if exc.span else ""
        print(f"dashpacks: error: {where}: {exc.message}" if where else f"dashpacks: error: {exc.message}", file=sys.stderr)
        for detail in exc.details:
            print(f"  {detail}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from . import inspect, listing

    roots = fixture_roots(getattr(args, "fixtures", None))
    here = Path.cwd()
    if args.command == "connectors":
        document = inspect.connectors_document(roots)
        _emit(document, args.json, lambda: listing.connectors_text(document, here))
        return 2 if any("error" in entry for entry in document["connectors"]) else 0
    if args.command == "show":
        connector, version = inspect.connector_and_version(args.label, roots)
        document = inspect.show_document(connector, version)
        _emit(document, args.json, lambda: listing.show_text(document, here))
        return 0
    if args.command == "diff":
        old_connector, old = inspect.connector_and_version(args.old, roots)
        new_connector, new = inspect.connector_and_version(args.new, roots, default_connector=old_connector.name)
        document = inspect.diff_document(old_connector, old, new_connector, new)
        _emit(document, args.json, lambda: listing.diff_text(document, here))
        return 0
    if args.command == "static":
        from .static import static_command

        return static_command(args, roots)
    return _scaffold(args, roots)


def _scaffold(args: argparse.Namespace, roots: FixtureRoots) -> int:
    if args.kind == "pack":
        from .scaffold_pack import scaffold_pack_command

        lines = scaffold_pack_command(args, roots)
    else:
        from .scaffold import scaffold_connector_command

        lines = scaffold_connector_command(args, roots)
    for line in lines:
        print(line)
    return 0


def _emit(document: dict[str, Any], as_json: bool, text: Any) -> None:
    print(json.dumps(document, indent=2, default=str) if as_json else text())


if __name__ == "__main__":
    sys.exit(main())
