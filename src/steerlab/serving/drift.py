"""Drift: does the traffic a release serves still look like the evaluation that justified it?

A release was chosen on numbers measured on one evaluation split. Those numbers say nothing
about requests unlike that split, so the monitor compares recent logged requests with it:

- **input drift**: the sentence embeddings (all-MiniLM-L6-v2) of the window's inputs against
  those of the evaluation split inputs, by MMD with a permutation p-value
  (:func:`~steerlab.serving.twosample.mmd_test`). A significant MMD says the distribution moved;
  the share of *novel* inputs (further from every evaluation input than 95% of evaluation inputs
  are from their nearest neighbour) says whether it moved out of measured territory. Drift needs
  both: a mix that shifted within familiar inputs is only worth watching (the label signal says
  how it shifted), while inputs nothing in the evaluation resembles make its accuracy unknown;
- **output drift**: the label distribution of the release's answers (classify: the label;
  extract: each enum field of the schema) against its evaluation predictions; its mean
  confidence; and the escalation and fallback rates against the failure rate measured in the
  evaluation (invalid answers, and answers under the serving threshold) and the previous window.

The reference side is the release's :class:`~steerlab.serving.reference.ReferenceProfile`,
computed once and cached beside the releases.

Windows are the last ``window`` answered requests since the release went live (optionally only
the last ``hours``), newest last; earlier windows of the same size give the trend. Verdicts per
signal are ``ok``, ``watch`` (p < 0.05 with a change worth seeing) and ``drift`` (p < 0.01 with
a change worth acting on); with fewer than ``min_requests`` answered requests nothing is judged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from steerlab.errors import ConfigError
from steerlab.serving.reference import (
    NOVEL_QUANTILE,
    SEED,
    ReferenceProfile,
    TextEmbedder,
    input_text,
    output_categories,
    reference_profile,
)
from steerlab.serving.twosample import category_test, mean_test, mmd_test, rate_test

if TYPE_CHECKING:
    from steerlab.release import ChannelState, Release
    from steerlab.serving.requestlog import RequestLog
    from steerlab.task import Task

__all__ = ["DRIFT_EXIT_CODE", "DriftStatus", "Signal", "WindowReport", "check_drift"]

Verdict = Literal["ok", "watch", "drift", "n/a"]

DRIFT_EXIT_CODE = 4
"""``steerlab monitor``'s exit code when any signal drifts (1 to 3 are already errors)."""

MAX_WINDOW = 1000
"""Window inputs embedded at most per window (a seeded sample beyond)."""
ALPHA_WATCH, ALPHA_DRIFT = 0.05, 0.01
NOVEL_DRIFT = 2 * NOVEL_QUANTILE
"""Input drift needs at least twice the novel share expected without drift."""
MIN_PSI, MIN_MEAN_CHANGE, MIN_RATE_CHANGE = 0.1, 0.05, 0.05
"""The smallest changes acted on: PSI of a label mix (0.1 is the usual "moderate shift"), and
absolute changes of mean confidence and of an escalation or fallback rate."""
ANSWERED = ("primary", "fallback", "escalated")
"""Routes where a release was asked; "refused" (a policy rule) never reached a model."""
ORDER: dict[str, int] = {"n/a": 0, "ok": 0, "watch": 1, "drift": 2}


@dataclass(frozen=True)
class Signal:
    """One drift signal in one window: the numbers on both sides, the verdict, what to do."""

    name: str
    verdict: Verdict
    statistic: str
    window: str
    reference: str
    action: str
    headline: str
    """The one number a trend table shows."""
    p_value: float | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowReport:
    start: float
    end: float
    n: int
    signals: tuple[Signal, ...]

    @property
    def verdict(self) -> Verdict:
        return max((s.verdict for s in self.signals), key=ORDER.__getitem__, default="ok")

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "n": self.n,
            "verdict": self.verdict,
            "signals": [asdict(s) for s in self.signals],
        }


ACTIONS = {
    "input": "label a sample of recent requests, add it to the task's data (`steerlab data check`), "
    "then `steerlab eval` and `steerlab decide`",
    "labels": "review a sample of recent answers; if the traffic changed, re-run `steerlab eval` on "
    "fresh labelled data and `steerlab decide`",
    "confidence": "review low-confidence answers; re-run `steerlab eval` on fresh labelled data",
    "escalation": "read the escalation reasons in the request log",
    "fallback": "read the reasons in the request log; `steerlab release rollback` if the previous "
    "release served better",
}


def _judge(p: float | None, big_enough: bool, *, drift_allowed: bool = True) -> Verdict:
    if p is None or not big_enough or p >= ALPHA_WATCH:
        return "ok"
    return "drift" if p < ALPHA_DRIFT and drift_allowed else "watch"


def _action(name: str, verdict: Verdict, detail: str = "") -> str:
    if verdict in ("ok", "n/a"):
        return "-"
    key = "labels" if name.startswith(("labels", "field ")) else name
    return ACTIONS[key] + detail


def _input_signal(profile: ReferenceProfile, embedded: np.ndarray) -> Signal:
    if len(profile.embeddings) < 2 or len(embedded) < 2:
        counts = f"{len(embedded)} inputs", f"{len(profile.embeddings)} inputs"
        return Signal("input", "n/a", "-", *counts, action="-", headline="-")
    result = mmd_test(profile.embeddings, embedded, seed=SEED)
    nearest = (embedded @ profile.embeddings.T).max(axis=1)
    novel = float(np.mean(nearest < profile.novelty_cutoff))
    verdict = _judge(result.p_value, True, drift_allowed=novel >= NOVEL_DRIFT)
    return Signal(
        name="input",
        verdict=verdict,
        statistic=f"MMD² {result.statistic:.4f} (null 95% {result.null_95:.4f}), p {result.p_value:.3f}",
        window=f"{novel:.0%} novel of {len(embedded)} inputs",
        reference=f"{NOVEL_QUANTILE:.0%} novel by construction, {len(profile.embeddings)} inputs",
        action=_action("input", verdict),
        headline=f"p {result.p_value:.3f}, {novel:.0%} novel",
        p_value=result.p_value,
        values={**asdict(result), "novel_share": novel, "novelty_cutoff": profile.novelty_cutoff},
    )


def _shares(shares: dict[str, float], top: int = 3) -> str:
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return ", ".join(f"{k} {v:.0%}" for k, v in ranked) or "-"


def _category_signal(name: str, reference: dict[str, int], window: dict[str, int]) -> Signal:
    n_ref, n_win = sum(reference.values()), sum(window.values())
    if not n_ref or not n_win:
        return Signal(name, "n/a", "-", f"{n_win} answers", f"{n_ref} predictions", "-", "-")
    shift = category_test(reference, window, seed=SEED)
    verdict = _judge(shift.p_value, True, drift_allowed=shift.psi >= MIN_PSI)
    p = "-" if shift.p_value is None else f"{shift.p_value:.3f}"
    return Signal(
        name=name,
        verdict=verdict,
        statistic=f"chi² {shift.chi2:.1f}, p {p}, PSI {shift.psi:.2f}",
        window=f"{_shares(shift.window)} (n {n_win})",
        reference=f"{_shares(shift.reference)} (n {n_ref})",
        action=_action(name, verdict),
        headline=f"PSI {shift.psi:.2f}",
        p_value=shift.p_value,
        values={**asdict(shift), "n_reference": n_ref, "n_window": n_win},
    )


def _confidence_signal(reference: list[float], window: list[float]) -> Signal:
    if not reference or not window:
        why = "the evaluation recorded none" if not reference else "no confidences logged"
        return Signal("confidence", "n/a", "-", f"{len(window)} answers", why, "-", "-")
    shift = mean_test(reference, window, seed=SEED)
    big = abs(shift.difference) >= MIN_MEAN_CHANGE
    verdict = _judge(shift.p_value, big, drift_allowed=shift.difference < 0)
    return Signal(
        name="confidence",
        verdict=verdict,
        statistic=f"mean {shift.difference:+.3f}, p {shift.p_value:.3f}",
        window=f"mean {shift.window:.3f} (n {len(window)})",
        reference=f"mean {shift.reference:.3f} (n {len(reference)})",
        action=_action("confidence", verdict),
        headline=f"{shift.window:.3f}",
        p_value=shift.p_value,
        values=asdict(shift),
    )


def _rate_signal(
    name: str,
    hits: int,
    n: int,
    reference: tuple[int, int],
    previous: tuple[int, int] | None,
    reasons: Counter[str],
) -> Signal:
    rate = hits / n if n else 0.0
    ref_hits, ref_n = reference
    tests = []
    if ref_n and n:
        tests.append(("reference", rate_test(ref_hits, ref_n, hits, n)))
    if previous is not None and previous[1] and n:
        tests.append(("previous window", rate_test(previous[0], previous[1], hits, n)))
    judged = [
        (_judge(t.p_value, t.window - t.reference >= MIN_RATE_CHANGE), against, t) for against, t in tests
    ]
    verdict: Verdict = max((v for v, _, _ in judged), key=ORDER.__getitem__, default="ok")
    worst = min(judged, key=lambda j: (-ORDER[j[0]], j[2].p_value), default=None)
    statistic = f"Fisher p {worst[2].p_value:.3f} vs {worst[1]}" if worst else "-"
    top = ", ".join(f"{r} ({c})" for r, c in reasons.most_common(2))
    return Signal(
        name=name,
        verdict=verdict,
        statistic=statistic,
        window=f"{rate:.1%} ({hits}/{n})"
        + (f", previous window {previous[0] / previous[1]:.1%}" if previous and previous[1] else ""),
        reference=f"{ref_hits / ref_n:.1%} ({ref_hits}/{ref_n} evaluated)" if ref_n else "unknown",
        action=_action(name, verdict, f"; most common: {top}" if top and verdict != "ok" else ""),
        headline=f"{rate:.1%}",
        p_value=worst[2].p_value if worst else None,
        values={"rate": rate, "hits": hits, "n": n, "tests": {a: asdict(t) for a, t in tests}},
    )


_NUMBERS = re.compile(r"\d+(\.\d+)?")


def _reason_kind(reason: str | None) -> str:
    """A reason with its numbers masked, so "confidence 0.31 below 0.50" cases group together."""
    return _NUMBERS.sub("#", (reason or "no reason logged").split(";")[0]).strip()


@dataclass
class _Window:
    rows: list[dict[str, Any]]
    sample: list[dict[str, Any]]
    """The rows whose inputs were embedded (all of them, up to MAX_WINDOW)."""
    embedded: np.ndarray
    ours: list[dict[str, Any]]
    """Rows the monitored release is answerable for."""

    def count(self, route: str) -> tuple[int, int]:
        return sum(r["route"] == route for r in self.ours), len(self.ours)


def _analyse(
    task: Task,
    profile: ReferenceProfile,
    window: _Window,
    previous: _Window | None,
    threshold: float | None,
) -> WindowReport:
    answered = [r for r in window.ours if r["route"] == "primary" and r["output"] is not None]
    signals = [_input_signal(profile, window.embedded)]
    live: dict[str, Counter[str]] = {}
    for row in answered:
        for name, category in output_categories(task, row["output"]).items():
            live.setdefault(name, Counter())[category] += 1
    reference = profile.categories(threshold)
    for name in sorted(set(reference) | set(live)):
        signals.append(_category_signal(name, reference.get(name, {}), dict(live.get(name, {}))))
    confidences = [float(r["confidence"]) for r in answered if r["confidence"] is not None]
    signals.append(_confidence_signal(profile.confidences(threshold), confidences))
    for route, name in (("escalated", "escalation"), ("fallback", "fallback")):
        hits, n = window.count(route)
        reasons = Counter(_reason_kind(r["reason"]) for r in window.ours if r["route"] == route)
        before = previous.count(route) if previous is not None else None
        signals.append(_rate_signal(name, hits, n, profile.failures(threshold), before, reasons))
    return WindowReport(window.rows[0]["ts"], window.rows[-1]["ts"], len(window.rows), tuple(signals))


@dataclass(frozen=True)
class DriftStatus:
    """The monitor's answer: a verdict, what to do, the current window and the trend."""

    task: str
    release: str
    since: float | None
    window: int
    min_requests: int
    threshold: float | None
    n: int
    verdict: Literal["ok", "watch", "drift", "insufficient"]
    recommendation: str
    trend: tuple[WindowReport, ...] = ()
    """Consecutive windows, oldest first; the last is the current one. Empty when insufficient."""
    novel_inputs: tuple[str, ...] = ()
    """The current window's inputs least like any evaluation input, when inputs drift."""
    reference: dict[str, Any] = field(default_factory=dict)

    @property
    def current(self) -> WindowReport | None:
        return self.trend[-1] if self.trend else None

    @property
    def exit_code(self) -> int:
        return DRIFT_EXIT_CODE if self.verdict == "drift" else 0

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "trend"}
        return {**data, "exit_code": self.exit_code, "trend": [w.to_dict() for w in self.trend]}


def _went_live(state: ChannelState, release_id: str) -> float | None:
    """When ``release_id`` last started answering: its latest promote or rollback (canary start,
    for a canary). Rows before that were answered by another release."""
    actions = ("canary",) if state.canary and state.canary["id"] == release_id else ("promote", "rollback")
    for event in reversed(state.history):
        if event["id"] == release_id and event["action"] in actions:
            return datetime.fromisoformat(event["at"]).timestamp()
    return None


_THRESHOLD = re.compile(r"confidence \d+(?:\.\d+)? below (\d+(?:\.\d+)?)")


def _serving_threshold(release: Release, rows: Sequence[dict[str, Any]]) -> float | None:
    """The confidence threshold the server escalated below: the release's calibrated one, unless
    the escalation reasons show it was told another (``steerlab serve --threshold`` is not
    logged otherwise). Reasons print it to two decimals, so the calibrated value is kept when it
    rounds to theirs."""
    logged = {float(m.group(1)) for r in rows if r["reason"] and (m := _THRESHOLD.search(r["reason"]))}
    pinned = release.threshold
    if logged and (pinned is None or f"{pinned:.2f}" not in {f"{t:.2f}" for t in logged}):
        return max(logged)
    return pinned


def _windows(rows: list[dict[str, Any]], size: int, min_requests: int) -> list[list[dict[str, Any]]]:
    """Consecutive windows of ``size`` rows, oldest first, ending with the newest row; older
    windows too small to judge are dropped, the current one is always kept."""
    chunks = [rows[max(0, end - size) : end] for end in range(len(rows), 0, -size)][::-1]
    return [c for c in chunks[:-1] if len(c) >= min_requests] + chunks[-1:]


def _embed(
    task: Task, chunks: list[list[dict[str, Any]]], embedder: TextEmbedder
) -> list[tuple[list[dict[str, Any]], np.ndarray]]:
    """Each window's inputs (a seeded sample of at most MAX_WINDOW) and their embeddings; a text
    repeated across requests or windows is embedded once."""
    rng = np.random.default_rng(SEED)
    samples = [
        c if len(c) <= MAX_WINDOW else [c[i] for i in sorted(rng.choice(len(c), MAX_WINDOW, replace=False))]
        for c in chunks
    ]
    texts = sorted({input_text(task, r["inputs"]) for c in samples for r in c})
    vectors = dict(zip(texts, np.asarray(embedder.encode(texts), dtype=np.float32), strict=True))
    return [(c, np.stack([vectors[input_text(task, r["inputs"])] for r in c])) for c in samples]


def _novel_inputs(
    task: Task, profile: ReferenceProfile, sample: list[dict], embedded: np.ndarray
) -> list[str]:
    nearest = (embedded @ profile.embeddings.T).max(axis=1)
    texts = [input_text(task, r["inputs"]) for r in sample]
    order = sorted(range(len(texts)), key=lambda i: (nearest[i], texts[i]))
    return list(dict.fromkeys(texts[i] for i in order))[:3]


def _recommendation(
    task: Task, release: str, report: WindowReport
) -> tuple[Literal["ok", "watch", "drift"], str]:
    drifted = [s.name for s in report.signals if s.verdict == "drift"]
    watched = [s.name for s in report.signals if s.verdict == "watch"]
    where = task.dir
    if drifted:
        kind = "input drift" if "input" in drifted else "output drift"
        if any(n == "input" or n.startswith(("labels", "field ")) for n in drifted):
            todo = (
                f"the evaluation behind {release} no longer describes its traffic: label a sample "
                f"of recent requests, re-run `steerlab eval {where}` on the fresh data and "
                f"`steerlab decide {where}`"
            )
        else:
            todo = (
                f"{release} answers worse than it was measured: read the reasons in the request log, "
                f"re-run `steerlab eval {where}` on fresh labelled data and `steerlab decide {where}`"
            )
        return "drift", f"{kind} ({', '.join(drifted)}): {todo}"
    if watched:
        return "watch", f"watch ({', '.join(watched)}): moved, not conclusively; check the next window"
    return "ok", f"ok: the traffic still looks like the evaluation behind {release}"


def check_drift(
    task: Task,
    workspace: str | Path,
    log: RequestLog,
    *,
    release_id: str | None = None,
    window: int = 500,
    hours: float | None = None,
    windows: int = 4,
    min_requests: int = 50,
    threshold: float | None = None,
    now: float | None = None,
    embedder: TextEmbedder | None = None,
) -> DriftStatus:
    """Compare the task's recent answered requests with the evaluation of the release serving
    them (the active one, or ``release_id``: the canary). See the module docstring.

    ``threshold`` is the serving confidence threshold (default: the release's calibrated one, or
    the one the escalation reasons state), so answers it escalated are expected, not drift.
    A fallback answer counts against the release the request was sent to (``routed_to`` in the
    log), not the fallback that answered it.
    """
    import time

    from steerlab.release import active_state, load_release

    if window < 2 or windows < 1 or min_requests < 2:
        raise ConfigError("window and min_requests must be at least 2, windows at least 1")
    workspace = Path(workspace)
    state = active_state(workspace, task.name)
    if state.active is None:
        raise ConfigError(
            f"task {task.name!r} has no active release to monitor",
            hint=f"steerlab release create {task.dir} --candidate NAME --promote",
        )
    release = load_release(workspace, release_id or state.active)
    serving = {state.active, state.canary["id"] if state.canary else None}
    if release.id not in serving:
        raise ConfigError(f"{release.id} is not serving {task.name!r} (neither active nor the canary)")
    since = _went_live(state, release.id)
    if hours is not None:
        since = max(since or 0.0, (now if now is not None else time.time()) - hours * 3600)
    fetched = log.recent(task.name, since=since, limit=2 * window * windows)
    rows = [
        r for r in fetched if r["status"] == 200 and r["route"] in ANSWERED and isinstance(r["inputs"], dict)
    ][-window * windows :]
    if not rows:
        went = datetime.fromtimestamp(since).isoformat(timespec="seconds") if since else "ever"
        raise ConfigError(
            f"no answered requests for {task.name!r} in the request log {log.url} since {went}",
            hint="is `steerlab serve` writing to this log? pass the server's --log URL",
        )
    chunks = _windows(rows, window, min_requests)
    threshold = threshold if threshold is not None else _serving_threshold(release, rows)
    status = partial(
        DriftStatus,
        task=task.name,
        release=release.id,
        since=since,
        window=window,
        min_requests=min_requests,
        threshold=threshold,
        n=len(chunks[-1]),
    )
    if len(chunks[-1]) < min_requests:
        message = f"not enough traffic: n = {len(chunks[-1])} < {min_requests} answered requests"
        return status(verdict="insufficient", recommendation=message)
    profile = reference_profile(workspace, task, release, embedder=embedder)
    if embedder is None:
        from steerlab.embeddings import default_embedder

        embedder = default_embedder()
    prepared = []
    for chunk, (sample, embedded) in zip(chunks, _embed(task, chunks, embedder), strict=True):
        ours = [r for r in chunk if (r.get("routed_to") or r["release"]) == release.id]
        prepared.append(_Window(chunk, sample, embedded, ours))
    trend = tuple(
        _analyse(task, profile, w, prepared[i - 1] if i else None, threshold) for i, w in enumerate(prepared)
    )
    verdict, recommendation = _recommendation(task, release.id, trend[-1])
    current = prepared[-1]
    novel = (
        _novel_inputs(task, profile, current.sample, current.embedded)
        if trend[-1].signals[0].verdict in ("watch", "drift")
        else []
    )
    reference = {
        "split": profile.split,
        "dataset_version": profile.dataset_version,
        "inputs": profile.n_inputs,
        "predictions": len(profile.predictions) or (profile.summary or {}).get("n", 0),
        "source": profile.source,
    }
    return status(
        verdict=verdict,
        recommendation=recommendation,
        trend=trend,
        novel_inputs=tuple(novel),
        reference=reference,
    )
