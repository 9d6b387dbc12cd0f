"""Build script: compiles the universal queue's C++ twin and the router.

Package metadata lives in pyproject.toml. This file cythonizes
``src/ccroute/_fastqueue.pyx``, and ``src/ccroute/core/router.py`` (with the
declarations of ``core/router.pxd``, Cython's pure-Python mode) into
``ccroute.core._router_compiled``: the router's Python source stays
importable as it is, and ``ccroute.router`` picks the build in use. The build never falls back silently (msgpack
shipped a slow pure build for years that way): if the extension cannot be
built, installation fails with a message saying so, unless the user opts out
with ``CCROUTE_PURE_PYTHON=1``, in which case a banner says that a pure
Python build is being made.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PURE = os.environ.get("CCROUTE_PURE_PYTHON", "") not in ("", "0")

BANNER = """
************************************************************************
* ccroute: pure Python build (CCROUTE_PURE_PYTHON={value}).
* The compiled universal queue is not built; ccroute.IMPLEMENTATION
* will be "pure". Unset CCROUTE_PURE_PYTHON to build the extension.
************************************************************************
"""

FAILURE = """
ccroute: the compiled universal queue (src/ccroute/_fastqueue.pyx) could not be
built: {error}

It needs Cython (a build requirement) and a C++ compiler. To install the pure
Python implementation instead, set CCROUTE_PURE_PYTHON=1 and install again.
"""


class BuildExt(build_ext):
    """build_ext that turns any failure into one clear message."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            raise SystemExit(FAILURE.format(error=error)) from error

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:
            raise SystemExit(FAILURE.format(error=error)) from error


def extensions() -> list[Extension]:
    if PURE:
        sys.stderr.write(BANNER.format(value=os.environ["CCROUTE_PURE_PYTHON"]))
        return []
    try:
        from Cython.Build import cythonize
    except ImportError as error:
        raise SystemExit(FAILURE.format(error=error)) from error
    return cythonize(  # type: ignore[no-any-return]
        [
            Extension(
                "ccroute._fastqueue",
                ["src/ccroute/_fastqueue.pyx"],
                language="c++",
                extra_compile_args=["-O3", "-std=c++17"],
            ),
            # Annotations stay Python's: typed ones would make a public method
            # raise TypeError for a wrong argument where the source raises
            # the error the API documents. Types come from router.pxd only.
            Extension(
                "ccroute.core._router_compiled",
                ["src/ccroute/core/router.py"],
            ),
        ],
        compiler_directives={
            "language_level": 3,
            "embedsignature": True,
            "annotation_typing": False,
        },
        build_dir="build/cython",
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
