"""Names a package exports but imports on first use (PEP 562).

``ccroute`` and ``ccroute.crm`` keep their heavier modules (the service,
pluggy, anyio, SQLite) out of ``import ccroute``: they list those names in a
table and take their module ``__getattr__`` and ``__dir__`` from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping


def lazy_exports(
    package: str, namespace: MutableMapping[str, object], names: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``names`` (public name to
    the relative module defining it).

    The first use of a name imports its module and keeps the value in the
    package's ``namespace``, so later uses cost a dictionary lookup.
    """

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
