"""Decision: from measured results, the task's targets and its volume to the lever to pull."""

from steerlab.decision.breakeven import BreakEven, break_even
from steerlab.decision.learning_curve import CurvePoint, LearningCurve
from steerlab.decision.tree import ACTIONS, Decision, decide, minimum_training_examples

__all__ = [
    "ACTIONS",
    "BreakEven",
    "CurvePoint",
    "Decision",
    "LearningCurve",
    "break_even",
    "decide",
    "minimum_training_examples",
]
