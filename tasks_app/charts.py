"""Charts as server-rendered SVG (no JavaScript, no CDN): bars (stacked) and lines over time buckets.

Colours come from CSS classes in app.css (the CSP allows no inline style); every bar and point has
a <title> a person sees on hover, and each chart carries its values as data attributes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    """A round top for the y axis: 1, 2, 5 times a power of ten."""
    if value <= 0:
        return 1
    power = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value / 1000:.1f} s" if value >= 100 else f"{int(value)} ms"
    number = f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value)}"
    return f"{number}{unit}"


def _frame(top: float, unit: str, labels: Sequence[str]) -> list[str]:
    """Gridlines, the y axis' top and middle, and about six x labels."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts: list[str] = []
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(format_html('<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"/>', LEFT, y, WIDTH - RIGHT, y))
        parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                                 LEFT - 4, y + 4, _fmt(top * fraction, unit)))
    every = max(1, len(labels) // 6)
    slot = plot_w / max(1, len(labels))
    for n, label in enumerate(labels):
        if n % every == 0:
            parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                                     round(LEFT + slot * (n + 0.5), 1), HEIGHT - 6, label))
    return parts


def _svg(name: str, title: str, body: list[str], series: Sequence[Series]) -> SafeString:
    data = " ".join(format_html('data-{}="{}"', s.key, ",".join("" if v is None else f"{v:g}" for v in s.values))
                    for s in series)
    legend = "".join(format_html('<li><span class="swatch series-{}"></span>{}</li>', s.key, s.label)
                     for s in series)
    svg = format_html('<svg viewBox="0 0 {} {}" role="img" aria-label="{}" preserveAspectRatio="none">'
                      "<title>{}</title>{}</svg>", WIDTH, HEIGHT, title, title, mark_safe("".join(body)))
    return format_html('<figure class="chart" data-chart="{}" {}><figcaption>{}</figcaption>{}'
                       '<ul class="legend">{}</ul></figure>', name, mark_safe(data), title, svg, mark_safe(legend))


def bars(name: str, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> SafeString:
    """Stacked bars, one per label; series stack in the order given."""
    totals = [sum(s.values[n] or 0 for s in series) for n in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    body: list[str] = _frame(top, unit, labels)
    for n, label in enumerate(labels):
        base = 0.0
        for s in series:
            value = s.values[n] or 0
            if value <= 0:
                continue
            height = plot_h * value / top
            y = TOP + plot_h * (1 - (base + value) / top)
            body.append(format_html(
                '<rect class="bar series-{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {} {}</title></rect>',
                s.key, round(LEFT + slot * n + slot * 0.12, 1), round(y, 1), round(slot * 0.76, 1),
                round(height, 1), label, _fmt(value, unit), s.label))
            base += value
    return _svg(name, title, body, series)


def lines(name: str, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "",
          top: float | None = None) -> SafeString:
    """One polyline per series; a bucket without a value (None) breaks the line."""
    peak = max((v for s in series for v in s.values if v is not None), default=0)
    top = top if top is not None else _nice_max(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    body: list[str] = _frame(top, unit, labels)
    for s in series:
        segment: list[str] = []
        for n, value in enumerate([*s.values, None]):
            if value is None:
                if segment:
                    body.append(format_html('<polyline class="line series-{}" points="{}"/>', s.key,
                                            " ".join(segment)))
                segment = []
                continue
            x, y = round(LEFT + slot * (n + 0.5), 1), round(TOP + plot_h * (1 - value / top), 1)
            segment.append(f"{x},{y}")
            body.append(format_html('<circle class="dot series-{}" cx="{}" cy="{}" r="2.5"><title>{}: {} {}</title>'
                                    "</circle>", s.key, x, y, labels[n], _fmt(value, unit), s.label))
    return _svg(name, title, body, series)


def empty_note(text: str) -> SafeString:
    return format_html('<p class="muted small">{}</p>', escape(text))


def metric_charts(data: dict[str, object]) -> list[SafeString]:
    """The seed's six metrics over time (tasks_app/ops_series.py's series), as the dashboards show them."""
    labels: list[str] = data["labels"]  # type: ignore[assignment]

    def values(key: str) -> list[float | None]:
        return list(data[key])  # type: ignore[call-overload]

    return [
        bars("runs", "Runs finished", labels,
             [Series("completed", "completed", values("completed")), Series("failed", "failed", values("failed"))]),
        lines("rates", "Success rate", labels, [Series("success", "success rate", values("successRate"))],
              unit="%", top=100),
        lines("load", "Active agents and queue depth (peak)", labels,
              [Series("active", "active agents", values("activeAgents")),
               Series("queued", "queue depth", values("queueDepth"))]),
        lines("duration", "Average run duration", labels, [Series("duration", "average", values("avgDuration"))],
              unit="s"),
        bars("credits", "Credits used", labels, [Series("credits", "credits", values("credits"))]),
    ]
