"""``python -m ccroute.cli``: the ``ccroute`` command without its script."""

from __future__ import annotations

import sys

from .main import main

sys.exit(main())
