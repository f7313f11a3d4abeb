"""The observability files in docker/: compose profile, Prometheus config, Grafana dashboard.

`docker compose config` needs Docker; these checks read the same files with a YAML parser and
hold the dashboard to the metrics the platform really exports.
"""

import json
import re
from pathlib import Path

import yaml

from runtime import metrics

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def exported_names() -> set[str]:
    names = set()
    for collector in (
        metrics.INGEST_REQUESTS, metrics.STAGE_EVENTS, metrics.DELIVERY_EVENTS, metrics.DELIVERY_LATENCY,
        metrics.SANDBOX_CALLS, metrics.SANDBOX_TIMEOUTS, metrics.SANDBOX_MEMORY, metrics.HOST_RESTARTS,
        metrics.DEPLOYS,
    ):  # fmt: skip
        for family in collector.describe():
            names.add(family.name + ("_total" if family.type == "counter" else ""))
            if family.type == "histogram":
                names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names | {"fp_buffer_depth", "fp_buffer_inflight"}


def test_prometheus_and_grafana_only_in_the_observability_profile():
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "profiles" not in services[name]


def test_web_and_worker_write_samples_where_web_collects_them():
    services = compose()["services"]
    web, worker = services["web"]["environment"], services["worker"]["environment"]
    root = web["METRICS_COLLECT_DIR"]
    assert web["PROMETHEUS_MULTIPROC_DIR"].startswith(root + "/")
    assert worker["PROMETHEUS_MULTIPROC_DIR"].startswith(root + "/")
    assert web["PROMETHEUS_MULTIPROC_DIR"] != worker["PROMETHEUS_MULTIPROC_DIR"]  # each resets its own
    for name in ("web", "worker"):
        assert any(v.endswith(":" + root) for v in services[name]["volumes"])
    assert "gunicorn_conf" in services["web"]["command"]


def test_prometheus_scrapes_web_with_the_token_and_grafana_is_provisioned():
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    assert job["authorization"]["type"] == "Bearer"
    assert "web" in compose()["x-app"]["environment"]["ALLOWED_HOSTS"]
    datasource = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/functions-platform.yml").read_text())
    mounts = compose()["services"]["grafana"]["volumes"]
    assert any(m.endswith(":" + provider["providers"][0]["options"]["path"] + ":ro") for m in mounts)


def test_dashboard_queries_name_only_exported_metrics():
    dashboard = json.loads((DOCKER / "grafana/dashboards/functions-platform.json").read_text())
    uid = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ][0]["uid"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    assert len(exprs) >= 12
    used = {name for expr in exprs for name in re.findall(r"\bfp_[a-z_]+", expr)}
    assert used <= exported_names(), used - exported_names()
    assert {"fp_delivery_latency_seconds_bucket", "fp_buffer_depth", "fp_sandbox_host_restarts_total"} <= used
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"] if p["type"] != "row")
