"""Training sequences: each example as the exact tokens the model reads at inference, plus its answer.

An adapter only helps if it is trained on the prompt the candidate will send. So the prompt is
rendered by the same template (zero-shot, as a tuned candidate runs) and the same chat template
the evaluation uses, with the assistant turn left open; the answer tokens are then tokenised as
the continuation of that text, exactly as label scoring tokenises a label (a merge across the
boundary, such as a leading space joining the first word, comes out the same). The turn is
closed with the model's end-of-turn token, so a tuned model also learns where to stop.

Loss is taken on the answer tokens only: learning to reproduce the instructions and the input
would spend the adapter's capacity on text the model is always given.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from steerlab.errors import DataError
from steerlab.prompts.template import format_output

if TYPE_CHECKING:
    from steerlab.data.dataset import Dataset
    from steerlab.data.example import Example
    from steerlab.models.local import TransformersModel
    from steerlab.prompts.template import PromptTemplate
    from steerlab.task import Task

__all__ = ["SequenceSet", "TrainingSequence", "answer_text", "encode_examples", "encode_splits"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSequence:
    """One example's token ids; ``input_ids[answer_start:]`` are the answer (ending in end-of-turn)."""

    example_id: str
    input_ids: tuple[int, ...]
    answer_start: int

    def __post_init__(self) -> None:
        if not 0 < self.answer_start < len(self.input_ids):
            raise ValueError("a training sequence needs at least one prompt token and one answer token")

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def answer_ids(self) -> tuple[int, ...]:
        return self.input_ids[self.answer_start :]

    @property
    def loss_mask(self) -> list[bool]:
        """True at the tokens the loss is taken on (the answer), False at the prompt."""
        return [i >= self.answer_start for i in range(len(self.input_ids))]


@dataclass(frozen=True)
class SequenceSet:
    """Encoded examples, and the ids of those dropped for not fitting in ``max_length`` tokens."""

    sequences: list[TrainingSequence]
    too_long: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[TrainingSequence]:
        return iter(self.sequences)

    def __getitem__(self, index: int) -> TrainingSequence:
        return self.sequences[index]


def answer_text(model: TransformersModel, task: Task, template: PromptTemplate, example: Example) -> str:
    """The text the model should write after the open turn: the gold output as inference reads it.

    For classify with label scoring this is ``label_prefix + label``, the very string scored;
    the same prefix (a space after a plain ``Assistant:`` transcript, nothing after a chat
    template) is used for other kinds so a base model's answer starts as it would in generation.
    """
    return model.label_prefix + format_output(task, example.output, template.name)


def end_of_turn_id(model: TransformersModel) -> int:
    """The token that closes an assistant turn: what the chat template writes after an answer.

    Qwen closes with ``<|im_end|>``, Gemma with ``<end_of_turn>`` (not its ``<eos>``); training on
    the token the template really uses is what makes generation stop there. Found by rendering
    a closed turn and taking the first stop token after the answer; without a chat template,
    the tokenizer's EOS.
    """
    tokenizer = model.tokenizer
    stop_ids = set(model._eos_ids)  # every token generation stops at, including the config's
    if model.has_chat_template:
        probe = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
        opened, _ = model.render(probe)
        closed = tokenizer.apply_chat_template(probe, tokenize=False)
        if closed.startswith(opened):
            for token in tokenizer(closed[len(opened) :], add_special_tokens=False)["input_ids"]:
                if token in stop_ids:
                    return token
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    if stop_ids:
        return min(stop_ids)
    raise DataError(f"model {model.name} has no end-of-sequence token to end answers with")


def encode_examples(
    model: TransformersModel,
    task: Task,
    template: PromptTemplate,
    examples: Sequence[Example],
    *,
    max_length: int | None = None,
) -> SequenceSet:
    """Token ids of prompt + answer + end-of-turn for each example, in input order.

    An example longer than ``max_length`` is dropped, not truncated: cutting the prompt would
    train on an input the candidate never sees, and cutting the answer would teach the model to
    stop mid-answer. The caller can report ``too_long``.
    """
    end = end_of_turn_id(model)
    sequences: list[TrainingSequence] = []
    too_long: list[str] = []
    for example in examples:
        messages = template.render(task, example)
        text, templated = model.render(messages)
        prompt_ids = model.tokenizer(text, add_special_tokens=not templated)["input_ids"]
        answer_ids = model._continuation_ids(text, answer_text(model, task, template, example))
        ids = (*prompt_ids, *answer_ids, end)
        if max_length is not None and len(ids) > max_length:
            too_long.append(example.id)
            continue
        sequences.append(TrainingSequence(example.id, ids, len(prompt_ids)))
    if too_long:
        log.warning(
            "%d of %d examples exceed %s tokens and were left out", len(too_long), len(examples), max_length
        )
    return SequenceSet(sequences, too_long)


def encode_splits(
    model: TransformersModel,
    task: Task,
    template: PromptTemplate,
    dataset: Dataset,
    *,
    max_length: int | None = None,
    allow_unredacted_pii: bool = False,
) -> tuple[SequenceSet, SequenceSet]:
    """The train and dev splits encoded, after the dataset's refusal to train on unredacted PII.

    The PII check lives here, on the only road from a dataset to training tokens, so no caller
    can forget it.
    """
    dataset.check_trainable(allow_unredacted_pii=allow_unredacted_pii)
    if not dataset.train:
        raise DataError(f"dataset {dataset.version} has no training examples", path=dataset.path)
    train = encode_examples(model, task, template, dataset.train, max_length=max_length)
    dev = encode_examples(model, task, template, dataset.dev, max_length=max_length)
    if not train.sequences:
        raise DataError(
            f"every training example is longer than max_length={max_length} tokens",
            hint="raise max_length or shorten the inputs",
        )
    return train, dev
