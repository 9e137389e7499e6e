"""steerlab: measure prompting, retrieval and fine-tuning side by side, and say which lever to pull."""

__version__ = "0.1.0"
