"""The checks a request passes before any model reads it, from the task's ``policy`` and ``cleaning``.

In order:

1. **policy refusals** (``policy.refusals`` in task.yaml): a request matching a rule is declined
   with the rule's message; no model is asked, so no model can be talked into answering it;
2. **prompt-injection screening** (:mod:`.injection`; ``policy.injection``): an attempt is
   refused with a 400 (``block``, the default) or sent to the human queue (``escalate``);
3. **PII redaction** for the model: inputs are redacted exactly as the release's dataset was
   (``cleaning.redact_pii`` and ``pii_kinds``), so the model reads what it was measured and
   tuned on (``<EMAIL>``, not an address); and a release whose model is a hosted endpoint gets
   inputs redacted in any case, since they leave the machine;
4. **PII redaction for the logs**: whatever the task says, logged inputs never hold the
   machine-checkable kinds (emails, phones, cards, IBANs, accounts, IPs), nor names when the
   task redacts names.

One scan serves both redactions: the log's kinds include the model's, and each redaction keeps
the spans of its own kinds.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from steerlab.errors import SteerlabError
from steerlab.serving.injection import InjectionFinding, InjectionScreen

if TYPE_CHECKING:
    from steerlab.data.pii import PiiScanner, PiiSpan
    from steerlab.task import Task

__all__ = ["LOG_PII_KINDS", "Guardrails", "InjectionBlocked", "Screening"]

LOG_PII_KINDS = ("EMAIL", "PHONE", "CARD", "IBAN", "ACCOUNT", "IP")
"""Always redacted in logs: found by validated patterns, so redacting them costs no real text."""


class InjectionBlocked(SteerlabError):
    """A request refused because an input looks like a prompt-injection attempt (HTTP 400)."""


@dataclass(frozen=True)
class Screening:
    """What the checks decided about one request's inputs."""

    verdict: Literal["pass", "refuse", "escalate"]
    reason: str | None = None
    rule: str | None = None


class Guardrails:
    """One task's checks; built once per served task (the PII scanner loads in a few seconds)."""

    def __init__(self, task: Task, *, screen: InjectionScreen | None = None) -> None:
        self.task = task
        self.screen = screen or InjectionScreen()
        self.refusals = [
            (rule, [re.compile(p, re.IGNORECASE) for p in rule.when]) for rule in task.policy.refusals
        ]
        cleaning = task.cleaning
        self.model_kinds = frozenset(cleaning.pii_kinds if cleaning.redact_pii else ())
        self.hosted_kinds = frozenset(cleaning.pii_kinds) | frozenset(LOG_PII_KINDS)
        self.log_kinds = frozenset(LOG_PII_KINDS) | self.model_kinds
        self._scanner: PiiScanner | None = None
        self._lock = threading.Lock()

    @property
    def scanner(self) -> PiiScanner:
        with self._lock:  # built once, on first use, from whichever thread gets there first
            if self._scanner is None:
                from steerlab.data.pii import PiiScanner

                self._scanner = PiiScanner(kinds=sorted(self.log_kinds | self.hosted_kinds))
            return self._scanner

    def check(self, inputs: dict[str, str]) -> Screening:
        """Refusal rules first (the task's own word), then the injection screen."""
        for rule, patterns in self.refusals:
            if any(p.search(value) for value in inputs.values() for p in patterns):
                return Screening("refuse", rule.message, rule.name)
        findings: list[tuple[str, InjectionFinding]] = [
            (name, finding) for name, value in inputs.items() for finding in self.screen.scan(value)
        ]
        if not findings or self.task.policy.injection == "off":
            return Screening("pass")
        name, finding = findings[0]
        reason = f"input field {name!r} looks like a prompt-injection attempt ({finding})"
        if self.task.policy.injection == "block":
            raise InjectionBlocked(reason, hint="send the customer's text as data, not as instructions")
        return Screening("escalate", reason, "injection")

    def spans(self, inputs: dict[str, str]) -> dict[str, list[PiiSpan]]:
        """Every PII finding in each field, for all the redactions below (one scan)."""
        names = list(inputs)
        found = self.scanner.scan_many([inputs[n] for n in names])
        return dict(zip(names, found, strict=True))

    def redact(
        self, inputs: dict[str, str], spans: dict[str, list[PiiSpan]], kinds: frozenset[str]
    ) -> dict[str, str]:
        from steerlab.data.pii import apply_redaction

        if not kinds:
            return dict(inputs)
        return {
            name: apply_redaction(value, [s for s in spans[name] if s.kind in kinds])
            for name, value in inputs.items()
        }

    def for_model(
        self, inputs: dict[str, str], spans: dict[str, list[PiiSpan]], *, hosted: bool
    ) -> dict[str, str]:
        return self.redact(inputs, spans, self.hosted_kinds if hosted else self.model_kinds)

    def for_log(
        self, inputs: dict[str, Any], spans: dict[str, list[PiiSpan]] | None = None
    ) -> dict[str, Any]:
        """``inputs`` as the request log may keep them; non-text values pass as they are.
        ``spans``: the text fields' findings, when already scanned."""
        text = {k: v for k, v in inputs.items() if isinstance(v, str)}
        if not text:
            return dict(inputs)
        return {
            **inputs,
            **self.redact(text, spans if spans is not None else self.spans(text), self.log_kinds),
        }
