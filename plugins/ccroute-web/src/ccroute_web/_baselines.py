"""The wallboard's period baselines, kept beside the log so that a restart keeps "today".

"Today" and "this interval" are the service's metrics now less the metrics
when the period began (:mod:`._board`). The service's metrics survive a
restart (its snapshots carry them); the baselines are the plugin's, so it
keeps them in a small JSON file beside the service's SQLite log
(``centre.db`` → ``centre-wallboard.json``): the collector's state
(:meth:`~ccroute.metrics.MetricsCollector.state`) when each period began.
After a restart within the same day (or interval) the wallboard takes the
saved baseline back and goes on counting from the period's start. A
service without a log file keeps them in memory only, as before.

The file is data: it is read with :mod:`json` and rebuilt through
:meth:`MetricsCollector.from_state <ccroute.metrics.MetricsCollector.from_state>`,
which checks it; a file that is damaged or of another format is ignored (the
period then counts from the restart) with a warning, never trusted.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ccroute.errors import CCRouteError
from ccroute.metrics import MetricsCollector

from ._board import Periods, _Baseline

__all__ = ["BaselineFile", "baselines_path"]

log = logging.getLogger("ccroute_web")

#: The file's format; a file in another one is ignored.
_FORMAT = 1

Kind = Literal["day", "interval"]


def baselines_path(settings: Mapping[str, Any]) -> Path | None:
    """Where the baselines go beside the service's log file, or ``None`` without one."""
    log_path = settings.get("path")
    if not isinstance(log_path, str | os.PathLike) or not str(log_path):
        return None
    path = Path(log_path)
    return path.with_name(f"{path.stem}-wallboard.json")


class BaselineFile:
    """The saved baselines of the current day and interval (see the module).

    :param path: the file, or ``None`` to keep nothing.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        # kind -> (period start, router time it was taken at, the collector's state)
        self._saved: dict[str, tuple[float, float, dict[str, Any]]] = {}

    def restore(self, periods: Periods) -> set[Kind]:
        """Put back the saved baselines of the periods ``periods`` is in now;
        the kinds restored. A missing, damaged or foreign file restores nothing.
        Cost: reading the file and rebuilding a collector per period restored."""
        if self.path is None:
            return set()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as error:
            log.warning("ignoring the wallboard's baselines in %s: %s", self.path, error)
            return set()
        restored: set[Kind] = set()
        current: dict[Kind, _Baseline] = {"day": periods.day, "interval": periods.interval}
        try:
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise ValueError(f"not a format-{_FORMAT} baselines file")
            for kind, baseline in current.items():
                saved = data.get(kind)
                if not isinstance(saved, list) or len(saved) != 3:
                    continue
                start, at, state = saved
                if start != baseline.start or not isinstance(at, int | float):
                    continue  # another period's: this one began after the restart
                report = MetricsCollector.from_state(state).report(float(at))
                setattr(periods, kind, _Baseline(baseline.start, report))
                self._saved[kind] = (baseline.start, float(at), state)
                restored.add(kind)
        except (CCRouteError, ValueError, TypeError, KeyError) as error:
            log.warning("ignoring the wallboard's baselines in %s: %s", self.path, error)
        return restored

    def remember(
        self, kinds: set[Kind], periods: Periods, at: float, state: dict[str, Any]
    ) -> None:
        """Note that the periods of ``kinds`` began at ``at`` with the collector in
        ``state``; write the file (atomically: the old one or the new one)."""
        for kind in kinds:
            baseline = periods.day if kind == "day" else periods.interval
            self._saved[kind] = (baseline.start, at, state)
        if self.path is None or not kinds:
            return
        document = {"format": _FORMAT, **{k: list(v) for k, v in self._saved.items()}}
        temporary = self.path.with_name(self.path.name + ".new")
        try:
            temporary.write_text(json.dumps(document), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            log.warning("cannot keep the wallboard's baselines in %s: %s", self.path, error)
