"""Outcomes per release over recent requests: how an A/B split or a canary is compared.

A canary is judged on what clients saw, release by release, over the same stretch of traffic:
how often it answered itself, fell back, escalated or was refused, how confident it was, how
fast, and how often it failed with a server error. The request log names the release that
answered each request, so these are read straight from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ReleaseOutcome", "release_outcomes"]


@dataclass(frozen=True)
class ReleaseOutcome:
    release: str
    requests: int
    share: float
    primary: float
    """Share answered by the release itself; the rest fell back, escalated or were refused."""
    fallback: float
    escalated: float
    refused: float
    server_errors: int
    mean_confidence: float | None
    p50_latency_s: float | None
    p95_latency_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def release_outcomes(rows: Sequence[dict[str, Any]]) -> list[ReleaseOutcome]:
    """One outcome per release among ``rows`` (request-log rows), the busiest first.

    Rows no release answered (bad requests, refusals by key or size) are left out: they say
    nothing about a release.
    """
    by_release: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        release = row.get("routed_to") or row.get("release")  # a fallback counts against the asked
        if release:
            by_release.setdefault(release, []).append(row)
    total = sum(len(group) for group in by_release.values())
    outcomes = []
    for release, group in by_release.items():
        n = len(group)

        def rate(route: str, group: list[dict[str, Any]] = group, n: int = n) -> float:
            return sum(1 for r in group if r.get("route") == route) / n

        confidences = [r["confidence"] for r in group if r.get("confidence") is not None]
        latencies = [r["latency_s"] for r in group if r.get("latency_s") is not None]
        outcomes.append(
            ReleaseOutcome(
                release=release,
                requests=n,
                share=n / total,
                primary=rate("primary"),
                fallback=rate("fallback"),
                escalated=rate("escalated"),
                refused=rate("refused"),
                server_errors=sum(1 for r in group if (r.get("status") or 0) >= 500),
                mean_confidence=sum(confidences) / len(confidences) if confidences else None,
                p50_latency_s=_quantile(latencies, 0.5),
                p95_latency_s=_quantile(latencies, 0.95),
            )
        )
    return sorted(outcomes, key=lambda o: -o.requests)
