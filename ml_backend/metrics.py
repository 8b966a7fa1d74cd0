"""A tiny Prometheus registry: counters, gauges and histograms in the text format 0.0.4.

Small on purpose, with no process-global registry, so every app (and test) has its own: the
backend exposes a handful of series, declared in :data:`SERIES` so ``/metrics`` shows every
one from the start. prometheus_client's parser reads the output back in the tests.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
LabelSet = tuple[tuple[str, str], ...]

SERIES: dict[str, tuple[Kind, str]] = {
    "winnow_backend_requests_total": ("counter", "HTTP requests by endpoint and status code."),
    "winnow_backend_request_seconds": ("histogram", "HTTP request latency by endpoint."),
    "winnow_backend_tasks_total": ("counter", "Tasks answered by /predict, by outcome."),
    "winnow_backend_task_failures_total": ("counter", "Tasks left without a prediction, by kind."),
    "winnow_backend_embedding_cache_total": (
        "counter",
        "Images answered from the feature store (hit) or embedded now (computed).",
    ),
    "winnow_backend_webhook_events_total": ("counter", "Webhook events received, by action."),
    "winnow_backend_training_state": ("gauge", "1 for the current training state."),
    "winnow_backend_model_ready": ("gauge", "1 when the predictor's model is loaded."),
    "winnow_backend_training_runs": ("gauge", "Training runs finished (all) and failed."),
    "winnow_backend_trained_model_active": (
        "gauge",
        "1 when a project is served by its trained model, 0 on zero-shot.",
    ),
}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """Thread-safe; label values are free text (escaped on output)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[LabelSet, float]] = defaultdict(dict)
        self._hist: dict[str, dict[LabelSet, list[float]]] = defaultdict(dict)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        self._check(name, "counter")
        key = _key(labels)
        with self._lock:
            series = self._values[name]
            series[key] = series.get(key, 0.0) + value

    def set(self, name: str, value: float, **labels: str) -> None:
        self._check(name, "gauge")
        with self._lock:
            self._values[name][_key(labels)] = value

    def set_state(self, name: str, state: str, states: tuple[str, ...]) -> None:
        """A state-set gauge: 1 for ``state``, 0 for the other ``states``."""
        for other in states:
            self.set(name, 1.0 if other == state else 0.0, state=other)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._check(name, "histogram")
        with self._lock:
            counts = self._hist[name].setdefault(_key(labels), [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if value <= bound:
                    counts[i] += 1
            counts[-2] += value  # sum
            counts[-1] += 1  # count (the +Inf bucket)

    def value(self, name: str, **labels: str) -> float:
        """Current value of one counter/gauge series (0 when never set); for tests and logs."""
        with self._lock:
            return self._values[name].get(_key(labels), 0.0)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, (kind, help_text) in SERIES.items():
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
                if kind == "histogram":
                    lines += _histogram_lines(name, self._hist[name])
                else:
                    lines += [f"{name}{_fmt(k)} {_num(v)}" for k, v in self._values[name].items()]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _check(name: str, kind: Kind) -> None:
        if SERIES.get(name, (None,))[0] != kind:
            raise KeyError(f"{name} is not a declared {kind}")


def _histogram_lines(name: str, series: dict[LabelSet, list[float]]) -> list[str]:
    lines = []
    for key, counts in series.items():
        for bound, count in zip(
            (*BUCKETS, math.inf), (*counts[: len(BUCKETS)], counts[-1]), strict=True
        ):
            le = "+Inf" if math.isinf(bound) else repr(bound)
            lines.append(f"{name}_bucket{_fmt((*key, ('le', le)))} {_num(count)}")
        lines += [
            f"{name}_sum{_fmt(key)} {_num(counts[-2])}",
            f"{name}_count{_fmt(key)} {_num(counts[-1])}",
        ]
    return lines


def _key(labels: dict[str, str]) -> LabelSet:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _fmt(key: LabelSet) -> str:
    if not key:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in key)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(key, escaped, strict=True)) + "}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
