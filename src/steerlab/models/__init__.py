"""Models: one interface (:class:`Model`) over local transformers and OpenAI-compatible endpoints."""

from steerlab.models.base import Generation, GenerationParams, LabelScores, Model, Prompt
from steerlab.models.catalog import CatalogEntry, list_models, load_model, pull

__all__ = [
    "CatalogEntry",
    "Generation",
    "GenerationParams",
    "LabelScores",
    "Model",
    "Prompt",
    "list_models",
    "load_model",
    "pull",
]
