"""The ``ccroute`` command: simulate, staff and plan from the shell.

:mod:`~ccroute.cli.main` parses the command line and runs each command;
:mod:`~ccroute.cli.report` turns results into tables, laid out by
:mod:`~ccroute.cli.tables` and printed by :mod:`~ccroute.cli.console`;
:mod:`~ccroute.cli.plots` draws figures and :mod:`~ccroute.cli.sizing` runs
staffing by simulation. Nothing here is needed to embed the router.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
