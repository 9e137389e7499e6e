"""Every metric against values worked out by hand (or, for ROUGE-L and chrF, by the reference
implementations), and the contracts the docstrings promise: invalid predictions are wrong,
abstentions map to the other label, nulls are absent fields, nothing touches the network."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from steerlab.data.example import Example
from steerlab.errors import DataError
from steerlab.evaluation import metrics
from steerlab.evaluation.metrics import (
    INVALID,
    METRICS,
    AbstentionReport,
    MetricContext,
    abstention_report,
    compute,
    confusion,
    field_report,
    per_class,
    per_example,
    per_example_scores,
    sufficient_stats,
)
from steerlab.evaluation.prediction import Prediction
from steerlab.task import METRICS_BY_KIND, Task


def pred(output: Any, **kwargs: Any) -> Prediction:
    return Prediction(example_id="", candidate="c", output=output, **kwargs)


def preds(*outputs: Any) -> list[Prediction]:
    return [pred(o) for o in outputs]


NO_CONTEXT = MetricContext()


def test_context_from_a_task(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text('{"text": "hi", "label": "b"}\n')
    spec = {"inputs": ["text"], "data": {"train": "train.jsonl"}}
    classify = Task.model_validate(
        {
            "name": "t",
            "kind": "classify",
            "output": {"field": "label", "labels": ["a", "b"], "other_label": "b"},
        }
        | spec,
        context={"task_dir": tmp_path},
    )
    assert MetricContext.from_task(classify) == MetricContext(labels=("a", "b"), other_label="b")
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    extract = Task.model_validate(
        {"name": "t", "kind": "extract", "output": {"field": "label", "schema": schema}} | spec,
        context={"task_dir": tmp_path},
    )
    assert MetricContext.from_task(extract, passage_of={"c": "p"}) == MetricContext(
        json_schema=schema, passage_of={"c": "p"}
    )


def test_registry_covers_every_task_metric_with_one_signature() -> None:
    assert set(METRICS) == {name for names in METRICS_BY_KIND.values() for name in names}
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
    value = METRICS["accuracy"](["a"], preds("a"), NO_CONTEXT)
    assert value == 1.0 and isinstance(value, float)


# --- classify --------------------------------------------------------------------------------

# gold a a a b, predicted a a b b: a has TP 2 of 2 predicted, 3 gold -> F1 4/5; b has TP 1 of 2
# predicted, 1 gold -> F1 2/3.
GOLD_AB = ["a", "a", "a", "b"]
PRED_AB = preds("a", "a", "b", "b")


def test_accuracy_macro_and_weighted_f1_by_hand() -> None:
    ctx = MetricContext(labels=("a", "b"))
    assert compute("classify", GOLD_AB, PRED_AB, ctx) == pytest.approx(
        {"accuracy": 3 / 4, "macro_f1": (4 / 5 + 2 / 3) / 2, "weighted_f1": (3 * 4 / 5 + 2 / 3) / 4}
    )


def test_macro_f1_skips_labels_neither_gold_nor_predicted() -> None:
    # "z" never occurs: its F1 is undefined, not 0, so it must not drag the average down.
    assert metrics.macro_f1(GOLD_AB, PRED_AB, MetricContext(labels=("a", "b", "z"))) == pytest.approx(
        (4 / 5 + 2 / 3) / 2
    )


def test_invalid_none_and_out_of_set_predictions_are_wrong() -> None:
    golds = ["a", "b", "a", "b"]
    predictions = [pred("a"), pred(None), pred("a", valid=False), pred("q")]
    ctx = MetricContext(labels=("a", "b"))
    assert metrics.accuracy(golds, predictions, ctx) == 0.25
    assert per_example_scores("accuracy", golds, predictions, ctx) == [1.0, 0.0, 0.0, 0.0]
    # Invalid predictions lower the gold label's recall and no label's precision.
    report = per_class(golds, predictions, ["a", "b"])
    assert report["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert report["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert metrics.macro_f1(golds, predictions, ctx) == pytest.approx(1 / 3)


def test_without_a_label_set_any_predicted_label_is_a_class() -> None:
    # "q" becomes a class with F1 0, as scikit-learn's default label union would have it.
    golds, predictions = ["a", "b"], preds("a", "q")
    assert metrics.macro_f1(golds, predictions, NO_CONTEXT) == pytest.approx(1 / 3)
    assert list(per_class(golds, predictions)) == ["a", "b", "q"]


def test_confusion_has_every_cell_and_an_invalid_column() -> None:
    golds = ["a", "a", "b", "b", "c"]
    predictions = [pred("a"), pred("b"), pred("b"), pred(None), pred("nope")]
    assert confusion(golds, predictions, ["a", "b", "c"]) == {
        "a": {"a": 1, "b": 1, "c": 0, INVALID: 0},
        "b": {"a": 0, "b": 1, "c": 0, INVALID: 1},
        "c": {"a": 0, "b": 0, "c": 0, INVALID: 1},
    }


def test_abstention_maps_to_the_other_label() -> None:
    golds = ["a", "c", "c", "b", "a"]
    predictions = [pred("a"), pred(None, abstained=True), pred("a"), pred(None, abstained=True), pred(None)]
    ctx = MetricContext(labels=("a", "b", "c"), other_label="c")
    # Predicted labels: a, c, a, c, invalid. Answered: #0 right, #2 and #4 wrong.
    assert abstention_report(golds, predictions, ctx) == AbstentionReport(
        n=5,
        abstained=2,
        coverage=0.6,
        selective_accuracy=pytest.approx(1 / 3),
        abstention_precision=0.5,  # of #1 (gold c) and #3 (gold b)
        abstention_recall=0.5,  # of the gold c at #1 and #2, only #1
    )
    assert metrics.accuracy(golds, predictions, ctx) == 0.4
    # Without an other label an abstention is just a non-answer.
    assert metrics.accuracy(golds, predictions, MetricContext(labels=("a", "b", "c"))) == 0.2


def test_abstention_report_needs_the_other_label() -> None:
    with pytest.raises(ValueError, match="other_label"):
        abstention_report(["a"], preds("a"), NO_CONTEXT)


def test_abstention_report_is_none_where_undefined() -> None:
    report = abstention_report(["a", "b"], preds("a", "a"), MetricContext(other_label="z"))
    assert report.coverage == 1.0 and report.selective_accuracy == 0.5
    assert report.abstention_precision is None and report.abstention_recall is None


def test_examples_as_golds_are_checked_against_prediction_ids() -> None:
    examples = [Example(inputs={"text": t}, output=label) for t, label in (("x", "a"), ("y", "b"))]
    aligned = [Prediction(example_id=e.id, candidate="c", output="a") for e in examples]
    assert metrics.accuracy(examples, aligned, NO_CONTEXT) == 0.5
    with pytest.raises(ValueError, match="same order"):
        metrics.accuracy(examples, aligned[::-1], NO_CONTEXT)
    with pytest.raises(ValueError, match="aligned"):
        metrics.accuracy(examples, aligned[:1], NO_CONTEXT)


# --- extract ---------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}},
    "required": ["name"],
}
EXTRACT_GOLDS = [
    {"name": "Ann Lee", "age": 30, "city": "Paris"},
    {"name": "Bob", "age": 41, "city": None},
    {"name": "Cy", "age": 5},
    {"name": "Di", "age": 1},
    {"name": "Ed"},
]
EXTRACT_PREDS = preds(
    {"name": "  ann lee ", "age": 30.0, "city": "London"},  # name and age match: 2 of 3 / 3
    {"name": "Bob", "age": "41"},  # "41" is not 41: 1 of 2 / 2 (a null gold field is absent)
    None,  # 0 of 0 / 2
    {"name": "Di", "age": True},  # True is not 1: 1 of 2 / 2
    {"name": "Ed"},  # 1 of 1 / 1
)


def test_field_f1_is_micro_over_normalised_pairs() -> None:
    ctx = MetricContext(json_schema=SCHEMA)
    # matched 5, predicted 8, gold 10: 2*5 / (8 + 10)
    assert metrics.field_f1(EXTRACT_GOLDS, EXTRACT_PREDS, ctx) == pytest.approx(10 / 18)
    assert per_example_scores("field_f1", EXTRACT_GOLDS, EXTRACT_PREDS, ctx) == pytest.approx(
        [2 / 3, 0.5, 0.0, 0.5, 1.0]
    )
    assert per_example("field_f1", {}, pred({}), ctx) == 1.0  # nothing to extract, nothing extracted


def test_exact_match_and_schema_validity() -> None:
    ctx = MetricContext(json_schema=SCHEMA)
    assert metrics.exact_match(EXTRACT_GOLDS, EXTRACT_PREDS, ctx) == pytest.approx(1 / 5)
    # Valid: #0 (30.0 is an integer to JSON Schema) and #4; "41", None and True fail.
    assert metrics.schema_validity(EXTRACT_GOLDS, EXTRACT_PREDS, ctx) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="json_schema"):
        metrics.schema_validity(EXTRACT_GOLDS, EXTRACT_PREDS, NO_CONTEXT)


def test_field_report_per_field_in_schema_order() -> None:
    report = field_report(EXTRACT_GOLDS, EXTRACT_PREDS, MetricContext(json_schema=SCHEMA))
    assert list(report) == ["name", "age", "city"]
    assert report["name"] == {"precision": 1.0, "recall": 0.8, "f1": pytest.approx(8 / 9), "support": 5}
    assert report["age"] == {
        "precision": pytest.approx(1 / 3),
        "recall": 0.25,
        "f1": pytest.approx(2 / 7),
        "support": 4,
    }
    assert report["city"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_extract_gold_must_be_an_object_and_says_where() -> None:
    example = Example(inputs={"text": "x"}, output="not an object", source="data.jsonl", line=7)
    with pytest.raises(DataError, match=r"data.jsonl:7: .*expected a JSON object"):
        metrics.field_f1([example], preds({}), NO_CONTEXT)


# --- answer ----------------------------------------------------------------------------------


def test_answer_correctness_is_squad_token_f1() -> None:
    # Normalised: "eiffel tower in paris" vs "eiffel tower": P 1, R 1/2.
    assert per_example(
        "answer_correctness", "The Eiffel Tower in Paris!", pred("eiffel tower"), NO_CONTEXT
    ) == (pytest.approx(2 / 3))
    assert per_example("answer_correctness", "an apple", pred("Apple."), NO_CONTEXT) == 1.0
    # Best over acceptable answers: "paris" -> 2/3, "city of paris" -> 2/5.
    golds = [{"answer": ["Paris", "the city of Paris"], "passages": []}]
    assert metrics.answer_correctness(golds, preds({"answer": "Paris, France"}), NO_CONTEXT) == (
        pytest.approx(2 / 3)
    )


def test_abstaining_is_right_only_for_unanswerable_questions() -> None:
    abstain = pred(None, abstained=True)
    assert per_example("answer_correctness", "", abstain, NO_CONTEXT) == 1.0
    assert per_example("answer_correctness", {"answer": None}, abstain, NO_CONTEXT) == 1.0
    assert per_example("answer_correctness", "Paris", abstain, NO_CONTEXT) == 0.0
    assert per_example("answer_correctness", "", pred("Paris"), NO_CONTEXT) == 0.0


def cites(*chunks: str) -> Prediction:
    return pred("Paris", extra={"citations": list(chunks)})


def test_citation_precision_by_passage_id() -> None:
    golds = [{"answer": "Paris", "passages": ["doc1", "doc2"]}] * 3
    predictions = [cites("doc1#0", "doc3#1", "doc1#0"), cites(), cites("doc2")]
    ctx = MetricContext(passage_of={"doc1#0": "doc1", "doc3#1": "doc3"})
    # Duplicates count once: 1 of 2; #1 cites nothing (no score); doc2 is its own passage: 1 of 1.
    assert per_example_scores("citation_precision", golds, predictions, ctx) == [0.5, None, 1.0]
    assert metrics.citation_precision(golds, predictions, ctx) == 0.75
    assert metrics.citation_precision(golds, [cites()] * 3, ctx) == 0.0


def test_citation_precision_falls_back_to_answer_in_chunk_text() -> None:
    ctx = MetricContext(chunk_text={"c1": "Paris is the capital of France.", "c2": "Berlin is in Germany."})
    assert metrics.citation_precision(["Paris"], [cites("c1", "c2")], ctx) == 0.5
    with pytest.raises(DataError, match="passages"):
        metrics.citation_precision(["Paris"], [cites("c1")], NO_CONTEXT)


def test_compute_answer_adds_citation_precision_only_when_something_cites() -> None:
    golds = [{"answer": "Paris", "passages": ["d1"]}]
    assert compute("answer", golds, preds("Paris"), NO_CONTEXT) == {"answer_correctness": 1.0}
    assert compute("answer", golds, [cites("d1")], NO_CONTEXT) == {
        "answer_correctness": 1.0,
        "citation_precision": 1.0,
    }
    with pytest.raises(ValueError, match="task kind"):
        compute("summarise", golds, [cites("d1")], NO_CONTEXT)


# --- generate --------------------------------------------------------------------------------

REFS = ["the cat sat on the mat", "hello world", "Cats are running quickly."]
HYPS = ["a cat was sitting on the mat", "hello there world", "the cat runs quick"]


def test_rouge_l_by_hand_and_against_rouge_score() -> None:
    from rouge_score import rouge_scorer

    # LCS of "the cat sat on the mat" and "a cat was sitting on the mat" is "cat on the mat":
    # P 4/7, R 4/6, F 8/13.
    assert per_example("rouge_l", REFS[0], pred(HYPS[0]), NO_CONTEXT) == pytest.approx(8 / 13)
    reference = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    expected = [reference.score(r, h)["rougeL"].fmeasure for r, h in zip(REFS, HYPS, strict=True)]
    scores = per_example_scores("rouge_l", REFS, preds(*HYPS), NO_CONTEXT)
    assert scores == pytest.approx(expected)
    assert metrics.rouge_l(REFS, preds(*HYPS), NO_CONTEXT) == pytest.approx(sum(expected) / 3)
    assert all(s is not None and 0 <= s <= 1 for s in scores)


def test_rouge_l_stems_and_scores_non_latin_text() -> None:
    assert per_example("rouge_l", "cats running", pred("cat runs"), NO_CONTEXT) == 1.0
    # rouge-score's default tokenizer keeps only [a-z0-9] and scores Chinese as empty (0);
    # here each character is a token: LCS 3 of 4.
    assert per_example("rouge_l", "我喜欢猫", pred("我喜欢狗"), NO_CONTEXT) == pytest.approx(0.75)
    assert per_example("rouge_l", "Grüße aus Köln", pred("grüße aus köln"), NO_CONTEXT) == 1.0


def test_chrf_matches_sacrebleu_sentence_and_corpus_scores() -> None:
    from sacrebleu.metrics import CHRF

    reference = CHRF()
    expected = [reference.sentence_score(h, [r]).score / 100 for r, h in zip(REFS, HYPS, strict=True)]
    scores = per_example_scores("chrf", REFS, preds(*HYPS), NO_CONTEXT)
    assert scores == pytest.approx(expected)
    assert all(s is not None and 0 < s < 1 for s in scores)
    assert metrics.chrf(REFS, preds(*HYPS), NO_CONTEXT) == pytest.approx(
        reference.corpus_score(HYPS, [REFS]).score / 100
    )
    assert per_example("chrf", "same text", pred("same text"), NO_CONTEXT) == pytest.approx(1.0)
    assert per_example("chrf", "some text", pred(None), NO_CONTEXT) == 0.0


def test_generation_metrics_never_reach_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a metric tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(nltk, "download", refuse)
    metrics._rouge.cache_clear()
    metrics._chrf.cache_clear()
    assert compute("generate", REFS, preds(*HYPS), NO_CONTEXT).keys() == {"rouge_l", "chrf"}


# --- per-example and sufficient statistics ---------------------------------------------------


def test_per_example_is_none_where_the_metric_does_not_decompose() -> None:
    assert per_example("macro_f1", "a", pred("a"), NO_CONTEXT) is None
    assert per_example("accuracy", "a", pred("a"), NO_CONTEXT) == 1.0
    with pytest.raises(ValueError, match="unknown metric"):
        per_example("bleu", "a", pred("a"), NO_CONTEXT)


@pytest.mark.parametrize(
    ("name", "golds", "predictions", "ctx"),
    [
        ("accuracy", GOLD_AB, PRED_AB, NO_CONTEXT),
        ("macro_f1", GOLD_AB, PRED_AB, NO_CONTEXT),
        ("field_f1", EXTRACT_GOLDS, EXTRACT_PREDS, NO_CONTEXT),
        ("chrf", REFS, preds(*HYPS), NO_CONTEXT),
    ],
)
def test_sufficient_stats_sum_to_the_metric(
    name: str, golds: list[Any], predictions: list[Prediction], ctx: MetricContext
) -> None:
    stats = sufficient_stats(name, golds, predictions, ctx)
    assert stats is not None and stats.values.shape[0] == len(golds)
    assert stats.value() == pytest.approx(METRICS[name](golds, predictions, ctx))
    assert sufficient_stats(METRICS[name], golds, predictions, ctx) is not None
    assert sufficient_stats(lambda g, p, c: 0.0, golds, predictions, ctx) is None
