import math

import pytest

from steerlab.models.base import (
    GenerationParams,
    LabelScores,
    flatten_messages,
    normalise_prompt,
    truncate_at_stop,
)


def test_label_scores_are_a_softmax_over_normalised_logprobs() -> None:
    scores = LabelScores(("a", "b", "c"), (-1.0, -2.0, -3.0))
    assert math.isclose(sum(scores.probs), 1.0)
    assert scores.best == "a"
    expected = math.exp(-1) / (math.exp(-1) + math.exp(-2) + math.exp(-3))
    assert math.isclose(scores.confidence, expected)
    assert [label for label, _ in scores.ranked()] == ["a", "b", "c"]


def test_label_scores_reject_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        LabelScores(("a", "b"), (-1.0,))


def test_truncate_at_stop_cuts_at_the_earliest_sequence() -> None:
    assert truncate_at_stop("alpha END beta STOP", ["STOP", "END"]) == ("alpha ", True)
    assert truncate_at_stop("nothing here", ["STOP"]) == ("nothing here", False)
    assert truncate_at_stop("text", []) == ("text", False)


def test_flatten_messages_opens_an_assistant_turn() -> None:
    text = flatten_messages([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert text == "System: Be brief.\nUser: Hi\nAssistant:"


def test_normalise_prompt_names_the_bad_message() -> None:
    with pytest.raises(ValueError, match="message 1: role"):
        normalise_prompt([{"role": "user", "content": "ok"}, {"role": "robot", "content": "x"}])
    with pytest.raises(ValueError, match="at least one"):
        normalise_prompt([])


@pytest.mark.parametrize("bad", [{"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 0}])
def test_generation_params_validate(bad: dict) -> None:
    with pytest.raises(ValueError):
        GenerationParams(**bad)
