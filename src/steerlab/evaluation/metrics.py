"""Metrics: how good a candidate's predictions are, per task kind.

Every metric is a plain function ``metric(golds, preds, context) -> float`` over aligned lists
(gold i belongs to prediction i) that returns the corpus value on a 0-1 scale. It takes the whole
corpus because some metrics are not means of per-example scores (macro F1, micro field F1, corpus
chrF). ``golds`` may hold :class:`~steerlab.data.example.Example` objects (their ``output`` is
read, and their ids are checked against the predictions) or the gold outputs themselves.

Behind each metric are additive sufficient statistics: one row of numbers per example whose
column sums determine the corpus value (counts of true positives, n-gram matches, a score and a
weight). The bootstrap in :mod:`steerlab.evaluation.stats` resamples those rows instead of
recomputing the metric from scratch, which is what makes 1000 resamples of macro F1 or chrF take
milliseconds. :func:`per_example` reads the same rows one at a time, so a per-example score can
never drift from the corpus value it decomposes.

Contracts, by kind:

* classify: a gold output is a label. A prediction's label is ``pred.output``; it counts as wrong
  (the ``"<invalid>"`` column of :func:`confusion`) when it is None, ``pred.valid`` is false, or
  it lies outside ``context.labels``. ``pred.abstained`` means the task's ``other_label`` when the
  task has one, and invalid otherwise.
* extract: a gold output is a JSON object; ``pred.output`` is the parsed object (or None).
* answer: a gold output is the answer text, a list of acceptable answers, or a mapping with
  ``"answer"`` (text or list) and ``"passages"`` (the ids of the passages that support it). A
  prediction's text is ``pred.output`` (text, or a mapping with ``"answer"``); an abstained
  prediction answers nothing, which is right only for an unanswerable question (empty gold
  answer), as in SQuAD 2.0. Citations are ``pred.extra["citations"]``: the ids of the chunks the
  answer cites. A chunk is a correct citation when its passage (``context.passage_of`` maps chunk
  ids to passage ids; by default a chunk id is its passage id) is one of the gold passages, or,
  when the gold names no passages, when its text (``context.chunk_text``) contains a gold answer.
* generate: a gold output is the reference text; ``pred.output`` is the generated text.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict

import numpy as np
from jsonschema import Draft202012Validator

from steerlab.data.example import Example, canonical_json
from steerlab.errors import DataError
from steerlab.evaluation.prediction import Prediction
from steerlab.task import METRICS_BY_KIND, Task

__all__ = [
    "INVALID",
    "METRICS",
    "AbstentionReport",
    "Metric",
    "MetricContext",
    "Scores",
    "SufficientStats",
    "abstention_report",
    "accuracy",
    "answer_correctness",
    "chrf",
    "citation_precision",
    "compute",
    "confusion",
    "exact_match",
    "field_f1",
    "field_report",
    "macro_f1",
    "metric_name",
    "per_class",
    "per_example",
    "per_example_scores",
    "rouge_l",
    "schema_validity",
    "sufficient_stats",
    "weighted_f1",
]

INVALID = "<invalid>"

Finish = Callable[[np.ndarray], np.ndarray]
_Golds = Sequence[Any]
_Preds = Sequence[Prediction]


@dataclass(frozen=True)
class MetricContext:
    """What a metric needs to know about the task beyond golds and predictions.

    ``labels``: the classify label set (predictions outside it are invalid); None accepts any
    label. ``other_label``: the "none of these" label that abstentions map to. ``json_schema``:
    the extract output schema. ``passage_of`` and ``chunk_text``: for citation precision, the
    passage each cited chunk id belongs to, and each chunk's text (see the module docstring).
    """

    labels: tuple[str, ...] | None = None
    other_label: str | None = None
    json_schema: Mapping[str, Any] | None = None
    passage_of: Mapping[str, str] | None = None
    chunk_text: Mapping[str, str] | None = None

    @classmethod
    def from_task(
        cls,
        task: Task,
        *,
        passage_of: Mapping[str, str] | None = None,
        chunk_text: Mapping[str, str] | None = None,
    ) -> MetricContext:
        """The context a validated task implies, plus what retrieval knows about its chunks."""
        return cls(
            labels=tuple(task.label_names) or None,
            other_label=task.output.other_label,
            json_schema=task.json_schema,
            passage_of=passage_of,
            chunk_text=chunk_text,
        )


Metric = Callable[[Sequence[Any], Sequence[Prediction], MetricContext], float]


@dataclass(frozen=True)
class SufficientStats:
    """Per-example rows whose column sums give the metric: ``finish(values.sum(axis=0))``.

    ``values`` has shape (n_examples, d); ``finish`` maps totals of shape (..., d) to metric
    values of shape (...), so a (resamples, d) matrix of bootstrap totals is finished in one call.
    ``decomposes`` says whether one example's row alone is a meaningful score (false for macro F1);
    ``defined`` (when given) says which examples have a score at all (those that cite something,
    for citation precision).
    """

    values: np.ndarray
    finish: Finish
    decomposes: bool = True
    defined: np.ndarray | None = None

    def value(self) -> float:
        return float(self.finish(self.values.sum(axis=0)))


class Scores(TypedDict):
    precision: float
    recall: float
    f1: float
    support: int


# --- shared helpers --------------------------------------------------------------------------


def _gold(gold: Any) -> Any:
    return gold.output if isinstance(gold, Example) else gold


def _where(gold: Any) -> dict[str, Any]:
    """Where a gold came from, for DataError: the file and line of an Example, else nothing."""
    if isinstance(gold, Example) and gold.source:
        return {"path": gold.source, "line": gold.line}
    return {}


def _check_aligned(golds: Sequence[Any], preds: Sequence[Prediction]) -> None:
    if len(golds) != len(preds):
        raise ValueError(f"{len(golds)} golds but {len(preds)} predictions; they must be aligned")
    for i, (gold, pred) in enumerate(zip(golds, preds, strict=True)):
        if isinstance(gold, Example) and pred.example_id and pred.example_id != gold.id:
            raise ValueError(
                f"prediction {i} is for example {pred.example_id!r} but gold {i} is {gold.id!r} "
                f"({gold.where}); pass golds and predictions in the same order"
            )


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    """num / den, with ``empty`` where den is 0."""
    out = np.full(np.broadcast(num, den).shape, empty, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _mean_finish(totals: np.ndarray) -> np.ndarray:
    return _ratio(totals[..., 0], totals[..., 1], 0.0)


def _mean_stats(scores: Sequence[float]) -> SufficientStats:
    """A metric that is the mean of per-example scores: rows are (score, 1)."""
    values = np.column_stack([np.asarray(scores, dtype=float), np.ones(len(scores))])
    return SufficientStats(values.reshape(len(scores), 2), _mean_finish)


# --- classify --------------------------------------------------------------------------------


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def _pred_label(pred: Prediction, labels: frozenset[str] | None, other_label: str | None) -> str | None:
    """The label a prediction stands for, or None when it is invalid (always wrong)."""
    if pred.abstained:
        return other_label
    if not pred.valid or pred.output is None or isinstance(pred.output, dict | list):
        return None
    label = str(pred.output)
    return label if labels is None or label in labels else None


def _labelled(
    golds: Sequence[Any], preds: Sequence[Prediction], labels: Sequence[str] | None, other_label: str | None
) -> tuple[list[str], list[str | None], list[str]]:
    """Gold labels, predicted labels (None = invalid) and the label universe, in a stable order.

    The universe is the given label set (plus any gold label outside it, so no gold is lost), or
    without one the sorted union of gold and predicted labels.
    """
    _check_aligned(golds, preds)
    allowed = frozenset(labels) if labels is not None else None
    gold = [_label(_gold(g)) or "" for g in golds]
    pred = [_pred_label(p, allowed, other_label) for p in preds]
    if labels is not None:
        universe = list(dict.fromkeys(labels))
        universe += sorted(set(gold) - set(universe))
    else:
        universe = sorted(set(gold) | {p for p in pred if p is not None})
    return gold, pred, universe


def _class_stats(
    golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext
) -> tuple[np.ndarray, list[str]]:
    """Rows of [gold one-hot | predicted one-hot | true-positive one-hot], shape (n, 3K)."""
    gold, pred, universe = _labelled(golds, preds, context.labels, context.other_label)
    index = {label: k for k, label in enumerate(universe)}
    n, k = len(gold), len(universe)
    rows = np.zeros((n, 3 * k))
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        rows[i, index[g]] = 1
        if p is not None:
            rows[i, k + index[p]] = 1
            if p == g:
                rows[i, 2 * k + index[p]] = 1
    return rows, universe


def _class_f1(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class F1, gold support and a mask of the classes that occur, from (..., 3K) totals.

    F1 = 2·TP / (gold + predicted), which equals 2PR/(P+R) and is 0 when TP is 0. A class that
    is neither in the gold nor predicted has no F1 and is left out of the averages: a test split
    without a rare label should not score zero on it.
    """
    k = totals.shape[-1] // 3
    gold, pred, tp = totals[..., :k], totals[..., k : 2 * k], totals[..., 2 * k :]
    occurs = (gold + pred) > 0
    return _ratio(2 * tp, gold + pred, 0.0), gold, occurs


def _macro_finish(totals: np.ndarray) -> np.ndarray:
    f1, _, occurs = _class_f1(totals)
    return _ratio((f1 * occurs).sum(axis=-1), occurs.sum(axis=-1), 0.0)


def _weighted_finish(totals: np.ndarray) -> np.ndarray:
    f1, gold, _ = _class_f1(totals)
    return _ratio((f1 * gold).sum(axis=-1), gold.sum(axis=-1), 0.0)


def _accuracy_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    gold, pred, _ = _labelled(golds, preds, context.labels, context.other_label)
    return _mean_stats([float(p == g) for g, p in zip(gold, pred, strict=True)])


def _macro_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    return SufficientStats(_class_stats(golds, preds, context)[0], _macro_finish, decomposes=False)


def _weighted_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    return SufficientStats(_class_stats(golds, preds, context)[0], _weighted_finish, decomposes=False)


def per_class(
    golds: Sequence[Any],
    preds: Sequence[Prediction],
    labels: Sequence[str] | None = None,
    *,
    other_label: str | None = None,
) -> dict[str, Scores]:
    """Precision, recall, F1 and gold support of each label, in label-set order.

    An invalid prediction lowers the recall of its gold label and no label's precision; a label
    never predicted has precision 0.
    """
    rows, universe = _class_stats(golds, preds, MetricContext(labels=_tuple(labels), other_label=other_label))
    totals = rows.sum(axis=0)
    k = len(universe)
    gold, pred, tp = totals[:k], totals[k : 2 * k], totals[2 * k :]
    precision, recall = _ratio(tp, pred, 0.0), _ratio(tp, gold, 0.0)
    f1 = _ratio(2 * tp, gold + pred, 0.0)
    return {
        label: Scores(
            precision=float(precision[j]), recall=float(recall[j]), f1=float(f1[j]), support=int(gold[j])
        )
        for j, label in enumerate(universe)
    }


def confusion(
    golds: Sequence[Any],
    preds: Sequence[Prediction],
    labels: Sequence[str] | None = None,
    *,
    other_label: str | None = None,
) -> dict[str, dict[str, int]]:
    """Counts by gold label (rows) and predicted label (columns), every cell present.

    The last column, ``"<invalid>"``, counts predictions that are None, invalid or outside the
    label set: a parser failure is a different mistake from a wrong label and reports show both.
    """
    gold, pred, universe = _labelled(golds, preds, _tuple(labels), other_label)
    table = {g: dict.fromkeys([*universe, INVALID], 0) for g in universe}
    for g, p in zip(gold, pred, strict=True):
        table[g][INVALID if p is None else p] += 1
    return table


def _tuple(labels: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if labels is None else tuple(labels)


@dataclass(frozen=True)
class AbstentionReport:
    """How a classifier uses its "other" label, as selective classification measures it.

    ``coverage`` is the fraction of examples answered (not abstained) and ``selective_accuracy``
    the accuracy on those, the risk-coverage view of El-Yaniv & Wiener (2010, JMLR 11). Abstention
    precision is the fraction of abstentions whose gold is the other label; recall, the fraction
    of other-label golds abstained on. None where the denominator is empty.
    """

    n: int
    abstained: int
    coverage: float
    selective_accuracy: float | None
    abstention_precision: float | None
    abstention_recall: float | None


def abstention_report(
    golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext
) -> AbstentionReport:
    """Coverage, selective accuracy and abstention precision/recall; needs ``context.other_label``."""
    other = context.other_label
    if other is None:
        raise ValueError("abstention_report needs context.other_label (the task's output.other_label)")
    gold, pred, _ = _labelled(golds, preds, context.labels, other)
    abstain = np.array([p == other for p in pred], dtype=bool)
    gold_other = np.array([g == other for g in gold], dtype=bool)
    correct = np.array([p == g for g, p in zip(gold, pred, strict=True)], dtype=bool)
    answered = ~abstain

    def share(hits: np.ndarray, of: np.ndarray) -> float | None:
        return float(hits[of].mean()) if of.any() else None

    n = len(gold)
    return AbstentionReport(
        n=n,
        abstained=int(abstain.sum()),
        coverage=float(answered.mean()) if n else 0.0,
        selective_accuracy=share(correct, answered),
        abstention_precision=share(gold_other, abstain),
        abstention_recall=share(abstain, gold_other),
    )


# --- extract ---------------------------------------------------------------------------------


def _normal(value: Any) -> Any:
    """A hashable, comparison-friendly form of a JSON value.

    Strings are stripped and casefolded; numbers compare as numbers (3 == 3.0). Each kind is
    tagged so that True never equals 1 and "3" never equals 3.
    """
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value.strip().casefold())
    if isinstance(value, Mapping):
        return ("o", tuple(sorted((str(k), _normal(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("l", tuple(_normal(v) for v in value))
    return ("?", repr(value))


def _pairs(obj: Any) -> set[tuple[str, Any]]:
    """(top-level field, normalised value) pairs; a null field counts as absent."""
    if not isinstance(obj, Mapping):
        return set()
    return {(str(k), _normal(v)) for k, v in obj.items() if v is not None}


def _gold_object(gold: Any, index: int) -> Mapping[str, Any]:
    value = _gold(gold)
    if not isinstance(value, Mapping):
        raise DataError(
            f"extract: gold {index} is {type(value).__name__}, expected a JSON object",
            **_where(gold),
        )
    return value


def _field_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    """Rows of (matched pairs, predicted pairs, gold pairs): micro F1 = 2·matched / (pred + gold)."""
    _check_aligned(golds, preds)
    rows = np.zeros((len(golds), 3))
    for i, (gold, pred) in enumerate(zip(golds, preds, strict=True)):
        want, got = _pairs(_gold_object(gold, i)), _pairs(pred.output)
        rows[i] = (len(want & got), len(got), len(want))
    return SufficientStats(rows, _field_finish)


def _field_finish(totals: np.ndarray) -> np.ndarray:
    # Nothing to extract and nothing extracted is a perfect answer, not an undefined one.
    return _ratio(2 * totals[..., 0], totals[..., 1] + totals[..., 2], 1.0)


def field_report(
    golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext | None = None
) -> dict[str, Scores]:
    """Precision, recall and F1 of each top-level field, for a field-error table.

    A field is predicted when the prediction has it (non-null) and correct when its normalised
    value equals the gold's; support counts golds that have it. Fields follow the schema's
    property order when ``context.json_schema`` is given, then any others alphabetically.
    """
    _check_aligned(golds, preds)
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    support: Counter[str] = Counter()
    for i, (gold, pred) in enumerate(zip(golds, preds, strict=True)):
        want, got = _pairs(_gold_object(gold, i)), _pairs(pred.output)
        support.update(name for name, _ in want)
        predicted.update(name for name, _ in got)
        tp.update(name for name, _ in want & got)
    schema = context.json_schema if context is not None else None
    ordered = list((schema or {}).get("properties", {}))
    names = [*ordered, *sorted((set(support) | set(predicted)) - set(ordered))]
    report: dict[str, Scores] = {}
    for name in names:
        hit, p, g = tp[name], predicted[name], support[name]
        report[name] = Scores(
            precision=hit / p if p else 0.0,
            recall=hit / g if g else 0.0,
            f1=2 * hit / (p + g) if p + g else 0.0,
            support=g,
        )
    return report


@lru_cache(maxsize=8)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _schema_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    _check_aligned(golds, preds)
    if context.json_schema is None:
        raise ValueError("schema_validity needs context.json_schema (the task's output schema)")
    validator = _validator(canonical_json(context.json_schema))
    return _mean_stats(
        [float(p.output is not None and validator.is_valid(p.output)) for p in preds],
    )


def _exact_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    # Strict on purpose: field_f1 is the lenient view, this one asks for the object byte for byte.
    _check_aligned(golds, preds)
    return _mean_stats(
        [
            float(p.output is not None and canonical_json(p.output) == canonical_json(_gold(g)))
            for g, p in zip(golds, preds, strict=True)
        ]
    )


# --- answer ----------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def _normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation (Rajpurkar et al. 2016, EMNLP; the official evaluation
    script): lowercase, drop punctuation (here also Unicode punctuation), drop English articles,
    collapse whitespace."""
    text = text.lower()
    text = "".join(c for c in text if c not in _ASCII_PUNCT and not unicodedata.category(c).startswith("P"))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _token_f1(gold: str, pred: str) -> float:
    """SQuAD token F1; an empty side scores 1 only when both are empty (the SQuAD 2.0 rule)."""
    want, got = _normalize_answer(gold).split(), _normalize_answer(pred).split()
    if not want or not got:
        return float(want == got)
    same = sum((Counter(want) & Counter(got)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(got), same / len(want)
    return 2 * precision * recall / (precision + recall)


def _gold_answers(gold: Any) -> list[str]:
    value = _gold(gold)
    if isinstance(value, Mapping):
        value = value.get("answer")
    if value is None:
        return [""]
    if isinstance(value, list | tuple):
        return [str(v) for v in value] or [""]
    return [str(value)]


def _pred_answer(pred: Prediction) -> str:
    value = pred.output
    if pred.abstained or value is None:
        return ""
    if isinstance(value, Mapping):
        value = value.get("answer")
        return "" if value is None else str(value)
    return str(value)


def _answer_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    """Mean token F1, the best over the acceptable gold answers (SQuAD's max over references)."""
    _check_aligned(golds, preds)
    return _mean_stats(
        [
            max(_token_f1(answer, _pred_answer(p)) for answer in _gold_answers(g))
            for g, p in zip(golds, preds, strict=True)
        ]
    )


def _citations(pred: Prediction) -> list[str]:
    cited = pred.extra.get("citations") or []
    return list(dict.fromkeys(str(c) for c in cited))


def _cited_correctly(gold: Any, index: int, chunk: str, context: MetricContext) -> bool:
    value = _gold(gold)
    passages = value.get("passages") if isinstance(value, Mapping) else None
    if passages is not None:
        passage = (context.passage_of or {}).get(chunk, chunk)
        return passage in {str(p) for p in passages}
    if context.chunk_text is not None:
        # No gold passages: a cited chunk that contains a gold answer supports it, the relevance
        # rule of DPR's retrieval evaluation (Karpukhin et al. 2020, EMNLP).
        text = _normalize_answer(context.chunk_text.get(chunk, ""))
        answers = [_normalize_answer(a) for a in _gold_answers(gold)]
        return any(a and f" {a} " in f" {text} " for a in answers)
    raise DataError(
        f"citation_precision: gold {index} names no passages and no chunk text was given",
        hint='give each gold output a "passages" list, or pass MetricContext(chunk_text=...)',
        **_where(gold),
    )


def _citation_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    """Rows of (precision of this example's citations, 1 if it cites anything).

    The corpus value averages over the examples that cite something: an answer without
    citations has no precision (a separate coverage figure should report how often that
    happens). A candidate that never cites scores 0, since the guard exists to catch it.
    """
    _check_aligned(golds, preds)
    rows = np.zeros((len(golds), 2))
    for i, (gold, pred) in enumerate(zip(golds, preds, strict=True)):
        cited = _citations(pred)
        if cited:
            rows[i] = (sum(_cited_correctly(gold, i, c, context) for c in cited) / len(cited), 1)
    return SufficientStats(rows, _mean_finish, defined=rows[:, 1] > 0)


# --- generate --------------------------------------------------------------------------------

# Scripts written without spaces between words: each character is a token, as ROUGE variants
# for Chinese and Japanese do, rather than one token per sentence.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1)
def _rouge() -> Any:
    """A RougeScorer with our tokenizer: rouge-score's default keeps only [a-z0-9] and so scores
    any non-Latin text as empty. On ASCII text the tokens (and scores) are the default's. No
    NLTK data is needed: only the Porter stemmer (code, no corpus) and never ``sent_tokenize``,
    which rougeLsum would call."""
    from nltk.stem import porter
    from rouge_score import rouge_scorer, tokenizers

    class _Tokenizer(tokenizers.Tokenizer):
        def __init__(self) -> None:
            self._stemmer = porter.PorterStemmer()

        def tokenize(self, text: str) -> list[str]:
            words = _WORD.findall(_UNSPACED.sub(r" \g<0> ", text.lower()))
            # Like the default, only stem (English, ASCII) words longer than three characters.
            return [self._stemmer.stem(w) if len(w) > 3 and w.isascii() else w for w in words]

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=_Tokenizer())


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _rouge_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    """Mean ROUGE-L F-measure (Lin 2004, ACL workshop "Text Summarization Branches Out")."""
    _check_aligned(golds, preds)
    scorer = _rouge()
    return _mean_stats(
        [
            scorer.score(_text(_gold(g)), _text(p.output))["rougeL"].fmeasure
            for g, p in zip(golds, preds, strict=True)
        ]
    )


@lru_cache(maxsize=1)
def _chrf() -> Any:
    from sacrebleu.metrics import CHRF

    return CHRF()  # chrF with sacreBLEU's defaults: character 6-grams, beta = 2, no word n-grams


def _chrf_stats(golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    """chrF (Popović 2015, WMT) via sacreBLEU (Post 2018, WMT), on a 0-1 scale.

    sacreBLEU itself computes both sentence and corpus chrF by summing per-sentence n-gram
    statistics and scoring the sums; we keep those statistics as the rows, so a per-example
    score is sentence chrF and the corpus value is corpus chrF, exactly as sacreBLEU reports them.
    """
    _check_aligned(golds, preds)
    metric = _chrf()
    hyps = [_text(p.output) for p in preds]
    refs = [_text(_gold(g)) for g in golds]
    if not hyps:
        return SufficientStats(np.zeros((0, 3 * metric.order)), _chrf_finish)
    rows = np.asarray(metric._extract_corpus_statistics(hyps, [refs]), dtype=float)
    return SufficientStats(rows.reshape(len(hyps), -1), _chrf_finish)


def _chrf_finish(totals: np.ndarray) -> np.ndarray:
    metric = _chrf()
    flat = totals.reshape(-1, totals.shape[-1])
    scores = np.array([metric._compute_f_score(list(row)) / 100 for row in flat])
    return scores.reshape(totals.shape[:-1])


# --- the registry ----------------------------------------------------------------------------

_STATS: dict[str, Callable[[Sequence[Any], Sequence[Prediction], MetricContext], SufficientStats]] = {
    "accuracy": _accuracy_stats,
    "macro_f1": _macro_stats,
    "weighted_f1": _weighted_stats,
    "field_f1": _field_stats,
    "exact_match": _exact_stats,
    "schema_validity": _schema_stats,
    "answer_correctness": _answer_stats,
    "citation_precision": _citation_stats,
    "rouge_l": _rouge_stats,
    "chrf": _chrf_stats,
}


def accuracy(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Fraction of examples whose predicted label is the gold; invalid predictions are wrong."""
    return _stats("accuracy", golds, preds, context).value()


def macro_f1(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Unweighted mean of per-label F1 over the labels that occur in golds or predictions."""
    return _stats("macro_f1", golds, preds, context).value()


def weighted_f1(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Mean of per-label F1 weighted by gold support."""
    return _stats("weighted_f1", golds, preds, context).value()


def field_f1(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Micro F1 over (top-level field, normalised value) pairs, pooled over all examples."""
    return _stats("field_f1", golds, preds, context).value()


def exact_match(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Fraction of predicted objects equal to the gold as canonical JSON (no normalisation)."""
    return _stats("exact_match", golds, preds, context).value()


def schema_validity(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Fraction of predictions whose output validates against ``context.json_schema``."""
    return _stats("schema_validity", golds, preds, context).value()


def answer_correctness(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Mean SQuAD token F1 between predicted and gold answer text."""
    return _stats("answer_correctness", golds, preds, context).value()


def citation_precision(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Mean, over examples that cite something, of the fraction of cited chunks that support the gold."""
    return _stats("citation_precision", golds, preds, context).value()


def rouge_l(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Mean ROUGE-L F-measure (Porter stemming) of generated text against the reference."""
    return _stats("rouge_l", golds, preds, context).value()


def chrf(golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext) -> float:
    """Corpus chrF on a 0-1 scale."""
    return _stats("chrf", golds, preds, context).value()


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "macro_f1": macro_f1,
    "weighted_f1": weighted_f1,
    "field_f1": field_f1,
    "exact_match": exact_match,
    "schema_validity": schema_validity,
    "answer_correctness": answer_correctness,
    "citation_precision": citation_precision,
    "rouge_l": rouge_l,
    "chrf": chrf,
}


def _stats(name: str, golds: _Golds, preds: _Preds, context: MetricContext) -> SufficientStats:
    if name not in _STATS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return _STATS[name](golds, preds, context)


def metric_name(metric: Metric | str) -> str | None:
    """The registry name of a metric function (or name), None for a function not in METRICS."""
    if isinstance(metric, str):
        return metric if metric in METRICS else None
    return next((name for name, fn in METRICS.items() if fn is metric), None)


def sufficient_stats(
    metric: Metric | str, golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext
) -> SufficientStats | None:
    """The additive per-example statistics behind a registered metric; None for any other function."""
    name = metric_name(metric)
    return None if name is None else _stats(name, golds, preds, context)


def per_example_scores(
    name: str, golds: Sequence[Any], preds: Sequence[Prediction], context: MetricContext
) -> list[float | None]:
    """Each example's score; None where the metric has none (all of macro F1; citation precision
    for an answer citing nothing). Paired tests compare these between two candidates."""
    stats = _stats(name, golds, preds, context)
    if not stats.decomposes:
        return [None] * len(golds)
    scores = stats.finish(stats.values)
    defined = stats.defined if stats.defined is not None else np.ones(len(golds), dtype=bool)
    return [float(s) if ok else None for s, ok in zip(scores, defined, strict=True)]


def per_example(name: str, gold: Any, pred: Prediction, context: MetricContext) -> float | None:
    """One example's score (accuracy 0/1, sentence chrF, ...); None where it does not decompose."""
    return per_example_scores(name, [gold], [pred], context)[0]


def compute(
    kind: str,
    golds: Sequence[Any],
    preds: Sequence[Prediction],
    context: MetricContext,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """The named metrics (default: all of the kind's) by name.

    By default an answer task gets citation precision only when some prediction cites something:
    without retrieval there is nothing to measure.
    """
    if kind not in METRICS_BY_KIND:
        raise ValueError(f"unknown task kind {kind!r}; expected one of {', '.join(METRICS_BY_KIND)}")
    if names is None:
        cites = any(p.extra.get("citations") for p in preds)
        names = [n for n in METRICS_BY_KIND[kind] if n != "citation_precision" or cites]
    return {name: float(_stats(name, golds, preds, context).value()) for name in names}
