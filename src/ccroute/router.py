"""The :class:`Router`, in the build this installation runs.

The router's source is :mod:`ccroute.core.router` (its module documentation
says what a call does, in which order). The build compiles that very file,
with the declarations in ``core/router.pxd`` beside it, into
``ccroute.core._router_compiled`` (Cython's pure-Python mode), so the
compiled router and the interpreted one cannot drift apart: they are one
source. This module hands out the compiled build when the compiled queue is
in use (``ccroute.IMPLEMENTATION == "compiled"``) and the source as it is
otherwise, for instance under ``CCROUTE_PURE_PYTHON=1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._queue import IMPLEMENTATION

if TYPE_CHECKING:
    from .core.router import Observer, Router
elif IMPLEMENTATION == "compiled":
    from .core._router_compiled import Observer, Router
else:
    from .core.router import Observer, Router

__all__ = ["Observer", "Router"]
