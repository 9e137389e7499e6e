from __future__ import annotations

from pathlib import Path

import pytest

from steerlab.errors import ModelNotFoundError
from steerlab.models.catalog import list_models, load_model, pull
from steerlab.models.local import TransformersModel
from steerlab.models.openai_compat import OpenAICompatModel


def test_list_shows_both_embedded_defaults_uncached_in_a_fresh_home() -> None:
    rows = {row.name: row for row in list_models()}
    assert rows["gemma-3-270m"].chat_template is False
    assert rows["qwen2.5-coder-0.5b-instruct"].chat_template is True
    assert rows["gemma-3-270m"].license == "Gemma Terms of Use"
    assert rows["qwen2.5-coder-0.5b-instruct"].license == "Apache-2.0"
    assert not any(row.cached for row in rows.values())


def test_a_local_directory_loads_through_the_transformers_backend(tiny_chat_dir: Path) -> None:
    model = load_model(str(tiny_chat_dir), dtype="float32")
    assert isinstance(model, TransformersModel)
    assert model.has_chat_template
    assert model.generate_one("hello").output_tokens > 0


def test_a_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        load_model(str(tmp_path))


def test_an_unknown_name_lists_what_exists() -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        load_model("no-such-model")
    assert "qwen2.5-coder-0.5b-instruct" in (caught.value.hint or "")


def test_openai_prefix_selects_the_http_backend() -> None:
    model = load_model("openai:gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="k")
    assert isinstance(model, OpenAICompatModel)
    assert model.name == "openai:gpt-4o-mini"


def test_pull_refuses_what_it_cannot_pull() -> None:
    with pytest.raises(ModelNotFoundError, match="neither an embedded model"):
        pull("org/some-hub-model")
