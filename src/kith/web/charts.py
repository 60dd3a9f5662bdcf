"""Charts drawn on the server as SVG, with a data-table fallback and the same series as CSV.

Any page may show a chart: the listening dashboards, the home dashboard, insights' curves.
A ``Chart`` holds the numbers once; ``svg()`` draws them, ``table()`` gives the same numbers
as an HTML table (for screen readers and for anyone who wants the figures), and
``csv_response()`` serves them as a download.

Why hand-written rather than a library: the Content-Security-Policy allows no inline
``<script>`` and no ``<style>`` element (``style-src 'self'``). pygal, the obvious
server-side SVG library, embeds both (its tooltips are a script, its theme a style
element); switched off, what remains is a few hundred lines of geometry we can test and
keep. So the drawing here uses presentation attributes only (``fill``, ``stroke``), never
a ``<style>`` element or a script, and every piece of text goes through
``django.utils.html.escape`` (labels are user data: a keyword, an author's handle).

Accessibility: the ``<svg>`` has ``role="img"`` and ``aria-labelledby`` pointing at its
``<title>`` and ``<desc>``; each mark has its own ``<title>`` (the browser's tooltip, no
script needed); ``render()`` puts the table in a ``<details>`` under the chart.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.http import HttpResponse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Kind = Literal["line", "stacked", "bar", "hbar"]

# Colour-blind-safe palette (Okabe & Ito), readable on the light and the dark theme.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)

_ids = itertools.count(1)


@dataclass(frozen=True)
class Series:
    """One named line, stack layer or set of bars; ``values`` align with the categories."""

    name: str
    values: Sequence[float]
    colour: str = ""


@dataclass
class Chart:
    """Numbers to draw: ``categories`` along one axis, one value per category per series.

    ``kind``: ``line`` (one line per series), ``stacked`` (stacked columns), ``bar`` (grouped
    columns) or ``hbar`` (horizontal bars, one per category, first series only; for rankings
    such as top authors, where labels are long).
    """

    kind: Kind
    title: str
    categories: Sequence[str]
    series: Sequence[Series]
    description: str = ""
    value_label: str = "Count"
    category_label: str = ""
    # Shorter labels for the category axis only (e.g. "5 Nov" for "2026-11-05"); the
    # table, tooltips and CSV keep ``categories``.
    tick_labels: Sequence[str] = ()
    width: int = 720
    height: int = 260
    # Formats a value for ticks, tooltips and the table (e.g. "{:.0%}"); empty: whole numbers
    # as such, others with up to two decimals.
    value_format: str = ""
    chart_id: str = field(default_factory=lambda: f"chart-{next(_ids)}")

    def __post_init__(self) -> None:
        if self.kind not in ("line", "stacked", "bar", "hbar"):
            raise ValueError(f"unknown chart kind {self.kind!r}")
        for s in self.series:
            if len(s.values) != len(self.categories):
                raise ValueError(
                    f"series {s.name!r} has {len(s.values)} values for "
                    f"{len(self.categories)} categories"
                )
        if self.tick_labels and len(self.tick_labels) != len(self.categories):
            raise ValueError("tick_labels must match the categories")

    # ------------------------------------------------------------------ public
    @property
    def empty(self) -> bool:
        return not self.categories or not self.series

    def fmt(self, value: float) -> str:
        if self.value_format:
            return self.value_format.format(value)
        f = float(value)
        return f"{f:,.0f}" if f.is_integer() else f"{f:,.2f}".rstrip("0")

    def svg(self) -> SafeString:
        """The chart as an inline ``<svg>`` element (no script, no style element)."""
        if self.kind == "hbar":
            body, height = self._hbar()
        else:
            body, height = self._columns_or_lines()
        title_id, desc_id = f"{self.chart_id}-title", f"{self.chart_id}-desc"
        desc = self.description or self._auto_description()
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{self.kind}" '
            f'id="{self.chart_id}" viewBox="0 0 {self.width} {height}" '
            f'width="{self.width}" height="{height}" role="img" '
            f'aria-labelledby="{title_id} {desc_id}" font-family="inherit" font-size="13" '
            f'fill="currentColor">'
            f'<title id="{title_id}">{escape(self.title)}</title>'
            f'<desc id="{desc_id}">{escape(desc)}</desc>'
        )
        return mark_safe(
            head + body + self._legend_svg(height) + "</svg>"
        )  # every text escaped above

    def rows(self) -> list[list[str]]:
        """Header row, then one row per category: the numbers of the table and the CSV."""
        header = [self.category_label or "Category"] + [s.name for s in self.series]
        out = [header]
        for i, cat in enumerate(self.categories):
            out.append([str(cat)] + [_plain(s.values[i]) for s in self.series])
        return out

    def table(self) -> SafeString:
        """The same numbers as an accessible HTML table."""
        header, *body = self.rows()
        parts = [f'<table class="chart-table"><caption>{escape(self.title)}</caption><thead><tr>']
        parts.append(f'<th scope="col">{escape(header[0])}</th>')
        parts.extend(f'<th scope="col" class="num">{escape(h)}</th>' for h in header[1:])
        parts.append("</tr></thead><tbody>")
        for i, row in enumerate(body):
            parts.append(f'<tr><th scope="row">{escape(row[0])}</th>')
            parts.extend(
                f'<td class="num">{escape(self.fmt(s.values[i]))}</td>' for s in self.series
            )
            parts.append("</tr>")
        parts.append("</tbody></table>")
        return mark_safe("".join(parts))  # every cell escaped above

    def render(self, *, csv_url: str = "") -> SafeString:
        """A ``<figure>``: the chart (or a note when there is no data), a CSV link, the table."""
        link = (
            f' <a class="chart-csv" href="{escape(csv_url)}" download>Download CSV</a>'
            if csv_url
            else ""
        )
        if self.empty or not any(v for s in self.series for v in s.values):
            inner = f'<p class="muted chart-empty">No data for {escape(self.title.lower())}.</p>'
            return mark_safe(
                f'<figure class="chart-figure"><figcaption>{escape(self.title)}{link}'
                f"</figcaption>{inner}</figure>"
            )
        return mark_safe(  # parts escaped where built
            f'<figure class="chart-figure"><figcaption>{escape(self.title)}{link}</figcaption>'
            f"{self.svg()}<details><summary>Data table</summary>{self.table()}</details></figure>"
        )

    # ------------------------------------------------------------------ drawing
    def _colour(self, index: int) -> str:
        s = self.series[index]
        return s.colour or PALETTE[index % len(PALETTE)]

    def _auto_description(self) -> str:
        if self.empty:
            return "No data."
        names = ", ".join(s.name for s in self.series)
        return (
            f"{self.value_label} for {names} across {len(self.categories)} "
            f"{(self.category_label or 'categories').lower()}, "
            f"from {self.categories[0]} to {self.categories[-1]}."
        )

    def _max_value(self) -> float:
        if self.empty:
            return 0.0
        if self.kind == "stacked":
            return max(
                (sum(max(float(s.values[i]), 0.0) for s in self.series))
                for i in range(len(self.categories))
            )
        return max(max(float(v) for v in s.values) for s in self.series)

    def _columns_or_lines(self) -> tuple[str, int]:
        left, right, top, bottom = 64, 12, 12, 44
        height = self.height
        plot_w = self.width - left - right
        plot_h = height - top - bottom
        base_y = top + plot_h
        ticks = nice_ticks(self._max_value())
        top_value = ticks[-1] or 1.0
        n = len(self.categories)
        out: list[str] = []

        def y_of(value: float) -> float:
            return base_y - (float(value) / top_value) * plot_h

        # Grid and value axis.
        for t in ticks:
            y = y_of(t)
            out.append(
                f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="currentColor" stroke-opacity="0.15"/>'
                f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(self.fmt(t))}</text>"
            )
        out.append(
            f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{escape(self.value_label)}</text>'
        )
        if n == 0:
            return "".join(out), height
        slot = plot_w / n
        # Category labels: at most ~8 so they do not overlap.
        every = max(1, math.ceil(n / 8))
        for i, cat in enumerate(self.tick_labels or self.categories):
            if i % every:
                continue
            x = left + slot * (i + 0.5)
            out.append(
                f'<text x="{x:.1f}" y="{base_y + 16}" text-anchor="middle">'
                f"{escape(_shorten(str(cat), 14))}</text>"
            )
        if self.kind == "line":
            for si, s in enumerate(self.series):
                colour = self._colour(si)
                points = [(left + slot * (i + 0.5), y_of(v)) for i, v in enumerate(s.values)]
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                    f"<title>{escape(s.name)}</title></polyline>"
                )
                for (x, y), cat, v in zip(points, self.categories, s.values, strict=True):
                    out.append(
                        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                        f"<title>{escape(f'{s.name}, {cat}: {self.fmt(v)}')}</title></circle>"
                    )
        else:
            stacked = self.kind == "stacked"
            groups = 1 if stacked else max(1, len(self.series))
            bar_w = max(1.0, slot * 0.7 / groups)
            for i, cat in enumerate(self.categories):
                x0 = left + slot * i + slot * 0.15
                running = 0.0
                for si, s in enumerate(self.series):
                    v = max(float(s.values[i]), 0.0)
                    if stacked:
                        y_top, y_bottom, x = y_of(running + v), y_of(running), x0
                        running += v
                    else:
                        y_top, y_bottom, x = y_of(v), base_y, x0 + si * bar_w
                    h = max(0.0, y_bottom - y_top)
                    out.append(
                        f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" fill="{self._colour(si)}">'
                        f"<title>{escape(f'{s.name}, {cat}: {self.fmt(s.values[i])}')}</title>"
                        f"</rect>"
                    )
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{base_y}" y2="{base_y}" '
            f'stroke="currentColor" stroke-opacity="0.5"/>'
        )
        return "".join(out), height

    def _hbar(self) -> tuple[str, int]:
        label_w, right, top, row_h = 180, 64, 8, 22
        n = len(self.categories)
        height = top * 2 + max(1, n) * row_h
        plot_w = self.width - label_w - right
        values = [float(v) for v in self.series[0].values] if self.series else []
        top_value = max(values, default=0.0) or 1.0
        colour = self._colour(0) if self.series else PALETTE[0]
        name = self.series[0].name if self.series else ""
        out: list[str] = []
        for i, (cat, v) in enumerate(zip(self.categories, values, strict=True)):
            y = top + i * row_h
            w = max(0.0, v / top_value * plot_w)
            out.append(
                f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">'
                f"{escape(_shorten(str(cat), 28))}</text>"
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{colour}"><title>{escape(f"{cat}: {self.fmt(v)} ({name})")}</title></rect>'
                f'<text x="{label_w + w + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">'
                f"{escape(self.fmt(v))}</text>"
            )
        return "".join(out), height

    def _legend_svg(self, height: int) -> str:
        if self.kind == "hbar" or len(self.series) < 2:
            return ""
        # The legend sits in the bottom margin; long names are shortened (the table has them).
        out, x = [], 56
        y = height - 10
        for si, s in enumerate(self.series):
            label = _shorten(s.name, 18)
            out.append(
                f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{self._colour(si)}"/>'
                f'<text x="{x + 14}" y="{y}">{escape(label)}</text>'
            )
            x += 28 + 8 * len(label)
        return "".join(out)


# ---------------------------------------------------------------------- helpers
def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (1, 2, 2.5 or 5 times a power of 10)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: float) -> str:
    """A number as CSV writes it: integers without '.0', floats as Python prints them."""
    f = float(value)
    return str(int(f)) if f.is_integer() else repr(round(f, 6))


def _csv_safe(value: str) -> str:
    """Guard a cell against spreadsheet formula injection (a keyword named ``=HYPERLINK(…)``)."""
    if value and value[0] in "=+-@\t\r":
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([_csv_safe(str(cell)) for cell in row])
    return buf.getvalue()


def csv_response(source: Chart | Iterable[Sequence[object]], filename: str) -> HttpResponse:
    """Serve a chart's numbers (or any rows) as a CSV download named ``filename``."""
    rows = source.rows() if isinstance(source, Chart) else source
    safe_name = "".join(c for c in filename if c.isalnum() or c in "-_.") or "chart.csv"
    if not safe_name.endswith(".csv"):
        safe_name += ".csv"
    response = HttpResponse(csv_text(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    return response
