"""History (``--dashpacks-history``): one JSON line per recorded run, and the files the report writes.

Each line carries the run's facts (``time`` in UTC, git ``commit``, plugin ``version``)
and whether it was ``complete``: a narrowed run (``narrowed_by`` says how) is
kept for repeat offenders and recurrence but left out of trends, which compare
like with like. Lines are appended with one ``write`` on an ``O_APPEND`` file
under ``flock``, so concurrent runs never interleave; a torn or corrupt line
is skipped and reported, never fatal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path
from typing import Any


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def git_commit(directory: Path, timeout: float = 3.0) -> str | None:
    """``git rev-parse HEAD`` in ``directory``; None when it is not a repository or git is missing or slow."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) in (40, 64) and all(c in "0123456789abcdef" for c in commit) else None


def read_history(path: Path | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Earlier runs, oldest first, and one note per line that was skipped (torn by a crash, or not a run)."""
    if path is None or not path.is_file():
        return [], []
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return [], [f"{path}: cannot be read ({exc.strerror or exc})"]
    runs, problems = [], []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)
        except ValueError:
            problems.append(f"{path.name}:{number}: a torn or corrupt line (not JSON)")
            continue
        if not _is_run(run):
            problems.append(f"{path.name}:{number}: a line that is not a recorded run")
            continue
        runs.append(run)
    return runs, problems


def _is_run(run: Any) -> bool:
    """The shape every reader of a history line relies on."""
    if not isinstance(run, dict) or not isinstance(run.get("connectors", {}), dict):
        return False
    counts = run.get("connectors", {}).values()
    if not all(isinstance(c, dict) and isinstance(c.get("failed", 0), int) and isinstance(c.get("passed", 0), int) for c in counts):
        return False
    failures = run.get("failures", [])
    return (isinstance(run.get("failed", []), list) and all(isinstance(n, str) for n in run.get("failed", []))
            and isinstance(failures, list) and all(isinstance(f, dict) for f in failures)
            and isinstance(run.get("ledger_open", 0), int))


def append_history(path: Path, line: dict[str, Any]) -> None:
    """Append one run as one line: a single ``os.write`` on an ``O_APPEND`` descriptor, under ``flock`` where
    there is one, so runs writing at once never interleave. A torn last line (a run killed mid-write) gets
    its newline first, so it cannot swallow this one. Raises OSError; the caller turns it into a warning."""
    data = (json.dumps(line, sort_keys=True, default=str) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: O_APPEND alone
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_size:
            os.lseek(fd, -1, os.SEEK_END)  # O_APPEND still writes at the end, wherever this leaves the offset
            if os.read(fd, 1) != b"\n":
                data = b"\n" + data
        written = os.write(fd, data)
        while written < len(data):  # a short write to a regular file is rare; the lock keeps the rest in place
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)  # closing releases the lock


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, "utf-8")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
