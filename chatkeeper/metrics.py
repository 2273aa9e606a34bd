"""Every Prometheus metric of ``chatkeeper serve``, in one place.

Two kinds of figures:

- events counted as they happen, reported by the core and the bots through
  :class:`archive.observe.Observer` (:class:`Metrics` implements it with
  prometheus_client counters, histograms and gauges);
- figures read at scrape time: the journal (:class:`JournalCollector`) and
  the last ``chatkeeper verify`` result (:class:`VerifyCollector`), which a
  separate ``verify`` process leaves in the state directory
  (``chatkeeper/verify_state.py``).

Label values are fixed vocabularies (platform, kind, reason): never message
text, tokens or ids of people, channels or chats.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from archive.clock import Clock
from archive.journal import Journal
from archive.schedule import SealJob
from chatkeeper.verify_state import read_verify_state

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
SEAL_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """The event metrics of one ``serve`` (an :class:`archive.observe.Observer`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "chatkeeper_events_captured",
            "Records committed by the capture step, by platform and kind.",
            ["platform", "kind"],
            registry=r,
        )
        self.ack = Histogram(
            "chatkeeper_ack_latency_seconds",
            "Time from a delivery's arrival to its acknowledgement (after the journal commit).",
            ["platform"],
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.journal_errors = Counter(
            "chatkeeper_journal_errors",
            "Capture commits that failed (the platform was answered with an error).",
            registry=r,
        )
        self.fetch_failures = Counter(
            "chatkeeper_attachment_fetch_failures",
            "Attachment fetch attempts that failed, by platform and reason.",
            ["platform", "reason"],
            registry=r,
        )
        self.seal_duration = Histogram(
            "chatkeeper_seal_duration_seconds",
            "Duration of sealing runs that held the lease.",
            buckets=SEAL_BUCKETS,
            registry=r,
        )
        self.sealed_bytes = Counter(
            "chatkeeper_sealed_bytes", "Record bytes sealed into bundles.", registry=r
        )
        self.bundles = Counter("chatkeeper_bundles_sealed", "Bundles sealed.", registry=r)
        self.connected = Gauge(
            "chatkeeper_bot_connected",
            "1 while the platform's long-lived connection (Socket Mode, polling) is up.",
            ["platform"],
            registry=r,
        )
        self.rate_limits = Counter(
            "chatkeeper_rate_limited",
            "Times the platform rate-limited chatkeeper, by platform and reason.",
            ["platform", "reason"],
            registry=r,
        )

        # The labelled children of the per-record and per-delivery metrics, looked up once:
        # prometheus_client's labels() validates and locks on every call.
        self._events_of: dict[tuple[str, str], Counter] = {}
        self._ack_of: dict[str, Histogram] = {}

    def captured(self, platform: str, kind: str, count: int) -> None:
        child = self._events_of.get((platform, kind))
        if child is None:
            child = self._events_of[(platform, kind)] = self.events.labels(platform, kind)
        child.inc(count)

    def acked(self, platform: str, seconds: float) -> None:
        child = self._ack_of.get(platform)
        if child is None:
            child = self._ack_of[platform] = self.ack.labels(platform)
        child.observe(seconds)

    def journal_error(self) -> None:
        self.journal_errors.inc()

    def fetch_failed(self, platform: str, reason: str) -> None:
        self.fetch_failures.labels(platform, reason).inc()

    def sealed(self, seconds: float, bundles: int, size: int) -> None:
        self.seal_duration.observe(seconds)
        self.bundles.inc(bundles)
        self.sealed_bytes.inc(size)

    def connection(self, platform: str, connected: bool) -> None:
        self.connected.labels(platform).set(1 if connected else 0)

    def rate_limited(self, platform: str, reason: str) -> None:
        self.rate_limits.labels(platform, reason).inc()


class JournalCollector(Collector):
    """Prometheus figures read from the journal at scrape time."""

    def __init__(self, journal: Journal, stream: str, job: SealJob | None, clock: Clock) -> None:
        self.journal = journal
        self.stream = stream
        self.job = job
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.journal.stats(self.stream)
        yield GaugeMetricFamily(
            "chatkeeper_journal_records", "Records in the journal.", stats.records
        )
        yield GaugeMetricFamily(
            "chatkeeper_backlog_records", "Records not yet sealed.", stats.unsealed
        )
        age = backlog_age(stats.oldest_unsealed_captured_at, self.clock)
        yield GaugeMetricFamily(
            "chatkeeper_backlog_age_seconds", "Age of the oldest unsealed record.", age
        )
        last = stats.last_sealed.number if stats.last_sealed else 0
        yield GaugeMetricFamily(
            "chatkeeper_last_sealed_bundle", "Number of the last sealed bundle.", last
        )
        yield GaugeMetricFamily(
            "chatkeeper_attachment_queue_depth",
            "Attachment fetches queued and not yet settled.",
            self.journal.pending_fetches(),
        )
        if self.job is not None:
            yield GaugeMetricFamily(
                "chatkeeper_seal_consecutive_failures",
                "Sealing attempts failed in a row (0 when healthy).",
                self.job.failures,
            )


class VerifyCollector(Collector):
    """The last ``chatkeeper verify`` result left in the state directory."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = read_verify_state(self.home)
        result = GaugeMetricFamily(
            "chatkeeper_verify_last_result",
            "Result of the last verify run: 1 intact, 0 failed (absent before the first run).",
        )
        ran = GaugeMetricFamily(
            "chatkeeper_verify_last_run_timestamp_seconds",
            "Unix time the last verify run finished.",
        )
        success = GaugeMetricFamily(
            "chatkeeper_verify_last_success_timestamp_seconds",
            "Unix time of the last verify run that found the archive intact.",
        )
        if state is not None:
            result.add_metric([], 1 if state.ok else 0)
            ran.add_metric([], state.finished_at.timestamp())
            if state.last_success is not None:
                success.add_metric([], state.last_success.timestamp())
        yield result
        yield ran
        yield success


def backlog_age(oldest: datetime | None, clock: Clock) -> float:
    """Seconds the oldest unsealed record has waited (0 without a backlog)."""
    return max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0
