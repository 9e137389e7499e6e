"""The report: one self-contained HTML page, and the same numbers as JSON beside it.

The page inlines its charts as SVG and its styles as CSS: no script, font or image is fetched
when it is opened, so it can be mailed, archived or opened on an offline laptop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steerlab.report import charts

if TYPE_CHECKING:
    from steerlab.decision import Decision, LearningCurve
    from steerlab.evaluation.results import EvalResults
    from steerlab.task import Task

__all__ = ["Report", "build_report", "write_report"]

TEMPLATE = Path(__file__).with_name("page.html.j2")


@dataclass(frozen=True)
class Report:
    html: str
    data: dict[str, Any]

    def write(self, html_path: Path) -> tuple[Path, Path]:
        """``html_path`` and the JSON beside it (same stem), each written atomically."""
        from steerlab.atomic import atomic_write_text

        html_path = Path(html_path)
        html_path.parent.mkdir(parents=True, exist_ok=True)
        json_path = html_path.with_suffix(".json")
        atomic_write_text(json_path, json.dumps(self.data, indent=2, default=_jsonable))
        atomic_write_text(html_path, self.html)
        return html_path, json_path


def build_report(
    task: Task,
    results: EvalResults,
    decision: Decision,
    *,
    card: dict[str, Any] | None = None,
    learning_curve: LearningCurve | None = None,
) -> Report:
    from jinja2 import Environment, select_autoescape

    import steerlab
    from steerlab.decision.tree import lever_of

    primary = results.primary
    guards = [
        name for name in (results.candidates[0].metrics if results.candidates else {}) if name != primary
    ]
    targets = task.targets
    rows = []
    for c in results.candidates:
        cost, success = c.ops.get("cost_per_1k_usd"), c.ops.get("cost_per_success_usd")
        meets = decision.evidence.get("candidates", {}).get(c.name, {}).get("meets", {})
        rows.append(
            {
                "name": c.name,
                "lever": lever_of(c.recipe).replace("_", "-"),
                "model": c.recipe.get("model"),
                "quality": c.metrics[primary].show(),
                "guards": [c.metrics[g].show() for g in guards],
                "valid": f"{c.validity_rate:.0%}",
                "latency": f"{c.ops['latency_p50_s'] * 1000:.0f} / {c.ops['latency_p95_s'] * 1000:.0f}",
                "tokens": f"{c.ops['input_tokens_mean']:.0f} / {c.ops['output_tokens_mean']:.0f}",
                "cost": "-" if cost is None else f"{cost:.4f}",
                "success": "-" if success is None else f"{success:.6f}",
                "meets": [(k, v) for k, v in meets.items() if v is not None],
            }
        )
    points = [
        {
            "name": c.name,
            "quality": c.metrics[primary].value,
            "low": c.metrics[primary].low,
            "high": c.metrics[primary].high,
            "cost": c.ops.get("cost_per_1k_usd"),
        }
        for c in results.candidates
    ]
    best = results.best() if results.candidates else None
    drawn = {
        "quality_cost": charts.quality_cost_chart(points, primary, targets.quality, targets.cost_per_1k_usd),
        "latency": charts.latency_chart(
            {c.name: c.details.get("latency_s", []) for c in results.candidates}, targets.p95_latency_ms
        ),
        "failures": charts.failure_chart({c.name: c.failures for c in results.candidates}),
        "confusion": charts.confusion_chart(best.details.get("confusion", {}), best.name) if best else "",
        "learning_curve": charts.learning_curve_chart(learning_curve.to_dict(), targets.quality)
        if learning_curve is not None
        else "",
    }
    field_rows = []
    if best is not None and best.details.get("fields"):
        for name, scores in best.details["fields"].items():
            s = scores if isinstance(scores, dict) else vars(scores)
            field_rows.append(
                {
                    "name": name,
                    "precision": f"{s['precision']:.1%}",
                    "recall": f"{s['recall']:.1%}",
                    "f1": f"{s['f1']:.1%}",
                    "support": s["support"],
                }
            )
    thresholds = _threshold_sections(results, decision)
    be = decision.break_even.to_dict() if decision.break_even is not None else None
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = environment.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        version=steerlab.__version__,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        task=task,
        results=results,
        decision=decision,
        guards=guards,
        rows=rows,
        comparisons=[c["summary"] for c in results.comparisons if c.get("summary")],
        mdd=None
        if results.minimum_detectable_difference is None
        else f"{results.minimum_detectable_difference:.1%}",
        charts=drawn,
        field_rows=field_rows,
        field_candidate=best.name if best else "",
        thresholds=thresholds,
        break_even=be,
        break_even_note="No break-even: it needs a tuned candidate cheaper than the one that would ship "
        "otherwise, with a measured training time.",
        card_html=_card_html(card),
    )
    data = {
        "task": {"name": task.name, "kind": task.kind, "spec_hash": task.content_hash()},
        "targets": targets.model_dump(),
        "volume": task.volume.model_dump(),
        "results": results.to_dict(),
        "decision": decision.to_dict(),
        "learning_curve": None if learning_curve is None else learning_curve.to_dict(),
        "data_card": card,
    }
    return Report(html, data)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _served(point: dict[str, Any], metric: str) -> str:
    """``88.0% [80.1%, 94.0%] accuracy on the 31 of 40 answers served, 22% escalated``."""
    if point.get("quality") is None:
        return "no answer accepted"
    interval = f" [{point['low']:.1%}, {point['high']:.1%}]" if point.get("low") is not None else ""
    return (
        f"{point['quality']:.1%}{interval} {metric} on the {point['accepted']} of "
        f"{point['n']} answers served, {point['escalation_rate']:.0%} escalated"
    )


def _threshold_sections(results: EvalResults, decision: Decision) -> list[dict[str, Any]]:
    """One section per calibrated candidate, the recommended one first: what its threshold does
    on dev, where it was chosen, and on test, where it was not."""
    names = sorted(results.calibration, key=lambda name: (name != decision.candidate, name))
    sections = []
    for name in names:
        c = results.calibration[name]
        dev, test = c.get("dev") or {}, c.get("test") or {}
        sections.append(
            {
                "name": name,
                "recommended": name == decision.candidate,
                "threshold": None if c["threshold"] is None else f"{c['threshold']:.4g}",
                "reason": c["reason"],
                "metric": c["metric"],
                "dev": _served(dev, c["metric"]) if dev else "",
                "test": _served(test, c["metric"]) if test else "",
                "chart": charts.threshold_chart(c, name),
                "rows": [
                    {
                        "threshold": f"{row['threshold']:.4g}",
                        "dev_quality": _percent(row["dev_quality"]),
                        "dev_escalation": _percent(row["dev_escalation"]),
                        "test_quality": _percent(row["test_quality"]),
                        "test_escalation": _percent(row["test_escalation"]),
                        "chosen": row.get("chosen", False),
                    }
                    for row in c.get("table", [])
                ],
            }
        )
    return sections


def write_report(html_path: Path, *args: Any, **kwargs: Any) -> tuple[Path, Path]:
    """Build the report and write it (HTML and JSON); returns both paths."""
    return build_report(*args, **kwargs).write(html_path)


def _card_html(card: dict[str, Any] | None) -> str:
    """The data card's Markdown rendered to HTML (markdown-it-py, which rich already brings)."""
    if not card:
        return '<p class="muted">No data card.</p>'
    from markdown_it import MarkdownIt

    from steerlab.data.card import render_markdown

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(render_markdown(card))


def _jsonable(value: Any) -> Any:
    """The results' encoder (numpy scalars), plus paths (the data card names its source files)."""
    from steerlab.evaluation.results import _jsonable as results_jsonable

    return str(value) if isinstance(value, Path) else results_jsonable(value)
