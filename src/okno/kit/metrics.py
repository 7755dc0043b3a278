"""Prometheus metrics of one process (``GET /metrics``; docs/deployment.md).

Counters and histograms are updated where the work happens; queue depths and consumer lag are
gauges read when Prometheus scrapes (``okno.ops``), so an idle process costs nothing. Each
process exposes its own figures: Prometheus adds them up across processes.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

REGISTRY = CollectorRegistry(auto_describe=True)


class _Flushed(MetricWrapperBase):
    """A metric that first takes in what was gathered for it elsewhere (``before_collect``)."""

    before_collect: Callable[[], None] = staticmethod(lambda: None)  # type: ignore[assignment]

    def collect(self) -> Iterable[Any]:
        self.before_collect()
        return super().collect()


class _FlushedCounter(_Flushed, Counter):
    pass


class _FlushedHistogram(_Flushed, Histogram):
    pass


class RequestTally:
    """Webhook requests counted by status and timed, handed to prometheus_client in bulk.

    ``Counter.inc`` and ``Histogram.observe`` take a lock per call and walk the buckets in Python
    (~3 µs per request, on the event loop's thread); ``record`` appends to a deque (safe from any
    thread), and the gathered requests are added to the two metrics every ``batch`` requests and
    whenever either metric is collected (``/metrics``, ``get_sample_value``): what is exported is
    what direct updates would have given, the sum to the last bit (tests/test_metrics_tally.py).
    The two metrics are updated through the tally only."""

    def __init__(self, requests: _FlushedCounter, latency: _FlushedHistogram, *, batch: int = 1024) -> None:
        self.requests, self.latency, self.batch = requests, latency, batch
        self._pending: deque[tuple[Any, float]] = deque()
        # each status's series made at its first request, as ``labels()`` would (its _created time)
        self._by_status: dict[int, Any] = {}
        self._bounds = latency._upper_bounds  # buckets' upper bounds, +Inf last
        self._flushing = threading.Lock()
        requests.before_collect = latency.before_collect = self.flush

    def record(self, status: int, seconds: float) -> None:
        series = self._by_status.get(status)
        if series is None:
            series = self._by_status[status] = self.requests.labels(str(status))
        self._pending.append((series, seconds))
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self._flushing:  # one flush at a time: the sum is read, added to and written back
            counts: dict[Any, int] = {}
            buckets = [0] * len(self._bounds)
            total = self.latency._sum.get()  # noqa: SLF001 (observe()'s own values, added to in bulk)
            take = self._pending.popleft  # each request taken exactly once, whichever thread flushes
            while True:
                try:
                    series, seconds = take()
                except IndexError:
                    break
                counts[series] = counts.get(series, 0) + 1
                buckets[bisect_left(self._bounds, seconds)] += 1  # the first bound >= seconds, as observe() picks
                total += seconds  # one at a time, in order: the very float observe() would have summed
            for series, count in counts.items():
                series.inc(count)
            self.latency._sum.set(total)  # noqa: SLF001
            for index, count in enumerate(buckets):
                if count:
                    self.latency._buckets[index].inc(count)  # noqa: SLF001

INGEST_ITEMS = Counter("okno_ingest_items", "Inbound items accepted by webhooks (stored, not duplicates)", registry=REGISTRY)
INGEST_REQUESTS = _FlushedCounter("okno_ingest_requests", "Webhook requests answered, by HTTP status", ["status"], registry=REGISTRY)
INGEST_LATENCY = _FlushedHistogram(
    "okno_ingest_seconds", "Webhook request time until the answer (stored and committed)", registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
INGEST = RequestTally(INGEST_REQUESTS, INGEST_LATENCY)  # the webhook fast path records both here
EVENTS_PUBLISHED = Counter("okno_events_published", "Outbox events the relay published to the bus", registry=REGISTRY)
EVENT_HANDLED = Counter("okno_event_deliveries", "Event deliveries to subscribers, by outcome", ["outcome"], registry=REGISTRY)
RELAY_LAG = Histogram(
    "okno_relay_lag_seconds", "From an event's commit to its publication on the bus", registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG_SECONDS = Histogram(
    "okno_consumer_lag_seconds", "From an event's commit to a subscriber having handled it", registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERY_FAILURES = Counter("okno_outbound_failures", "Outbound sends to providers that failed, by kind", ["kind"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("okno_queue_depth", "Rows waiting in a database queue (read at scrape)", ["queue"], registry=REGISTRY)
CONSUMER_PENDING = Gauge("okno_consumer_pending", "Bus messages not yet acknowledged by a subscriber group", ["consumer"], registry=REGISTRY)
