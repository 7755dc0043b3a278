"""The webhook fast path's requests and times go to Prometheus through ``RequestTally`` in bulk:
what ``/metrics`` exports must be what ``Counter.inc`` and ``Histogram.observe`` per request give."""

from __future__ import annotations

import random
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from okno.kit.metrics import INGEST_LATENCY, RequestTally, _FlushedCounter, _FlushedHistogram

BUCKETS = INGEST_LATENCY._upper_bounds[:-1]  # noqa: SLF001


def _pair() -> tuple[CollectorRegistry, Counter, Histogram]:
    registry = CollectorRegistry(auto_describe=True)
    requests = Counter("okno_ingest_requests", "requests", ["status"], registry=registry)
    latency = Histogram("okno_ingest_seconds", "time", registry=registry, buckets=BUCKETS)
    return registry, requests, latency


def _tallied(batch: int) -> tuple[CollectorRegistry, RequestTally]:
    registry = CollectorRegistry(auto_describe=True)
    requests = _FlushedCounter("okno_ingest_requests", "requests", ["status"], registry=registry)
    latency = _FlushedHistogram("okno_ingest_seconds", "time", registry=registry, buckets=BUCKETS)
    return registry, RequestTally(requests, latency, batch=batch)


def _exported(registry: CollectorRegistry) -> list[str]:
    """The exposition without the ``_created`` times (when each series was made)."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def test_the_export_is_what_direct_updates_give_at_every_scrape() -> None:
    rng = random.Random(5)
    direct, requests, latency = _pair()
    tallied, tally = _tallied(batch=7)
    exact = [*BUCKETS, 0.0, 1e-9, 6.0, 100.0]  # on a bound: that bucket, as observe() counts it
    for step in range(500):
        status = rng.choice([200, 200, 200, 401, 404, 413, 422, 503])
        seconds = rng.choice(exact) if rng.random() < 0.3 else rng.expovariate(100)
        requests.labels(str(status)).inc()
        latency.observe(seconds)
        tally.record(status, seconds)
        if step % 37 == 0:  # a scrape between batches sees every request so far
            assert _exported(tallied) == _exported(direct)
    assert _exported(tallied) == _exported(direct)
    assert tallied.get_sample_value("okno_ingest_seconds_count") == 500


def test_requests_wait_at_most_a_batch_and_a_series_is_made_at_its_first_request() -> None:
    registry, tally = _tallied(batch=4)
    for _ in range(3):
        tally.record(200, 0.01)
    assert tally.requests._metrics[("200",)]._value.get() == 0  # noqa: SLF001 (not yet handed over)
    tally.record(200, 0.01)
    assert tally.requests._metrics[("200",)]._value.get() == 4  # noqa: SLF001
    tally.record(503, 0.01)
    assert ("503",) in tally.requests._metrics  # noqa: SLF001
    assert registry.get_sample_value("okno_ingest_requests_total", {"status": "503"}) == 1


def test_threads_recording_while_another_scrapes_lose_nothing() -> None:
    registry, tally = _tallied(batch=50)
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            generate_latest(registry)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    writers = [threading.Thread(target=lambda: [tally.record(200, 0.002) for _ in range(5000)]) for _ in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    scraper.join()
    assert registry.get_sample_value("okno_ingest_requests_total", {"status": "200"}) == 15000
    assert registry.get_sample_value("okno_ingest_seconds_bucket", {"le": "0.0025"}) == 15000
