"""The statistics page's window and the console's links to the Temporal Web UI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from oms.settings import Settings, problems
from web.dashboards import period_window, workflow_url
from web.render import duration, percent


def test_a_period_is_whole_utc_days_ending_with_today():
    start, end = period_window(7, datetime(2026, 3, 10, 23, 59, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))


def test_the_temporal_ui_defaults_to_the_dev_stacks_port_and_takes_a_url():
    assert Settings(temporal_ui_port=9000).temporal_ui_base == "http://127.0.0.1:9000"
    ui = Settings(temporal_ui_url="https://temporal.example.com/ui/").temporal_ui_base
    assert ui == "https://temporal.example.com/ui"
    assert workflow_url(ui, "prod orders", "order-crypto-0xab/1") == (
        "https://temporal.example.com/ui/namespaces/prod%20orders/workflows/order-crypto-0xab%2F1")


def test_a_bad_temporal_ui_url_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("OMS_TEMPORAL_UI_URL", "temporal.example.com")
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None)
    [line] = problems(err.value)
    assert line.startswith("OMS_TEMPORAL_UI_URL: must match ^https?://")


@pytest.mark.parametrize(("seconds", "said"), [
    (None, "–"), (90, "2 min"), (5400, "1.5 h"), (3 * 86400, "3.0 days")])
def test_durations_read_in_the_unit_that_fits(seconds, said):
    assert duration(seconds) == said


def test_rates_read_as_percentages():
    assert (percent(None), percent(0.25), percent(1)) == ("–", "25.0 %", "100.0 %")
