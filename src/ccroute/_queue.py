"""Picks the implementation of the universal queue and skills matcher.

Only the pure-Python implementation exists so far; the compiled twin
(``_fastqueue``) will be chosen here when it is built, unless the environment
variable ``CCROUTE_PURE_PYTHON`` is set to a non-empty value other than ``0``.
"""

from __future__ import annotations

from ._queue_py import UniversalQueue

#: ``"compiled"`` or ``"pure"``: which implementation of the queue is in use.
IMPLEMENTATION = "pure"

__all__ = ["IMPLEMENTATION", "UniversalQueue"]
