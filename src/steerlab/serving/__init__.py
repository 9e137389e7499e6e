"""Serving steerlab models over HTTP, in the OpenAI API's shape so that any client can call them."""

from steerlab.serving.openai_api import SupportsTokenLogprobs, create_app, run_server_in_thread

__all__ = ["SupportsTokenLogprobs", "create_app", "run_server_in_thread"]
