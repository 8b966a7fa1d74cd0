"""The metrics helper: one prefix, a registry per app, and an exposition that Prometheus's own
parser reads back without ``*_created`` series."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from winnow.metrics import CONTENT_TYPE, MetricSet


def _filled() -> MetricSet:
    metrics = MetricSet("winnow_demo")
    metrics.counter("jobs_total", "Jobs run, by outcome.", ("outcome",)).labels("ok").inc(2)
    metrics.counter("bytes", "Bytes read.").inc(10)
    metrics.gauge("ready", "1 when ready.").set(1)
    latency = metrics.histogram("job_seconds", "Job time.", ("kind",), buckets=(0.1, 1.0))
    for seconds in (0.05, 0.5, 5.0):
        latency.labels("import").observe(seconds)
    return metrics


def test_names_take_the_prefix_and_counters_always_end_in_total() -> None:
    families = {f.name: f for f in text_string_to_metric_families(_filled().render().decode())}
    # the parser drops a counter's _total suffix from the family name
    assert set(families) == {
        "winnow_demo_jobs",
        "winnow_demo_bytes",
        "winnow_demo_ready",
        "winnow_demo_job_seconds",
    }
    samples = {(s.name, s.labels.get("le")): s.value for f in families.values() for s in f.samples}
    assert samples[("winnow_demo_jobs_total", None)] == 2
    assert samples[("winnow_demo_bytes_total", None)] == 10
    assert samples[("winnow_demo_ready", None)] == 1
    assert samples[("winnow_demo_job_seconds_bucket", "0.1")] == 1
    assert samples[("winnow_demo_job_seconds_bucket", "1.0")] == 2
    assert samples[("winnow_demo_job_seconds_bucket", "+Inf")] == 3
    assert samples[("winnow_demo_job_seconds_sum", None)] == 5.55


def test_the_exposition_has_no_created_timestamps() -> None:
    metrics = _filled()
    assert "_created" not in metrics.render().decode()
    # the registry still has them; only the exposition leaves them out
    assert metrics.sample("winnow_demo_bytes_created") is not None


def test_each_set_has_its_own_registry() -> None:
    first, second = _filled(), _filled()  # the same names twice: no "duplicated" error
    first.counter("extra_total", "Only in the first.").inc()
    assert first.sample("winnow_demo_extra_total") == 1
    assert second.sample("winnow_demo_extra_total") is None
    assert second.sample("winnow_demo_jobs_total", {"outcome": "ok"}) == 2


def test_the_content_type_is_the_classic_text_format() -> None:
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
