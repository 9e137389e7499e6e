"""When a fine-tune pays for itself: one-off tuning cost against per-request savings at volume.

The one-off cost is the measured training wall time times the hardware's hourly price, plus the
task's ``prices.training_one_off_usd`` (labelling, engineering). The saving is the difference in
cost per request between the candidate that would otherwise ship and the tuned one, both
measured on the same held-out split. Months to pay back = one-off cost / monthly saving; the
break-even volume is the monthly volume at which it pays back within the horizon.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PAYBACK_HORIZON_MONTHS", "BreakEven", "break_even"]

PAYBACK_HORIZON_MONTHS = 12.0
"""A fine-tune that takes longer than this to repay its one-off cost is not worth it for cost
alone: by then the base model, the prices or the task have usually changed."""


@dataclass(frozen=True)
class BreakEven:
    baseline: str
    """The candidate that ships without tuning (what the savings are measured against)."""
    tuned: str
    training_wall_s: float
    hardware_per_hour_usd: float
    one_off_usd: float
    """Training compute at the hardware price, plus the task's training_one_off_usd."""
    baseline_cost_per_1k_usd: float
    tuned_cost_per_1k_usd: float
    monthly_requests: int
    horizon_months: float

    @property
    def saving_per_1k_usd(self) -> float:
        return self.baseline_cost_per_1k_usd - self.tuned_cost_per_1k_usd

    @property
    def monthly_saving_usd(self) -> float:
        return self.saving_per_1k_usd * self.monthly_requests / 1000

    @property
    def months_to_payback(self) -> float:
        """inf when the tuned model saves nothing per request."""
        if self.one_off_usd <= 0:
            return 0.0 if self.saving_per_1k_usd >= 0 else math.inf
        return self.one_off_usd / self.monthly_saving_usd if self.monthly_saving_usd > 0 else math.inf

    @property
    def break_even_monthly_requests(self) -> float:
        """The monthly volume at which tuning pays back within the horizon (inf: never)."""
        if self.saving_per_1k_usd <= 0:
            return math.inf
        return self.one_off_usd / self.horizon_months / self.saving_per_1k_usd * 1000

    @property
    def pays(self) -> bool:
        return self.months_to_payback <= self.horizon_months

    @property
    def payback_text(self) -> str:
        months = self.months_to_payback
        if math.isinf(months):
            return "never (it saves nothing per request)"
        return f"{months:.1f} months" if months >= 1 else f"{months * 30.4:.1f} days"

    def describe(self) -> str:
        payback = self.payback_text
        volume = self.break_even_monthly_requests
        at = "no volume" if math.isinf(volume) else f"{volume:,.0f} requests/month"
        return (
            f"tuning costs ${self.one_off_usd:.2f} once ({self.training_wall_s / 3600:.2f} h at "
            f"${self.hardware_per_hour_usd:.2f}/h); {self.tuned} costs ${self.tuned_cost_per_1k_usd:.4f} "
            f"per 1k requests against ${self.baseline_cost_per_1k_usd:.4f} for {self.baseline}, saving "
            f"${self.monthly_saving_usd:.2f}/month at {self.monthly_requests:,} requests/month: payback "
            f"in {payback}; it pays back within {self.horizon_months:g} months from {at}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in (
            "saving_per_1k_usd",
            "monthly_saving_usd",
            "months_to_payback",
            "break_even_monthly_requests",
        ):
            value = getattr(self, name)
            data[name] = None if math.isinf(value) else value
        data["pays"] = self.pays
        data["payback_text"] = self.payback_text
        return data


def break_even(
    *,
    baseline: str,
    tuned: str,
    baseline_cost_per_1k_usd: float,
    tuned_cost_per_1k_usd: float,
    training_wall_s: float,
    hardware_per_hour_usd: float,
    training_one_off_usd: float,
    monthly_requests: int,
    horizon_months: float = PAYBACK_HORIZON_MONTHS,
) -> BreakEven:
    one_off = training_wall_s / 3600 * hardware_per_hour_usd + training_one_off_usd
    return BreakEven(
        baseline=baseline,
        tuned=tuned,
        training_wall_s=training_wall_s,
        hardware_per_hour_usd=hardware_per_hour_usd,
        one_off_usd=one_off,
        baseline_cost_per_1k_usd=baseline_cost_per_1k_usd,
        tuned_cost_per_1k_usd=tuned_cost_per_1k_usd,
        monthly_requests=monthly_requests,
        horizon_months=horizon_months,
    )
