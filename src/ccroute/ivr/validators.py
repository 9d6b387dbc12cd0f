"""Checks a collect node runs on what the caller entered: length, pattern, Luhn.

Each validator is a frozen value with ``check(value)``, which returns
``None`` when the value passes and a short reason when it does not (the
session counts a failed check as a retry; the reason never contains the
value, which may be sensitive). A collect node lists its validators in the
flow file as tables with a ``kind`` (docs/ivr-flows.md).
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

import attrs

from ..masking import luhn_valid

__all__ = ["Length", "Luhn", "Pattern", "Validator", "luhn_valid"]


@runtime_checkable
class Validator(Protocol):
    """What a collect node asks of each of its validators."""

    def check(self, value: str) -> str | None:
        """``None`` when ``value`` passes, else why it does not (without the value)."""
        ...


@attrs.frozen(slots=True)
class Length:
    """The value has between ``min`` and ``max`` characters (inclusive; ``None``: no bound)."""

    min: int | None = None
    max: int | None = None

    def check(self, value: str) -> str | None:
        """``None`` when the length is within the bounds, else which bound it broke."""
        if self.min is not None and len(value) < self.min:
            return f"shorter than {self.min} characters"
        if self.max is not None and len(value) > self.max:
            return f"longer than {self.max} characters"
        return None


@attrs.frozen(slots=True)
class Pattern:
    """The whole value matches the regular expression ``pattern`` (``re.fullmatch``)."""

    pattern: str
    _compiled: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # A bad pattern raises re.error here; the flow loader turns it into a FlowError.
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def check(self, value: str) -> str | None:
        """``None`` when the whole value matches, else ``"does not match the pattern"``."""
        return None if self._compiled.fullmatch(value) else "does not match the pattern"


@attrs.frozen(slots=True)
class Luhn:
    """The value is digits whose last one is a valid Luhn check digit (see :func:`luhn_valid`)."""

    def check(self, value: str) -> str | None:
        """``None`` when the Luhn check passes, else ``"fails the check digit"``."""
        return None if luhn_valid(value) else "fails the check digit"
