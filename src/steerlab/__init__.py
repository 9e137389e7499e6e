"""steerlab: measure prompting, retrieval and fine-tuning side by side, and say which lever to pull."""

from steerlab.errors import SteerlabError
from steerlab.models import GenerationParams, LabelScores, Model, list_models, load_model, pull

__version__ = "0.1.0"

__all__ = [
    "GenerationParams",
    "LabelScores",
    "Model",
    "SteerlabError",
    "__version__",
    "list_models",
    "load_model",
    "pull",
]
