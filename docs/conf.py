"""Sphinx configuration of ccroute's documentation site.

Build (the README's developer section; CI runs the same)::

    pip install -e ".[docs]" && sphinx-build -W -n --keep-going docs docs/_build

Warnings are errors and every cross-reference must resolve (``-n``), with the
exceptions listed in ``nitpick_ignore_regex`` below: names of the standard
library and third-party packages, whose inventories would have to be fetched
from the network at build time (intersphinx), which CI does not reach.
"""

from __future__ import annotations

import os
import sys

# The package is imported from the checkout (autodoc), whatever is installed,
# and as its Python source: the compiled router is the same source, but an
# extension type's attributes carry no ``#:`` comments for autodoc to read.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))
os.environ["CCROUTE_PURE_PYTHON"] = "1"

project = "ccroute"
author = "ccroute developers"
copyright = "2026, ccroute developers"
extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples"]
myst_heading_anchors = 2
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = "ccroute"

# One docstring style throughout: reStructuredText field lists (``:param x:``).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Names written as ``ccroute.X`` in the reference are the canonical ones readers
# import; the modules they live in are an implementation detail.
add_module_names = True

nitpicky = True
_EXTERNAL = (
    r"(typing|typing_extensions|collections|collections\.abc|types|enum|datetime|zoneinfo"
    r"|os|pathlib|logging|threading|asyncio|contextlib|abc|numbers|decimal|io|re"
    r"|anyio|trio|pluggy|msgspec|attrs|attr|sqlite3|starlette|psycopg|redis"
    r"|_pytest|pytest|hypothesis)(\..*)?"
)
_BUILTINS = (
    r"(int|float|str|bytes|bool|object|None|type|tuple|list|dict|set|frozenset"
    r"|Exception|BaseException|KeyError|ValueError|TypeError|OSError|RuntimeError"
    r"|Ellipsis|NotImplemented|T|T_co|K|V|P|_T|Self)"
)
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    (r"py:.*", _BUILTINS),
]
nitpick_ignore_regex += [
    # type variables and private helpers named in signatures
    (r"py:class", r"(ccroute\.[\w.]+\.)?_?[A-Z]|_F|_T"),
    (r"py:class", r"ccroute\.[\w.]+\._\w+"),
    (r"py:.*", r"(random|tomllib|time|json|hashlib|PluginManager)(\..*)?"),
    # the service's private plugin-manager wrapper, named in a constructor
    (r"py:class", r"Hooks"),
    # a string annotation autodoc splits at its comma (``Mapping[str, Any]``)
    (r"py:class", r"Mapping\[str"),
]


def _resolve_in_ccroute(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a name the way ccroute's users import it.

    Docstrings name the package's public objects by their short name
    (``Router.tick``, ``Queued``) or by the module that defines them
    (``ccroute.hooktypes.ServiceHandle.inbound``); the reference documents
    them where users import them from (``ccroute.ServiceHandle``). Try
    ``ccroute.<name>``, then the name without its module path, then the one
    object of the package whose name ends so.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    parts = target.split(".")
    if parts[0] != "ccroute":
        candidates = [f"ccroute.{target}"]
    else:
        candidates = ["ccroute." + ".".join(parts[i:]) for i in range(2, len(parts))]
    domain = env.get_domain("py")
    # Last, a name defined once anywhere in the package (``NodeEvent`` named
    # in the docstring of ``ccroute.Node``, documented in ``ccroute.cluster``).
    suffix = "." + target
    unique = [name for name in domain.objects if name.endswith(suffix)]
    if len(unique) == 1:
        candidates.append(unique[0])
    for candidate in candidates:
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], candidate, node, contnode
        )
        if found is not None:
            return found
    return None


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_in_ccroute)
