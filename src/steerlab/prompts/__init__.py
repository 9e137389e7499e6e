"""Prompt templates: named parts, versioned by content, rendered deterministically."""

from steerlab.prompts.template import PART_NAMES, PromptTemplate, diff_templates, format_output, load_template

__all__ = ["PART_NAMES", "PromptTemplate", "diff_templates", "format_output", "load_template"]
