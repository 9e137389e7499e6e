"""The HTML report: self-contained, every section present, and its charts render in Chromium."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from steerlab.data.check import check_data
from steerlab.decision import CurvePoint, LearningCurve, decide
from steerlab.report import build_report, summary_table
from steerlab.task import load_task
from test_decision import cand, make_task, paired, results
from test_runner import make_task as make_data_task

LABELS = ["a", "b", "c"]


def report_inputs(tmp_path: Path):
    task = make_task(tmp_path, volume=1_000_000)
    big = cand(
        "big-prompted", 0.93, model="large", cost=0.8, p95_s=1.0, failures={"behaviour": 20, "format": 5}
    )
    tuned = cand("small-tuned", 0.94, lever="fine_tune", cost=0.05, p95_s=0.1, failures={"behaviour": 18})
    few = cand("few-shot", 0.7, failures={"behaviour": 60, "prompt_sensitive": 40, "format": 10})
    rng = np.random.default_rng(0)
    for c, scale in ((big, 0.9), (tuned, 0.08), (few, 1.2)):
        c.details["latency_s"] = list(rng.lognormal(math.log(scale), 0.3, size=200))
        c.details["confusion"] = {
            g: {p: (40 if g == p else 3) for p in [*LABELS, "<invalid>"]} for g in LABELS
        }
    evaluated = results(
        tuned,
        big,
        few,
        comparisons=[
            paired("small-tuned", "big-prompted", 0.01, 0.4),
            paired("small-tuned", "few-shot", 0.24, 1e-9),
        ],
    )
    for row in evaluated.comparisons:
        row["summary"] = f"{row['a']} vs {row['b']}: {row['diff']:+.1%}, p = {row['p_value']:.2g}"
    curve = LearningCurve.of(
        "small-tuned",
        "accuracy",
        [
            CurvePoint(n, 0.3 + 0.1 * math.log(n), 0.25 + 0.1 * math.log(n), 0.35 + 0.1 * math.log(n))
            for n in (50, 100, 200, 400)
        ],
    )
    decision = decide(
        task, evaluated, train_examples=5000, training_wall_s={"small-tuned": 1800.0}, learning_curve=curve
    )
    data_task = load_task(make_data_task(tmp_path / "data-task"))
    card = check_data(data_task, workspace=tmp_path / "ws").card
    return task, evaluated, decision, card, curve


def test_the_report_is_one_self_contained_page_with_every_section(tmp_path: Path) -> None:
    task, evaluated, decision, card, curve = report_inputs(tmp_path)
    assert decision.action == "fine_tune_for_cost"
    report = build_report(task, evaluated, decision, card=card, learning_curve=curve)
    html_path, json_path = report.write(tmp_path / "out" / "report.html")
    html = html_path.read_text()
    for anchor in (
        "recommendation",
        "candidates",
        "quality-cost",
        "latency",
        "failures",
        "confusion",
        "escalation",
        "learning-curve",
        "break-even",
        "data-card",
    ):
        assert f'id="{anchor}"' in html
    assert "No confidence threshold was calibrated" in html
    assert html.count('<svg class="chart"') == 5  # quality/cost, latency, failures, confusion, learning curve
    assert "Fine-tune for cost: a tuned small model can give the quality for less." in html
    assert "Data card: runner" in html and "<table>" in html
    # Nothing is fetched when the page opens: no scripts, stylesheets, images or fonts by URL.
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "url(http" not in html
    data = json.loads(json_path.read_text())
    assert data["decision"]["action"] == "fine_tune_for_cost"
    assert data["decision"]["break_even"]["pays"] is True
    assert data["learning_curve"]["fit"]["b_per_ln_n"] == pytest.approx(0.1)
    assert data["results"]["candidates"][0]["name"] == "small-tuned"


def with_threshold(evaluated):
    """The recommended candidate calibrated on hand-made answers (tests/test_calibration.py)."""
    from steerlab.evaluation.calibration import calibrate
    from test_calibration import DEV, TEST

    fitted = calibrate(DEV, TEST, metric="accuracy", target=0.8, max_escalation=0.5, min_accepted=3)
    evaluated.calibration["small-tuned"] = fitted.to_dict()
    return evaluated


def test_the_report_shows_what_the_threshold_does_on_dev_and_test(tmp_path: Path) -> None:
    task, evaluated, decision, card, curve = report_inputs(tmp_path)
    assert decision.candidate == "small-tuned"
    report = build_report(task, with_threshold(evaluated), decision, card=card, learning_curve=curve)
    html_path, json_path = report.write(tmp_path / "out" / "report.html")
    html = html_path.read_text()
    section = html[html.index('id="escalation"') : html.index('id="learning-curve"')]
    assert "<h3>small-tuned (recommended)</h3>" in section and "Threshold <b>0.6</b>" in section
    assert "reach the accuracy target of 80% on dev" in section
    assert "Dev: 83.3% [" in section and "accuracy on the 6 of 10 answers served, 40% escalated" in section
    assert "Test: 80.0% [" in section and "accuracy on the 5 of 10 answers served, 50% escalated" in section
    assert section.count('<svg class="chart"') == 1 and 'aria-label="quality against escalation' in section
    rows = re.findall(r"<tr[^>]*><td class=\"num\">([^<]+)</td>", section)
    assert rows == ["0", "0.4", "0.5", "0.6 (chosen)", "0.7"]
    assert html.count('<svg class="chart"') == 6
    data = json.loads(json_path.read_text())
    assert data["results"]["calibration"]["small-tuned"]["threshold"] == 0.6


def test_the_terminal_summary_names_the_recommendation(tmp_path: Path) -> None:
    from rich.console import Console

    _, evaluated, decision, _, _ = report_inputs(tmp_path)
    console = Console(record=True, width=160)
    console.print(summary_table(evaluated, decision))
    text = console.export_text()
    assert "small-tuned" in text and "fine-tune" in text and "Fine-tune for cost" in text


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


needs_browser = pytest.mark.skipif(
    chromium() is None and not os.environ.get("STEERLAB_REQUIRE_BROWSER"),
    reason="headless Chromium is not installed (.ci/run installs it and sets STEERLAB_REQUIRE_BROWSER)",
)


def assert_charts_render(html_path: Path, shot: Path, *, min_bands: int = 5) -> None:
    """Screenshot ``html_path`` in headless Chromium and check that its charts were drawn."""
    from PIL import Image

    browser = chromium()
    assert browser is not None, "STEERLAB_REQUIRE_BROWSER is set but no Chromium was found"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1200,6000",
            html_path.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # Chart colours are saturated; text, rules and the page are grey. Count strongly coloured
    # pixels in horizontal bands: each drawn chart leaves a band of them.
    saturation = image.max(axis=2) - image.min(axis=2)
    coloured_rows = (saturation > 80).sum(axis=1) > 20
    bands, inside = 0, False
    for row in coloured_rows:
        if row and not inside:
            bands += 1
        inside = bool(row)
    assert bands >= min_bands, f"only {bands} coloured bands: charts did not render"
    assert (saturation > 80).mean() > 0.005  # tens of thousands of coloured pixels
    if os.environ.get("STEERLAB_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["STEERLAB_KEEP_SCREENSHOT"])


@needs_browser
def test_the_report_renders_its_charts_in_headless_chromium(tmp_path: Path) -> None:
    task, evaluated, decision, card, curve = report_inputs(tmp_path)
    html_path, _ = build_report(
        task, with_threshold(evaluated), decision, card=card, learning_curve=curve
    ).write(tmp_path / "r.html")
    assert_charts_render(html_path, tmp_path / "report.png", min_bands=6)


@needs_browser
@pytest.mark.skipif(not os.environ.get("STEERLAB_REPORT"), reason="set STEERLAB_REPORT to a report file")
def test_a_given_report_renders_its_charts(tmp_path: Path) -> None:
    """The same check on a report from a real run, e.g. the README's main command:
    ``STEERLAB_REPORT=examples/ticket-triage/.steerlab/reports/ticket-triage.html pytest -k given``."""
    assert_charts_render(Path(os.environ["STEERLAB_REPORT"]), tmp_path / "report.png")
