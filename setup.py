"""Build script.

Package metadata lives in pyproject.toml. This file exists for the compiled
twin of the universal queue (``src/ccroute/_fastqueue.pyx``), which a later
change cythonizes here; until then setuptools needs nothing more.
"""

from setuptools import setup

setup()
