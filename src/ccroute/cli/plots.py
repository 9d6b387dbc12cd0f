"""Charts of a simulated day for a planner's report (matplotlib, an optional extra).

One figure, intervals along the x-axis, a row of panels per queue plus one
for the agents:

- per queue: the service level over the day against *that queue's* target
  (a horizontal line labelled with it), with the offered volume as bars on a
  second axis; with replications, the mean and its 95% band;
- agents: staffed (logged in, time-average) and ready against the Erlang
  requirement computed from the scenario's own forecast (a step line).

:func:`check_plot_path` refuses a path matplotlib could not write, before
anything is simulated; :func:`day_figure` builds the figure (tests read its
axes); :func:`save` writes it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from .report import band

__all__ = ["FORMATS", "check_plot_path", "day_figure", "save"]

#: File extensions the plot may be written as.
FORMATS = ("png", "pdf", "svg")


def check_plot_path(path: str) -> None:
    """Refuse a plot path with an unknown extension, in a missing or read-only directory, or without matplotlib."""
    target = Path(path)
    extension = target.suffix.lower().lstrip(".")
    if extension not in FORMATS:
        raise InputError(
            f"--plot {path}: unknown image format {target.suffix or '(none)'!r}; "
            f"use one of {', '.join('.' + f for f in FORMATS)}"
        )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"--plot {path}: the directory {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"--plot {path}: cannot write in the directory {str(folder)!r}")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'ccroute[plot]'") from None


def _series(rows: list[dict[str, Any]], key: str, scale: float = 1.0) -> list[float]:
    out = []
    for row in rows:
        value = row.get(key)
        if isinstance(value, dict):  # an estimate from replications
            value = value.get("mean")
        out.append(math.nan if value is None else scale * float(value))
    return out


def day_figure(data: dict[str, Any], replications: dict[str, Any] | None = None) -> Any:
    """The figure of a day (``data``: :func:`ccroute.cli.report.day_data`).

    With ``replications`` (:func:`ccroute.cli.report.replications_data`), service
    levels are means with their 95% band and volumes and agents are means.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source = replications if replications is not None else data
    rows = source["intervals"]
    starts = [row["start"] for row in rows]
    x = list(range(len(starts)))
    queues = list(data["queues"])
    fig, grid = plt.subplots(
        len(queues) + 1,
        1,
        figsize=(11, 2.6 * (len(queues) + 1) + 0.8),
        sharex=True,
        squeeze=False,
    )
    panels = [row[0] for row in grid]
    for ax, name in zip(panels, queues, strict=False):
        queue = data["queues"][name]
        target = queue["service_level_target"]
        threshold = queue["service_level_threshold_seconds"]
        volume_ax = ax.twinx()
        volume = _series([r["queues"][name] for r in rows], "offered")
        peak = max((v for v in volume if math.isfinite(v)), default=0.0)
        # Bars fill the lower part of the panel, clear of the legend and the service level.
        volume_ax.set_ylim(0, 1.6 * peak if peak > 0 else 1)
        volume_ax.bar(
            x,
            volume,
            color="0.85",
            width=0.8,
            label="offered",
            zorder=0,
        )
        volume_ax.set_ylabel("offered (contacts)")
        ax.set_zorder(volume_ax.get_zorder() + 1)
        ax.patch.set_visible(False)
        if replications is not None:
            mean, low, high = band([r["queues"][name]["service_level"] for r in rows])
            mean, low, high = (
                [100 * v for v in mean],
                [100 * v for v in low],
                [100 * v for v in high],
            )
            ax.fill_between(
                x,
                [max(0.0, v) for v in low],
                [min(100.0, v) for v in high],
                color="tab:blue",
                alpha=0.2,
                label="95% interval",
            )
            ax.plot(x, mean, marker="o", color="tab:blue", label="service level (mean)")
        else:
            level = _series([r["queues"][name] for r in rows], "service_level", 100.0)
            ax.plot(x, level, marker="o", color="tab:blue", label="service level")
        ax.axhline(
            100 * target,
            color="tab:red",
            linestyle="--",
            label=f"target {100 * target:g}% in {threshold:g} s",
        )
        ax.set_ylim(0, 120)  # room above 100% for the legend
        ax.set_yticks([0, 20, 40, 60, 80, 100])
        ax.set_ylabel("service level %")
        ax.set_title(f"queue {name}: service level within {threshold:g} s, and offered volume")
        handles, labels = ax.get_legend_handles_labels()
        more, more_labels = volume_ax.get_legend_handles_labels()
        ax.legend(
            handles + more,
            labels + more_labels,
            loc="upper center",
            ncol=len(labels) + len(more_labels),
            fontsize="small",
            frameon=False,
        )
    agents = panels[-1]
    agents.plot(x, _series(rows, "agents_staffed"), marker="o", label="staffed (logged in)")
    if replications is None:
        agents.plot(x, _series(rows, "agents_ready"), marker=".", label="ready (not on break)")
    agents.step(
        x,
        [float(r["required_agents"]) for r in rows],
        where="mid",
        color="black",
        linestyle="--",
        label="required (Erlang, per queue and channel)",
    )
    top = max([*(_series(rows, "agents_staffed")), *(float(r["required_agents"]) for r in rows)])
    agents.set_ylim(0, 1.3 * top if math.isfinite(top) and top > 0 else 1)
    agents.set_ylabel("agents")
    agents.set_title("agents staffed against the Erlang requirement")
    agents.legend(loc="upper center", ncol=3, fontsize="small", frameon=False)
    step = max(1, len(x) // 24)
    agents.set_xticks(x[::step], starts[::step], rotation=60)
    agents.set_xlabel("interval start")
    title = data["scenario"]
    if replications is not None:
        title += f": {replications['replications']} replications"
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig: Any, path: str) -> None:
    """Write ``fig`` to ``path`` and release it."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path)
    except OSError as exc:
        raise InputError(f"--plot {path}: cannot write the image ({exc.strerror})") from None
    finally:
        plt.close(fig)
