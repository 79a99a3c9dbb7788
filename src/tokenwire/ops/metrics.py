"""Prometheus metrics of one app.

Replies are counted from the engine's hooks, HTTP traffic from the traffic middleware, and
queue lengths are read from the provider at scrape time. Each ``Metrics`` owns its
``CollectorRegistry``: two apps in one process never share a series.

Names follow the serving engines (vLLM's ``time_to_first_token_seconds``,
``inter_token_latency_seconds``, ``e2e_request_latency_seconds``, ``request_generation_tokens``)
under the ``tokenwire_`` prefix. docs/operations.md lists them all.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from tokenwire.engine.hooks import Hooks, ReplyEnd, ReplyInfo
from tokenwire.ids import MessageId
from tokenwire.ops import context
from tokenwire.providers.base import Provider

__all__ = ["Metrics"]

REPLY = ("provider", "model")
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80)
ITL_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TOKEN_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)


class Metrics(Hooks):
    """The series operators watch (seed 003: start and completion rates, durations, errors
    by kind, client disconnects, fallback use), fed by the engine as its ``Hooks``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.started = Counter("tokenwire_streams_started", "Replies started.", REPLY, registry=r)
        self.completed = Counter(
            "tokenwire_streams_completed", "Replies that ended normally.", REPLY, registry=r
        )
        self.cancelled = Counter(
            "tokenwire_streams_cancelled", "Replies stopped by a cancel.", REPLY, registry=r
        )
        self.failed = Counter(
            "tokenwire_streams_failed",
            "Replies that ended with an error (interrupted ones included), by error code.",
            (*REPLY, "error_code"),
            registry=r,
        )
        self.in_flight = Gauge(
            "tokenwire_streams_in_flight", "Replies generating now.", REPLY, registry=r
        )
        self.ttft = Histogram(
            "tokenwire_time_to_first_token_seconds",
            "From the accepted send to the first text of the reply.",
            REPLY,
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            "tokenwire_inter_token_latency_seconds",
            "Between two consecutive deltas of a reply.",
            REPLY,
            buckets=ITL_BUCKETS,
            registry=r,
        )
        self.tokens = Histogram(
            "tokenwire_reply_generation_tokens",
            "Completion tokens per ended reply.",
            REPLY,
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            "tokenwire_e2e_reply_latency_seconds",
            "From the accepted send to the end of the reply, however it ended.",
            REPLY,
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "tokenwire_fallbacks",
            "Replies moved to the next provider of the chain.",
            ("from_provider", "to_provider"),
            registry=r,
        )
        self.resumes = Counter(
            "tokenwire_stream_resumes",
            "Follows of a reply from a seq (Last-Event-ID, ?after=, stream.resume).",
            registry=r,
        )
        self.disconnects = Counter(
            "tokenwire_client_disconnects",
            "Clients gone before the reply they followed ended (the reply goes on).",
            ("transport",),
            registry=r,
        )
        self.http_requests = Counter(
            "tokenwire_http_requests",
            "HTTP requests and WebSocket handshakes, by route template and status.",
            ("method", "route", "status"),
            registry=r,
        )
        self.http_duration = Histogram(
            "tokenwire_http_request_duration_seconds",
            "Time to serve a request; for a stream or a socket, how long it stayed open.",
            ("method", "route"),
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.sockets = Gauge(
            "tokenwire_websocket_connections", "WebSockets open on this instance.", registry=r
        )
        self.rejections = Counter(
            "tokenwire_limit_rejections",
            "Requests refused by a limit, by limit.",
            ("limit",),
            registry=r,
        )
        self.live: set[MessageId] = set()  # replies running in this process
        self._series: dict[tuple[str, str], _Series] = {}

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every series and its media type: the Prometheus text format, or OpenMetrics when
        the ``Accept`` header asks for it (as Prometheus itself does)."""
        encode, media_type = choose_encoder(accept)
        return encode(self.registry), media_type

    def watch_provider(self, provider: Provider) -> None:
        """Report the provider's queue at each scrape (llama.cpp decodes one reply at a time)."""
        self.registry.register(_QueueCollector(provider))

    # engine hooks ------------------------------------------------------------------------

    def _of(self, reply: ReplyInfo) -> _Series:
        """The reply's series, bound once per provider and model: ``labels()`` takes a lock
        and validates its arguments, too much to pay for every token."""
        key = (reply.provider, reply.model)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(self, key)
        return series

    def reply_started(self, reply: ReplyInfo) -> None:
        self.live.add(reply.message_id)
        series = self._of(reply)
        series.started.inc()
        series.in_flight.inc()

    def first_token(self, reply: ReplyInfo, seconds: float) -> None:
        self._of(reply).ttft.observe(seconds)

    def token(self, reply: ReplyInfo, gap_seconds: float) -> None:
        self._of(reply).itl.observe(gap_seconds)

    def fallback(self, reply: ReplyInfo, from_provider: str, to_provider: str) -> None:
        self.fallbacks.labels(from_provider, to_provider).inc()

    def reply_ended(self, reply: ReplyInfo, end: ReplyEnd) -> None:
        self.live.discard(reply.message_id)
        series = self._of(reply)
        series.in_flight.dec()
        if end.status == "complete":
            series.completed.inc()
        elif end.status == "cancelled":
            series.cancelled.inc()
        else:
            self.failed.labels(reply.provider, reply.model, end.error_code or end.status).inc()
        series.tokens.observe(end.completion_tokens)
        series.e2e.observe(end.seconds)

    def follow_started(self, message_id: MessageId, after: int) -> None:
        connection = context.current.get()
        if connection is not None:
            connection.followed.add(message_id)
        if after >= 0:
            self.resumes.inc()

    # traffic -----------------------------------------------------------------------------

    def client_gone(self, connection: context.Connection) -> None:
        """Count a client that went away; an SSE stream is cut before its end by definition,
        a socket only while a reply it follows is still running here."""
        if connection.transport == "sse" or connection.followed & self.live:
            self.disconnects.labels(connection.transport).inc()

    def rejected(self, limit: str) -> None:
        self.rejections.labels(limit).inc()


class _Series:
    """The children of a reply's series for one provider and model."""

    __slots__ = ("cancelled", "completed", "e2e", "in_flight", "itl", "started", "tokens", "ttft")

    def __init__(self, metrics: Metrics, labels: tuple[str, str]) -> None:
        self.started = metrics.started.labels(*labels)
        self.completed = metrics.completed.labels(*labels)
        self.cancelled = metrics.cancelled.labels(*labels)
        self.in_flight = metrics.in_flight.labels(*labels)
        self.ttft = metrics.ttft.labels(*labels)
        self.itl = metrics.itl.labels(*labels)
        self.tokens = metrics.tokens.labels(*labels)
        self.e2e = metrics.e2e.labels(*labels)


class _QueueCollector(Collector):
    """``tokenwire_queue_waiting`` and ``tokenwire_queue_running`` for each provider of the
    chain that has a queue (``.queue`` with ``waiting`` and ``running``)."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily(
            "tokenwire_queue_waiting", "Replies waiting for the model.", labels=["provider"]
        )
        running = GaugeMetricFamily(
            "tokenwire_queue_running", "Replies the model is decoding.", labels=["provider"]
        )
        for provider in _chain(self._provider):
            queue = getattr(provider, "queue", None)
            if queue is None:
                continue
            waiting.add_metric([provider.name], float(getattr(queue, "waiting", 0)))
            running.add_metric([provider.name], float(getattr(queue, "running", 0)))
        yield waiting
        yield running


def _chain(provider: Provider) -> list[Provider]:
    """The provider and, for a fallback chain, the providers in it."""
    inner: list[Provider] = list(getattr(provider, "providers", ()))
    return [provider, *inner]
