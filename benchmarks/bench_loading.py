"""Benchmark loading one very large board: loading must grow linearly with the board (issue #13).

Writes a pack whose one board holds N queries (each with a bar chart), for N = 1,000, 2,000,
4,000 and 10,000, then measures, in one run on one machine:

* ``pytest --dashpacks --collect-only`` wall time and peak RSS (every query gives ~17 items);
* the same run selecting the ``load`` items (the board is read, validated and cross-checked).

It prints the time per query for each N and the ratio of the largest to the smallest: linear
loading keeps that ratio near 1 (quadratic loading made 4,000 queries cost 18x what 1,000 did).
Timings are printed, never asserted: machines are shared and noisy.

Usage: python benchmarks/bench_loading.py [--sizes 1000 2000 4000 10000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACK = 'connector: zendesk\nschema_versions: ["2025-03"]\ntargets: [snowflake]\ntimezone: America/New_York\n'


def write_board(root: Path, queries: int) -> int:
    """A pack of one board with ``queries`` queries and charts; returns the board's size in bytes."""
    boards = root / "packs" / "big" / "boards"
    boards.mkdir(parents=True)
    (root / "packs" / "big" / "pack.yml").write_text(PACK)
    lines = ["title: Big", "queries:"]
    for i in range(queries):
        lines += [f"  q{i}: |", f"    SELECT priority, COUNT(*) AS tickets_{i}", "    FROM zendesk.ticket", "    GROUP BY 1"]
    lines.append("charts:")
    lines += [f"  c{i}: {{type: bar, query: q{i}, x: priority, y: tickets_{i}}}" for i in range(queries)]
    lines.append("rows: [" + ", ".join(f"c{i}" for i in range(queries)) + "]")
    text = "\n".join(lines) + "\n"
    (boards / "big.yml").write_text(text)
    return len(text.encode())


def timed(root: Path, *args: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MiB) and the last line of one pytest run in ``root``."""
    command = [sys.executable, "-c", _MEASURE, "--dashpacks", "packs", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    rss = int(re.search(r"RSS_KIB=(\d+)", done.stderr).group(1)) // 1024 if "RSS_KIB=" in done.stderr else -1
    last = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
    return wall, rss, last[0]


# Runs pytest in-process and reports its own peak RSS on stderr (ru_maxrss of the child alone).
_MEASURE = """
import resource, sys, pytest
code = pytest.main(sys.argv[1:])
print(f"RSS_KIB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
sys.exit(int(code))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 10000])
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="dashpacks-big-") as tmp:
            root = Path(tmp)
            size_bytes = write_board(root, size)
            collect = timed(root, "--collect-only")
            load = timed(root, "-m", "dashpacks_load")
            rows.append((size, size_bytes, collect, load))
            print(
                f"{size:>6} queries ({size_bytes / 1e6:4.1f} MB board): collect {collect[0]:6.2f} s "
                f"({collect[0] / size * 1000:5.2f} ms/query, peak {collect[1]} MiB); "
                f"load items {load[0]:6.2f} s ({load[0] / size * 1000:5.2f} ms/query, peak {load[1]} MiB) -> {load[2]}",
                flush=True,
            )
    if len(rows) > 1:
        small, large = rows[0], rows[-1]
        for label, index in (("collect", 2), ("load items", 3)):
            ratio = (large[index][0] / large[0]) / (small[index][0] / small[0])
            print(f"{label}: time per query at {large[0]:,} queries is {ratio:.2f}x that at {small[0]:,} (1.0 = linear)")


if __name__ == "__main__":
    main()
