"""The alert rules, Prometheus config and Grafana dashboard refer to metrics oms really
exports, and the compose file wires them up (promtool and Grafana are not run here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import activities.metrics  # noqa: F401 - registers the worker's metrics
import api.metrics  # noqa: F401 - registers the API's metrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/grafana/dashboards/oms-orders.json").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def exported() -> set[str]:
    names = set()
    for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001
        for family in collector.describe() if hasattr(collector, "describe") else []:
            names.add(family.name)
            names |= {family.name + s for s in ("_total", "_bucket", "_count", "_sum")}
    return names


def oms_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\boms_[a-z_]+", expr))


def test_the_three_alerts_of_the_specification_exist():
    rules = {r["alert"]: r for g in ALERTS["groups"] for r in g["rules"]}
    assert set(rules) == {"OrdersStuckInProcessing", "HighCancellationRate",
                          "HighPaymentFailureRate"}
    assert 'status="processing"' in rules["OrdersStuckInProcessing"]["expr"]
    assert "[24h]" in rules["HighCancellationRate"]["expr"] and "0.10" in rules[
        "HighCancellationRate"]["expr"]
    assert "[1h]" in rules["HighPaymentFailureRate"]["expr"] and "0.05" in rules[
        "HighPaymentFailureRate"]["expr"]


@pytest.mark.parametrize("expr", [r["expr"] for g in ALERTS["groups"] for r in g["rules"]]
                         + [t["expr"] for p in DASHBOARD["panels"] for t in p["targets"]])
def test_every_oms_metric_referenced_is_exported(expr):
    missing = oms_metrics(expr) - exported()
    assert not missing, f"{missing} in {expr}"


def test_prometheus_scrapes_the_api_the_worker_and_the_sdk_and_loads_the_rules():
    targets = {t for job in PROMETHEUS["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]}
    assert targets == {"api:8000", "worker:9465", "worker:9464"}
    assert PROMETHEUS["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_compose_runs_prometheus_and_grafana_with_these_files():
    services = COMPOSE["services"]
    prom_mounts = " ".join(services["prometheus"]["volumes"])
    assert "deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml" in prom_mounts
    assert "deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml" in prom_mounts
    graf_mounts = " ".join(services["grafana"]["volumes"])
    assert "deploy/grafana/dashboards:/var/lib/grafana/dashboards" in graf_mounts
    assert services["worker"]["environment"]["OMS_METRICS_HOST"] == "0.0.0.0"
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/oms.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_dashboard_covers_the_order_metrics():
    used = set().union(*(oms_metrics(t["expr"]) for p in DASHBOARD["panels"]
                         for t in p["targets"]))
    assert {"oms_orders_created_total", "oms_status_transitions_total",
            "oms_time_in_status_seconds_bucket", "oms_time_to_fulfilment_seconds_bucket",
            "oms_orders_stuck", "oms_orders_cancelled_total", "oms_payment_failures_total",
            "oms_webhook_events_total", "oms_api_request_seconds_bucket"} <= used
