"""Training sequences: the prompt exactly as inference renders it, loss only on the answer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.errors import DataError
from steerlab.models.local import TransformersModel
from steerlab.prompts import load_template
from steerlab.task import load_task
from steerlab.tuning.batches import collate
from steerlab.tuning.examples import TrainingSequence, encode_examples, encode_splits
from steerlab.tuning.loss import answer_loss_sum
from test_runner import LABELS, make_task


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tuning-examples")
    task = load_task(make_task(root / "task", rows=45))
    check_data(task, workspace=root / "ws")
    return task, load_dataset(root / "ws", task.name)


def test_chat_sequence_is_the_inference_prompt_then_label_and_end_of_turn(
    prepared, tiny_chat: TransformersModel
) -> None:
    task, dataset = prepared
    template = load_template("classify")
    encoded = encode_examples(tiny_chat, task, template, dataset.train)
    assert len(encoded) == len(dataset.train) and not encoded.too_long
    for example, sequence in zip(dataset.train, encoded, strict=True):
        prompt = template.render(task, example)
        assert list(sequence.input_ids[: sequence.answer_start]) == tiny_chat.encode(prompt)
        assert tiny_chat.tokenizer.decode(sequence.answer_ids) == f"{example.output}<|im_end|>"
        assert sequence.loss_mask == [False] * sequence.answer_start + [True] * len(sequence.answer_ids)
        assert sequence.example_id == example.id


def test_base_model_answer_has_the_label_prefix_and_eos(prepared, tiny_base: TransformersModel) -> None:
    task, dataset = prepared
    template = load_template("classify")
    sequence = encode_examples(tiny_base, task, template, dataset.train[:1])[0]
    tokenizer = tiny_base.tokenizer
    assert sequence.input_ids[0] == tokenizer.bos_token_id  # no chat template: BOS added as in inference
    assert sequence.input_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(sequence.answer_ids[:-1]) == f" {dataset.train[0].output}"
    assert tokenizer.decode(sequence.input_ids[: sequence.answer_start]).endswith("Assistant:")


def test_loss_on_the_label_tokens_is_what_label_scoring_scores(
    prepared, tiny_chat: TransformersModel
) -> None:
    # The strongest check that training sees the label where inference looks for it: the mean
    # cross-entropy of the label tokens equals minus the log-probability label scoring reports.
    task, dataset = prepared
    template = load_template("classify")
    example = dataset.train[0]
    scores = tiny_chat.score_one(template.render(task, example), LABELS)
    full = encode_examples(tiny_chat, task, template, [example])[0]
    for label, logprob in zip(LABELS, scores.logprobs, strict=True):
        relabelled = dataclasses.replace(example, output=label)
        answer = encode_examples(tiny_chat, task, template, [relabelled])[0]
        label_only = TrainingSequence(
            example.id, answer.input_ids[:-1], full.answer_start
        )  # drop end-of-turn
        batch = collate([label_only], tiny_chat.tokenizer.pad_token_id)
        with torch.no_grad():
            summed = answer_loss_sum(
                tiny_chat.model, batch.input_ids, batch.attention_mask, batch.predictors, batch.targets
            )
        assert float(summed) / batch.answer_tokens == pytest.approx(-logprob, abs=1e-4)


def test_too_long_examples_are_dropped_and_reported(prepared, tiny_chat: TransformersModel) -> None:
    task, dataset = prepared
    template = load_template("classify")
    lengths = [len(s) for s in encode_examples(tiny_chat, task, template, dataset.train)]
    cut = sorted(lengths)[len(lengths) // 2]
    encoded = encode_examples(tiny_chat, task, template, dataset.train, max_length=cut)
    assert all(len(s) <= cut for s in encoded)
    assert len(encoded) + len(encoded.too_long) == len(dataset.train)
    assert encoded.too_long and len(encoded) > 0


def test_encode_splits_refuses_unredacted_pii(prepared, tiny_chat: TransformersModel) -> None:
    task, dataset = prepared
    leaky = dataclasses.replace(dataset, manifest={**dataset.manifest, "pii": {"found": {"EMAIL": 2}}})
    with pytest.raises(DataError, match="unredacted personal data"):
        encode_splits(tiny_chat, task, load_template("classify"), leaky)
    train, dev = encode_splits(tiny_chat, task, load_template("classify"), leaky, allow_unredacted_pii=True)
    assert len(train) == len(dataset.train) and len(dev) == len(dataset.dev)


def test_free_text_answers_use_the_formatted_output(tmp_path: Path, tiny_chat: TransformersModel) -> None:
    from steerlab.data.example import Example

    task_dir = tmp_path / "qa"
    task_dir.mkdir()
    (task_dir / "task.yaml").write_text(
        "name: qa\nkind: extract\ndescription: tickets\ninputs: [text]\n"
        "output:\n  field: fields\n  schema:\n    type: object\n"
        "    properties:\n      category: {type: string}\n"
        "data:\n  train: train.jsonl\ncleaning:\n  pii_kinds: []\n"
    )
    (task_dir / "train.jsonl").write_text("")
    task = load_task(task_dir)
    example = Example({"text": "my card was charged twice"}, {"category": "billing"})
    sequence = encode_examples(tiny_chat, task, load_template("extract"), [example])[0]
    assert tiny_chat.tokenizer.decode(sequence.answer_ids) == '{"category": "billing"}<|im_end|>'
