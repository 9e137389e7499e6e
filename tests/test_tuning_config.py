"""Training defaults by task kind and data size, overrides, and refusals of impossible settings."""

from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM

from steerlab.errors import ConfigError
from steerlab.tuning.config import TrainConfig, find_target_modules


def test_defaults_follow_the_task_kind_and_data_size() -> None:
    small_labels = TrainConfig.for_task("classify", 120)
    large_text = TrainConfig.for_task("generate", 5000)
    assert (small_labels.rank, small_labels.learning_rate, small_labels.epochs) == (8, 2e-4, 5)
    assert (large_text.rank, large_text.learning_rate, large_text.epochs) == (16, 1e-4, 2)
    assert small_labels.max_length < large_text.max_length
    assert small_labels.eval_every == 120 // 8 // 2  # twice an epoch
    tuned = TrainConfig.for_task("classify", 120, rank=32, target_modules=["q_proj", "v_proj"])
    assert tuned.rank == 32 and tuned.target_modules == ("q_proj", "v_proj")
    assert TrainConfig.from_dict(tuned.to_dict()) == tuned


@pytest.mark.parametrize(
    "bad", [{"rank": 0}, {"dropout": 1.0}, {"learning_rate": 0}, {"precision": "fp8"}, {"typo": 1}]
)
def test_impossible_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError):
        TrainConfig.for_task("classify", 100, **bad)


def test_target_modules_are_found_by_name(tiny_base_dir) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    assert find_target_modules(model) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    with pytest.raises(ConfigError, match="no linear layer called 'c_attn'"):
        find_target_modules(model, ("q_proj", "c_attn"))


def test_a_token_budget_caps_steps_deterministically() -> None:
    """`steerlab run` keeps tuning within time by a token budget turned into a step count."""
    config = TrainConfig.for_task("extract", 100, batch_size=4)  # 25 steps an epoch, 5 epochs
    lengths = [200] * 100  # 20,000 tokens an epoch
    assert config.within_tokens(lengths, 200_000) == config  # 5 epochs fit: untouched
    capped = config.within_tokens(lengths, 30_000)
    assert capped.max_steps == 37  # 1.5 epochs of 25 steps
    assert capped.within_tokens(lengths, 30_000) == capped
    assert config.within_tokens(lengths, 30_000, world_size=2).max_steps == 19  # 13 steps an epoch
    assert config.with_overrides(max_steps=10).within_tokens(lengths, 30_000).max_steps == 10
    assert config.within_tokens(lengths, 1).max_steps == 1
    with pytest.raises(ConfigError):
        config.within_tokens(lengths, 0)
