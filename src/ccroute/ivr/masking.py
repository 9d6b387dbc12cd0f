"""How a sensitive answer is shown everywhere but to the action that needs it.

One rule, in one place: :func:`mask` keeps the last few characters of a
long value (a card's last four digits, as on a receipt) and hides the rest;
a short value (a PIN) is hidden whole, because its last digits would give
too much of it away.
"""

from __future__ import annotations

__all__ = ["MASK_CHAR", "mask"]

#: The character that stands for each hidden character.
MASK_CHAR = "*"


def mask(value: str) -> str:
    """``value`` with all but its last characters replaced by ``*``.

    Values under 8 characters are hidden whole; longer ones keep
    ``min(4, len // 4)`` characters at the end: a 16-digit card number keeps 4
    (``"************1111"``), a 9-digit social-security number keeps 2. The
    length is kept, so an agent can tell a short entry from a long one.
    """
    keep = 0 if len(value) < 8 else min(4, len(value) // 4)
    return MASK_CHAR * (len(value) - keep) + value[len(value) - keep :]
