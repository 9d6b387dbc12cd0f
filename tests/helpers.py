"""The test harness and snapshots, now public in :mod:`ccroute.testing` (re-exported here)."""

from __future__ import annotations

from ccroute.testing import RouterHarness, snapshot

__all__ = ["RouterHarness", "snapshot"]
