"""The Grafana dashboard and the Prometheus rules name only metrics and labels the code exports.

The exported names are read from the code's metric definitions (every `*MetricFamily("name",
..., labels=[...])` under gateway/, streams/ and infra/), expanded the way the exposition format
names their series (a counter's `_total`, a histogram's `_bucket`/`_sum`/`_count` and `le`); a
second test renders the real collectors to prove that expansion right. So a metric renamed in
the code, or a typo in a panel or an alert, fails here instead of drawing an empty panel.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.core import Metric

from gateway.lag_gauges import LagGauges
from gateway.metrics import Metrics
from infra.lag import PartitionLag, group_lag_families
from infra.settings import Settings
from streams.health import AgentHealth, WorkDone
from streams.health_http import agent_families, work_families

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "infra" / "grafana" / "photofeed.json"
PROMETHEUS = ROOT / "infra" / "prometheus" / "prometheus.yml"
ALERTS = ROOT / "infra" / "prometheus" / "alerts.yml"
EXPORTING = ("gateway", "streams", "infra")  # where metric families are defined
FAMILIES = {"CounterMetricFamily": "counter", "GaugeMetricFamily": "gauge",
            "HistogramMetricFamily": "histogram"}  # fmt: skip
TARGET_LABELS = {"job", "instance"}  # Prometheus adds these to every scraped series
SYNTHETIC = {"up": set[str]()}  # Prometheus' own series per target
NAME = re.compile(r"\b(photofeed_[a-z0-9_]+|up)\b(?!\s*\()")
SELECTOR = re.compile(r"\b(photofeed_[a-z0-9_]+|up)\s*\{([^}]*)\}")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
TEMPLATE_LABEL = re.compile(r"\{\{\s*(?:\$labels\.)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
# the dashboard must cover these concerns (issue 16): one metric each, at least
REQUIRED_ON_DASHBOARD = {
    "photofeed_http_requests_total", "photofeed_http_request_seconds_bucket",
    "photofeed_group_lag", "photofeed_lag_probe_ok", "photofeed_worker_messages_total",
    "photofeed_projection_events_total", "photofeed_dead_letters_total",
    "photofeed_fanout_deliveries_total", "photofeed_media_processing_seconds_bucket",
    "photofeed_media_uploads_total", "photofeed_agent_running", "photofeed_agent_crashes_total",
}  # fmt: skip


def defined_families() -> dict[str, tuple[str, set[str]]]:
    """name -> (type, labels) of every metric family the code defines with literal arguments."""
    out: dict[str, tuple[str, set[str]]] = {}
    for folder in EXPORTING:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                kind = _family_kind(node)
                if kind is None or not isinstance(node, ast.Call):
                    continue
                name = node.args[0]
                assert isinstance(name, ast.Constant), f"{path}: a metric name must be a literal"
                assert isinstance(name.value, str), path
                labels: set[str] = set()
                for kw in node.keywords:
                    if kw.arg == "labels":
                        assert isinstance(kw.value, ast.List | ast.Tuple), path
                        labels = {ast.literal_eval(e) for e in kw.value.elts}
                assert name.value not in out, f"{name.value} is defined twice"
                out[name.value] = (kind, labels)
    return out


def _family_kind(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return FAMILIES.get(called) if isinstance(called, str) else None


def exported_series() -> dict[str, set[str]]:
    """Series name -> its labels, as the exposition format names them."""
    out: dict[str, set[str]] = {n: set(labels) for n, labels in SYNTHETIC.items()}
    for name, (kind, labels) in defined_families().items():
        if kind == "counter":
            out[f"{name}_total"] = labels
        elif kind == "histogram":
            out |= {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels,
                    f"{name}_count": labels}  # fmt: skip
        else:
            out[name] = labels
    return out


def strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def problems(
    expr: str, series: dict[str, set[str]], shown: Collection[str] = frozenset()
) -> list[str]:
    """What `expr` names that no exported series has; `shown`: labels a legend or an
    annotation prints, which must be labels of a series the expression reads."""
    bare = strip_strings(expr)
    names = set(NAME.findall(re.sub(r"\{[^}]*\}", "", bare)))
    out = [f"unknown metric {n}" for n in sorted(names - set(series))]
    known = set().union(*(series.get(n, set()) for n in names)) | TARGET_LABELS
    for name, matchers in SELECTOR.findall(expr):
        for label in MATCHER.findall(strip_strings(matchers)):
            if label not in series.get(name, set()) | TARGET_LABELS:
                out.append(f"{name} has no label {label}")
    for grouping in GROUPING.findall(bare):
        for label in (g.strip() for g in grouping.split(",") if g.strip()):
            if label not in known:
                out.append(f"no series of {sorted(names)} has the label {label}")
    out += [f"shows the label {label}, which {sorted(names)} lack" for label in
            sorted(set(shown) - known)]  # fmt: skip
    return out


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in doc["panels"]:
        yield panel
        yield from panel.get("panels", [])


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_the_derived_names_are_what_the_collectors_expose() -> None:
    """Render every collector with a sample of everything and compare series and labels."""
    metrics = Metrics()
    metrics.observe("GET", "/api/v1/feed", 200, 0.003)
    health = AgentHealth()
    health.batch_done("project_photofeed_posts", {("photofeed.posts", 0): 5}, 4, 1.0)
    health.dead_lettered("project_photofeed_posts", "photofeed.posts", "bad_input")
    work = WorkDone()
    work.applied("project_photofeed_posts", "feeds", [object()], {object})
    work.deliveries["project_photofeed_posts"] = 3
    work.media_done("published", 0.4)
    lag = LagGauges(["g"], lambda _g: [], timeout_s=1.0)
    lag.close()
    families: list[Metric] = [
        *metrics.collect(),
        *lag.collect(),
        *group_lag_families({"g": [PartitionLag("t", 0, 1, 0, 3)]}),
        *agent_families(health.snapshot(lambda _t, _p: 9)),
        *work_families(work),
    ]
    rendered: dict[str, set[str]] = {}
    for family in families:
        for sample in family.samples:
            rendered.setdefault(sample.name, set()).update(sample.labels)
    series = exported_series()
    # every sample the collectors produce is a derived series with the derived labels...
    assert {n: series.get(n) for n in rendered} == rendered
    # ...and every derived series of the families rendered here was produced
    names = {f.name for f in families}
    expected = {s for s in series if s != "up" and any(s.startswith(n) for n in names)}
    no_sample = {"photofeed_lag_probe_age_seconds", "photofeed_lag_probe_duration_seconds"}
    assert expected - no_sample == set(rendered)  # those two have no sample before a probe


def test_every_dashboard_query_reads_exported_series() -> None:
    series = exported_series()
    found: list[str] = []
    seen: set[str] = set()
    for panel in panels(dashboard()):
        for target in panel.get("targets", []):
            expr = target["expr"]
            seen |= set(NAME.findall(re.sub(r"\{[^}]*\}", "", strip_strings(expr))))
            shown = set(TEMPLATE_LABEL.findall(target.get("legendFormat", "")))
            found += [f"{panel['title']}: {p}" for p in problems(expr, series, shown)]
    assert found == []
    assert seen >= REQUIRED_ON_DASHBOARD, REQUIRED_ON_DASHBOARD - seen


def test_every_alert_reads_exported_series_and_scraped_jobs() -> None:
    series = exported_series()
    jobs = {c["job_name"] for c in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    rules = alert_rules()
    assert {"PhotofeedLagGrowing", "PhotofeedDeadLetters", "PhotofeedHigh5xxRate",
            "PhotofeedWorkerDown"} <= {r["alert"] for r in rules}  # fmt: skip
    for rule in rules:
        texts = " ".join(str(v) for v in rule.get("annotations", {}).values())
        shown = set(TEMPLATE_LABEL.findall(texts)) - {"value"}
        assert problems(rule["expr"], series, shown) == [], rule["alert"]
        assert set(re.findall(r'job="([^"]+)"', rule["expr"])) <= jobs, rule["alert"]
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, rule["alert"]


def test_the_checker_catches_drift() -> None:
    """The checks above could fail: a renamed metric, a wrong label, a legend's stray label."""
    series = exported_series()
    assert problems("rate(photofeed_http_request_total[5m])", series)
    assert problems('photofeed_group_lag{agent="x"}', series)
    assert problems("sum by (reason) (photofeed_group_lag)", series)
    assert problems("photofeed_group_lag", series, {"route"})
    assert not problems('sum by (group) (photofeed_group_lag{topic=~"a|b"})', series, {"group"})


def test_the_dashboard_imports_with_a_datasource_input() -> None:
    doc = dashboard()
    assert [i["name"] for i in doc["__inputs"]] == ["DS_PROMETHEUS"]
    assert doc["__inputs"][0]["pluginId"] == "prometheus"
    ids = [p["id"] for p in panels(doc)]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels(doc):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in panel["targets"])


DEFAULT_PORTS = [("photofeed-gateway", Settings().gateway_port),
                 ("photofeed-worker", Settings().worker_port)]  # fmt: skip


@pytest.mark.parametrize(("job", "port"), DEFAULT_PORTS)
def test_prometheus_scrapes_the_default_ports_and_loads_the_rules(job: str, port: int) -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    scrape = {c["job_name"]: c for c in config["scrape_configs"]}[job]
    assert scrape["metrics_path"] == "/metrics"
    assert [t for c in scrape["static_configs"] for t in c["targets"]] == [f"127.0.0.1:{port}"]
    assert [PROMETHEUS.parent / f for f in config["rule_files"]] == [ALERTS]
