"""The one convention for targets, on every command-line flag and in every file.

- A **service level** is written percent/seconds: ``80/20`` or ``80%/20s``
  ("80 percent of contacts answered within 20 seconds"). The percent is
  1 to 100; a share such as ``0.8/20`` is refused with a message showing the
  right form, because reading it as 0.8 percent would quietly accept almost
  anything.
- A **share** (occupancy cap, shrinkage, abandon cap) is written ``0.85`` or
  ``85%``. A bare number above 1 is refused: ``85`` is not a share.

Both parsers return shares (0..1), which is what :mod:`ccroute.wfm` and
:class:`~ccroute.QueueConfig` take. Errors are :class:`~ccroute.InvalidValueError`
naming the value and the form expected.
"""

from __future__ import annotations

import math
import re

from .errors import InvalidValueError

__all__ = ["format_service_level", "parse_service_level", "parse_share"]

_SERVICE_LEVEL = re.compile(
    r"^\s*(?P<percent>[0-9]*\.?[0-9]+)\s*(?P<sign>%?)\s*/\s*(?P<seconds>[0-9]*\.?[0-9]+)\s*"
    r"(?:s|sec|secs|seconds)?\s*$"
)
_SHARE = re.compile(r"^\s*(?P<number>[0-9]*\.?[0-9]+)\s*(?P<sign>%?)\s*$")

SERVICE_LEVEL_FORM = "percent/seconds such as 80/20 or 80%/20s"


def parse_service_level(text: object, what: str = "service level") -> tuple[float, float]:
    """``"80/20"`` or ``"80%/20s"`` to ``(0.8, 20.0)``: the target as a share and the threshold.

    The percent must be from 1 to 100. ``"0.8/20"`` (a share where a percent
    is meant) and a bare ``"1/20"`` (1 percent, or 100 written as a share?)
    are refused; ``"1%/20"`` is one percent. ``what`` names the value in errors.
    """
    if not isinstance(text, str):
        raise InvalidValueError(f"{what}: expected {SERVICE_LEVEL_FORM}, got {text!r}")
    match = _SERVICE_LEVEL.match(text)
    if match is None:
        raise InvalidValueError(f"{what}: expected {SERVICE_LEVEL_FORM}, got {text!r}")
    percent = float(match["percent"])
    seconds = float(match["seconds"])
    explicit = bool(match["sign"])
    if not explicit and percent <= 1:
        right = f"{percent * 100:g}/{seconds:g}"
        raise InvalidValueError(
            f"{what}: {text!r} looks like a share; a service level is percent/seconds, "
            f"so write {right!r} (or {percent * 100:g}%/{seconds:g}s)"
            + (" — or '1%/…' if you do mean one percent" if percent == 1 else "")
        )
    if not 1 <= percent <= 100:
        raise InvalidValueError(
            f"{what}: the target must be from 1% to 100%, got {percent:g}% in {text!r}"
        )
    if not math.isfinite(seconds):
        raise InvalidValueError(f"{what}: the threshold must be a number of seconds, got {text!r}")
    return percent / 100.0, seconds


def parse_share(text: object, what: str) -> float:
    """``"0.85"``, ``0.85`` or ``"85%"`` to ``0.85``: a share from 0 to 1.

    A bare number above 1 (``"85"``) is refused with a message showing both
    right forms. ``what`` names the value (a flag or a field) in errors.
    """
    if isinstance(text, bool):
        raise InvalidValueError(f"{what}: expected a share such as 0.85 or 85%, got {text!r}")
    if isinstance(text, (int, float)):
        number, explicit = float(text), False
    elif isinstance(text, str) and (match := _SHARE.match(text)) is not None:
        number, explicit = float(match["number"]), bool(match["sign"])
    else:
        raise InvalidValueError(f"{what}: expected a share such as 0.85 or 85%, got {text!r}")
    if explicit:
        if not 0 <= number <= 100:
            raise InvalidValueError(f"{what}: a percent must be from 0% to 100%, got {text!r}")
        return number / 100.0
    if not math.isfinite(number) or number < 0:
        raise InvalidValueError(f"{what}: expected a share from 0 to 1, got {text!r}")
    if number > 1:
        raise InvalidValueError(
            f"{what}: {text!r} is not a share; write {number / 100:g} or {number:g}%"
        )
    return number


def format_service_level(target: float, threshold: float) -> str:
    """``(0.8, 20.0)`` to ``"80/20"``: the form :func:`parse_service_level` reads."""
    return f"{100 * target:g}/{threshold:g}"
