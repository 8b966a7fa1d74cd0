"""The Prometheus text the backend exposes."""

from __future__ import annotations

import pytest

from ml_backend.metrics import BUCKETS, SERIES, Metrics


def test_every_declared_series_has_help_and_type_even_before_use():
    text = Metrics().render()
    for name, series in SERIES.items():
        assert f"# TYPE {name} {series.kind}\n" in text
        assert f"# HELP {name} " in text


def test_counters_gauges_and_escaped_labels():
    m = Metrics()
    m.inc("winnow_backend_webhook_events_total", action="ANNOTATION_CREATED")
    m.inc("winnow_backend_webhook_events_total", 2, action="ANNOTATION_CREATED")
    m.inc("winnow_backend_task_failures_total", kind='odd "kind"\\x\n')
    m.set_state("winnow_backend_training_state", "idle", ("idle", "training"))
    text = m.render()
    assert 'winnow_backend_webhook_events_total{action="ANNOTATION_CREATED"} 3.0\n' in text
    assert 'winnow_backend_task_failures_total{kind="odd \\"kind\\"\\\\x\\n"} 1.0\n' in text
    assert 'winnow_backend_training_state{state="idle"} 1.0\n' in text
    assert 'winnow_backend_training_state{state="training"} 0.0\n' in text
    assert m.value("winnow_backend_webhook_events_total", action="ANNOTATION_CREATED") == 3


def test_histogram_buckets_are_cumulative_with_sum_and_count():
    m = Metrics()
    for seconds in (0.001, 0.2, 0.2, 100.0, 1000.0):
        m.observe("winnow_backend_request_seconds", seconds, endpoint="/predict")
    lines = [ln for ln in m.render().splitlines() if ln.startswith("winnow_backend_request_sec")]
    buckets = {
        ln.split('le="')[1].split('"')[0]: float(ln.rsplit(" ", 1)[1])
        for ln in lines
        if "_bucket" in ln
    }
    assert buckets["0.005"] == 1 and buckets["0.25"] == 3 and buckets["120.0"] == 4
    assert buckets["+Inf"] == 5
    assert list(buckets.values()) == sorted(buckets.values())
    assert len(buckets) == len(BUCKETS) + 1
    assert 'winnow_backend_request_seconds_count{endpoint="/predict"} 5.0' in lines
    total = next(ln for ln in lines if "_sum" in ln)
    assert float(total.rsplit(" ", 1)[1]) == pytest.approx(1100.401)


def test_undeclared_or_mistyped_series_are_refused():
    m = Metrics()
    with pytest.raises(KeyError):
        m.inc("winnow_backend_nope_total")
    with pytest.raises(KeyError):
        m.set("winnow_backend_requests_total", 1.0)
    with pytest.raises(ValueError):  # labels are declared with the series
        m.inc("winnow_backend_tasks_total", not_a_label="x")
