"""The report's charts, drawn with matplotlib into inline SVG so the page needs no network.

Each function returns an ``<svg>`` string (or "" when there is nothing to draw). Figures are
built with the object API (``matplotlib.figure.Figure``), never pyplot, so drawing keeps no
global state and works in a server thread.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "PALETTE",
    "confusion_chart",
    "failure_chart",
    "latency_chart",
    "learning_curve_chart",
    "quality_cost_chart",
    "threshold_chart",
]

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
FAILURE_COLOURS = {
    "format": "#d62728",
    "abstention": "#9467bd",
    "knowledge": "#1f77b4",
    "behaviour": "#ff7f0e",
    "prompt_sensitive": "#2ca02c",
    "undetermined": "#7f7f7f",
}


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure


def _svg(figure: Any, label: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: the SVG sits inside HTML
    svg = re.sub(r"<svg ", f'<svg class="chart" role="img" aria-label="{label}" ', svg, count=1)
    return svg


def quality_cost_chart(
    points: Sequence[Mapping[str, Any]], metric: str, quality_target: float | None, cost_target: float | None
) -> str:
    """Quality (with its CI) against cost per 1k requests, one point per candidate."""
    drawn = [p for p in points if p.get("cost") is not None]
    if not drawn:
        drawn = [{**p, "cost": 0.0} for p in points]
    figure = _figure(7.5, 4.2)
    axes = figure.add_subplot()
    costs = [float(p["cost"]) for p in drawn]
    log = all(c > 0 for c in costs) and max(costs) / max(min(costs), 1e-12) > 20
    for i, point in enumerate(drawn):
        colour = PALETTE[i % len(PALETTE)]
        value, low, high = point["quality"], point["low"], point["high"]
        axes.errorbar(
            [point["cost"]],
            [value],
            yerr=[[value - low], [high - value]],
            fmt="o",
            color=colour,
            capsize=4,
            markersize=8,
            label=point["name"],
        )
        axes.annotate(
            point["name"], (point["cost"], value), textcoords="offset points", xytext=(6, 6), fontsize=8
        )
    if quality_target is not None:
        axes.axhline(quality_target, color="#444", linestyle="--", linewidth=1)
        axes.text(
            0.01,
            quality_target,
            f" target {quality_target:.0%}",
            transform=axes.get_yaxis_transform(),
            va="bottom",
            fontsize=8,
            color="#444",
        )
    if cost_target is not None:
        axes.axvline(cost_target, color="#999", linestyle=":", linewidth=1)
    if log:
        axes.set_xscale("log")
    axes.set_xlabel("cost per 1k requests (USD)")
    axes.set_ylabel(f"{metric} (95% CI)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return _svg(figure, "quality against cost")


def latency_chart(latencies: Mapping[str, Sequence[float]], p95_target_ms: float | None) -> str:
    """Per-candidate latency distributions (box and whiskers over every request, log scale)."""
    named = {name: [v * 1000 for v in values] for name, values in latencies.items() if values}
    if not named:
        return ""
    figure = _figure(7.5, 0.6 + 0.45 * len(named) + 1.2)
    axes = figure.add_subplot()
    names = list(named)
    boxes = axes.boxplot(
        [named[n] for n in names],
        vert=False,
        patch_artist=True,
        showfliers=True,
        whis=(5, 95),
        tick_labels=names,
    )
    for i, patch in enumerate(boxes["boxes"]):
        patch.set_facecolor(PALETTE[i % len(PALETTE)])
        patch.set_alpha(0.6)
    if p95_target_ms is not None:
        axes.axvline(
            p95_target_ms,
            color="#d62728",
            linestyle="--",
            linewidth=1,
            label=f"p95 target {p95_target_ms:g} ms",
        )
        axes.legend(fontsize=8)
    if max(max(v) for v in named.values()) / max(min(min(v) for v in named.values()), 1e-6) > 20:
        axes.set_xscale("log")
    axes.set_xlabel("latency per request (ms); whiskers at p5 and p95")
    axes.grid(alpha=0.3, axis="x")
    return _svg(figure, "latency distributions")


def failure_chart(failures: Mapping[str, Mapping[str, int]]) -> str:
    """Wrong answers per candidate, stacked by failure category."""
    if not failures or not any(sum(f.values()) for f in failures.values()):
        return ""
    names = list(failures)
    figure = _figure(7.5, 0.6 + 0.45 * len(names) + 1.0)
    axes = figure.add_subplot()
    left = [0] * len(names)
    for category, colour in FAILURE_COLOURS.items():
        counts = [failures[n].get(category, 0) for n in names]
        if not any(counts):
            continue
        axes.barh(names, counts, left=left, color=colour, label=category.replace("_", " "))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    axes.invert_yaxis()
    axes.set_xlabel("wrong answers on the held-out split")
    figure.legend(fontsize=8, ncols=6, loc="outside lower center")  # below the axes, never over a bar
    axes.grid(alpha=0.3, axis="x")
    return _svg(figure, "failure categories")


def confusion_chart(confusion: Mapping[str, Mapping[str, int]], candidate: str, top: int = 30) -> str:
    """Confusion matrix of one candidate; with many labels, the ``top`` labels with most errors."""
    if not confusion:
        return ""
    labels = list(confusion)
    columns = list(next(iter(confusion.values())))
    if len(labels) > top:
        errors = {g: sum(v for p, v in row.items() if p != g) for g, row in confusion.items()}
        labels = sorted(labels, key=lambda g: -errors[g])[:top]
        columns = [*labels, *[c for c in columns if c not in confusion]]
    matrix = [[confusion[g].get(p, 0) for p in columns] for g in labels]
    size = max(4.0, min(11.0, 0.28 * len(columns) + 2.5))
    figure = _figure(size, size * 0.85)
    axes = figure.add_subplot()
    peak = max(max(row) for row in matrix) or 1
    image = axes.imshow(
        [[math.log1p(v) for v in row] for row in matrix], cmap="Blues", vmin=0, vmax=math.log1p(peak)
    )
    fontsize = 7 if len(columns) <= 15 else 5
    axes.set_xticks(range(len(columns)), [c[:18] for c in columns], rotation=90, fontsize=fontsize)
    axes.set_yticks(range(len(labels)), [g[:18] for g in labels], fontsize=fontsize)
    if len(columns) <= 15:
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if value:
                    axes.text(
                        j,
                        i,
                        str(value),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if value > peak / 2 else "black",
                    )
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(
        f"{candidate}" + (f" ({len(labels)} labels with most errors)" if len(confusion) > top else ""),
        fontsize=9,
    )
    figure.colorbar(image, ax=axes, shrink=0.6, label="log(1 + count)")
    return _svg(figure, f"confusion matrix of {candidate}")


def learning_curve_chart(curve: Mapping[str, Any], target: float | None) -> str:
    """Tuned quality at several training-set sizes, with the fitted log-linear trend."""
    points = curve.get("points") or []
    if not points:
        return ""
    figure = _figure(7.5, 3.8)
    axes = figure.add_subplot()
    xs = [p["train_examples"] for p in points]
    ys = [p["quality"] for p in points]
    errors = None
    if all(p.get("low") is not None for p in points):
        errors = [
            [y - p["low"] for y, p in zip(ys, points, strict=True)],
            [p["high"] - y for y, p in zip(ys, points, strict=True)],
        ]
    axes.errorbar(
        xs, ys, yerr=errors, fmt="o-", color=PALETTE[0], capsize=4, label=curve.get("candidate", "tuned")
    )
    fit = curve.get("fit")
    if fit:
        span = [min(xs) * 0.8, max(xs) * 4]
        grid = [span[0] * (span[1] / span[0]) ** (i / 40) for i in range(41)]
        axes.plot(
            grid,
            [min(1.0, fit["a"] + fit["b_per_ln_n"] * math.log(x)) for x in grid],
            color="#888",
            linestyle=":",
            label="fit: a + b ln(n)",
        )
    if target is not None:
        axes.axhline(target, color="#444", linestyle="--", linewidth=1, label=f"target {target:.0%}")
    axes.set_xscale("log")
    axes.set_xlabel("training examples")
    axes.set_ylabel(curve.get("metric", "quality"))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _svg(figure, "learning curve")


def threshold_chart(calibration: Mapping[str, Any], candidate: str) -> str:
    """Quality of the accepted answers against the share escalated, one point per confidence
    threshold, on dev (where it was chosen) and on test (where it was not), chosen one marked."""
    curve = calibration.get("curve") or []
    if not curve or calibration.get("threshold") is None:
        return ""
    figure = _figure(7.5, 3.8)
    axes = figure.add_subplot()
    metric = calibration.get("metric", "quality")
    for split, colour, style in (("dev", PALETTE[0], "-"), ("test", PALETTE[1], "--")):
        drawn = [row for row in curve if row.get(f"{split}_quality") is not None]
        if not drawn:
            continue
        axes.plot(
            [row[f"{split}_escalation"] for row in drawn],
            [row[f"{split}_quality"] for row in drawn],
            style,
            color=colour,
            marker=".",
            markersize=4,
            label=f"{split}" + (" (threshold chosen here)" if split == "dev" else " (held out)"),
        )
    threshold = calibration["threshold"]
    for split, colour, marker in (("dev", PALETTE[0], "o"), ("test", PALETTE[1], "s")):
        point = calibration.get(split)
        if not point or point.get("quality") is None:
            continue
        value = point["quality"]
        low, high = point.get("low"), point.get("high")
        errors = None if low is None or high is None else [[value - low], [high - value]]
        axes.errorbar(
            [point["escalation_rate"]],
            [value],
            yerr=errors,
            fmt=marker,
            color=colour,
            capsize=4,
            markersize=7,
        )
    chosen = calibration.get("dev") or {}
    if chosen.get("quality") is not None:
        axes.annotate(
            f"threshold {threshold:.3g}",
            (chosen["escalation_rate"], chosen["quality"]),
            textcoords="offset points",
            xytext=(-10, 10),
            ha="right",
            fontsize=8,
        )
    target = calibration.get("target")
    if target is not None:
        axes.axhline(target, color="#444", linestyle="--", linewidth=1, label=f"target {target:.0%}")
    cap = calibration.get("max_escalation")
    if cap is not None:
        axes.axvline(cap, color="#999", linestyle=":", linewidth=1, label=f"escalation cap {cap:.0%}")
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("share of requests escalated (below the threshold, or invalid)")
    axes.set_ylabel(f"{metric} of the answers served")
    axes.set_title(candidate, fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    return _svg(figure, f"quality against escalation for {candidate}")
