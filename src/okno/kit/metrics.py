"""Prometheus metrics of one process (``GET /metrics``; docs/deployment.md).

Counters and histograms are updated where the work happens; queue depths and consumer lag are
gauges read when Prometheus scrapes (``okno.ops``), so an idle process costs nothing. Each
process exposes its own figures: Prometheus adds them up across processes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INGEST_ITEMS = Counter("okno_ingest_items", "Inbound items accepted by webhooks (stored, not duplicates)", registry=REGISTRY)
INGEST_REQUESTS = Counter("okno_ingest_requests", "Webhook requests answered, by HTTP status", ["status"], registry=REGISTRY)
INGEST_LATENCY = Histogram(
    "okno_ingest_seconds", "Webhook request time until the answer (stored and committed)", registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
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
