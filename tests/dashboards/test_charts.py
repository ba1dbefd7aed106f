"""`chart()`: the figure's JSON with the portal's look merged in, and the same points as a table."""

import json

import plotly.graph_objects as go
from django.core.serializers.json import DjangoJSONEncoder

from prm.dashboards.charts import LAYOUT, chart, drill_urls, merged


def test_a_chart_layout_adds_to_the_portal_look_key_by_key():
    fig = go.Figure(go.Bar(name="Calls", x=["2026-09", "2026-10"], y=[1.5, 2.0], customdata=["/a?x=1", "/a?x=2"]))
    result = chart(
        fig, chart_id="calls", title="Calls", value_format=lambda y: f"{y:.2f}",
        layout={"yaxis": {"title": {"text": "USD"}}, "barmode": "stack"},
    )  # fmt: skip
    layout = result.payload["layout"]
    # The chart's own title joins the portal's grid colour instead of replacing the axis.
    assert layout["yaxis"] == {"gridcolor": "#e5e7eb", "rangemode": "tozero", "title": {"text": "USD"}}
    assert layout["barmode"] == "stack" and layout["height"] == LAYOUT["height"]
    assert result.payload["data"][0]["type"] == "bar"
    assert result.rows == [("Calls", "2026-09", "1.50", "/a?x=1"), ("Calls", "2026-10", "2.00", "/a?x=2")]
    assert not result.empty
    # The template hands the payload to json_script: it must serialise as it is.
    assert json.loads(json.dumps(result.payload, cls=DjangoJSONEncoder))["data"][0]["y"] == [1.5, 2.0]


def test_an_empty_figure_says_so():
    assert chart(go.Figure(), chart_id="none", title="Nothing").empty


def test_merged_leaves_its_inputs_alone_and_later_wins():
    base = {"margin": {"l": 56, "r": 16}, "height": 320}
    assert merged(base, {"margin": {"l": 16}}) == {"margin": {"l": 16, "r": 16}, "height": 320}
    assert base == {"margin": {"l": 56, "r": 16}, "height": 320}
    copy = merged(LAYOUT)
    copy["yaxis"]["title"] = "changed"
    assert "title" not in LAYOUT["yaxis"]


def test_drill_urls_drop_empty_filters():
    assert drill_urls("/billing/invoices/", [{"period": "2026-10", "tier": ""}, {"period": None}]) == [
        "/billing/invoices/?period=2026-10",
        "/billing/invoices/",
    ]
