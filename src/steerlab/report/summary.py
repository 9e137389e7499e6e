"""The terminal view of a report: one table of candidates and the recommendation under it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from steerlab.decision.tree import lever_of

if TYPE_CHECKING:
    from steerlab.decision import Decision
    from steerlab.evaluation.results import EvalResults

__all__ = ["summary_table"]


def summary_table(results: EvalResults, decision: Decision) -> Group:
    """Candidates with quality, latency, cost and whether they meet the targets; then the decision."""
    primary = results.primary
    table = Table(
        title=f"{results.task}: {results.n} {results.split} examples, dataset {results.dataset_version}"
    )
    table.add_column("candidate")
    table.add_column("lever")
    table.add_column(f"{primary} [95% CI]", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("$ / 1k", justify="right")
    table.add_column("meets", justify="center")
    meets = decision.evidence.get("candidates", {})
    for c in results.candidates:
        flags = meets.get(c.name, {}).get("meets", {})
        known = [v for v in flags.values() if v is not None]
        mark = "-" if not known else "[green]yes[/green]" if all(known) else "[red]no[/red]"
        cost = c.ops.get("cost_per_1k_usd")
        table.add_row(
            f"[bold]{c.name}[/bold]" if c.name == decision.candidate else c.name,
            lever_of(c.recipe).replace("_", "-"),
            c.metrics[primary].show(),
            f"{c.ops['latency_p95_s'] * 1000:.0f}",
            "-" if cost is None else f"{cost:.4f}",
            mark,
        )
    lines = [f"[bold]{decision.headline}[/bold]  ({decision.confidence} confidence)"]
    if decision.candidate:
        lines.append(f"candidate: [bold]{decision.candidate}[/bold]")
    lines += [f"- {reason}" for reason in decision.reasons]
    for name, calibration in results.calibration.items():
        if calibration["threshold"] is None or not calibration.get("test"):
            continue
        test = calibration["test"]
        served = "-" if test["quality"] is None else f"{test['quality']:.1%}"
        lines.append(
            f"{name}: confidence threshold {calibration['threshold']:.3g} (fitted on dev): on test "
            f"{served} {calibration['metric']} served, {test['escalation_rate']:.0%} escalated"
        )
    return Group(table, Panel("\n".join(lines), title="recommendation", expand=False))
