"""report.png: the simulator's report.json as one picture a person can read at a glance.

report.json says whether the promise was kept; the picture says when it slipped and why. The top
panel is OTIF by promised day, the bottom one the backlog hour by hour (open orders, exceptions
waiting for a person, orders placed), so a bad day lines up with the hours that caused it.
It draws on the Agg canvas directly, not through pyplot: no display, no global figure registry.
"""

import pathlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

# matplotlib comes with the `simulate` extra, which the production image leaves out: imported
# when a chart is drawn, so that everything else runs without it.
if TYPE_CHECKING:
    from matplotlib.axes import Axes


class ChartUnavailable(RuntimeError):
    """matplotlib is not installed: report.png cannot be drawn."""


# Legends sit right of the panels, past the bottom panel's twin axis, so they never hide data.
LEGEND: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.1, 1.0), "fontsize": 9}


def draw_report(report: dict, path: pathlib.Path) -> None:
    """report.png: OTIF by promised day, and backlog over the period."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as missing:
        raise ChartUnavailable(
            f"{path.name} not drawn: it needs matplotlib, which comes with the simulate "
            "extra (pip install 'oms[simulate]'; make install has it)"
        ) from missing
    fig = Figure(figsize=(11, 7), dpi=110)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1)
    fig.suptitle(
        f"{report['scenario']} — policy {report['policy']}: "
        f"OTIF {report['otif']:.1%} on {report['orders']} orders"
    )
    _otif_by_day(top, report["by_day"], report["otif"])
    _backlog(bottom, report["backlog"])
    fig.tight_layout()
    fig.savefig(path)
    fig.clear()  # no pyplot, so nothing else holds the figure: dropping it frees the memory


def _no_data(ax: "Axes") -> None:
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="gray")
    ax.set_xticks([])


def _otif_by_day(ax: "Axes", by_day: list[dict], otif: float) -> None:
    ax.set_title("OTIF by promised day (orders above the bars)", loc="left", fontsize=10, pad=14)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of orders")
    if not by_day:
        return _no_data(ax)
    xs = range(len(by_day))
    labels = [datetime.fromisoformat(d["day"]).strftime("%a %d %b") for d in by_day]
    ax.bar(xs, [100 * d["otif"] for d in by_day], color="tab:blue", alpha=0.8, label="OTIF")
    ax.plot(xs, [100 * d["on_time"] for d in by_day], "o-", color="tab:orange", label="on time")
    ax.plot(xs, [100 * d["in_full"] for d in by_day], "s-", color="tab:green", label="in full")
    ax.axhline(100 * otif, ls="--", color="black", lw=1, label=f"overall OTIF {otif:.1%}")
    for x, d in zip(xs, by_day, strict=True):  # just above the frame: bars reach up to 100%
        ax.annotate(
            f"{d['orders']:,}",
            (x, 100),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(xs, labels)
    ax.set_xlabel("promised day")
    ax.legend(**LEGEND)


def _backlog(ax: "Axes", backlog: list[dict]) -> None:
    import matplotlib.dates as mdates

    ax.set_title("Backlog", loc="left", fontsize=10)
    ax.set_ylabel("orders")
    if not backlog:
        return _no_data(ax)
    times = [datetime.fromisoformat(s["at"]) for s in backlog]
    at = mdates.date2num(times)  # days, as matplotlib keeps dates
    placed = ax.twinx()
    per_hour = [s["placed"] for s in backlog]  # each bar spans the hour ending at its sample
    bars = placed.bar(at, per_hour, -0.9 / 24, align="edge", color="gray", alpha=0.25)
    placed.set_ylabel("placed per hour")
    ax.set_zorder(placed.get_zorder() + 1)  # the lines over the bars, and ax's background off
    ax.patch.set_visible(False)
    ax.plot(at, [s["open"] for s in backlog], color="tab:blue", label="open")
    ax.plot(at, [s["exceptions"] for s in backlog], color="tab:red", label="exceptions")
    ax.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(tz=times[0].tzinfo)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=times[0].tzinfo))
    ax.set_xlabel(f"time ({times[0].tzinfo or 'UTC'})")
    handles, names = ax.get_legend_handles_labels()
    ax.legend([*handles, bars], [*names, "placed per hour"], **LEGEND)
