"""Prometheus metrics of ``steerlab serve``, at ``GET /metrics``.

Every series about answers is labelled by task and **release**, so an A/B split or a canary is
compared on the same dashboard as the releases before and after it (outcome by route, latency,
confidence, tokens, batch sizes); guardrail decisions are counted by kind. The registry is the
app's own, not the process-wide default, so two apps in one process (tests, a bench) never share
counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServingMetrics"]

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "steerlab_requests",
            "Requests by task, release, route (primary, fallback, escalated, refused) and HTTP status.",
            ["task", "release", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "steerlab_request_latency_seconds",
            "Time from request to response, by task and answering release.",
            ["task", "release"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.confidence = Histogram(
            "steerlab_confidence",
            "Confidence of served answers (where the release gives one).",
            ["task", "release"],
            buckets=CONFIDENCE_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "steerlab_tokens",
            "Model tokens, by direction (input, output).",
            ["task", "release", "direction"],
            registry=r,
        )
        self.batch = Histogram(
            "steerlab_batch_size",
            "Requests answered by one model call (dynamic batching).",
            ["task", "release"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.guardrails = Counter(
            "steerlab_guardrail_decisions",
            "Requests stopped before a model: refusal (policy), injection (blocked or escalated).",
            ["task", "kind"],
            registry=r,
        )
        self.in_flight = Gauge("steerlab_requests_in_flight", "Requests being answered now.", registry=r)
        self.log_dropped = Gauge(
            "steerlab_request_log_dropped_rows",
            "Request-log rows the database refused twice and were dropped (alert on any).",
            registry=r,
        )
        self.serving = Gauge(
            "steerlab_release_traffic_share",
            "Share of a task's traffic each loaded release is set to answer (canary splits).",
            ["task", "release"],
            registry=r,
        )

    def observe(
        self,
        *,
        task: str,
        release: str,
        route: str,
        status: int,
        latency_s: float,
        confidence: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        batch_size: int | None = None,
    ) -> None:
        self.requests.labels(task, release, route, str(status)).inc()
        self.latency.labels(task, release).observe(latency_s)
        if confidence is not None:
            self.confidence.labels(task, release).observe(confidence)
        if input_tokens:
            self.tokens.labels(task, release, "input").inc(input_tokens)
        if output_tokens:
            self.tokens.labels(task, release, "output").inc(output_tokens)
        if batch_size:
            self.batch.labels(task, release).observe(batch_size)

    def shares(self, task: str, shares: dict[str, float]) -> None:
        """Set the task's traffic split; releases no longer serving drop to 0."""
        for labels in list(self.serving._metrics):  # no public way to list a metric's children
            if labels[0] == task and labels[1] not in shares:
                self.serving.labels(*labels).set(0)
        for release, share in shares.items():
            self.serving.labels(task, release).set(share)

    def render(self) -> bytes:
        return generate_latest(self.registry)
