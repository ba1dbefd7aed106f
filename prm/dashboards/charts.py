"""Charts for the dashboards: plotly figures rendered by our own copy of plotly.js.

A view builds a `plotly.graph_objects.Figure`, then `chart(fig, …)` turns it into what the
template include `dashboards/includes/chart.html` needs: the figure as JSON (for plotly.js) and
the same points as a table (for screen readers, printing and a page without JavaScript).

Drill-down: put the URL of the list behind each point in the trace's `customdata` (one string
per point, `drill_urls(...)`); static/js/charts.js follows it on click, and the table links it.
"""

from dataclasses import dataclass, field

import plotly.graph_objects as go

# One look for every chart: the portal's font and colours, no plotly logo, no toolbar clutter.
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c"]
LAYOUT = {
    "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13, "color": "#1f2937"},
    "colorway": PALETTE,
    "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "hoverlabel": {"font": {"size": 13}},
    "legend": {"orientation": "h", "y": -0.18},
    "xaxis": {"gridcolor": "#e5e7eb"},
    "yaxis": {"gridcolor": "#e5e7eb", "rangemode": "tozero"},
    "height": 320,
}
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


@dataclass
class Chart:
    id: str
    title: str
    payload: dict  # {"data", "layout", "config"} for Plotly.newPlot
    # The same data as rows, for the accessible table: [(series, label, value text, url or "")].
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    columns: tuple[str, str, str] = ("Series", "Point", "Value")
    empty: bool = False

    @property
    def data_id(self) -> str:
        return f"{self.id}-data"


def chart(fig: go.Figure, *, chart_id: str, title: str, value_format=str, columns=None, layout=None) -> Chart:
    """A figure ready for the template (see the module docstring).

    `layout` adjusts the portal's look for this chart (axis titles, bar mode …). It is merged into
    the payload as plain JSON: plotly's own `update_layout` and `to_json` validate and serialise
    every key again, which cost more than building the figure (about 7 ms of a 10 ms chart).
    """
    rows = []
    for trace in fig.data:
        name = trace.name or title
        xs = _values(trace, "x") or _values(trace, "labels") or _values(trace, "y")
        ys = _values(trace, "y") if _values(trace, "x") else (_values(trace, "values") or _values(trace, "x"))
        urls = _values(trace, "customdata") or []
        for index, (x, y) in enumerate(zip(xs or [], ys or [], strict=False)):
            url = urls[index] if index < len(urls) else ""
            if isinstance(url, (list, tuple)):
                url = url[0] if url else ""
            rows.append((name, str(x), value_format(y), url or ""))
    figure = fig.to_plotly_json()
    payload = {"data": figure["data"], "layout": merged(figure["layout"], LAYOUT, layout or {}), "config": CONFIG}
    return Chart(
        id=chart_id, title=title, payload=payload, rows=rows, empty=not rows,
        columns=columns or ("Series", "Point", "Value"),
    )  # fmt: skip


def merged(*layouts: dict) -> dict:
    """Later layouts win, key by key, into nested dicts (`{"yaxis": {"title": …}}` keeps the grid colour)."""
    result: dict = {}
    for layout in layouts:
        for key, value in layout.items():
            if isinstance(value, dict):
                # A copy, never the constant itself: a caller adjusting its payload leaves LAYOUT alone.
                result[key] = merged(result[key], value) if isinstance(result.get(key), dict) else merged(value)
            else:
                result[key] = value
    return result


def _values(trace, name):
    value = getattr(trace, name, None)
    if value is None:
        return None
    return list(value)


def drill_urls(base: str, params: list[dict]) -> list[str]:
    """One URL per point: `base` with each point's query string (the filtered list behind it)."""
    from urllib.parse import urlencode

    queries = (urlencode({k: v for k, v in each.items() if v not in (None, "")}) for each in params)
    return [f"{base}?{query}" if query else base for query in queries]
