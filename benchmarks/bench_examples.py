"""The pre-merge loop on the example packs (issue #9): full runs serial and with -n 2, then
--dashpacks-changed after one board edit, with wall time and peak RSS of each, in one run.

Works on a copy of ``examples/`` in a temporary directory (its own pytest.ini and cache), so the
repository is never touched. Each command is a whole subprocess; peak RSS is ``os.wait4``'s
``ru_maxrss``: the largest of the process and the workers it waited for. Full runs alternate serial
and ``-n 2``, median of ``--repeat``. For the changed run the memo is primed once with a full run,
then each repetition adds a different comment line inside one query of one board, so each run
sees a new edit.

Usage: python benchmarks/bench_examples.py [--repeat 3]
Targets (issue #9): peak RSS <= 400 MiB; -n 2 at least 1.6x faster than serial; the changed run at
most 1/10 of the full serial run. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARD = "examples/packs/stripe_revenue/boards/revenue.yml"
EDITED_QUERY_LINE = "  recent_refunds: |\n"


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB and the last line of pytest's output."""
    start = time.perf_counter()
    with open(cwd / "out.txt", "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    lines = [line for line in (cwd / "out.txt").read_text().splitlines() if line.strip()]
    summary = next((line.strip("= ") for line in reversed(lines) if " in " in line and ("passed" in line or "deselected" in line)), lines[-1])
    if os.waitstatus_to_exitcode(status) not in (0,):
        summary += f" (exit {os.waitstatus_to_exitcode(status)})"
    return wall, usage.ru_maxrss / 1024, summary


def edit_board(root: Path, n: int) -> None:
    path = root / BOARD
    text = path.read_text("utf-8")
    assert EDITED_QUERY_LINE in text, f"{EDITED_QUERY_LINE!r} not in {BOARD}"
    path.write_text(text.replace(EDITED_QUERY_LINE, f"{EDITED_QUERY_LINE}    -- edit {n}\n", 1), "utf-8")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # figures appear as they are measured, also into a file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import duckdb
    import sqlglot

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, duckdb {duckdb.__version__}, sqlglot {sqlglot.__version__}")
    with tempfile.TemporaryDirectory(prefix="dashpacks-bench-") as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "examples", root / "examples", ignore=shutil.ignore_patterns(".hypothesis", ".pytest_cache"))
        (root / "pytest.ini").write_text("[pytest]\ndashpacks_ledger = examples/defects.yml\n", "utf-8")
        common = ["--dashpacks", "-q", "-p", "no:randomly"]
        sets = (
            ("examples/packs", ["examples/packs"]),
            ("two packs (stripe_revenue, zendesk_support)", ["examples/packs/stripe_revenue", "examples/packs/zendesk_support"]),
            ("examples/realworld", ["examples/realworld"]),
        )
        for label, paths in sets:
            queries = sum(1 for line in subprocess.run(
                [sys.executable, "-m", "pytest", *common, *paths, "--collect-only", "-p", "no:cacheprovider"],
                cwd=root, capture_output=True, text=True).stdout.splitlines() if line.endswith("::syntax"))
            runs: dict[str, list[tuple[float, float, str]]] = {"serial": [], "-n 2": []}
            for _ in range(args.repeat):
                runs["serial"].append(timed([*common, "-p", "no:cacheprovider", *paths], root))
                runs["-n 2"].append(timed([*common, "-p", "no:cacheprovider", "-n", "2", *paths], root))
            print(f"{label} ({queries} queries), default run, median of {args.repeat}:")
            medians = {}
            for name, samples in runs.items():
                walls = [w for w, _, _ in samples]
                medians[name] = statistics.median(walls)
                peak = max(r for _, r, _ in samples)
                print(f"  {name:7} {medians[name]:6.1f} s wall ({min(walls):.1f}-{max(walls):.1f}), peak RSS {peak:4.0f} MiB -> {samples[-1][2]}")
            print(f"  -n 2 speed-up: {medians['serial'] / medians['-n 2']:.2f}x (target >= 1.6x)")

        packs = ["examples/packs"]
        prime = timed([*common, "--dashpacks-changed", *packs], root)
        print(f"--dashpacks-changed on examples/packs: priming full run {prime[0]:.1f} s, peak RSS {prime[1]:.0f} MiB -> {prime[2]}")
        changed = []
        for n in range(args.repeat):
            edit_board(root, n)
            changed.append(timed([*common, "--dashpacks-changed", *packs], root))
        walls = [w for w, _, _ in changed]
        full = prime[0]
        print(f"  after editing one query of {BOARD}: {statistics.median(walls):.1f} s wall ({min(walls):.1f}-{max(walls):.1f}), "
              f"peak RSS {max(r for _, r, _ in changed):.0f} MiB -> {changed[-1][2]}")
        print(f"  changed / full: {statistics.median(walls) / full:.3f} (target <= 0.1)")
        unchanged = timed([*common, "--dashpacks-changed", *packs], root)
        print(f"  nothing edited since: {unchanged[0]:.1f} s -> {unchanged[2]}")


if __name__ == "__main__":
    main()
