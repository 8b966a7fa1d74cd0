"""The backend's /metrics text is read back by Prometheus's own parser (prometheus_client),
so a scrape cannot fail on format: every declared series, labels and histograms intact."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ml_backend.metrics import SERIES, Metrics


def test_prometheus_parses_every_series_with_its_values():
    m = Metrics()
    m.inc("winnow_backend_requests_total", endpoint="/predict", status="200")
    m.inc("winnow_backend_task_failures_total", kind='quote " and \\ backslash')
    m.set_state("winnow_backend_training_state", "training", ("idle", "training"))
    for seconds in (0.003, 0.2, 7.0):
        m.observe("winnow_backend_request_seconds", seconds, endpoint="/predict")
    families = {f.name: f for f in text_string_to_metric_families(m.render())}
    # the parser drops a counter's _total suffix from the family name
    names = {name.removesuffix("_total") for name in SERIES}
    assert set(families) == names
    assert {f.type for f in families.values()} == {"counter", "gauge", "histogram"}
    failures = families["winnow_backend_task_failures"].samples
    assert failures[0].labels == {"kind": 'quote " and \\ backslash'} and failures[0].value == 1
    states = {s.labels["state"]: s.value for s in families["winnow_backend_training_state"].samples}
    assert states == {"idle": 0.0, "training": 1.0}
    hist = {
        (s.name, s.labels.get("le")): s.value
        for s in families["winnow_backend_request_seconds"].samples
    }
    assert hist[("winnow_backend_request_seconds_count", None)] == 3
    assert hist[("winnow_backend_request_seconds_bucket", "0.005")] == 1
    assert hist[("winnow_backend_request_seconds_bucket", "+Inf")] == 3
    assert abs(hist[("winnow_backend_request_seconds_sum", None)] - 7.203) < 1e-9
