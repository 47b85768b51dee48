"""Our exception types: every problem carries the place in a file it comes from.

``repr_failure`` renders a :class:`DashpacksError` as ``file:line: message``
followed by an excerpt of the YAML (or rendered SQL) with a caret, so a pack
author never sees a traceback of the plugin itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceSpan:
    """A position in a file: 1-based line and column."""

    path: Path
    line: int = 0
    column: int = 0

    def location(self, rootdir: Path | None = None) -> str:
        shown = self.path
        if rootdir is not None:
            try:
                shown = self.path.relative_to(rootdir)
            except ValueError:
                shown = self.path
        return f"{shown}:{self.line}" if self.line else str(shown)


def relative_posix(path: Path, rootdir: Path) -> str:
    """``path`` as pytest names it: relative to the rootdir (both resolved), with forward slashes."""
    try:
        return path.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class SqlExcerpt:
    """Rendered SQL with the position of the offending token (1-based)."""

    sql: str
    line: int = 0
    column: int = 0
    width: int = 1


_FIELDS = ("message", "span", "sql", "details", "defect_class")


class DashpacksError(Exception):
    """A problem in a pack that fails one item, with where it comes from.

    Immutable once made: :meth:`replaced` gives a copy with other fields (a cached error is
    raised by every item that shares it, so changing it would change what they all report).
    """

    defect_class = "config"

    def __init__(
        self,
        message: str,
        span: SourceSpan | None = None,
        *,
        sql: SqlExcerpt | None = None,
        details: tuple[str, ...] = (),
        defect_class: str | None = None,
    ) -> None:
        super().__init__(message)
        fields = {"message": message, "span": span, "sql": sql, "details": details}
        if defect_class is not None:
            fields["defect_class"] = defect_class
        self.__dict__.update(fields)

    def __setattr__(self, name: str, value: object) -> None:
        if name in _FIELDS:
            raise AttributeError(f"{type(self).__name__}.{name} is read-only; use replaced()")
        super().__setattr__(name, value)

    def replaced(self, **changes: object) -> DashpacksError:
        """A copy of this error (same type) with some of its fields changed."""
        return _rebuilt(type(self), {**{name: getattr(self, name) for name in _FIELDS}, **changes})

    def __reduce__(self) -> tuple[object, ...]:  # pickling sets attributes one by one: rebuild instead
        return (_rebuilt, (type(self), {name: getattr(self, name) for name in _FIELDS}))

    def __str__(self) -> str:
        where = f"{self.span.location()}: " if self.span else ""
        return f"{where}{self.message}"


def _rebuilt(kind: type[DashpacksError], fields: dict[str, object]) -> DashpacksError:
    error = kind.__new__(kind)
    Exception.__init__(error, fields["message"])
    error.__dict__.update(fields)
    return error


class ConfigError(DashpacksError):
    """Invalid pack, board, connector, regression or ledger YAML."""

    defect_class = "config"


class RenderError(DashpacksError):
    """A board query that does not render or parse."""

    defect_class = "rendering"


class CheckFailure(DashpacksError):
    """A generated check that found a defect in the pack."""


class CheckSkipped(Exception):
    """A check that cannot apply to this query, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def first_line(exc: BaseException) -> str:
    """A library error's first line (its type when it has no message), for a one-line failure."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def excerpt_lines(text: str, line: int, column: int = 0, *, context: int = 2, width: int = 1) -> list[str]:
    """Numbered lines around ``line`` with a caret under ``column`` (both 1-based)."""
    lines = text.splitlines()
    if not lines or line < 1 or line > len(lines):
        return []
    first, last = max(1, line - context), min(len(lines), line + context)
    pad = len(str(last))
    out: list[str] = []
    for number in range(first, last + 1):
        marker = ">" if number == line else " "
        out.append(f"{marker} {number:>{pad}} | {lines[number - 1]}")
        if number == line and column >= 1:
            out.append(" " * (pad + 5 + column - 1) + "^" * max(1, width))
    return out


def failure_lines(error: DashpacksError, rootdir: Path, check: str) -> list[str]:
    """``file:line: check: message``, hints, then the YAML or SQL with a caret."""
    where = f"{error.span.location(rootdir)}: " if error.span else ""
    lines = [f"{where}{check}: {error.message}"]
    lines.extend(f"  {detail}" for detail in error.details)
    if error.sql is not None and error.sql.sql.strip():
        sql_lines = excerpt_lines(error.sql.sql, error.sql.line, error.sql.column, width=error.sql.width, context=3)
        lines.append("  SQL:")
        lines.extend("    " + line for line in (sql_lines or _readable(error.sql.sql).splitlines()[:40]))
    elif error.span is not None and error.span.line:
        try:
            text = error.span.path.read_text("utf-8", errors="replace")
        except OSError:
            text = ""
        yaml_lines = excerpt_lines(text, error.span.line, error.span.column)
        if yaml_lines:
            lines.append(f"  {error.span.path.name}:")
            lines.extend("    " + line for line in yaml_lines)
    # Files under the rootdir are named relative to it, like pytest names nodes.
    return [line.replace(f"{rootdir}/", "") for line in "\n".join(lines).splitlines()]


def format_failure(error: DashpacksError, rootdir: Path, check: str) -> str:
    return "\n".join(failure_lines(error, rootdir, check))


def _readable(sql: str) -> str:
    """SQL to show without a caret: the one-line DuckDB text the data items ran, laid out on lines."""
    text = sql.strip()
    if "\n" in text or len(text) <= 100:
        return text
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        return sqlglot.transpile(text, read="duckdb", write="duckdb", pretty=True)[0]
    except SqlglotError:  # not DuckDB SQL after all: show it as it is
        return text


class FailureRepr:
    """How pytest shows one of our failures (a ``TerminalRepr``, like doctest's): formatted once, when
    the item fails; the terminal, JUnit XML and the stability report all read these lines."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = tuple(lines)

    def toterminal(self, tw: object) -> None:
        for line in self.lines:
            tw.line(line)  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return "\n".join(self.lines)
