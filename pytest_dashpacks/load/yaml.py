"""Safe YAML loading with line marks, and JSON Schema validation of the result.

Every value keeps the line and column it came from, keyed by its path
(``("queries", "daily", "sql")``), so any later error can name file:line.
Only the standard YAML tags are accepted, duplicate keys are errors, and
alias expansion is bounded so an alias bomb fails fast instead of eating memory.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, SourceSpan

KeyPath = tuple[Any, ...]

MAX_NODES = 200_000  # far above any real board; an alias bomb passes it in microseconds
MAX_INT_DIGITS = 100  # a number in a board or fixture never needs more (Python refuses past 4,300)
MAX_DEPTH = 100  # levels of nesting; real boards use fewer than ten

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A scalar's value by its tag's own constructor: ``construct_object`` would also remember every node
# it ever saw (``constructed_objects``), holding each file's nodes and marks until the process ends.
_scalars = yaml.constructor.SafeConstructor()


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like ``name``, or None: the one "did you mean" rule of every message."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)``, else `` (known: a, b)`` (nothing when nothing is known)."""
    hint = closest(name, known)
    if hint is not None:
        return f" (did you mean {hint!r}?)"
    return f" (known: {', '.join(known)})" if known else ""


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML file: plain data plus the position of every value and key."""

    path: Path
    data: Any
    text: str
    marks: dict[KeyPath, tuple[int, int]] = field(repr=False)
    key_marks: dict[KeyPath, tuple[int, int]] = field(repr=False)

    @functools.cached_property
    def lines(self) -> list[str]:
        """The file's lines, split once (a board of 10,000 queries looks each one up)."""
        return self.text.splitlines()

    def span(self, key_path: KeyPath = (), *, key: bool = False) -> SourceSpan:
        """Where the value (or, with ``key=True``, the key) at ``key_path`` is."""
        table = self.key_marks if key else self.marks
        path = tuple(key_path)
        while path:
            if path in table:
                line, col = table[path]
                return SourceSpan(self.path, line, col)
            if key and path in self.marks:
                line, col = self.marks[path]
                return SourceSpan(self.path, line, col)
            path = path[:-1]
        line, col = self.marks.get((), (1, 1))
        return SourceSpan(self.path, line, col)

    def error(self, message: str, key_path: KeyPath = (), *, key: bool = False) -> ConfigError:
        return ConfigError(message, self.span(key_path, key=key))


def format_key_path(key_path: KeyPath) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks followed, stays in ``root``."""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def require_inside(path: Path, root: Path, what: str) -> None:
    """A ConfigError naming the link when ``path`` is a symbolic link out of ``root``: such a file is never read."""
    if not inside(path, root):
        raise ConfigError(f"{path.name} is a symbolic link that leaves its {what}; it is not read", SourceSpan(path))


def read_text(path: Path) -> str:
    """Read a UTF-8 file; a non-UTF-8 byte is reported with its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"file is not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded", SourceSpan(path, line, column)
        ) from None


def load_yaml(path: Path, text: str | None = None, *, allow_empty: bool = False) -> YamlDoc:
    """Parse one YAML document with marks; raise :class:`ConfigError` naming file:line.

    With ``allow_empty`` (files that hold a mapping of defaults, like meta.yml),
    a blank file, one of only comments, or a bare ``---`` loads as an empty mapping.
    """
    if text is None:
        text = read_text(path)
    if not text.strip():
        if allow_empty:
            return _empty_doc(path, text)
        raise ConfigError("file is empty", SourceSpan(path, 1, 1))
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        # A binary file, or a link to one (/proc/self/environ): say what is wrong, never show its content.
        raise ConfigError(
            f"file is not a YAML document: unacceptable character #x{exc.character:04x}; its content is not shown", SourceSpan(path)
        ) from None
    except RecursionError:
        raise ConfigError(f"YAML nests too deeply (at most {MAX_DEPTH} levels)", SourceSpan(path, 1, 1)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"YAML syntax error: {problem}", SourceSpan(path, line, col)) from None
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without marks
        raise ConfigError(f"YAML error: {exc}", SourceSpan(path, 1, 1)) from None
    if allow_empty and (root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _TAG + "null")):
        return _empty_doc(path, text)
    if root is None:
        raise ConfigError("file holds only comments, no YAML content", SourceSpan(path, 1, 1))
    if not isinstance(root, yaml.MappingNode):
        # Every dashpacks file is a mapping; anything else (a text file read by mistake, /etc/passwd
        # through a link) is not echoed back.
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise ConfigError(f"file is not a YAML mapping of keys (it is {kind}); its content is not shown", SourceSpan(path))
    builder = _Builder(path)
    data = builder.build(root, ())
    return YamlDoc(path, data, text, builder.marks, builder.key_marks)


def _empty_doc(path: Path, text: str) -> YamlDoc:
    return YamlDoc(path, {}, text, {(): (1, 1)}, {})


class _Builder:
    """Turns a composed node tree into plain data, recording marks as it goes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.nodes = 0
        self.marks: dict[KeyPath, tuple[int, int]] = {}
        self.key_marks: dict[KeyPath, tuple[int, int]] = {}

    def _fail(self, message: str, node: yaml.Node) -> ConfigError:
        mark = node.start_mark
        return ConfigError(message, SourceSpan(self.path, mark.line + 1, mark.column + 1))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes += 1
        if len(path) > MAX_DEPTH:
            raise self._fail(f"YAML nests more than {MAX_DEPTH} levels deep", node)
        if self.nodes > MAX_NODES:
            raise self._fail(f"YAML expands to more than {MAX_NODES} nodes (an alias bomb?)", node)
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                raise self._fail(f"YAML tag {node.tag!r} is not allowed", node)
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        if node.tag != _TAG + "map":
            raise self._fail(f"YAML tag {node.tag!r} is not allowed", node)
        return self._mapping(node, path)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self._fail(f"YAML tag {node.tag!r} is not allowed", node)
        if node.tag == _TAG + "int" and len(node.value) > MAX_INT_DIGITS:
            raise self._fail(f"integer of {len(node.value)} characters: at most {MAX_INT_DIGITS} digits", node)
        value = _scalars.yaml_constructors[node.tag](_scalars, node)
        # Dates stay text: formats speak JSON, and a date's meaning is up to the reader.
        if isinstance(value, (dt.date, dt.datetime)):
            return node.value
        return value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                for source in _merge_sources(value_node):
                    merged.update(self._mapping(source, path))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._fail("mapping keys must be plain scalars", key_node)
            key = self._scalar(key_node)
            if isinstance(key, float) or key is None:
                key = key_node.value
            if key in seen:
                raise self._fail(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    key_node,
                )
            seen[key] = key_node.start_mark.line + 1
            self.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        return {**merged, **out} if merged else out


def _merge_sources(node: yaml.Node) -> list[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [item for item in node.value if isinstance(item, yaml.MappingNode)]
    return []


# --- JSON Schema validation -------------------------------------------------


@functools.lru_cache(maxsize=None)
def _validator(name: str) -> Any:
    import jsonschema

    schema = json.loads(resources.files("pytest_dashpacks.schemas").joinpath(f"{name}.json").read_text("utf-8"))
    # The shipped schemas are checked against the metaschema by the test suite, not on every run.
    return jsonschema.validators.validator_for(schema)(schema)


def validate(doc: YamlDoc, schema_name: str, data: Any = None, base: KeyPath = ()) -> None:
    """Validate ``doc`` (or ``data`` found at ``base`` inside it) against a shipped schema.

    Raises one :class:`ConfigError` for the first problem in file order, listing
    the others as details.
    """
    instance = doc.data if data is None else data
    validator = _validator(schema_name)
    if validator.is_valid(instance):  # the common case, without collecting errors
        return
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    problems = [problem for error in errors for problem in _describe(doc, error, base)]
    if not problems:
        return
    problems.sort(key=lambda p: (p[0].line, p[0].column))
    span, message, _ = problems[0]
    details = tuple(f"{s.location()}: {m}" for s, m, _ in problems[1:8])
    raise ConfigError(message, span, details=details)


def _chosen_branch(error: Any) -> list[Any]:
    """The errors of the one alternative the author meant: the branch that knows most of the mapping's
    keys (``change_type:`` means the change_type branch, whose errors say what is wrong inside it,
    not the rename_table branch's "unknown key change_type"). Every error when nothing tells."""
    if not isinstance(error.instance, dict):
        return list(error.context)
    overlap = [
        len(set(map(str, error.instance)) & set(branch.get("required", ())))
        for branch in error.validator_value
        if isinstance(branch, dict)
    ]
    if not overlap or max(overlap) == 0 or overlap.count(max(overlap)) > 1:
        return list(error.context)
    chosen = overlap.index(max(overlap))
    return [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == chosen] or list(error.context)


def _describe(doc: YamlDoc, error: Any, base: KeyPath) -> list[tuple[SourceSpan, str, str]]:
    path = base + tuple(error.absolute_path)
    where = format_key_path(path) or "document"
    if error.validator in ("anyOf", "oneOf") and error.context:
        from jsonschema.exceptions import best_match

        return _describe(doc, best_match(_chosen_branch(error)), base)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        out = []
        import re

        for key in error.instance:
            if key in known or any(re.search(p, str(key)) for p in patterns):
                continue
            hint = closest(str(key), known)
            suffix = f" (did you mean {hint!r}?)" if hint else (f"; known keys: {', '.join(known)}" if known else "")
            out.append((doc.span(path + (key,), key=True), f"unknown key {key!r} in {where}{suffix}", format_key_path(path + (key,))))
        return out
    if error.validator == "required":
        message = f"{where}: {error.message.replace(' is a required property', '')} is required"
    elif error.validator == "type":
        expected = error.validator_value
        names = {"object": "mapping", "array": "list"}
        expected = [names.get(e, e) for e in (expected if isinstance(expected, list) else [expected])]
        expected = " or ".join(expected)
        message = f"{where}: expected {_article(expected)}, got {_kind(error.instance)} {_short(error.instance)}"
    elif error.validator == "enum":
        message = f"{where}: {_short(error.instance)} is not one of {', '.join(map(str, error.validator_value))}"
    elif error.validator == "const":
        message = f"{where}: must be {error.validator_value!r}"
    else:
        message = f"{where}: {error.message}"
    return [(doc.span(path), message, format_key_path(path))]


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
