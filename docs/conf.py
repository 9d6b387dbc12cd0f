"""Sphinx configuration. Build with: pip install -e ".[docs]" && sphinx-build docs docs/_build."""

project = "ccroute"
author = "ccroute developers"
extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]
myst_heading_anchors = 2
