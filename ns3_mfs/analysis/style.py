"""How every figure looks: the ``screen`` and ``paper`` styles, time units, axes and series.

* **Styles.** ``screen`` (default): 5 x 3.4 in figures written as PNG and
  PDF. ``paper``: single-column width (3.4 in), 8 pt text, fonts embedded
  as TrueType (``pdf.fonttype`` 42), written as PDF only.
* **Times** are shown in their natural unit: :func:`time_unit` picks s, ms,
  us or ns from the values so that the ticks read 0.5 .. 500, and the axis
  label carries the unit (``TTFT (ms)``). Other quantities get engineering
  tick labels (``20k``, ``1.5M``).
* **Log axes** label only ticks that cannot collide: 1-2-5 steps within two
  decades, powers of ten beyond, never the minor ticks.
* **Series** get a colour, a line style and a marker each, so lines that lie
  on top of each other stay distinguishable in print; :func:`coinciding`
  finds series with identical values so the legend can say so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

#: Line styles and markers cycled over the series of a plot (colour cycles with them).
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", (0, (4, 1.5)), (0, (1, 1)), (0, (3, 1.25, 1.5, 1.25)), (0, (5, 1, 1, 1, 1, 1)), (0, (2, 2))]
#: Time units, largest first: (name, seconds per unit).
TIME_UNITS = (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9))


@dataclass(frozen=True)
class Style:
    """One figure style: size, text size, output formats."""

    name: str
    width_in: float        #: figure width (inches)
    height_in: float       #: default figure height (inches)
    font_pt: float         #: base text size
    formats: tuple[str, ...]
    dpi: int = 150

    def size(self, height_in: float | None = None, wide: bool = False) -> tuple[float, float]:
        """Figure size: the style's width (x 1.35 for ``wide`` figures in the screen style)."""
        w = self.width_in * (1.35 if wide and self.name == "screen" else 1.0)
        return w, height_in if height_in is not None else self.height_in


STYLES = {
    "screen": Style("screen", 5.0, 3.4, 10.0, ("png", "pdf")),
    "paper": Style("paper", 3.4, 2.3, 8.0, ("pdf",), dpi=300),
}


def get_style(name: str | None) -> Style:
    from ..config import ConfigError

    if name is None:
        return STYLES["screen"]
    if name not in STYLES:
        raise ConfigError(f"--style: {name!r} is not a style; allowed: {', '.join(STYLES)}")
    return STYLES[name]


@contextlib.contextmanager
def use(style: Style) -> Iterator[tuple[object, object]]:
    """Matplotlib (Agg) and seaborn set up for ``style``; yields ``(pyplot, seaborn)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    f = style.font_pt
    rc = {"font.size": f, "axes.labelsize": f, "axes.titlesize": f, "xtick.labelsize": f - 1,
          "ytick.labelsize": f - 1, "legend.fontsize": f - 1, "legend.title_fontsize": f - 1,
          "pdf.fonttype": 42, "ps.fonttype": 42, "lines.linewidth": 1.2 if style.name == "paper" else 1.5,
          "lines.markersize": 3.5 if style.name == "paper" else 5, "axes.linewidth": 0.6,
          "grid.linewidth": 0.4, "legend.frameon": True, "legend.framealpha": 0.85}
    with plt.rc_context():
        sns.set_theme(style="whitegrid", context="paper", rc=rc)
        yield plt, sns


def save(fig, style: Style, directory, name: str) -> list:
    """Write ``fig`` in the style's formats as ``directory/name.<ext>``; returns the paths."""
    from pathlib import Path

    paths = []
    for ext in style.formats:
        p = Path(directory) / f"{name}.{ext}"
        fig.savefig(p, dpi=style.dpi, bbox_inches="tight", pad_inches=0.02)
        paths.append(p)
    return paths


# --------------------------------------------------------------------------- #
# units and axes
# --------------------------------------------------------------------------- #

def time_unit(values_s) -> tuple[str, float]:
    """(unit, seconds per unit) that shows ``values_s`` as numbers between about 0.5 and 500: the
    unit of their 90th percentile of magnitudes (s for none)."""
    v = np.abs(np.asarray(values_s, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return "s", 1.0
    ref = float(np.quantile(v, 0.9))
    for unit, scale in TIME_UNITS:
        if ref >= 0.5 * scale:
            return unit, scale
    return TIME_UNITS[-1]


def display_unit(unit: str) -> str:
    return "\u00b5s" if unit == "us" else unit


def is_time(column: str) -> bool:
    """A column holding seconds (``*_s`` but not a rate ``*_per_s``)."""
    return column.endswith("_s") and not column.endswith("_per_s")


def engineering(ax, axis: str = "y") -> None:
    """Engineering tick labels (``20k``, ``1.5M``) on a linear axis of counts or bytes."""
    from matplotlib.ticker import EngFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(EngFormatter(sep=""))


def _plain(x: float, _pos=None) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        from matplotlib.ticker import EngFormatter

        return EngFormatter(sep="")(x)
    return f"{x:g}"


def log_axis(ax, axis: str = "x", values=None) -> None:
    """A log axis whose tick labels never collide: 1-2-5 steps when the values span at most two
    decades, powers of ten (at most about 6 labels) beyond; minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    a = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    if values is not None:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v) & (v > 0)]
        if len(v):
            lo, hi = float(v.min()), float(v.max())
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    if decades <= 1.0:
        subs = (1.0, 2.0, 5.0)
    elif decades <= 2.0:
        subs = (1.0, 3.0)
    else:
        subs = (1.0,)
    a.set_major_locator(LogLocator(base=10, subs=subs, numticks=8))
    a.set_major_formatter(FuncFormatter(_plain))
    a.set_minor_formatter(NullFormatter())


# --------------------------------------------------------------------------- #
# series
# --------------------------------------------------------------------------- #

def series_style(i: int) -> dict:
    """Line style and marker of the i-th series."""
    return dict(linestyle=LINESTYLES[i % len(LINESTYLES)], marker=MARKERS[i % len(MARKERS)])


def coinciding(series: dict[str, Sequence[float]], rtol: float = 1e-9) -> list[list[str]]:
    """Groups (of two or more) of series names whose values are identical, value by value."""
    groups: list[list[str]] = []
    arrays = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    for name, vals in arrays.items():
        for g in groups:
            ref = arrays[g[0]]
            if ref.shape == vals.shape and np.allclose(ref, vals, rtol=rtol, atol=0.0, equal_nan=True):
                g.append(name)
                break
        else:
            groups.append([name])
    return [g for g in groups if len(g) > 1]
