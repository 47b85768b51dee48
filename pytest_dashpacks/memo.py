"""A per-process cache of results and errors by key; it knows nothing about what it holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .errors import DashpacksError

T = TypeVar("T")


class Memo:
    """``build()`` once per key. A :class:`DashpacksError` is cached like a result, so a broken file is
    read once and fails every item that needs it the same way."""

    def __init__(self) -> None:
        self._values: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        value = self.outcome(key, build)
        if isinstance(value, DashpacksError):
            raise value
        return value

    def outcome(self, key: tuple[Any, ...], build: Callable[[], T]) -> T | DashpacksError:
        """The result, or the DashpacksError that building it raised, without raising it."""
        if key not in self._values:
            try:
                self._values[key] = build()
            except DashpacksError as exc:
                self._values[key] = exc
        return self._values[key]

    def pop(self, matches: Callable[[tuple[Any, ...]], bool]) -> list[Any]:
        """Remove the values whose key ``matches``, and return them."""
        return [self._values.pop(key) for key in [k for k in self._values if matches(k)]]

    def clear(self) -> None:
        self._values.clear()
