"""Picks the implementation of the universal queue and skills matcher.

The compiled twin (:mod:`ccroute._fastqueue`, built from
``_fastqueue.pyx``) is used when it was built and imports; the pure-Python
one (:mod:`ccroute._queue_py`) otherwise, or whenever the environment
variable ``CCROUTE_PURE_PYTHON`` is set to a non-empty value other than
``0``. :data:`IMPLEMENTATION` says which one is in use; the build never falls
back silently (see ``setup.py``), so a missing extension here means the
package was installed with ``CCROUTE_PURE_PYTHON=1`` or the extension does
not load on this interpreter.

The same build compiles the router's source (``core/router.py``) into
``ccroute.core._router_compiled``; :mod:`ccroute.router` uses it exactly
when the compiled queue is in use, so that "compiled" names one build and
``CCROUTE_PURE_PYTHON=1`` runs every line as Python. Its presence is checked
here without importing it: it imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.util import find_spec
from typing import TYPE_CHECKING

from . import _queue_py
from ._queue_protocol import QueueBackend

#: Whether the user asked for the pure-Python implementation.
PURE_REQUESTED = os.environ.get("CCROUTE_PURE_PYTHON", "") not in ("", "0")

if TYPE_CHECKING:
    from ._queue_py import UniversalQueue
else:
    UniversalQueue = _queue_py.UniversalQueue
    IMPLEMENTATION = "pure"
    if not PURE_REQUESTED:
        try:
            from ._fastqueue import UniversalQueue
        except ImportError:
            pass
        else:
            if find_spec("ccroute.core._router_compiled") is not None:
                IMPLEMENTATION = "compiled"
            else:
                UniversalQueue = _queue_py.UniversalQueue

#: ``"compiled"`` or ``"pure"``: which implementation of the queue (and of the
#: router, :mod:`ccroute.router`) is in use.
IMPLEMENTATION: str

#: The queue every new router gets when none is passed to it; only
#: :func:`ccroute.testing.using_queue` changes it, for the length of a block.
default_factory: Callable[[], QueueBackend] = UniversalQueue


def new_queue() -> QueueBackend:
    """A new, empty universal queue of the implementation in use."""
    return default_factory()


__all__ = ["IMPLEMENTATION", "PURE_REQUESTED", "UniversalQueue", "new_queue"]
