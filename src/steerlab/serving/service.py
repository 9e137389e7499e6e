"""The task endpoint's engine: the active release answering inputs, within its contract.

What a client gets is decided here, independently of HTTP:

- **the active release** of the task (``steerlab release promote``) answers, through the same
  :class:`~steerlab.evaluation.predictor.CandidatePredictor` its evaluation used, with its own
  copy of the prompt template and the dataset version it pins (few-shot pool);
- **dynamic batching**: concurrent requests share one model call (:mod:`.batching`);
- **contract**: an answer that does not satisfy the output contract (label set or JSON schema)
  has already had its one repair attempt in the predictor; it then goes to the fallback;
- **fallback and escalation**: an invalid answer, an answer below the confidence threshold, or a
  failed backend is routed to the fallback release when one is configured, and otherwise (or
  when the fallback fails too) answered with an escalation marker for a human queue, never with
  an invalid payload;
- **guardrails** (:mod:`.guardrails`): policy refusals and injection screening before any model,
  and inputs redacted as the release's dataset was (always, for a hosted model);
- **canary**: when the channel names one, that release answers its share of requests, chosen
  at random per request; each answer names the release that gave it;
- **switching release without a restart**: the channel's generation counter is re-read at most
  every ``poll_s``; a new release is loaded beside the old one, then swapped in. Requests already
  queued on the old one are answered by it, and the last few releases stay loaded, so a
  rollback is instant.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from steerlab.data.example import Example
from steerlab.errors import ConfigError
from steerlab.evaluation.prediction import Prediction
from steerlab.serving.batching import DynamicBatcher
from steerlab.serving.guardrails import Guardrails

if TYPE_CHECKING:
    from steerlab.evaluation.predictor import CandidatePredictor
    from steerlab.release import Release
    from steerlab.task import Task

__all__ = ["LoadedRelease", "ServedAnswer", "ServiceSettings", "TaskService"]

Route = Literal["primary", "fallback", "escalated", "refused"]


@dataclass(frozen=True)
class ServiceSettings:
    max_batch: int = 8
    """Requests per model call; 1 turns dynamic batching off."""
    max_wait_s: float = 0.005
    """How long a batch waits to fill once its first request is in."""
    threshold: float | None = None
    """Answers with a confidence below this go to the fallback (or escalate). None: each
    release's own threshold, fitted on dev when it was evaluated (none if it has none)."""
    fallback: str | None = None
    """A release id (of this task) that answers when the active release cannot."""
    poll_s: float = 0.5
    """How often the release channel is re-read."""
    keep_loaded: int = 2
    """Releases kept in memory, so a rollback to a recent one needs no load."""


@dataclass(frozen=True)
class ServedAnswer:
    """What the task endpoint returns; ``output`` is None only when ``route`` is "escalated" (a
    human takes it) or "refused" (a policy rule declined it; ``reason`` is its message)."""

    output: Any
    route: Route
    release: str
    confidence: float | None = None
    citations: list[str] = field(default_factory=list)
    reason: str | None = None
    latency_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    batch_size: int | None = None
    guardrail: str | None = None
    """The refusal rule's name, or "injection", when a guardrail answered instead of a model."""
    routed_to: str | None = None
    """The release chosen for the request (active or canary); ``release`` answered it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "route": self.route,
            "escalated": self.route == "escalated",
            "refused": self.route == "refused",
            "release": self.release,
            "confidence": self.confidence,
            "citations": self.citations,
            "reason": self.reason,
            "guardrail": self.guardrail,
            "routed_to": self.routed_to or self.release,
            "latency_s": round(self.latency_s, 4),
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
        }


class LoadedRelease:
    """One release ready to answer: its predictor, behind its own batcher."""

    def __init__(self, task: Task, workspace: Path, release: Release, settings: ServiceSettings) -> None:
        from steerlab.data.dataset import load_dataset
        from steerlab.evaluation.predictor import CandidatePredictor
        from steerlab.models.catalog import OPENAI_PREFIX

        self.release = release
        self.hosted = release.candidate().model.startswith(OPENAI_PREFIX)
        """Its model is an endpoint: inputs leave the machine, so they are always redacted."""
        dataset = load_dataset(workspace, task.name, release.pins["dataset"]["version"])
        self.predictor: CandidatePredictor = CandidatePredictor(
            task, release.candidate(), pool=dataset.train, workspace=workspace, template=release.template()
        )
        self.predictor.model  # load now: the first request should not pay for it  # noqa: B018
        self.batcher: DynamicBatcher[Example, Prediction] = DynamicBatcher(
            self.predictor.predict, max_batch=settings.max_batch, max_wait_s=settings.max_wait_s
        )

    @property
    def id(self) -> str:
        return self.release.id

    async def close(self) -> None:
        await self.batcher.close()
        self.predictor.close()


class TaskService:
    """Answers a task's requests with its active release; see the module docstring."""

    def __init__(self, task: Task, workspace: Path, settings: ServiceSettings | None = None) -> None:
        self.task = task
        self.workspace = Path(workspace)
        self.settings = settings or ServiceSettings()
        self._loaded: OrderedDict[str, LoadedRelease] = OrderedDict()
        self._active: LoadedRelease | None = None
        self._canary: tuple[LoadedRelease, float] | None = None
        self._generation = -1
        self.guardrails = Guardrails(task)
        self.on_switch: list[Any] = []
        """Called with ``{release id: share of traffic}`` after every switch (metrics)."""
        self._random = random.Random()
        self._checked = 0.0
        self._switch = asyncio.Lock()

    @property
    def active(self) -> LoadedRelease | None:
        return self._active

    @property
    def ready(self) -> bool:
        return self._active is not None

    @property
    def shares(self) -> dict[str, float]:
        """Which release answers which share of requests now."""
        if self._active is None:
            return {}
        if self._canary is None:
            return {self._active.id: 1.0}
        canary, weight = self._canary
        return {self._active.id: 1.0 - weight, canary.id: weight}

    async def start(self) -> None:
        """Load the active release (and the fallback); an error if the task has none promoted."""
        await asyncio.to_thread(lambda: self.guardrails.scanner)  # loads in seconds: not on a request
        await self.refresh(force=True)
        if self._active is None:
            raise ConfigError(
                f"task {self.task.name!r} has no active release",
                hint=f"steerlab release create {self.task.dir} --candidate NAME --promote",
            )
        if self.settings.fallback:
            await self._load(self.settings.fallback)

    async def refresh(self, *, force: bool = False) -> None:
        """Switch to the channel's active release if it changed (polled at most every poll_s)."""
        from steerlab.release import active_state

        now = time.monotonic()
        if not force and now - self._checked < self.settings.poll_s:
            return
        self._checked = now
        state = await asyncio.to_thread(active_state, self.workspace, self.task.name)
        if state.generation == self._generation or state.active is None:
            return
        async with self._switch:
            if state.generation == self._generation:
                return
            active = await self._load(state.active)
            canary = None
            if state.canary:
                canary = (await self._load(state.canary["id"], keep=active), float(state.canary["weight"]))
            self._active, self._canary = active, canary
            self._generation = state.generation
        for callback in self.on_switch:
            callback(self.shares)

    async def _load(self, release_id: str, keep: LoadedRelease | None = None) -> LoadedRelease:
        """The release, loaded now unless it is already; ``keep`` is also spared from eviction."""
        from steerlab.release import load_release

        if release_id in self._loaded:
            self._loaded.move_to_end(release_id)
            return self._loaded[release_id]
        release = load_release(self.workspace, release_id)
        if release.task != self.task.name:
            raise ConfigError(
                f"release {release.id} belongs to task {release.task!r}, not {self.task.name!r}"
            )
        loaded = await asyncio.to_thread(LoadedRelease, self.task, self.workspace, release, self.settings)
        self._loaded[release.id] = loaded
        spared = {
            self.settings.fallback,
            self._active.id if self._active else None,
            self._canary[0].id if self._canary else None,
            keep.id if keep else None,
            release.id,
        } - {None}
        while len(self._loaded) > max(self.settings.keep_loaded, len(spared)):
            oldest = next(rid for rid in self._loaded if rid not in spared)
            await self._loaded.pop(oldest).close()  # answers what it has queued first
        return loaded

    def example(self, inputs: dict[str, Any]) -> Example:
        """The request's inputs as an example; a missing or non-text field is a ConfigError."""
        names = [f.name for f in self.task.inputs]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise ConfigError(f"missing input field {missing[0]!r}", hint=f"{self.task.name} takes {names}")
        unknown = sorted(set(inputs) - set(names))
        if unknown:
            raise ConfigError(f"unknown input field {unknown[0]!r}", hint=f"{self.task.name} takes {names}")
        bad = next((n for n in names if not isinstance(inputs[n], str | int | float)), None)
        if bad:
            raise ConfigError(f"input field {bad!r} must be text")
        return Example({n: str(inputs[n]) for n in names}, None)

    def _choose(self) -> LoadedRelease:
        if self._active is None:
            raise ConfigError(f"task {self.task.name!r} has no active release")
        if self._canary is not None and self._random.random() < self._canary[1]:
            return self._canary[0]
        return self._active

    async def predict(self, inputs: dict[str, Any], *, spans: dict[str, Any] | None = None) -> ServedAnswer:
        """The answer to one request; raises ConfigError for bad inputs and InjectionBlocked.

        ``spans``: the inputs' PII findings when the caller has already scanned them (the app
        does, for its log), so a request is scanned once."""
        raw = self.example(inputs).inputs
        screening = self.guardrails.check(raw)
        await self.refresh()
        primary = self._choose()
        if screening.verdict != "pass":
            route: Route = "refused" if screening.verdict == "refuse" else "escalated"
            reason, rule = screening.reason, screening.rule
            return ServedAnswer(output=None, route=route, release=primary.id, reason=reason, guardrail=rule)
        if spans is None or set(spans) != set(raw):  # a number sent as a field was not scanned
            spans = await asyncio.to_thread(self.guardrails.spans, raw)

        def example(loaded: LoadedRelease) -> Example:
            return Example(self.guardrails.for_model(raw, spans, hosted=loaded.hosted), None)

        answer, reason = await self._ask(primary, example(primary), "primary")
        if answer is not None:
            return answer
        fallback = self._loaded.get(self.settings.fallback or "")
        if fallback is not None and fallback is not primary:
            answer, second = await self._ask(fallback, example(fallback), "fallback")
            if answer is not None:
                return ServedAnswer(**{**answer.__dict__, "reason": reason, "routed_to": primary.id})
            reason = f"{reason}; fallback: {second}"
        return ServedAnswer(output=None, route="escalated", release=primary.id, reason=reason)

    async def _ask(
        self, loaded: LoadedRelease, example: Example, route: Route
    ) -> tuple[ServedAnswer | None, str | None]:
        """The release's answer, or None and why it cannot be served."""
        try:
            prediction = await loaded.batcher.submit(example)
        except Exception as error:  # a failed backend is routed, not raised
            return None, f"backend error: {type(error).__name__}"
        if not prediction.valid or prediction.output is None:
            return None, "output does not satisfy the contract"
        threshold = self.settings.threshold
        if threshold is None:
            threshold = loaded.release.threshold  # fitted on dev when the release was evaluated
        if threshold is not None and prediction.confidence is not None and prediction.confidence < threshold:
            return None, f"confidence {prediction.confidence:.2f} below {threshold:.2f}"
        answer = ServedAnswer(
            output=prediction.output,
            route=route,
            release=loaded.id,
            confidence=prediction.confidence,
            citations=list(prediction.extra.get("citations", [])),
            latency_s=prediction.latency_s,
            input_tokens=prediction.input_tokens,
            output_tokens=prediction.output_tokens,
            batch_size=prediction.extra.get("batch_size"),
        )
        return answer, None

    async def close(self) -> None:
        for loaded in list(self._loaded.values()):
            await loaded.close()
        self._loaded.clear()
        self._active = self._canary = None
