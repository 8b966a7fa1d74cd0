"""Prometheus metrics for one app: its own registry, one name prefix, one exposition.

A registry per app, not prometheus_client's process-global one, so tests can build many
apps in one process. The exposition leaves out the ``*_created`` timestamps that
prometheus_client adds to counters and histograms: the text format has no place for them,
so a scraper would store each one as one more gauge series per label set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# generate_latest writes the classic text format, so this is the type that matches it
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class MetricSet:
    """Counters, gauges and histograms named ``<prefix>_<name>``, rendered together."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.registry = CollectorRegistry()

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """``name`` may end in ``_total``; the exposed series always does."""
        return Counter(self._name(name), documentation, labels, registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(self._name(name), documentation, labels, registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> Histogram:
        return Histogram(
            self._name(name), documentation, labels, buckets=buckets, registry=self.registry
        )

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """One exposed sample by its full name (``..._total``, ``..._count``), or None."""
        return self.registry.get_sample_value(name, labels or {})

    def render(self) -> bytes:
        """The text exposition; serve it with :data:`CONTENT_TYPE`."""
        return generate_latest(_WithoutCreated(self.registry))

    def _name(self, name: str) -> str:
        return f"{self.prefix}_{name}"


class _WithoutCreated(Collector):
    """A read-only view of a registry that drops the ``*_created`` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            created = f"{family.name}_created"
            family.samples = [s for s in family.samples if s.name != created]
            yield family
