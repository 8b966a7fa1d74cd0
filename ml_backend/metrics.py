"""The backend's Prometheus series, declared in :data:`SERIES` so ``/metrics`` lists every
one from the start.

Callers name a series by its exposed name (``winnow_backend_tasks_total``) and pass its
labels as keywords; a name that is not declared, or is declared as another kind, is refused.
Every app (and test) gets its own registry through :class:`winnow.metrics.MetricSet`.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from prometheus_client import Counter, Gauge, Histogram

from winnow.metrics import MetricSet

Kind = Literal["counter", "gauge", "histogram"]
PREFIX = "winnow_backend"


class Series(NamedTuple):
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


SERIES: dict[str, Series] = {
    "winnow_backend_requests_total": Series(
        "counter", "HTTP requests by endpoint and status code.", ("endpoint", "status")
    ),
    "winnow_backend_request_seconds": Series(
        "histogram", "HTTP request latency by endpoint.", ("endpoint",)
    ),
    "winnow_backend_tasks_total": Series(
        "counter", "Tasks answered by /predict, by outcome.", ("outcome",)
    ),
    "winnow_backend_task_failures_total": Series(
        "counter", "Tasks left without a prediction, by kind.", ("kind",)
    ),
    "winnow_backend_embedding_cache_total": Series(
        "counter",
        "Images answered from the feature store (hit) or embedded now (computed).",
        ("result",),
    ),
    "winnow_backend_webhook_events_total": Series(
        "counter", "Webhook events received, by action.", ("action",)
    ),
    "winnow_backend_webhook_duplicates_total": Series(
        "counter", "Annotation events ignored: the same (id, updated_at) was counted before."
    ),
    "winnow_backend_training_state": Series(
        "gauge", "1 for the current training state.", ("state",)
    ),
    "winnow_backend_model_ready": Series("gauge", "1 when the predictor's model is loaded."),
    "winnow_backend_training_runs": Series(
        "gauge", "Training runs finished (all) and failed.", ("outcome",)
    ),
    "winnow_backend_trained_model_active": Series(
        "gauge", "1 when a project is served by its trained model, 0 on zero-shot.", ("project",)
    ),
}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """Thread-safe; label values are free text (escaped on output)."""

    def __init__(self) -> None:
        self._set = MetricSet(PREFIX)
        self._series: dict[str, Counter | Gauge | Histogram] = {
            name: self._declare(name.removeprefix(f"{PREFIX}_"), series)
            for name, series in SERIES.items()
        }

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        self._get(name, "counter", labels).inc(value)

    def set(self, name: str, value: float, **labels: str) -> None:
        self._get(name, "gauge", labels).set(value)

    def set_state(self, name: str, state: str, states: tuple[str, ...]) -> None:
        """A state-set gauge: 1 for ``state``, 0 for the other ``states``."""
        for other in states:
            self.set(name, 1.0 if other == state else 0.0, state=other)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._get(name, "histogram", labels).observe(value)

    def value(self, name: str, **labels: str) -> float:
        """Current value of one counter/gauge series (0 when never set); for tests and logs."""
        found = self._set.sample(name, {k: str(v) for k, v in labels.items()})
        return 0.0 if found is None else found

    def render(self) -> str:
        """The text exposition; serve it as :data:`winnow.metrics.CONTENT_TYPE`."""
        return self._set.render().decode()

    def _declare(self, short: str, series: Series) -> Counter | Gauge | Histogram:
        if series.kind == "counter":
            return self._set.counter(short, series.help, series.labels)
        if series.kind == "gauge":
            return self._set.gauge(short, series.help, series.labels)
        return self._set.histogram(short, series.help, series.labels, buckets=BUCKETS)

    def _get(self, name: str, kind: Kind, labels: dict[str, str]) -> Any:
        declared = SERIES.get(name)
        if declared is None or declared.kind != kind:
            raise KeyError(f"{name} is not a declared {kind}")
        metric = self._series[name]
        return metric.labels(**{k: str(v) for k, v in labels.items()}) if labels else metric
