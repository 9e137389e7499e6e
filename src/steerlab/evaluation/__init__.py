"""Evaluation: every candidate measured the same way on the same held-out examples."""
