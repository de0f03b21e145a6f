"""The server-drawn SVG charts: marks carry the numbers they draw, to scale, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from web.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    Point,
    bar_chart,
    line_chart,
    seller_charts,
)

SVG = "{http://www.w3.org/2000/svg}"


def _tree(markup) -> ET.Element:
    # The markup has no namespace declaration of its own (it is inline in HTML); add one.
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ',
                                             1))


def _marks(markup) -> list[ET.Element]:
    return [e for e in _tree(markup).iter() if e.get("class") == "mark"]


def test_bars_are_to_scale_and_carry_their_values():
    chart = bar_chart("c", "Orders", "per day", [Point("2026-11-01", 2), Point("2026-11-02", 0),
                                                  Point("2026-11-03", 4)])
    bars = _marks(chart)
    assert [(b.get("data-label"), b.get("data-value")) for b in bars] == [
        ("2026-11-01", "2"), ("2026-11-02", "0"), ("2026-11-03", "4")]
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    assert [float(b.get("height")) for b in bars] == [round(plot_h / 2, 1), 0.0, plot_h]
    root = _tree(chart)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c-title c-desc"
    assert root.find(f"{SVG}title").text == "Orders"


def test_a_line_breaks_where_a_day_has_no_value():
    chart = line_chart("t", "Time to ship", "hours", [("hours", [
        Point("2026-11-01", 5), Point("2026-11-02", None), Point("2026-11-03", 7),
        Point("2026-11-04", 9)])], unit=" h")
    (path,) = [e for e in _tree(chart).iter(f"{SVG}path")]
    assert path.get("d").count("M") == 2 and path.get("d").count("L") == 1
    assert [m.get("data-value") for m in _marks(chart)] == ["5", "7", "9"]


def test_labels_are_escaped_and_an_empty_period_says_so():
    chart = bar_chart("x", "<script>alert(1)</script>", "d", [Point("<b>", 1)])
    assert "<script>" not in str(chart) and "&lt;script&gt;" in str(chart)
    empty = bar_chart("e", "Orders", "none", [])
    assert "No orders in this period" in str(empty) and _marks(empty) == []


def test_the_seller_charts_draw_the_stats_apis_days():
    days = [{"day": "2026-11-01", "created": 4, "completed": 1, "cancelled": 1,
             "timeToShipSeconds": 7200.0},
            {"day": "2026-11-02", "created": 0, "completed": 0, "cancelled": 0,
             "timeToShipSeconds": None}]
    orders, rates, ship = seller_charts({"ordersPerDay": days, "ordersCreated": 4})
    assert [m.get("data-value") for m in _marks(orders)] == ["4", "0"]
    assert [(m.get("data-series"), m.get("data-value")) for m in _marks(rates)] == [
        ("completed", "0.25"), ("cancelled", "0.25")]  # the empty day has no rate
    assert [m.get("data-value") for m in _marks(ship)] == ["2"]  # hours
